"""Validate what the model *said*, not what the SDK already validated.

The SDK returns ``ChatCompletion`` and ``Response`` objects that are pydantic
models already: re-validating their envelope (as the guide does) checks
nothing. Two things are worth checking before code acts on an answer:

1. **Invariants of the response**: it finished (``finish_reason == "stop"``, or
   Responses ``status == "completed"``), was not cut at the token limit, not
   filtered, not refused, and its usage adds up. :func:`check_completion` and
   :func:`check_response` raise a specific :class:`InvariantError` for each: a
   refusal is section 3's :class:`~helpers.structured_outputs.RefusalError`, a
   filtered answer section 11's :class:`~helpers.content_filtering.ContentFilteredError`
   (both re-exported here), the rest are defined below.
2. **The content against your model**: :func:`complete_validated` asks for
   JSON, validates it with pydantic, and on failure sends the validation error
   back to the model for another try, at most ``max_rounds`` times, then raises
   :class:`RepairFailedError` with every attempt. Use it for rules strict
   structured outputs cannot enforce (ranges, patterns, cross-field checks in
   validators), or for deployments without structured outputs.
3. **What validation did** to a set of answers: :func:`validation_outcomes` gives each
   answer (each round of a repair loop) its :func:`verdict`, the exception it raised or
   ``"accepted"``; :func:`plot_outcomes` draws them as one row per answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pydantic
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat
from openai.types.responses import Response, ResponseInputParam, ResponseStreamEvent

from ._support.errors import CookbookError, InvariantError
from ._support.exercises import Feedback, failed, passed
from .content_filtering import ContentFilteredError, report_from_completion, report_from_response
from .structured_outputs import RefusalError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "VERDICTS",
    "Attempt",
    "ContentFilteredError",
    "IncompleteError",
    "InvariantError",
    "Outcome",
    "RefusalError",
    "RepairFailedError",
    "TruncatedError",
    "UsageMismatchError",
    "Validated",
    "acomplete_validated",
    "check_completion",
    "check_refund_model",
    "check_response",
    "complete_validated",
    "describe_validation_error",
    "filtered_categories",
    "final_response",
    "plot_outcomes",
    "repair_message",
    "respond_validated",
    "validation_outcomes",
    "verdict",
]

T = TypeVar("T", bound=pydantic.BaseModel)
Answer = ChatCompletion | Response


# --- invariants ----------------------------------------------------------------------------------


class TruncatedError(InvariantError):
    """Cut off at the token limit (``finish_reason: length`` / ``max_output_tokens``)."""


class IncompleteError(InvariantError):
    """No usable end state: a missing finish reason, a failed or unfinished response."""


class UsageMismatchError(InvariantError):
    """The token counts contradict each other."""


def filtered_categories(results: Any) -> list[str]:
    """Names of the filters that fired in Azure's ``content_filter_results`` mapping."""
    if not isinstance(results, dict):
        return []
    return sorted(
        name for name, value in results.items() if isinstance(value, dict) and value.get("filtered")
    )


def check_completion(completion: ChatCompletion, *, allow_tool_calls: bool = False) -> None:
    """Raise the first broken invariant of a chat completion (every choice is checked).

    ``finish_reason`` must be ``stop`` (or ``tool_calls`` when ``allow_tool_calls``),
    there must be no refusal, and ``usage`` must add up: prompt + completion =
    total, cached <= prompt, reasoning <= completion.
    """
    if not completion.choices:
        raise IncompleteError("The completion has no choices.", response=completion)
    for choice in completion.choices:
        where = f"choice {choice.index}"
        reason = choice.finish_reason
        if reason == "length":
            raise TruncatedError(
                f"{where} was cut off at the token limit (finish_reason 'length'"
                f"{_spent_on_reasoning(completion)}); raise max_completion_tokens or ask for less.",
                response=completion,
            )
        if reason == "content_filter":
            raise ContentFilteredError(report_from_completion(completion), response=completion)
        if choice.message.refusal:
            raise RefusalError(choice.message.refusal, completion=completion)
        allowed = ("stop", "tool_calls") if allow_tool_calls else ("stop",)
        if reason not in allowed:
            raise IncompleteError(
                f"{where} ended with finish_reason {reason!r}; expected {' or '.join(allowed)}.",
                response=completion,
            )
    usage = completion.usage
    if usage is not None:
        _check_usage(
            completion,
            prompt=usage.prompt_tokens,
            output=usage.completion_tokens,
            total=usage.total_tokens,
            cached=usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0,
            reasoning=(
                usage.completion_tokens_details.reasoning_tokens
                if usage.completion_tokens_details
                else 0
            ),
        )


