"""Azure OpenAI's response envelope: bodies, stream chunks and headers.

Azure wraps OpenAI's chat completion in content-filter annotations
(``prompt_filter_results`` on the prompt, ``content_filter_results`` on each
choice), sends keys in alphabetical order, opens a stream with an annotation
chunk whose ``choices`` is empty, and ends it with a usage chunk (also with
empty ``choices``) when ``stream_options.include_usage`` is set. These builders
produce exactly those shapes; the simulators and the curation tools use them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._support.models import catalogue

CREATED = 1_795_478_400  # 2026-11-24: after the GA of every model the curated answers name
"""The ``created`` timestamp of curated chat completions (2026-11-24T00:00:00Z). Simulated
answers are stamped by the server's clock instead (:func:`timestamp`)."""

RESPONSES_CREATED = 1_795_478_400
"""``created_at`` of curated Responses (2026-11-24T00:00:00Z), after GPT-5; simulated ones are
stamped by the server's clock (:func:`timestamp`)."""


def timestamp(now: float, model: str) -> int:
    """``created`` for an answer the server makes up at ``now`` (its clock): now, in whole
    seconds, but never before ``model``'s GA date in the model catalogue (a clock set in the
    past, as tests do, must not date an answer before the model existed)."""
    entry = catalogue().find(model)
    ga = entry.ga.value if entry is not None else None
    earliest = int(dt.datetime(ga.year, ga.month, ga.day, tzinfo=dt.UTC).timestamp()) if ga else 0
    return max(int(now), earliest)


SYSTEM_FINGERPRINT = "fp_b705f0c291"

HARM_CATEGORIES = ("hate", "self_harm", "sexual", "violence")


def severity(level: str = "safe", *, filtered: bool = False) -> dict[str, Any]:
    return {"filtered": filtered, "severity": level}


def choice_filter_results(**overrides: dict[str, Any]) -> dict[str, Any]:
    """Per-choice annotations: four harm categories plus protected material, all clean."""
    results: dict[str, Any] = {
        "hate": severity(),
        "protected_material_code": {"filtered": False, "detected": False},
        "protected_material_text": {"filtered": False, "detected": False},
        "self_harm": severity(),
        "sexual": severity(),
        "violence": severity(),
    }
    results.update(overrides)
    return results


def prompt_filter_results(**overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """Prompt annotations: four harm categories plus jailbreak detection, all clean."""
    results: dict[str, Any] = {
        "hate": severity(),
        "jailbreak": {"filtered": False, "detected": False},
        "self_harm": severity(),
        "sexual": severity(),
        "violence": severity(),
    }
    results.update(overrides)
    return [{"prompt_index": 0, "content_filter_results": results}]


def usage(
    prompt_tokens: int, completion_tokens: int, *, cached_tokens: int = 0, reasoning_tokens: int = 0
) -> dict[str, Any]:
    return {
        "completion_tokens": completion_tokens,
        "completion_tokens_details": {
            "accepted_prediction_tokens": 0,
            "reasoning_tokens": reasoning_tokens,
            "rejected_prediction_tokens": 0,
        },
        "prompt_tokens": prompt_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens},
        "total_tokens": prompt_tokens + completion_tokens,
    }


def tool_call(call_id: str, name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, separators=(",", ":"))
    return {"function": {"arguments": args, "name": name}, "id": call_id, "type": "function"}


