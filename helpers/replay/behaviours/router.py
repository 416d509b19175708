"""Model router: each request to a router deployment is answered by one model of its subset.

Azure's model router (Microsoft Learn, "Model router for Microsoft Foundry concepts") is a
trained model that picks an underlying model per prompt; the answer's ``model`` names the model
that answered ("How to use model router", *Output format*). How it picks is Azure's and not
published beyond the routing modes. **The rule here is the simulator's own, not Azure's**: it is
deterministic so that recordings and tests are stable:

* a reasoning effort of ``medium`` or more, or a prompt of more than
  :data:`LONG_PROMPT_CHARACTERS` characters of text, goes to the last (most capable) model of the
  deployment's ``routes_to``;
* anything else goes to the first (cheapest).

The pipeline swaps the router deployment for the answering model's before validation, so a
request is checked against the model that answers it (its efforts, its limits), and every
simulated answer carries that model's dated name. Learn: "If model router selects a reasoning
model for your prompt, it ignores the Temperature and Top_P input parameters", and ``stop``,
``presence_penalty``, ``frequency_penalty``, ``logit_bias`` and ``logprobs`` "are similarly
dropped": :data:`IGNORED_BY_REASONING_MODELS`, which the family checks skip for a routed request.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import Deployment

LONG_PROMPT_CHARACTERS = 600
"""The simulator's threshold (not Azure's): longer prompts go to the most capable model."""

HEAVY_EFFORTS = frozenset({"medium", "high", "xhigh"})
"""Efforts the simulator routes to the most capable model (not Azure's rule)."""

IGNORED_BY_REASONING_MODELS = frozenset(
    {"temperature", "top_p", "stop", "presence_penalty", "frequency_penalty", "logit_bias",
     "logprobs"}
)  # fmt: skip
"""Parameters Learn says model router drops when it routes to a reasoning model."""


def _effort(body: dict[str, Any]) -> Any:
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        return reasoning.get("effort")
    return body.get("reasoning_effort")


def _prompt_text(body: dict[str, Any]) -> int:
    """Characters of the request's text: messages (chat), input and instructions (Responses)."""
    parts = [body.get("messages"), body.get("input"), body.get("instructions")]
    return sum(len(p) if isinstance(p, str) else len(json.dumps(p)) for p in parts if p)


def choose(deployment: Deployment, body: Any) -> str:
    """The model (dated name) of ``deployment.routes_to`` that answers ``body``."""
    body = body if isinstance(body, dict) else {}
    heavy = _effort(body) in HEAVY_EFFORTS or _prompt_text(body) > LONG_PROMPT_CHARACTERS
    return deployment.routes_to[-1] if heavy else deployment.routes_to[0]


def answering(deployment: Deployment, body: Any) -> Deployment:
    """The deployment as the model that answers ``body`` sees it: the same quotas, filter and
    faults, with the answering model's name, family and efforts (from the catalogue)."""
    model = choose(deployment, body)
    settings = deployment.model_dump(
        exclude={"model", "family", "reasoning_efforts", "routes_to", "dimensions"},
        exclude_unset=False,
    )
    return Deployment.model_validate({**settings, "model": model, "routed_by": deployment.model})