def _spent_on_reasoning(completion: ChatCompletion) -> str:
    """``", all 64 tokens spent on reasoning"`` when a reasoning model produced no text."""
    usage = completion.usage
    details = usage.completion_tokens_details if usage else None
    if usage is None or details is None or not details.reasoning_tokens:
        return ""
    if details.reasoning_tokens >= usage.completion_tokens:
        return f", all {usage.completion_tokens} tokens spent on reasoning"
    return f", {details.reasoning_tokens} of {usage.completion_tokens} tokens spent on reasoning"


def _check_usage(
    response: Answer, *, prompt: int, output: int, total: int, cached: int | None,
    reasoning: int | None,
) -> None:  # fmt: skip
    if prompt + output != total:
        raise UsageMismatchError(
            f"usage does not add up: {prompt} input + {output} output != {total} total.",
            response=response,
        )
    if (cached or 0) > prompt:
        raise UsageMismatchError(
            f"usage: {cached} cached tokens exceed the {prompt} input tokens.", response=response
        )
    if (reasoning or 0) > output:
        raise UsageMismatchError(
            f"usage: {reasoning} reasoning tokens exceed the {output} output tokens.",
            response=response,
        )


def check_response(response: Response) -> None:
    """Raise the first broken invariant of a Responses API ``Response``.

    ``status`` must be ``completed``; ``incomplete`` with reason
    ``max_output_tokens`` is :class:`TruncatedError`, with ``content_filter``
    :class:`ContentFilteredError`; a ``refusal`` output part is :class:`RefusalError`;
    usage must add up as in :func:`check_completion`.
    """
    if response.status == "incomplete":
        reason = response.incomplete_details.reason if response.incomplete_details else None
        if reason == "max_output_tokens":
            spent = ""
            usage = response.usage
            if usage and usage.output_tokens_details.reasoning_tokens:
                spent = (
                    f" ({usage.output_tokens_details.reasoning_tokens} of "
                    f"{usage.output_tokens} output tokens spent on reasoning)"
                )
            raise TruncatedError(
                f"The response is incomplete: it reached max_output_tokens{spent}.",
                response=response,
            )
        if reason == "content_filter":
            raise ContentFilteredError(report_from_response(response), response=response)
    if response.status != "completed":
        detail = f": {response.error.code}: {response.error.message}" if response.error else ""
        raise IncompleteError(
            f"The response has status {response.status!r}{detail}.", response=response
        )
    for item in response.output:
        if item.type == "message":
            for part in item.content:
                if part.type == "refusal":
                    raise RefusalError(part.refusal, completion=response)
    usage = response.usage
    if usage is not None:
        _check_usage(
            response,
            prompt=usage.input_tokens,
            output=usage.output_tokens,
            total=usage.total_tokens,
            cached=usage.input_tokens_details.cached_tokens,
            reasoning=usage.output_tokens_details.reasoning_tokens,
        )


