"""Batch processing: many chat requests through one deployment's quota, none lost.

Use :func:`run_batch` when you have thousands of independent requests and one
process to send them from:

    summary = await run_batch(
        client, "requests.jsonl", "results.jsonl",
        requests_per_minute=300, tokens_per_minute=50_000, model="gpt-4o-mini",
    )

- **Pacing**: two token buckets, requests per minute and tokens per minute, filled
  the way Azure fills the deployment's quota. Each request is charged what Azure
  charges on arrival (its estimated prompt tokens plus ``max_tokens``, from
  :func:`helpers.token_management.quota_charge`); the buckets are corrected down by the
  ``x-ratelimit-remaining-requests`` / ``-tokens`` headers of every answer.
- **429**: everyone pauses for exactly what ``retry-after-ms`` (else ``retry-after``)
  says, then the request is sent again. Other retryable failures back off
  exponentially with jitter; non-retryable ones (400, 401, 403, 404) are final.
- **Bounded**: ``concurrency`` requests in flight, and the input is read lazily (a
  JSONL file line by line, or any iterable), so memory does not grow with the batch.
- **Durable**: each result is appended to the output JSONL as soon as it is known,
  keyed by the input's id; a re-run skips ids already in the output (resume after a
  crash or Ctrl-C). Every input ends as exactly one ``ok`` or ``error`` line.

Input lines are ``{"custom_id": ..., "body": {...}}`` (the Batch API's format, so the
same file can go to ``/openai/batches``) or ``{"id": ..., "body": {...}}``; ``body`` is
what you would pass to ``chat.completions.create``. Past one process, use the Batch API.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pydantic
from openai import AsyncAzureOpenAI, AsyncOpenAI
from tqdm import tqdm

from ._support.counting import quota_charge
from .error_handling import ErrorKind, Failure, RetryPolicy, classify

__all__ = [
    "BatchItem",
    "BatchResult",
    "BatchSummary",
    "IdIndex",
    "Pacer",
    "Ticket",
    "TokenBucket",
    "completed_ids",
    "drop_errors",
    "iter_completed_ids",
    "read_jsonl",
    "run_batch",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class BatchItem(pydantic.BaseModel):
    """One request of a batch: an id you choose and the ``chat.completions.create`` body."""

    id: str = pydantic.Field(validation_alias=pydantic.AliasChoices("custom_id", "id"))
    body: dict[str, Any]


class BatchResult(pydantic.BaseModel):
    """One line of the output file."""

    id: str
    status: Literal["ok", "error"]
    attempts: int
    response: dict[str, Any] | None = None
    """The chat completion, as JSON (``status == "ok"``)."""
    error: Failure | None = None
    """Why there is no completion (``status == "error"``)."""


class BatchSummary(pydantic.BaseModel):
    """What a run did. ``lost`` is inputs read but without an output line: always 0."""

    read: int = 0
    skipped: int = 0
    """Already in the output file from an earlier run."""
    duplicates: int = 0
    """Inputs whose id appeared earlier in the same input (sent once)."""
    succeeded: int = 0
    failed: int = 0
    rate_limited: int = 0
    """429 answers received (each one paused the whole batch for its retry-after)."""
    retries: int = 0
    elapsed: float = 0.0

    @pydantic.computed_field  # type: ignore[prop-decorator]
    @property
    def lost(self) -> int:
        return self.read - self.skipped - self.duplicates - self.succeeded - self.failed


@dataclass
class TokenBucket:
    """A per-minute allowance that refills continuously, as Azure's quota does.

    Until :meth:`start` is called the bucket does not refill: Azure's bucket stays full
    until the first request *arrives*, so counting refill from the first send would put
    this model ahead of the server by one request's latency.
    """

    per_minute: float
    clock: Clock
    running: bool = True
    level: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        if self.per_minute <= 0:
            raise ValueError(f"A per-minute limit must be positive, got {self.per_minute}")
        self.level = self.per_minute
        self.updated = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        if self.running:
            gained = (now - self.updated) * self.per_minute / 60
            self.level = min(self.per_minute, self.level + gained)
        self.updated = now

    def start(self) -> None:
        """Begin refilling (on the first answer from the server)."""
        self._refill()
        self.running = True

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0 if it is now)."""
        self._refill()
        return max(0.0, (amount - self.level) * 60 / self.per_minute)

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount

    def observe(self, remaining: float) -> None:
        """The server says only ``remaining`` is left: never believe we have more."""
        self._refill()
        self.level = min(self.level, remaining)


