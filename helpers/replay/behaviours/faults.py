"""Fault injection and latency: what a busy Azure region does to a well-formed request.

Off unless configured (``faults`` / ``latency`` in the config file, ``--faults`` /
``--latency`` on the command line, per deployment or for all), or forced for one
request with the header ``x-replay-fault: <kind>`` so a notebook can show each
failure on purpose. Kinds:

* ``500``, ``503``, ``408``: Azure-shaped error bodies (``InternalServerError``,
  ``ServiceUnavailable``, ``Timeout``); the exact wording is the server's;
* ``429``: the rate-limit answer with ``retry-after`` and ``retry-after-ms``;
* ``403`` (forced only, never drawn at random): the answer Azure gives a caller its network
  rules do not admit, in the body and ``policy-id`` header a public report shows
  (Azure-Samples/azure-sql-db-chatbot#3, 2025-04-23);
* ``reset``: the TCP connection is reset before any answer;
* ``hang``: no answer until the client gives up (its timeout);
* ``cut``: a stream stops halfway without ``[DONE]`` (a JSON answer is reset instead).

Random faults are drawn from a generator seeded with the server's seed, so a run is
repeatable; ``reset()`` (with the server) starts the sequence again. So is latency with a
``spread``: each answer's time to first token is drawn from a log-normal distribution (its own
seeded generator), and the delay added before the answer's body is sent back in the
simulator's header ``x-replay-delay-ms`` (Azure sends no such header), so a notebook can show
the delays it configured next to the ones it measured.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from typing import Literal

from ..config import Faults, Latency
from ..context import Reply
from ..errors import AzureError, rate_limited

FaultKind = Literal["500", "503", "408", "429", "403", "reset", "hang", "cut"]
FAULT_KINDS: tuple[FaultKind, ...] = ("500", "503", "408", "429", "403", "reset", "hang", "cut")
FAULT_HEADER = "x-replay-fault"
DELAY_HEADER = "x-replay-delay-ms"
MAX_DELAY = 600.0
"""The longest time to first token a draw may give, in seconds (``Latency``'s own bound)."""


class FaultInjector:
    """Draws faults for requests, repeatably."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def reset(self) -> None:
        with self._lock:
            self._random = random.Random(self._seed)

    def draw(self, faults: Faults | None) -> FaultKind | None:
        if faults is None or faults.probability <= 0:
            return None
        with self._lock:
            if self._random.random() >= faults.probability:
                return None
            return self._random.choice(list(faults.kinds))


class LatencyDraws:
    """Draws each answer's time to first token, repeatably (its own generator, not the faults')."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._random = random.Random(f"latency-{seed}")

    def reset(self) -> None:
        with self._lock:
            self._random = random.Random(f"latency-{self._seed}")

    def first_token(self, latency: Latency) -> float:
        """Seconds before the first token: the median, or a log-normal draw around it."""
        median = latency.time_to_first_token_ms / 1000
        if latency.spread <= 0 or median <= 0:
            return median
        with self._lock:
            factor = self._random.lognormvariate(0.0, latency.spread)
        return min(MAX_DELAY, median * factor)


def error_for(kind: FaultKind, operation: str, api_version: str | None) -> AzureError | None:
    """The Azure-shaped error for an HTTP-status fault, or ``None`` for connection faults."""
    if kind == "500":
        return AzureError(
            500,
            {
                "error": {
                    "code": "InternalServerError",
                    "message": "The server had an error while processing your request. "
                    "(simulated fault)",
                }
            },
        )
    if kind == "503":
        return AzureError(
            503,
            {
                "error": {
                    "code": "ServiceUnavailable",
                    "message": "The service is temporarily unable to process your request. "
                    "Please try again later. (simulated fault)",
                }
            },
            headers={"retry-after": "1", "retry-after-ms": "1000"},
        )
    if kind == "408":
        return AzureError(
            408,
            {"error": {"code": "Timeout", "message": "The operation was timeout. (simulated)"}},
        )
    if kind == "429":
        headers = {"retry-after": "1", "retry-after-ms": "1000"}
        return rate_limited(operation, api_version, 1.0, headers)
    if kind == "403":
        return AzureError(
            403,
            {
                "error": {
                    "code": "403",
                    "message": "Access denied due to Virtual Network/Firewall rules.",
                }
            },
            headers={"policy-id": "ThrowExceptionDueToTrafficDenied"},
        )
    return None


def apply_fault(kind: FaultKind, reply: Reply) -> Reply:
    """Turn an answer into its connection-level fault."""
    if kind == "cut" and reply.events is not None:
        reply.events = reply.events[: max(1, len(reply.events) // 2)]
        reply.stream_end = "cut"
        return reply
    reply.fault = "hang" if kind == "hang" else "reset"
    return reply


def apply_latency(
    latency: Latency | None, reply: Reply, draws: LatencyDraws | None = None
) -> Reply:
    """Pace an answer: time to first token, then a delay per token (events or whole body).

    ``draws`` varies the time to first token when ``latency.spread`` is set; the delay before
    the body (a stream's first event, or a whole JSON answer) goes in ``x-replay-delay-ms``.
    """
    if latency is None or reply.status >= 400 or reply.fault is not None:
        return reply
    if draws is not None:
        first = draws.first_token(latency)
    else:
        first = latency.time_to_first_token_ms / 1000
    per_token = latency.per_token_ms / 1000
    if reply.events is not None:
        reply.events = [
            type(event)(event.data, first if n == 0 else per_token, event.event)
            for n, event in enumerate(reply.events)
        ]
        reply.headers[DELAY_HEADER] = f"{first * 1000:.1f}"
        return reply
    body = reply.json
    if body is None and reply.content and (reply.content_type or "").startswith("application/json"):
        with contextlib.suppress(ValueError):
            body = json.loads(reply.content)  # a recorded answer served as prepared bytes
    usage = body.get("usage") if isinstance(body, dict) else None
    tokens = 0
    if isinstance(usage, dict):
        tokens = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
    reply.delay = first + per_token * tokens
    reply.headers[DELAY_HEADER] = f"{reply.delay * 1000:.1f}"
    return reply
