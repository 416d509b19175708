"""Monitoring: metrics recorded from every response, percentiles, error rates, plots.

Give the SDK an HTTP client whose transport records each request it carries, and
every call is measured without touching the code that makes it:

    monitor = Monitor()
    client = AzureOpenAI(..., http_client=monitor.http_client())
    client.chat.completions.create(...)            # recorded
    print(monitor.table())                         # p50 / p95 / p99, error rate, tokens

What a :class:`RequestRecord` holds: the deployment (from the path, or ``model`` on the
v1 API), the operation, the status, the latency (request sent to body fully read), the
time to first token of a stream, the token usage read from the body (prompt,
completion, cached, reasoning; from a stream's usage chunk or the Responses API's
``response.completed`` event), the request id, the SDK's retry attempt, and for a
failure its kind from :func:`helpers.error_handling.classify` (``rate_limited``,
``server_error``, ``timeout``, ``connection``...).

Why a transport and not an httpx event hook: a response hook runs before the body is
read (so no tokens, and reading it there would break streams), and no hook runs when
the connection fails. The transport sees the body as it streams past (nothing is
buffered but a JSON answer) and every connection error. Each attempt the SDK makes is
one record, so its own retries show up too (``attempt`` > 0).

Percentiles are nearest-rank (``numpy.percentile(..., method="inverted_cdf")``): each
one is a latency that was actually recorded. Summaries are lists of dicts (one per
group) and a plain-text table; :func:`plot_latency` and :func:`plot_errors` draw with
matplotlib. No OpenTelemetry: exporting needs a collector; the records are plain data
to send wherever you like (``record.model_dump()``).
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx2
import numpy as np
import openai
import pydantic

from ._support.exercises import Feedback, attempt, failed, passed
from ._support.sse import DONE, ServerSentEvent, arelay, relay
from .error_handling import ErrorKind, classify

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "AsyncMonitoredTransport",
    "Monitor",
    "MonitoredTransport",
    "RequestRecord",
    "check_percentile",
    "error_counts",
    "format_table",
    "percentiles",
    "plot_errors",
    "plot_latency",
    "summarize",
]

PERCENTILES: tuple[int, ...] = (50, 95, 99)
Clock = Callable[[], float]


class RequestRecord(pydantic.BaseModel):
    """One HTTP attempt, as the client saw it."""

    model_config = pydantic.ConfigDict(frozen=True)

    started: float
    """When the request was sent, on the monitor's clock."""
    method: str
    operation: str
    """What was called: ``chat/completions``, ``embeddings``, ``responses``..."""
    deployment: str | None
    status: int | None
    """The HTTP status; ``None`` when no answer arrived (reset, timeout)."""
    error: ErrorKind | None = None
    """The failure's kind, or ``None`` for a success."""
    latency: float
    """Seconds from sending the request to the end of the body (or the failure)."""
    time_to_first_token: float | None = None
    """Streams: seconds to the first event that carries output."""
    stream: bool = False
    events: int | None = None
    """Streams: how many server-sent events arrived (``[DONE]`` not counted)."""
    attempt: int = 0
    """The SDK's retry count for this request (``x-stainless-retry-count``)."""
    request_id: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# --- what a request and its body say ------------------------------------------------------


