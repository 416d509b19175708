"""Per-deployment rate limits, evaluated the way Microsoft Learn describes them.

Source: Microsoft Learn, "Manage Azure OpenAI in Microsoft Foundry Models quota", section
"Understanding rate limits" (formerly "Manage Azure OpenAI Service quota"):

* **Requests per minute** are "evaluated over a small period of time, typically 1 or 10
  seconds. If the number of requests received during that time exceeds what would be
  expected at the set RPM limit, then new requests receive a 429 response code until the
  next evaluation period. For example, if Azure OpenAI is monitoring request rate on
  1-second intervals, then rate limiting occurs for a 600-RPM deployment if more than 10
  requests are received during each 1-second period."
* **Tokens per minute**: "As each request is received, Azure OpenAI computes an estimated
  max processed-token count" (prompt, ``max_tokens``, ``best_of``; see
  :func:`helpers._support.counting.quota_charge`) that "is added to a running token count
  of all requests that is reset each minute. If at any time during that minute, the TPM rate
  limit value is reached, then further requests will receive a 429 response code until the
  counter resets."
* The same page's table of response headers: ``x-ratelimit-limit-requests`` /
  ``-tokens`` are the per-minute limits, ``x-ratelimit-remaining-requests`` / ``-tokens``
  what is left "before hitting the rate limit", and a 429 carries ``retry-after-ms``.

So this limiter keeps, per deployment, fixed evaluation periods counted from the
deployment's first request (after a reset): short windows of ``window`` seconds (1 by
default, or 10) for requests, and minutes for tokens. A window admits the requests expected
at the RPM over it; where that is not a whole number (a 400-RPM deployment expects 6.67 a
second, a 6-RPM one 0.1) Learn gives no rule, and the server rounds up and also holds the
minute to the RPM, so a deployment admits exactly its RPM each minute and at least one
request per window. A request the limiter refuses is not counted (Azure did not process
it); one it admits is counted on arrival whatever its outcome (a 500 behind the door
included). ``retry-after-ms`` is the time until the evaluation period that blocks it ends,
so a client that waits exactly that long is admitted (when nothing else got there first).
Everything runs on an injected clock, so tests need no sleeps.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Clock = Callable[[], float]
MAX_CHARGE = 2**53
"""The most tokens one request is charged: a count beyond what a float holds exactly (or at
all, for a 400-digit ``max_tokens``) could not be compared with a quota."""
MINUTE = 60.0
WINDOWS = (1.0, 10.0)
"""The evaluation periods Learn names for requests per minute ("typically 1 or 10 seconds")."""
EDGE = 1e-6
"""Seconds of float noise forgiven at a period's edge: a client that waits ``retry-after-ms``
on a clock of large floats lands a rounding error short of the boundary it was sent to."""


def requests_per_window(requests_per_minute: int, window: float) -> int:
    """Requests a window admits: those expected at the RPM over it, rounded up, at least one."""
    return max(1, math.ceil(requests_per_minute * window / MINUTE - 1e-9))


@dataclass
class Usage:
    """What one deployment has been charged in its current evaluation periods."""

    epoch: float
    """The deployment's first request: periods are counted from here."""
    window: int = 0
    window_requests: int = 0
    minute: int = 0
    minute_requests: int = 0
    minute_tokens: int = 0

    def roll(self, now: float, window: float) -> None:
        """Start new periods if ``now`` is past the current ones (their counters reset)."""
        elapsed = max(0.0, now - self.epoch) + EDGE
        current_window = math.floor(elapsed / window)
        current_minute = math.floor(elapsed / MINUTE)
        if current_window != self.window:
            self.window, self.window_requests = current_window, 0
        if current_minute != self.minute:
            self.minute, self.minute_requests, self.minute_tokens = current_minute, 0, 0


@dataclass(frozen=True)
class Arrival:
    """One request as the limiter saw it (kept when ``keep_history`` is on)."""

    at: float
    deployment: str
    tokens: int
    allowed: bool


