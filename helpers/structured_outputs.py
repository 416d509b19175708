"""Structured outputs: answers that follow your JSON schema, parsed into pydantic models.

Use it when code, not a person, reads the model's answer. Describe the answer
as a pydantic model and let ``chat.completions.parse`` send it as a strict
``json_schema`` response format; then take the parsed object, or a specific
error that says why there is none:

    person = extract(azure.client, model=azure.chat_deployment, messages=msgs, schema=Person)

Strict mode (``"strict": true``) makes the service constrain decoding to the
schema, and it accepts only schemas where every object has
``additionalProperties: false`` and lists *every* property in ``required``;
a field that may be missing is written as a nullable union
(``"type": ["string", "null"]``). :func:`strict_schema_problems` finds the
places where a hand-written schema breaks those rules before Azure does.

Three ways there is no parsed object, each raised, never returned as ``None``:

- the model refused (``message.refusal`` is set): :class:`RefusalError`;
- the answer hit its limit (``max_completion_tokens``; ``finish_reason == "length"``): the
  SDK's own ``openai.LengthFinishReasonError``, raised by ``parse``;
- Azure filtered the output: the SDK's ``openai.ContentFilterFinishReasonError``.

The Responses API (the v1 ``OpenAI`` client) takes the schema as ``text.format``;
:func:`extract_response` is :func:`extract` for it, with the same errors plus
:class:`IncompleteOutputError` for a response whose ``status`` is ``"incomplete"``:

    person = extract_response(azure.v1_client(), model=azure.chat_deployment,
                              input=msgs, schema=Person)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

import openai
import pydantic
from openai import AsyncAzureOpenAI, AzureOpenAI, OpenAI
from openai.lib import type_to_response_format_param
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam, ParsedChatCompletion
from openai.types.responses import Response, ResponseInputParam, ResponseTextConfigParam
from openai.types.shared_params import ResponseFormatJSONSchema

from ._support.errors import InvariantError
from ._support.exercises import Feedback, attempt, failed, passed
from ._support.schemas import strict_violations

__all__ = [
    "EmptyOutputError",
    "IncompleteOutputError",
    "RefusalError",
    "StructuredOutputError",
    "aextract",
    "check_recipe_schema",
    "describe_rejection",
    "extract",
    "extract_response",
    "parsed_or_raise",
    "response_format_for",
    "response_parsed_or_raise",
    "strict_schema_problems",
    "text_config_for",
]

T = TypeVar("T", bound=pydantic.BaseModel)


class StructuredOutputError(InvariantError):
    """A completion (or a Responses API response) came back without the structured answer.

    An :class:`~helpers._support.errors.InvariantError`: ``completion`` (also ``response``)
    is the whole completion or response, for its ``usage``, ``id`` and Azure annotations.
    """

    def __init__(self, message: str, *, completion: ChatCompletion | Response) -> None:
        super().__init__(message, response=completion)
        self.completion = completion
        """The whole completion or response, for its ``usage``, ``id`` and Azure annotations."""


class RefusalError(StructuredOutputError):
    """The model declined to answer; ``refusal`` is its explanation.

    From ``message.refusal`` (Chat Completions) or a ``refusal`` output part (Responses
    API). Section 19's response checks raise it too.
    """

    def __init__(self, refusal: str, *, completion: ChatCompletion | Response) -> None:
        super().__init__(f"The model refused to answer: {refusal}", completion=completion)
        self.refusal = refusal


class EmptyOutputError(StructuredOutputError):
    """No content, no refusal: e.g. the model called a tool instead of answering."""


class IncompleteOutputError(StructuredOutputError):
    """A Responses API answer stopped early (``status: "incomplete"``); ``reason`` says why.

    ``"max_output_tokens"`` (a reasoning model may spend the whole limit thinking) or
    ``"content_filter"``.
    """

    def __init__(self, reason: str | None, *, completion: Response) -> None:
        super().__init__(
            f"The response is incomplete (reason: {reason}); raise max_output_tokens "
            "or shrink the schema if the limit was hit.",
            completion=completion,
        )
        self.reason = reason


def response_format_for(
    schema: type[pydantic.BaseModel], *, name: str | None = None
) -> ResponseFormatJSONSchema:
    """The strict ``json_schema`` response format ``parse`` would send for ``schema``.

    Built by the SDK's public ``openai.lib.type_to_response_format_param``: every
    object closed, every property required, ``Optional`` fields as ``anyOf`` with
    ``null``. ``name`` defaults to the class name (letters, digits, ``_`` and ``-``).
    Pass the result to ``chat.completions.create`` when you want the raw JSON text.
    """
    if not (isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)):
        raise TypeError(
            f"response_format_for() takes a pydantic model class, got {schema!r}; "
            "write a plain JSON schema by hand as a dict instead."
        )
    # A new dict on every call, so setting the name changes nothing shared.
    param = cast(ResponseFormatJSONSchema, type_to_response_format_param(schema))
    if name is not None:
        param["json_schema"]["name"] = name
    return param


def text_config_for(
    schema: type[pydantic.BaseModel], *, name: str | None = None
) -> ResponseTextConfigParam:
    """The Responses API's ``text`` argument for ``schema``: a strict ``json_schema`` format.

    The same schema as :func:`response_format_for`, in the flat shape ``text.format``
    takes (``{"type": "json_schema", "name", "schema", "strict"}``).
    """
    spec = response_format_for(schema, name=name)["json_schema"]
    return {
        "format": {
            "type": "json_schema",
            "name": spec["name"],
            "schema": spec.get("schema", {}),
            "strict": bool(spec.get("strict")),
        }
    }


def _display_path(path: tuple[str, ...]) -> str:
    """``("properties", "contact")`` as ``$.properties.contact``; definitions as ``$defs.Name``."""
    if path[:1] == ("$defs",):
        text, rest = f"$defs.{path[1]}", path[2:]
    else:
        text, rest = "$", path
    i = 0
    while i < len(rest):
        step = rest[i]
        if step in ("anyOf", "allOf"):
            text += f".{step}[{rest[i + 1]}]"
            i += 2
        elif step == "properties":
            text += f".properties.{rest[i + 1]}"
            i += 2
        else:
            text += f".{step}"
            i += 1
    return text


def strict_schema_problems(schema: dict[str, Any]) -> list[str]:
    """Every place ``schema`` breaks strict mode's two structural rules, as readable lines.

    Checks each object (root, nested ``properties``, array ``items``, ``anyOf``
    / ``allOf`` branches and ``$defs``) for ``additionalProperties: false`` and
    for a ``required`` list naming every property. An empty list means those
    rules hold; Azure may still reject keywords it does not support.
    """
    problems: list[str] = []
    for violation in strict_violations(schema):
        where = _display_path(violation.path)
        if violation.rule == "additionalProperties":
            problems.append(f"{where}: 'additionalProperties' must be false")
        elif violation.rule == "required":
            names = ", ".join(repr(key) for key in violation.missing)
            problems.append(f"{where}: not in 'required': {names}")
    return problems


def parsed_or_raise(completion: ParsedChatCompletion[T]) -> T:
    """The first choice's parsed answer; else :class:`RefusalError` or :class:`EmptyOutputError`."""
    message = completion.choices[0].message
    if message.refusal:
        raise RefusalError(message.refusal, completion=completion)
    if message.parsed is None:
        raise EmptyOutputError(
            "The completion has neither content nor a refusal "
            f"(finish_reason={completion.choices[0].finish_reason!r}, "
            f"tool calls: {len(message.tool_calls or [])}).",
            completion=completion,
        )
    return message.parsed


