"""Request settings per deployment profile, turned into arguments each model family accepts.

Use it when one application talks to more than one deployment (today's default
reasoning models, an earlier standard one) and each needs different request arguments:

    profile = load_profile("chat")                  # AZURE_OPENAI_CHAT_* from .env
    client.chat.completions.create(messages=msgs, **profile.chat_arguments())
    v1_client.responses.create(input=items, **profile.responses_arguments())

The two families differ in what Azure accepts:

============================  ===========================  ===============================
setting                       ``standard`` (gpt-4o, 4.1)   ``reasoning`` (o-series, GPT-5)
============================  ===========================  ===============================
output limit                  ``max_completion_tokens``    ``max_completion_tokens`` only
                                                           (``max_tokens`` is a 400)
``temperature``, ``top_p``,   accepted                     400 unless left unset (1)
penalties
``reasoning_effort``          400                          accepted
============================  ===========================  ===============================

(1) OpenAI's GPT-5.1 guide (as quoted in vercel/ai#10932) says gpt-5.1 takes
``temperature``, ``top_p`` and ``logprobs`` when the effort is ``none``; Learn's *Azure
OpenAI reasoning models* page lists them as unsupported with no such exception, and nothing
is stated for gpt-5.4. This module follows Learn and rejects them for the ``reasoning``
family.

Which dated api-version a reasoning model needs is not stated here: the project records on
2025-04-01-preview, and the v1 API (``{endpoint}/openai/v1/``) takes none. Which efforts a
deployment takes depends on its model, and Azure answers 400 to the others: gpt-5.4-mini
(today's default) takes ``none``, ``low``, ``medium``, ``high`` and ``xhigh``, not the
2025-08-07 GPT-5 models' ``minimal``; on Chat Completions its function tools need ``none``
(or no effort at all).
The Responses API has no ``seed`` and no penalties, so
:meth:`GenerationProfile.responses_arguments` leaves them out.

``max_tokens`` is never produced: it is deprecated for every chat model and
rejected by reasoning models, and ``max_completion_tokens`` works for both
(api-version 2024-09-01-preview and later). Unset settings are left out of the
arguments, never sent as ``null``; ``0`` is a value and is kept.

**Why plain pydantic, not pydantic-settings.** :mod:`helpers._support.settings` already
reads ``.env`` (python-dotenv) for the connection; this module reuses that
load and only maps ``AZURE_OPENAI_<PROFILE>_<SETTING>`` variables onto a
pydantic model. pydantic-settings would be a second ``.env`` loader, and a new
dependency, for a prefix lookup. Validation errors name the variable that is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

import pydantic
from openai.lib import type_to_response_format_param
from openai.types.chat.completion_create_params import ResponseFormat
from openai.types.responses import ResponseTextConfigParam
from openai.types.shared_params import Reasoning, ResponseFormatJSONSchema
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._support.errors import CookbookError
from ._support.exercises import Feedback, failed, passed
from ._support.settings import Settings

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "SAMPLING_SETTINGS",
    "ChatArguments",
    "ConfigError",
    "GenerationProfile",
    "ModelFamily",
    "ReasoningEffort",
    "ResponsesArguments",
    "check_responses_kwargs",
    "env_name",
    "load_profile",
    "plot_refusals",
]

ModelFamily = Literal["standard", "reasoning"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
"""Every effort some reasoning model takes; each model takes a subset (see the module docstring)."""

SAMPLING_SETTINGS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
"""Settings reasoning models reject (Microsoft Learn, "Azure OpenAI reasoning models": not
supported are temperature, top_p, presence_penalty, frequency_penalty, logprobs, top_logprobs,
logit_bias and max_tokens; the last four are not settings here)."""


class ConfigError(CookbookError, ValueError):
    """A profile setting is invalid; the message names the setting (or its variable)."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


class ChatArguments(TypedDict, total=False):
    """Keyword arguments for ``chat.completions.create`` / ``parse`` (besides ``messages``)."""

    model: str
    max_completion_tokens: int
    temperature: float
    top_p: float
    presence_penalty: float
    frequency_penalty: float
    seed: int
    reasoning_effort: ReasoningEffort
    response_format: ResponseFormat


class ResponsesArguments(TypedDict, total=False):
    """Keyword arguments for ``responses.create`` (besides ``input``)."""

    model: str
    max_output_tokens: int
    temperature: float
    top_p: float
    reasoning: Reasoning
    text: ResponseTextConfigParam


