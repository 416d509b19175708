"""The replay server's Batch API through the official SDK, on both API surfaces.

Shapes checked against Microsoft Learn, "Getting started with Azure OpenAI batch
deployments" (how-to/batch): the batch object and its statuses, the documented error
codes, and the output line ``{"custom_id", "response": {"body", "request_id",
"status_code"}, "error"}``. Time is a virtual clock injected into the server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import StartServer, sync_client, v1_client
from openai import AzureOpenAI, BadRequestError, ConflictError, NotFoundError, OpenAI
from openai.types import Batch

from helpers.replay import ReplayServer
from helpers.replay.config import BatchSettings, Deployment

BATCH_DEPLOYMENT = "gpt-5.4-mini-batch"
# batches.create(endpoint="/chat/completions"): Azure's path, as in the Learn page above; the
# SDK's hints list only OpenAI's "/v1/..." paths, hence "type: ignore[arg-type]" where it is passed
# (chat_batch, and the tests that pass it with another window).
START = 1_796_083_200.0  # 2026-12-01T00:00:00Z, after the model's GA (2026-03-17)


class VirtualClock:
    """The server's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def line(custom_id: str, question: str, **body: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/chat/completions",
        "body": {
            "model": BATCH_DEPLOYMENT,
            "messages": [{"role": "user", "content": question}],
            **body,
        },
    }


def jsonl(lines: Sequence[dict[str, Any] | str]) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()


def chat_batch(client: AzureOpenAI | OpenAI, input_file_id: str) -> Batch:
    """A chat completions job over an uploaded file, in the 24 h window (Azure's path)."""
    return client.batches.create(
        input_file_id=input_file_id,
        endpoint="/chat/completions",  # type: ignore[arg-type]
        completion_window="24h",
    )