def _describe_request(request: httpx2.Request) -> tuple[str, str | None]:
    """The operation and the deployment of a request to Azure OpenAI (either surface)."""
    parts = [p for p in request.url.path.split("/") if p]
    deployment: str | None = None
    if "deployments" in parts and parts.index("deployments") + 1 < len(parts):
        at = parts.index("deployments")
        deployment, rest = parts[at + 1], parts[at + 2 :]
    elif "v1" in parts:
        rest = parts[parts.index("v1") + 1 :]
    else:
        rest = parts[1:] if parts[:1] == ["openai"] else parts
    if deployment is None:
        try:
            body = json.loads(request.content) if request.content else None
        except (httpx2.RequestNotRead, ValueError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            deployment = body["model"]
    return "/".join(rest) or "/", deployment


def _usage_fields(usage: Mapping[str, Any]) -> dict[str, int | None]:
    """Token counts from a Chat Completions or a Responses ``usage`` object."""

    def number(value: Any) -> int | None:
        return value if isinstance(value, int) else None

    def detail(name: str, key: str) -> int | None:
        details = usage.get(name)
        return number(details.get(key)) if isinstance(details, Mapping) else None

    prompt = number(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion = number(usage.get("completion_tokens", usage.get("output_tokens")))
    cached = detail("prompt_tokens_details", "cached_tokens")
    if cached is None:
        cached = detail("input_tokens_details", "cached_tokens")
    reasoning = detail("completion_tokens_details", "reasoning_tokens")
    if reasoning is None:
        reasoning = detail("output_tokens_details", "reasoning_tokens")
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": cached,
        "reasoning_tokens": reasoning,
    }


def _error_kind(
    request: httpx2.Request, status: int, headers: httpx2.Headers, body: Any
) -> ErrorKind:
    """The kind :func:`classify` gives the exception the SDK raises for this answer."""
    data = body.get("error", body) if isinstance(body, Mapping) else body
    response = httpx2.Response(status, headers=headers, request=request)
    return classify(
        openai.APIStatusError(f"Error code: {status}", response=response, body=data)
    ).kind


def _transport_error_kind(error: BaseException) -> ErrorKind:
    if isinstance(error, httpx2.TimeoutException):
        return ErrorKind.TIMEOUT
    if isinstance(error, httpx2.TransportError):
        return ErrorKind.CONNECTION
    return ErrorKind.UNEXPECTED


class _Decoder:
    """Undo ``content-encoding`` (gzip, deflate) on the bytes the transport hands back."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        self.supported = encoding in {"", "identity", "gzip", "deflate"}
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}.get(encoding)
        self._zlib = zlib.decompressobj(wbits) if wbits else None

    def __call__(self, chunk: bytes) -> bytes:
        if not self.supported:
            return b""
        return self._zlib.decompress(chunk) if self._zlib else chunk


_TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class _Observation:
    """What one response's body says, read as it passes."""

    def __init__(
        self,
        monitor: Monitor,
        request: httpx2.Request,
        started: float,
        response: httpx2.Response,
    ) -> None:
        self.monitor, self.request, self.started = monitor, request, started
        self.status = response.status_code
        self.headers = response.headers
        self.stream = "text/event-stream" in response.headers.get("content-type", "")
        self.decode = _Decoder(response.headers.get("content-encoding", ""))
        self._body = bytearray()
        self.first_token: float | None = None
        self.events = 0
        self.usage: dict[str, int | None] = {}
        self.model: str | None = None
        self.done = False

    def feed(self, chunk: bytes) -> None:
        """Keep a JSON answer's bytes (a stream's events arrive through :meth:`on_event`)."""
        self._body += self.decode(chunk)

    def on_event(self, event: ServerSentEvent) -> None:
        """One server-sent event, parsed as its chunk passes (``[DONE]`` is not counted)."""
        if not event.data or event.data == DONE:
            return
        try:
            data = json.loads(event.data)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        self.events += 1
        kind = data.get("type")
        carries_output = (
            kind.endswith(".delta") if isinstance(kind, str) else bool(data.get("choices"))
        )
        if carries_output and self.first_token is None:
            self.first_token = self.monitor.clock() - self.started
        # A Responses stream's usage is in its terminal event (completed, incomplete, failed).
        response = data.get("response") if kind in _TERMINAL_EVENTS else data
        if isinstance(response, dict):
            if isinstance(response.get("usage"), dict):
                self.usage = _usage_fields(response["usage"])
            if response.get("model"):
                self.model = str(response["model"])

    def __enter__(self) -> _Observation:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        """The body's one pass is over: a reader that stopped early (``GeneratorExit``) is
        not a failure."""
        self.finish(None if isinstance(exc, GeneratorExit) else exc)

    def finish(self, failure: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        body: Any = None
        if not self.stream and self._body:
            try:
                body = json.loads(bytes(self._body))
            except ValueError:
                body = None
        if isinstance(body, dict):
            if isinstance(body.get("usage"), dict):
                self.usage = _usage_fields(body["usage"])
            if isinstance(body.get("model"), str):
                self.model = body["model"]
        error: ErrorKind | None = None
        if self.status >= 400:
            error = _error_kind(self.request, self.status, self.headers, body)
        elif failure is not None:
            error = _transport_error_kind(failure)
        self.monitor.add(
            _record(
                self.monitor,
                self.request,
                self.started,
                status=self.status,
                error=error,
                time_to_first_token=self.first_token,
                stream=self.stream,
                events=self.events if self.stream else None,
                request_id=self.headers.get("x-request-id") or self.headers.get("apim-request-id"),
                model=self.model,
                **self.usage,
            )
        )


def _record(
    monitor: Monitor, request: httpx2.Request, started: float, **fields: Any
) -> RequestRecord:
    operation, deployment = _describe_request(request)
    try:
        attempt = int(request.headers.get("x-stainless-retry-count", "0"))
    except ValueError:
        attempt = 0
    return RequestRecord(
        started=started,
        method=request.method,
        operation=operation,
        deployment=deployment,
        latency=monitor.clock() - started,
        attempt=attempt,
        **fields,
    )


class _ObservedStream(httpx2.SyncByteStream):
    """The body as it passes, observed once.

    Iterating it again continues the same pass: after ``[DONE]`` the SDK drains "the rest"
    of a stream by iterating the body anew, and that must not read the connection twice.
    """

    def __init__(self, inner: Iterable[bytes], observation: _Observation) -> None:
        self._inner, self._observation = inner, observation
        self._pass: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        if self._pass is None:
            self._pass = self._observe()
        return self._pass

    def _observe(self) -> Iterator[bytes]:
        with self._observation as observation:
            if observation.stream:
                yield from relay(self._inner, observation.on_event, transform=observation.decode)
            else:
                for chunk in self._inner:
                    observation.feed(chunk)
                    yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            self._observation.finish()


class _AsyncObservedStream(httpx2.AsyncByteStream):
    """The async twin of :class:`_ObservedStream`."""

    def __init__(self, inner: Any, observation: _Observation) -> None:
        self._inner, self._observation = inner, observation
        self._pass: AsyncIterator[bytes] | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._pass is None:
            self._pass = self._observe()
        return self._pass

    async def _observe(self) -> AsyncIterator[bytes]:
        with self._observation as observation:
            if observation.stream:
                relayed = arelay(self._inner, observation.on_event, transform=observation.decode)
                try:
                    async for chunk in relayed:
                        yield chunk
                finally:
                    await relayed.aclose()
            else:
                async for chunk in self._inner:
                    observation.feed(chunk)
                    yield chunk

    async def aclose(self) -> None:
        try:
            aclose = getattr(self._inner, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            self._observation.finish()


def _unanswered(
    monitor: Monitor, request: httpx2.Request, started: float, error: Exception
) -> None:
    """Record a request the transport raised for, with no response at all."""
    kind = _transport_error_kind(error)
    monitor.add(_record(monitor, request, started, status=None, error=kind))


def _observed(
    monitor: Monitor,
    request: httpx2.Request,
    started: float,
    response: httpx2.Response,
    stream: Callable[[Any, _Observation], httpx2.SyncByteStream | httpx2.AsyncByteStream],
) -> httpx2.Response:
    """``response`` with its body wrapped in ``stream``, which records it as it passes."""
    observation = _Observation(monitor, request, started, response)
    return httpx2.Response(
        response.status_code,
        headers=response.headers,
        stream=stream(response.stream, observation),
        request=request,
        extensions=response.extensions,
    )


class MonitoredTransport(httpx2.BaseTransport):
    """An httpx2 transport that records every request it carries in a :class:`Monitor`."""

    def __init__(self, monitor: Monitor, inner: httpx2.BaseTransport | None = None) -> None:
        self.monitor = monitor
        self.inner = inner or httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        started = self.monitor.clock()
        try:
            response = self.inner.handle_request(request)
        except Exception as exc:
            _unanswered(self.monitor, request, started, exc)
            raise
        assert isinstance(response.stream, Iterable)
        return _observed(self.monitor, request, started, response, _ObservedStream)

    def close(self) -> None:
        self.inner.close()


class AsyncMonitoredTransport(httpx2.AsyncBaseTransport):
    """The async twin of :class:`MonitoredTransport`."""

    def __init__(self, monitor: Monitor, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self.monitor = monitor
        self.inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        started = self.monitor.clock()
        try:
            response = await self.inner.handle_async_request(request)
        except Exception as exc:
            _unanswered(self.monitor, request, started, exc)
            raise
        return _observed(self.monitor, request, started, response, _AsyncObservedStream)

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- the monitor --------------------------------------------------------------------------


class Monitor:
    """Collects a :class:`RequestRecord` per request; summarises and plots them.

    ``clock`` (seconds, monotonic) is injectable; ``max_records`` keeps memory bounded in a
    long-running process (the oldest records are dropped first).
    """

    def __init__(self, *, clock: Clock = time.perf_counter, max_records: int = 100_000) -> None:
        if max_records < 1:
            raise ValueError(f"max_records must be at least 1, got {max_records}")
        self.clock = clock
        self._records: deque[RequestRecord] = deque(maxlen=max_records)
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[RequestRecord]:
        """A copy of what has been recorded, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def http_client(self, inner: httpx2.BaseTransport | None = None) -> httpx2.Client:
        """An ``http_client=`` for ``AzureOpenAI`` / ``OpenAI``, with the SDK's own defaults."""
        return openai.DefaultHttpxClient(transport=MonitoredTransport(self, inner))

    def async_http_client(
        self, inner: httpx2.AsyncBaseTransport | None = None
    ) -> httpx2.AsyncClient:
        """An ``http_client=`` for ``AsyncAzureOpenAI`` / ``AsyncOpenAI``."""
        return openai.DefaultAsyncHttpxClient(transport=AsyncMonitoredTransport(self, inner))

    def summary(self, by: str | None = "deployment") -> list[dict[str, Any]]:
        """:func:`summarize` over this monitor's records."""
        return summarize(self.records, by=by)

    def table(self, by: str | None = "deployment") -> str:
        """The summary as a plain-text table."""
        return format_table(self.summary(by=by))

    def error_counts(self, by: str | None = None) -> dict[Any, Counter[str]]:
        """Failures per kind, overall (``by=None``) or per ``deployment`` / ``operation``."""
        return error_counts(self.records, by=by)


# --- summaries ----------------------------------------------------------------------------


def percentiles(values: Sequence[float], qs: Sequence[int] = PERCENTILES) -> dict[str, float]:
    """Nearest-rank percentiles (``p50``...): each is one of ``values``."""
    if not values:
        raise ValueError("no values to take percentiles of")
    if any(not 0 < q <= 100 for q in qs):
        raise ValueError(f"percentiles must be in (0, 100], got {list(qs)}")
    found = np.percentile(np.asarray(values, dtype=float), list(qs), method="inverted_cdf")
    return {f"p{q}": float(v) for q, v in zip(qs, found, strict=True)}


GROUPS = ("deployment", "operation", "model", "status")


def _groups(records: Sequence[RequestRecord], by: str | None) -> dict[Any, list[RequestRecord]]:
    if by is not None and by not in GROUPS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPS)} or None")
    groups: dict[Any, list[RequestRecord]] = {}
    for record in records:
        key = "all" if by is None else getattr(record, by)
        groups.setdefault(key, []).append(record)
    return groups


def _total(records: Iterable[RequestRecord], field: str) -> int:
    return sum(getattr(r, field) or 0 for r in records)


def summarize(
    records: Sequence[RequestRecord], by: str | None = "deployment"
) -> list[dict[str, Any]]:
    """One row per group: requests, error rate, latency percentiles (ms) of successes, tokens.

    Latency percentiles are taken over successful requests (a reset or a 429 answers fast
    and would flatter them); time to first token over successful streams.
    """
    rows: list[dict[str, Any]] = []
    for key, group in sorted(_groups(records, by).items(), key=lambda kv: str(kv[0])):
        ok = [r for r in group if r.ok]
        row: dict[str, Any] = {
            by or "group": key,
            "requests": len(group),
            "errors": len(group) - len(ok),
            "error_rate": (len(group) - len(ok)) / len(group),
        }
        latency = percentiles([r.latency * 1000 for r in ok]) if ok else {}
        for q in PERCENTILES:
            row[f"p{q}_ms"] = latency.get(f"p{q}")
        first = [r.time_to_first_token * 1000 for r in ok if r.time_to_first_token is not None]
        row["ttft_p50_ms"] = percentiles(first, [50])["p50"] if first else None
        for field in ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens"):
            row[field] = _total(ok, field)
        rows.append(row)
    return rows


def error_counts(
    records: Sequence[RequestRecord], by: str | None = None
) -> dict[Any, Counter[str]]:
    """``{group: Counter({kind: n})}`` of failures; the group is ``"all"`` when ``by`` is None."""
    return {
        key: Counter(r.error.value for r in group if r.error is not None)
        for key, group in _groups(records, by).items()
    }


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of dicts as an aligned plain-text table (error rates as percentages)."""
    if not rows:
        return "(no requests recorded)"
    columns = list(rows[0])
    cells = [[_format(column, row.get(column)) for column in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(columns, widths, strict=True))
        )
    ]
    for line in cells:
        lines.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    return "\n".join(lines)


def _format(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column.endswith("rate"):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# --- plots --------------------------------------------------------------------------------


def plot_latency(
    records: Sequence[RequestRecord], ax: Axes | None = None, *, bins: int = 20
) -> Axes:
    """A histogram of successful requests' latency (ms), with p50 / p95 / p99 marked."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    values = [r.latency * 1000 for r in records if r.ok]
    if not values:
        raise ValueError("no successful requests to plot")
    ax.hist(values, bins=bins, color="#4c72b0", edgecolor="white")
    styles = {50: "-", 95: "--", 99: ":"}
    for name, value in percentiles(values).items():
        ax.axvline(
            value, color="black", linestyle=styles[int(name[1:])], label=f"{name} {value:,.0f} ms"
        )
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("requests")
    ax.set_title(f"Latency of {len(values)} successful requests")
    ax.legend()
    return ax


def plot_errors(records: Sequence[RequestRecord], ax: Axes | None = None) -> Axes:
    """Failures by kind, one bar per kind, stacked by deployment."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    by_deployment = error_counts(records, by="deployment")
    kinds = sorted({kind for counts in by_deployment.values() for kind in counts})
    if not kinds:
        raise ValueError("no failures to plot")
    bottom = np.zeros(len(kinds))
    for deployment, counts in sorted(by_deployment.items(), key=lambda kv: str(kv[0])):
        heights = np.array([counts.get(kind, 0) for kind in kinds], dtype=float)
        if heights.any():
            ax.bar(kinds, heights, bottom=bottom, label=str(deployment))
            bottom += heights
    ax.set_ylabel("failed requests")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no half failures
    ax.set_title(f"{int(bottom.sum())} failures of {len(records)} requests, by kind")
    ax.legend(title="deployment")
    ax.tick_params(axis="x", rotation=20)
    return ax


# --- exercise --------------------------------------------------------------------------------

PERCENTILE_CASES: list[tuple[list[float], int]] = [
    ([0.42, 0.38, 0.51, 0.47, 2.9, 0.44, 0.40, 0.39, 0.61, 0.45], 95),
    ([0.42, 0.38, 0.51, 0.47, 2.9, 0.44, 0.40, 0.39, 0.61, 0.45], 50),
    ([1.2, 0.8, 0.9], 99),
    ([0.7], 50),
]
"""Latencies in seconds (one slow tail) and the percentile asked of them."""


def check_percentile(percentile: Callable[[list[float], int], float]) -> Feedback:
    """Check ``percentile(latencies, q)``: the nearest-rank percentile, one of the latencies.

    The reference is :func:`percentiles`; the values are handed over unsorted.
    """
    exercise = "nearest-rank percentile"
    for values, q in PERCENTILE_CASES:
        expected = percentiles(values, [q])[f"p{q}"]
        got = attempt(exercise, percentile, list(values), q)
        if isinstance(got, Feedback):
            return got
        if isinstance(got, int | float) and abs(got - expected) < 1e-9:
            continue
        if isinstance(got, int | float) and got not in values:
            hint = (
                "that is not one of the latencies: take the value at rank ceil(q/100 * n) "
                "of the sorted list, do not interpolate"
            )
        elif isinstance(got, int | float):
            hint = "a latency, but the wrong rank: sort, take rank ceil(q/100 * n), from 1"
        else:
            hint = "return a number"
        return failed(
            exercise, f"p{q} of {len(values)} latencies: got {got!r}, expected {expected}; {hint}."
        )
    return passed(exercise, f"all {len(PERCENTILE_CASES)} percentiles are the nearest-rank ones.")
