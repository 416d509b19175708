"""Prompt management: safe templates, versioned prompt files, and typed message builders.

Use it when prompts are assets you change and review, not strings scattered in code:

    library = PromptLibrary.load("notebooks/prompts")
    messages = library.get("summarize").render(style="brief", content=user_text)
    client.chat.completions.create(model=deployment, messages=messages)

**Why ``string.Template`` and not ``str.format`` or Jinja2.** ``str.format`` treats
every ``{`` and ``}`` *in the template* as syntax, so a JSON example in a prompt
breaks it, and ``format_map`` with attribute access (``{x.__class__}``) reaches
into objects. Jinja2 (even sandboxed) is a programming language: a prompt author
must escape ``{{`` in code samples, and loops and filters in prompts hide logic
from review. ``string.Template`` only substitutes ``$name`` / ``${name}``: braces
are plain text, substituted values are never parsed again (user content that
contains ``$secret`` or ``{{ x }}`` stays literal), and ``get_identifiers()``
lists the variables so missing and unexpected ones are caught before a request.
A literal dollar sign in a template is written ``$$``.

Message builders return the SDK's own TypedDicts (``ChatCompletionMessageParam``
and friends), so type checkers see the same shapes ``create`` expects. The
Responses API takes a different input shape (``input_text`` / ``input_image``
parts, ``function_call_output`` items): :func:`to_response_items` converts.
"""

from __future__ import annotations

import base64
import mimetypes
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias

import yaml
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionContentPartImageParam,
    ChatCompletionContentPartParam,
    ChatCompletionContentPartTextParam,
    ChatCompletionDeveloperMessageParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.responses import (
    EasyInputMessageParam,
    ResponseFunctionToolCallParam,
    ResponseInputContentParam,
    ResponseInputImageParam,
    ResponseInputItemParam,
    ResponseInputTextParam,
)
from openai.types.responses.response_input_param import FunctionCallOutput
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._support.errors import CookbookError
from ._support.exercises import Feedback, failed, passed

__all__ = [
    "ImageDetail",
    "Prompt",
    "PromptError",
    "PromptLibrary",
    "PromptTemplate",
    "PromptVariableError",
    "Role",
    "assistant",
    "check_fill",
    "developer",
    "image_data_uri",
    "image_part",
    "responses_image_part",
    "responses_text_part",
    "system",
    "text_part",
    "to_response_items",
    "tool",
    "user",
]

Role = Literal["system", "developer", "user", "assistant"]
ImageDetail = Literal["auto", "low", "high"]
Value: TypeAlias = str | int | float

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Image types chat completions accept as content parts."""


class PromptError(CookbookError, ValueError):
    """A template or prompt file is malformed."""


class PromptVariableError(PromptError):
    """The values given to a template do not match its variables; lists both kinds of mismatch."""

    def __init__(self, template: str, *, missing: Sequence[str], extra: Sequence[str]) -> None:
        self.missing = sorted(missing)
        self.extra = sorted(extra)
        parts = []
        if self.missing:
            parts.append(f"missing {', '.join(self.missing)}")
        if self.extra:
            parts.append(f"unexpected {', '.join(self.extra)}")
        super().__init__(f"Template {template!r}: {'; '.join(parts)}.")


# --- templates ---------------------------------------------------------------------------------


class PromptTemplate(BaseModel):
    """One message's text with ``$name`` placeholders, and the role that sends it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role = "user"
    text: str = Field(min_length=1)
    name: str = "template"
    """Used in error messages only."""

    @field_validator("text")
    @classmethod
    def _well_formed(cls, text: str) -> str:
        template = string.Template(text)
        if not template.is_valid():
            # Let Template name the bad position ("Invalid placeholder in string: line 1, col 9").
            try:
                template.substitute({name: "" for name in template.get_identifiers()})
            except ValueError as error:
                raise ValueError(f"{error}; write a literal dollar sign as $$") from None
        return text

    @property
    def variables(self) -> frozenset[str]:
        """The placeholder names the template uses."""
        return frozenset(string.Template(self.text).get_identifiers())

    def render_text(self, values: Mapping[str, Value]) -> str:
        """The text with every placeholder filled; :class:`PromptVariableError` on any mismatch."""
        missing = self.variables - values.keys()
        extra = values.keys() - self.variables
        if missing or extra:
            raise PromptVariableError(self.name, missing=list(missing), extra=list(extra))
        return string.Template(self.text).substitute(_as_text(values))

    def render(self, **values: Value) -> ChatCompletionMessageParam:
        """The filled-in message, with this template's role."""
        return _message(self.role, self.render_text(values))