def final_response(events: Iterable[ResponseStreamEvent]) -> Response:
    """The ``Response`` a Responses stream ends with, whatever its status.

    The SDK's ``stream.get_final_response()`` raises ``RuntimeError`` unless the
    stream ends with ``response.completed``; a stream cut at ``max_output_tokens``
    ends with ``response.incomplete`` and a failed one with ``response.failed``.
    This reads the last of the three, so :func:`check_response` can say what happened.
    """
    final: Response | None = None
    for event in events:
        if event.type in ("response.completed", "response.incomplete", "response.failed"):
            final = event.response  # type: ignore[union-attr]
    if final is None:
        raise ValueError(
            "The stream ended without response.completed, response.incomplete or "
            "response.failed: the connection was probably cut."
        )
    return final


# --- content validation with a bounded repair loop ------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One round of the repair loop that did not validate."""

    content: str
    error: str
    completion: Answer
    """The ``ChatCompletion`` (or, from :func:`respond_validated`, the ``Response``)."""


@dataclass(frozen=True)
class Validated(Generic[T]):
    """A validated answer, the completion (or ``Response``) it came from, and the failed rounds."""

    value: T
    completion: Answer
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def rounds(self) -> int:
        return len(self.attempts) + 1


class RepairFailedError(CookbookError):
    """No round produced valid content; ``attempts`` holds each answer and its error."""

    def __init__(self, schema: type[pydantic.BaseModel], attempts: Sequence[Attempt]) -> None:
        self.schema = schema
        self.attempts = list(attempts)
        last = self.attempts[-1].error if self.attempts else "no attempt"
        super().__init__(
            f"No valid {schema.__name__} after {len(self.attempts)} rounds; last error:\n{last}"
        )


def describe_validation_error(error: pydantic.ValidationError) -> str:
    """pydantic's errors as short lines a model can act on: ``- path: message (got value)``."""
    lines = []
    for item in error.errors(include_url=False):
        path = ".".join(str(p) for p in item["loc"]) or "(whole object)"
        message = item["msg"].removeprefix("Value error, ")
        got = item.get("input")
        shown = json.dumps(got, ensure_ascii=False, default=str)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        quiet = item["type"] in ("missing", "json_invalid") or isinstance(got, (dict, list))
        lines.append(f"- {path}: {message}" + ("" if quiet else f" (got {shown})"))
    return "\n".join(lines)


def _repair_text(error: str) -> str:
    return (
        "Your previous answer did not pass validation:\n"
        f"{error}\n"
        "Reply with the corrected JSON object only."
    )


def repair_message(error: str) -> ChatCompletionMessageParam:
    """The user message that sends a validation error back to the model."""
    return {"role": "user", "content": _repair_text(error)}


def complete_validated(
    client: OpenAI,
    *,
    model: str,
    messages: Iterable[ChatCompletionMessageParam],
    schema: type[T],
    max_rounds: int = 3,
    response_format: ResponseFormat | None = None,
    **options: Any,
) -> Validated[T]:
    """Ask, validate the content against ``schema``, and repair, at most ``max_rounds`` rounds.

    ``client`` is an ``AzureOpenAI`` client or the v1 API's plain ``OpenAI`` client.

    ``response_format`` defaults to ``{"type": "json_object"}`` (the messages must
    mention JSON); pass a strict ``json_schema`` to add constrained decoding.
    Each failed round appends the model's answer and :func:`repair_message` to
    the conversation. Invariant failures (truncation, filtering, refusal) raise
    at once: repeating the request would not fix them.
    """
    loop = _RepairLoop(schema, messages, max_rounds)
    fmt: ResponseFormat = response_format or {"type": "json_object"}
    while loop.rounds_left:
        completion = client.chat.completions.create(
            model=model, messages=loop.conversation, response_format=fmt, **options
        )
        if (result := loop.take(completion)) is not None:
            return result
    raise RepairFailedError(schema, loop.attempts)


