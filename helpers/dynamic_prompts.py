"""Dynamic prompts with machine-readable answers: the guide's docstring generator, done right.

A prompt built from the input (here a function's signature and optional
context) asks for a structured docstring. There are two correct ways to get
it back as data, and they must not be mixed in one request:

- **structured outputs** (:func:`docstring_by_schema`): ``chat.completions.parse``
  with a pydantic model sends a strict ``json_schema`` response format; the
  answer is in ``message.content`` and arrives parsed in ``message.parsed``.
- **a forced tool call** (:func:`docstring_by_tool`): one strict function tool
  and ``tool_choice`` naming it; the answer is the call's *arguments*, in
  ``message.tool_calls[0]``, while ``message.content`` is ``None``.

The guide sends both a forced tool and a ``response_format`` and then reads
``message.content``: the tool wins, ``content`` is ``None``, and ``json.loads``
raises. Pick the schema route when the answer *is* the result; pick the tool
route when the structure is an action your code takes (or among other tools).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import openai
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionNamedToolChoiceParam
from pydantic import BaseModel, Field

from ._support.exercises import Feedback, attempt, failed, passed
from .prompt_management import PromptTemplate, developer, system
from .structured_outputs import EmptyOutputError, parsed_or_raise, strict_schema_problems
from .token_management import count_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "LABELS",
    "TOOL_NAME",
    "Argument",
    "Docstring",
    "InstructionsRole",
    "check_label_format",
    "docstring_by_schema",
    "docstring_by_tool",
    "docstring_messages",
    "docstring_tool",
    "part_tokens",
    "plot_prompt_parts",
    "prompt_parts",
    "render_docstring",
]

TOOL_NAME = "record_docstring"

InstructionsRole = Literal["system", "developer"]
"""``developer`` suits reasoning deployments (GPT-5, o-series); they read ``system`` as one too."""

SYSTEM = "You write precise Python docstrings. Describe only what the signature and context say."

REQUEST = PromptTemplate(
    name="docstring-request",
    text="Write the docstring for this Python function:\n\n$signature",
)
CONTEXT = PromptTemplate(name="docstring-context", text="What the function does: $context")
STYLE = PromptTemplate(name="docstring-style", text="Write for $audience.")


class Argument(BaseModel):
    name: str
    type: str = Field(description="The annotation as written in the signature.")
    description: str


class Docstring(BaseModel):
    """A function's documentation, one field per docstring section."""

    summary: str = Field(description="One line, imperative mood, ending with a period.")
    args: list[Argument]
    returns: str | None = Field(description="What the function returns; null for None.")
    raises: list[str] = Field(description="Exceptions the context says it raises, else empty.")


def docstring_messages(
    signature: str,
    *,
    context: str | None = None,
    audience: str | None = None,
    instructions: InstructionsRole = "system",
) -> list[ChatCompletionMessageParam]:
    """The dynamic prompt: the request, plus a context line and an audience line when given.

    ``instructions`` is the role of the first message (``developer`` for reasoning models).

    Templates are ``string.Template``, so signatures with braces (``d: dict = {}``)
    or dollar signs pass through untouched.
    """
    parts = prompt_parts(signature, context=context, audience=audience)
    text = parts.pop("instructions")
    first = developer(text) if instructions == "developer" else system(text)
    return [first, {"role": "user", "content": "\n\n".join(parts.values())}]


def prompt_parts(
    signature: str, *, context: str | None = None, audience: str | None = None
) -> dict[str, str]:
    """The prompt's pieces in order, named: only those with something to say are there.

    ``instructions`` is the first message; the others are the user message's paragraphs.
    """
    if not signature.strip():
        raise ValueError("signature is empty; pass the function's 'def ...' line.")
    parts = {
        "instructions": SYSTEM,
        "request + signature": REQUEST.render_text({"signature": signature.strip()}),
    }
    if context:
        parts["context line"] = CONTEXT.render_text({"context": context})
    if audience:
        parts["audience line"] = STYLE.render_text({"audience": audience})
    return parts


def part_tokens(parts: Mapping[str, str], *, model: str = "gpt-5.4-mini") -> dict[str, int]:
    """Tokens in each part, each counted alone with the model's encoding (a model name,
    not a deployment name). The request adds a few per message and separator on top."""
    return {name: count_text(text, model) for name, text in parts.items()}


def plot_prompt_parts(prompts: Mapping[str, Mapping[str, int]], ax: Axes | None = None) -> Axes:
    """One stacked bar per prompt: its tokens per part, the total written at the bar's end."""
    import matplotlib.pyplot as plt

    if not prompts:
        raise ValueError("no prompts to plot")
    ax = ax or plt.subplots(figsize=(8, 1.2 + 0.55 * len(prompts)))[1]
    names = list(prompts)
    kinds = list(dict.fromkeys(kind for parts in prompts.values() for kind in parts))
    left = [0] * len(names)
    for colour, kind in enumerate(kinds):
        widths = [prompts[name].get(kind, 0) for name in names]
        ax.barh(names, widths, left=left, color=f"C{colour}", label=kind)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for row, total in enumerate(left):
        ax.text(total + max(left) * 0.01, row, f"{total} tokens", va="center")
    ax.set_xlim(0, max(left) * 1.2)
    ax.invert_yaxis()  # the first prompt on top
    ax.set_xlabel("tokens (each part counted alone)")
    ax.set_title("What each part of the prompt costs, by prompt")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncols=len(kinds), frameon=False)
    return ax


