"""Batch processing: many chat requests through one deployment's quota, none lost.

Use :func:`run_batch` when you have thousands of independent requests and one
process to send them from:

    summary = await run_batch(
        client, "requests.jsonl", "results.jsonl",
        requests_per_minute=300, tokens_per_minute=50_000, model="gpt-5.4-mini",
    )

- **Pacing**: the limits as Azure evaluates them (Microsoft Learn, "Manage Azure OpenAI in
  Microsoft Foundry Models quota", "Understanding rate limits"): requests per minute over
  short windows (1 s, or 10 s), so a window takes only its share, ``RPM * window / 60``;
  tokens per minute in a running count reset each minute, each request charged on arrival
  what :func:`helpers.token_management.quota_charge` estimates (prompt plus
  ``max_completion_tokens`` per choice). The :class:`Pacer` keeps the same windows and
  minutes on its own clock, placed where the server's are (from its first request, and
  from every 429's ``retry-after-ms``), and counts a request sent near a window's edge in
  both windows it may land in: a window's share goes out at once, never a minute's worth.
- **429**: the server did not count the request, so its charge is given back and only that
  request waits what ``retry-after-ms`` (else ``retry-after``) says; when the answer says
  the quota itself is spent, no new request starts before the server's next window either
  (it would be refused too), and requests already on their way are not held back. Other
  retryable failures back off exponentially with jitter (section 5's ``RetryPolicy``);
  non-retryable ones (400, 401, 403, 404) are final, and a failure Azure answered keeps
  its charge (it was counted on arrival).
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
import math
import random
import sqlite3
import tempfile
import time
from collections import deque
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import openai
import pydantic
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI
from openai.types.responses import Response
from tqdm import tqdm

from ._support.counting import quota_charge
from ._support.errors import CookbookError
from ._support.exercises import Feedback, attempt, failed, passed
from .error_handling import ErrorKind, Failure, RetryPolicy, classify

__all__ = [
    "BatchItem",
    "BatchResult",
    "BatchSummary",
    "IdIndex",
    "Pacer",
    "ResponseTimeoutError",
    "Ticket",
    "check_minimum_minutes",
    "completed_ids",
    "drop_errors",
    "iter_completed_ids",
    "read_jsonl",
    "run_batch",
    "wait_for_response",
    "wait_for_response_async",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
MINUTE = 60.0


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
    """429 answers received (each request waited its own retry-after, then was sent again)."""
    retries: int = 0
    elapsed: float = 0.0

    @pydantic.computed_field  # type: ignore[prop-decorator]
    @property
    def lost(self) -> int:
        return self.read - self.skipped - self.duplicates - self.succeeded - self.failed


@dataclass(eq=False)
class Ticket:
    """One request the pacer let go: when, the tokens it was charged, the windows it counts in."""

    at: float
    tokens: int
    windows: tuple[int, ...] = ()
    placement: int = 0


class Pacer:
    """A deployment's limits kept on the client's side, first come first served.

    Azure evaluates requests per minute over fixed windows of ``window`` seconds (1 or 10),
    each taking its share of the RPM, and keeps a running count of requests and tokens that
    is reset each minute; its windows and minutes are counted from the deployment's first
    request. The pacer keeps the same windows and minutes on its own clock, placed where the
    server's are: from its own first request, and again from every 429 that says the quota
    is spent, whose ``retry-after-ms`` is the time from that request's arrival to the
    server's next period. A request sent within a quarter window of a window's edge may
    land on either side of it (travel times vary), so it counts in both windows, and none
    is sent that close to a minute's edge; so whatever their travel times, no window gets
    more than its share. A window's share goes out at once, never a minute's. Memory is a
    few counters and the last three windows' requests.

    :meth:`acquire` waits until a request fits and charges it; :meth:`refused` gives a
    429's charge back (Azure did not count it) and, when the answer says the quota is
    spent, places the periods from it and holds new requests until the next one.
    """

    def __init__(
        self,
        requests_per_minute: int,
        tokens_per_minute: int,
        *,
        clock: Clock,
        sleep: Sleep,
        window: float = 1.0,
    ) -> None:
        if requests_per_minute <= 0 or tokens_per_minute <= 0 or window <= 0:
            raise ValueError(
                f"limits and window must be positive, got {requests_per_minute} requests and "
                f"{tokens_per_minute} tokens per minute, {window} s windows"
            )
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.window = window
        self.guard = window / 4
        """How close to a window's edge a request may land on the other side of it."""
        self.per_window = max(1, math.ceil(requests_per_minute * window / MINUTE - 1e-9))
        """Requests one window takes: its share of the RPM, rounded up (as the server does)."""
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._first: float | None = None
        """When this pacer's first request went: the server counts its periods from then."""
        self._anchor = 0.0
        """A window's start on this clock (where the server's start, less the travel time)."""
        self._placement = 0
        """How many times a 429 placed the windows (0: the first request did)."""
        self._counts: dict[int, int] = {}
        """Requests counted in each recent window, by index from the anchor."""
        self._minute_start = float("-inf")
        self._minute_requests = 0
        self._minute_tokens = 0
        self._recent: deque[Ticket] = deque()
        self._hold_until = float("-inf")

    async def acquire(self, tokens: int) -> Ticket:
        """Wait until one request of ``tokens`` fits every limit, then charge it."""
        if tokens > self.tokens_per_minute:
            raise ValueError(f"{tokens} tokens can never fit {self.tokens_per_minute} a minute")
        async with self._lock:
            while True:
                now = self._clock()
                self._roll(now)
                wait = self._wait(now, tokens)
                if wait <= 0:
                    return self._charge(now, tokens)
                await self._nap(wait)

    def refused(
        self, ticket: Ticket, headers: Mapping[str, str], retry_after: float | None
    ) -> None:
        """A 429 for ``ticket``: give its charge back; follow the server if the quota is spent.

        The quota is spent when the answer reports no request left, or fewer tokens than
        this request's charge. Then ``retry-after-ms`` counts from the request's arrival to
        the server's next period, so (sent at ``ticket.at``, it arrived a travel time later,
        as every request does) the server's windows start at ``ticket.at + retry-after-ms``
        on this clock; nothing new is sent before that window's guard. An answer without
        those headers, or with quota left (the service's capacity, not the deployment's
        quota), holds back only the request itself.
        """
        if ticket in self._recent:
            self._recent.remove(ticket)
            if ticket.placement == self._placement:
                for index in ticket.windows:
                    self._counts[index] = self._counts.get(index, 1) - 1
            else:
                self._recount()
        if ticket.at >= self._minute_start:
            self._minute_requests -= 1
            self._minute_tokens -= ticket.tokens
        spent = False
        with suppress(KeyError, ValueError):
            left_requests = float(headers["x-ratelimit-remaining-requests"])
            spent = left_requests < 1 or float(headers["x-ratelimit-remaining-tokens"]) < (
                ticket.tokens
            )
        boundary: float | None = None
        with suppress(KeyError, ValueError):
            boundary = ticket.at + float(headers["retry-after-ms"]) / 1000
        if spent and boundary is not None:
            self._place(boundary, ticket)
            self._hold_until = max(self._hold_until, boundary + self.guard)
        elif spent and retry_after is not None:
            self._hold_until = max(self._hold_until, self._clock() + retry_after)
        self._changed.set()

    def _place(self, boundary: float, ticket: Ticket) -> None:
        """Move the windows (and, when it must be, the minute) to a server boundary."""
        first_placement = self._placement == 0
        self._anchor = boundary
        self._placement += 1
        if first_placement and self._first is not None:
            # The server's periods began when the first request arrived: the first window
            # start at or after it was sent.
            self._minute_start = self._on_grid(self._first, upward=True)
        elif self._minute_start <= ticket.at < self._minute_start + self.window + self.guard:
            # Refused at the start of what this pacer took for a new minute: the server's
            # minute had not ended, and this is where it does.
            self._minute_start = boundary
        else:
            self._minute_start = self._on_grid(self._minute_start, upward=False)
        self._recount()

    def _recount(self) -> None:
        """Count the recent requests in the windows as they are placed now."""
        self._counts = {}
        for ticket in self._recent:
            ticket.windows, ticket.placement = self._windows_of(ticket.at), self._placement
            for index in ticket.windows:
                self._counts[index] = self._counts.get(index, 0) + 1

    def _on_grid(self, moment: float, *, upward: bool) -> float:
        """The window start nearest ``moment`` (the first at or after it, if ``upward``)."""
        steps = (moment - self._anchor) / self.window
        rounded = math.ceil(steps - 1e-6) if upward else round(steps)
        return self._anchor + rounded * self.window

    def _position(self, moment: float) -> tuple[int, float]:
        """The index of the window ``moment`` is in, and how far into it."""
        index = math.floor((moment - self._anchor) / self.window + 1e-9)
        return index, moment - self._anchor - index * self.window

    def _windows_of(self, moment: float) -> tuple[int, ...]:
        """The windows a request sent at ``moment`` may land in."""
        index, phase = self._position(moment)
        own_first = self._placement == 0 and index == 0  # it started the server's windows
        if phase < self.guard and not own_first:
            return (index - 1, index)
        if phase > self.window - self.guard:
            return (index, index + 1)
        return (index,)

    def _roll(self, now: float) -> None:
        """Forget what no limit counts any more; start a new minute if this one is over."""
        if self._first is None:
            return
        while self._recent and self._recent[0].at < now - 3 * self.window:
            self._recent.popleft()
        oldest = self._position(now)[0] - 2
        for index in [i for i in self._counts if i < oldest]:
            del self._counts[index]
        if now >= self._minute_start + MINUTE:
            self._minute_start += math.floor((now - self._minute_start) / MINUTE) * MINUTE
            self._minute_requests = self._minute_tokens = 0

    def _wait(self, now: float, tokens: int) -> float:
        """Seconds until a request of ``tokens`` fits every limit (0 or less: it fits now)."""
        waits = [self._hold_until - now]
        if self._first is None:
            return max(waits)
        windows = self._windows_of(now)
        if self._at_minute_edge(windows) or any(
            self._counts.get(index, 0) >= self.per_window for index in windows
        ):
            waits.append(self._next_zone(now))
        if (
            self._minute_requests >= self.requests_per_minute
            or self._minute_tokens + tokens > self.tokens_per_minute
        ):
            waits.append(self._minute_start + MINUTE + self.guard - now)
        return max(waits)

    def _at_minute_edge(self, windows: tuple[int, ...]) -> bool:
        """True when a request may land on either side of a minute's edge (never sent then)."""
        if len(windows) < 2:
            return False
        minutes = (self._anchor + windows[1] * self.window - self._minute_start) / MINUTE
        return abs(minutes - round(minutes)) * MINUTE < self.window / 100

    def _next_zone(self, now: float) -> float:
        """Seconds to the next point where the windows a request counts in change."""
        phase = self._position(now)[1]
        if phase < self.guard:
            return self.guard - phase
        if phase < self.window - self.guard:
            return self.window - self.guard - phase
        return self.window - phase

    def _charge(self, now: float, tokens: int) -> Ticket:
        if self._first is None:
            self._first = self._anchor = self._minute_start = now
        windows = self._windows_of(now)
        for index in windows:
            self._counts[index] = self._counts.get(index, 0) + 1
        self._minute_requests += 1
        self._minute_tokens += tokens
        ticket = Ticket(now, tokens, windows, self._placement)
        self._recent.append(ticket)
        return ticket

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if a refused request gives its charge back meanwhile."""
        self._changed.clear()
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waker = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                if not task.done():
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task


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
        if charge > self.pacer.tokens_per_minute:
            failure = Failure(
                kind=ErrorKind.BAD_REQUEST,
                retryable=False,
                message=f"The request needs {charge} tokens of quota; the deployment allows "
                f"{self.pacer.tokens_per_minute} per minute, so it can never be sent.",
                exception="QuotaTooSmall",
            )
            return _error(item.id, 0, failure)
        # The loop is written out: a tenacity ``AsyncRetrying`` per item leaves reference
        # cycles behind (its state and actions point back at it), so memory would grow with
        # the batch until a full garbage collection; the waits are the same policy's.
        for attempts in range(1, self.max_attempts + 1):
            try:
                completion = await self._send(item, charge)
            except Exception as exc:
                failure = classify(exc)
                if not failure.retryable or attempts == self.max_attempts:
                    return _error(item.id, attempts, failure)
                self.summary.retries += 1
                # What the answer asked for (retry-after-ms), else backoff with jitter.
                wait = failure.delay
                await self.sleep(
                    wait if wait is not None else self.backoff.backoff(attempts, self.rng)
                )
                continue
            return BatchResult(
                id=item.id,
                status="ok",
                attempts=attempts,
                response=completion.model_dump(mode="json", exclude_unset=True),
            )
        raise AssertionError("unreachable: the last attempt returns")

    async def _send(self, item: BatchItem, charge: int) -> Any:
        """One attempt: wait for the quota, send, and settle the charge with the answer."""
        ticket = await self.pacer.acquire(charge)
        try:
            raw = await self.client.chat.completions.with_raw_response.create(**item.body)
        except openai.APIStatusError as exc:
            failure = classify(exc)
            if failure.kind is ErrorKind.RATE_LIMITED:
                self.summary.rate_limited += 1
                self.pacer.refused(ticket, exc.response.headers, failure.delay)
            raise  # any other answer was counted on arrival: the charge stays
        except openai.APIError:
            raise  # no answer (connection, timeout): it may have arrived, the charge stays
        except Exception:
            self.pacer.refused(ticket, {}, None)  # refused by the SDK before sending
            raise
        return raw.parse()


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
    model: str = "gpt-5.4-mini",
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
    window: float = 1.0,
) -> BatchSummary:
    """Send every item once, within the limits, and append one result line per item.

    ``items`` is a JSONL path or any (async) iterable of dicts / :class:`BatchItem`; it is read
    lazily. ``model`` is the model name used to estimate tokens (``deployment`` fills
    ``body["model"]`` where missing). Give the client ``max_retries=0``: retries happen
    here. A re-run skips every id already in ``output``, errors included, unless
    ``retry_errors`` (their lines are removed first, so each id still appears once).
    ``window`` is the period over which the deployment's RPM is evaluated (Azure: 1 s or
    10 s; 1 s is the safe choice when unsure). ``clock`` and ``sleep`` are injectable (tests
    run on accelerated time).
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
        pacer=Pacer(
            requests_per_minute, tokens_per_minute, clock=clock, sleep=sleep, window=window
        ),
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


