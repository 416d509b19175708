"""The Responses API and reasoning deployments through the official SDK, v1 surface.

Sources for Azure's wording are named where asserted (see helpers/replay/families.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import StartRecorder, StartServer, async_v1_client, sync_client, v1_client
from openai.types.chat import ChatCompletionMessageParam
from openai.types.responses import FunctionToolParam, ResponseInputMessageItem, ResponseInputText
from pydantic import BaseModel

from helpers.replay import Deployment, RecordingsFile
from helpers.replay.config import DEFAULT_DEPLOYMENTS

RECORDED = "test_responses.yaml"
STANDARD = "gpt-4.1-mini"
"""A deployment of a standard-family (non-reasoning) model, kept to test what that family takes
and the reasoning family refuses (gpt-4.1-mini, Legacy, 2025-04-14)."""
WITH_STANDARD = {
    **DEFAULT_DEPLOYMENTS,
    STANDARD: Deployment(kind="chat", model="gpt-4.1-mini-2025-04-14"),
}
RINGS: dict[str, Any] = {
    "model": "gpt-5.4-mini",
    "input": "Name one planet with rings, in one word.",
    "instructions": "Answer briefly.",
}
"""The recorded first turn, which several tests start from."""
HAIKU = "Grey waves fold and break,\nsalt wind carries gull voices,\nthe tide keeps its time."
WEATHER_TOOL: FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


class Planet(BaseModel):
    name: str
    moons: int


# --- replay -----------------------------------------------------------------------------------


def test_create_replays_text_reasoning_and_usage(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED))
    response = client.responses.create(**RINGS)
    assert response.output_text == "Saturn."
    assert response.output[0].type == "reasoning"
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 128
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.model == "gpt-5.4-mini-2026-03-17"


async def test_async_create_and_retrieve(start_server: StartServer) -> None:
    async with async_v1_client(start_server(RECORDED)) as client:
        created = await client.responses.create(**RINGS)
        again = await client.responses.retrieve(created.id)
    assert again.model_dump() == created.model_dump()


def test_previous_response_id_chain_and_input_items(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED))
    first = client.responses.create(**RINGS)
    second = client.responses.create(
        model="gpt-5.4-mini",
        input="And the largest moon of that planet?",
        previous_response_id=first.id,
    )
    assert second.output_text == "Titan."
    assert second.previous_response_id == first.id
    items = client.responses.input_items.list(second.id)
    assert [item.type for item in items.data] == ["message"]
    message = items.data[0]
    assert isinstance(message, ResponseInputMessageItem)
    part = message.content[0]
    assert isinstance(part, ResponseInputText)
    assert part.text == "And the largest moon of that planet?"


def test_input_items_page_newest_first_through_the_sdk(start_server: StartServer) -> None:
    client = v1_client(start_server(mode="lenient"))
    said = ["One.", "Two.", "Three."]
    response = client.responses.create(
        model="gpt-5.4-mini", input=[{"role": "user", "content": text} for text in said]
    )
    first = client.responses.input_items.list(response.id, limit=2)
    assert first.has_more is True and len(first.data) == 2
    every = list(client.responses.input_items.list(response.id, limit=1))
    assert [item.content[0].text for item in every] == said[::-1]  # type: ignore[union-attr,index]
    oldest_first = client.responses.input_items.list(response.id, order="asc")
    assert [item.content[0].text for item in oldest_first] == said  # type: ignore[union-attr,index]


def test_a_streamed_response_sends_typed_events_in_azures_order(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED))
    events = list(
        client.responses.create(
            model="gpt-5.4-mini", input="Write a haiku about the sea.", stream=True
        )
    )
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert kinds.index("response.output_item.added") < kinds.index("response.content_part.added")
    assert kinds.index("response.output_text.done") < kinds.index("response.content_part.done")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == HAIKU
    last = events[-1]
    assert last.type == "response.completed"
    assert last.response.output_text == HAIKU


def test_a_stream_helper_collects_the_final_response(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED))
    with client.responses.stream(
        model="gpt-5.4-mini", input="Write a haiku about the sea."
    ) as stream:
        final = stream.get_final_response()
    assert final.output_text == HAIKU


def test_a_function_call_round_trip(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED))
    asked = client.responses.create(
        model="gpt-5.4-mini", input="What's the weather in Oslo?", tools=[WEATHER_TOOL]
    )
    (call,) = [item for item in asked.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    answered = client.responses.create(
        model="gpt-5.4-mini",
        previous_response_id=asked.id,
        input=[
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": json.dumps({"temperature_c": 4, "sky": "overcast"}),
            }
        ],
        tools=[WEATHER_TOOL],
    )
    assert answered.output_text == "It is 4 °C and overcast in Oslo."


def test_parse_with_a_pydantic_model(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED))
    parsed = client.responses.parse(
        model="gpt-5.4-mini", input="Give Mars's name and its number of moons.", text_format=Planet
    )
    assert parsed.output_parsed == Planet(name="Mars", moons=2)


def test_delete_then_retrieve_is_404(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED))
    created = client.responses.create(**RINGS)
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(created.id)
    assert created.id in caught.value.message


def test_store_false_is_not_kept(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED, mode="lenient"))
    created = client.responses.create(model="gpt-5.4-mini", input="Forget me.", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_an_unknown_previous_response_is_a_400(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED, mode="lenient"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-5.4-mini", input="Hi", previous_response_id="resp_nope")
    assert caught.value.param == "previous_response_id"


# --- lenient ----------------------------------------------------------------------------------


def test_lenient_text_is_marked_and_reasoning_is_reported(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED, mode="lenient"))
    raw = client.responses.with_raw_response.create(
        model="gpt-5.4-mini", input="Unrecorded question"
    )
    response = raw.parse()
    assert raw.headers["x-replay-unrecorded"] == "true"
    assert response.output_text.startswith("[unrecorded]")
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens > 0


def test_lenient_function_calls_fit_the_schema_then_text_uses_the_result(
    start_server: StartServer,
) -> None:
    client = v1_client(start_server(RECORDED, mode="lenient"))
    asked = client.responses.create(
        model="gpt-5.4-mini", input="Weather in Lima, please", tools=[WEATHER_TOOL]
    )
    (call,) = [item for item in asked.output if item.type == "function_call"]
    assert set(json.loads(call.arguments)) == {"city"}
    answered = client.responses.create(
        model="gpt-5.4-mini",
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER_TOOL],
    )
    assert answered.output_text.startswith("[unrecorded]")


def test_lenient_parse_fits_the_schema(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED, mode="lenient"))
    parsed = client.responses.parse(model="gpt-5.4-mini", input="Any planet", text_format=Planet)
    assert isinstance(parsed.output_parsed, Planet)


async def test_lenient_async_stream_and_chain(start_server: StartServer) -> None:
    async with async_v1_client(start_server(RECORDED, mode="lenient")) as client:
        stream = await client.responses.create(model="gpt-5.4-nano", input="Hello?", stream=True)
        events = [event async for event in stream]
        last = events[-1]
        assert last.type == "response.completed"
        final = last.response
        follow = await client.responses.create(
            model="gpt-5.4-nano", input="And again?", previous_response_id=final.id
        )
    assert follow.previous_response_id == final.id


# --- record mode ------------------------------------------------------------------------------


def test_a_streamed_response_is_recorded_event_by_event_and_replays(
    start_server: StartServer, start_recorder: StartRecorder
) -> None:
    upstream = start_server(RECORDED)
    recorder, target = start_recorder(upstream)
    live = [
        e.model_dump()
        for e in v1_client(recorder).responses.create(
            model="gpt-5.4-mini", input="Write a haiku about the sea.", stream=True
        )
    ]
    (interaction,) = RecordingsFile.load(target).document.interactions
    assert interaction.response.stream is not None
    assert interaction.response.stream[0].event == "response.created"
    assert interaction.response.stream_end == "eof"
    replayed = [
        e.model_dump()
        for e in v1_client(start_server(target)).responses.create(
            model="gpt-5.4-mini", input="Write a haiku about the sea.", stream=True
        )
    ]
    assert replayed == live


# --- reasoning deployments --------------------------------------------------------------------

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello."}]


MAX_TOKENS_MESSAGE = (
    "Unsupported parameter: 'max_tokens' is not supported with this model. "
    "Use 'max_completion_tokens' instead."
)


@pytest.mark.parametrize(
    ("surface", "api", "arguments", "code", "param", "message"),
    [
        # Wording: shared/docs/azure-wire-facts.md ("400 param"), from public captures.
        pytest.param("deployments", "chat", {"max_tokens": 100}, "unsupported_parameter",
                     "max_tokens", MAX_TOKENS_MESSAGE, id="max_tokens-deployments"),
        pytest.param("v1", "chat", {"max_tokens": 100}, "unsupported_parameter", "max_tokens",
                     MAX_TOKENS_MESSAGE, id="max_tokens-v1"),
        # Wording: microsoft/vscode#255504 and NVlabs/cvdp_benchmark#29 (unsupported_value).
        pytest.param("v1", "chat", {"temperature": 0.7}, "unsupported_value", None,
                     "Unsupported value: 'temperature' does not support 0.7 with this model. "
                     "Only the default (1) value is supported.", id="chat-temperature"),
        # Wording: OpenHands/software-agent-sdk#992 (gpt-5-2025-08-07, Responses API).
        pytest.param("v1", "responses", {"temperature": 0.2}, None, None,
                     "Unsupported parameter: 'temperature' is not supported with this model.",
                     id="responses-temperature"),
    ],
)  # fmt: skip
def test_reasoning_deployment_rejects_what_reasoning_models_do_not_take(
    start_server: StartServer,
    surface: str,
    api: str,
    arguments: dict[str, Any],
    code: str | None,
    param: str | None,
    message: str,
) -> None:
    """Asserted: the wording always; the code and the param where the source shows them."""
    server = start_server(RECORDED, mode="lenient")
    client = sync_client(server) if surface == "deployments" else v1_client(server)
    with pytest.raises(openai.BadRequestError) as caught:
        if api == "responses":
            client.responses.create(model="gpt-5.4-mini", input="Hi", **arguments)
        else:
            client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO, **arguments)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["message"] == message
    if code is not None:
        assert caught.value.code == code
    if param is not None:
        assert caught.value.param == param


def test_reasoning_effort_is_checked_against_the_model(start_server: StartServer) -> None:
    client = v1_client(start_server(RECORDED, mode="lenient", deployments=WITH_STANDARD))
    # minimal was a value of the 2025-08-07 GPT-5 models; gpt-5.4 takes none..xhigh.
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-5.4-mini", messages=HELLO, reasoning_effort="minimal"
        )
    assert caught.value.param == "reasoning_effort"
    xhigh = client.chat.completions.create(
        model="gpt-5.4-mini", messages=HELLO, reasoning_effort="xhigh"
    )  # type: ignore[arg-type]
    assert xhigh.choices[0].message.content
    with pytest.raises(openai.BadRequestError) as on_standard:
        client.chat.completions.create(model=STANDARD, messages=HELLO, reasoning_effort="low")
    assert on_standard.value.code == "unsupported_parameter"


def test_reasoning_deployment_reports_reasoning_tokens_and_accepts_its_arguments(
    start_server: StartServer,
) -> None:
    client = v1_client(start_server(RECORDED, mode="lenient"))
    answer = client.chat.completions.create(
        model="gpt-5.4-mini",
        messages=[{"role": "developer", "content": "Be brief."}, *HELLO],
        max_completion_tokens=500,
        reasoning_effort="low",
    )
    assert answer.usage is not None and answer.usage.completion_tokens_details is not None
    assert answer.usage.completion_tokens_details.reasoning_tokens == 64


def test_standard_deployment_still_takes_max_tokens_and_temperature(
    start_server: StartServer,
) -> None:
    client = v1_client(start_server(RECORDED, mode="lenient", deployments=WITH_STANDARD))
    answer = client.chat.completions.create(
        model=STANDARD, messages=HELLO, max_tokens=50, temperature=0.2
    )
    assert answer.choices[0].message.content


def test_lenient_max_output_tokens_spends_reasoning_first_and_ends_incomplete(
    start_server: StartServer,
) -> None:
    client = v1_client(start_server(RECORDED, mode="lenient"))
    starved = client.responses.create(
        model="gpt-5.4-mini", input="Explain tides.", max_output_tokens=64
    )
    assert starved.status == "incomplete"
    assert starved.incomplete_details is not None
    assert starved.incomplete_details.reason == "max_output_tokens"
    assert starved.output_text == ""
    cut = client.responses.create(
        model="gpt-5.4-mini",
        input="Explain tides.",
        max_output_tokens=80,
        reasoning={"effort": "low"},
    )
    assert cut.status == "incomplete" and cut.output_text.startswith("[unrecorded]")
    assert cut.usage is not None and cut.usage.output_tokens == 80


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"role": ["user"], "content": "Hi"}]}, "input[0].role"),
        ({"input": [{"role": "user", "content": 7}]}, "input[0].content"),
        ({"input": [{"role": "user", "content": [{"type": "input_text", "text": 7}]}]},
         "input[0].content[0].text"),
        ({"input": [{"type": "function_call_output", "call_id": 1, "output": "x"}]},
         "input[0].call_id"),
        ({"input": "Hi", "reasoning": {"effort": ["low"]}}, "reasoning.effort"),
        ({"input": "Hi", "text": {"format": "json"}}, "text.format"),
        ({"input": "Hi", "tool_choice": 3}, "tool_choice"),
    ],
)  # fmt: skip
def test_malformed_responses_bodies_are_400s_naming_the_field(
    start_server: StartServer, body: dict[str, object], param: str
) -> None:
    client = v1_client(start_server(RECORDED, mode="lenient"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-5.4-mini", extra_body=body)  # type: ignore[call-overload]
    assert caught.value.param == param


# --- background mode (Learn: Use the Azure OpenAI Responses API, "Background tasks") -----------

NOTEBOOK_06 = (
    Path(__file__).resolve().parent.parent / "notebooks/recordings/06_batch_processing.yaml"
)
BACKGROUND_START = 1_796_083_200.0  # 2026-12-01T00:00:00Z, after gpt-5.4-mini's GA
LONG_JOB: dict[str, Any] = {"model": "gpt-5.4-mini", "input": "Write a long story about a tide."}


class TideClock:
    """The server's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = BACKGROUND_START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tide() -> TideClock:
    return TideClock()


