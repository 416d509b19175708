"""Chat Completions on the api-version surface (``AzureOpenAI``), as the notebooks call it:
Azure's content-filter annotations, usage that adds up, and strict structured outputs parsed
into a pydantic model. Recordings: ``tests/live/recordings/test_live_chat.yaml``."""

from __future__ import annotations

from pydantic import BaseModel

from helpers.replay.pytest_plugin import Replay


class Capital(BaseModel):
    country: str
    city: str


def test_a_chat_completion_carries_azures_filter_annotations_and_usage_that_adds_up(
    replay: Replay, chat_deployment: str
) -> None:
    reply = replay.azure.chat.completions.create(
        model=chat_deployment,
        messages=[{"role": "user", "content": "Reply with the one word: ready"}],
    )
    choice = reply.choices[0]
    assert reply.object == "chat.completion"
    assert choice.finish_reason == "stop", f"finish_reason {choice.finish_reason}"
    assert choice.message.content, "no content"
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    # Azure's annotations (the default content filter), which OpenAI's API does not send.
    assert (reply.model_extra or {}).get("prompt_filter_results"), "no prompt_filter_results"
    assert (choice.model_extra or {}).get("content_filter_results"), "no content_filter_results"


def test_strict_structured_outputs_parse_into_the_pydantic_model(
    replay: Replay, chat_deployment: str
) -> None:
    reply = replay.azure.chat.completions.parse(
        model=chat_deployment,
        messages=[
            {"role": "system", "content": "Name the capital of the country the user gives."},
            {"role": "user", "content": "France"},
        ],
        response_format=Capital,
    )
    message = reply.choices[0].message
    assert message.refusal is None
    assert message.parsed == Capital(country="France", city="Paris")