def _as_text(values: Mapping[str, Value]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError(
                f"Value for ${key} must be str, int or float, got {type(value).__name__}; "
                "format structured data yourself (e.g. json.dumps) so the prompt shows "
                "exactly what the model sees."
            )
        out[key] = str(value)
    return out


def _message(role: Role, text: str) -> ChatCompletionMessageParam:
    if role == "system":
        return system(text)
    if role == "developer":
        return developer(text)
    if role == "assistant":
        return assistant(text)
    return user(text)


class Prompt(BaseModel):
    """A named, versioned list of message templates rendered together."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: int = Field(ge=1)
    description: str = ""
    messages: tuple[PromptTemplate, ...] = Field(min_length=1)

    @property
    def variables(self) -> frozenset[str]:
        return frozenset().union(*(m.variables for m in self.messages))

    def render(self, **values: Value) -> list[ChatCompletionMessageParam]:
        """Every message filled in; a variable must be used by some message, and all be given."""
        missing = self.variables - values.keys()
        extra = values.keys() - self.variables
        if missing or extra:
            raise PromptVariableError(self.ref, missing=list(missing), extra=list(extra))
        return [
            _message(m.role, string.Template(m.text).substitute(_as_text(values)))
            for m in self.messages
        ]

    @property
    def ref(self) -> str:
        """``name@version``, e.g. for logs next to each request."""
        return f"{self.name}@{self.version}"


class _PromptVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    description: str = ""
    messages: list[dict[str, Any]] = Field(min_length=1)


class _PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    versions: list[_PromptVersion] = Field(min_length=1)


class PromptLibrary:
    """Prompts loaded from a folder of YAML files, one file per prompt, with its versions.

    A file ``summarize.yaml``::

        name: summarize
        versions:
        - version: 1
          messages:
          - {role: system, text: You summarize documents.}
          - {role: user, text: "Summarize this $document_type: $content"}

    ``get(name)`` returns the highest version; ``get(name, version=1)`` pins one,
    so a deployed application can keep a version while a new one is evaluated.
    """

    def __init__(self, prompts: Iterable[Prompt] = ()) -> None:
        self._prompts: dict[str, dict[int, Prompt]] = {}
        for prompt in prompts:
            self.add(prompt)

    def add(self, prompt: Prompt) -> None:
        versions = self._prompts.setdefault(prompt.name, {})
        if prompt.version in versions:
            raise PromptError(f"Prompt {prompt.ref} is defined twice.")
        versions[prompt.version] = prompt

    @classmethod
    def load(cls, folder: str | Path) -> PromptLibrary:
        """Every ``*.yaml`` file in ``folder``; errors name the file and the field."""
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"No prompt folder at {folder}")
        library = cls()
        for path in sorted(folder.glob("*.yaml")):
            for prompt in _read_prompt_file(path):
                library.add(prompt)
        return library

    def get(self, name: str, version: int | None = None) -> Prompt:
        versions = self._prompts.get(name)
        if not versions:
            known = ", ".join(sorted(self._prompts)) or "none"
            raise KeyError(f"No prompt named {name!r} (known: {known}).")
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            raise KeyError(
                f"Prompt {name!r} has no version {version} "
                f"(versions: {', '.join(map(str, sorted(versions)))})."
            )
        return versions[version]

    def versions(self, name: str) -> list[int]:
        return sorted(self._prompts.get(name, {}))

    def __iter__(self) -> Iterator[Prompt]:
        for versions in self._prompts.values():
            yield from (versions[v] for v in sorted(versions))


def _read_prompt_file(path: Path) -> list[Prompt]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = _PromptFile.model_validate(data)
        if parsed.name != path.stem:
            raise PromptError(f"{path}: 'name' is {parsed.name!r}, the file is {path.stem}.yaml")
        return [
            Prompt(
                name=parsed.name,
                version=v.version,
                description=v.description,
                messages=tuple(
                    PromptTemplate(**m, name=f"{parsed.name}@{v.version}") for m in v.messages
                ),
            )
            for v in parsed.versions
        ]
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise PromptError(f"{path}: {where}: {first['msg']}") from None
    except yaml.YAMLError as error:
        raise PromptError(f"{path}: not valid YAML: {error}") from None


# --- chat completions message builders -----------------------------------------------------------


def system(text: str) -> ChatCompletionSystemMessageParam:
    """Instructions for the model (``developer`` is the newer name reasoning models prefer)."""
    return {"role": "system", "content": text}


def developer(text: str) -> ChatCompletionDeveloperMessageParam:
    """Instructions with the ``developer`` role (o-series and GPT-5 deployments)."""
    return {"role": "developer", "content": text}


def user(
    content: str | Sequence[ChatCompletionContentPartParam],
) -> ChatCompletionUserMessageParam:
    """A user message: plain text, or content parts (:func:`text_part`, :func:`image_part`)."""
    if isinstance(content, str):
        return {"role": "user", "content": content}
    parts = list(content)
    if not parts:
        raise ValueError("A user message needs text or at least one content part.")
    return {"role": "user", "content": parts}


def assistant(
    text: str | None = None,
    *,
    tool_calls: Sequence[ChatCompletionMessageFunctionToolCallParam] = (),
) -> ChatCompletionAssistantMessageParam:
    """An earlier answer of the model: text, tool calls, or both (``content`` omitted if none)."""
    if text is None and not tool_calls:
        raise ValueError("An assistant message needs text or tool calls.")
    message: ChatCompletionAssistantMessageParam = {"role": "assistant"}
    if text is not None:
        message["content"] = text
    if tool_calls:
        message["tool_calls"] = list(tool_calls)
    return message


def tool(tool_call_id: str, content: str) -> ChatCompletionToolMessageParam:
    """A tool's result, answering the assistant's tool call with id ``tool_call_id``."""
    if not tool_call_id:
        raise ValueError("A tool message must name the tool call it answers (tool_call_id).")
    return {"role": "tool", "tool_call_id": tool_call_id, "content": content}


def text_part(text: str) -> ChatCompletionContentPartTextParam:
    return {"type": "text", "text": text}


def image_data_uri(image: bytes | str | Path, mime_type: str | None = None) -> str:
    """``data:image/png;base64,...`` from bytes or a file; the type is guessed from a file name."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        mime_type = mime_type or mimetypes.guess_type(path.name)[0]
        data = path.read_bytes()
    else:
        data = image
    if mime_type not in IMAGE_TYPES:
        raise ValueError(
            f"Unsupported image type {mime_type!r}; use one of {', '.join(sorted(IMAGE_TYPES))}."
        )
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"


def image_part(
    image: bytes | str | Path, mime_type: str | None = None, *, detail: ImageDetail = "auto"
) -> ChatCompletionContentPartImageParam:
    """An image content part, inlined as a data URI (no public URL needed)."""
    return {
        "type": "image_url",
        "image_url": {"url": image_data_uri(image, mime_type), "detail": detail},
    }


# --- Responses API input ------------------------------------------------------------------------


def responses_text_part(text: str) -> ResponseInputTextParam:
    return {"type": "input_text", "text": text}


def responses_image_part(
    image: bytes | str | Path, mime_type: str | None = None, *, detail: ImageDetail = "auto"
) -> ResponseInputImageParam:
    """An ``input_image`` part for ``responses.create(input=...)``, as a data URI."""
    return {"type": "input_image", "image_url": image_data_uri(image, mime_type), "detail": detail}


def _responses_parts(content: Any) -> str | list[ResponseInputContentParam]:
    if isinstance(content, str):
        return content
    parts: list[ResponseInputContentParam] = []
    for part in content:
        if part["type"] == "text":
            parts.append(responses_text_part(part["text"]))
        elif part["type"] == "image_url":
            image = part["image_url"]
            parts.append(
                {
                    "type": "input_image",
                    "image_url": image["url"],
                    "detail": image.get("detail", "auto"),
                }
            )
        else:
            raise ValueError(f"No Responses equivalent here for a {part['type']!r} content part.")
    return parts


def to_response_items(
    messages: Iterable[ChatCompletionMessageParam],
) -> list[ResponseInputItemParam]:
    """Chat completions messages as Responses ``input`` items.

    Text and image parts become ``input_text`` / ``input_image``; an assistant's
    tool calls become ``function_call`` items and tool messages
    ``function_call_output`` items, linked by ``call_id``.
    """
    items: list[ResponseInputItemParam] = []
    for message in messages:
        if message["role"] == "tool":
            output: FunctionCallOutput = {
                "type": "function_call_output",
                "call_id": message["tool_call_id"],
                "output": message["content"]
                if isinstance(message["content"], str)
                else "".join(p["text"] for p in message["content"]),
            }
            items.append(output)
            continue
        role = message["role"]
        if role == "function":
            raise ValueError("Legacy 'function' messages have no Responses equivalent.")
        content = message.get("content")
        if content is not None:
            if role == "assistant":
                text = (
                    content
                    if isinstance(content, str)
                    else "".join(p["text"] for p in content if p["type"] == "text")
                )
                easy: EasyInputMessageParam = {"type": "message", "role": "assistant",
                                               "content": text}  # fmt: skip
            else:
                easy = {"type": "message", "role": role, "content": _responses_parts(content)}
            items.append(easy)
        if role == "assistant":
            for call in message.get("tool_calls", ()):  # type: ignore[attr-defined]
                if call["type"] != "function":
                    raise ValueError(f"No Responses equivalent here for a {call['type']!r} call.")
                function_call: ResponseFunctionToolCallParam = {
                    "type": "function_call",
                    "call_id": call["id"],
                    "name": call["function"]["name"],
                    "arguments": call["function"]["arguments"],
                }
                items.append(function_call)
    return items


# --- exercise --------------------------------------------------------------------------------

FILL_TEMPLATE = 'Reply as JSON like {"summary": "..."} for $audience.\n\n$ticket'
FILL_VALUES = {"audience": "support engineers", "ticket": 'Refund ${amount}: the {"id": 7} order'}
"""A template with braces of its own, and a value with braces and a dollar sign in it."""


def check_fill(fill: Callable[[str, dict[str, str]], str]) -> Feedback:
    """Check ``fill(template, values)``: ``$name`` placeholders filled, nothing else touched.

    Braces in the template and ``$``/braces inside the values must come through unchanged, and a
    variable the values lack must raise an error, not pass through as ``$name``.
    """
    exercise = "fill a template"
    expected = string.Template(FILL_TEMPLATE).substitute(FILL_VALUES)
    try:
        got = fill(FILL_TEMPLATE, dict(FILL_VALUES))
    except NotImplementedError:
        return failed(exercise, "still a stub: replace `raise NotImplementedError` with your code.")
    except (KeyError, ValueError, IndexError) as error:
        return failed(exercise, f"filling the template raised {type(error).__name__}: {error}; "
                                "braces are JSON here, not placeholders: use string.Template, "
                                "whose placeholders are $name only.")  # fmt: skip
    if got != expected:
        return failed(exercise, f"got {got!r}, expected {expected!r}: fill each $name once, "
                                "and leave the values' own $ and braces as they are.")  # fmt: skip
    try:
        leaked = fill("Write for $audience in $language.", {"audience": "engineers"})
    except Exception:
        return passed(exercise, "braces survive, values stay as written, a missing variable fails.")
    message = f"a missing $language gave {leaked!r} instead of an error"
    return failed(exercise, message + ": use substitute, not safe_substitute.")
