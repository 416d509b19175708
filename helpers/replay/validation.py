"""Request validation: the 400s Azure sends before a model sees the request.

The checks are the ones code in the wild trips over (and the guide's examples
do): wrong types and ranges, unknown arguments, a ``json_object`` response
format carrying a schema, ``json_object`` without the word JSON in the
messages, strict schemas that are not strict-compatible, and tool messages
that answer no tool call. Messages follow Azure's wording and name the
parameter in ``param``, so ``openai.BadRequestError.param`` is useful.

Types come first: the body's shape (messages, content parts, tool calls, tools,
response format, embeddings inputs) is checked with strict pydantic models before
any other check reads it, and every number must be finite and within Azure's range
(:mod:`helpers.replay.limits`), so what follows only ever sees well-typed values.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from .._support.schemas import strict_violations
from . import limits
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
    if isinstance(value, float) and not math.isfinite(value):  # 1e309 parses as inf
        value = "a number too large to represent" if value == value else "NaN"
        raise invalid_request(
            f"Invalid '{name}': {word} out of range. Expected a finite value, but got {value} "
            "instead.",
            param=name,
            code="invalid_value",
        )
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


# --- shapes: the types every later check relies on ------------------------------------------


class _Shape(BaseModel):
    """Strict types (no coercion); unknown fields are the parameter checks' business."""

    model_config = ConfigDict(strict=True, extra="allow")


class _FunctionCall(_Shape):
    name: StrictStr
    arguments: StrictStr


class _ToolCall(_Shape):
    id: StrictStr
    type: StrictStr
    function: _FunctionCall


class _ImageUrl(_Shape):
    url: StrictStr
    detail: StrictStr | None = None


class _ContentPart(_Shape):
    type: StrictStr
    text: StrictStr | None = None
    image_url: _ImageUrl | None = None
    refusal: StrictStr | None = None


class _Message(_Shape):
    role: StrictStr
    content: StrictStr | list[_ContentPart] | None = None
    name: StrictStr | None = None
    tool_call_id: StrictStr | None = None
    tool_calls: list[_ToolCall] | None = None
    function_call: _FunctionCall | None = None
    refusal: StrictStr | None = None


class _FunctionDefinition(_Shape):
    name: StrictStr
    description: StrictStr | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class _Tool(_Shape):
    type: StrictStr
    function: _FunctionDefinition | None = None


class _NamedFunction(_Shape):
    name: StrictStr


class _ToolChoice(_Shape):
    type: StrictStr
    function: _NamedFunction


class _JsonSchema(_Shape):
    name: StrictStr | None = None
    description: StrictStr | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: StrictBool | None = None


class _ResponseFormat(_Shape):
    type: StrictStr
    json_schema: _JsonSchema | None = None


class _StreamOptions(_Shape):
    include_usage: StrictBool | None = None


class _ChatBody(_Shape):
    messages: list[_Message]
    model: StrictStr | None = None
    stream: StrictBool | None = None
    stream_options: _StreamOptions | None = None
    stop: StrictStr | list[StrictStr] | None = None
    user: StrictStr | None = None
    tools: list[_Tool] | None = None
    tool_choice: StrictStr | _ToolChoice | None = None
    functions: list[_FunctionDefinition] | None = None
    function_call: StrictStr | _NamedFunction | None = None
    response_format: _ResponseFormat | None = None
    metadata: dict[str, StrictStr] | None = None
    logit_bias: dict[str, int | float] | None = None
    logprobs: StrictBool | None = None
    parallel_tool_calls: StrictBool | None = None
    store: StrictBool | None = None
    reasoning_effort: StrictStr | None = None
    modalities: list[StrictStr] | None = None


_EXPECTED = {
    "string_type": str,
    "bool_type": bool,
    "int_type": int,
    "float_type": float,
    "list_type": list,
    "dict_type": dict,
    "model_type": dict,
    "model_attributes_type": dict,
}
_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "none", "dict", "list"})


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and (
        "[" in part or part in _TYPE_TAGS or (part[:1] == "_" and part[1:2].isupper())
    )


