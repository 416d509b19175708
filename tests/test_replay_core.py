"""The replay server's core: the v1 surface, recordings first, format 2, the state registry,
configuration from a file and the command line."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, TypedDict

import httpx2
import openai
import pytest
from conftest import (
    HELLO,
    INPUTS,
    RECORDINGS,
    STORY,
    StartRecorder,
    StartServer,
    sync_client,
    v1_client,
)
from openai import AsyncOpenAI
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionStreamOptionsParam,
)

from helpers.replay import RecordingsFile, ReplayConfig
from helpers.replay.__main__ import build_config, parse_args
from helpers.replay.behaviours.ratelimit import RateLimiter
from helpers.replay.recordings.store import Interaction, RecordedRequest, RecordedResponse
from helpers.replay.server import ReplayServer, probe
from helpers.replay.services.files.operations import FilesStore
from helpers.replay.services.vector_stores.store import VectorStoresStore

BATCH_LINE = (
    b'{"custom_id": "task-1", "method": "POST", "url": "/chat/completions", "body": {"model": '
    b'"gpt-5.4-mini-batch", "messages": [{"role": "user", "content": "Say hi."}]}}\n'
)
FILES_VERSION = "2024-10-21"


class StreamOptions(TypedDict):
    stream: Literal[True]
    stream_options: ChatCompletionStreamOptionsParam


STREAM: StreamOptions = {"stream": True, "stream_options": {"include_usage": True}}


def _text(stream: Iterable[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


# --- the v1 surface ---------------------------------------------------------------------------


def test_v1_chat_replays_the_recording_made_on_the_deployment_route(
    start_server: StartServer,
) -> None:
    client = v1_client(start_server("replay_server.yaml"))
    response = client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert response.choices[0].message.content == "Hello there, nice to meet!"
    assert response.model_extra is not None
    assert response.model_extra["prompt_filter_results"][0]["prompt_index"] == 0


def test_v1_stream_replays_chunk_by_chunk(start_server: StartServer) -> None:
    client = v1_client(start_server("replay_server.yaml"))
    stream = client.chat.completions.create(
        model="gpt-5.4-mini", messages=STORY, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Dragon found home."
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 145


async def test_v1_async_embeddings_decode_to_the_recorded_vectors(
    start_server: StartServer,
) -> None:
    server = start_server("replay_server.yaml")
    async with AsyncOpenAI(
        base_url=f"{server.url}/openai/v1/", api_key=server.api_key, max_retries=0
    ) as client:
        result = await client.embeddings.create(
            model="text-embedding-3-small", input=INPUTS, dimensions=8
        )
    direct = sync_client(server).embeddings.create(
        model="text-embedding-3-small", input=INPUTS, dimensions=8
    )
    assert [d.embedding for d in result.data] == [d.embedding for d in direct.data]
    assert len(result.data[0].embedding) == 8


def test_v1_lenient_miss_is_marked_and_carries_azure_headers(start_server: StartServer) -> None:
    client = v1_client(start_server("replay_server.yaml", mode="lenient"))
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": "Something nobody recorded."}]
    )
    assert raw.headers["x-replay-unrecorded"] == "true"
    assert raw.headers["x-ms-deployment-name"] == "gpt-5.4-mini"
    content = raw.parse().choices[0].message.content
    assert content is not None and content.startswith("[unrecorded]")


def test_v1_lenient_streams_and_embeddings_are_simulated(start_server: StartServer) -> None:
    client = v1_client(start_server("replay_server.yaml", mode="lenient"))
    text = _text(
        client.chat.completions.create(
            model="gpt-5.4-mini", messages=[{"role": "user", "content": "Unrecorded."}], **STREAM
        )
    )
    assert text.startswith("[unrecorded]")
    vectors = client.embeddings.create(model="text-embedding-3-small", input=["new text"])
    assert len(vectors.data[0].embedding) == 1536


def test_v1_rejects_a_dated_api_version(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    client = v1_client(server, default_query={"api-version": "2024-10-21"})
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert caught.value.body == {"code": "404", "message": "Resource not found"}
    preview = v1_client(server, default_query={"api-version": "preview"})
    assert preview.chat.completions.create(model="gpt-5.4-mini", messages=HELLO).choices


def test_v1_checks_credentials(start_server: StartServer) -> None:
    client = v1_client(start_server("replay_server.yaml"), api_key="not-the-key")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)


def test_v1_record_mode_records_what_replays_on_both_surfaces(
    start_server: StartServer, start_recorder: StartRecorder
) -> None:
    upstream = start_server("replay_server.yaml")
    recorder, target = start_recorder(upstream)
    live = v1_client(recorder, api_key=upstream.api_key).chat.completions.create(
        model="gpt-5.4-mini", messages=HELLO
    )
    (interaction,) = RecordingsFile.load(target).document.interactions
    assert interaction.request.path == "/openai/v1/chat/completions"
    replayer = start_server(target)
    assert (
        v1_client(replayer)
        .chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
        .model_dump()
        == live.model_dump()
    )
    # The same recording serves the deployment-scoped route.
    assert (
        sync_client(replayer).chat.completions.create(model="gpt-5.4-mini", messages=HELLO).id
        == live.id
    )


# --- recordings first -------------------------------------------------------------------------


def test_a_recorded_azure_400_is_served_verbatim(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_core.yaml"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-5.4-mini",
            messages=[{"role": "user", "content": "Summarise this in 5000 words."}],
            max_completion_tokens=200000,
        )
    assert caught.value.param == "max_completion_tokens"
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["message"].startswith("max_completion_tokens is too large: 200000.")
    assert "x-replay-miss" not in caught.value.response.headers
    # The recording's own header: the validator's 400 for the same request carries none.
    assert caught.value.response.headers["x-ms-region"] == "swedencentral"


def test_a_recorded_request_with_a_parameter_the_validator_does_not_know_replays(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server("replay_core.yaml"))
    response = client.chat.completions.create(
        model="gpt-5.4-mini", messages=HELLO, prompt_cache_key="greeting-v1"
    )
    assert response.choices[0].message.content == "Hello, and welcome aboard!"


def test_an_unrecorded_invalid_request_gets_the_validation_400(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_core.yaml"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-5.4-mini", messages=HELLO, extra_body={"made_up_option": 1}
        )
    assert caught.value.param == "made_up_option"


# --- format 2: uploads, polls, stream ends, faults --------------------------------------------


def files_client(server: ReplayServer) -> openai.AzureOpenAI:
    return sync_client(server, api_version=FILES_VERSION)


def test_a_multipart_upload_is_matched_on_its_content_not_its_boundary(
    start_server: StartServer,
) -> None:
    client = files_client(start_server("replay_core.yaml"))
    first = client.files.create(file=("tasks.jsonl", BATCH_LINE), purpose="batch")
    second = client.files.create(file=("tasks.jsonl", BATCH_LINE), purpose="batch")
    assert first.id == second.id == "file-8c1f0a3d2b4e4f6a9e7d5c3b1a2f4e6d"
    assert first.bytes == len(BATCH_LINE)


def test_an_unrecorded_upload_is_kept_by_the_server_and_can_be_downloaded(
    start_server: StartServer,
) -> None:
    client = files_client(start_server("replay_core.yaml"))
    uploaded = client.files.create(file=("notes.jsonl", b"{}\n"), purpose="batch")
    assert uploaded.id.startswith("file-") and uploaded.bytes == 3
    assert client.files.retrieve(uploaded.id).filename == "notes.jsonl"
    assert client.files.content(uploaded.id).read() == b"{}\n"
    assert [f.id for f in client.files.list(purpose="batch")] == [uploaded.id]
    client.files.delete(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_the_file_list_pages_newest_first_and_the_sdk_follows_every_page(
    start_server: StartServer,
) -> None:
    client = files_client(start_server("replay_core.yaml"))
    uploaded = [
        client.files.create(file=(f"n{i}.jsonl", b"{}\n" * (i + 1)), purpose="batch").id
        for i in range(5)
    ]
    first = client.files.list(limit=2)
    assert [f.id for f in first.data] == [uploaded[4], uploaded[3]]
    assert first.has_more is True
    raw = client.files.with_raw_response.list(limit=2).http_response.json()
    assert (raw["first_id"], raw["last_id"]) == (uploaded[4], uploaded[3])
    # Auto-pagination asks for after=<last id> until has_more is false: every file once.
    assert [f.id for f in client.files.list(limit=2)] == uploaded[::-1]
    assert [f.id for f in client.files.list(limit=2, order="asc")] == uploaded
    last = client.files.list(limit=2, order="asc", after=uploaded[3])
    assert ([f.id for f in last.data], last.has_more) == ([uploaded[4]], False)
    assert client.files.list(after="file-never-uploaded").data == []
    with pytest.raises(openai.BadRequestError) as too_small:
        client.files.list(limit=0)
    assert too_small.value.code == "integer_below_min_value"
    assert too_small.value.param == "limit"
    with pytest.raises(openai.BadRequestError) as sideways:
        client.files.list(order="sideways")  # type: ignore[arg-type]
    assert sideways.value.param == "order"


def test_an_upload_without_a_purpose_is_azures_400(start_server: StartServer) -> None:
    server = start_server("replay_core.yaml")
    response = httpx2.post(
        f"{server.url}/openai/v1/files",
        headers={"api-key": server.api_key},
        files={"file": ("a.jsonl", b"{}")},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "purpose"


def test_a_multipart_upload_is_recorded_and_replayed(
    start_server: StartServer, start_recorder: StartRecorder
) -> None:
    upstream = start_server("replay_core.yaml")
    recorder, target = start_recorder(upstream)
    live = files_client(recorder).files.create(file=("tasks.jsonl", BATCH_LINE), purpose="batch")
    (interaction,) = RecordingsFile.load(target).document.interactions
    assert interaction.request.content_type == "multipart/form-data"
    assert interaction.request.body["file"]["bytes"] == len(BATCH_LINE)
    replayed = files_client(start_server(target)).files.create(
        file=("tasks.jsonl", BATCH_LINE), purpose="batch"
    )
    assert replayed.model_dump() == live.model_dump()


def test_a_recorded_poll_sticks_on_its_final_state(start_server: StartServer) -> None:
    client = files_client(start_server("replay_core.yaml"))
    uploaded = client.files.create(file=("tasks.jsonl", BATCH_LINE), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id,
        # Azure's path (Microsoft Learn, "Getting started with Azure OpenAI global batch
        # deployments"); the SDK's hints list only OpenAI's "/v1/..." paths.
        endpoint="/chat/completions",  # type: ignore[arg-type]
        completion_window="24h",
    )
    statuses = [client.batches.retrieve(batch.id).status for _ in range(4)]
    assert [batch.status, *statuses] == [
        "validating",
        "in_progress",
        "completed",
        "completed",
        "completed",
    ]
    output = client.files.content(client.batches.retrieve(batch.id).output_file_id or "")
    assert b'"custom_id": "task-1"' in output.read()


def test_reset_starts_the_recordings_from_the_top(start_server: StartServer) -> None:
    server = start_server("replay_core.yaml")
    client = files_client(server)
    batch_id = "batch_6f2c9d1e-4a7b-4c3d-9e8f-1a2b3c4d5e6f"
    assert client.batches.retrieve(batch_id).status == "in_progress"
    assert client.batches.retrieve(batch_id).status == "completed"
    reset = httpx2.post(f"{server.url}/_replay/reset", headers={"api-key": server.api_key})
    assert reset.status_code == 204
    assert client.batches.retrieve(batch_id).status == "in_progress"


def test_a_recorded_cut_stream_is_an_error_in_the_sdk(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_core.yaml"))
    stream = client.chat.completions.create(
        model="gpt-5.4-mini",
        messages=[{"role": "user", "content": "Count to five slowly."}],
        stream=True,
    )
    received: list[str] = []
    with pytest.raises((httpx2.TransportError, openai.APIConnectionError)):
        for chunk in stream:
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received) == "One, two,"


def test_a_recorded_reset_is_a_connection_error(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_core.yaml"))
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(
            model="gpt-5.4-mini",
            messages=[{"role": "user", "content": "This connection will be reset."}],
        )


def test_format_1_files_still_load() -> None:
    document = RecordingsFile.load(RECORDINGS / "replay_server.yaml").document
    assert document.format == "cookbook-recordings/1"
    assert document.interactions


def test_a_recording_is_found_by_the_fields_of_its_request() -> None:
    recordings = RecordingsFile.load(RECORDINGS / "replay_server.yaml")
    found = recordings.find(messages=HELLO)
    assert found is not None
    assert found.request.body["messages"] == HELLO
    assert found.response.body["choices"][0]["message"]["content"] == "Hello there, nice to meet!"
    streamed = recordings.find(messages=STORY, stream=True)
    assert streamed is not None and streamed.response.stream
    assert recordings.find(method="GET", messages=HELLO) is None
    embeddings = recordings.find(path="/openai/deployments/text-embedding-3-small/embeddings")
    assert embeddings is not None and embeddings.request.body["input"] == INPUTS
    assert recordings.find(path="/openai/deployments/gpt-5.4-mini/embeddings") is None
    assert recordings.find(messages=[{"role": "user", "content": "never recorded"}]) is None


# --- the state registry -----------------------------------------------------------------------


class Counter:
    """A stateful simulator of the simplest kind."""

    def __init__(self) -> None:
        self.value = 0

    def reset(self) -> None:
        self.value = 0


def test_reset_resets_every_registered_simulator(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml", clock=lambda: 1000.0)
    counter = server.state.register("counter", Counter())
    counter.value = 5
    client = sync_client(server)
    before = client.chat.completions.with_raw_response.create(model="gpt-5.4-mini", messages=HELLO)
    quota = server.config.deployments["gpt-5.4-mini"].tokens_per_minute
    assert int(before.headers["x-ratelimit-remaining-tokens"]) < quota
    assert "counter" in (probe(server.url) or {})["simulators"]

    assert httpx2.post(f"{server.url}/_replay/reset").status_code == 401
    reset = httpx2.post(f"{server.url}/_replay/reset", headers={"api-key": server.api_key})

    assert reset.status_code == 204
    assert counter.value == 0
    after = client.chat.completions.with_raw_response.create(model="gpt-5.4-mini", messages=HELLO)
    # Same frozen minute: without the reset the second charge would come off the first.
    assert (
        after.headers["x-ratelimit-remaining-tokens"]
        == before.headers["x-ratelimit-remaining-tokens"]
    )


def test_the_registry_finds_each_store_by_its_type(start_server: StartServer) -> None:
    server = start_server("replay_core.yaml")
    client = files_client(server)
    uploaded = client.files.create(file=("notes.jsonl", b"{}\n"), purpose="batch")
    files = server.state.get(FilesStore)
    stored = files.get(uploaded.id)
    assert stored is not None and stored.content == b"{}\n"  # the store the endpoints use
    assert server.state.simulator("files") is files  # the name-based lookup still works
    assert isinstance(server.state.limiter, RateLimiter)
    with pytest.raises(LookupError, match="Counter"):
        server.state.get(Counter)
    with pytest.raises(ValueError, match="already registered"):
        server.state.register("more_files", FilesStore())
    with pytest.raises(ValueError, match="already registered"):
        server.state.register("vector_stores", Counter())


def test_reset_on_the_server_object_forgets_what_clients_made(start_server: StartServer) -> None:
    server = start_server("replay_core.yaml")
    client = v1_client(server)
    uploaded = client.files.create(file=("notes.jsonl", b"{}\n"), purpose="batch")
    store = client.vector_stores.create(name="kb")
    server.reset()
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)
    assert server.state.get(VectorStoresStore).stores.get(store.id) is None
    assert list(client.vector_stores.list()) == []


def test_reset_without_credentials_is_azures_401_json(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    response = httpx2.post(f"{server.url}/_replay/reset", headers={"api-key": "wrong"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "401"


# --- configuration ----------------------------------------------------------------------------

QUOTA_FILE = """\
deployments:
  gpt-5.4-mini: {kind: chat, model: gpt-5.4-mini-2026-03-17, requests_per_minute: 12}