# --- one long request: the Responses API's background mode ------------------------------------

UNFINISHED = frozenset({"queued", "in_progress"})
"""The statuses of a background response still to be polled (Learn: "Continue polling while
the status is queued or in_progress")."""


class ResponseTimeoutError(CookbookError, TimeoutError):
    """A background response was still ``queued`` or ``in_progress`` at the deadline."""

    def __init__(self, response: Response, waited: float) -> None:
        self.response = response
        super().__init__(
            f"response {response.id} is still {response.status} after {waited:g} s; wait "
            f"longer (timeout=...), or stop it with client.responses.cancel({response.id!r})"
        )


def _keep_polling(response: Response, started: float, now: float, timeout: float) -> bool:
    """True while ``response`` is unfinished and the deadline is not reached; raises at it."""
    if response.status not in UNFINISHED:
        return False
    if now - started >= timeout:
        raise ResponseTimeoutError(response, now - started)
    return True


def wait_for_response(
    client: OpenAI | AzureOpenAI,
    response_id: str,
    *,
    poll: float = 2.0,
    timeout: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = time.monotonic,
) -> Response:
    """Poll a background response (``responses.create(..., background=True)``) every ``poll``
    seconds until it is no longer queued or in progress, and return it: ``completed``,
    ``failed``, ``incomplete`` or ``cancelled`` (read ``status`` before ``output_text``).
    Raises :class:`ResponseTimeoutError` (with the last response) after ``timeout`` seconds.
    ``sleep`` and ``clock`` are injectable: tests and notebooks on virtual time pass theirs.
    """
    started = clock()
    response = client.responses.retrieve(response_id)
    while _keep_polling(response, started, clock(), timeout):
        sleep(poll)
        response = client.responses.retrieve(response_id)
    return response