def chat_choice(
    index: int = 0,
    *,
    content: str | None = None,
    tool_calls: Sequence[dict[str, Any]] | None = None,
    refusal: str | None = None,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """One choice of a non-streamed chat completion, with its content filter annotations."""
    message: dict[str, Any] = {"content": content, "refusal": refusal, "role": "assistant"}
    if tool_calls:
        message["tool_calls"] = list(tool_calls)
    if finish_reason is None:
        finish_reason = "tool_calls" if tool_calls else "stop"
    return {
        "content_filter_results": choice_filter_results() if content or refusal else {},
        "finish_reason": finish_reason,
        "index": index,
        "logprobs": None,
        "message": message,
    }


def chat_completion(
    *,
    completion_id: str,
    model: str,
    content: str | None = None,
    tool_calls: Sequence[dict[str, Any]] | None = None,
    refusal: str | None = None,
    finish_reason: str | None = None,
    choices: Sequence[dict[str, Any]] | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    reasoning_tokens: int = 0,
    cached_tokens: int = 0,
    created: int = CREATED,
) -> dict[str, Any]:
    """A non-streamed chat completion body as Azure sends it.

    One choice from ``content``, ``tool_calls``, ``refusal`` and ``finish_reason``, or the
    given ``choices`` (:func:`chat_choice`, one per ``n``); ``usage`` covers them all.
    """
    if choices is None:
        choices = [
            chat_choice(
                content=content,
                tool_calls=tool_calls,
                refusal=refusal,
                finish_reason=finish_reason,
            )
        ]
    return {
        "choices": list(choices),
        "created": created,
        "id": completion_id,
        "model": model,
        "object": "chat.completion",
        "prompt_filter_results": prompt_filter_results(),
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": usage(
            prompt_tokens,
            completion_tokens,
            reasoning_tokens=reasoning_tokens,
            cached_tokens=cached_tokens,
        ),
    }


