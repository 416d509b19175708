"""OpenAI's published token-counting rules: messages, names, tools, images, Responses items.

Counting follows OpenAI's published rules (the OpenAI Cookbook, "How to count
tokens with tiktoken", and the vision guide for images): the encoding is the
model family's (``o200k_base`` for gpt-4o, gpt-4.1, gpt-5 and the o-series;
``cl100k_base`` for gpt-4, gpt-3.5 and text-embedding-3); every message costs
3 framing tokens plus its role, content and name (a name adds 1 more), and every
reply is primed with 3 tokens (``<|start|>assistant<|message|>``). Tool
definitions are counted with the cookbook's per-function and per-property
constants. Where OpenAI publishes no rule (tool calls in the history, nested
parameter schemas, Responses API items) the count is an estimate in the same
spirit, and the docstring says so; ``usage.prompt_tokens`` stays the truth.

Both the replay server (quota charges and usage) and section 4's lesson
(:mod:`helpers.token_management`, which re-exports these names) count with these rules.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

from . import tokenizer

__all__ = [
    "REPLY_PRIMING_TOKENS",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "TOOL_RULES",
    "ImageSize",
    "Message",
    "ToolRules",
    "as_dict",
    "count_messages",
    "count_prompt",
    "count_responses_input",
    "count_text",
    "count_tools",
    "data_url_size",
    "image_tokens",
    "message_tokens",
    "quota_charge",
]

TOKENS_PER_MESSAGE = 3
"""Framing around each chat message: ``<|start|>{role}<|message|>{content}<|end|>``."""
TOKENS_PER_NAME = 1
"""A message's ``name`` costs its own tokens plus this one."""
REPLY_PRIMING_TOKENS = 3
"""Every reply is primed with ``<|start|>assistant<|message|>``."""


@dataclass(frozen=True)
class ToolRules:
    """The cookbook's constants for counting function definitions, per encoding family."""

    function_start: int
    """Per function, before ``name:description``."""
    properties_start: int = 3
    """Once per function that has parameters."""
    property_key: int = 3
    """Per parameter, before ``name:type:description``."""
    enum_start: int = -3
    """Once per parameter with an ``enum``."""
    enum_item: int = 3
    """Per ``enum`` value, plus the value's own tokens."""
    tools_end: int = 12
    """Once per request that has tools."""


TOOL_RULES: dict[str, ToolRules] = {
    "o200k_base": ToolRules(function_start=7),
    "cl100k_base": ToolRules(function_start=10),
}


# Image input, from OpenAI's vision guide ("Calculating costs"): a low-detail image costs the
# base; a high-detail one is fitted into 2048x2048, its shortest side scaled to 768, and each
# 512-pixel tile costs `tile` on top of the base. Longest prefix wins.
_IMAGE_RULES: tuple[tuple[str, int, int], ...] = (
    ("gpt-4o-mini", 2833, 5667),
    ("gpt-4o", 85, 170),
    ("gpt-4.1", 85, 170),
    ("gpt-4.5", 85, 170),
    ("o1", 75, 150),
    ("o3", 75, 150),
)
_PATCH_MODELS = ("gpt-4.1-mini", "gpt-4.1-nano", "o4-mini", "gpt-5")

ImageSize = Callable[[str], "tuple[int, int] | None"]
"""Given an image URL, its ``(width, height)`` in pixels, or ``None`` if unknown."""

Message = Mapping[str, Any] | pydantic.BaseModel


def count_text(text: str, model: str = "gpt-4o") -> int:
    """Tokens in a plain string, with the model's encoding (special tokens as text)."""
    return tokenizer.count_tokens(text, model)


def as_dict(message: Message) -> Mapping[str, Any]:
    if isinstance(message, pydantic.BaseModel):
        return message.model_dump(exclude_none=True)
    if isinstance(message, Mapping):
        return message
    raise TypeError(f"A message must be a dict or a pydantic model, got {type(message).__name__}")