@dataclass(frozen=True)
class Ticket:
    """When a request was charged, and how much had been charged before it."""

    at: float
    tokens: int
    requests_before: int
    tokens_before: int


class Pacer:
    """Requests- and tokens-per-minute pacing shared by all workers, first come first served."""

    def __init__(
        self, requests_per_minute: int, tokens_per_minute: int, *, clock: Clock, sleep: Sleep
    ) -> None:
        self.requests = TokenBucket(requests_per_minute, clock, running=False)
        self.tokens = TokenBucket(tokens_per_minute, clock, running=False)
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._paused_until = float("-inf")
        self._charged_requests = 0
        self._charged_tokens = 0

    async def acquire(self, tokens: int) -> Ticket:
        """Wait until one request of ``tokens`` fits both limits, then charge it."""
        async with self._lock:
            while True:
                wait = max(
                    self._paused_until - self._clock(),
                    self.requests.wait_for(1),
                    self.tokens.wait_for(tokens),
                )
                if wait <= 0:
                    ticket = Ticket(
                        self._clock(), tokens, self._charged_requests, self._charged_tokens
                    )
                    self.requests.take(1)
                    self.tokens.take(tokens)
                    self._charged_requests += 1
                    self._charged_tokens += tokens
                    return ticket
                if not self.requests.running and self._charged_requests == 0:
                    raise RuntimeError("the buckets cannot refill before a first request is sent")
                await self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """No request starts for ``seconds`` (a 429's retry-after)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe(self, headers: Mapping[str, str], ticket: Ticket) -> None:
        """Correct the buckets from an answer's ``x-ratelimit-remaining-*`` headers.

        The server counted the remaining quota when this request arrived: requests charged
        after it may not have arrived yet, so they are subtracted, and the refill since it
        was sent is added.
        """
        for bucket in (self.requests, self.tokens):
            if not bucket.running:
                bucket.start()
        since = max(0.0, self._clock() - ticket.at)
        for name, bucket, after in (
            ("x-ratelimit-remaining-requests", self.requests,
             self._charged_requests - ticket.requests_before - 1),
            ("x-ratelimit-remaining-tokens", self.tokens,
             self._charged_tokens - ticket.tokens_before - ticket.tokens),
        ):  # fmt: skip
            value = headers.get(name)
            if value is None:
                continue
            with suppress(ValueError):
                remaining = float(value) + since * bucket.per_minute / 60 - after
                bucket.observe(remaining)


def read_jsonl(path: Path | str) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file, one line at a time; a bad line yields ``{"_error": ...}``."""
    with Path(path).open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                value = {"_error": f"line {number}: not JSON ({exc.msg})", "_line": number}
            if not isinstance(value, dict):
                value = {"_error": f"line {number}: not a JSON object", "_line": number}
            yield value


def _cut_torn_tail(file: Path) -> None:
    """Remove a last line left half-written by a crash, so the file is valid JSONL again."""
    good_end = 0
    with file.open("rb") as handle:
        for raw in handle:
            try:
                json.loads(raw)["id"]
            except (ValueError, KeyError, TypeError):
                break
            if not raw.endswith(b"\n"):
                break
            good_end += len(raw)
    if good_end < file.stat().st_size:
        with file.open("r+b") as handle:
            handle.truncate(good_end)


def iter_completed_ids(path: Path | str) -> Iterator[str]:
    """Ids already in an output file, one at a time; a torn last line is cut off first."""
    file = Path(path)
    if not file.exists():
        return
    _cut_torn_tail(file)
    with file.open("rb") as handle:
        for raw in handle:
            yield str(json.loads(raw)["id"])


def completed_ids(path: Path | str) -> set[str]:
    """Ids already in an output file (a torn last line, from a crash mid-write, is cut off)."""
    return set(iter_completed_ids(path))


