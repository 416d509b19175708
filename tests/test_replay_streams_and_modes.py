"""Streams, embeddings, misses in replay and lenient mode, and record mode end to end."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Any, Literal, TypedDict

import httpx2
import openai
import pytest
from conftest import (
    API_VERSION,
    HELLO,
    INPUTS,
    RECORDINGS,
    STORY,
    StartRecorder,
    StartServer,
    async_client,
    sync_client,
)
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionStreamOptionsParam
from sse_upstream import FRAMED_CHUNKS, FakeUpstream, framed_body

from helpers._support.sse import DONE, parse_events
from helpers.replay import RecordingsFile, ReplayServer
from helpers.replay.recordings.record import UPSTREAM_PLACEHOLDER
from helpers.replay.recordings.store import (
    Interaction,
    RecordedRequest,
    RecordedResponse,
    RecordingsError,
    StreamChunk,
    is_responses_api,
)


class StreamOptions(TypedDict):
    stream: Literal[True]
    stream_options: ChatCompletionStreamOptionsParam


STREAM_KW: StreamOptions = {"stream": True, "stream_options": {"include_usage": True}}
CHAT_ROUTE = "/openai/deployments/gpt-5.4-mini/chat/completions"


# --- streams -------------------------------------------------------------------------------


def test_stream_opens_with_annotation_chunk_and_ends_with_usage(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    chunks = list(client.chat.completions.create(model="gpt-5.4-mini", messages=STORY, **STREAM_KW))
    first, last = chunks[0], chunks[-1]
    assert first.choices == []
    assert first.model_extra is not None
    assert first.model_extra["prompt_filter_results"][0]["prompt_index"] == 0
    assert last.choices == []
    assert last.usage is not None and last.usage.completion_tokens > 0
    finish = [c.choices[0].finish_reason for c in chunks[1:-1]]
    assert finish[-1] == "stop" and set(finish[:-1]) == {None}
    text = "".join(c.choices[0].delta.content or "" for c in chunks[1:-1])
    assert text == "Dragon found home."


async def test_async_stream_yields_the_same_chunks(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    async with async_client(server) as client:
        stream = await client.chat.completions.create(
            model="gpt-5.4-mini", messages=STORY, **STREAM_KW
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Dragon found home."


def test_stream_is_sent_as_server_sent_events_ending_in_done(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    body = {"messages": STORY, "model": "gpt-5.4-mini", **STREAM_KW}
    with httpx2.stream(
        "POST",
        f"{server.url}{CHAT_ROUTE}",
        params={"api-version": API_VERSION},
        headers={"api-key": server.api_key},
        json=body,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_events(response.read())
    assert {e.event for e in events} == {"message"}  # data-only events, as Azure sends them
    assert events[-1].data == DONE
    assert json.loads(events[0].data)["choices"] == []


def test_stream_chunks_are_paced_by_recorded_delays(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    stream = client.chat.completions.create(model="gpt-5.4-mini", messages=STORY, **STREAM_KW)
    arrivals = []
    for _ in stream:
        arrivals.append(time.perf_counter())
    # Seven chunks after the first are each recorded 30 ms apart: the stream cannot be faster.
    assert arrivals[-1] - arrivals[0] >= 6 * 0.030


# --- embeddings ----------------------------------------------------------------------------


def test_base64_and_float_embeddings_decode_to_the_recorded_vectors(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    recorded = RecordingsFile.load(RECORDINGS / "replay_server.yaml").document.interactions
    vectors = next(i for i in recorded if i.name == "embeddings-8d").response.body["data"]
    as_base64 = client.embeddings.create(model="text-embedding-3-small", input=INPUTS, dimensions=8)
    as_float = client.embeddings.create(
        model="text-embedding-3-small", input=INPUTS, dimensions=8, encoding_format="float"
    )
    for got_b64, got_float, want in zip(as_base64.data, as_float.data, vectors, strict=True):
        assert got_float.embedding == want["embedding"]
        assert got_b64.embedding == pytest.approx(want["embedding"], abs=1e-6)
    assert len(as_base64.data[0].embedding) == 8


def test_base64_embeddings_are_base64_on_the_wire(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    response = httpx2.post(
        f"{server.url}/openai/deployments/text-embedding-3-small/embeddings",
        params={"api-version": API_VERSION},
        headers={"api-key": server.api_key},
        json={"input": INPUTS, "model": "text-embedding-3-small", "dimensions": 8,
              "encoding_format": "base64"},
    )  # fmt: skip
    embedding = response.json()["data"][0]["embedding"]
    assert isinstance(embedding, str)
    assert len(base64.b64decode(embedding)) == 8 * 4  # eight little-endian float32s


def test_dimensions_above_the_model_size_are_rejected(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="text-embedding-3-small", input="hi", dimensions=4096)
    assert caught.value.param == "dimensions"


# --- misses --------------------------------------------------------------------------------


def test_replay_miss_names_the_file_and_shows_a_diff(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    changed: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Say hello in six words."}
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=changed)
    message = caught.value.message
    assert caught.value.code == "RecordingNotFound"
    assert "tests/recordings/replay_server.yaml" in message
    assert "#0 (hello)" in message
    assert '-      "content": "Say hello in five words.",' in message
    assert '+      "content": "Say hello in six words.",' in message


def test_lenient_miss_is_a_marked_well_formed_answer(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml", mode="lenient"))
    changed: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Say hello in six words."}
    ]
    raw = client.chat.completions.with_raw_response.create(model="gpt-5.4-mini", messages=changed)
    response = raw.parse()
    assert raw.headers["x-replay-unrecorded"] == "true"
    content = response.choices[0].message.content
    assert content is not None and content.startswith("[unrecorded]")
    assert response.usage is not None and response.usage.prompt_tokens > 0


def test_lenient_miss_streams_with_azure_chunk_shapes(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml", mode="lenient"))
    chunks = list(
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO * 2, **STREAM_KW)
    )
    assert chunks[0].choices == [] and chunks[-1].usage is not None
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("[unrecorded]")


def test_lenient_miss_with_a_schema_returns_json_that_fits_it(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml", mode="lenient"))
    schema: dict[str, object] = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
        "additionalProperties": False,
    }
    response = client.chat.completions.create(
        model="gpt-5.4-mini",
        messages=HELLO,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "trip", "schema": schema, "strict": True},
        },
    )
    content = response.choices[0].message.content
    assert content is not None
    assert json.loads(content) == {"city": "[unrecorded]", "days": 0}


def test_lenient_mode_still_rejects_invalid_requests(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml", mode="lenient"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO, temperature=5)
    assert caught.value.param == "temperature"


# --- record mode ---------------------------------------------------------------------------

CANARY = "canary-key-7f3a9c2e5b1d"


def _chunks(stream: openai.Stream[Any]) -> list[dict[str, Any]]:
    return [chunk.model_dump(exclude_unset=True) for chunk in stream]


def test_record_then_replay_round_trip_keeps_streams_and_drops_secrets(
    start_server: StartServer, start_recorder: StartRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream = start_server("replay_server.yaml", api_key=CANARY)
    recorder, target = start_recorder(upstream)
    through = sync_client(recorder, api_key=CANARY)
    direct = sync_client(upstream, api_key=CANARY)

    live_stream = _chunks(
        through.chat.completions.create(model="gpt-5.4-mini", messages=STORY, **STREAM_KW)
    )
    live_answer = through.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    live_vectors = through.embeddings.create(
        model="text-embedding-3-small", input=INPUTS, dimensions=8
    )
    assert live_stream == _chunks(
        direct.chat.completions.create(model="gpt-5.4-mini", messages=STORY, **STREAM_KW)
    )

    replayer = sync_client(start_server(target))
    assert (
        _chunks(replayer.chat.completions.create(model="gpt-5.4-mini", messages=STORY, **STREAM_KW))
        == live_stream
    )
    replayed = replayer.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert replayed.model_dump() == live_answer.model_dump()
    vectors = replayer.embeddings.create(model="text-embedding-3-small", input=INPUTS, dimensions=8)
    assert [d.embedding for d in vectors.data] == [d.embedding for d in live_vectors.data]

    recorded = target.read_text()
    assert RecordingsFile.load(target).document.provenance == "recorded"
    assert "NOT captured" not in recorded and "Recorded by the replay server" in recorded
    for secret in (CANARY, f"localhost:{upstream.port}", "localhost"):
        assert secret not in recorded
        assert secret not in caplog.text
    document = "\n".join(line for line in recorded.splitlines() if not line.startswith("#"))
    assert "api-key" not in document and "authorization" not in document.lower()


def test_record_mode_passes_auth_failures_back_without_recording_them(
    start_server: StartServer, start_recorder: StartRecorder
) -> None:
    upstream = start_server("replay_server.yaml", api_key=CANARY)
    recorder, target = start_recorder(upstream)
    with pytest.raises(openai.AuthenticationError):
        sync_client(recorder, api_key="wrong-key").chat.completions.create(
            model="gpt-5.4-mini", messages=HELLO
        )
    assert not target.exists() or "wrong-key" not in target.read_text()
    assert not target.exists() or RecordingsFile.load(target).document.interactions == []


def test_scrubber_replaces_upstream_host_in_headers_and_bodies() -> None:
    from helpers.replay.recordings.record import Scrubber

    scrubber = Scrubber("https://my-resource.openai.azure.com", ["secret-key-123"])
    body = {"error": {"message": "bad key secret-key-123 at my-resource.openai.azure.com"}}
    assert scrubber.json(body) == {"error": {"message": f"bad key *** at {UPSTREAM_PLACEHOLDER}"}}
    headers = scrubber.headers(
        httpx2.Headers({"Set-Cookie": "a=b", "x-ms-region": "eastus", "api-key": "secret-key-123"})
    )
    assert headers == {"x-ms-region": "eastus"}


def test_lenient_draft_mode_saves_misses_for_curation(
    drafting: tuple[ReplayServer, Path],
) -> None:
    server, target = drafting
    client = sync_client(server)
    question: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Name a colour."}]
    first = client.chat.completions.create(model="gpt-5.4-mini", messages=question)
    second = client.chat.completions.with_raw_response.create(
        model="gpt-5.4-mini", messages=question
    )
    (draft,) = RecordingsFile.load(target).document.interactions
    assert draft.name == "draft"
    assert draft.request.body == {"messages": question, "model": "gpt-5.4-mini"}
    assert draft.request.api_version == API_VERSION
    assert "x-replay-unrecorded" not in second.headers  # now served from the draft
    assert second.parse().choices[0].message.content == first.choices[0].message.content


# --- record mode in front of an upstream with other (legal) SSE framings --------------------


@pytest.mark.parametrize("eol", ["\r\n", "\r", "\n"], ids=["crlf", "cr", "lf"])
def test_record_mode_records_every_event_whatever_the_line_endings(
    start_server: StartServer, start_recorder: StartRecorder, eol: str
) -> None:
    pieces = framed_body(eol)
    with FakeUpstream(pieces, CHAT_ROUTE) as upstream:
        recorder, target = start_recorder(upstream.url)
        live = _chunks(
            sync_client(recorder).chat.completions.create(
                model="gpt-5.4-mini", messages=STORY, stream=True
            )
        )
    # What went through record mode is what the upstream sent, and the SDK read every event.
    assert [c["choices"][0]["delta"].get("content") for c in live] == [
        "Drägon",
        " found",
        " home.",
        None,
    ]
    (interaction,) = RecordingsFile.load(target).document.interactions
    recorded = interaction.response
    assert [json.loads(chunk.data) for chunk in recorded.stream or []] == FRAMED_CHUNKS
    assert recorded.stream_end == "done"
    assert "stream_end" not in target.read_text()  # [DONE], chat's own ending, goes unsaid

    replayed = _chunks(
        sync_client(start_server(target)).chat.completions.create(
            model="gpt-5.4-mini", messages=STORY, stream=True
        )
    )
    assert replayed == live


def test_record_mode_keeps_a_responses_stream_free_of_done(
    start_server: StartServer, start_recorder: StartRecorder
) -> None:
    """An upstream that ends a Responses stream with [DONE] (Azure does not) is recorded
    without it, so the recording replays the Responses API's own ending."""
    events = [
        (kind, {"type": kind, "sequence_number": n})
        for n, kind in enumerate(["response.created", "response.completed"])
    ]
    body = "".join(f"event: {name}\r\ndata: {json.dumps(data)}\r\n\r\n" for name, data in events)
    request = {"model": "gpt-5.4-mini", "input": "Hi", "stream": True}
    with FakeUpstream([(body + "data: [DONE]\r\n\r\n").encode()], "/openai/v1/responses") as up:
        recorder, target = start_recorder(up.url)
        relayed = httpx2.post(
            f"{recorder.url}/openai/v1/responses", headers={"api-key": "k"}, json=request
        )
    assert parse_events(relayed.content)[-1].data == DONE  # passed on as the upstream sent it
    (interaction,) = RecordingsFile.load(target).document.interactions
    assert [(c.event, json.loads(c.data)) for c in interaction.response.stream or []] == events
    assert interaction.response.stream_end == "eof"
    assert "stream_end" not in target.read_text()

    server = start_server(target)
    replayed = httpx2.post(
        f"{server.url}/openai/v1/responses", headers={"api-key": server.api_key}, json=request
    )
    assert [(e.event, json.loads(e.data)) for e in parse_events(replayed.content)] == events