def _rule_for_image(model: str) -> tuple[int, int]:
    for prefix in _PATCH_MODELS:
        if model.startswith(prefix):
            raise ValueError(
                f"Images for {model!r} are counted in 32-pixel patches with a model-specific "
                "multiplier that this estimate does not implement; trust usage.prompt_tokens."
            )
    for prefix, base, tile in _IMAGE_RULES:
        if model.startswith(prefix):
            return base, tile
    raise ValueError(f"No published image-token rule for model {model!r}")


def image_tokens(width: int, height: int, detail: str = "high", model: str = "gpt-4o") -> int:
    """Prompt tokens of one image, by OpenAI's vision guide (``detail`` ``auto`` counts as high).

    >>> image_tokens(1024, 1024, "high", "gpt-4o")   # 768x768 -> 4 tiles -> 85 + 4*170
    765
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"An image needs a positive size, got {width}x{height}")
    if detail not in {"low", "high", "auto"}:
        raise ValueError(f"detail must be 'low', 'high' or 'auto', got {detail!r}")
    base, tile = _rule_for_image(model)
    if detail == "low":
        return base
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        scale = 2048 / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > 768:
        scale = 768 / min(w, h)
        w, h = w * scale, h * scale
    return base + tile * math.ceil(w / 512) * math.ceil(h / 512)


def data_url_size(url: str) -> tuple[int, int] | None:
    """The pixel size of a PNG or JPEG ``data:`` URL, read from its header; else ``None``."""
    if not url.startswith("data:image/") or ";base64," not in url:
        return None
    head = url.split(";base64,", 1)[1][:90_000]
    raw = base64.b64decode(head[: len(head) - len(head) % 4])
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) >= 24:
        width, height = struct.unpack(">II", raw[16:24])
        return int(width), int(height)
    if raw[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(raw):
            if raw[i] != 0xFF:
                return None
            marker = raw[i + 1]
            length = struct.unpack(">H", raw[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):  # start of frame: height, then width
                height, width = struct.unpack(">HH", raw[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return None


def _part_tokens(
    part: Mapping[str, Any], encoding: Any, model: str, image_size: ImageSize, strict: bool
) -> int:
    kind = part.get("type")
    if kind in {"text", "input_text", "output_text", "refusal"}:
        text = part.get("text", part.get("refusal", ""))
        return len(encoding.encode(str(text), disallowed_special=()))
    if kind in {"image_url", "input_image"}:
        if not strict:
            return 0
        image = part.get("image_url")
        url, detail = (
            (image.get("url", ""), image.get("detail", "auto"))
            if isinstance(image, Mapping)
            else (str(image or ""), part.get("detail", "auto"))
        )
        if detail == "low":
            return _rule_for_image(model)[0]
        size = image_size(url)
        if size is None:
            raise ValueError(
                "Cannot count a high-detail image of unknown size: pass image_size= (a function "
                "from URL to (width, height)), set detail='low', or use a PNG/JPEG data URL."
            )
        return image_tokens(size[0], size[1], detail, model)
    if strict:
        raise ValueError(
            f"Cannot estimate tokens for a content part of type {kind!r}; "
            "count_messages(..., strict=False) skips such parts."
        )
    return 0


def message_tokens(
    message: Mapping[str, Any], encoding: Any, model: str, image_size: ImageSize, strict: bool
) -> int:
    total = TOKENS_PER_MESSAGE
    for key, value in message.items():
        if value is None:
            continue
        if key in {"role", "refusal"}:
            total += len(encoding.encode(str(value), disallowed_special=()))
        elif key == "name":
            total += TOKENS_PER_NAME + len(encoding.encode(str(value), disallowed_special=()))
        elif key == "content":
            if isinstance(value, str):
                total += len(encoding.encode(value, disallowed_special=()))
            elif isinstance(value, list):
                for part in value:
                    if not isinstance(part, Mapping):
                        if not strict:
                            continue  # the lenient count never fails (the server's use)
                        raise ValueError(f"A content part must be an object, got {part!r}")
                    total += _part_tokens(part, encoding, model, image_size, strict)
            elif strict:
                raise ValueError(f"Message content must be a string or a list, got {value!r}")
        elif key in {"tool_calls", "function_call"}:
            # Not published: estimated as each call's function name and argument text.
            calls = value if isinstance(value, list) else [{"function": value}]
            for call in calls:
                if not strict and not isinstance(call, (Mapping, pydantic.BaseModel)):
                    continue
                fn = as_dict(call).get("function") or {}
                if not isinstance(fn, Mapping):
                    continue
                text = f"{fn.get('name', '')}{fn.get('arguments', '')}"
                total += len(encoding.encode(text, disallowed_special=()))
    return total


def count_messages(
    messages: Iterable[Message],
    model: str = "gpt-4o",
    *,
    image_size: ImageSize = data_url_size,
    strict: bool = True,
) -> int:
    """Prompt tokens of chat messages, by OpenAI's published rules (tools not included).

    Accepts the SDK's message dicts (``ChatCompletionMessageParam``) or pydantic messages
    such as ``completion.choices[0].message``. Images are counted by the vision guide's
    tile rule when their size is known (``detail='low'``, a PNG/JPEG data URL, or
    ``image_size``). With ``strict=False`` parts that cannot be estimated (images of
    unknown size, audio, files) count as zero instead of raising.
    """
    encoding = tokenizer.encoding_for_model(model)
    total = REPLY_PRIMING_TOKENS
    if not strict and not isinstance(messages, list):
        return total
    for message in messages:
        if not strict and not isinstance(message, (Mapping, pydantic.BaseModel)):
            total += TOKENS_PER_MESSAGE  # a malformed message still costs its framing
            continue
        total += message_tokens(as_dict(message), encoding, model, image_size, strict)
    return total


def _type_text(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type", "")
    return ",".join(kind) if isinstance(kind, list) else str(kind)


def count_tools(
    tools: Iterable[Mapping[str, Any]], model: str = "gpt-4o", *, strict: bool = True
) -> int:
    """Prompt tokens that function definitions add, by the OpenAI Cookbook's rules.

    Each function costs a start constant plus ``name:description``; each parameter a key
    constant plus ``name:type:description`` (a trailing period dropped), and each ``enum``
    value its tokens plus a constant. Takes the Chat Completions shape
    (``{"type": "function", "function": {...}}``) and the Responses shape (flat). Nested
    object and array parameters are not covered by the published rule; their inner schema
    is estimated as its compact JSON. Built-in tools (``file_search``…) add hidden prompt text
    that is not published: they raise, or count as zero with ``strict=False``.
    """
    if not strict:  # the server's lenient count: whatever is not a well-formed function is 0
        tools = [
            t for t in (tools if isinstance(tools, list) else [])
            if isinstance(t, Mapping) and t.get("type") == "function"
        ]  # fmt: skip
    if not tools:
        return 0
    encoding = tokenizer.encoding_for_model(model)
    rules = TOOL_RULES[encoding.name]

    def n(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    total = rules.tools_end
    for tool in tools:
        if tool.get("type") != "function":
            raise ValueError(
                f"Only function tools can be counted, got type {tool.get('type')!r} "
                "(built-in tools such as file_search add hidden prompt text: trust usage)."
            )
        fn = tool.get("function", tool)
        if not isinstance(fn, Mapping) or "name" not in fn:
            if not strict:
                continue
            raise ValueError(f"A function tool needs a name: {tool!r}")
        description = str(fn.get("description") or "").removesuffix(".")
        total += rules.function_start + n(f"{fn['name']}:{description}")
        parameters = fn.get("parameters") or {}
        properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
        if not isinstance(properties, Mapping):
            properties = {}
        if properties:
            total += rules.properties_start
        for name, schema in properties.items():
            total += rules.property_key
            if not isinstance(schema, Mapping):
                continue
            enum = schema.get("enum")
            if isinstance(enum, list):
                total += rules.enum_start
                for item in enum:
                    total += rules.enum_item + n(str(item))
            p_description = str(schema.get("description") or "").removesuffix(".")
            total += n(f"{name}:{_type_text(schema)}:{p_description}")
            nested = {k: schema[k] for k in ("properties", "items", "anyOf") if k in schema}
            if nested:
                total += n(json.dumps(nested, separators=(",", ":")))
    return total


def count_prompt(
    messages: Iterable[Message],
    model: str = "gpt-4o",
    *,
    tools: Iterable[Mapping[str, Any]] | None = None,
    image_size: ImageSize = data_url_size,
    strict: bool = True,
) -> int:
    """Messages plus tool definitions: the estimate to compare with ``usage.prompt_tokens``."""
    return count_messages(messages, model, image_size=image_size, strict=strict) + count_tools(
        tools or [], model, strict=strict
    )


def quota_charge(body: Mapping[str, Any], model: str = "gpt-4o", *, strict: bool = False) -> int:
    """Tokens a Chat Completions request is charged against a deployment's tokens-per-minute.

    Azure charges an estimate when the request arrives (the answer's real length is not known
    yet): "Prompt text and count, the max_tokens parameter setting, the best_of parameter
    setting", and "each increment of best_of multiplies the token count" (Microsoft Learn,
    "Manage Azure OpenAI in Microsoft Foundry Models quota"). Here: the prompt once, plus
    ``max_tokens`` / ``max_completion_tokens`` for each of the ``n`` (or ``best_of``)
    completions asked for, the formula of the OpenAI Cookbook's
    ``api_request_parallel_processor.py`` (``prompt + n * max_tokens``). A request without a
    limit is charged its prompt only here, which underestimates it.
    """
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    prompt = count_prompt(
        body.get("messages") or [], model, tools=body.get("tools") or [], strict=strict
    )
    return prompt + int(limit) * max(_choices(body.get("n")), _choices(body.get("best_of")))


def _choices(value: Any) -> int:
    """How many completions a request's ``n`` / ``best_of`` asks for (1 when absent or odd)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