def extract(
    client: AzureOpenAI,
    *,
    model: str,
    messages: Iterable[ChatCompletionMessageParam],
    schema: type[T],
    **options: Any,
) -> T:
    """Ask for an answer shaped like ``schema`` (strict structured outputs) and return it parsed.

    ``model`` is the Azure *deployment* name. ``options`` go to
    ``chat.completions.parse`` (``temperature``, ``max_tokens``...). Raises
    :class:`RefusalError`, :class:`EmptyOutputError`, and the SDK's
    ``openai.LengthFinishReasonError`` / ``ContentFilterFinishReasonError`` /
    ``APIStatusError`` subclasses as they come.
    """
    completion = client.chat.completions.parse(
        model=model, messages=messages, response_format=schema, **options
    )
    return parsed_or_raise(completion)


async def aextract(
    client: AsyncAzureOpenAI,
    *,
    model: str,
    messages: Iterable[ChatCompletionMessageParam],
    schema: type[T],
    **options: Any,
) -> T:
    """:func:`extract` for the async client."""
    completion = await client.chat.completions.parse(
        model=model, messages=messages, response_format=schema, **options
    )
    return parsed_or_raise(completion)


def response_parsed_or_raise(response: Response, schema: type[T]) -> T:
    """A Responses API answer validated into ``schema``; else a specific exception.

    Checks, in order: a refusal content part (:class:`RefusalError`), ``status``
    ``"incomplete"`` (:class:`IncompleteOutputError`), no output text
    (:class:`EmptyOutputError`); then validates ``output_text`` (pydantic's
    ``ValidationError`` if it does not fit, which strict mode should make impossible).
    """
    for item in response.output:
        if item.type == "message":
            for part in item.content:
                if part.type == "refusal":
                    raise RefusalError(part.refusal, completion=response)
    if response.status == "incomplete":
        details = response.incomplete_details
        raise IncompleteOutputError(details.reason if details else None, completion=response)
    if not response.output_text:
        calls = sum(item.type == "function_call" for item in response.output)
        raise EmptyOutputError(
            f"The response has no output text and no refusal (status={response.status!r}, "
            f"function calls: {calls}).",
            completion=response,
        )
    return schema.model_validate_json(response.output_text)