def _param(loc: tuple[Any, ...]) -> str:
    """``("messages", 0, "content")`` as Azure names it: ``messages[0].content``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _check_shape(model: type[BaseModel], body: dict[str, Any]) -> None:
    """Azure's 400 for the first wrongly typed or missing field, named as Azure names it."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=True)
        located = [(tuple(p for p in e["loc"] if not _is_union_tag(p)), e) for e in errors]
        deepest = max(len(loc) for loc, _ in located)
        loc, error = next((loc, e) for loc, e in located if len(loc) == deepest)
        name = _param(loc)
        if error["type"] == "missing":
            raise _missing(name) from None
        expected = _EXPECTED.get(error["type"])
        if expected is not None:
            raise _type_error(name, expected, error.get("input")) from None
        raise invalid_request(
            f"Invalid value for '{name}'.", param=name, code="invalid_value"
        ) from None


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
    _check_number(body, "temperature", float, 0, 2)
    _check_number(body, "top_p", float, 0, 1)
    _check_number(body, "presence_penalty", float, -2, 2)
    _check_number(body, "frequency_penalty", float, -2, 2)
    _check_number(body, "n", int, 1, 128)
    _check_number(body, "max_tokens", int, 1, limits.INT32_MAX)
    _check_number(body, "max_completion_tokens", int, 1, limits.INT32_MAX)
    _check_number(body, "top_logprobs", int, 0, 20)
    _check_number(body, "seed", int, limits.INT64_MIN, limits.INT64_MAX)
    for name in ("stream", "logprobs", "parallel_tool_calls", "store"):
        _check_type(body, name, bool)
    _check_type(body, "stop", str, list)
    _check_type(body, "user", str)
    _check_type(body, "stream_options", dict)
    _check_shape(_ChatBody, body)
    _check_array_length(body, "stop", limits.MAX_STOP_SEQUENCES)
    _check_metadata(body)
    _check_messages(messages)
    if body.get("stream_options") and not body.get("stream"):
        raise invalid_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code=None,
        )
    _check_tools(body)
    _check_response_format(body, messages)


def _check_array_length(body: dict[str, Any], name: str, limit: int) -> None:
    value = body.get(name)
    if isinstance(value, list) and len(value) > limit:
        raise invalid_request(
            f"Invalid '{name}': array too long. Expected an array with maximum length {limit}, "
            f"but got an array with length {len(value)} instead.",
            param=name,
            code="array_above_max_length",
        )


def _check_content_parts(name: str, content: Any) -> None:
    """Each part carries the field its type names (``text`` for text, ...)."""
    if not isinstance(content, list):
        return
    for j, part in enumerate(content):
        field = part.get("type")
        if field in ("text", "image_url", "refusal", "input_audio", "file") and (
            part.get(field) is None
        ):
            raise _missing(f"{name}.content[{j}].{field}")


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
        _check_content_parts(name, content)
        if role == "assistant" and isinstance(message.get("tool_calls"), list):
            pending = [
                c["id"]
                for c in message["tool_calls"]
                if isinstance(c, dict) and isinstance(c.get("id"), str)
            ]
    if pending:
        raise invalid_request(
            "An assistant message with 'tool_calls' must be followed by tool messages responding "
            "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
            f"{', '.join(pending)}",
            param="messages",
            code=None,
        )


NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]+")
MAX_NAME_LENGTH = 64
"""Function and response-format names: "a-z, A-Z, 0-9, or ... underscores and dashes, with a
maximum length of 64" (REST spec, ``FunctionObject.name`` and ``ResponseFormatJsonSchema``)."""
MAX_METADATA_PAIRS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 16, 64, 512
"""``metadata``: "16 key-value pairs ... Keys ... 64 characters ... values ... 512" (REST spec)."""


