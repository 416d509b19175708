"""Request validation: the 400s Azure sends before a model sees the request.

The checks are the ones code in the wild trips over (and the guide's examples
do): wrong types and ranges, unknown arguments, a ``json_object`` response
format carrying a schema, ``json_object`` without the word JSON in the
messages, strict schemas that are not strict-compatible, and tool messages
that answer no tool call. Messages follow Azure's wording and name the
parameter in ``param``, so ``openai.BadRequestError.param`` is useful.
"""

from __future__ import annotations

from typing import Any

from ..schemas import strict_violations
from .errors import AzureError, invalid_request

_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a decimal",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _got(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _is(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _type_error(name: str, expected: type, value: Any) -> AzureError:
    return invalid_request(
        f"Invalid type for '{name}': expected {_TYPE_NAMES[expected]}, "
        f"but got {_got(value)} instead.",
        param=name,
        code="invalid_type",
    )


def _check_number(
    body: dict[str, Any], name: str, kind: type, low: float, high: float | None
) -> None:
    if name not in body or body[name] is None:
        return
    value = body[name]
    if not _is(value, kind):
        raise _type_error(name, kind, value)
    word = "decimal" if kind is float else "integer"
    if value < low:
        raise invalid_request(
            f"Invalid '{name}': {word} below minimum value. Expected a value >= {low:g}, "
            f"but got {value} instead.",
            param=name,
            code=f"{word}_below_min_value",
        )
    if high is not None and value > high:
        raise invalid_request(
            f"Invalid '{name}': {word} above maximum value. Expected a value <= {high:g}, "
            f"but got {value} instead.",
            param=name,
            code=f"{word}_above_max_value",
        )


def _check_type(body: dict[str, Any], name: str, *kinds: type) -> None:
    if name in body and body[name] is not None and not any(_is(body[name], k) for k in kinds):
        raise _type_error(name, kinds[0], body[name])


def _missing(name: str) -> AzureError:
    return invalid_request(
        f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
    )


def _check_object_with_known_keys(body: Any, known: frozenset[str]) -> None:
    if not isinstance(body, dict):
        raise invalid_request(
            "The request body must be a JSON object.", param=None, code="invalid_request_body"
        )
    unknown = sorted(set(body) - known)
    if unknown:
        raise invalid_request(
            f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0], code=None
        )


CHAT_PARAMETERS = frozenset(
    {
        "messages", "model", "temperature", "top_p", "n", "stream", "stream_options", "stop",
        "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty",
        "logit_bias", "logprobs", "top_logprobs", "user", "tools", "tool_choice",
        "parallel_tool_calls", "response_format", "seed", "functions", "function_call",
        "data_sources", "store", "metadata", "reasoning_effort", "prediction", "modalities",
        "audio", "user_security_context", "verbosity",
    }
)  # fmt: skip

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def validate_chat(body: Any) -> None:
    """Raise :class:`AzureError` (400) for a chat completions body Azure would reject."""
    _check_object_with_known_keys(body, CHAT_PARAMETERS)
    if "messages" not in body:
        raise _missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _type_error("messages", list, messages)
    if not messages:
        raise invalid_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    _check_messages(messages)
    _check_number(body, "temperature", float, 0, 2)
    _check_number(body, "top_p", float, 0, 1)
    _check_number(body, "presence_penalty", float, -2, 2)
    _check_number(body, "frequency_penalty", float, -2, 2)
    _check_number(body, "n", int, 1, 128)
    _check_number(body, "max_tokens", int, 1, None)
    _check_number(body, "max_completion_tokens", int, 1, None)
    _check_number(body, "top_logprobs", int, 0, 20)
    _check_number(body, "seed", int, -(2**63), 2**63 - 1)
    for name in ("stream", "logprobs", "parallel_tool_calls", "store"):
        _check_type(body, name, bool)
    _check_type(body, "stop", str, list)
    _check_type(body, "user", str)
    _check_type(body, "stream_options", dict)
    if body.get("stream_options") and not body.get("stream"):
        raise invalid_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code=None,
        )
    _check_tools(body)
    _check_response_format(body, messages)


