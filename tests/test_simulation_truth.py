"""Simulated answers are ones Azure could have sent ("Truth on the wire").

Lenient mode answers what no recording covers. These tests hold its answers, through the
official ``openai`` SDK, to what the API documents: ``n`` choices with usage summed over them,
a cap on output that holds (reasoning included), timestamps from the server's clock and never
before the model's GA date, one content filter streaming mode per deployment, and a batch
input file that names one Global-Batch deployment. Token counts are checked with tiktoken's
``o200k_base`` and OpenAI's published counting rule, not with the server's own arithmetic;
and every simulated answer must pass the recordings linter, whose rules say what Azure sends.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import StartServer
from openai import OpenAI
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from helpers._support.models import catalogue
from helpers._support.tokenizer import get_encoding
from helpers.replay import ReplayServer
from helpers.replay.config import DEFAULT_DEPLOYMENTS, Deployment
from helpers.replay.recordings.lint import Linter, catalogue_ga_date

QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "developer", "content": "Answer in one sentence."},
    {"role": "user", "content": "Why is the sky blue?"},
]
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "units": {"enum": ["celsius"]}},
            "required": ["city", "units"],
        },
    },
}
FEB_2027 = dt.datetime(2027, 2, 1, 12, 0, tzinfo=dt.UTC).timestamp()
STANDARD = "gpt-4.1-mini"
"""A standard-family (non-reasoning) model, kept so that each rule is held on both families: no
reasoning tokens, sampling parameters, and its own GA date (the built-in deployments are all
gpt-5.4 reasoning models)."""
DEPLOYMENTS = {
    **DEFAULT_DEPLOYMENTS,
    STANDARD: Deployment(kind="chat", model="gpt-4.1-mini-2025-04-14"),
}


def tokens(text: str) -> int:
    """tiktoken's count with o200k_base, the encoding of gpt-4.1 and gpt-5.4."""
    return len(get_encoding("o200k_base").encode(text, disallowed_special=()))


def prompt_tokens(messages: list[ChatCompletionMessageParam]) -> int:
    """OpenAI's published rule (cookbook, "How to count tokens with tiktoken"): 3 tokens per
    message, the tokens of each field's value, and 3 that prime the reply."""
    return 3 + sum(3 + sum(tokens(str(v)) for v in m.values()) for m in messages)


def v1(server: ReplayServer) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/openai/v1/", api_key=server.api_key, max_retries=0)


@pytest.fixture
def lenient(start_server: StartServer) -> OpenAI:
    return v1(start_server(mode="lenient", deployments=DEPLOYMENTS))


def streamed(chunks: list[ChatCompletionChunk]) -> dict[int, dict[str, Any]]:
    """Per choice index: its text, finish reason and the number of chunks that carried it."""
    found: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            seen = found.setdefault(choice.index, {"text": "", "finish": None, "role": None})
            if choice.delta is not None:
                seen["text"] += choice.delta.content or ""
                seen["role"] = seen["role"] or choice.delta.role
            seen["finish"] = choice.finish_reason or seen["finish"]
    return found


# --- n choices ------------------------------------------------------------------------------


@pytest.mark.parametrize("deployment", [STANDARD, "gpt-5.4-mini"])
def test_n_three_gives_three_choices_and_usage_summed_over_them(
    lenient: OpenAI, deployment: str
) -> None:
    one = lenient.chat.completions.create(model=deployment, messages=QUESTION)
    three = lenient.chat.completions.create(model=deployment, messages=QUESTION, n=3)
    assert [c.index for c in three.choices] == [0, 1, 2]
    assert all(c.finish_reason == "stop" and c.message.content for c in three.choices)
    assert one.usage is not None and three.usage is not None
    # The prompt is read once, whatever n is.
    assert three.usage.prompt_tokens == one.usage.prompt_tokens == prompt_tokens(QUESTION)
    one_reasoning = one.usage.completion_tokens_details.reasoning_tokens  # type: ignore[union-attr]
    reasoning = three.usage.completion_tokens_details.reasoning_tokens  # type: ignore[union-attr]
    assert reasoning == 3 * (one_reasoning or 0)
    assert (one_reasoning == 0) is (deployment == STANDARD)
    visible = sum(tokens(c.message.content or "") for c in three.choices)
    assert three.usage.completion_tokens == visible + reasoning
    assert three.usage.total_tokens == three.usage.prompt_tokens + three.usage.completion_tokens