class GenerationProfile(BaseModel):
    """How to call one deployment: its model family and the settings you chose for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deployment: str = Field(min_length=1)
    """The Azure deployment name, sent as ``model=``."""
    family: ModelFamily = "standard"
    max_output_tokens: int | None = Field(default=None, ge=1)
    """Upper bound on generated tokens (reasoning tokens included, for reasoning models)."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None
    reasoning_effort: ReasoningEffort | None = None

    @model_validator(mode="after")
    def _fits_the_family(self) -> GenerationProfile:
        if self.family == "reasoning":
            for name in SAMPLING_SETTINGS:
                if getattr(self, name) is not None:
                    raise ConfigError(
                        name,
                        f"reasoning models accept no {name}; leave it unset "
                        "(steer them with reasoning_effort instead)",
                    )
        elif self.reasoning_effort is not None:
            raise ConfigError(
                "reasoning_effort",
                "only reasoning models accept reasoning_effort; set family to 'reasoning' "
                "or leave it unset",
            )
        return self

    def _set(self, *names: str) -> dict[str, Any]:
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def chat_arguments(
        self, response_format: type[BaseModel] | ResponseFormat | None = None
    ) -> ChatArguments:
        """Arguments for chat completions; a pydantic model becomes a strict ``json_schema``.

        (``chat.completions.parse`` takes the model class itself: pass it there as
        ``response_format`` and leave it out here.)
        """
        args: dict[str, Any] = {"model": self.deployment}
        if self.max_output_tokens is not None:
            args["max_completion_tokens"] = self.max_output_tokens
        args.update(self._set(*SAMPLING_SETTINGS, "seed", "reasoning_effort"))
        if response_format is not None:
            if isinstance(response_format, type) and issubclass(response_format, BaseModel):
                args["response_format"] = type_to_response_format_param(response_format)
            else:
                args["response_format"] = response_format
        return ChatArguments(**args)  # type: ignore[typeddict-item]

    def responses_arguments(self, text_format: type[BaseModel] | None = None) -> ResponsesArguments:
        """Arguments for the Responses API: ``max_output_tokens``, ``reasoning={effort}``,
        and ``text.format`` (a strict ``json_schema``) for a pydantic model."""
        args: dict[str, Any] = {"model": self.deployment}
        if self.max_output_tokens is not None:
            args["max_output_tokens"] = self.max_output_tokens
        args.update(self._set("temperature", "top_p"))
        if self.reasoning_effort is not None:
            args["reasoning"] = {"effort": self.reasoning_effort}
        if text_format is not None:
            # For a class the SDK always builds a json_schema format; its hints say any format.
            built = cast(ResponseFormatJSONSchema, type_to_response_format_param(text_format))
            spec = built["json_schema"]
            args["text"] = {
                "format": {
                    "type": "json_schema",
                    "name": spec["name"],
                    "schema": spec["schema"],
                    "strict": True,
                }
            }
        return ResponsesArguments(**args)  # type: ignore[typeddict-item]


PROFILE_FIELDS = tuple(GenerationProfile.model_fields)


def env_name(profile: str, setting: str) -> str:
    """The variable that holds a profile's setting: ``AZURE_OPENAI_<PROFILE>_<SETTING>``."""
    return f"AZURE_OPENAI_{profile.upper()}_{setting.upper()}"


def load_profile(
    name: str, *, environ: Mapping[str, str] | None = None, dotenv: bool = True
) -> GenerationProfile:
    """The profile ``name`` from ``AZURE_OPENAI_<NAME>_*`` variables (``.env`` read first).

    ``AZURE_OPENAI_CHAT_DEPLOYMENT`` is both the connection's chat deployment and
    the ``chat`` profile's deployment. ``environ`` replaces ``os.environ`` (tests).
    Empty variables count as unset. Errors name the variable.
    """
    if not name.isidentifier():
        raise ValueError(f"Profile names are letters, digits and '_', got {name!r}")
    if environ is None:
        Settings.from_env(dotenv=dotenv)  # loads .env into os.environ, real variables win
        environ = os.environ
    values = {
        field: environ[env_name(name, field)].strip()
        for field in PROFILE_FIELDS
        if environ.get(env_name(name, field), "").strip()
    }
    if "deployment" not in values:
        raise ConfigError(env_name(name, "deployment"), "not set; name the Azure deployment")
    try:
        return GenerationProfile.model_validate(values)
    except pydantic.ValidationError as error:
        first = error.errors(include_url=False)[0]
        setting = str(first["loc"][0]) if first["loc"] else ""
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, ConfigError):
            setting, message = cause.setting, str(cause).split(": ", 1)[1]
        else:
            message = f"{first['msg']} (got {first['input']!r})"
        raise ConfigError(env_name(name, setting), message) from None


# --- exercise -------------------------------------------------------------------------------

_KWARGS_CASES: list[tuple[str, ModelFamily, dict[str, Any], dict[str, Any] | str]] = [
    # (case, family, settings, the expected arguments or the setting a ValueError must name)
    (
        "a reasoning profile with a token limit and an effort",
        "reasoning",
        {"deployment": "gpt-5.4-mini", "max_output_tokens": 800, "reasoning_effort": "low",
         "temperature": None, "top_p": None},
        {"model": "gpt-5.4-mini", "max_output_tokens": 800, "reasoning": {"effort": "low"}},
    ),
    (
        "a standard profile with temperature 0",
        "standard",
        {"deployment": "gpt-4.1-mini", "max_output_tokens": None, "reasoning_effort": None,
         "temperature": 0.0, "top_p": None},
        {"model": "gpt-4.1-mini", "temperature": 0.0},
    ),
    (
        "a reasoning profile with temperature 0.7",
        "reasoning",
        {"deployment": "gpt-5.4-mini", "max_output_tokens": None, "reasoning_effort": None,
         "temperature": 0.7, "top_p": None},
        "temperature",
    ),
    (
        "a standard profile with a reasoning effort",
        "standard",
        {"deployment": "gpt-4.1-mini", "max_output_tokens": 300, "reasoning_effort": "low",
         "temperature": None, "top_p": None},
        "reasoning_effort",
    ),
]  # fmt: skip