def test_record_mode_passes_the_upstream_bytes_on_unchanged(
    start_server: StartServer, start_recorder: StartRecorder
) -> None:
    pieces = framed_body("\r\n")
    with FakeUpstream(pieces, CHAT_ROUTE) as upstream:
        recorder, _ = start_recorder(upstream.url)
        with httpx2.stream(
            "POST",
            f"{recorder.url}{CHAT_ROUTE}",
            params={"api-version": API_VERSION},
            headers={"api-key": recorder.api_key},
            json={"messages": STORY, "model": "gpt-5.4-mini", "stream": True},
        ) as response:
            received = response.read()
    assert received == b"".join(pieces)


# --- every shipped stream ends the way its API ends one -------------------------------------

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted([*(ROOT / "notebooks" / "recordings").glob("*.yaml"), *RECORDINGS.glob("*.yaml")])
RESPONSES_TERMINAL = {"response.completed", "response.incomplete", "response.failed", "error"}


def _with_streams(path: Path) -> bool:
    interactions = RecordingsFile.load(path).document.interactions
    return any(i.response.stream is not None for i in interactions)


def _raw_stream(server_url: str, api_key: str, request: RecordedRequest) -> bytes:
    """The body exactly as the server sends it; a recorded cut or reset ends it early."""
    params = {"api-version": request.api_version or API_VERSION}
    if request.path.startswith("/openai/v1/") and request.api_version is None:
        params = {}
    received = bytearray()
    try:
        with httpx2.stream(
            request.method, server_url + request.path, params=params,
            headers={"api-key": api_key}, json=request.body, timeout=30,
        ) as response:  # fmt: skip
            assert response.status_code == 200, response.read()
            for piece in response.iter_raw():
                received += piece
    except httpx2.TransportError:
        pass  # a stream recorded as cut or reset
    return bytes(received)