def _check_messages(messages: list[Any]) -> None:
    pending: list[str] = []
    for i, message in enumerate(messages):
        name = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _type_error(name, dict, message)
        if "role" not in message:
            raise _missing(f"{name}.role")
        role = message["role"]
        if role not in ROLES:
            raise invalid_request(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                "'function', 'tool', and 'developer'.",
                param=f"{name}.role",
                code="invalid_value",
            )
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                raise invalid_request(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    param=f"{name}.role",
                    code=None,
                )
            pending.remove(call_id)
            continue
        if pending:
            raise invalid_request(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(pending)}",
                param="messages",
                code=None,
            )
        content = message.get("content")
        if role != "assistant" and content is None:
            raise _missing(f"{name}.content")
        if content is not None and not isinstance(content, (str, list)):
            raise _type_error(f"{name}.content", str, content)
        if role == "assistant" and isinstance(message.get("tool_calls"), list):
            pending = [c.get("id") for c in message["tool_calls"] if isinstance(c, dict)]
    if pending:
        raise invalid_request(
            "An assistant message with 'tool_calls' must be followed by tool messages responding "
            "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
            f"{', '.join(pending)}",
            param="messages",
            code=None,
        )


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        if body.get("tool_choice") not in (None, "none"):
            raise invalid_request(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                param="tool_choice",
                code=None,
            )
        return
    if not isinstance(tools, list):
        raise _type_error("tools", list, tools)
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise invalid_request(
                f"Invalid value for 'tools[{i}].type': expected 'function'.",
                param=f"tools[{i}].type",
                code="invalid_value",
            )
        function = tool.get("function")
        if not isinstance(function, dict) or not function.get("name"):
            raise _missing(f"tools[{i}].function.name")
        if function.get("strict") and isinstance(function.get("parameters"), dict):
            check_strict_schema(
                function["parameters"],
                f"Invalid schema for function '{function['name']}'",
                f"tools[{i}].function.parameters",
                "invalid_function_parameters",
            )
    choice = body.get("tool_choice")
    if isinstance(choice, str) and choice not in ("none", "auto", "required"):
        raise invalid_request(
            f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
            param="tool_choice",
            code="invalid_value",
        )


def _check_response_format(body: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    fmt = body.get("response_format")
    if fmt is None:
        return
    if not isinstance(fmt, dict):
        raise _type_error("response_format", dict, fmt)
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise invalid_request(
            f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and "
            "'json_schema'.",
            param="response_format.type",
            code="invalid_value",
        )
    extra = sorted(
        set(fmt) - {"type", "json_schema"} if kind == "json_schema" else set(fmt) - {"type"}
    )
    if extra:
        raise invalid_request(
            f"Unrecognized request argument supplied: response_format.{extra[0]} "
            f"(not allowed when 'response_format.type' is '{kind}')",
            param=f"response_format.{extra[0]}",
            code="unknown_parameter",
        )
    if kind == "json_object":
        text = " ".join(
            m["content"] if isinstance(m.get("content"), str) else str(m.get("content"))
            for m in messages
        )
        if "json" not in text.lower():
            raise invalid_request(
                "'messages' must contain the word 'json' in some form, to use 'response_format' "
                "of type 'json_object'.",
                param="messages",
                code=None,
            )
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict):
            raise _missing("response_format.json_schema")
        if not spec.get("name"):
            raise _missing("response_format.json_schema.name")
        schema = spec.get("schema")
        if spec.get("strict") and isinstance(schema, dict):
            check_strict_schema(
                schema,
                f"Invalid schema for response_format '{spec['name']}'",
                "response_format",
                "invalid_json_schema",
            )


def check_strict_schema(schema: dict[str, Any], prefix: str, param: str, code: str) -> None:
    """Strict mode: Azure names the first rule the schema breaks (see :mod:`helpers.schemas`)."""
    violation = next(strict_violations(schema), None)
    if violation is None:
        return
    if violation.rule == "default":
        detail = "'default' is not permitted."
    elif violation.rule == "additionalProperties":
        detail = "'additionalProperties' is required to be supplied and to be false."
    else:
        detail = (
            "'required' is required to be supplied and to be an array including every key in "
            f"properties. Missing '{violation.missing[0]}'."
        )
    raise invalid_request(
        f"{prefix}: In context={violation.path}, {detail}", param=param, code=code
    )


EMBEDDING_PARAMETERS = frozenset({"input", "model", "encoding_format", "dimensions", "user"})


def validate_embeddings(body: Any, *, model: str, max_dimensions: int | None) -> None:
    """Raise :class:`AzureError` (400) for an embeddings body Azure would reject."""
    _check_object_with_known_keys(body, EMBEDDING_PARAMETERS)
    if "input" not in body:
        raise _missing("input")
    value = body["input"]
    if not isinstance(value, (str, list)):
        raise _type_error("input", str, value)
    if value == "" or value == []:
        raise invalid_request(
            "'$.input' is invalid. Please check the API reference: "
            "https://platform.openai.com/docs/api-reference.",
            param="input",
            code="invalid_value",
        )
    fmt = body.get("encoding_format")
    if fmt is not None and fmt not in ("float", "base64"):
        raise invalid_request(
            f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.",
            param="encoding_format",
            code="invalid_value",
        )
    if body.get("dimensions") is not None:
        if model == "text-embedding-ada-002":
            raise invalid_request(
                "This model does not support specifying dimensions.", param="dimensions", code=None
            )
        _check_number(body, "dimensions", int, 1, max_dimensions)
