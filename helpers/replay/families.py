"""What each model family accepts: the 400s a reasoning model sends where a GPT-4o would not.

Reasoning models (GPT-5 family, o-series) take ``max_completion_tokens`` (chat) or
``max_output_tokens`` (Responses), a ``reasoning_effort`` from their own list, and
only the default sampling parameters. Standard models take no reasoning effort.

The rules come from the model catalogue (``helpers/data/models.yaml``, section ``families``,
and each model's entry): which parameters a family fixes at their default, which it rejects,
which sampling parameters a model accepts when its effort is ``none`` (gpt-5.1 and later), and
whether it takes function tools with a reasoning effort on Chat Completions (gpt-5.6 does not:
Microsoft Learn, "Foundry Models sold by Azure", 2026-08-26 copy: "These models support the
Chat Completions API and function tools, but not both at the same time unless
reasoning_effort is none"). A deployment of a model the catalogue does not know follows its
family's rules alone.

Sources for Azure's (OpenAI's) wording, as the tests name them:
* ``max_tokens``: "Unsupported parameter: 'max_tokens' is not supported with this model.
  Use 'max_completion_tokens' instead." (shared/docs/azure-wire-facts.md, from public captures).
* ``temperature`` on chat: "Unsupported value: 'temperature' does not support 0.1 with this
  model. Only the default (1) value is supported.", code ``unsupported_value``
  (microsoft/vscode#255504, NVlabs/cvdp_benchmark#29).
* ``temperature`` on Responses: "Unsupported parameter: 'temperature' is not supported with
  this model." (OpenHands/software-agent-sdk#992, gpt-5-2025-08-07).
* function tools with a reasoning effort on gpt-5.6: "Function tools with reasoning_effort are
  not supported for gpt-5.6-sol in /v1/chat/completions. To use function tools, use
  /v1/responses or set reasoning_effort to 'none'." (Microsoft Learn, "Azure OpenAI reasoning
  models", as quoted in public reports, e.g. danny-avila/LibreChat#14231, with ``param``
  ``reasoning_effort`` and ``code`` null).
The other parameters follow the same two patterns; their exact wording is the server's.
"""

from __future__ import annotations

from typing import Any

from .._support.models import ModelVersion, catalogue
from .behaviours.router import IGNORED_BY_REASONING_MODELS
from .config import Deployment
from .errors import AzureError, invalid_request

SAMPLING_DEFAULTS: dict[str, float] = dict(catalogue().families["reasoning"].default_only.value)
"""Sampling parameters a reasoning model accepts only at their default value (catalogue)."""

REASONING_REJECTS: tuple[str, ...] = catalogue().families["reasoning"].rejected.value
"""Parameters a reasoning model rejects on Chat Completions (catalogue)."""


def _quote_list(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def unsupported_parameter(name: str, hint: str = "") -> AzureError:
    return invalid_request(
        f"Unsupported parameter: '{name}' is not supported with this model.{hint}",
        param=name,
        code="unsupported_parameter",
    )


def unsupported_value(name: str, value: Any, default: float) -> AzureError:
    return invalid_request(
        f"Unsupported value: '{name}' does not support {value} with this model. "
        f"Only the default ({default:g}) value is supported.",
        param=name,
        code="unsupported_value",
    )


def check_effort(name: str, effort: Any, deployment: Deployment) -> None:
    if effort is None:
        return
    if not deployment.is_reasoning:
        raise unsupported_parameter(name)
    if effort not in deployment.reasoning_efforts:
        raise invalid_request(
            f"Unsupported value: '{name}' does not support '{effort}' with this model. "
            f"Supported values are: {_quote_list(deployment.reasoning_efforts)}.",
            param=name,
            code="unsupported_value",
        )


def _model(deployment: Deployment) -> ModelVersion | None:
    return catalogue().find(deployment.model)


def _open_sampling(model: ModelVersion | None, effort: Any) -> frozenset[str]:
    """Sampling parameters the model accepts with any value at this effort (none: gpt-5.1+)."""
    if model is None:
        return frozenset()
    if effort is None and model.default_effort is not None:
        effort = model.default_effort.value
    accepted = model.sampling_with_effort_none.value if model.sampling_with_effort_none else None
    return frozenset(accepted) if effort == "none" and accepted else frozenset()


def _routed(deployment: Deployment) -> frozenset[str]:
    """Parameters a model router drops, rather than refuses, for a reasoning model (Learn)."""
    return IGNORED_BY_REASONING_MODELS if deployment.routed_by else frozenset()


def _function_tools(body: dict[str, Any]) -> bool:
    tools = body.get("tools")
    return isinstance(tools, list) and any(
        isinstance(t, dict) and t.get("type") == "function" for t in tools
    )


def _no_tools_with_reasoning(model: ModelVersion, effort: Any) -> bool:
    """True when the model refuses function tools on Chat Completions at this effort."""
    fact = model.chat_tools_with_reasoning
    if fact is None or fact.value is not False:
        return False
    if effort is None:
        # No effort sent: the model's default decides; where the default is not known (gpt-5.4),
        # the request is answered, as a live check on OpenAI's API found (catalogue note).
        default = model.default_effort.value if model.default_effort is not None else None
        if default is None:
            return False
        effort = default
    return effort != "none"


def check_chat(body: dict[str, Any], deployment: Deployment) -> None:
    """Chat completions: the family's own 400s (run after the generic validation)."""
    effort = body.get("reasoning_effort")
    check_effort("reasoning_effort", effort, deployment)
    if not deployment.is_reasoning:
        return
    model = _model(deployment)
    open_sampling = _open_sampling(model, effort) | _routed(deployment)
    if "max_tokens" in REASONING_REJECTS and body.get("max_tokens") is not None:
        raise unsupported_parameter("max_tokens", " Use 'max_completion_tokens' instead.")
    for name, default in SAMPLING_DEFAULTS.items():
        value = body.get(name)
        if value is not None and value != default and name not in open_sampling:
            raise unsupported_value(name, value, default)
    for name in REASONING_REJECTS:
        if name != "max_tokens" and body.get(name) and name not in open_sampling:
            raise unsupported_parameter(name)
    if model is not None and _function_tools(body) and _no_tools_with_reasoning(model, effort):
        raise invalid_request(
            f"Function tools with reasoning_effort are not supported for {model.model} "
            "in /v1/chat/completions. To use function tools, use /v1/responses or set "
            "reasoning_effort to 'none'.",
            param="reasoning_effort",
            code=None,
        )


def check_responses(body: dict[str, Any], deployment: Deployment) -> None:
    """Responses API: the family's own 400s."""
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    check_effort("reasoning.effort", effort, deployment)
    if not deployment.is_reasoning:
        return
    open_sampling = _open_sampling(_model(deployment), effort) | _routed(deployment)
    for name, default in SAMPLING_DEFAULTS.items():
        value = body.get(name)
        if value is not None and value != default and name not in open_sampling:
            raise unsupported_parameter(name)
