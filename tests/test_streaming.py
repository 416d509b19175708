"""helpers.streaming: text deltas and one result from Azure streams, through the real SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from conftest import StartServer, async_client, solution, sync_client, v1_client
from openai import AsyncOpenAI, AzureOpenAI, OpenAI
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from helpers.replay import ReplayServer
from helpers.replay import azure as wire
from helpers.streaming import (
    StreamAccumulator,
    StreamInterruptedError,
    StreamNotFinishedError,
    approx_seconds,
    astream_chat,
    astream_response,
    check_collect_stream,
    describe_chunk,
    stream_chat,
    stream_response,
)

DEPLOYMENT = "gpt-5.4-mini"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello in three words."}]
COUNT: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Count to one hundred."}]
FIGHT: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Describe the fight in gory detail."}
]
STORY: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Tell me a long story."}]


@pytest.fixture
def server(start_server: StartServer) -> ReplayServer:
    return start_server("test_streaming.yaml")


@pytest.fixture
def client(server: ReplayServer) -> AzureOpenAI:
    return sync_client(server)


class FakeClock:
    """A clock that returns the next of the given readings at each call."""

    def __init__(self, *readings: float) -> None:
        self._readings: Iterator[float] = iter(readings)

    def __call__(self) -> float:
        return next(self._readings)


def chunks(**options: object) -> list[ChatCompletionChunk]:
    """An Azure stream (annotation, role, content..., finish, usage) as SDK chunk objects."""
    payloads = wire.chat_stream(
        completion_id="chatcmpl-AXtst17unit0000000000000000001",
        model="gpt-5.4-mini-2026-03-17",
        **options,  # type: ignore[arg-type]
    )
    # The SDK builds chunks without validating them (Azure's first chunk has ``object: ""``).
    return [ChatCompletionChunk.construct(**json.loads(p)) for p in payloads]


# Through the SDK and the replay server


def test_text_stream_yields_only_content_deltas(client: AzureOpenAI) -> None:
    with stream_chat(client, model=DEPLOYMENT, messages=HELLO) as stream:
        deltas = list(stream)
    assert deltas == ["Hello", " there", ",", " friend", "!"]


def test_stream_keeps_prompt_filter_results_from_first_chunk(client: AzureOpenAI) -> None:
    with stream_chat(client, model=DEPLOYMENT, messages=HELLO) as stream:
        result = stream.consume()
    verdicts = result.prompt_filter_results[0]["content_filter_results"]
    assert verdicts["jailbreak"] == {"filtered": False, "detected": False}


def test_usage_chunk_goes_to_result_not_text(client: AzureOpenAI) -> None:
    with stream_chat(client, model=DEPLOYMENT, messages=HELLO) as stream:
        result = stream.consume()
    assert result.text == "Hello there, friend!"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (13, 5)


def test_chunk_count_includes_annotation_and_usage_chunks(client: AzureOpenAI) -> None:
    with stream_chat(client, model=DEPLOYMENT, messages=HELLO) as stream:
        result = stream.consume()
    assert result.chunks == 9  # annotation + role + 5 content + finish + usage


def test_result_reports_model_version_and_finish_reason(client: AzureOpenAI) -> None:
    with stream_chat(client, model=DEPLOYMENT, messages=HELLO) as stream:
        result = stream.consume()
    assert (result.model, result.finish_reason) == ("gpt-5.4-mini-2026-03-17", "stop")
    assert not result.truncated and not result.filtered


def test_without_include_usage_result_has_no_usage(client: AzureOpenAI) -> None:
    with stream_chat(client, model=DEPLOYMENT, messages=HELLO, include_usage=False) as stream:
        result = stream.consume()
    assert result.usage is None
    assert result.chunks == 8


async def test_async_stream_gives_text_and_result(server: ReplayServer) -> None:
    stream = await astream_chat(async_client(server), model=DEPLOYMENT, messages=HELLO)
    async with stream:
        deltas = [text async for text in stream]
    assert "".join(deltas) == "Hello there, friend!"
    assert stream.result.usage is not None and stream.result.usage.total_tokens == 18


def test_length_finish_reason_marks_result_truncated(client: AzureOpenAI) -> None:
    with stream_chat(client, model=DEPLOYMENT, messages=COUNT, max_completion_tokens=5) as stream:
        result = stream.consume()
    assert result.finish_reason == "length"
    assert result.truncated


def test_content_filter_finish_reason_lists_filtered_categories(client: AzureOpenAI) -> None:
    with stream_chat(client, model=DEPLOYMENT, messages=FIGHT) as stream:
        result = stream.consume()
    assert result.filtered
    assert result.filtered_categories == ("violence",)


def test_rejected_request_raises_bad_request_before_streaming(client: AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        stream_chat(client, model=DEPLOYMENT, messages=HELLO, max_completion_tokens="5")
    assert caught.value.param == "max_completion_tokens"


def test_error_event_mid_stream_raises_with_partial_text(client: AzureOpenAI) -> None:
    received: list[str] = []
    stream = stream_chat(client, model=DEPLOYMENT, messages=STORY)
    with pytest.raises(StreamInterruptedError) as caught, stream:
        received.extend(stream)
    assert caught.value.partial_text == "".join(received) == "Once upon a time"
    assert caught.value.chunks == 6  # annotation + role + 4 content chunks


def test_stream_interrupted_error_is_an_api_error_with_its_code(client: AzureOpenAI) -> None:
    stream = stream_chat(client, model=DEPLOYMENT, messages=STORY)
    with pytest.raises(openai.APIError) as caught, stream:
        stream.consume()
    assert isinstance(caught.value, StreamInterruptedError)
    assert caught.value.code == "server_error"
    assert isinstance(caught.value.__cause__, openai.APIError)


async def test_async_error_event_mid_stream_raises_with_partial_text(
    server: ReplayServer,
) -> None:
    stream = await astream_chat(async_client(server), model=DEPLOYMENT, messages=STORY)
    with pytest.raises(StreamInterruptedError) as caught:
        async with stream:
            await stream.consume()
    assert caught.value.partial_text == "Once upon a time"


def test_timing_uses_the_injected_clock(client: AzureOpenAI) -> None:
    clock = FakeClock(10.0, 10.25, 11.5)  # request sent, first text, end of stream
    with stream_chat(client, model=DEPLOYMENT, messages=HELLO, clock=clock) as stream:
        result = stream.consume()
    assert result.time_to_first_token == 0.25
    assert result.total_time == 1.5


def test_result_before_the_end_raises_stream_not_finished(client: AzureOpenAI) -> None:
    with stream_chat(client, model=DEPLOYMENT, messages=HELLO) as stream:
        next(iter(stream))
        with pytest.raises(StreamNotFinishedError):
            stream.result  # noqa: B018


# Without a server


def test_time_to_first_token_skips_chunks_without_text() -> None:
    annotation, role, first_text, *rest = chunks(pieces=["Hi", "!"], include_usage=True)
    clock = FakeClock(5.0, 7.0)  # first text, end; started is given
    state = StreamAccumulator(clock=clock, started=4.0)
    assert state.add(annotation) == ""
    assert state.add(role) == ""
    assert state.add(first_text) == "Hi"
    for chunk in rest:
        state.add(chunk)
    result = state.finish()
    assert (result.time_to_first_token, result.total_time) == (1.0, 3.0)


def test_time_to_first_token_is_none_without_text() -> None:
    state = StreamAccumulator(clock=FakeClock(0.0, 2.0))
    for chunk in chunks(pieces=[], include_usage=True):
        state.add(chunk)
    result = state.finish()
    assert result.time_to_first_token is None
    assert result.total_time == 2.0


def test_stream_chat_refuses_several_choices() -> None:
    client = AzureOpenAI(azure_endpoint="http://127.0.0.1:9", api_key="k", api_version="x")
    with pytest.raises(ValueError, match="n must be 1"):
        stream_chat(client, model=DEPLOYMENT, messages=HELLO, n=2)


@pytest.mark.parametrize(
    ("seconds", "step", "shown"),
    [
        (0.41, 0.1, "0.4 s"),
        (0.499, 0.1, "0.4 s"),
        (0.3, 0.1, "0.3 s"),  # 0.3 / 0.1 is 2.999... in floating point
        (0.7, 0.1, "0.7 s"),
        (1.0, 0.1, "1.0 s"),
        (2.9, 1, "2 s"),
        (0.26, 0.25, "0.25 s"),
    ],
)
def test_approx_seconds_floors_to_the_step(seconds: float, step: float, shown: str) -> None:
    assert approx_seconds(seconds, step) == shown


def test_approx_seconds_rejects_a_non_positive_step() -> None:
    with pytest.raises(ValueError, match="step must be positive"):
        approx_seconds(1.0, 0)


def test_describe_chunk_names_what_each_chunk_carries() -> None:
    described = [
        describe_chunk(c)
        for c in chunks(pieces=["Hi"], include_usage=True, prompt_tokens=9, completion_tokens=1)
    ]
    assert described == [
        "no choices, prompt_filter_results",
        "role=assistant",
        "content='Hi'",
        "finish_reason=stop",
        "no choices, usage: 9 prompt + 1 completion tokens",
    ]


# The Responses API: typed events through the v1 OpenAI client

RESPONSES = "test_streaming_responses.yaml"


@pytest.fixture
def v1(start_server: StartServer) -> OpenAI:
    return v1_client(start_server(RESPONSES))


def test_response_stream_yields_only_text_deltas(v1: OpenAI) -> None:
    poem = "Write a two-line poem about rain."
    with stream_response(v1, model="gpt-5.4-mini", input=poem) as stream:
        deltas = list(stream)
    assert "".join(deltas) == "Rain taps the window,\nthe street hums along."
    assert all(deltas)


def test_response_stream_result_holds_final_response_and_usage(v1: OpenAI) -> None:
    poem = "Write a two-line poem about rain."
    with stream_response(v1, model="gpt-5.4-mini", input=poem) as stream:
        result = stream.consume()
    assert result.response.status == "completed"
    assert result.response.output_text == result.text
    assert [item.type for item in result.response.output] == ["reasoning", "message"]
    assert result.usage is not None
    assert result.usage.output_tokens_details.reasoning_tokens == 64
    assert result.events == 18  # created ... completed, as recorded
    assert not result.incomplete


def test_response_stream_incomplete_is_marked_with_its_reason(v1: OpenAI) -> None:
    primes = "List every prime below 1000."
    stream = stream_response(v1, model="gpt-5.4-mini", input=primes, max_output_tokens=80)
    with stream:
        result = stream.consume()
    assert result.incomplete
    assert result.response.incomplete_details is not None
    assert result.response.incomplete_details.reason == "max_output_tokens"
    assert result.text == "2, 3, 5, 7, 11, 13, 17"


def test_response_failed_event_raises_with_partial_text(v1: OpenAI) -> None:
    with (
        pytest.raises(StreamInterruptedError) as caught,
        stream_response(v1, model="gpt-5.4-mini", input="Summarise Hamlet.") as stream,
    ):
        for _ in stream:
            pass
    assert caught.value.partial_text == "Prince Hamlet "
    assert caught.value.code == "server_error"
    assert caught.value.chunks == 9
    assert isinstance(caught.value, openai.APIError)


def test_response_error_event_raises_instead_of_being_yielded(v1: OpenAI) -> None:
    stream = stream_response(v1, model="gpt-5.4-mini", input="Explain the tides.")
    with stream, pytest.raises(StreamInterruptedError) as caught:
        stream.consume()
    assert caught.value.partial_text == ""
    assert caught.value.code == "server_error"
    assert "error processing your request" in str(caught.value)


def test_response_stream_result_before_the_end_raises(v1: OpenAI) -> None:
    with stream_response(v1, model="gpt-5.4-mini", input="Write a two-line poem about rain.") as s:
        next(iter(s))
        with pytest.raises(StreamNotFinishedError):
            _ = s.result


def test_response_stream_timing_uses_the_injected_clock(v1: OpenAI) -> None:
    clock = FakeClock(10.0, 10.25, 11.0)  # request sent, first text delta, end of stream
    poem = "Write a two-line poem about rain."
    with stream_response(v1, model="gpt-5.4-mini", input=poem, clock=clock) as stream:
        result = stream.consume()
    assert result.time_to_first_token == 0.25
    assert result.total_time == 1.0


def test_stream_response_sets_stream_itself(v1: OpenAI) -> None:
    with pytest.raises(TypeError, match="sets 'stream' itself"):
        stream_response(v1, model="gpt-5.4-mini", input="hi", stream=False)


async def test_async_response_stream_gives_text_and_result(start_server: StartServer) -> None:
    server = start_server(RESPONSES)
    async with AsyncOpenAI(
        base_url=f"{server.url}/openai/v1/", api_key=server.api_key, max_retries=0
    ) as client:
        stream = await astream_response(
            client, model="gpt-5.4-mini", input="Write a two-line poem about rain."
        )
        async with stream:
            text = "".join([delta async for delta in stream])
    assert text == stream.result.text == "Rain taps the window,\nthe street hums along."
    assert stream.result.response.status == "completed"


async def test_async_response_failed_event_raises(start_server: StartServer) -> None:
    server = start_server(RESPONSES)
    async with AsyncOpenAI(
        base_url=f"{server.url}/openai/v1/", api_key=server.api_key, max_retries=0
    ) as client:
        stream = await astream_response(client, model="gpt-5.4-mini", input="Summarise Hamlet.")
        with pytest.raises(StreamInterruptedError) as caught:
            await stream.consume()
    assert caught.value.partial_text == "Prince Hamlet "


def test_exercise_solution_passes() -> None:
    feedback = check_collect_stream(solution("17_streaming").collect_stream)
    assert feedback.passed, feedback.message


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def the_guides_loop(chunks: list[ChatCompletionChunk]) -> tuple[str, str | None, int | None]:
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
        return text, chunks[-1].choices[0].finish_reason, None

    feedback = check_collect_stream(the_guides_loop)
    assert not feedback.passed
    assert "IndexError" in feedback.message and "first chunk has no choices" in feedback.message


def test_exercise_finish_reason_read_from_the_last_chunk_is_rejected() -> None:
    def last_chunk(chunks: list[ChatCompletionChunk]) -> tuple[str, str | None, int | None]:
        text = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
        last = chunks[-1]
        reason = last.choices[0].finish_reason if last.choices else None
        return text, reason, last.usage.completion_tokens if last.usage else None

    feedback = check_collect_stream(last_chunk)
    assert not feedback.passed
    assert "finish_reason is None, expected 'stop'" in feedback.message
    assert "usage chunk" in feedback.message