async def acomplete_validated(
    client: AsyncOpenAI,
    *,
    model: str,
    messages: Iterable[ChatCompletionMessageParam],
    schema: type[T],
    max_rounds: int = 3,
    response_format: ResponseFormat | None = None,
    **options: Any,
) -> Validated[T]:
    """:func:`complete_validated` for the async client."""
    loop = _RepairLoop(schema, messages, max_rounds)
    fmt: ResponseFormat = response_format or {"type": "json_object"}
    while loop.rounds_left:
        completion = await client.chat.completions.create(
            model=model, messages=loop.conversation, response_format=fmt, **options
        )
        if (result := loop.take(completion)) is not None:
            return result
    raise RepairFailedError(schema, loop.attempts)


def respond_validated(
    client: OpenAI,
    *,
    model: str,
    input: str | ResponseInputParam,
    schema: type[T],
    instructions: str | None = None,
    max_rounds: int = 3,
    **options: Any,
) -> Validated[T]:
    """:func:`complete_validated` on the Responses API (the v1 client's ``responses``).

    JSON mode (``text.format`` ``json_object``) unless ``options`` sets ``text``. Each
    repair round continues the stored conversation with ``previous_response_id`` and
    sends only :func:`repair_message` (``instructions`` are not inherited along a
    chain, so they are sent every round). :func:`check_response` runs every round.
    """
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
    options.setdefault("text", {"format": {"type": "json_object"}})
    if instructions is not None:
        options["instructions"] = instructions
    attempts: list[Attempt] = []
    response = client.responses.create(model=model, input=input, **options)
    while True:
        check_response(response)
        content = response.output_text
        try:
            value = schema.model_validate_json(content)
        except pydantic.ValidationError as error:
            problem = describe_validation_error(error)
            attempts.append(Attempt(content=content, error=problem, completion=response))
            if len(attempts) >= max_rounds:
                raise RepairFailedError(schema, attempts) from None
            response = client.responses.create(
                model=model,
                previous_response_id=response.id,
                input=[{"role": "user", "content": _repair_text(problem)}],
                **options,
            )
            continue
        return Validated(value=value, completion=response, attempts=attempts)


class _RepairLoop(Generic[T]):
    """The state of one repair loop, shared by the sync and async versions."""

    def __init__(
        self, schema: type[T], messages: Iterable[ChatCompletionMessageParam], max_rounds: int
    ) -> None:
        if max_rounds < 1:
            raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
        self.schema = schema
        self.conversation = list(messages)
        self.attempts: list[Attempt] = []
        self.max_rounds = max_rounds

    @property
    def rounds_left(self) -> bool:
        return len(self.attempts) < self.max_rounds

    def take(self, completion: ChatCompletion) -> Validated[T] | None:
        """The validated answer, or ``None`` after recording the failure and the repair request."""
        check_completion(completion)
        content = completion.choices[0].message.content or ""
        try:
            value = self.schema.model_validate_json(content)
        except pydantic.ValidationError as error:
            problem = describe_validation_error(error)
            self.attempts.append(Attempt(content=content, error=problem, completion=completion))
            self.conversation += [
                {"role": "assistant", "content": content},
                repair_message(problem),
            ]
            return None
        return Validated(value=value, completion=completion, attempts=list(self.attempts))


# --- what validation did to a set of answers ------------------------------------------------------

VERDICTS = (
    "TruncatedError",
    "ContentFilteredError",
    "RefusalError",
    "IncompleteError",
    "UsageMismatchError",
    "ValidationError",
    "accepted",
)
"""Every verdict :func:`verdict` can give, in the order the checks run: the invariants
(:func:`check_completion` / :func:`check_response`), then the content against its model."""

Checked = (
    Answer | tuple[Answer, type[pydantic.BaseModel] | None] | Validated[Any] | RepairFailedError
)
"""An answer, alone or with the model its content should meet (``None``: any text), or a repair
loop's result or failure, which knows its model and its rounds."""