def _responses_item_as_message(item: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = item.get("type", "message")
    if kind == "message":
        return {"role": item.get("role", "user"), "content": item.get("content", "")}
    if kind == "function_call":
        call = {"function": {"name": item.get("name", ""), "arguments": item.get("arguments", "")}}
        return {"role": "assistant", "tool_calls": [call]}
    if kind == "function_call_output":
        output = item.get("output", "")
        return {"role": "tool", "content": output if isinstance(output, str | list) else ""}
    raise ValueError(
        f"Cannot estimate tokens for a Responses input item of type {kind!r} "
        "(reasoning and built-in tool items carry hidden content): trust usage.input_tokens."
    )


def count_responses_input(
    input: str | Iterable[Mapping[str, Any]],
    model: str = "gpt-4o",
    *,
    instructions: str | None = None,
    tools: Iterable[Mapping[str, Any]] | None = None,
    image_size: ImageSize = data_url_size,
    strict: bool = True,
) -> int:
    """Estimated ``usage.input_tokens`` of a Responses API request.

    With ``strict=False`` (the replay server's quota count) items and parts it cannot
    estimate (reasoning items, images of unknown size, built-in tools) count as zero.

    OpenAI publishes no counting rule for the Responses API; this maps the request onto
    the chat format it is rendered into: ``instructions`` as a developer message, a string
    ``input`` as one user message, message items as messages, ``function_call`` items as
    assistant tool calls and ``function_call_output`` items as tool messages. OpenAI's own
    API can count exactly (``client.responses.input_tokens.count``); Azure may not offer it.
    """
    items: list[Mapping[str, Any]] = []
    if instructions:
        items.append({"role": "developer", "content": instructions})
    if isinstance(input, str):
        items.append({"role": "user", "content": input})
    else:
        for item in input if isinstance(input, list) or strict else []:
            if not strict and not isinstance(item, Mapping):
                continue
            try:
                items.append(_responses_item_as_message(as_dict(item)))
            except ValueError:
                if strict:
                    raise
    return count_prompt(items, model, tools=tools, image_size=image_size, strict=strict)