class IdIndex:
    """The ids a run has met, kept on disk (SQLite in a temporary file), not in memory.

    A set of 100,000 ids would make memory grow with the batch; SQLite keeps a small
    page cache whatever the count. The file is scratch: no journal, no fsync.
    """

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="batch-ids-")
        self._db = sqlite3.connect(Path(self._folder.name) / "ids.sqlite", isolation_level=None)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY, done INTEGER NOT NULL)")

    def mark_done(self, ids: Iterable[str]) -> None:
        """Ids finished by an earlier run."""
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO ids VALUES (?, 1)", ((i,) for i in ids))
        self._db.execute("COMMIT")

    def meet(self, item_id: str) -> Literal["new", "done", "duplicate"]:
        """Record ``item_id``: new, finished by an earlier run, or already met in this one."""
        if self._db.execute("INSERT OR IGNORE INTO ids VALUES (?, 0)", (item_id,)).rowcount:
            return "new"
        (done,) = self._db.execute("SELECT done FROM ids WHERE id = ?", (item_id,)).fetchone()
        return "done" if done else "duplicate"

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()


def drop_errors(path: Path | str) -> int:
    """Remove the ``error`` lines of an output file (so a re-run retries them); return how many."""
    file = Path(path)
    if not file.exists():
        return 0
    _cut_torn_tail(file)
    dropped = 0
    temporary = file.with_name(file.name + ".tmp")
    with file.open(encoding="utf-8") as source, temporary.open("w", encoding="utf-8") as sink:
        for line in source:
            if json.loads(line).get("status") == "error":
                dropped += 1
            else:
                sink.write(line)
    temporary.replace(file)
    return dropped


def _count_lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(1 for line in file if line.strip())