async def wait_for_response_async(
    client: AsyncOpenAI | AsyncAzureOpenAI,
    response_id: str,
    *,
    poll: float = 2.0,
    timeout: float = 600.0,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
) -> Response:
    """:func:`wait_for_response` for the async clients."""
    started = clock()
    response = await client.responses.retrieve(response_id)
    while _keep_polling(response, started, clock(), timeout):
        await sleep(poll)
        response = await client.responses.retrieve(response_id)
    return response


# --- exercise --------------------------------------------------------------------------------

MINIMUM_MINUTES_CASES: list[tuple[int, int, int, int]] = [
    (600, 500, 300, 100_000),
    (600, 100, 300, 100_000),
    (45, 2_000, 60, 90_000),
]
"""(items, quota tokens per item, requests per minute, tokens per minute) cases."""


def check_minimum_minutes(minimum_minutes: Callable[[int, int, int, int], float]) -> Feedback:
    """Check ``minimum_minutes(items, tokens_per_item, rpm, tpm)``: the job's shortest run.

    Both quotas hold at once, so the job takes at least the longer of ``items / rpm`` and
    ``items * tokens_per_item / tpm`` minutes.
    """
    exercise = "minimum minutes"
    for items, tokens, rpm, tpm in MINIMUM_MINUTES_CASES:
        by_requests, by_tokens = items / rpm, items * tokens / tpm
        expected = max(by_requests, by_tokens)
        got = attempt(exercise, minimum_minutes, items, tokens, rpm, tpm)
        if isinstance(got, Feedback):
            return got
        if isinstance(got, int | float) and math.isclose(got, expected):
            continue
        case = f"{items} items of {tokens} tokens at {rpm} RPM and {tpm} TPM"
        binding = "tokens-per-minute" if by_tokens > by_requests else "requests-per-minute"
        if isinstance(got, int | float) and math.isclose(got, by_requests + by_tokens):
            hint = "both limits apply at the same time, not one after the other: take the larger"
        else:
            hint = f"here the {binding} limit binds: take the larger of the two times"
        return failed(exercise, f"{case}: got {got!r}, expected {expected:g} minutes; {hint}.")
    return passed(exercise, f"all {len(MINIMUM_MINUTES_CASES)} jobs get their binding limit.")