def background_client(
    start_server: StartServer, clock: TideClock, surface: str
) -> openai.OpenAI | openai.AzureOpenAI:
    server = start_server(mode="lenient", clock=clock)
    if surface == "v1":
        return v1_client(server)
    return sync_client(server, api_version="2025-04-01-preview")


@pytest.mark.parametrize("surface", ["v1", "api-version"])
def test_background_response_is_queued_then_in_progress_then_completed(
    start_server: StartServer, tide: TideClock, surface: str
) -> None:
    client = background_client(start_server, tide, surface)
    created = client.responses.create(**LONG_JOB, background=True)
    assert (created.status, created.background, created.output, created.usage) == (
        "queued", True, [], None,
    )  # fmt: skip
    seen = [client.responses.retrieve(created.id).status]
    for _ in range(4):
        tide.now += 1.5
        seen.append(client.responses.retrieve(created.id).status)
    assert seen == ["queued", "in_progress", "in_progress", "completed", "completed"]
    done = client.responses.retrieve(created.id)
    assert done.output_text.startswith("[unrecorded]")
    assert done.usage is not None and done.usage.output_tokens > 0


@pytest.mark.parametrize("surface", ["v1", "api-version"])
def test_cancel_stops_a_background_response_and_is_idempotent(
    start_server: StartServer, tide: TideClock, surface: str
) -> None:
    client = background_client(start_server, tide, surface)
    created = client.responses.create(**LONG_JOB, background=True)
    tide.now += 1.5  # in progress
    cancelled = client.responses.cancel(created.id)
    assert (cancelled.status, cancelled.output) == ("cancelled", [])
    tide.now += 60  # long after it would have completed
    assert client.responses.cancel(created.id).status == "cancelled"
    assert client.responses.retrieve(created.id).status == "cancelled"