@dataclass
class Decision:
    """The outcome of one request against a deployment's quota."""

    allowed: bool
    remaining_requests: int
    remaining_tokens: int
    limit_requests: int
    limit_tokens: int
    retry_after: float = 0.0
    exceeded: Literal["call", "token"] = "call"
    """Which limit a refused request hit: requests ("call rate limit") or tokens."""

    def headers(self) -> dict[str, str]:
        headers = {
            "x-ratelimit-limit-requests": str(self.limit_requests),
            "x-ratelimit-limit-tokens": str(self.limit_tokens),
            "x-ratelimit-remaining-requests": str(self.remaining_requests),
            "x-ratelimit-remaining-tokens": str(self.remaining_tokens),
        }
        if not self.allowed:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after)))
            headers["retry-after-ms"] = str(max(1, math.ceil(self.retry_after * 1000)))
        return headers


@dataclass
class RateLimiter:
    """Fixed evaluation periods per deployment; ``enforce`` turns a full one into a 429.

    ``window`` is the requests' evaluation period in seconds (1 or 10, as Learn says).
    ``keep_history`` records every arrival in :attr:`history` (benchmarks read it).
    """

    clock: Clock = time.monotonic
    enforce: bool = False
    window: float = 1.0
    keep_history: bool = False
    history: list[Arrival] = field(default_factory=list)
    _usage: dict[str, Usage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise ValueError(f"window must be 1 or 10 seconds (Learn's periods), got {self.window}")

    def check(self, deployment: str, rpm: int, tpm: int, tokens: int) -> Decision:
        """Charge one request of ``tokens`` tokens (clamped to ``[0, MAX_CHARGE]``)."""
        tokens = max(0, min(int(tokens), MAX_CHARGE))
        now = self.clock()
        with self._lock:
            usage = self._usage.get(deployment)
            if usage is None:
                usage = self._usage[deployment] = Usage(epoch=now)
            usage.roll(now, self.window)
            per_window = requests_per_window(rpm, self.window)
            window_full = usage.window_requests >= per_window
            tokens_full = usage.minute_tokens + tokens > tpm
            minute_full = usage.minute_requests >= rpm or tokens_full
            allowed = not (window_full or minute_full) or not self.enforce
            exceeded: Literal["call", "token"] = (
                "token"
                if tokens_full and not window_full and usage.minute_requests < rpm
                else "call"
            )
            retry_after = 0.0
            if allowed:
                usage.window_requests += 1
                usage.minute_requests += 1
                usage.minute_tokens += tokens
            else:
                periods = usage.minute + 1 if minute_full else usage.window + 1
                length = MINUTE if minute_full else self.window
                retry_after = max(0.0, usage.epoch + periods * length - now)
            if self.keep_history:
                self.history.append(Arrival(now, deployment, tokens, allowed))
            return self._decision(usage, rpm, tpm, allowed, retry_after, exceeded)

    def peek(self, deployment: str, rpm: int, tpm: int) -> Decision:
        """What is left of a deployment's quota now, charging nothing (for error answers)."""
        now = self.clock()
        with self._lock:
            usage = self._usage.get(deployment) or Usage(epoch=now)  # unused: all left
            usage.roll(now, self.window)
            return self._decision(usage, rpm, tpm, True, 0.0)

    def _decision(
        self,
        usage: Usage,
        rpm: int,
        tpm: int,
        allowed: bool,
        retry_after: float,
        exceeded: Literal["call", "token"] = "call",
    ) -> Decision:
        per_window = requests_per_window(rpm, self.window)
        requests_left = min(per_window - usage.window_requests, rpm - usage.minute_requests)
        return Decision(
            allowed=allowed,
            remaining_requests=max(0, requests_left),
            remaining_tokens=max(0, tpm - usage.minute_tokens),
            limit_requests=rpm,
            limit_tokens=tpm,
            retry_after=retry_after,
            exceeded=exceeded,
        )

    def reset(self) -> None:
        """Full quotas again for every deployment (and an empty history)."""
        with self._lock:
            self._usage.clear()
            self.history.clear()