def extract_response(
    client: OpenAI,
    *,
    model: str,
    input: str | ResponseInputParam,
    schema: type[T],
    **options: Any,
) -> T:
    """:func:`extract` on the Responses API (``client.responses``, e.g. the v1 ``OpenAI`` client).

    Sends ``schema`` as a strict ``text.format`` and returns the validated model. Unlike
    ``responses.parse``, an answer cut off mid-JSON raises :class:`IncompleteOutputError`
    (with the response attached), not a pydantic error about broken JSON. ``options`` go to
    ``responses.create`` (``instructions``, ``max_output_tokens``, ``reasoning``...).
    """
    if "text" in options:
        raise TypeError("extract_response() builds `text` from `schema`; do not pass it too.")
    response = client.responses.create(
        model=model, input=input, text=text_config_for(schema), **options
    )
    return response_parsed_or_raise(response, schema)


def describe_rejection(error: openai.BadRequestError) -> str:
    """Azure's 400 in three short lines: ``code``, ``param`` and the service's message."""
    body = error.body if isinstance(error.body, dict) else {}
    message = body.get("message") or error.message
    return f"code:    {error.code}\nparam:   {error.param}\nmessage: {message}"


# --- exercise --------------------------------------------------------------------------------

RECIPE_FIELDS = {"title": "string", "servings": "integer", "ingredients": "array", "notes": None}
"""The recipe the exercise's schema describes: each field's JSON type (notes: string or null)."""


def check_recipe_schema(recipe_schema: Callable[[], dict[str, Any]]) -> Feedback:
    """Check ``recipe_schema()``: a strict JSON schema for a recipe.

    Fields: ``title`` (string), ``servings`` (integer), ``ingredients`` (array of objects with
    ``name`` and ``quantity``, strings) and ``notes`` (a string or null, since strict mode has no
    optional fields). Strict mode's rules are :func:`strict_schema_problems`'s.
    """
    exercise = "strict recipe schema"
    schema = attempt(exercise, recipe_schema)
    if isinstance(schema, Feedback):
        return schema
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return failed(exercise, "return the schema itself: a dict with 'type': 'object'.")
    properties = schema.get("properties", {})
    missing = sorted(set(RECIPE_FIELDS) - set(properties))
    if missing:
        return failed(exercise, f"no property for {', '.join(map(repr, missing))}.")
    for name, kind in RECIPE_FIELDS.items():
        found = properties[name].get("type")
        if kind is not None and found != kind:
            return failed(exercise, f"{name!r} has type {found!r}, expected {kind!r}.")
    notes = properties["notes"].get("type")
    if not (isinstance(notes, list) and set(notes) == {"string", "null"}):
        return failed(exercise, f"'notes' has type {notes!r}: an optional field in strict mode "
                                "is required but may be null: ['string', 'null'].")  # fmt: skip
    item = properties["ingredients"].get("items", {})
    if set(item.get("properties", {})) != {"name", "quantity"}:
        return failed(exercise, "each ingredient is an object with 'name' and 'quantity'.")
    problems = strict_schema_problems(schema)
    if problems:
        return failed(exercise, "strict mode rejects it: " + "; ".join(problems) + ".")
    return passed(exercise, "strict mode accepts it and every field has its type.")