def verdict(answer: Answer, schema: type[pydantic.BaseModel] | None = None) -> str:
    """What validation makes of one answer: the name of the exception it raises, or ``"accepted"``.

    The invariants are checked first (by :func:`check_completion` or :func:`check_response`),
    then, if they hold and ``schema`` is given, the content (``"ValidationError"``).
    """
    try:
        if isinstance(answer, ChatCompletion):
            check_completion(answer)
            content = answer.choices[0].message.content or ""
        else:
            check_response(answer)
            content = answer.output_text
    except InvariantError as error:
        return type(error).__name__
    if schema is not None:
        try:
            schema.model_validate_json(content)
        except pydantic.ValidationError:
            return "ValidationError"
    return "accepted"


@dataclass(frozen=True)
class Outcome:
    """One answer's verdict; ``round`` numbers the rounds of a repair loop (``None`` otherwise)."""

    name: str
    verdict: str
    round: int | None = None

    @property
    def label(self) -> str:
        return self.name if self.round is None else f"{self.name}, round {self.round}"


def validation_outcomes(
    answers: Mapping[str, Checked], *, schema: type[pydantic.BaseModel] | None = None
) -> list[Outcome]:
    """Each answer's :func:`verdict`, in order; a repair loop gives one outcome per round.

    ``answers`` maps a name to an answer (its content checked against ``schema``), to
    ``(answer, its own schema or None)``, or to what :func:`complete_validated` /
    :func:`respond_validated` returned (:class:`Validated`) or raised (:class:`RepairFailedError`).
    """
    outcomes = []
    for name, checked in answers.items():
        if isinstance(checked, (ChatCompletion, Response)):
            outcomes.append(Outcome(name, verdict(checked, schema)))
            continue
        if isinstance(checked, tuple):
            answer, own = checked
            outcomes.append(Outcome(name, verdict(answer, own)))
            continue
        if isinstance(checked, Validated):
            model, rounds = type(checked.value), [a.completion for a in checked.attempts]
            rounds.append(checked.completion)
        else:
            model, rounds = checked.schema, [a.completion for a in checked.attempts]
        outcomes += [
            Outcome(name, verdict(answer, model), number)
            for number, answer in enumerate(rounds, start=1)
        ]
    return outcomes


