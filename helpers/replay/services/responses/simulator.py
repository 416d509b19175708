"""The Responses API's state and its simulated answers.

The Responses API is the first stateful API the server holds: a response is
stored under its id (unless the request said ``store: false``) with the input
items it was given, so ``GET /responses/{id}``, ``GET .../input_items``,
``DELETE`` and ``previous_response_id`` chains work whether the model's part
came from a recording or from lenient simulation. Recordings drive the model;
the server keeps the state.

Simulated answers (lenient mode) follow the request: text that says it is
unrecorded, JSON that fits a ``text.format`` schema, function calls whose
arguments fit each tool's schema when the last input is not a tool result, and
for reasoning deployments a reasoning item with ``reasoning_tokens`` in usage; an ``mcp``
tool's listing, approval request or call comes from :mod:`.mcp`.
:func:`stream_events` turns any response into Azure's event sequence.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterable
from typing import Any

from ...._support.models import catalogue
from ...._support.tokenizer import count_tokens
from ... import azure
from ...config import Deployment
from ..inference.chat import (
    UNRECORDED_TEXT,
    Hints,
    call_tokens,
    example_from_schema,
    fit_calls,
    truncate,
)
from . import mcp

EFFORT_TOKENS = {"none": 0, "minimal": 0, "low": 64, "medium": 192, "high": 448, "xhigh": 960}
"""Simulated reasoning tokens per effort: a stand-in, marked unrecorded like the text."""

SIMULATED_DEFAULT_EFFORT = "medium"
"""The effort simulated for a reasoning model whose default the catalogue does not know
(gpt-5.4: Learn does not state it); the GPT-5 (2025-08-07) models' documented default."""


def effective_effort(sent: Any, deployment: Deployment) -> str | None:
    """The effort a simulated answer reasons at: the one sent, else the model's default from the
    catalogue, else :data:`SIMULATED_DEFAULT_EFFORT`; None for a standard model."""
    if not deployment.is_reasoning:
        return None
    if isinstance(sent, str) and sent:
        return sent
    entry = catalogue().find(deployment.model)
    default = entry.default_effort.value if entry is not None and entry.default_effort else None
    return default or SIMULATED_DEFAULT_EFFORT


class ResponsesStore:
    """Responses by id, with their input items; reset with the server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._responses: dict[str, dict[str, Any]] = {}
        self._inputs: dict[str, list[dict[str, Any]]] = {}

    def reset(self) -> None:
        with self._lock:
            self._responses.clear()
            self._inputs.clear()

    def put(self, response: dict[str, Any], input_items: list[dict[str, Any]]) -> None:
        with self._lock:
            self._responses[response["id"]] = copy.deepcopy(response)
            self._inputs[response["id"]] = copy.deepcopy(input_items)

    def get(self, response_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._responses.get(response_id)
            return copy.deepcopy(found) if found is not None else None

    def input_items(self, response_id: str) -> list[dict[str, Any]] | None:
        with self._lock:
            found = self._inputs.get(response_id)
            return copy.deepcopy(found) if found is not None else None

    def delete(self, response_id: str) -> bool:
        with self._lock:
            self._inputs.pop(response_id, None)
            return self._responses.pop(response_id, None) is not None

    def history(self, response_id: str | None) -> list[dict[str, Any]]:
        """Every input and output item of a chain, oldest first (what the model sees)."""
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        while response_id and response_id not in seen:
            seen.add(response_id)
            response = self.get(response_id)
            if response is None:
                break
            items[:0] = [*(self.input_items(response_id) or []), *response.get("output", [])]
            response_id = response.get("previous_response_id")
        return items


def input_items(body: dict[str, Any], ids: azure.IdSource | None) -> list[dict[str, Any]]:
    """The request's ``input`` as items (a string becomes one user message); ids when given."""
    raw = body.get("input")
    if raw is None:
        return []
    entries = [{"role": "user", "content": raw}] if isinstance(raw, str) else list(raw)
    items = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        item = dict(entry)
        kind = item.setdefault("type", "message")
        if kind == "message":
            content = item.get("content")
            if isinstance(content, str):
                item["content"] = [{"type": "input_text", "text": content}]
            if ids is not None:
                item.setdefault("id", ids.item_id("msg"))
            item.setdefault("status", "completed")
        elif kind == "function_call_output":
            if ids is not None:
                item.setdefault("id", ids.item_id("fc"))
            item.setdefault("status", "completed")
        elif kind == "mcp_approval_response" and ids is not None:
            item.setdefault("id", ids.item_id("mcpr"))
        items.append(item)
    return items


def text_of(items: Iterable[dict[str, Any]]) -> str:
    parts: list[str] = []
    for item in items:
        content = item.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        for key in ("arguments", "output"):
            if isinstance(item.get(key), str):
                parts.append(item[key])
    return "\n".join(parts)