def _kwargs_hints(got: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    hints = [f"leave out {k!r}: never send null for 'not set'" for k, v in got.items() if v is None]
    if "max_completion_tokens" in got or "max_tokens" in got:
        hints.append("the Responses API names the limit 'max_output_tokens'")
    if "reasoning_effort" in got:
        hints.append("the Responses API takes reasoning={'effort': ...}, not 'reasoning_effort'")
    for key, value in expected.items():
        if key not in got and not value:
            hints.append(f"{key!r} is {value!r}, a value: test `is not None`, not truthiness")
    return hints


def check_responses_kwargs(
    function: Callable[[ModelFamily, dict[str, Any]], dict[str, Any]],
) -> Feedback:
    """Exercise: ``function(family, settings)`` turns a profile's settings into keyword arguments
    for ``responses.create``, or raises ``ValueError`` naming a setting the family rejects.

    ``settings`` holds ``deployment``, ``max_output_tokens``, ``reasoning_effort``,
    ``temperature`` and ``top_p``, each possibly None. The feedback names the case, the
    arguments that came back, and which rule of the notebook they break.
    """
    name = "responses arguments"
    for case, family, settings, expected in _KWARGS_CASES:
        try:
            got = function(family, dict(settings))
        except NotImplementedError:
            return failed(name, "still a stub: replace `raise NotImplementedError` with your code.")
        except ValueError as error:
            if isinstance(expected, str) and expected in str(error):
                continue
            if isinstance(expected, str):
                return failed(
                    name, f"for {case}, the ValueError must name {expected!r}; it says {error}."
                )
            return failed(name, f"for {case}, nothing is wrong, but your function raised {error}.")
        except Exception as error:
            return failed(name, f"your function raised {type(error).__name__}: {error}")
        if isinstance(expected, str):
            why = (
                "reasoning deployments answer 400 to sampling settings"
                if family == "reasoning"
                else "standard models do not reason and reject reasoning settings"
            )
            return failed(
                name,
                f"for {case}, raise ValueError naming {expected!r} before sending ({why}); "
                f"you returned {got!r}.",
            )
        if got != expected:
            hints = _kwargs_hints(got if isinstance(got, dict) else {}, expected)
            detail = f": {'; '.join(hints)}" if hints else ""
            return failed(name, f"for {case}, you returned {got!r}, expected {expected!r}{detail}.")
    return passed(name, f"all {len(_KWARGS_CASES)} profiles handled as Azure expects.")


# --- picture --------------------------------------------------------------------------------

OUTCOME_COLOURS = {
    "accepted": "C2",
    "unsupported_value": "C1",
    "unsupported_parameter": "C3",
    "unknown_parameter": "lightgrey",
}
"""The colour of each outcome in :func:`plot_refusals`; any other error code is drawn in C4."""


def plot_refusals(
    outcomes: Mapping[tuple[str, str], str], ax: Axes | None = None, *, deployment: str = ""
) -> Axes:
    """A grid, one row per argument and one column per API, each cell the outcome of one request.

    ``outcomes`` maps ``(argument, API)`` to ``"accepted"`` or the error code Azure answered
    (``unsupported_parameter``, ``unsupported_value``, ...). Rows and columns keep the order in
    which they first appear; every argument needs an outcome on every API.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if not outcomes:
        raise ValueError("no outcomes to plot")
    arguments = list(dict.fromkeys(argument for argument, _ in outcomes))
    apis = list(dict.fromkeys(api for _, api in outcomes))
    missing = [(a, api) for a in arguments for api in apis if (a, api) not in outcomes]
    if missing:
        raise ValueError(f"no outcome for {missing}: send every argument to every API")
    ax = ax or plt.subplots(figsize=(2.4 * len(apis) + 1.6, 0.45 * len(arguments) + 1.2))[1]
    for row, argument in enumerate(arguments):
        for column, api in enumerate(apis):
            outcome = outcomes[argument, api]
            ax.add_patch(
                Rectangle(
                    (column - 0.5, row - 0.5), 1, 1, gid=f"{argument}|{api}",
                    facecolor=OUTCOME_COLOURS.get(outcome, "C4"), edgecolor="white", linewidth=2,
                )
            )  # fmt: skip
            dark = outcome in ("unsupported_parameter",)
            ax.text(column, row, outcome, ha="center", va="center",
                    color="white" if dark else "black")  # fmt: skip
    ax.set_xticks(range(len(apis)), apis)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(arguments)), arguments)
    ax.set_xlim(-0.5, len(apis) - 0.5)
    ax.set_ylim(len(arguments) - 0.5, -0.5)  # first argument on top
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    on = f" {deployment}" if deployment else ""
    ax.set_title(f"What{on} answered to each argument, sent alone", pad=22)
    return ax
