"""Simulated chat completions for lenient mode.

When a learner edits a prompt, no recording matches. Rather than stop the
workshop, lenient mode answers with a well-formed completion that says plainly
it was not recorded (and sets the ``x-replay-unrecorded`` header). If the
request asks for structured output, the answer is a minimal JSON value that
fits the schema, so code that parses it keeps going.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...tokenizer import count_chat_tokens, count_tokens
from .. import azure

UNRECORDED_TEXT = (
    "[unrecorded] The replay server has no recording of this request, so it answered with "
    "this placeholder (lenient mode). Restore the original prompt to see the recorded answer, "
    "or point .env at an Azure OpenAI resource to get a real one."
)


def example_from_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The simplest value that satisfies a JSON schema of the kind structured outputs allow."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return example_from_schema(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_from_schema(schema[key][0], defs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    match kind:
        case "object":
            props = schema.get("properties", {})
            return {name: example_from_schema(sub, defs) for name, sub in props.items()}
        case "array":
            return []
        case "string":
            return "unrecorded"
        case "integer" | "number":
            return schema.get("minimum", 0)
        case "boolean":
            return False
        case _:
            return None


def unrecorded_content(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return json.dumps(example_from_schema(schema))
    if fmt.get("type") == "json_object":
        return json.dumps({"unrecorded": True, "note": UNRECORDED_TEXT})
    return UNRECORDED_TEXT


def _pieces(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


def simulate(body: dict[str, Any], model: str, ids: azure.IdSource) -> dict[str, Any] | list[str]:
    """A non-streamed body, or the list of SSE payloads when ``stream`` is set."""
    content = unrecorded_content(body)
    prompt_tokens = count_chat_tokens(body.get("messages", []))
    completion_tokens = count_tokens(content)
    completion_id = ids.completion_id()
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return azure.chat_stream(
            completion_id=completion_id,
            model=model,
            pieces=_pieces(content),
            include_usage=include_usage,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
    return azure.chat_completion(
        completion_id=completion_id,
        model=model,
        content=content,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )
