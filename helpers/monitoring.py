"""Monitoring on OpenTelemetry: GenAI spans and metrics, percentiles, error rates, plots.

OpenTelemetry records; this module adds only what it does not provide. The spans and
metrics follow OpenTelemetry's GenAI semantic conventions (``gen_ai.operation.name``,
``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.usage.input_tokens`` /
``output_tokens``, ``error.type``; the histograms ``gen_ai.client.operation.duration`` and
``gen_ai.client.token.usage``), written either by hand or by the contrib instrumentation
``opentelemetry-instrumentation-genai-openai``, which wraps the openai SDK's methods:

    telemetry = setup_telemetry()                  # in-memory exporter and metric reader
    instrumentor = telemetry.instrument_openai()   # every openai client, no code changes
    client.chat.completions.create(...)            # one span per call
    calls = calls_from_spans(telemetry.spans.get_finished_spans())
    print(format_table(summarize(calls)))          # p50 / p95 / p99, error rate, tokens

What is here:

- :func:`setup_telemetry`: a tracer, meter and logger provider with in-memory exporters,
  not installed globally (nothing else in the process is affected).
- :class:`AttemptSpans`: an ``httpx2`` transport that writes one HTTP client span per
  attempt, child of the current GenAI span, so the SDK's own retries are visible. The
  contrib ``opentelemetry-instrumentation-httpx`` instruments ``httpx``, and the openai
  SDK sends through ``httpx2``.
- :func:`calls_from_spans` and :func:`attempts_from_spans`: exported spans as plain
  records; :func:`summarize`, :func:`format_table`, :func:`error_counts`,
  :func:`plot_latency` and :func:`plot_errors` over them.
- :func:`export_to_azure_monitor`: ``configure_azure_monitor`` when
  ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set, and a reason when it is not.

Percentiles are nearest-rank (``numpy.percentile(..., method="inverted_cdf")``): each one
is a latency that was actually recorded.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2
import numpy as np
import pydantic
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._support.exercises import Feedback, attempt, failed, passed

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

__all__ = [
    "CONNECTION_STRING",
    "DELAY_ATTRIBUTE",
    "AttemptRecord",
    "AttemptSpans",
    "CallRecord",
    "Telemetry",
    "attempts_from_spans",
    "calls_from_spans",
    "check_percentile",
    "error_counts",
    "export_to_azure_monitor",
    "format_table",
    "percentiles",
    "plot_errors",
    "plot_latency",
    "setup_telemetry",
    "summarize",
]

PERCENTILES: tuple[int, ...] = (50, 95, 99)
CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
"""The variable ``azure-monitor-opentelemetry`` reads the Application Insights resource from."""
DELAY_ATTRIBUTE = "replay.delay_ms"
"""The replay server's drawn delay (its own ``x-replay-delay-ms`` header; Azure sends none),
put on the spans by :class:`AttemptSpans` so offline figures can use it."""


# --- setup --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Telemetry:
    """Providers whose spans, metrics and log records stay in memory, for reading back."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    def tracer(self, name: str = "cookbook") -> trace.Tracer:
        return self.tracer_provider.get_tracer(name)

    def instrument_openai(self) -> OpenAIInstrumentor:
        """Instrument every openai client in the process with these providers
        (``.uninstrument()`` on the result undoes it)."""
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            logger_provider=self.logger_provider,
        )
        return instrumentor

    def exported_text(self) -> str:
        """Everything exported so far as text (span names, attributes, events, log records),
        for checking what reaches a backend, e.g. that no prompt text does."""
        parts: list[str] = []
        for span in self.spans.get_finished_spans():
            parts += [span.name, repr(dict(span.attributes or {}))]
            parts += [f"{e.name} {dict(e.attributes or {})!r}" for e in span.events]
        for log in self.logs.get_finished_logs():
            record = log.log_record
            parts += [repr(record.body), repr(dict(record.attributes or {}))]
        return "\n".join(parts)

    def clear(self) -> None:
        """Forget the spans and log records exported so far (metrics are cumulative)."""
        self.spans.clear()
        self.logs.clear()


def setup_telemetry() -> Telemetry:
    """Tracer, meter and logger providers exporting to memory (not installed globally)."""
    spans, logs, metrics = (
        InMemorySpanExporter(),
        InMemoryLogRecordExporter(),
        InMemoryMetricReader(),
    )
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    return Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[metrics]),
        logger_provider=logger_provider,
        spans=spans,
        metrics=metrics,
        logs=logs,
    )


# --- one span per HTTP attempt ----------------------------------------------------------------


