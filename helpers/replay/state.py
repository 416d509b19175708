"""The server's state: recordings, ids, quotas and every stateful store, in one typed registry.

Stores that remember things between requests (the rate limiter's buckets, the fault
injector's random draws, stored responses, uploaded files, batches, vector stores, search
indexes, the prompt cache) are registered once per server, under a name (the health
document lists the names), and implement ``reset()``. Code finds a store by its type::

    files = ctx.state.get(FilesStore)      # a FilesStore, as mypy knows

``POST /_replay/reset`` (with credentials), or :meth:`helpers.replay.ReplayServer.reset`,
resets them all at once, so a notebook or a test can start from a clean server without
restarting it; each notebook kernel's embedded server starts fresh anyway.

A classroom server (:mod:`helpers.replay.room`) holds one whole state per learner in
``learners``, by key: the pipeline's one ``authenticate`` step puts the state of the key a
request proves on the request (:meth:`ReplayState.keys`), so every store, quota and recording
cursor an operation finds is that learner's, and no route needs to know about rooms.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar

from . import azure
from .behaviours.ratelimit import RateLimiter
from .config import ReplayConfig
from .recordings.store import RecordingsStore


class Resettable(Protocol):
    """Anything the registry can put back to its starting state."""

    def reset(self) -> None: ...


class Identified(Protocol):
    """Anything with an ``id`` (an uploaded file, a batch job)."""

    @property
    def id(self) -> str: ...


S = TypeVar("S", bound=Resettable)
T = TypeVar("T")
Obj = TypeVar("Obj", bound=Identified)


class ObjectsById(Generic[Obj]):
    """A store's objects by their ``id``, in the order they were added; safe across threads,
    emptied by ``reset()`` with the server. A service's store subclasses it (one type per
    store, so :meth:`ReplayState.get` finds it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, Obj] = {}

    def reset(self) -> None:
        with self._lock:
            self._objects.clear()

    def add(self, item: Obj) -> Obj:
        with self._lock:
            self._objects[item.id] = item
        return item

    def get(self, object_id: str) -> Obj | None:
        with self._lock:
            return self._objects.get(object_id)

    def delete(self, object_id: str) -> bool:
        """Forget the object; ``False`` when there was none with that id."""
        with self._lock:
            return self._objects.pop(object_id, None) is not None

    def all(self) -> list[Obj]:
        with self._lock:
            return list(self._objects.values())


@dataclass
class ReplayState:
    """What the running server knows: configuration, recordings, ids and stateful stores."""

    config: ReplayConfig
    store: RecordingsStore
    clock: Callable[[], float] = time.time
    ids: azure.IdSource = field(default_factory=azure.IdSource)
    requests_served: int = 0
    recorder: Any = None
    """Record mode's :class:`~.recordings.record.Recorder` (``None`` in the other modes; not
    imported here: record mode imports the services, which import this module)."""
    learners: dict[str, ReplayState] | None = None
    """Room mode: each learner's key with that learner's own state (the server's own key is
    then refused); ``None`` on an ordinary server."""
    _named: dict[str, Resettable] = field(default_factory=dict, repr=False)
    _typed: dict[type, Resettable] = field(default_factory=dict, repr=False)
    _prepared: dict[tuple[str, int], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def register(self, name: str, store: S) -> S:
        """Add a stateful store: found by :meth:`get` with its type, reset with the server.

        One store per name and one per type, so ``get`` is never ambiguous.
        """
        with self._lock:
            if name in self._named:
                raise ValueError(f"a store called {name!r} is already registered")
            if type(store) in self._typed:
                raise ValueError(f"a {type(store).__name__} is already registered")
            self._named[name] = store
            self._typed[type(store)] = store
        return store

    def get(self, kind: type[S]) -> S:
        """The registered store of type ``kind`` (or of a subclass of it)."""
        found = self._typed.get(kind)
        if found is None:
            found = next((s for t, s in self._typed.items() if issubclass(t, kind)), None)
            if found is None:
                raise LookupError(f"no {kind.__name__} is registered with this server")
        return found  # type: ignore[return-value]  # registered under its own type

    @property
    def simulators(self) -> Mapping[str, Resettable]:
        """The registered stores by name (read-only)."""
        return MappingProxyType(self._named)

    def simulator(self, name: str) -> Resettable:
        """The store registered as ``name``, untyped; prefer :meth:`get` with its type."""
        return self._named[name]

    @property
    def limiter(self) -> RateLimiter:
        return self.get(RateLimiter)

    def keys(self) -> list[tuple[str, ReplayState]]:
        """Each key the server accepts, with the state the requests that present it use."""
        if self.learners is None:
            return [(self.config.api_key, self)]
        return list(self.learners.items())

    def prepared(self, key: tuple[str, int], make: Callable[[], T]) -> T:
        """A value derived from a recorded interaction (``key`` holds its ``id()``), computed
        once. Recorded interactions are never changed or dropped while the server runs (new
        ones are appended), so a value, once made, stays right."""
        found = self._prepared.get(key)
        if found is None:
            found = self._prepared[key] = make()
        return found  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Start again: recordings from the top, the same ids, every store empty."""
        self.store.reset()
        self.ids = azure.IdSource(self.config.seed)
        self.requests_served = 0
        for store in list(self._named.values()):
            store.reset()
        for learner in (self.learners or {}).values():
            learner.reset()