def test_n_choices_each_call_their_tools_with_their_own_ids(lenient: OpenAI) -> None:
    answer = lenient.chat.completions.create(
        model="gpt-5.4-mini",
        messages=QUESTION,
        n=2,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    calls = [c.message.tool_calls for c in answer.choices]
    assert all(c is not None and len(c) == 1 for c in calls)
    ids = {c[0].id for c in calls if c}
    assert len(ids) == 2 and all(i.startswith("call_") for i in ids)
    assert all(c.finish_reason == "tool_calls" for c in answer.choices)


def test_a_stream_with_n_three_has_chunks_for_each_index(lenient: OpenAI) -> None:
    whole = lenient.chat.completions.create(model=STANDARD, messages=QUESTION)
    chunks = list(
        lenient.chat.completions.create(
            model=STANDARD,
            messages=QUESTION,
            n=3,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    choices = streamed(chunks)
    assert sorted(choices) == [0, 1, 2]
    for index in range(3):
        assert choices[index]["role"] == "assistant"
        assert choices[index]["finish"] == "stop"
        assert choices[index]["text"] == whole.choices[0].message.content
    usage = chunks[-1].usage
    assert usage is not None and chunks[-1].choices == []
    assert usage.completion_tokens == sum(tokens(c["text"]) for c in choices.values())
    assert usage.prompt_tokens == prompt_tokens(QUESTION)


# --- the cap holds --------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [1, 24, 192, 200, 230, 10_000])
@pytest.mark.parametrize("deployment", [STANDARD, "gpt-5.4-mini"])
def test_a_capped_answer_never_bills_over_its_cap(
    lenient: OpenAI, deployment: str, cap: int
) -> None:
    answer = lenient.chat.completions.create(
        model=deployment, messages=QUESTION, max_completion_tokens=cap
    )
    free = lenient.chat.completions.create(model=deployment, messages=QUESTION)
    assert answer.usage is not None and free.usage is not None
    used, wanted = answer.usage.completion_tokens, free.usage.completion_tokens
    reasoning = answer.usage.completion_tokens_details.reasoning_tokens or 0  # type: ignore[union-attr]
    choice = answer.choices[0]
    content = choice.message.content or ""
    assert used == min(cap, wanted)  # what the answer wanted, or exactly the cap
    assert reasoning <= used and tokens(content) + reasoning <= used
    # finish_reason "length" only when the cap was reached, and then exactly at it.
    assert (choice.finish_reason == "length") is (wanted > cap)
    if wanted > cap:
        assert content == (free.choices[0].message.content or "")[: len(content)]


def test_a_reasoning_answer_capped_at_24_bills_24(lenient: OpenAI) -> None:
    """The issue's case: reasoning takes the whole cap; the empty answer is not a token."""
    answer = lenient.chat.completions.create(
        model="gpt-5.4-mini", messages=QUESTION, max_completion_tokens=24
    )
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 24
    assert answer.usage.completion_tokens_details.reasoning_tokens == 24  # type: ignore[union-attr]
    assert answer.choices[0].message.content == ""
    assert answer.choices[0].finish_reason == "length"


def test_the_cap_is_per_choice(lenient: OpenAI) -> None:
    answer = lenient.chat.completions.create(
        model=STANDARD, messages=QUESTION, n=3, max_completion_tokens=5
    )
    assert answer.usage is not None and answer.usage.completion_tokens == 3 * 5
    for choice in answer.choices:
        assert choice.finish_reason == "length"
        assert tokens(choice.message.content or "") == 5


def test_capped_tool_calls_stop_at_the_cap(lenient: OpenAI) -> None:
    answer = lenient.chat.completions.create(
        model=STANDARD,
        messages=QUESTION,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        max_completion_tokens=6,
    )
    assert answer.usage is not None and answer.usage.completion_tokens == 6
    choice = answer.choices[0]
    assert choice.finish_reason == "length"
    for call in choice.message.tool_calls or []:
        assert call.function.name == "get_weather"  # type: ignore[union-attr]
        assert tokens(call.function.arguments) <= 6  # type: ignore[union-attr]


def test_a_capped_stream_bills_the_cap_in_its_usage_chunk(lenient: OpenAI) -> None:
    chunks = list(
        lenient.chat.completions.create(
            model="gpt-5.4-mini",
            messages=QUESTION,
            max_completion_tokens=200,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 200
    reasoning = usage.completion_tokens_details.reasoning_tokens or 0  # type: ignore[union-attr]
    text = streamed(chunks)[0]
    assert text["finish"] == "length"
    assert tokens(text["text"]) + reasoning == 200


@pytest.mark.parametrize("cap", [16, 24, 192, 200, 10_000])
def test_a_capped_response_is_incomplete_only_at_its_cap(lenient: OpenAI, cap: int) -> None:
    free = lenient.responses.create(model="gpt-5.4-mini", input="Why is the sky blue?")
    capped = lenient.responses.create(
        model="gpt-5.4-mini", input="Why is the sky blue?", max_output_tokens=cap
    )
    assert free.usage is not None and capped.usage is not None
    wanted, used = free.usage.output_tokens, capped.usage.output_tokens
    reasoning = capped.usage.output_tokens_details.reasoning_tokens
    assert used == min(cap, wanted) and reasoning <= used
    assert tokens(capped.output_text) + reasoning <= used
    if wanted > cap:
        assert capped.status == "incomplete"
        assert capped.incomplete_details is not None
        assert capped.incomplete_details.reason == "max_output_tokens"
    else:
        assert capped.status == "completed" and capped.incomplete_details is None


# --- timestamps from the server's clock -----------------------------------------------------


def test_a_simulated_answer_is_stamped_by_the_servers_clock(start_server: StartServer) -> None:
    now = [FEB_2027]
    client = v1(start_server(mode="lenient", clock=lambda: now[0], deployments=DEPLOYMENTS))
    chat = client.chat.completions.create(model="gpt-5.4-mini", messages=QUESTION)
    assert abs(chat.created - FEB_2027) < 60
    now[0] += 3600
    chunks = list(client.chat.completions.create(model=STANDARD, messages=QUESTION, stream=True))
    stamped = [c.created for c in chunks if c.id]  # Azure's annotation chunks carry created 0
    assert stamped and all(abs(s - now[0]) < 60 for s in stamped)
    response = client.responses.create(model="gpt-5.4-mini", input="Why is the sky blue?")
    assert abs(response.created_at - now[0]) < 60
    assert client.responses.retrieve(response.id).created_at == response.created_at


def test_the_default_clock_is_now(lenient: OpenAI) -> None:
    chat = lenient.chat.completions.create(model="gpt-5.4-mini", messages=QUESTION)
    assert abs(chat.created - time.time()) < 60


@pytest.mark.parametrize("deployment", ["gpt-5.4-mini", STANDARD])
def test_a_clock_before_the_models_ga_never_dates_an_answer_before_it(
    start_server: StartServer, deployment: str
) -> None:
    server = start_server(mode="lenient", clock=lambda: 1000.0, deployments=DEPLOYMENTS)  # 1970
    client = v1(server)
    model = server.config.deployments[deployment].model
    ga = catalogue().lookup(model).ga.value
    assert ga is not None
    chat = client.chat.completions.create(model=deployment, messages=QUESTION)
    assert dt.datetime.fromtimestamp(chat.created, dt.UTC).date() == ga
    response = client.responses.create(model=deployment, input="Hi")
    assert dt.datetime.fromtimestamp(response.created_at, dt.UTC).date() == ga


# --- one content filter streaming mode per deployment ---------------------------------------

HARM = {"hate", "self_harm", "sexual", "violence"}


def _raw_chunks(client: OpenAI, deployment: str, **options: Any) -> list[dict[str, Any]]:
    """The stream's payloads as sent (the SDK drops unknown fields from some chunk shapes)."""
    with client.chat.completions.with_streaming_response.create(
        model=deployment, messages=QUESTION, stream=True, **options
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[len("data: ") :]) for line in lines[:-1]]


def test_the_default_filter_releases_annotated_chunks_of_buffered_text(lenient: OpenAI) -> None:
    whole = lenient.chat.completions.create(model="gpt-5.4-mini", messages=QUESTION)
    text = whole.choices[0].message.content or ""
    payloads = _raw_chunks(lenient, "gpt-5.4-mini")
    content = [c for p in payloads for c in p["choices"] if (c.get("delta") or {}).get("content")]
    assert "".join(c["delta"]["content"] for c in content) == text
    # Not token by token (Learn, "Content streaming": "content chunks of the respective
    # buffer size"), each chunk with the verdict on its text, and no annotation-only chunk.
    assert len(content) < len(text.split())
    assert all(set(c["content_filter_results"]) == HARM for c in content)
    assert not any("content_filter_offsets" in c for p in payloads for c in p["choices"])


def _check_asynchronous(payloads: list[dict[str, Any]], choices: int) -> None:
    """Learn, "Content streaming" (Asynchronous Filter): text at once with no verdict, then
    annotation chunks with no delta whose offsets cover the text sent, never more than about
    1,000 characters behind it, ``check_offset`` non-decreasing; the last after the finish."""
    for index in range(choices):
        sent, covered, checked, finished, last = "", 0, 0, False, ""
        for payload in payloads:
            for choice in payload["choices"]:
                if choice["index"] != index:
                    continue
                if "content_filter_offsets" in choice:
                    assert "delta" not in choice
                    assert (payload["id"], payload["object"], payload["created"]) == ("", "", 0)
                    offsets = choice["content_filter_offsets"]
                    assert offsets["start_offset"] == covered
                    assert offsets["check_offset"] >= checked
                    covered = offsets["end_offset"]
                    checked = offsets["check_offset"]
                    assert covered <= len(sent)
                    assert set(choice["content_filter_results"]) == HARM
                    last = "annotation"
                    continue
                piece = choice["delta"].get("content") or ""
                if piece:
                    assert choice["content_filter_results"] == {}
                sent += piece
                assert len(sent) - covered <= 1000
                finished = finished or choice["finish_reason"] is not None
                last = "finish" if choice["finish_reason"] else "text"
        assert finished and sent and covered == len(sent) and last == "annotation"


def test_the_asynchronous_filter_deployment_sends_text_then_verdicts(lenient: OpenAI) -> None:
    whole = lenient.chat.completions.create(model="gpt-5.4-mini-async-filter", messages=QUESTION)
    payloads = _raw_chunks(lenient, "gpt-5.4-mini-async-filter")
    _check_asynchronous(payloads, 1)
    text = "".join(
        (c.get("delta") or {}).get("content") or "" for p in payloads for c in p["choices"]
    )
    assert text == whole.choices[0].message.content
    assert len([p for p in payloads if p["choices"] and p["id"]]) > len(text.split())
    # The SDK sees an annotation chunk as a choice with no delta.
    chunks = list(
        lenient.chat.completions.create(
            model="gpt-5.4-mini-async-filter", messages=QUESTION, stream=True
        )
    )
    assert any(c.choices and c.choices[0].delta is None for c in chunks)


def test_the_streaming_mode_is_the_deployments_own(start_server: StartServer) -> None:
    deployments = {
        "buffered": Deployment(kind="chat", model="gpt-5.4-mini-2026-03-17"),
        "asynchronous": Deployment(
            kind="chat", model="gpt-5.4-mini-2026-03-17", content_filter_streaming="asynchronous"
        ),
    }
    client = v1(start_server(mode="lenient", deployments=deployments))
    _check_asynchronous(_raw_chunks(client, "asynchronous", n=2), 2)
    buffered = _raw_chunks(client, "buffered", n=2)
    assert not any("content_filter_offsets" in c for p in buffered for c in p["choices"])


# --- a batch file names one Global-Batch deployment -----------------------------------------


def test_a_mixed_deployment_batch_file_fails_validation(start_server: StartServer) -> None:
    """Learn, "Getting started with Azure OpenAI batch deployments": "For a given input file,
    all names must be the same deployment name"; the documented code is model_mismatch."""
    now = [FEB_2027]
    client = v1(start_server(mode="lenient", clock=lambda: now[0]))
    lines = [
        {"custom_id": f"r{i}", "method": "POST", "url": "/chat/completions",
         "body": {"model": model, "messages": [{"role": "user", "content": "Hi"}]}}
        for i, model in enumerate(["gpt-5.4-mini-batch", "gpt-5.4-mini-batch", "gpt-5.4-mini"])
    ]  # fmt: skip
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    upload = client.files.create(file=("mixed.jsonl", content), purpose="batch")
    batch = client.batches.create(
        input_file_id=upload.id,
        endpoint="/chat/completions",  # type: ignore[arg-type]
        completion_window="24h",
    )
    now[0] += 5
    failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed"
    assert failed.errors is not None and failed.errors.data
    codes = [(e.code, e.line) for e in failed.errors.data]
    assert ("model_mismatch", 3) in codes
    assert ("invalid_request", 3) in codes  # gpt-5.4-mini is not a Global-Batch deployment
    assert failed.output_file_id is None


def test_a_batch_lines_answer_is_stamped_when_the_line_runs(start_server: StartServer) -> None:
    now = [FEB_2027]
    client = v1(start_server(mode="lenient", clock=lambda: now[0]))
    line = {"custom_id": "a", "method": "POST", "url": "/chat/completions",
            "body": {"model": "gpt-5.4-mini-batch", "messages": QUESTION, "n": 2}}  # fmt: skip
    upload = client.files.create(file=("a.jsonl", json.dumps(line).encode()), purpose="batch")
    batch = client.batches.create(
        input_file_id=upload.id,
        endpoint="/chat/completions",  # type: ignore[arg-type]
        completion_window="24h",
    )
    now[0] += 10
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.output_file_id
    output = json.loads(client.files.content(done.output_file_id).text)
    body = output["response"]["body"]
    # Stamped when the line ran, while the job was in progress (not when it was created).
    assert done.in_progress_at is not None and done.finalizing_at is not None
    assert done.in_progress_at <= body["created"] <= done.finalizing_at
    assert abs(body["created"] - FEB_2027) < 60
    assert [c["index"] for c in body["choices"]] == [0, 1]


# --- every simulated answer passes the recordings linter ------------------------------------


def test_simulated_answers_pass_the_recordings_linter(
    start_server: StartServer, tmp_path: Path
) -> None:
    """Drafts (REPLAY_DRAFT) keep each simulated answer as a recording; the linter's rules,
    taken from the API reference and Learn, must find nothing in them."""
    drafts = tmp_path / "drafts.yaml"
    client = v1(
        start_server(drafts, mode="lenient", draft=True, record_to=drafts, deployments=DEPLOYMENTS)
    )
    tools: Any = [WEATHER_TOOL]
    for deployment in (STANDARD, "gpt-5.4-mini", "gpt-5.4-mini-async-filter"):
        for options in (
            {},
            {"n": 3},
            {"max_completion_tokens": 24},
            {"max_completion_tokens": 200, "n": 2},
            {"tools": tools, "max_completion_tokens": 6},
            {"stream": True, "n": 2, "stream_options": {"include_usage": True}},
            {"stream": True, "max_completion_tokens": 200},
        ):
            client.chat.completions.create(model=deployment, messages=QUESTION, **options)
        limits: list[dict[str, Any]] = [{"max_output_tokens": 16}, {"max_output_tokens": 200}, {}]
        for limit in limits:
            client.responses.create(model=deployment, input="Why is the sky blue?", **limit)
    client.responses.create(model="gpt-5.4-mini", input="Hi", stream=True, max_output_tokens=200)
    document = yaml.safe_load(drafts.read_text(encoding="utf-8"))
    assert len(document["interactions"]) == 3 * (7 + 3) + 1
    linter = Linter(catalogue_ga_date)
    assert [str(f) for f in linter.lint_document("drafts", document)] == []


@pytest.mark.parametrize(("effort", "reasons"), [("none", False), ("low", True), ("xhigh", True)])
def test_a_simulated_answer_reasons_at_the_effort_sent(
    lenient: OpenAI, effort: Any, reasons: bool
) -> None:
    chat = lenient.chat.completions.create(
        model="gpt-5.4-mini",
        messages=[{"role": "user", "content": "Name a colour."}],
        reasoning_effort=effort,
    )
    details = chat.usage.completion_tokens_details if chat.usage else None
    assert details is not None and ((details.reasoning_tokens or 0) > 0) is reasons
    response = lenient.responses.create(
        model="gpt-5.4-mini", input="Name a colour.", reasoning={"effort": effort}
    )
    kinds = [item.type for item in response.output]
    assert ("reasoning" in kinds) is reasons  # effort none: no reasoning item at all
    assert response.reasoning is not None and response.reasoning.effort == effort
    assert response.usage is not None
    assert (response.usage.output_tokens_details.reasoning_tokens > 0) is reasons


WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "units": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "units", "days"],
            "additionalProperties": False,
        },
    },
}


