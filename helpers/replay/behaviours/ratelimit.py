"""Per-deployment rate-limit accounting, as Azure reports it in headers.

Azure gives each deployment a requests-per-minute and a tokens-per-minute
quota and reports what is left in ``x-ratelimit-remaining-requests`` and
``x-ratelimit-remaining-tokens``. Tokens are counted when a request *arrives*,
from its prompt and its ``max_tokens`` (the answer's length is not known yet).
Quotas refill continuously, modelled here as token buckets driven by an
injected clock so tests are exact.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
MAX_CHARGE = 2**53
"""The most tokens one request is charged: a count beyond what a float holds exactly (or at
all, for a 400-digit ``max_tokens``) could not be compared with a bucket's level."""


@dataclass
class Bucket:
    capacity: float
    level: float
    updated: float

    def refill(self, now: float) -> None:
        per_second = self.capacity / 60.0
        self.level = min(self.capacity, self.level + (now - self.updated) * per_second)
        self.updated = now


@dataclass
class Quota:
    requests: Bucket
    tokens: Bucket


@dataclass
class Decision:
    """The outcome of one request against a deployment's quota."""

    allowed: bool
    remaining_requests: int
    remaining_tokens: int
    limit_requests: int
    limit_tokens: int
    retry_after: float = 0.0

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
    """Token buckets per deployment; ``enforce`` turns exhaustion into a 429."""

    clock: Clock = time.monotonic
    enforce: bool = False
    _quotas: dict[str, Quota] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, deployment: str, rpm: int, tpm: int, tokens: int) -> Decision:
        """Charge one request of ``tokens`` tokens (clamped to ``[0, MAX_CHARGE]``)."""
        tokens = max(0, min(int(tokens), MAX_CHARGE))
        now = self.clock()
        with self._lock:
            quota = self._quotas.get(deployment)
            if quota is None:
                quota = Quota(Bucket(rpm, rpm, now), Bucket(tpm, tpm, now))
                self._quotas[deployment] = quota
            quota.requests.refill(now)
            quota.tokens.refill(now)
            short_requests = 1 - quota.requests.level
            short_tokens = tokens - quota.tokens.level
            allowed = not self.enforce or (short_requests <= 0 and short_tokens <= 0)
            retry_after = 0.0
            if allowed:
                quota.requests.level = max(0.0, quota.requests.level - 1)
                quota.tokens.level = max(0.0, quota.tokens.level - tokens)
            else:
                retry_after = max(short_requests * 60 / rpm, short_tokens * 60 / tpm)
            return Decision(
                allowed=allowed,
                remaining_requests=int(quota.requests.level),
                remaining_tokens=int(quota.tokens.level),
                limit_requests=rpm,
                limit_tokens=tpm,
                retry_after=retry_after,
            )

    def peek(self, deployment: str, rpm: int, tpm: int) -> Decision:
        """What is left of a deployment's quota now, charging nothing (for error answers)."""
        now = self.clock()
        with self._lock:
            quota = self._quotas.get(deployment)
            if quota is None:
                return Decision(True, rpm, tpm, rpm, tpm)
            quota.requests.refill(now)
            quota.tokens.refill(now)
            return Decision(True, int(quota.requests.level), int(quota.tokens.level), rpm, tpm)

    def reset(self) -> None:
        """Full quotas again for every deployment."""
        with self._lock:
            self._quotas.clear()