def read_lines(client: AzureOpenAI | OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    text = client.files.content(file_id).text
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def run_to_end(client: AzureOpenAI | OpenAI, batch_id: str, clock: VirtualClock) -> list[str]:
    """Poll once per virtual second until the job is terminal; the statuses seen."""
    seen: list[str] = []
    for _ in range(30):
        status = client.batches.retrieve(batch_id).status
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in {"completed", "failed", "cancelled", "expired"}:
            return seen
        clock.advance(0.5)
    raise AssertionError(f"the batch never finished: {seen}")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def server(start_server: StartServer, clock: VirtualClock) -> ReplayServer:
    """A lenient replay server on the test's virtual clock."""
    return start_server(mode="lenient", clock=clock)


@pytest.mark.parametrize("surface", ["azure", "v1"])
def test_a_batch_job_runs_from_upload_to_output_file(
    server: ReplayServer, clock: VirtualClock, surface: str
) -> None:
    client = sync_client(server) if surface == "azure" else v1_client(server)
    questions = {f"task-{i}": f"Name one prime number above {i * 10}." for i in range(4)}
    upload = client.files.create(
        file=("tasks.jsonl", jsonl([line(k, q) for k, q in questions.items()])), purpose="batch"
    )

    batch = chat_batch(client, upload.id)
    assert batch.status == "validating"
    assert batch.id.startswith("batch_")
    assert batch.expires_at == int(START + 24 * 3600)
    clock.advance(1.5)
    halfway = client.batches.retrieve(batch.id)
    assert halfway.status == "in_progress"
    assert halfway.request_counts is not None
    assert halfway.request_counts.total == 4
    assert 0 < halfway.request_counts.completed < 4
    assert halfway.output_file_id is None
    assert run_to_end(client, batch.id, clock) == ["in_progress", "finalizing", "completed"]

    done = client.batches.retrieve(batch.id)
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (4, 0)
    assert done.in_progress_at == int(START + 1)
    assert done.completed_at == int(START + 3)
    output = read_lines(client, done.output_file_id)
    assert sorted(x["custom_id"] for x in output) == sorted(questions)
    for item in output:
        assert item["error"] is None
        assert item["response"]["status_code"] == 200
        completion = item["response"]["body"]
        assert completion["object"] == "chat.completion"
        assert completion["model"] == "gpt-5.4-mini-2026-03-17"
        assert completion["choices"][0]["message"]["content"]
    # Azure: a successful job still has an error file, empty.
    assert read_lines(client, done.error_file_id) == []
    listed = [b.id for b in client.batches.list()]
    assert listed == [batch.id]


def test_cancelling_a_running_batch_keeps_the_lines_done_so_far(
    server: ReplayServer, clock: VirtualClock
) -> None:
    client = sync_client(server)
    upload = client.files.create(
        file=("tasks.jsonl", jsonl([line(f"t{i}", f"Question {i}?") for i in range(10)])),
        purpose="batch",
    )
    batch = chat_batch(client, upload.id)
    clock.advance(1.5)  # half way through in_progress: 5 of 10 lines done

    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at == int(clock.now)
    clock.advance(5)
    cancelled = client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at == int(START + 1.5 + 1)
    assert cancelled.request_counts is not None
    assert cancelled.request_counts.completed == 5
    assert [x["custom_id"] for x in read_lines(client, cancelled.output_file_id)] == [
        f"t{i}" for i in range(5)
    ]
    with pytest.raises(ConflictError, match="Cannot cancel a batch with status 'cancelled'"):
        client.batches.cancel(batch.id)


def test_malformed_lines_land_in_the_error_file_with_azures_codes(
    server: ReplayServer, clock: VirtualClock
) -> None:
    client = v1_client(server)
    no_id = line("x", "Hi")
    del no_id["custom_id"]
    wrong_url = {**line("wrong-url", "Hi"), "url": "/embeddings"}
    no_model = line("no-model", "Hi")
    del no_model["body"]["model"]
    content = jsonl([
        line("good", "What is 2 + 2?"),
        "{this is not json",
        no_id,
        wrong_url,
        no_model,
        line("good", "Same id again"),
        line("bad-body", "Hi", max_tokens=50),  # reasoning deployments reject max_tokens
    ])  # fmt: skip
    upload = client.files.create(file=("mixed.jsonl", content), purpose="batch")
    batch = chat_batch(client, upload.id)
    assert run_to_end(client, batch.id, clock)[-1] == "completed"

    done = client.batches.retrieve(batch.id)
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (7, 1)
    assert done.request_counts.failed == 6
    assert [x["custom_id"] for x in read_lines(client, done.output_file_id)] == ["good"]
    errors = read_lines(client, done.error_file_id)
    assert all(set(e) == {"id", "custom_id", "response", "error"} for e in errors)
    assert all(e["id"].startswith("batch_req_") for e in errors)
    codes = [(e["custom_id"], e["error"]["code"] if e["error"] else None) for e in errors]
    assert codes == [
        (None, "invalid_json_line"),
        (None, "invalid_request"),
        ("wrong-url", "url_mismatch"),
        ("no-model", "invalid_request"),
        ("good", "duplicate_custom_id"),
        ("bad-body", None),
    ]
    assert errors[0]["error"]["message"].startswith("Line 2: ")
    assert "'model'" in errors[3]["error"]["message"]
    refused = errors[-1]["response"]
    assert refused["status_code"] == 400
    assert refused["body"]["error"]["param"] == "max_tokens"
    assert refused["request_id"]


def test_a_line_gets_the_same_limits_and_validation_as_the_request_sent_directly(
    server: ReplayServer, clock: VirtualClock
) -> None:
    """Microsoft Learn, "Azure OpenAI quotas and limits": at most 2,048 messages a request."""
    client = v1_client(server)
    too_long = [{"role": "user", "content": "Hi"}] * 2049
    direct: dict[str, Any] = {}
    for name, messages in (("too-long", too_long), ("bad-role", [{"role": "robot"}])):
        with pytest.raises(BadRequestError) as refused:
            client.chat.completions.create(model="gpt-5.4-mini", messages=messages)  # type: ignore[arg-type]
        direct[name] = refused.value.body
    assert direct["too-long"]["code"] == "array_above_max_length"
    lines: list[dict[str, Any]] = [line(name, "x") for name in direct]
    lines[0]["body"]["messages"], lines[1]["body"]["messages"] = too_long, [{"role": "robot"}]
    upload = client.files.create(file=("limits.jsonl", jsonl(lines)), purpose="batch")
    batch = chat_batch(client, upload.id)
    run_to_end(client, batch.id, clock)
    errors = read_lines(client, client.batches.retrieve(batch.id).error_file_id)
    assert {e["custom_id"]: e["response"]["status_code"] for e in errors} == {
        "too-long": 400,
        "bad-role": 400,
    }
    for failed in errors:  # the SDK's error body is the answer's "error" object
        assert failed["response"]["body"]["error"] == direct[failed["custom_id"]]


def test_a_file_that_is_not_a_batch_input_fails_the_job(
    server: ReplayServer, clock: VirtualClock
) -> None:
    client = sync_client(server)
    wrong_purpose = client.files.create(
        file=("notes.jsonl", jsonl([line("a", "Hi")])), purpose="assistants"
    )
    not_jsonl = client.files.create(file=("table.csv", b"id,question\n1,hello\n"), purpose="batch")
    for upload, code in ((wrong_purpose, "invalid_request"), (not_jsonl, "invalid_json_line")):
        batch = chat_batch(client, upload.id)
        assert run_to_end(client, batch.id, clock) == ["validating", "failed"]
        failed = client.batches.retrieve(batch.id)
        assert failed.errors is not None and failed.errors.data
        assert failed.errors.data[0].code == code
        assert failed.failed_at is not None
        assert failed.output_file_id is None
    with pytest.raises(NotFoundError, match="file-missing"):
        chat_batch(client, "file-missing")


def test_lines_are_answered_from_the_recordings_in_replay_mode(
    start_server: StartServer, clock: VirtualClock, tmp_path: Path
) -> None:
    recorded_body = {"model": BATCH_DEPLOYMENT, "messages": [{"role": "user", "content": "Hi"}]}
    answer = {
        "id": "chatcmpl-recordedbatchline0000000000",
        "object": "chat.completion",
        "created": 1796083200,
        "model": "gpt-5.4-mini-2026-03-17",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Hello from the recording."}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13},
    }  # fmt: skip
    recordings = tmp_path / "batch.yaml"
    recordings.write_text(
        json.dumps({
            "format": "cookbook-recordings/2",
            "provenance": "curated",
            "interactions": [{
                "request": {"method": "POST",
                            "path": f"/openai/deployments/{BATCH_DEPLOYMENT}/chat/completions",
                            "api_version": "2025-04-01-preview", "body": recorded_body},
                "response": {"status": 200, "body": answer},
            }],
        })
    )  # fmt: skip
    server = start_server(recordings, mode="replay", clock=clock)
    client = sync_client(server)
    upload = client.files.create(
        file=("tasks.jsonl", jsonl([line("recorded", "Hi"), line("unrecorded", "Bye")])),
        purpose="batch",
    )
    batch = chat_batch(client, upload.id)
    run_to_end(client, batch.id, clock)
    done = client.batches.retrieve(batch.id)
    [output] = read_lines(client, done.output_file_id)
    assert output["custom_id"] == "recorded"
    assert output["response"]["body"] == answer
    [missed] = read_lines(client, done.error_file_id)
    assert missed["custom_id"] == "unrecorded"
    assert missed["response"]["status_code"] == 400
    assert "Missing recording" in missed["response"]["body"]["error"]["message"]


def test_a_job_still_running_at_the_end_of_its_window_expires(
    start_server: StartServer, clock: VirtualClock
) -> None:
    settings = BatchSettings(in_progress_seconds=100, completion_window_seconds=51)
    server = start_server(mode="lenient", clock=clock, batches=settings)
    client = sync_client(server)
    upload = client.files.create(
        file=("tasks.jsonl", jsonl([line(f"t{i}", "Hi") for i in range(4)])), purpose="batch"
    )
    batch = chat_batch(client, upload.id)
    clock.advance(60)
    expired = client.batches.retrieve(batch.id)
    assert expired.status == "expired"
    assert expired.expired_at == int(START + 51)
    assert expired.request_counts is not None
    assert expired.request_counts.completed == 2  # half the window's in_progress time
    assert len(read_lines(client, expired.output_file_id)) == 2


def test_reset_empties_the_batches(server: ReplayServer, clock: VirtualClock) -> None:
    client = sync_client(server)
    upload = client.files.create(file=("t.jsonl", jsonl([line("a", "Hi")])), purpose="batch")
    batch = chat_batch(client, upload.id)
    reset = httpx2.post(f"{server.url}/_replay/reset", headers={"api-key": server.api_key})
    assert reset.status_code in (200, 204)
    assert list(client.batches.list()) == []
    with pytest.raises(NotFoundError, match=batch.id):
        client.batches.retrieve(batch.id)


def test_a_completion_window_other_than_24h_fails_the_job_and_a_bad_endpoint_is_a_400(
    server: ReplayServer, clock: VirtualClock
) -> None:
    client = sync_client(server)
    upload = client.files.create(file=("t.jsonl", jsonl([line("a", "Hi")])), purpose="batch")
    # Microsoft Learn (how-to/batch): "If you set any other value than 24h your job will fail."
    batch = client.batches.create(
        input_file_id=upload.id,
        endpoint="/chat/completions",  # type: ignore[arg-type]
        completion_window="1h",  # type: ignore[arg-type]
    )
    assert run_to_end(client, batch.id, clock)[-1] == "failed"
    failed = client.batches.retrieve(batch.id)
    assert failed.errors is not None and failed.errors.data
    assert failed.errors.data[0].param == "completion_window"
    with pytest.raises(BadRequestError, match="embeddings") as raised:
        client.batches.create(
            input_file_id=upload.id,
            endpoint="/v1/embeddings",
            completion_window="24h",
        )
    assert raised.value.param == "endpoint"  # type: ignore[attr-defined]


def test_responses_lines_run_on_the_v1_surface_and_list_pages_through_every_batch(
    server: ReplayServer, clock: VirtualClock
) -> None:
    client = v1_client(server)
    lines = [
        {
            "custom_id": f"r{i}",
            "method": "POST",
            "url": "/v1/responses",
            "body": {"model": BATCH_DEPLOYMENT, "input": f"Say {i}."},
        }
        for i in range(2)
    ]
    upload = client.files.create(file=("r.jsonl", jsonl(list(lines))), purpose="batch")
    created = [
        client.batches.create(
            input_file_id=upload.id, endpoint="/v1/responses", completion_window="24h"
        )
        for _ in range(3)
    ]
    run_to_end(client, created[0].id, clock)
    done = client.batches.retrieve(created[0].id)
    output = read_lines(client, done.output_file_id)
    assert [x["custom_id"] for x in output] == ["r0", "r1"]
    assert all(x["response"]["body"]["object"] == "response" for x in output)
    # Newest first, two per page: the SDK follows `after` to the third.
    assert [b.id for b in client.batches.list(limit=2)] == [b.id for b in reversed(created)]
    first_page = client.batches.list(limit=2)
    assert first_page.has_more is True


def test_lenient_draft_mode_saves_each_unrecorded_batch_line_for_curation(
    start_server: StartServer, clock: VirtualClock, tmp_path: Path
) -> None:
    drafts = tmp_path / "drafts.yaml"
    server = start_server(mode="lenient", clock=clock, draft=True, record_to=drafts)
    client = sync_client(server)
    upload = client.files.create(file=("t.jsonl", jsonl([line("a", "Draft me")])), purpose="batch")
    chat_batch(client, upload.id)
    saved = drafts.read_text()
    assert "name: draft" in saved
    assert "/openai/v1/chat/completions" in saved
    assert "Draft me" in saved


def test_one_batch_targets_one_existing_global_batch_deployment(
    start_server: StartServer, clock: VirtualClock
) -> None:
    """Learn, "Getting started with Azure OpenAI batch deployments": "For a given input file,
    all names must be the same deployment name"; a file that breaks this fails validation with
    the documented codes model_mismatch, model_not_found and invalid_request (sku)."""
    deployments = {
        name: Deployment(kind="chat", model="gpt-5.4-mini-2026-03-17", batch=True)
        for name in ("batch-a", "batch-b")
    }
    deployments["online"] = Deployment(kind="chat", model="gpt-5.4-mini-2026-03-17")
    server = start_server(mode="lenient", clock=clock, deployments=deployments)
    client = sync_client(server)
    models = ["batch-a", "batch-b", "not-deployed", "batch-b", "online"]
    lines = [line(f"l{i}", "Hi") for i in range(len(models))]
    for item, model in zip(lines, models, strict=True):
        item["body"]["model"] = model
    upload = client.files.create(file=("t.jsonl", jsonl(list(lines))), purpose="batch")
    batch = chat_batch(client, upload.id)
    assert run_to_end(client, batch.id, clock) == ["validating", "failed"]
    failed = client.batches.retrieve(batch.id)
    assert failed.errors is not None
    reported = [(e.code, e.line) for e in failed.errors.data or []]
    assert reported == [
        ("model_mismatch", 2),
        ("model_mismatch", 3),
        ("model_not_found", 3),
        ("model_mismatch", 5),
        ("invalid_request", 5),
    ]
    messages = [e.message or "" for e in failed.errors.data or []]
    assert "'batch-b'" in messages[0] and "'batch-a'" in messages[0]
    assert "1 more line" in messages[0]  # batch-b is named twice, reported once
    assert "globalbatch" in messages[-1]
    assert failed.output_file_id is None and failed.error_file_id is None
    assert failed.request_counts is not None and failed.request_counts.total == 0


@pytest.mark.parametrize("model", ["gpt-5.4-mini", "not-deployed"])
def test_a_file_for_one_deployment_that_cannot_run_batches_fails_validation(
    start_server: StartServer, clock: VirtualClock, model: str
) -> None:
    """One deployment throughout, but not a Global-Batch one (or none at all): the job fails."""
    server = start_server(mode="lenient", clock=clock)
    client = v1_client(server)
    lines = [line("a", "Hi"), line("b", "Hello")]
    for item in lines:
        item["body"]["model"] = model
    upload = client.files.create(file=("t.jsonl", jsonl(lines)), purpose="batch")
    batch = chat_batch(client, upload.id)
    assert run_to_end(client, batch.id, clock) == ["validating", "failed"]
    failed = client.batches.retrieve(batch.id)
    assert failed.errors is not None
    expected = "invalid_request" if model == "gpt-5.4-mini" else "model_not_found"
    assert [(e.code, e.line, e.param) for e in failed.errors.data or []] == [(expected, 1, "model")]
    assert failed.output_file_id is None
