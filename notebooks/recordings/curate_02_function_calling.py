"""Curates notebooks/recordings/02_function_calling.yaml (gpt-5.4-mini, a reasoning model).

The requests are the notebook's own: run it in lenient draft mode
(``REPLAY_MODE=lenient REPLAY_DRAFT=1 REPLAY_URL=embedded AZURE_OPENAI_ENDPOINT=
.venv/bin/python -m helpers._support.notebooks run 02_function_calling``), which appends each
unrecorded request as a draft, then run this script: it writes the model's answer to
every request by hand (chosen by the conversation and its round) with the replay
server's Azure-shaped builders. A conversation of three rounds takes three such passes.
Run from the project root: ``.venv/bin/python notebooks/recordings/curate_02_function_calling.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers._support.counting import count_messages
from helpers._support.tokenizer import count_tokens
from helpers.replay import azure
from helpers.replay.recordings.curate import CURATED_DEPLOYMENT, Curation
from helpers.replay.recordings.store import RecordedResponse
from helpers.replay.services.responses import mcp
from helpers.replay.services.responses import simulator as sim

TARGET = Path("notebooks/recordings/02_function_calling.yaml")
DEPLOYMENT = CURATED_DEPLOYMENT
WARMEST = "Of Oslo, Lisbon and Sydney, where is it warmest right now, and what time is it there?"
NYC = "Is it cold in NYC right now?"
LISBON = "What's the weather in Lisbon right now, in Celsius?"
FORECAST = "What's the forecast in Lisbon for the next 2 days?"
ALERTS = "Email me severe-weather alerts for Oslo at ana@contoso.com."

# The MCP conversations: the call each question leads to, and the answer after the approval
# (approved for the forecast, refused by the notebook's policy for the alerts).
MCP_CALLS: dict[str, tuple[str, str, int]] = {
    FORECAST: ("get_forecast", '{"city":"Lisbon","days":2}', 128),
    ALERTS: ("subscribe_alerts", '{"city":"Oslo","email":"ana@contoso.com"}', 192),
}
MCP_ANSWERS: dict[str, str] = {
    FORECAST: "Lisbon over the next two days: Wednesday 25 November, sunny, 18 °C with a low of "
    "12 °C; Thursday 26 November, rain, 16 °C with a low of 11 °C. Take an umbrella on Thursday.",
    ALERTS: "I haven't subscribed ana@contoso.com to Oslo's severe-weather alerts: the call to the "
    "weather service was not approved, so nothing was sent to it. Approve the subscribe_alerts "
    "call if you want the alerts.",
}

# (tool calls, or None) and final text per round; reasoning tokens per round.
CHAT_ROUNDS: dict[str, list[tuple[str, list[tuple[str, dict[str, str]]] | str, int]]] = {
    WARMEST: [
        ("warmest-weather-calls", [
            ("get_weather", {"city": "Oslo", "units": "celsius"}),
            ("get_weather", {"city": "Lisbon", "units": "celsius"}),
            ("get_weather", {"city": "Sydney", "units": "celsius"}),
        ], 192),
        ("warmest-time-call", [("get_local_time", {"timezone": "Australia/Sydney"})], 128),
        ("warmest-answer", "Sydney is the warmest: 24 °C and clear (Lisbon 17 °C and sunny, "
         "Oslo 2 °C with light snow). It is 23:00 there, on 24 November 2026.", 64),
    ],
    NYC: [
        ("nyc-weather-call", [("get_weather", {"city": "NYC", "units": "fahrenheit"})], 128),
        ("nyc-retry-after-error", [("get_weather", {"city": "New York", "units": "fahrenheit"})],
         64),
        ("nyc-answer", "Yes, fairly: it is 46 °F (8 °C) and overcast in New York right now. "
         "Take a warm jacket.", 64),
    ],
}  # fmt: skip


def chat_answer(body: dict[str, Any], ids: azure.IdSource) -> tuple[str, RecordedResponse]:
    messages = body["messages"]
    user = next(m["content"] for m in messages if m["role"] == "user")
    round_index = sum(1 for m in messages if m["role"] == "assistant")
    name, answer, reasoning = CHAT_ROUNDS[user][round_index]
    calls = None
    content = None
    if isinstance(answer, str):
        content = answer
        visible = count_tokens(answer)
    else:
        calls = [azure.tool_call(ids.call_id(), fn, args) for fn, args in answer]
        visible = sum(count_tokens(c["function"]["arguments"]) + 6 for c in calls)
    prompt = count_messages(messages, strict=False) + count_tokens(
        json.dumps(body.get("tools", []))
    )
    completion = azure.chat_completion(
        completion_id=ids.completion_id(),
        model=DEPLOYMENT.model,
        content=content,
        tool_calls=calls,
        created=azure.RESPONSES_CREATED,
    )
    completion["usage"] = azure.usage(prompt, visible + reasoning, reasoning_tokens=reasoning)
    return name, RecordedResponse(body=completion)


def responses_answer(
    body: dict[str, Any], ids: azure.IdSource, first: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    reasoning_item = sim.reasoning_item(ids.item_id("rs"))
    prompt = count_tokens(json.dumps(body.get("input"))) + count_tokens(json.dumps(body["tools"]))
    if body.get("input") == LISBON:
        call = {
            "arguments": '{"city":"Lisbon","units":"celsius"}',
            "call_id": ids.call_id(),
            "id": ids.item_id("fc"),
            "name": "get_weather",
            "status": "completed",
            "type": "function_call",
        }
        usage = sim.responses_usage(prompt, 128 + 14, reasoning_tokens=128)
        output = [reasoning_item, call]
        name = "lisbon-function-call"
    else:
        assert first is not None, "the function_call_output request needs the first response"
        body["previous_response_id"] = first["id"]
        call = next(i for i in first["output"] if i["type"] == "function_call")
        for item in body["input"]:
            item["call_id"] = call["call_id"]
        text = "It's 17 °C and sunny in Lisbon right now."
        prompt += 180  # the chained conversation Azure replays from previous_response_id
        usage = sim.responses_usage(prompt, count_tokens(text) + 64, reasoning_tokens=64)
        output = [reasoning_item, sim.message_item(ids.item_id("msg"), text)]
        name = "lisbon-answer"
    response = sim.response_object(
        body, DEPLOYMENT, response_id=ids.item_id("resp"), output=output, usage=usage
    )
    return name, response


def mcp_question(body: dict[str, Any], ids: azure.IdSource) -> dict[str, Any]:
    """The first answer to an MCP question: the server's tools listed, then the approval
    request Azure stops at (require_approval is not sent: "always", the default)."""
    (param,) = mcp.mcp_tools(body)
    listed = mcp.allowed(param, mcp.server_of(param))
    label = param["server_label"]
    listing = mcp.list_tools_item(ids.item_id("mcpl"), label, listed)
    name, arguments, reasoning = MCP_CALLS[body["input"]]
    request = mcp.approval_request_item(ids.item_id("mcpr"), label, name, arguments)
    prompt = (
        count_tokens(body["input"])
        + count_tokens(json.dumps(body["tools"]))
        + count_tokens(json.dumps(listing["tools"]))
    )
    usage = sim.responses_usage(
        prompt, reasoning + count_tokens(arguments) + 6, reasoning_tokens=reasoning
    )
    output = [listing, sim.reasoning_item(ids.item_id("rs")), request]
    return sim.response_object(
        body, DEPLOYMENT, response_id=ids.item_id("resp"), output=output, usage=usage
    )


def mcp_approved(
    body: dict[str, Any], ids: azure.IdSource, first: dict[str, Any], question: str
) -> dict[str, Any]:
    """The answer to an ``mcp_approval_response``: the call run (when approved), then the
    model's text. The request is rewritten to answer the curated first response."""
    request = next(i for i in first["output"] if i["type"] == "mcp_approval_request")
    body["previous_response_id"] = first["id"]
    (answer,) = body["input"]
    answer["approval_request_id"] = request["id"]
    output = [sim.reasoning_item(ids.item_id("rs"))]
    prompt = first["usage"]["total_tokens"] - first["usage"]["output_tokens_details"][
        "reasoning_tokens"
    ] + count_tokens(json.dumps(body["input"]))  # fmt: skip
    if answer["approve"]:
        (param,) = mcp.mcp_tools(body)
        call = mcp.call_item(
            ids.item_id("mcp"),
            mcp.server_of(param),
            request["server_label"],
            request["name"],
            request["arguments"],
            request["id"],
        )
        output.append(call)
        prompt += count_tokens(call["output"] or "")
    text = MCP_ANSWERS[question]
    output.append(sim.message_item(ids.item_id("msg"), text))
    usage = sim.responses_usage(prompt, count_tokens(text) + 64, reasoning_tokens=64)
    return sim.response_object(
        body, DEPLOYMENT, response_id=ids.item_id("resp"), output=output, usage=usage
    )