class AttemptSpans(httpx2.BaseTransport):
    """An ``httpx2`` transport that writes an HTTP client span for each attempt it carries.

    The span is a child of the current span (the GenAI span of the call, when there is one)
    and ends when the answer's headers arrive: ``http.response.status_code``, the SDK's retry
    number (``http.request.resend_count``) and, for a failure, ``error.type`` (the status
    code, or the exception's class when no answer came). The replay server's
    ``x-replay-delay-ms`` is copied to :data:`DELAY_ATTRIBUTE` on both spans.
    """

    def __init__(self, tracer: trace.Tracer, inner: httpx2.BaseTransport | None = None) -> None:
        self.tracer = tracer
        self.inner = inner or httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        call = trace.get_current_span()
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "url.path": request.url.path,
            "server.address": request.url.host,
        }
        retry = request.headers.get("x-stainless-retry-count", "0")
        if retry.isdigit() and int(retry):
            attributes["http.request.resend_count"] = int(retry)
        with self.tracer.start_as_current_span(
            request.method, kind=SpanKind.CLIENT, attributes=attributes, record_exception=False
        ) as span:
            try:
                response = self.inner.handle_request(request)
            except Exception as error:
                span.set_attribute("error.type", type(error).__name__)
                span.set_status(Status(StatusCode.ERROR))
                raise
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 400:
                span.set_attribute("error.type", str(response.status_code))
                span.set_status(Status(StatusCode.ERROR))
            delay = response.headers.get("x-replay-delay-ms")
            if delay is not None:
                span.set_attribute(DELAY_ATTRIBUTE, float(delay))
                if call.is_recording():
                    call.set_attribute(DELAY_ATTRIBUTE, float(delay))
            return response

    def close(self) -> None:
        self.inner.close()


# --- records from exported spans --------------------------------------------------------------


class CallRecord(pydantic.BaseModel):
    """One GenAI span: a call to the model, the SDK's retries included."""

    model_config = pydantic.ConfigDict(frozen=True)

    operation: str
    deployment: str | None
    """``gen_ai.request.model``: on Azure, the deployment's name."""
    model: str | None = None
    """``gen_ai.response.model``: the model that answered."""
    error: str | None = None
    """``error.type``, or ``None`` for a success."""
    latency: float
    """Seconds: the span's duration, or offline the replay server's drawn delay."""
    time_to_first_chunk: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    """``gen_ai.usage.reasoning.output_tokens``: part of the output tokens."""
    attempts: int = 0
    """HTTP attempt spans under this call (:class:`AttemptSpans`)."""

    @property
    def ok(self) -> bool:
        return self.error is None


class AttemptRecord(pydantic.BaseModel):
    """One HTTP attempt span, with the deployment of the call it belongs to."""

    model_config = pydantic.ConfigDict(frozen=True)

    deployment: str | None
    status: int | None
    error: str | None = None
    retry: int = 0
    latency: float

    @property
    def ok(self) -> bool:
        return self.error is None


def _seconds(span: ReadableSpan) -> float:
    if span.start_time is None or span.end_time is None:
        raise ValueError(f"span {span.name!r} has not ended")
    return (span.end_time - span.start_time) / 1e9


def _is_genai(span: ReadableSpan) -> bool:
    return "gen_ai.operation.name" in (span.attributes or {})


def calls_from_spans(
    spans: Iterable[ReadableSpan], *, latency: str = "measured"
) -> list[CallRecord]:
    """A :class:`CallRecord` per GenAI span, in the order they ended.

    ``latency="configured"`` takes each call's latency from :data:`DELAY_ATTRIBUTE` (the
    replay server's drawn delay before the answer), so offline figures do not depend on
    how busy the machine is; a success without it is an error.
    """
    if latency not in ("measured", "configured"):
        raise ValueError(f"latency must be 'measured' or 'configured', got {latency!r}")
    spans = list(spans)
    children = Counter(s.parent.span_id for s in spans if s.parent is not None and not _is_genai(s))
    records = []
    for span in spans:
        if not _is_genai(span):
            continue
        a = span.attributes or {}
        seconds = _seconds(span)
        error = a.get("error.type")
        if latency == "configured" and error is None:
            if DELAY_ATTRIBUTE not in a:
                raise ValueError(
                    f"span {span.name!r} has no {DELAY_ATTRIBUTE}: was the client's transport "
                    "AttemptSpans, on a replay server with latency configured?"
                )
            seconds = float(a[DELAY_ATTRIBUTE]) / 1000  # type: ignore[arg-type]
        records.append(
            CallRecord(
                operation=str(a["gen_ai.operation.name"]),
                deployment=_str(a.get("gen_ai.request.model")),
                model=_str(a.get("gen_ai.response.model")),
                error=_str(error),
                latency=seconds,
                time_to_first_chunk=a.get("gen_ai.response.time_to_first_chunk"),  # type: ignore[arg-type]
                input_tokens=a.get("gen_ai.usage.input_tokens"),  # type: ignore[arg-type]
                output_tokens=a.get("gen_ai.usage.output_tokens"),  # type: ignore[arg-type]
                reasoning_tokens=a.get("gen_ai.usage.reasoning.output_tokens"),  # type: ignore[arg-type]
                attempts=children[span.context.span_id] if span.context else 0,
            )
        )
    return records