def _last_user_text(body: dict[str, Any], items: list[dict[str, Any]]) -> str:
    """The learner's last words: a string ``input``, or the last user message's text."""
    if isinstance(body.get("input"), str):
        return str(body["input"])
    return Hints.from_messages(
        [i for i in items if i.get("role") == "user" or i.get("type") == "message"]
    ).text


def _function_calls(body: dict[str, Any], items: list[dict[str, Any]], ids: azure.IdSource) -> list:
    tools = [
        t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"
    ]
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none" or (items and items[-1].get("type") == "function_call_output"):
        return []
    if isinstance(choice, dict) and choice.get("name"):
        tools = [t for t in tools if t.get("name") == choice["name"]] or tools[:1]
    if body.get("parallel_tool_calls") is False:
        tools = tools[:1]
    calls = []
    hints = Hints.from_text(_last_user_text(body, items))
    for tool in tools:
        arguments = example_from_schema(tool.get("parameters") or {"type": "object"}, hints=hints)
        calls.append(
            {
                "arguments": json.dumps(arguments),
                "call_id": ids.call_id(),
                "id": ids.item_id("fc"),
                "name": tool.get("name", ""),
                "status": "completed",
                "type": "function_call",
            }
        )
    return calls


def simulate(
    body: dict[str, Any],
    deployment: Deployment,
    ids: azure.IdSource,
    history: list[dict[str, Any]],
    created_at: int = azure.RESPONSES_CREATED,
    *,
    cached_tokens: int = 0,
) -> dict[str, Any]:
    """A response for a request no recording covers: ``completed``, or ``incomplete`` when
    it reaches ``max_output_tokens``. ``created_at`` is the server's time (the operation
    passes :func:`helpers.replay.azure.timestamp` of its clock)."""
    items = input_items(body, None)
    output: list[dict[str, Any]] = []
    effort = effective_effort((body.get("reasoning") or {}).get("effort"), deployment)
    reasoning_tokens = EFFORT_TOKENS.get(effort, 0) if effort else 0
    listings, actions = mcp.respond(body, items, history, ids, _last_user_text(body, items))
    output.extend(listings)
    if effort and effort != "none":
        output.append(reasoning_item(ids.item_id("rs")))
    output.extend(actions)
    answered = any(i.get("type") == "mcp_approval_response" for i in items)
    calls = [] if actions or answered else _function_calls(body, items, ids)
    if calls:
        output.extend(calls)
        text = ""
    elif mcp.awaits_approval(actions):
        text = ""
    else:
        fmt = (body.get("text") or {}).get("format") or {}
        if fmt.get("type") == "json_schema":
            text = json.dumps(example_from_schema(fmt.get("schema") or {}))
        elif fmt.get("type") == "json_object":
            text = json.dumps({"unrecorded": True, "note": UNRECORDED_TEXT})
        else:
            text = UNRECORDED_TEXT
        output.append(message_item(ids.item_id("msg"), text))
    status, incomplete = "completed", None
    limit = body.get("max_output_tokens")
    limit = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
    if calls:
        wanted = sum(call_tokens(c["name"], c["arguments"]) for c in calls)
    else:
        wanted = count_tokens(text) if text else 0
    wanted += sum(call_tokens(a["name"], a["arguments"]) for a in actions)
    output_tokens = reasoning_tokens + wanted
    if limit is not None and output_tokens > limit:
        # "An upper bound for the number of tokens that can be generated for a response,
        # including visible output tokens and reasoning tokens" (OpenAI API reference,
        # max_output_tokens). Reasoning is spent first; what is left of the limit is visible
        # text or calls (maybe none); the response stops exactly at the limit.
        status, incomplete = "incomplete", {"reason": "max_output_tokens"}
        reasoning_tokens = min(reasoning_tokens, limit)
        budget = limit - reasoning_tokens
        output_tokens = limit
        output = [item for item in output if item["type"] in ("reasoning", "mcp_list_tools")]
        if calls:
            fitted = fit_calls([(c["name"], c["arguments"]) for c in calls], budget)
            kept = [
                call if whole else {**call, "arguments": arguments, "status": "incomplete"}
                for call, (arguments, whole) in zip(calls, fitted, strict=False)
            ]
            output.extend(kept)
            calls = kept
        elif budget > 0:
            text = truncate(text, budget)
            output.append({**message_item(ids.item_id("msg"), text), "status": "incomplete"})
        else:
            text = ""
    prompt = "\n".join(
        [str(body.get("instructions") or ""), text_of(history), text_of(items),
         mcp.imported_text(listings, actions)]
    ).strip()  # fmt: skip
    input_tokens = count_tokens(prompt) if prompt else 0
    response = response_object(
        body,
        deployment,
        response_id=ids.item_id("resp"),
        output=output,
        usage=responses_usage(
            input_tokens,
            output_tokens,
            reasoning_tokens=reasoning_tokens,
            cached_tokens=min(cached_tokens, input_tokens),
        ),
        created_at=created_at,
        status=status,
    )
    response["incomplete_details"] = incomplete
    return response