def dumps(value: Any) -> str:
    """Compact JSON with non-ASCII characters as they are (no ``\\u`` escapes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class StreamedChoice:
    """One choice of a streamed chat completion: its text as released, calls, finish reason."""

    pieces: Sequence[str] = ()
    tool_calls: Sequence[dict[str, Any]] | None = None
    finish_reason: str | None = None


def prompt_filter_chunk(results: list[dict[str, Any]]) -> dict[str, Any]:
    """A chat stream's first chunk on Azure: the prompt's filter results, no choices, and empty
    id, model and object (``created`` 0)."""
    return {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": results,
    }


def chat_stream(
    *,
    completion_id: str,
    model: str,
    pieces: Sequence[str] = (),
    tool_calls: Sequence[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    choices: Sequence[StreamedChoice] | None = None,
    include_usage: bool = False,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    reasoning_tokens: int = 0,
    cached_tokens: int = 0,
    created: int = CREATED,
    asynchronous_filter_window: int | None = None,
) -> list[str]:
    """The ``data:`` payloads of a streamed chat completion, in Azure's order (no ``[DONE]``).

    One choice from ``pieces``, ``tool_calls`` and ``finish_reason``, or the given ``choices``
    (one per ``n``, their chunks interleaved, each chunk naming its choice's ``index``).

    The content filter's streaming mode decides the annotations (Learn, "Content streaming"):
    by default (``asynchronous_filter_window`` None) every text chunk carries the verdict on
    its text, which the filter held back until it was checked; with the Asynchronous Filter
    text chunks carry none (``{}``) and the verdicts come in annotation chunks of their own
    (no ``delta``; ``content_filter_offsets`` in characters of the choice's text; empty id,
    model and object, ``created`` 0), one each time ``asynchronous_filter_window``
    characters have been sent unchecked, and the last after the choice's finish chunk.
    """
    if choices is None:
        choices = [StreamedChoice(pieces, tool_calls, finish_reason)]
    annotated = {k: v for k, v in choice_filter_results().items() if k in HARM_CATEGORIES}

    def chunk(
        index: int, delta: dict[str, Any], filters: dict[str, Any], finish: str | None
    ) -> str:
        return dumps(
            {
                "choices": [
                    {
                        "content_filter_results": filters,
                        "delta": delta,
                        "finish_reason": finish,
                        "index": index,
                        "logprobs": None,
                    }
                ],
                "created": created,
                "id": completion_id,
                "model": model,
                "object": "chat.completion.chunk",
                "system_fingerprint": SYSTEM_FINGERPRINT,
            }
        )

    def annotation(index: int, start: int, end: int) -> str:
        offsets = {"check_offset": end, "start_offset": start, "end_offset": end}
        return dumps(
            {
                "choices": [
                    {
                        "content_filter_offsets": offsets,
                        "content_filter_results": annotated,
                        "finish_reason": None,
                        "index": index,
                    }
                ],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
            }
        )

    def events_of(index: int, choice: StreamedChoice) -> list[str]:
        events = [chunk(index, {"content": "", "refusal": None, "role": "assistant"}, {}, None)]
        sent = checked = 0
        for piece in choice.pieces:
            if asynchronous_filter_window is None:
                events.append(chunk(index, {"content": piece}, annotated, None))
                continue
            events.append(chunk(index, {"content": piece}, {}, None))
            sent += len(piece)
            if sent - checked >= asynchronous_filter_window:
                events.append(annotation(index, checked, sent))
                checked = sent
        for position, call in enumerate(choice.tool_calls or ()):
            fn = call["function"]
            opening = {
                "function": {"arguments": "", "name": fn["name"]},
                "id": call["id"],
                "index": position,
                "type": "function",
            }
            events.append(chunk(index, {"tool_calls": [opening]}, {}, None))
            arguments = {"function": {"arguments": fn["arguments"]}, "index": position}
            events.append(chunk(index, {"tool_calls": [arguments]}, {}, None))
        finish = choice.finish_reason or ("tool_calls" if choice.tool_calls else "stop")
        events.append(chunk(index, {}, {}, finish))
        if sent > checked:
            events.append(annotation(index, checked, sent))
        return events

    events = [dumps(prompt_filter_chunk(prompt_filter_results()))]
    per_choice = [events_of(index, choice) for index, choice in enumerate(choices)]
    for step in range(max(len(e) for e in per_choice)):
        events.extend(e[step] for e in per_choice if step < len(e))
    if include_usage:
        events.append(
            dumps(
                {
                    "choices": [],
                    "created": created,
                    "id": completion_id,
                    "model": model,
                    "object": "chat.completion.chunk",
                    "system_fingerprint": SYSTEM_FINGERPRINT,
                    "usage": usage(
                        prompt_tokens,
                        completion_tokens,
                        reasoning_tokens=reasoning_tokens,
                        cached_tokens=cached_tokens,
                    ),
                }
            )
        )
    return events


def embeddings_body(
    model: str, vectors: Sequence[Sequence[float]], prompt_tokens: int
) -> dict[str, Any]:
    """An embeddings response with float vectors (see :func:`encode_embeddings`)."""
    return {
        "data": [
            {"embedding": list(vector), "index": i, "object": "embedding"}
            for i, vector in enumerate(vectors)
        ],
        "model": model,
        "object": "list",
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def encode_embeddings(body: dict[str, Any], encoding_format: str | None) -> dict[str, Any]:
    """Return ``body`` with vectors as base64 little-endian float32 when asked (as Azure does)."""
    if encoding_format != "base64":
        return body
    data = []
    for item in body.get("data", []):
        vector = item.get("embedding")
        if isinstance(vector, list):
            packed = struct.pack(f"<{len(vector)}f", *vector)
            item = {**item, "embedding": base64.b64encode(packed).decode("ascii")}
        data.append(item)
    return {**body, "data": data}


def decode_embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """Return ``body`` with base64 vectors turned back into float lists (for storage)."""
    data = []
    for item in body.get("data", []):
        vector = item.get("embedding")
        if isinstance(vector, str):
            raw = base64.b64decode(vector)
            floats = struct.unpack(f"<{len(raw) // 4}f", raw)
            item = {**item, "embedding": [float(f"{v:.8g}") for v in floats]}
        data.append(item)
    return {**body, "data": data}


class IdSource:
    """Deterministic request and completion ids: the same sequence on every run."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def item_id(self, prefix: str) -> str:
        """A Responses API id: ``resp_``, ``msg_``, ``rs_``, ``fc_`` and 48 hex digits."""
        return f"{prefix}_{self._random.getrandbits(192):048x}"

    def call_id(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "call_" + "".join(self._random.choice(alphabet) for _ in range(24))

    def completion_id(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "chatcmpl-" + "".join(self._random.choice(alphabet) for _ in range(29))


def response_headers(
    ids: IdSource,
    *,
    region: str,
    deployment: str | None,
    client_request_id: str | None,
    rate_limits: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers Azure adds to every inference response."""
    request_id = ids.uuid()
    headers = {
        "apim-request-id": request_id,
        "x-request-id": ids.uuid(),
        "x-ms-region": region,
        "x-content-type-options": "nosniff",
        "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
    }
    if deployment:
        headers["x-ms-deployment-name"] = deployment
        headers["azureml-model-session"] = f"{deployment}-20241124"
    if client_request_id:
        headers["x-ms-client-request-id"] = client_request_id
    headers.update(rate_limits or {})
    return headers