rate_limits:
  enforce: true
  window_seconds: 10
"""


def _exhaust(server: ReplayServer, admitted: int) -> openai.RateLimitError:
    """Send until a 429 (on a frozen clock); ``admitted`` requests must go through first."""
    client = sync_client(server)
    for _ in range(admitted):
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    return caught.value


def test_rate_limits_are_enforced_from_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "replay.yaml"
    path.write_text(QUOTA_FILE)
    config = ReplayConfig(recordings=[RECORDINGS / "replay_server.yaml"]).with_file(path)
    with ReplayServer(config, clock=lambda: 1000.0) as server:
        error = _exhaust(server, admitted=2)  # 12 a minute over 10-s windows: 2 per window
    assert "ChatCompletions_Create Operation" in error.message
    assert int(error.response.headers["retry-after-ms"]) == 10_000  # the window's end
    assert error.response.headers["retry-after"] == "10"


def test_a_config_file_with_an_unknown_setting_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "replay.yaml"
    path.write_text("rate_limit:\n  enforce: true\n")
    with pytest.raises(ValueError, match=r"unknown setting.*rate_limit"):
        ReplayConfig().with_file(path)


def test_rate_limits_are_enforced_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "deployments.yaml"
    path.write_text(QUOTA_FILE.split("rate_limits")[0])
    args = parse_args(
        [
            "--rate-limits",
            "--config",
            str(path),
            "--recordings",
            str(RECORDINGS / "replay_server.yaml"),
        ]
    )
    config = build_config(args)
    assert config.rate_limits.enforce and config.rate_limits.window_seconds == 1
    with ReplayServer(config, clock=lambda: 1000.0) as server:
        error = _exhaust(server, admitted=1)  # 12 a minute over 1-s windows: 1 per window
    assert int(error.response.headers["retry-after-ms"]) == 1_000


def test_python_dash_m_starts_a_server_that_answers(tmp_path: Path) -> None:
    with ReplayServer(ReplayConfig()) as scratch:
        port = scratch.port  # a port that was free a moment ago
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers.replay", "--port", str(port), "--recordings",
         str(RECORDINGS / "replay_server.yaml"), "--rate-limits"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while probe(url) is None:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        client = openai.AzureOpenAI(
            azure_endpoint=url, api_key="local-replay-key", api_version="2024-10-01-preview"
        )
        answer = client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
        assert answer.choices[0].message.content == "Hello there, nice to meet!"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_latency_and_faults_come_from_the_command_line() -> None:
    config = build_config(parse_args(["--latency", "400,15", "--faults", "0.1:500,reset"]))
    assert config.latency is not None and config.latency.time_to_first_token_ms == 400
    assert config.latency.per_token_ms == 15
    assert config.faults is not None and config.faults.kinds == ("500", "reset")


def test_an_unknown_fault_kind_on_the_command_line_is_refused() -> None:
    with pytest.raises(ValueError, match="meteor"):
        build_config(parse_args(["--faults", "0.1:meteor"]))


def test_a_draft_of_base64_embeddings_is_stored_as_floats(
    drafting: tuple[ReplayServer, Path],
) -> None:
    server, target = drafting
    sync_client(server).embeddings.create(
        model="text-embedding-3-small", input=["a draft"], dimensions=4
    )
    (draft,) = RecordingsFile.load(target).document.interactions
    vector = draft.response.body["data"][0]["embedding"]
    assert isinstance(vector, list) and len(vector) == 4
    assert all(isinstance(v, float) for v in vector)


def test_a_miss_is_diffed_against_the_most_similar_recording_not_the_first(
    start_server: StartServer, tmp_path: Path
) -> None:
    recordings = RecordingsFile.new(tmp_path / "pets.yaml", "curated")
    for name, text in (("dogs", "Write a poem about loyal dogs and long walks"),
                       ("cats", "Write a poem about lazy cats and warm windowsills")):  # fmt: skip
        recordings.document.interactions.append(
            Interaction(
                name=name,
                request=RecordedRequest(
                    path="/openai/deployments/gpt-5.4-mini/chat/completions",
                    body={"messages": [{"role": "user", "content": text}], "model": "gpt-5.4-mini"},
                ),
                response=RecordedResponse(body={"choices": []}),
            )
        )
    recordings.save()
    client = sync_client(start_server(tmp_path / "pets.yaml"))
    edited = "Write a poem about lazy cats and sunny windowsills"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-5.4-mini", messages=[{"role": "user", "content": edited}]
        )
    message = caught.value.body["message"]  # type: ignore[index]
    assert message.startswith("Missing recording:")
    assert "Most similar recorded request: pets.yaml #1 (cats)" in message
