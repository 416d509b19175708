"""The Responses API on the v1 surface (``OpenAI`` on ``<endpoint>/openai/v1/``), as the
notebooks call it: a completed response whose text and usage add up.
Recordings: ``tests/live/recordings/test_live_responses.yaml``."""

from __future__ import annotations

from helpers.replay.pytest_plugin import Replay


def test_a_response_completes_with_text_and_usage_that_adds_up(
    replay: Replay, chat_deployment: str
) -> None:
    response = replay.openai.responses.create(
        model=chat_deployment,
        input="Reply with the one word: ready",
        reasoning={"effort": "none"},
    )
    assert response.status == "completed"
    assert response.output_text.strip()
    assert response.usage is not None
    usage = response.usage
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.output_tokens_details.reasoning_tokens == 0  # effort none: no reasoning