def _check_length(value: str, param: str, limit: int) -> None:
    if len(value) > limit:
        raise invalid_request(
            f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
            f"but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )


def _check_name(name: str, param: str) -> None:
    _check_length(name, param, MAX_NAME_LENGTH)
    if not NAME_PATTERN.fullmatch(name):
        raise invalid_request(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches "
            "the pattern '^[a-zA-Z0-9_-]+$'.",
            param=param,
            code="invalid_value",
        )


def _check_metadata(body: dict[str, Any]) -> None:
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        return
    if len(metadata) > MAX_METADATA_PAIRS:
        raise invalid_request(
            f"Invalid 'metadata': too many properties. Expected an object with at most "
            f"{MAX_METADATA_PAIRS} properties, but got an object with {len(metadata)} "
            "properties instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        _check_length(key, "metadata", MAX_METADATA_KEY)
        _check_length(value, f"metadata.{key}", MAX_METADATA_VALUE)


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
        _check_name(function["name"], f"tools[{i}].function.name")
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
        _check_name(spec["name"], "response_format.json_schema.name")
        schema = spec.get("schema")
        if spec.get("strict") and isinstance(schema, dict):
            check_strict_schema(
                schema,
                f"Invalid schema for response_format '{spec['name']}'",
                "response_format",
                "invalid_json_schema",
            )


_SCHEMA_OBJECTS = ("properties", "$defs", "definitions", "items")
_SCHEMA_ARRAYS = ("anyOf", "allOf", "oneOf", "required", "enum")


def _malformed_schema(schema: dict[str, Any]) -> tuple[tuple[str, ...], str] | None:
    """Where a schema's keywords have the wrong JSON type (walked without recursion)."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(schema, ())]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, dict):
            return path, "a schema must be an object"
        for keyword in _SCHEMA_OBJECTS:
            if keyword in node and not isinstance(node[keyword], dict):
                if keyword == "items" and isinstance(node[keyword], (list, bool)):
                    continue  # tuple and boolean forms: strict mode's walker skips them
                return path, f"'{keyword}' must be an object"
        for keyword in _SCHEMA_ARRAYS:
            if keyword in node and not isinstance(node[keyword], list):
                return path, f"'{keyword}' must be an array"
        for keyword in ("properties", "$defs", "definitions"):
            for key, sub in node.get(keyword, {}).items():
                stack.append((sub, (*path, keyword, key)))
        if isinstance(node.get("items"), dict):
            stack.append((node["items"], (*path, "items")))
        for keyword in ("anyOf", "allOf", "oneOf"):
            for i, sub in enumerate(node.get(keyword, [])):
                stack.append((sub, (*path, keyword, str(i))))
    return None


def check_strict_schema(schema: dict[str, Any], prefix: str, param: str, code: str) -> None:
    """Strict mode: Azure names the first rule broken; rules: helpers._support.schemas."""
    malformed = _malformed_schema(schema)
    if malformed is not None:
        path, detail = malformed
        raise invalid_request(f"{prefix}: In context={path}, {detail}.", param=param, code=code)
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
MAX_EMBEDDING_DIMENSIONS = 3072
"""The largest embedding Azure serves (text-embedding-3-large; Microsoft Learn, "Azure OpenAI
models", embeddings), the bound when a deployment does not say its own size."""


def _is_token(value: Any) -> bool:
    return _is(value, int) and 0 <= value <= limits.INT32_MAX


def _embedding_input_is_valid(value: str | list[Any]) -> bool:
    """A non-empty string, or a non-empty array of non-empty strings, of token ids, or of
    non-empty token-id arrays (the REST spec's four forms of ``input``)."""
    if isinstance(value, str):
        return value != ""
    if not value:
        return False
    if all(isinstance(item, str) for item in value):
        return all(value)
    if all(_is_token(item) for item in value):
        return True
    return all(
        isinstance(item, list) and item and all(_is_token(token) for token in item)
        for item in value
    )


def validate_embeddings(body: Any, *, model: str, max_dimensions: int | None) -> None:
    """Raise :class:`AzureError` (400) for an embeddings body Azure would reject."""
    _check_object_with_known_keys(body, EMBEDDING_PARAMETERS)
    if "input" not in body:
        raise _missing("input")
    value = body["input"]
    if not isinstance(value, (str, list)):
        raise _type_error("input", str, value)
    if not _embedding_input_is_valid(value):
        raise invalid_request(
            "'$.input' is invalid. Please check the API reference: "
            "https://platform.openai.com/docs/api-reference.",
            param="input",
            code="invalid_value",
        )
    _check_type(body, "user", str)
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
        _check_number(body, "dimensions", int, 1, max_dimensions or MAX_EMBEDDING_DIMENSIONS)