def plot_outcomes(outcomes: Sequence[Outcome], ax: Axes | None = None) -> Axes:
    """One row per answer, a mark in the column of its verdict; a repair loop's rounds joined."""
    import matplotlib.pyplot as plt

    if not outcomes:
        raise ValueError("no outcomes to plot")
    unknown = {o.verdict for o in outcomes} - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdicts {sorted(unknown)}; expected one of {VERDICTS}")
    ax = ax or plt.subplots(figsize=(8, 0.3 * len(outcomes) + 2.2))[1]
    colours = {"accepted": "C2", "ValidationError": "C1"}  # every invariant: C3
    column = {name: index for index, name in enumerate(VERDICTS)}
    x = [column[o.verdict] for o in outcomes]
    rows = list(range(len(outcomes)))
    for row in rows[1:]:  # consecutive rounds of one loop
        before, this = outcomes[row - 1], outcomes[row]
        if this.round is not None and this.round > 1 and before.name == this.name:
            ax.plot(
                [x[row - 1], x[row]], [row - 1, row], color="grey", linewidth=1, zorder=1,
                gid="repair",
            )  # fmt: skip
    ax.scatter(x, rows, s=90, zorder=2, color=[colours.get(o.verdict, "C3") for o in outcomes])
    counts = [sum(o.verdict == name for o in outcomes) for name in VERDICTS]
    ax.set_xticks(
        range(len(VERDICTS)),
        [f"{name} ({count})" for name, count in zip(VERDICTS, counts, strict=True)],
        rotation=25,
        ha="right",
        rotation_mode="anchor",
    )
    ax.set_yticks(rows, [o.label for o in outcomes])
    ax.set_ylim(len(outcomes) - 0.5, -0.5)  # first answer on top
    ax.set_xlim(-0.5, len(VERDICTS) - 0.5)
    content = len(VERDICTS) - 2  # the columns before it are the invariants
    ax.axvline(content - 0.5, color="grey", linewidth=1)
    top = ax.get_xaxis_transform()  # x in data, y in axes fraction
    ax.text((content - 1) / 2, 1.01, "invariants (check_completion, check_response)",
            transform=top, ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.text(content + 0.5, 1.01, "content", transform=top, ha="center", va="bottom", fontsize=8)
    ax.grid(axis="x", color="whitesmoke")
    ax.set_axisbelow(True)
    ax.set_title(f"What validation made of {len(outcomes)} answers", pad=16)
    return ax


# --- exercise -------------------------------------------------------------------------------

_REFUND = {"order_id": "ORD-104233", "amount": 24.5, "order_total": 80.0, "currency": "EUR",
           "reason": "Arrived damaged"}  # fmt: skip
_VALID_REFUNDS = [
    _REFUND,
    {**_REFUND, "order_id": "ORD-000017", "amount": 80.0, "currency": "GBP", "reason": "Late"},
]
_INVALID_REFUNDS: list[tuple[dict[str, Any], str]] = [
    # (an answer a model might give, what is wrong with it and how a model class says so)
    ({**_REFUND, "amount": -24.5}, "a negative amount: refunds are positive (Field(gt=0))"),
    ({**_REFUND, "amount": 0}, "an amount of zero: nothing to refund (Field(gt=0))"),
    ({**_REFUND, "amount": 95.0}, "an amount above the order total (a model_validator)"),
    ({**_REFUND, "currency": "euro"}, 'a currency outside "EUR", "USD", "GBP" (a Literal)'),
    ({**_REFUND, "order_id": "104233"}, "an order id without its ORD- prefix (a pattern)"),
    ({**_REFUND, "order_id": "ORD-10423"}, "an order id with five digits (a pattern)"),
    ({**_REFUND, "reason": ""}, "an empty reason (min_length=1)"),
    ({k: v for k, v in _REFUND.items() if k != "currency"}, "no currency (a required field)"),
]


def check_refund_model(model: Any) -> Feedback:
    """Exercise: ``model`` is a pydantic model class for a refund answer.

    It must accept well-formed answers and reject, with a ``ValidationError``, every answer that
    breaks the refund rules (amount positive and at most the order total, one of three
    currencies, an order id ``ORD-`` plus six digits, a reason). The feedback names the first
    answer it gets wrong, and what in the class would catch it.
    """
    name = "refund model"
    if model is None or model is NotImplemented:
        return failed(name, "still a stub: define the class `Refund` and pass it.")
    if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
        return failed(name, f"pass the class itself (a pydantic BaseModel); got {model!r}.")
    missing = [field for field in _REFUND if field not in model.model_fields]
    if missing:
        return failed(name, f"declare the answer's fields; missing: {', '.join(missing)}.")
    for answer in _VALID_REFUNDS:
        text = json.dumps(answer)
        try:
            model.model_validate_json(text)
        except pydantic.ValidationError as error:
            return failed(
                name,
                f"a valid refund was rejected: {text}\n{describe_validation_error(error)}",
            )
        except Exception as error:
            return failed(name, f"validating {text} raised {type(error).__name__}: {error}")
    for answer, wrong in _INVALID_REFUNDS:
        text = json.dumps(answer)
        try:
            model.model_validate_json(text)
        except pydantic.ValidationError:
            continue
        except Exception as error:
            return failed(
                name,
                f"validating {text} raised {type(error).__name__}: {error}; raise ValueError in "
                "a validator so pydantic reports a ValidationError.",
            )
        return failed(name, f"accepted {wrong}: {text}")
    cases = len(_VALID_REFUNDS) + len(_INVALID_REFUNDS)
    return passed(name, f"all {cases} answers accepted or rejected as they should be.")