@pytest.mark.parametrize(
    "path",
    [p for p in SHIPPED if _with_streams(p)],
    ids=lambda p: f"{p.parent.parent.name}/{p.stem}",
)
def test_every_shipped_stream_replays_with_its_apis_ending(
    start_server: StartServer, path: Path
) -> None:
    """Chat Completions streams end with ``data: [DONE]``; Responses API streams end with their
    terminal event and never send ``[DONE]`` (see ``recordings.store.normal_stream_end``). A
    recording that ends a stream otherwise on purpose (``stream_end: eof | cut | reset``)
    must not end in ``[DONE]`` either."""
    server = start_server(path)
    checked, wrong = 0, []
    for interaction in RecordingsFile.load(path).document.interactions:
        if interaction.response.stream is None:
            continue
        events = parse_events(_raw_stream(server.url, server.api_key, interaction.request))
        data = [e.data for e in events]
        name = interaction.name or interaction.request.path
        if is_responses_api(interaction.request.path):
            if DONE in data:
                wrong.append(f"{name}: a Responses stream sent [DONE]")
            elif interaction.response.stream_end == "eof" and (
                not data or (last := json.loads(data[-1]).get("type")) not in RESPONSES_TERMINAL
            ):
                wrong.append(f"{name}: a Responses stream ended on {last!r}")
        elif interaction.response.stream_end == "done":
            if data[-1:] != [DONE] or data.count(DONE) != 1:
                wrong.append(f"{name}: a chat stream did not end with one [DONE]")
        elif DONE in data:
            wrong.append(f"{name}: recorded as {interaction.response.stream_end}, sent [DONE]")
        checked += 1
    assert checked and not wrong, wrong