def main() -> None:
    curation = Curation.of_drafts(
        TARGET,
        seed=202,
        description=(
            "Curated answers of a gpt-5.4-mini deployment (reasoning model, api-version "
            "2025-04-01-preview) for notebooks/02_function_calling.ipynb: parallel weather calls "
            "then a time call (hand-written loop), a failing tool the model recovers from (NYC, "
            "through run_tool_loop), one Responses API function-call round trip, and remote MCP "
            "calls to the simulated Contoso weather MCP server (an approved forecast, a refused "
            "alerts subscription)."
        ),
    )
    first: dict[str, Any] | None = None
    mcp_firsts: list[tuple[str, dict[str, Any]]] = []  # (question, first answer), in order
    # A draft answering the lenient placeholder's calls is stale once the first answer is curated.
    curation.interactions[:] = [
        i for i in curation.interactions
        if not (i.name == "draft" and "unrecorded" in json.dumps(i.request.body))
    ]  # fmt: skip

    def responses(body: dict[str, Any]) -> tuple[str, RecordedResponse]:
        nonlocal first
        if isinstance(body["input"], str) and body["input"] in MCP_CALLS:
            answer = mcp_question(body, curation.ids)
            mcp_firsts.append((body["input"], answer))
            topic = "forecast" if body["input"] == FORECAST else "alerts"
            return f"mcp-{topic}-approval-request", RecordedResponse(body=answer)
        inputs = body["input"] if isinstance(body["input"], list) else []
        if any(i.get("type") == "mcp_approval_response" for i in inputs):
            question, opened = mcp_firsts.pop(0)
            answer = mcp_approved(body, curation.ids, opened, question)
            name = "mcp-forecast-approved" if question == FORECAST else "mcp-alerts-refused"
            return name, RecordedResponse(body=answer)
        name, answer = responses_answer(body, curation.ids, first)
        if name == "lisbon-function-call":
            first = answer
        return name, RecordedResponse(body=answer)

    curation.answer_drafts(chat=lambda body: chat_answer(body, curation.ids), responses=responses)
    curation.save()


if __name__ == "__main__":
    main()
