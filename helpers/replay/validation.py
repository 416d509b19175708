"""Validation every service shares: Azure's 400s for wrong types, ranges, names and schemas.

Each service validates its own requests in its package (chat and embeddings in
:mod:`helpers.replay.services.inference.validation`, the Responses API in
:mod:`helpers.replay.services.responses.validation`, vector stores in
:mod:`helpers.replay.services.vector_stores.validation`, files and batches in their
operations); what they have in common is here, written once, so one kind of mistake gets one
wording whichever service sees it:

* the error bodies: a wrong type, a missing parameter, a body that is not an object,
  a number out of range, a string or an array too long;
* strict types for a body's shape (:func:`check_shape`, pydantic models without coercion),
  named as Azure names a field (``messages[0].content``);
* ``metadata`` limits and function/schema names (REST spec);
* strict structured-outputs schemas (:func:`check_strict_schema`, rules in
  :mod:`helpers._support.schemas`), for chat's ``response_format`` and tools and the
  Responses API's ``text.format``.

Messages follow Azure's wording and name the parameter in ``param``, so
``openai.BadRequestError.param`` is useful.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .._support.schemas import strict_violations
from .errors import AzureError, invalid_request

# --- the error bodies ------------------------------------------------------------------------

TYPE_NAMES: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a decimal",
    str: "a string",
    list: "an array",
    dict: "an object",
}

_NOT_SHOWN = object()


def got(value: Any) -> str:
    """How Azure names the JSON type of what it received."""
    if value is None:
        return "null"
    for kind in (bool, int, float, str, list):  # bool first: a bool is an int in Python
        if isinstance(value, kind):
            return TYPE_NAMES[kind]
    return "an object"


def is_type(value: Any, kind: type) -> bool:
    """JSON's view of a type: a boolean is no number, an integer is a decimal."""
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def type_error(name: str, expected: type | str, value: Any = _NOT_SHOWN) -> AzureError:
    """Azure's 400 ``invalid_type``: what was expected (a JSON type, or a description such as
    ``"an array of strings"``) and, when ``value`` is given, what came instead."""
    wanted = TYPE_NAMES[expected] if isinstance(expected, type) else expected
    instead = "" if value is _NOT_SHOWN else f", but got {got(value)} instead"
    return invalid_request(
        f"Invalid type for '{name}': expected {wanted}{instead}.", param=name, code="invalid_type"
    )


def missing_parameter(name: str) -> AzureError:
    return invalid_request(
        f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
    )


def not_an_object() -> AzureError:
    return invalid_request(
        "The request body must be a JSON object.", param=None, code="invalid_request_body"
    )


def body_object(body: Any) -> dict[str, Any]:
    """The body as an object, or Azure's 400 for a body that is not one."""
    if not isinstance(body, dict):
        raise not_an_object()
    return body


def check_known_keys(body: Any, known: frozenset[str]) -> dict[str, Any]:
    """The body as an object whose every key is a parameter of the operation."""
    body = body_object(body)
    unknown = sorted(set(body) - known)
    if unknown:
        raise invalid_request(
            f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0], code=None
        )
    return body


# --- numbers ---------------------------------------------------------------------------------


def check_range(name: str, value: float, low: float, high: float | None, word: str) -> None:
    """Azure's 400 for a number (``word``: ``integer`` or ``decimal``) outside ``[low, high]``."""
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


def check_number(
    body: dict[str, Any], name: str, kind: type, low: float, high: float | None
) -> None:
    """An optional number parameter: its type (``int`` or ``float``), finite, in range."""
    if name not in body or body[name] is None:
        return
    value = body[name]
    if not is_type(value, kind):
        raise type_error(name, kind, value)
    word = "decimal" if kind is float else "integer"
    if isinstance(value, float) and not math.isfinite(value):  # 1e309 parses as inf
        value = "a number too large to represent" if value == value else "NaN"
        raise invalid_request(
            f"Invalid '{name}': {word} out of range. Expected a finite value, but got {value} "
            "instead.",
            param=name,
            code="invalid_value",
        )
    check_range(name, value, low, high, word)