def test_a_responses_stream_said_to_end_in_done_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "wrong.yaml"
    target.write_text(
        "format: cookbook-recordings/2\nprovenance: curated\ninteractions:\n"
        "- request: {method: POST, path: /openai/v1/responses, body: {stream: true}}\n"
        "  response:\n"
        "    stream: [{data: '{}', event: response.completed}]\n"
        "    stream_end: done\n"
    )
    with pytest.raises(RecordingsError, match="never ends with"):
        RecordingsFile.load(target)


@pytest.mark.parametrize(
    ("path", "written"),
    [("/openai/v1/responses", "eof"), ("/openai/deployments/d/chat/completions", "done")],
)
def test_a_stream_that_ends_as_its_api_does_is_saved_without_saying_so(
    tmp_path: Path, path: str, written: str
) -> None:
    target = tmp_path / "saved.yaml"
    recordings = RecordingsFile.new(target, "curated")
    for end in ("done", "eof", "cut"):
        if end == "done" and "responses" in path:
            continue
        recordings.document.interactions.append(
            Interaction(
                request=RecordedRequest(path=path, body={"stream": True, "end": end}),
                response=RecordedResponse(stream=[StreamChunk(data="{}")], stream_end=end),
            )
        )
    recordings.save()
    text = target.read_text()
    assert f"stream_end: {written}" not in text
    reloaded = RecordingsFile.load(target).document.interactions
    assert [i.response.stream_end for i in reloaded] == [i.request.body["end"] for i in reloaded]