def attempts_from_spans(spans: Iterable[ReadableSpan]) -> list[AttemptRecord]:
    """An :class:`AttemptRecord` per HTTP attempt span written by :class:`AttemptSpans`."""
    spans = list(spans)
    deployments = {
        s.context.span_id: _str((s.attributes or {}).get("gen_ai.request.model"))
        for s in spans
        if _is_genai(s) and s.context is not None
    }
    records = []
    for span in spans:
        a = span.attributes or {}
        if _is_genai(span) or "http.request.method" not in a:
            continue
        status = a.get("http.response.status_code")
        records.append(
            AttemptRecord(
                deployment=deployments.get(span.parent.span_id) if span.parent else None,
                status=status if isinstance(status, int) else None,
                error=_str(a.get("error.type")),
                retry=a.get("http.request.resend_count", 0),  # type: ignore[arg-type]
                latency=_seconds(span),
            )
        )
    return records


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


# --- summaries ----------------------------------------------------------------------------

Record = CallRecord | AttemptRecord


def percentiles(values: Sequence[float], qs: Sequence[int] = PERCENTILES) -> dict[str, float]:
    """Nearest-rank percentiles (``p50``...): each is one of ``values``."""
    if not values:
        raise ValueError("no values to take percentiles of")
    if any(not 0 < q <= 100 for q in qs):
        raise ValueError(f"percentiles must be in (0, 100], got {list(qs)}")
    found = np.percentile(np.asarray(values, dtype=float), list(qs), method="inverted_cdf")
    return {f"p{q}": float(v) for q, v in zip(qs, found, strict=True)}


GROUPS = ("deployment", "operation", "model", "status", "error")


def _groups(records: Sequence[Record], by: str | None) -> dict[Any, list[Record]]:
    if by is not None and by not in GROUPS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPS)} or None")
    groups: dict[Any, list[Record]] = {}
    for record in records:
        if by is not None and not hasattr(record, by):
            raise ValueError(f"a {type(record).__name__} has no {by!r} to group by")
        key = "all" if by is None else getattr(record, by)
        groups.setdefault(key, []).append(record)
    return groups


def summarize(records: Sequence[Record], by: str | None = "deployment") -> list[dict[str, Any]]:
    """One row per group: requests, error rate, latency percentiles (ms) of successes, tokens.

    Latency percentiles are taken over successes (a reset or a 429 answers fast and would
    flatter them); tokens are summed over successes, where the records carry them.
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
        for field in ("input_tokens", "output_tokens", "reasoning_tokens"):
            if all(isinstance(r, CallRecord) for r in group):
                row[field] = sum(getattr(r, field) or 0 for r in ok)
        rows.append(row)
    return rows


def error_counts(records: Sequence[Record], by: str | None = None) -> dict[Any, Counter[str]]:
    """``{group: Counter({error.type: n})}``; the group is ``"all"`` when ``by`` is None."""
    return {
        key: Counter(r.error for r in group if r.error is not None)
        for key, group in _groups(records, by).items()
    }


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of dicts as an aligned plain-text table (error rates as percentages)."""
    if not rows:
        return "(no requests recorded)"
    columns = list(rows[0])
    cells = [[_format(column, row.get(column)) for column in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    return "\n".join([line(columns), *(line(values) for values in cells)])


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


def plot_latency(records: Sequence[Record], ax: Axes | None = None, *, bins: int = 20) -> Axes:
    """A histogram of successes' latency (ms), with p50 / p95 / p99 marked."""
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


def plot_errors(records: Sequence[Record], ax: Axes | None = None) -> Axes:
    """Failures by ``error.type``, one bar per type, stacked by deployment."""
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
    ax.set_title(f"{int(bottom.sum())} failures of {len(records)} requests, by error.type")
    ax.legend(title="deployment")
    ax.tick_params(axis="x", rotation=20)
    return ax


# --- Azure Monitor ------------------------------------------------------------------------


def export_to_azure_monitor(
    environ: Mapping[str, str] | None = None,
    *,
    configure: Callable[..., None] | None = None,
) -> str:
    """Send this process's telemetry to Application Insights when
    ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set; say why not otherwise.

    ``configure`` defaults to ``azure.monitor.opentelemetry.configure_azure_monitor``, which
    installs global providers exporting to that resource (tests pass their own).
    """
    environ = os.environ if environ is None else environ
    connection_string = environ.get(CONNECTION_STRING, "").strip()
    if not connection_string:
        return (
            f"Azure Monitor export skipped: {CONNECTION_STRING} is not set "
            "(offline, nothing leaves this machine)."
        )
    if "InstrumentationKey=" not in connection_string:
        raise ValueError(
            f"{CONNECTION_STRING} does not look like a connection string (no "
            "'InstrumentationKey='): copy it from the Application Insights resource's Overview"
        )
    if configure is None:
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure = configure_azure_monitor
    configure(connection_string=connection_string)
    return "Exporting to Azure Monitor: the Application Insights resource of the connection string."


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
