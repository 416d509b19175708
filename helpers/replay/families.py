"""What each model family accepts: the 400s a reasoning model sends where a GPT-4o would not.

Reasoning models (GPT-5 family, o-series) take ``max_completion_tokens`` (chat) or
``max_output_tokens`` (Responses), a ``reasoning_effort`` from their own list, and
only the default sampling parameters. Standard models take no reasoning effort.

Sources for Azure's (OpenAI's) wording, as the tests name them:
* ``max_tokens``: "Unsupported parameter: 'max_tokens' is not supported with this model.
  Use 'max_completion_tokens' instead." (shared/docs/azure-wire-facts.md, from public captures).
* ``temperature`` on chat: "Unsupported value: 'temperature' does not support 0.1 with this
  model. Only the default (1) value is supported.", code ``unsupported_value``
  (microsoft/vscode#255504, NVlabs/cvdp_benchmark#29).
* ``temperature`` on Responses: "Unsupported parameter: 'temperature' is not supported with
  this model." (OpenHands/software-agent-sdk#992, gpt-5-2025-08-07).
The other parameters follow the same two patterns; their exact wording is the server's.
"""

from __future__ import annotations

from typing import Any

from .config import Deployment
from .errors import AzureError, invalid_request

SAMPLING_DEFAULTS: dict[str, float] = {
    "temperature": 1,
    "top_p": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
}


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


def check_chat(body: dict[str, Any], deployment: Deployment) -> None:
    """Chat completions: the family's own 400s (run after the generic validation)."""
    check_effort("reasoning_effort", body.get("reasoning_effort"), deployment)
    if not deployment.is_reasoning:
        return
    if body.get("max_tokens") is not None:
        raise unsupported_parameter("max_tokens", " Use 'max_completion_tokens' instead.")
    for name, default in SAMPLING_DEFAULTS.items():
        value = body.get(name)
        if value is not None and value != default:
            raise unsupported_value(name, value, default)
    if body.get("logprobs"):
        raise unsupported_parameter("logprobs")


def check_responses(body: dict[str, Any], deployment: Deployment) -> None:
    """Responses API: the family's own 400s."""
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    check_effort("reasoning.effort", effort, deployment)
    if not deployment.is_reasoning:
        return
    for name, default in SAMPLING_DEFAULTS.items():
        value = body.get(name)
        if value is not None and value != default:
            raise unsupported_parameter(name)
