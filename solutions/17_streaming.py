"""Solution to notebook 17's exercise: fold a chat stream's chunks into text, finish reason and
output tokens.

On Azure the first chunk carries only ``prompt_filter_results`` (no choices), chunks without text
have ``content`` None, and with ``stream_options={"include_usage": True}`` a last chunk with no
choices carries ``usage``; without it, the stream never says how many tokens it used.
"""

from __future__ import annotations

from openai.types.chat import ChatCompletionChunk


def collect_stream(chunks: list[ChatCompletionChunk]) -> tuple[str, str | None, int | None]:
    """``(text, finish_reason, completion_tokens)``; tokens are None without a usage chunk."""
    text, finish_reason, completion_tokens = "", None, None
    for chunk in chunks:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.finish_reason is not None:
                finish_reason = choice.finish_reason
        if chunk.usage is not None:
            completion_tokens = chunk.usage.completion_tokens
    return text, finish_reason, completion_tokens
