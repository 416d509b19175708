"""The recordings linter: every shipped recording passes, and each rule catches a planted fault.

The planted recordings are written here by hand, as a curator would write them: each good
interaction passes every rule, and each fault is one edit away from it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from helpers.replay.recordings.lint import (
    Finding,
    Linter,
    catalogue_ga_date,
    lint_paths,
    shipped_recordings,
)

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 12, 6)
NOVEMBER_2026 = 1_795_478_400  # 2026-11-24, after gpt-5.4-mini's GA (2026-03-17), before TODAY
DECEMBER_2025 = 1_764_547_200  # 2025-12-01, after gpt-5-mini's GA but before gpt-5.4-mini's


def chat_interaction(**body: Any) -> dict[str, Any]:
    """A chat answer that passes every rule: 'Hello' is 8 prompt tokens by OpenAI's rule
    (3 for the reply, 3 + 1 ('user') + 1 ('Hello') for the message)."""
    return {
        "name": "hello",
        "request": {
            "path": "/openai/deployments/gpt-5.4-mini/chat/completions",
            "body": {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "Hello"}]}
            | body,
        },
        "response": {
            "status": 200,
            "body": {
                "id": "chatcmpl-abc",
                "object": "chat.completion",
                "created": NOVEMBER_2026,
                "model": "gpt-5.4-mini-2026-03-17",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "Hi!"},
                    }
                ],
                "usage": {
                    "prompt_tokens": 8,
                    "completion_tokens": 20,
                    "total_tokens": 28,
                    "completion_tokens_details": {"reasoning_tokens": 16},
                    "prompt_tokens_details": {"cached_tokens": 0},
                },
            },
        },
    }


def responses_stream() -> dict[str, Any]:
    final = {
        "id": "resp_1",
        "object": "response",
        "created_at": NOVEMBER_2026,
        "model": "gpt-5.4-mini-2026-03-17",
        "status": "completed",
        "output": [{"id": "msg_1", "type": "message", "content": []}],
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
    }
    events = [
        {"type": "response.created", "response": final | {"status": "in_progress"}},
        {"type": "response.completed", "response": final},
    ]
    return {
        "name": "stream",
        "request": {
            "path": "/openai/v1/responses",
            "body": {"model": "gpt-5.4-mini", "input": "Hi"},
        },
        "response": {
            "status": 200,
            "stream": [{"data": json.dumps(e), "event": e["type"]} for e in events],
            "stream_end": "eof",
        },
    }


def lint(*interactions: dict[str, Any]) -> list[Finding]:
    linter = Linter(catalogue_ga_date, today=TODAY)
    return linter.lint_document("planted.yaml", {"interactions": list(interactions)})


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


def test_every_shipped_recording_passes() -> None:
    findings = lint_paths(shipped_recordings(ROOT), Linter(catalogue_ga_date), ROOT)
    assert not findings, "\n".join(map(str, findings))


def test_the_good_examples_pass() -> None:
    assert lint(chat_interaction(), responses_stream()) == []


@pytest.mark.parametrize("created", [1_732_406_400, DECEMBER_2025])  # 2024-11-24, 2025-12-01
def test_a_timestamp_before_the_models_ga_is_caught(created: int) -> None:
    bad = chat_interaction()
    bad["response"]["body"]["created"] = created
    [finding] = lint(bad)
    assert (
        finding.rule == "timestamps" and "before gpt-5.4-mini-2026-03-17 was GA" in finding.message
    )


def test_a_timestamp_in_the_future_is_caught() -> None:
    bad = chat_interaction()
    bad["response"]["body"]["created"] = 1_893_456_000  # 2030-01-01
    assert rules(lint(bad)) == ["timestamps"]


def test_usage_that_does_not_add_up_is_caught() -> None:
    bad = chat_interaction()
    bad["response"]["body"]["usage"]["total_tokens"] = 29
    assert rules(lint(bad)) == ["usage"]


def test_reasoning_over_completion_is_caught() -> None:
    bad = chat_interaction()
    bad["response"]["body"]["usage"]["completion_tokens_details"]["reasoning_tokens"] = 21
    assert rules(lint(bad)) == ["usage"]


@pytest.mark.parametrize("cached", [5, 1000, 1100])
def test_cached_tokens_off_azures_steps_are_caught(cached: int) -> None:
    bad = chat_interaction()
    usage = bad["response"]["body"]["usage"]
    usage["prompt_tokens_details"]["cached_tokens"] = cached
    assert "usage" in rules(lint(bad))


def test_prompt_tokens_that_tiktoken_disagrees_with_are_caught() -> None:
    bad = chat_interaction()
    usage = bad["response"]["body"]["usage"]
    usage["prompt_tokens"], usage["total_tokens"] = 7, 27
    [finding] = lint(bad)
    assert finding.rule == "prompt_tokens" and "count 8" in finding.message


def test_completion_over_the_cap_is_caught() -> None:
    bad = chat_interaction(max_completion_tokens=16)
    assert rules(lint(bad)) == ["cap"]


def test_length_below_the_cap_is_caught() -> None:
    bad = chat_interaction(max_completion_tokens=24)
    bad["response"]["body"]["choices"][0]["finish_reason"] = "length"
    assert rules(lint(bad)) == ["cap"]


def test_fewer_choices_than_n_are_caught() -> None:
    bad = chat_interaction(n=2)
    assert rules(lint(bad)) == ["choices"]


def test_id_prefixes_are_checked() -> None:
    bad = chat_interaction()
    bad["response"]["body"]["id"] = "cmpl-abc"
    assert rules(lint(bad)) == ["ids"]
    stream = responses_stream()
    events = [json.loads(c["data"]) for c in stream["response"]["stream"]]
    events[-1]["response"]["output"][0]["id"] = "item_1"
    stream["response"]["stream"][-1]["data"] = json.dumps(events[-1])
    assert rules(lint(stream)) == ["ids"]


def test_a_responses_stream_ending_in_done_is_caught() -> None:
    bad = responses_stream()
    bad["response"]["stream_end"] = "done"
    assert rules(lint(bad)) == ["stream_end"]


def test_a_responses_stream_without_its_terminal_event_is_caught() -> None:
    bad = responses_stream()
    bad["response"]["stream"] = bad["response"]["stream"][:1]
    assert rules(lint(bad)) == ["stream_end"]


def test_a_chat_stream_without_done_is_caught_unless_cut_on_purpose() -> None:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": NOVEMBER_2026,
        "model": "gpt-5.4-mini-2026-03-17",
        "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}],
    }
    stream: dict[str, Any] = {
        "name": "chat-stream",
        "request": {
            "path": "/openai/deployments/gpt-5.4-mini/chat/completions",
            "body": {"messages": [{"role": "user", "content": "Hi"}], "stream": True},
        },
        "response": {"status": 200, "stream": [{"data": json.dumps(chunk)}]},
    }
    assert lint(stream) == []
    eof = copy.deepcopy(stream)
    eof["response"]["stream_end"] = "eof"
    assert rules(lint(eof)) == ["stream_end"]
    cut = copy.deepcopy(stream)
    cut["response"]["stream_end"] = "cut"
    assert lint(cut) == []


def test_a_batch_file_naming_two_deployments_is_caught() -> None:
    lines: list[dict[str, Any]] = [
        {"custom_id": str(i), "method": "POST", "url": "/chat/completions", "body": {"model": m}}
        for i, m in enumerate(["gpt-5.4-mini-batch", "gpt-4o-batch"])
    ]
    upload: dict[str, Any] = {
        "name": "upload",
        "request": {
            "path": "/openai/files",
            "content_type": "multipart/form-data",
            "body": {"purpose": "batch", "content": "\n".join(json.dumps(x) for x in lines)},
        },
        "response": {"status": 200, "body": {"id": "file-1", "object": "file"}},
    }
    assert rules(lint(upload)) == ["batch"]


def test_request_counts_that_do_not_add_up_are_caught() -> None:
    batch: dict[str, Any] = {
        "name": "batch",
        "request": {"path": "/openai/batches/batch_1", "method": "GET"},
        "response": {
            "status": 200,
            "body": {
                "id": "batch_1",
                "object": "batch",
                "status": "completed",
                "request_counts": {"total": 3, "completed": 1, "failed": 1},
            },
        },
    }
    assert rules(lint(batch)) == ["batch"]


def test_embeddings_usage_is_tiktokens_count() -> None:
    good: dict[str, Any] = {
        "name": "embed",
        "request": {
            "path": "/openai/deployments/text-embedding-3-small/embeddings",
            "body": {"input": ["Hello world"]},
        },
        "response": {
            "status": 200,
            "body": {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": 2, "total_tokens": 2},
            },
        },
    }
    assert lint(good) == []
    bad = copy.deepcopy(good)
    bad["response"]["body"]["usage"] = {"prompt_tokens": 3, "total_tokens": 3}
    assert rules(lint(bad)) == ["prompt_tokens"]


WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"reasoning_effort": "minimal"}, "takes no effort 'minimal'"),  # a GPT-5 (2025) effort
        ({"max_tokens": 20}, "rejects max_tokens"),
        ({"tools": [WEATHER_TOOL], "reasoning_effort": "low"}, "refuses function tools"),
    ],
    ids=["effort-not-on-its-list", "max-tokens", "tools-with-effort"],
)
def test_a_request_the_answering_model_refuses_is_caught(
    body: dict[str, Any], expected: str
) -> None:
    findings = [f for f in lint(chat_interaction(**body)) if f.rule == "request"]
    assert len(findings) == 1 and expected in findings[0].message


@pytest.mark.parametrize(
    "body",
    [
        {"reasoning_effort": "xhigh"},
        {"tools": [WEATHER_TOOL]},
        {"tools": [WEATHER_TOOL], "reasoning_effort": "none"},
    ],
    ids=["xhigh", "tools-without-effort", "tools-with-effort-none"],
)
def test_a_request_the_answering_model_takes_passes(body: dict[str, Any]) -> None:
    assert "request" not in rules(lint(chat_interaction(**body)))


def test_an_effort_sent_to_a_standard_model_is_caught() -> None:
    bad = chat_interaction(reasoning_effort="low")
    bad["response"]["body"]["model"] = "gpt-4.1-mini-2025-04-14"
    usage = bad["response"]["body"]["usage"]
    usage["completion_tokens_details"]["reasoning_tokens"] = 0
    findings = [f for f in lint(bad) if f.rule == "request"]
    assert len(findings) == 1 and "not a reasoning model" in findings[0].message


def _routed(model: str, **body: Any) -> dict[str, Any]:
    """A model-router answer: the request names the router, the answer the model that answered."""
    routed = chat_interaction(**body)
    routed["request"]["path"] = "/openai/deployments/model-router/chat/completions"
    routed["request"]["body"]["model"] = "model-router"
    routed["response"]["body"]["model"] = model
    return routed


def test_a_router_answer_from_its_subset_passes() -> None:
    for model in ("gpt-5.4-nano-2026-03-17", "gpt-5.4-mini-2026-03-17"):
        assert lint(_routed(model)) == []


def test_a_router_answer_from_outside_its_subset_is_caught() -> None:
    findings = [f for f in lint(_routed("gpt-5.5-2026-04-24")) if f.rule == "router"]
    assert len(findings) == 1 and "not 'gpt-5.5-2026-04-24'" in findings[0].message


def test_a_routed_request_is_checked_against_the_answering_model() -> None:
    # 'minimal' is a router-level effort some routed models take, but not gpt-5.4-nano.
    findings = lint(_routed("gpt-5.4-nano-2026-03-17", reasoning_effort="minimal"))
    assert [f.rule for f in findings] == ["request"]
    assert "gpt-5.4-nano-2026-03-17 takes no effort 'minimal'" in findings[0].message
