"""Chat completions and embeddings: the 400s Azure sends before a model sees the request.

The checks are the ones code in the wild trips over (and the guide's examples
do): wrong types and ranges, unknown arguments, a ``json_object`` response
format carrying a schema, ``json_object`` without the word JSON in the
messages, strict schemas that are not strict-compatible, and tool messages
that answer no tool call.

Types come first: the body's shape (messages, content parts, tool calls, tools,
response format) is checked with strict pydantic models before any other check reads
it, and every number must be finite and within Azure's range
(:mod:`helpers.replay.limits`), so what follows only ever sees well-typed values. The
pieces every service shares (error wording, shapes, names, metadata, strict schemas) are
in :mod:`helpers.replay.validation`; the model family's own 400s (reasoning models) in
:mod:`helpers.replay.families`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, StrictStr

from ... import limits
from ...errors import AzureError, invalid_request
from ...validation import (
    Shape,
    check_array_length,
    check_known_keys,
    check_metadata,
    check_name,
    check_number,
    check_shape,
    check_strict_schema,
    check_type,
    is_type,
    missing_parameter,
    type_error,
)

# --- chat completions: the body's shape ---------------------------------------------------------


class _FunctionCall(Shape):
    name: StrictStr
    arguments: StrictStr


class _ToolCall(Shape):
    id: StrictStr
    type: StrictStr
    function: _FunctionCall


class _ImageUrl(Shape):
    url: StrictStr
    detail: StrictStr | None = None


class _ContentPart(Shape):
    type: StrictStr
    text: StrictStr | None = None
    image_url: _ImageUrl | None = None
    refusal: StrictStr | None = None


class _Message(Shape):
    role: StrictStr
    content: StrictStr | list[_ContentPart] | None = None
    name: StrictStr | None = None
    tool_call_id: StrictStr | None = None
    tool_calls: list[_ToolCall] | None = None
    function_call: _FunctionCall | None = None
    refusal: StrictStr | None = None


class _FunctionDefinition(Shape):
    name: StrictStr
    description: StrictStr | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class _Tool(Shape):
    type: StrictStr
    function: _FunctionDefinition | None = None


class _NamedFunction(Shape):
    name: StrictStr


class _ToolChoice(Shape):
    type: StrictStr
    function: _NamedFunction


class _JsonSchema(Shape):
    name: StrictStr | None = None
    description: StrictStr | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: StrictBool | None = None


class _ResponseFormat(Shape):
    type: StrictStr
    json_schema: _JsonSchema | None = None


class _StreamOptions(Shape):
    include_usage: StrictBool | None = None


class _ChatBody(Shape):
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


CHAT_PARAMETERS = frozenset(
    {
        "messages", "model", "temperature", "top_p", "n", "stream", "stream_options", "stop",
        "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty",
        "logit_bias", "logprobs", "top_logprobs", "user", "tools", "tool_choice",
        "parallel_tool_calls", "response_format", "seed", "functions", "function_call",
        "data_sources", "store", "metadata", "reasoning_effort", "prediction", "modalities",
        "audio", "user_security_context", "verbosity", "prompt_cache_key",
        "prompt_cache_retention",
    }
)  # fmt: skip

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def validate_chat(body: Any) -> None:
    """Raise :class:`~helpers.replay.errors.AzureError` (400) for a chat completions body
    Azure would reject."""
    body = check_known_keys(body, CHAT_PARAMETERS)
    if "messages" not in body:
        raise missing_parameter("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise type_error("messages", list, messages)
    if not messages:
        raise invalid_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    check_number(body, "temperature", float, 0, 2)
    check_number(body, "top_p", float, 0, 1)
    check_number(body, "presence_penalty", float, -2, 2)
    check_number(body, "frequency_penalty", float, -2, 2)
    check_number(body, "n", int, 1, 128)
    check_number(body, "max_tokens", int, 1, limits.INT32_MAX)
    check_number(body, "max_completion_tokens", int, 1, limits.INT32_MAX)
    check_number(body, "top_logprobs", int, 0, 20)
    check_number(body, "seed", int, limits.INT64_MIN, limits.INT64_MAX)
    for name in ("stream", "logprobs", "parallel_tool_calls", "store"):
        check_type(body, name, bool)
    check_type(body, "stop", str, list)
    check_type(body, "user", str)
    check_type(body, "stream_options", dict)
    check_shape(_ChatBody, body)
    check_array_length(body.get("stop"), "stop", limits.MAX_STOP_SEQUENCES)
    if isinstance(body.get("metadata"), dict):
        check_metadata(body["metadata"])
    _check_messages(messages)
    if body.get("stream_options") and not body.get("stream"):
        raise invalid_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code=None,
        )
    _check_tools(body)
    _check_response_format(body, messages)


def _check_content_parts(name: str, content: Any) -> None:
    """Each part carries the field its type names (``text`` for text, ...)."""
    if not isinstance(content, list):
        return
    for j, part in enumerate(content):
        field = part.get("type")
        if field in ("text", "image_url", "refusal", "input_audio", "file") and (
            part.get(field) is None
        ):
            raise missing_parameter(f"{name}.content[{j}].{field}")


def _unanswered_tool_calls(pending: list[str]) -> AzureError:
    return invalid_request(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        f"{', '.join(pending)}",
        param="messages",
        code=None,
    )


def _check_messages(messages: list[Any]) -> None:
    pending: list[str] = []
    for i, message in enumerate(messages):
        name = f"messages[{i}]"
        if not isinstance(message, dict):
            raise type_error(name, dict, message)
        if "role" not in message:
            raise missing_parameter(f"{name}.role")
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
            raise _unanswered_tool_calls(pending)
        content = message.get("content")
        if role != "assistant" and content is None:
            raise missing_parameter(f"{name}.content")
        if content is not None and not isinstance(content, (str, list)):
            raise type_error(f"{name}.content", str, content)
        _check_content_parts(name, content)
        if role == "assistant" and isinstance(message.get("tool_calls"), list):
            # The shape check made every call an object with a string id.
            pending = [c["id"] for c in message["tool_calls"]]
    if pending:
        raise _unanswered_tool_calls(pending)


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
        raise type_error("tools", list, tools)
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise invalid_request(
                f"Invalid value for 'tools[{i}].type': expected 'function'.",
                param=f"tools[{i}].type",
                code="invalid_value",
            )
        function = tool.get("function")
        if not isinstance(function, dict) or not function.get("name"):
            raise missing_parameter(f"tools[{i}].function.name")
        check_name(function["name"], f"tools[{i}].function.name")
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
        raise type_error("response_format", dict, fmt)
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
            raise missing_parameter("response_format.json_schema")
        if not spec.get("name"):
            raise missing_parameter("response_format.json_schema.name")
        check_name(spec["name"], "response_format.json_schema.name")
        schema = spec.get("schema")
        if spec.get("strict") and isinstance(schema, dict):
            check_strict_schema(
                schema,
                f"Invalid schema for response_format '{spec['name']}'",
                "response_format",
                "invalid_json_schema",
            )


# --- embeddings -------------------------------------------------------------------------------

EMBEDDING_PARAMETERS = frozenset({"input", "model", "encoding_format", "dimensions", "user"})
MAX_EMBEDDING_DIMENSIONS = 3072
"""The largest embedding Azure serves (text-embedding-3-large; Microsoft Learn, "Azure OpenAI
models", embeddings), the bound when a deployment does not say its own size."""


def _is_token(value: Any) -> bool:
    return is_type(value, int) and 0 <= value <= limits.INT32_MAX


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
    """Raise :class:`~helpers.replay.errors.AzureError` (400) for an embeddings body Azure
    would reject."""
    body = check_known_keys(body, EMBEDDING_PARAMETERS)
    if "input" not in body:
        raise missing_parameter("input")
    value = body["input"]
    if not isinstance(value, (str, list)):
        raise type_error("input", str, value)
    if not _embedding_input_is_valid(value):
        raise invalid_request(
            "'$.input' is invalid. Please check the API reference: "
            "https://platform.openai.com/docs/api-reference.",
            param="input",
            code="invalid_value",
        )
    check_type(body, "user", str)
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
        check_number(body, "dimensions", int, 1, max_dimensions or MAX_EMBEDDING_DIMENSIONS)