def docstring_tool() -> openai.types.chat.ChatCompletionFunctionToolParam:
    """The strict function tool whose arguments are a :class:`Docstring`."""
    return openai.pydantic_function_tool(
        Docstring, name=TOOL_NAME, description="Record the docstring you wrote."
    )


def docstring_by_schema(
    client: OpenAI,
    *,
    model: str,
    signature: str,
    context: str | None = None,
    audience: str | None = None,
    instructions: InstructionsRole = "system",
) -> Docstring:
    """Structured outputs: ``parse`` with :class:`Docstring` as a strict ``json_schema``.

    Raises ``structured_outputs.RefusalError`` / ``EmptyOutputError`` and the SDK's
    ``LengthFinishReasonError`` / ``ContentFilterFinishReasonError``.
    """
    completion = client.chat.completions.parse(
        model=model,
        messages=docstring_messages(
            signature, context=context, audience=audience, instructions=instructions
        ),
        response_format=Docstring,
    )
    return parsed_or_raise(completion)


def docstring_by_tool(
    client: OpenAI,
    *,
    model: str,
    signature: str,
    context: str | None = None,
    audience: str | None = None,
    instructions: InstructionsRole = "system",
) -> Docstring:
    """A forced tool call: the :class:`Docstring` is read from ``message.tool_calls``.

    No ``response_format`` is sent: the forced tool already fixes the shape.
    """
    choice: ChatCompletionNamedToolChoiceParam = {
        "type": "function",
        "function": {"name": TOOL_NAME},
    }
    completion = client.chat.completions.parse(
        model=model,
        messages=docstring_messages(
            signature, context=context, audience=audience, instructions=instructions
        ),
        tools=[docstring_tool()],
        tool_choice=choice,
    )
    message = completion.choices[0].message
    for call in message.tool_calls or []:
        if call.type == "function" and call.function.name == TOOL_NAME:
            parsed = call.function.parsed_arguments
            if isinstance(parsed, Docstring):
                return parsed
    raise EmptyOutputError(
        f"The model did not call {TOOL_NAME} (finish_reason="
        f"{completion.choices[0].finish_reason!r}, content={message.content!r}).",
        completion=completion,
    )


def render_docstring(doc: Docstring, *, indent: str = "    ") -> str:
    """The docstring as Google-style text, ready to paste under the ``def`` line."""
    lines = [doc.summary]
    if doc.args:
        lines += ["", "Args:"]
        lines += [f"{indent}{a.name} ({a.type}): {a.description}" for a in doc.args]
    if doc.returns:
        lines += ["", "Returns:", f"{indent}{doc.returns}"]
    if doc.raises:
        lines += ["", "Raises:"] + [f"{indent}{r}" for r in doc.raises]
    return '"""' + "\n".join(lines) + '\n"""'


# --- exercise --------------------------------------------------------------------------------

LABELS = ["billing", "bug report", "feature request", "other"]
"""The labels the exercise's classifier may answer with; the schema is built from them."""


def check_label_format(label_format: Callable[[list[str]], dict[str, Any]]) -> Feedback:
    """Check ``label_format(labels)``: a strict ``response_format`` whose one field is a label.

    Expected: ``{"type": "json_schema", "json_schema": {"name": ..., "strict": True, "schema":
    ...}}`` with a required ``label`` property whose ``enum`` is exactly ``labels``.
    """
    exercise = "label format"
    for labels in (LABELS, ["yes", "no"]):
        fmt = attempt(exercise, label_format, list(labels))
        if isinstance(fmt, Feedback):
            return fmt
        spec = fmt.get("json_schema", {}) if isinstance(fmt, dict) else {}
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not spec.get("name"):
            return failed(exercise, "return {'type': 'json_schema', 'json_schema': {'name': ..., "
                                    "'strict': True, 'schema': ...}}.")  # fmt: skip
        if spec.get("strict") is not True:
            return failed(exercise, "set 'strict': True, or the model may answer outside the enum.")
        schema = spec.get("schema", {})
        label = schema.get("properties", {}).get("label", {})
        if label.get("enum") != labels:
            found = label.get("enum")
            message = f"for labels {labels} the 'label' property has enum {found!r}"
            return failed(exercise, message + ": build the enum from the input.")
        problems = strict_schema_problems(schema)
        if problems:
            return failed(exercise, "strict mode rejects the schema: " + "; ".join(problems) + ".")
    return passed(exercise, "a strict format whose enum follows the labels it was given.")