async def _aiter(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


@dataclass
class _Run:
    client: AsyncAzureOpenAI | AsyncOpenAI
    pacer: Pacer
    model: str
    max_attempts: int
    backoff: RetryPolicy
    rng: random.Random
    sleep: Sleep
    summary: BatchSummary

    async def process(self, item: BatchItem) -> BatchResult:
        try:
            charge = quota_charge(item.body, self.model)
        except Exception as exc:  # a body we cannot even estimate is an error, not a crash
            return _error(item.id, 0, classify(exc))
        if charge > self.pacer.tokens.per_minute:
            failure = Failure(
                kind=ErrorKind.BAD_REQUEST,
                retryable=False,
                message=f"The request needs {charge} tokens of quota; the deployment allows "
                f"{int(self.pacer.tokens.per_minute)} per minute, so it can never be sent.",
                exception="QuotaTooSmall",
            )
            return _error(item.id, 0, failure)
        attempts = 0
        while True:
            attempts += 1
            ticket = await self.pacer.acquire(charge)
            try:
                raw = await self.client.chat.completions.with_raw_response.create(**item.body)
                completion = raw.parse()
            except Exception as exc:
                failure = classify(exc)
                response = getattr(exc, "response", None)
                self.pacer.observe(response.headers if response is not None else {}, ticket)
                wait = (
                    failure.delay
                    if failure.delay is not None
                    else self.backoff.backoff(attempts, self.rng)
                )
                quota_left = _quota_left(response.headers if response is not None else {}, charge)
                if failure.kind is ErrorKind.RATE_LIMITED:
                    self.summary.rate_limited += 1
                    if not quota_left:
                        # The deployment's quota is spent: nothing else may start either.
                        self.pacer.pause(wait)
                if not failure.retryable or attempts >= self.max_attempts:
                    return _error(item.id, attempts, failure)
                self.summary.retries += 1
                if failure.kind is not ErrorKind.RATE_LIMITED or quota_left:
                    # A passing failure (or a 429 with quota still left, i.e. the service's
                    # capacity, not ours): only this item waits; the others go on.
                    await self.sleep(wait)
                continue
            self.pacer.observe(raw.headers, ticket)
            return BatchResult(
                id=item.id,
                status="ok",
                attempts=attempts,
                response=completion.model_dump(mode="json", exclude_unset=True),
            )


def _quota_left(headers: Mapping[str, str], charge: int) -> bool:
    """True when an answer reports enough quota left for this request (both limits)."""
    try:
        requests = float(headers["x-ratelimit-remaining-requests"])
        tokens = float(headers["x-ratelimit-remaining-tokens"])
    except (KeyError, ValueError):
        return False
    return requests >= 1 and tokens >= charge


BatchInput = (
    Path
    | str
    | Iterable[Mapping[str, Any] | BatchItem]
    | AsyncIterable[Mapping[str, Any] | BatchItem]
)
"""A JSONL file, or any iterable or async iterable of input dicts / :class:`BatchItem`."""


def _error(item_id: str, attempts: int, failure: Failure) -> BatchResult:
    return BatchResult(id=item_id, status="error", attempts=attempts, error=failure)


def _parse_item(raw: Any, position: int, deployment: str | None) -> BatchItem | BatchResult:
    if isinstance(raw, BatchItem):
        item = raw
    else:
        if isinstance(raw, Mapping) and "_error" in raw:
            return _malformed(f"line-{raw.get('_line', position)}", str(raw["_error"]))
        try:
            item = BatchItem.model_validate(raw)
        except pydantic.ValidationError as exc:
            item_id = raw.get("custom_id", raw.get("id")) if isinstance(raw, Mapping) else None
            reason = f"input {position}: needs an id ('custom_id' or 'id') and a 'body' object"
            return _malformed(str(item_id) if item_id else f"input-{position}", f"{reason}: {exc}")
    if deployment is not None and "model" not in item.body:
        item = item.model_copy(update={"body": {**item.body, "model": deployment}})
    return item


def _malformed(item_id: str, message: str) -> BatchResult:
    failure = Failure(
        kind=ErrorKind.BAD_REQUEST, retryable=False, message=message, exception="MalformedInput"
    )
    return _error(item_id, 0, failure)


async def run_batch(
    client: AsyncAzureOpenAI | AsyncOpenAI,
    items: BatchInput,
    output: Path | str,
    *,
    requests_per_minute: int,
    tokens_per_minute: int,
    model: str = "gpt-4o",
    deployment: str | None = None,
    concurrency: int = 16,
    max_attempts: int = 6,
    retry_errors: bool = False,
    seed: int | None = None,
    progress: bool = True,
    total: int | None = None,
    on_result: Callable[[BatchResult], None] | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> BatchSummary:
    """Send every item once, within the limits, and append one result line per item.

    ``items`` is a JSONL path or any (async) iterable of dicts / :class:`BatchItem`; it is read
    lazily. ``model`` is the model name used to estimate tokens (``deployment`` fills
    ``body["model"]`` where missing). Give the client ``max_retries=0``: retries happen
    here. A re-run skips every id already in ``output``, errors included, unless
    ``retry_errors`` (their lines are removed first, so each id still appears once).
    ``clock`` and ``sleep`` are injectable (tests run on accelerated time).
    """
    if concurrency < 1 or max_attempts < 1:
        raise ValueError("concurrency and max_attempts must be at least 1")
    started = clock()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if retry_errors:
        drop_errors(output)
    index = IdIndex()
    index.mark_done(iter_completed_ids(output))
    if isinstance(items, str | Path):
        source = Path(items)
        if not source.exists():
            raise FileNotFoundError(f"No input file at {source}")
        total = total if total is not None else _count_lines(source)
        items = read_jsonl(source)
    summary = BatchSummary()
    run = _Run(
        client=client,
        pacer=Pacer(requests_per_minute, tokens_per_minute, clock=clock, sleep=sleep),
        model=model,
        max_attempts=max_attempts,
        backoff=RetryPolicy(seed=seed),
        rng=random.Random(seed),
        sleep=sleep,
        summary=summary,
    )
    queue: asyncio.Queue[BatchItem | BatchResult | None] = asyncio.Queue(maxsize=concurrency)
    bar = tqdm(total=total, disable=not progress, unit="req", desc="batch")

    with output.open("a", encoding="utf-8") as sink:

        def record(result: BatchResult) -> None:
            sink.write(result.model_dump_json(exclude_none=True) + "\n")
            sink.flush()
            if result.status == "ok":
                summary.succeeded += 1
            else:
                summary.failed += 1
            bar.update(1)
            if on_result is not None:
                on_result(result)

        async def produce() -> None:
            async for raw in _aiter(items):
                summary.read += 1
                parsed = _parse_item(raw, summary.read, deployment)
                seen = index.meet(parsed.id)
                if seen != "new":
                    if seen == "done":
                        summary.skipped += 1
                    else:
                        summary.duplicates += 1
                    bar.update(1)
                    continue
                await queue.put(parsed)
            for _ in range(concurrency):
                await queue.put(None)

        async def work() -> None:
            while (entry := await queue.get()) is not None:
                result = entry if isinstance(entry, BatchResult) else await run.process(entry)
                record(result)

        try:
            await asyncio.gather(produce(), *(work() for _ in range(concurrency)))
        finally:
            bar.close()
            index.close()
            summary.elapsed = clock() - started
    return summary
