"""The server's state: recordings, ids, quotas and every stateful simulator, in one registry.

Simulators that remember things between requests (the rate limiter's buckets,
stored responses, uploaded files, batches, vector stores, search indexes, the
prompt cache) register here under a name and implement ``reset()``.
``POST /_replay/reset`` (with credentials) resets them all at once, so a
notebook or a test can start from a clean server without restarting it; each
notebook kernel's embedded server starts fresh anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from . import azure
from .behaviours.ratelimit import RateLimiter
from .config import ReplayConfig
from .recordings.store import RecordingsStore


class Resettable(Protocol):
    """Anything the registry can put back to its starting state."""

    def reset(self) -> None: ...


S = TypeVar("S", bound=Resettable)
T = TypeVar("T")


@dataclass
class ReplayState:
    """What the running server knows: configuration, recordings, ids and simulators."""

    config: ReplayConfig
    store: RecordingsStore
    clock: Callable[[], float] = time.time
    ids: azure.IdSource = field(default_factory=azure.IdSource)
    requests_served: int = 0
    recorder: Any = None
    """Record mode's :class:`~.record.Recorder`."""
    simulators: dict[str, Resettable] = field(default_factory=dict)
    _prepared: dict[tuple[str, int], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def register(self, name: str, simulator: S) -> S:
        """Add a stateful simulator; its ``reset()`` runs on every server reset."""
        with self._lock:
            if name in self.simulators:
                raise ValueError(f"a simulator called {name!r} is already registered")
            self.simulators[name] = simulator
        return simulator

    def prepared(self, key: tuple[str, int], make: Callable[[], T]) -> T:
        """A value derived from a recorded interaction, computed once (the recordings are
        read-only while serving; appending a recording clears these)."""
        found = self._prepared.get(key)
        if found is None:
            found = self._prepared[key] = make()
        return found  # type: ignore[no-any-return]

    def forget_prepared(self) -> None:
        self._prepared.clear()

    def simulator(self, name: str) -> Resettable:
        return self.simulators[name]

    @property
    def limiter(self) -> RateLimiter:
        limiter = self.simulators["rate_limits"]
        assert isinstance(limiter, RateLimiter)
        return limiter

    def reset(self) -> None:
        """Start again: recordings from the top, the same ids, every simulator empty."""
        self.store.reset()
        self.ids = azure.IdSource(self.config.seed)
        self.requests_served = 0
        for simulator in list(self.simulators.values()):
            simulator.reset()
