"""The Responses API: Azure's 400s for a ``POST /responses`` body, before a model sees it.

Unknown parameters, the types of ``input`` items and of every top-level parameter,
``max_output_tokens``, function tools without a name, and ``text.format`` (a
``json_schema`` needs a name, and a strict one a strict-compatible schema, checked as chat's
``response_format`` is: :func:`helpers.replay.validation.check_strict_schema`). What depends
on the server's state (``previous_response_id``, the vector stores of a ``file_search`` tool)
and on the deployment's model family (:mod:`helpers.replay.families`) is checked by the
operation itself (:mod:`.operations`).
"""

from __future__ import annotations

from typing import Any

from ...errors import AzureError, invalid_request
from ...validation import body_object, check_strict_schema, missing_parameter, type_error

PARAMETERS = frozenset(
    {
        "model", "input", "instructions", "previous_response_id", "store", "stream",
        "stream_options", "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning",
        "max_output_tokens", "max_tool_calls", "temperature", "top_p", "metadata", "truncation",
        "user", "include", "prompt_cache_key", "prompt_cache_retention", "safety_identifier",
        "service_tier", "background", "top_logprobs", "conversation", "prompt",
    }
)  # fmt: skip

INPUT_ROLES = ("user", "assistant", "system", "developer")
TEXT_PART_TYPES = ("input_text", "output_text", "refusal", "summary_text", "reasoning_text")

_TYPES: tuple[tuple[str, tuple[type, ...], str], ...] = (
    ("instructions", (str,), "a string"),
    ("previous_response_id", (str,), "a string"),
    ("store", (bool,), "a boolean"),
    ("stream", (bool,), "a boolean"),
    ("parallel_tool_calls", (bool,), "a boolean"),
    ("tools", (list,), "an array"),
    ("text", (dict,), "an object"),
    ("reasoning", (dict,), "an object"),
    ("metadata", (dict,), "an object"),
    ("tool_choice", (str, dict), "a string or an object"),
)


def _unknown(name: str) -> AzureError:
    return invalid_request(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def check_input_item(item: Any, where: str) -> None:
    """Types of one input item, so nothing downstream reads a malformed one."""
    if not isinstance(item, dict):
        raise type_error(where, "an object")
    kind = item.get("type", "message")
    if not isinstance(kind, str):
        raise type_error(f"{where}.type", "a string")
    if kind == "message":
        role = item.get("role")
        if role not in INPUT_ROLES:
            raise invalid_request(
                f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', 'system', "
                "and 'developer'.",
                param=f"{where}.role",
                code="invalid_value",
            )
        content = item.get("content")
        if not isinstance(content, (str, list)):
            raise type_error(f"{where}.content", "a string or an array of content parts")
        for j, part in enumerate(content if isinstance(content, list) else []):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise type_error(f"{where}.content[{j}]", "an object with a 'type'")
            if part["type"] in TEXT_PART_TYPES and not isinstance(part.get("text"), str):
                raise type_error(f"{where}.content[{j}].text", "a string")
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise type_error(f"{where}.call_id", "a string")
        if not isinstance(item.get("output"), (str, list)):
            raise type_error(f"{where}.output", "a string")
    elif kind == "function_call":
        for name in ("call_id", "name", "arguments"):
            if not isinstance(item.get(name), str):
                raise type_error(f"{where}.{name}", "a string")
    elif kind == "mcp_approval_response":
        if not isinstance(item.get("approval_request_id"), str):
            raise type_error(f"{where}.approval_request_id", "a string")
        if not isinstance(item.get("approve"), bool):
            raise type_error(f"{where}.approve", "a boolean")


def check_mcp_tool(tool: dict[str, Any], where: str) -> None:
    """An ``mcp`` tool (openai's ``tool_param.Mcp``): a label, and where its server is."""
    if not isinstance(tool.get("server_label"), str) or not tool["server_label"]:
        raise missing_parameter(f"{where}.server_label")
    if not any(tool.get(key) for key in ("server_url", "connector_id", "tunnel_id")):
        raise missing_parameter(f"{where}.server_url")
    headers = tool.get("headers")
    if headers is not None and (
        not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values())
    ):
        raise type_error(f"{where}.headers", "an object of strings")
    approval = tool.get("require_approval")
    if (
        approval is not None
        and approval not in ("always", "never")
        and not isinstance(approval, dict)
    ):
        raise invalid_request(
            f"Invalid value: '{approval}'. Supported values are: 'always' and 'never', or a "
            "filter object.",
            param=f"{where}.require_approval",
        )
    allowed = tool.get("allowed_tools")
    if allowed is not None and not isinstance(allowed, (list, dict)):
        raise type_error(f"{where}.allowed_tools", "an array of tool names or a filter object")


def check_body(body: Any) -> dict[str, Any]:
    """The body of a create, or Azure's 400 for the first thing wrong with it."""
    body = body_object(body)
    for name in sorted(body):
        if name not in PARAMETERS:
            raise _unknown(name)
    value = body.get("input")
    if value is not None and not isinstance(value, (str, list)):
        raise type_error("input", "a string or an array of input items")
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_input_item(item, f"input[{i}]")
    for name, kinds, expected in _TYPES:
        if body.get(name) is not None and not isinstance(body[name], kinds):
            raise type_error(name, expected)
    limit = body.get("max_output_tokens")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 16 <= limit <= 2**31
    ):
        raise invalid_request(
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value "
            f">= 16, but got {limit} instead.",
            param="max_output_tokens",
            code="integer_below_min_value",
        )
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise type_error(f"tools[{i}]", "an object with a 'type'")
        if tool["type"] == "function" and not tool.get("name"):
            raise missing_parameter(f"tools[{i}].name")
        if tool["type"] == "mcp":
            check_mcp_tool(tool, f"tools[{i}]")
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None and not isinstance(effort, str):
        raise type_error("reasoning.effort", "a string")
    fmt = (body.get("text") or {}).get("format")
    if fmt is not None and not isinstance(fmt, dict):
        raise type_error("text.format", "an object")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        if not fmt.get("name"):
            raise missing_parameter("text.format.name")
        if fmt.get("strict") and isinstance(fmt.get("schema"), dict):
            check_strict_schema(
                fmt["schema"],
                f"Invalid schema for response_format '{fmt['name']}'",
                "text.format.schema",
                "invalid_json_schema",
            )
    return body
