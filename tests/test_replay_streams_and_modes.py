"""Streams, embeddings, misses in replay and lenient mode, and record mode end to end."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Literal, TypedDict

import httpx2
import openai
import pytest
from conftest import API_VERSION, RECORDINGS, StartServer, async_client, sync_client
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionStreamOptionsParam

from helpers.replay import RecordingsFile
from helpers.replay.recordings.record import UPSTREAM_PLACEHOLDER

STORY: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Tell a three-word story."}]
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello in five words."}]
INPUTS = ["The quick brown fox", "jumps over the lazy dog"]


class StreamOptions(TypedDict):
    stream: Literal[True]
    stream_options: ChatCompletionStreamOptionsParam


STREAM_KW: StreamOptions = {"stream": True, "stream_options": {"include_usage": True}}


# --- streams -------------------------------------------------------------------------------


def test_stream_opens_with_annotation_chunk_and_ends_with_usage(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=STORY, **STREAM_KW))
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
            model="gpt-4o-mini", messages=STORY, **STREAM_KW
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Dragon found home."


def test_stream_is_sent_as_server_sent_events_ending_in_done(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    body = {"messages": STORY, "model": "gpt-4o-mini", **STREAM_KW}
    with httpx2.stream(
        "POST",
        f"{server.url}/openai/deployments/gpt-4o-mini/chat/completions",
        params={"api-version": API_VERSION},
        headers={"api-key": server.api_key},
        json=body,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [e for e in response.read().decode().split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[0].removeprefix("data: "))["choices"] == []


def test_stream_chunks_are_paced_by_recorded_delays(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=STORY, **STREAM_KW)
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
        client.chat.completions.create(model="gpt-4o-mini", messages=changed)
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
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=changed)
    response = raw.parse()
    assert raw.headers["x-replay-unrecorded"] == "true"
    content = response.choices[0].message.content
    assert content is not None and content.startswith("[unrecorded]")
    assert response.usage is not None and response.usage.prompt_tokens > 0


def test_lenient_miss_streams_with_azure_chunk_shapes(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml", mode="lenient"))
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=HELLO * 2, **STREAM_KW))
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
        model="gpt-4o-mini",
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
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, temperature=5)


# --- record mode ---------------------------------------------------------------------------

CANARY = "canary-key-7f3a9c2e5b1d"


def _chunks(stream: openai.Stream) -> list[dict[str, object]]:
    return [chunk.model_dump(exclude_unset=True) for chunk in stream]


def test_record_then_replay_round_trip_keeps_streams_and_drops_secrets(
    start_server: StartServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream = start_server("replay_server.yaml", api_key=CANARY)
    upstream_url = f"http://localhost:{upstream.port}"
    target = tmp_path / "recorded.yaml"
    recorder = start_server(target, mode="record", upstream=upstream_url, record_to=target)
    through = sync_client(recorder, api_key=CANARY)
    direct = sync_client(upstream, api_key=CANARY)

    live_stream = _chunks(
        through.chat.completions.create(model="gpt-4o-mini", messages=STORY, **STREAM_KW)
    )
    live_answer = through.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    live_vectors = through.embeddings.create(
        model="text-embedding-3-small", input=INPUTS, dimensions=8
    )
    assert live_stream == _chunks(
        direct.chat.completions.create(model="gpt-4o-mini", messages=STORY, **STREAM_KW)
    )

    replayer = sync_client(start_server(target))
    assert (
        _chunks(replayer.chat.completions.create(model="gpt-4o-mini", messages=STORY, **STREAM_KW))
        == live_stream
    )
    replayed = replayer.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
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
    start_server: StartServer, tmp_path: Path
) -> None:
    upstream = start_server("replay_server.yaml", api_key=CANARY)
    target = tmp_path / "recorded.yaml"
    recorder = start_server(
        target, mode="record", upstream=f"http://localhost:{upstream.port}", record_to=target
    )
    with pytest.raises(openai.AuthenticationError):
        sync_client(recorder, api_key="wrong-key").chat.completions.create(
            model="gpt-4o-mini", messages=HELLO
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
    start_server: StartServer, tmp_path: Path
) -> None:
    target = tmp_path / "drafts.yaml"
    RecordingsFile.new(target, "curated").save()
    server = start_server(target, mode="lenient", draft=True, record_to=target)
    client = sync_client(server)
    question: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Name a colour."}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=question)
    second = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=question
    )
    (draft,) = RecordingsFile.load(target).document.interactions
    assert draft.name == "draft"
    assert draft.request.body == {"messages": question, "model": "gpt-4o-mini"}
    assert draft.request.api_version == API_VERSION
    assert "x-replay-unrecorded" not in second.headers  # now served from the draft
    assert second.parse().choices[0].message.content == first.choices[0].message.content