def test_cancel_refuses_finished_and_synchronous_responses(
    start_server: StartServer, tide: TideClock
) -> None:
    client = background_client(start_server, tide, "v1")
    finished = client.responses.create(**LONG_JOB, background=True)
    tide.now += 60
    with pytest.raises(openai.BadRequestError, match="already completed"):
        client.responses.cancel(finished.id)
    synchronous = client.responses.create(**LONG_JOB)
    with pytest.raises(openai.BadRequestError, match="background=true"):
        client.responses.cancel(synchronous.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_does_not_exist")


def test_a_deleted_background_response_is_gone(start_server: StartServer, tide: TideClock) -> None:
    client = background_client(start_server, tide, "v1")
    created = client.responses.create(**LONG_JOB, background=True)
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_background_needs_store(start_server: StartServer, tide: TideClock) -> None:
    client = background_client(start_server, tide, "v1")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(**LONG_JOB, background=True, store=False)
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "store"


def test_background_stream_resumes_after_starting_after(
    start_server: StartServer, tide: TideClock
) -> None:
    client = background_client(start_server, tide, "v1")
    events = list(client.responses.create(**LONG_JOB, background=True, stream=True))
    numbers = [e.sequence_number for e in events]
    assert numbers == list(range(len(events)))
    assert [e.type for e in events[:3]] == [
        "response.created", "response.queued", "response.in_progress",
    ]  # fmt: skip
    first = events[0]
    assert first.type == "response.created" and first.response.status == "queued"
    resumed = list(client.responses.retrieve(first.response.id, stream=True, starting_after=4))
    assert [e.sequence_number for e in resumed] == numbers[5:]
    assert [e.model_dump() for e in resumed] == [e.model_dump() for e in events[5:]]


async def test_background_stream_resumes_async(start_server: StartServer, tide: TideClock) -> None:
    server = start_server(mode="lenient", clock=tide)
    async with async_v1_client(server) as client:
        stream = await client.responses.create(**LONG_JOB, background=True, stream=True)
        events = [event async for event in stream]
        assert events[0].type == "response.created"
        resumed_stream = await client.responses.retrieve(
            events[0].response.id, stream=True, starting_after=len(events) - 2
        )
        resumed = [event async for event in resumed_stream]
    assert [e.type for e in resumed] == ["response.completed"]


def test_resuming_a_background_response_that_was_not_streamed_is_refused(
    start_server: StartServer, tide: TideClock
) -> None:
    client = background_client(start_server, tide, "v1")
    created = client.responses.create(**LONG_JOB, background=True)
    with pytest.raises(openai.BadRequestError, match="stream=true"):
        list(client.responses.retrieve(created.id, stream=True, starting_after=0))


def test_a_recorded_background_stream_resumes_from_its_recorded_events(
    start_server: StartServer,
) -> None:
    """Notebook 06's recorded background stream, in replay mode: the events after
    ``starting_after`` are the recording's own, not a simulation."""
    recordings = RecordingsFile.load(NOTEBOOK_06)
    recorded = next(i for i in recordings.document.interactions if i.name == "background-stream")
    client = v1_client(start_server(NOTEBOOK_06))
    events = list(client.responses.create(**recorded.request.body))
    response_id = events[0].response.id  # type: ignore[union-attr]
    resumed = list(client.responses.retrieve(response_id, stream=True, starting_after=10))
    assert [json.loads(chunk.data) for chunk in recorded.response.stream or []][11:] == [
        e.model_dump(mode="json", exclude_unset=True) for e in resumed
    ]