def test_a_made_up_tool_call_takes_its_arguments_from_the_learners_question(
    lenient: OpenAI,
) -> None:
    """An edited question gets a tool call on the learner's own city, units and number."""
    asked = lenient.chat.completions.create(
        model="gpt-5.4-mini",
        messages=[
            {"role": "developer", "content": "Use the tools. Never guess. London is the default."},
            {
                "role": "user",
                "content": "What will the weather be in Porto for 3 days, in fahrenheit?",
            },
        ],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    (call,) = asked.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert json.loads(call.function.arguments) == {
        "city": "Porto",
        "units": "fahrenheit",
        "days": 3,
    }
    response = lenient.responses.create(
        model="gpt-5.4-mini",
        input="Is it raining in Nairobi?",
        tools=[{"type": "function", "name": "get_weather", **WEATHER["function"]}],  # type: ignore[list-item, typeddict-item]
    )
    (item,) = [i for i in response.output if i.type == "function_call"]
    assert json.loads(item.arguments)["city"] == "Nairobi"  # type: ignore[union-attr]


def test_a_question_that_names_nothing_leaves_the_argument_marked(lenient: OpenAI) -> None:
    asked = lenient.chat.completions.create(
        model="gpt-5.4-mini",
        messages=[{"role": "user", "content": "what is the weather like today?"}],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    (call,) = asked.choices[0].message.tool_calls or []
    assert call.type == "function"
    arguments = json.loads(call.function.arguments)
    assert arguments["city"] == "[unrecorded]" and arguments["units"] == "celsius"
    assert arguments["days"] == 1  # the schema's minimum: nothing in the question fits