def reasoning_item(item_id: str) -> dict[str, Any]:
    """A reasoning model's reasoning item, without its (encrypted) content or a summary."""
    return {"id": item_id, "summary": [], "type": "reasoning"}


def message_item(item_id: str, text: str, annotations: list[Any] | None = None) -> dict[str, Any]:
    return {
        "content": [
            {"annotations": annotations or [], "logprobs": [], "text": text, "type": "output_text"}
        ],
        "id": item_id,
        "role": "assistant",
        "status": "completed",
        "type": "message",
    }


def responses_usage(
    input_tokens: int, output_tokens: int, *, cached_tokens: int = 0, reasoning_tokens: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": cached_tokens},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


def response_object(
    body: dict[str, Any],
    deployment: Deployment,
    *,
    response_id: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    status: str = "completed",
    created_at: int = azure.RESPONSES_CREATED,
) -> dict[str, Any]:
    """A Response as Azure sends it, echoing the request's settings."""
    reasoning = body.get("reasoning") or {}
    text = body.get("text") or {}
    return {
        "background": bool(body.get("background", False)),
        "created_at": created_at,
        "error": None,
        "id": response_id,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": deployment.model,
        "object": "response",
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        **({"prompt_cache_key": body["prompt_cache_key"]} if "prompt_cache_key" in body else {}),
        "reasoning": {
            "effort": effective_effort(reasoning.get("effort"), deployment),
            "summary": reasoning.get("summary"),
        },
        "status": status,
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": usage,
        "user": body.get("user"),
    }


def _pieces(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text) or [""]


def stream_events(response: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(event type, payload)`` for a response, in Azure's order, numbered from 0."""
    events: list[tuple[str, dict[str, Any]]] = []

    def emit(kind: str, **payload: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **payload}))

    opening = {
        **response, "output": [], "status": "in_progress", "usage": None,
        "incomplete_details": None,
    }  # fmt: skip
    emit("response.created", response=opening)
    emit("response.in_progress", response=opening)
    for index, item in enumerate(response.get("output", [])):
        kind = item.get("type")
        if kind == "message":
            emit("response.output_item.added", item={**item, "content": [],
                 "status": "in_progress"}, output_index=index)  # fmt: skip
            for part_index, part in enumerate(item.get("content", [])):
                empty = {**part, "text": "", "annotations": []}
                emit("response.content_part.added", content_index=part_index,
                     item_id=item["id"], output_index=index, part=empty)  # fmt: skip
                for piece in _pieces(part.get("text", "")):
                    emit("response.output_text.delta", content_index=part_index, delta=piece,
                         item_id=item["id"], logprobs=[], output_index=index)  # fmt: skip
                for n, annotation in enumerate(part.get("annotations", [])):
                    emit("response.output_text.annotation.added", annotation=annotation,
                         annotation_index=n, content_index=part_index, item_id=item["id"],
                         output_index=index)  # fmt: skip
                emit("response.output_text.done", content_index=part_index, item_id=item["id"],
                     logprobs=[], output_index=index, text=part.get("text", ""))  # fmt: skip
                emit("response.content_part.done", content_index=part_index,
                     item_id=item["id"], output_index=index, part=part)  # fmt: skip
        elif kind == "function_call":
            emit("response.output_item.added", item={**item, "arguments": "",
                 "status": "in_progress"}, output_index=index)  # fmt: skip
            emit("response.function_call_arguments.delta", delta=item.get("arguments", ""),
                 item_id=item["id"], output_index=index)  # fmt: skip
            emit("response.function_call_arguments.done", arguments=item.get("arguments", ""),
                 item_id=item["id"], name=item.get("name"), output_index=index)  # fmt: skip
        elif kind in mcp.MCP_ITEM_TYPES:
            for event, payload in mcp.item_events(item, index):
                emit(event, **payload)
        elif kind == "file_search_call":
            emit("response.output_item.added", item={**item, "results": None,
                 "status": "in_progress"}, output_index=index)  # fmt: skip
            for phase in ("in_progress", "searching", "completed"):
                emit(f"response.file_search_call.{phase}", item_id=item["id"],
                     output_index=index)  # fmt: skip
        else:
            emit("response.output_item.added", item=item, output_index=index)
        emit("response.output_item.done", item=item, output_index=index)
    final = {
        "completed": "response.completed",
        "incomplete": "response.incomplete",
        "failed": "response.failed",
    }.get(response.get("status", "completed"), "response.completed")
    emit(final, response=response)
    return events


def final_response(events: Iterable[str]) -> dict[str, Any] | None:
    """The response a stream of ``data:`` payloads ends with (to keep it as state)."""
    found = None
    for data in events:
        try:
            payload = json.loads(data)
        except json.JSONDecodeError:
            continue
        if isinstance(payload, dict) and payload.get("type") in (
            "response.completed",
            "response.incomplete",
            "response.failed",
        ):
            found = payload.get("response")
    return found if isinstance(found, dict) else None