def check_integer(value: Any, name: str, low: int, high: int) -> int:
    """A required integer in ``[low, high]`` (a wrong type named without what came instead)."""
    if not is_type(value, int):
        raise type_error(name, "an integer")
    check_range(name, value, low, high, "integer")
    return int(value)


def check_type(body: dict[str, Any], name: str, *kinds: type) -> None:
    """An optional parameter of one of ``kinds`` (the first is the one the error names)."""
    if name in body and body[name] is not None and not any(is_type(body[name], k) for k in kinds):
        raise type_error(name, kinds[0], body[name])


# --- strings, arrays, names, metadata ----------------------------------------------------------


def check_length(value: str, param: str, limit: int) -> None:
    if len(value) > limit:
        raise invalid_request(
            f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
            f"but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )


def check_array_length(value: Any, name: str, limit: int) -> None:
    if isinstance(value, list) and len(value) > limit:
        raise invalid_request(
            f"Invalid '{name}': array too long. Expected an array with maximum length {limit}, "
            f"but got an array with length {len(value)} instead.",
            param=name,
            code="array_above_max_length",
        )


NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]+")
MAX_NAME_LENGTH = 64
"""Function and response-format names: "a-z, A-Z, 0-9, or ... underscores and dashes, with a
maximum length of 64" (REST spec, ``FunctionObject.name`` and ``ResponseFormatJsonSchema``)."""


def check_name(name: str, param: str) -> None:
    check_length(name, param, MAX_NAME_LENGTH)
    if not NAME_PATTERN.fullmatch(name):
        raise invalid_request(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches "
            "the pattern '^[a-zA-Z0-9_-]+$'.",
            param=param,
            code="invalid_value",
        )


MAX_METADATA_PAIRS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 16, 64, 512
"""``metadata``: "Set of 16 key-value pairs ... Keys are strings with a maximum length of 64
characters. Values are strings with a maximum length of 512 characters" (REST spec, chat
completions, vector stores and batches alike; a vector store file's ``attributes`` too)."""


def check_metadata(metadata: dict[str, Any], name: str = "metadata") -> None:
    """At most 16 pairs, keys of at most 64 characters, string values of at most 512."""
    if len(metadata) > MAX_METADATA_PAIRS:
        raise invalid_request(
            f"Invalid '{name}': too many properties. Expected an object with at most "
            f"{MAX_METADATA_PAIRS} properties, but got an object with {len(metadata)} "
            "properties instead.",
            param=name,
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        check_length(key, name, MAX_METADATA_KEY)
        if isinstance(value, str):
            check_length(value, f"{name}.{key}", MAX_METADATA_VALUE)


# --- shapes: strict types, named as Azure names a field ---------------------------------------


class Shape(BaseModel):
    """Strict types (no coercion); unknown fields are the parameter checks' business."""

    model_config = ConfigDict(strict=True, extra="allow")


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


def param_name(loc: tuple[Any, ...]) -> str:
    """``("messages", 0, "content")`` as Azure names it: ``messages[0].content``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def check_shape(model: type[BaseModel], body: dict[str, Any]) -> None:
    """Azure's 400 for the first wrongly typed or missing field, named as Azure names it."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=True)
        located = [(tuple(p for p in e["loc"] if not _is_union_tag(p)), e) for e in errors]
        deepest = max(len(loc) for loc, _ in located)
        loc, error = next((loc, e) for loc, e in located if len(loc) == deepest)
        name = param_name(loc)
        if error["type"] == "missing":
            raise missing_parameter(name) from None
        expected = _EXPECTED.get(error["type"])
        if expected is not None:
            raise type_error(name, expected, error.get("input")) from None
        raise invalid_request(
            f"Invalid value for '{name}'.", param=name, code="invalid_value"
        ) from None


# --- strict structured-outputs schemas --------------------------------------------------------

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
