"""Monitoring on OpenTelemetry: GenAI spans written by hand and by the openai instrumentation
give the same table; spans carry the GenAI attribute names and no prompt text unless the
reader opts in; HTTP attempt spans show the SDK's retries; the Azure Monitor path is decided
by APPLICATIONINSIGHTS_CONNECTION_STRING. Driven through the openai SDK against the replay
server with forced and seeded faults."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import matplotlib
import numpy as np
import openai
import pytest
import sentry_sdk
from conftest import HELLO, StartServer, solution, sync_client
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from openai.types.chat import ChatCompletionMessageParam
from opentelemetry.sdk.metrics.export import HistogramDataPoint
from opentelemetry.trace import SpanKind, Status, StatusCode

from helpers.error_tracking import MemoryTransport
from helpers.monitoring import (
    DELAY_ATTRIBUTE,
    AttemptRecord,
    AttemptSpans,
    CallRecord,
    Telemetry,
    attempts_from_spans,
    calls_from_spans,
    check_percentile,
    error_counts,
    export_to_azure_monitor,
    format_table,
    percentiles,
    plot_errors,
    plot_latency,
    setup_telemetry,
    summarize,
)
from helpers.replay import ReplayServer

matplotlib.use("Agg")

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
PROMPT = "Name three parts of a bicycle drivetrain."
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": PROMPT}]
GENAI_NAMES = {
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
}


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Telemetry]:
    """In-memory telemetry with the openai SDK instrumented (content capture at its default),
    uninstrumented afterwards so no other test is traced."""
    monkeypatch.delenv(CAPTURE, raising=False)
    telemetry = setup_telemetry()
    instrumentor = telemetry.instrument_openai()
    try:
        yield telemetry
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def server(start_server: StartServer) -> ReplayServer:
    """A lenient server without recordings: every answer is simulated."""
    return start_server(mode="lenient")


def traced(server: ReplayServer, telemetry: Telemetry, **options: Any) -> openai.AzureOpenAI:
    """A client whose HTTP attempts become spans of ``telemetry``."""
    transport = AttemptSpans(telemetry.tracer())
    return sync_client(
        server, http_client=openai.DefaultHttpxClient(transport=transport), **options
    )


def stream_chat(client: openai.AzureOpenAI, deployment: str, **options: Any) -> str:
    stream = client.chat.completions.create(
        model=deployment,
        messages=ASK,
        stream=True,
        stream_options={"include_usage": True},
        **options,
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def chat_by_hand(telemetry: Telemetry, client: openai.AzureOpenAI, deployment: str) -> str:
    """The notebook's section 1: a GenAI span per call, written with opentelemetry-sdk only."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": deployment,
    }
    duration = telemetry.meter_provider.get_meter("by-hand").create_histogram(
        "gen_ai.client.operation.duration", unit="s"
    )
    with telemetry.tracer().start_as_current_span(
        f"chat {deployment}", kind=SpanKind.CLIENT, record_exception=False
    ) as span:
        start = time.perf_counter()
        try:
            chunks = list(
                client.chat.completions.create(
                    model=deployment,
                    messages=ASK,
                    stream=True,
                    stream_options={"include_usage": True},
                )
            )
        except openai.APIError as error:
            attributes["error.type"] = f"openai.{type(error).__name__}"
            span.set_status(Status(StatusCode.ERROR))
            raise
        else:
            usage = chunks[-1].usage
            assert usage is not None
            attributes["gen_ai.response.model"] = chunks[-1].model
            span.set_attributes(
                {
                    "gen_ai.usage.input_tokens": usage.prompt_tokens,
                    "gen_ai.usage.output_tokens": usage.completion_tokens,
                }
            )
            details = usage.completion_tokens_details
            if details is not None and details.reasoning_tokens:
                span.set_attribute("gen_ai.usage.reasoning.output_tokens", details.reasoning_tokens)
        finally:
            span.set_attributes(attributes)
            duration.record(time.perf_counter() - start, attributes)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def faulty_run(start_server: StartServer, telemetry: Telemetry, by_hand: bool) -> int:
    """20 streamed calls over two deployments, seeded faults and drawn delays; failed calls."""
    server = start_server(
        mode="lenient",
        faults={"probability": 0.3, "kinds": ["500", "429", "reset"]},
        latency={"time_to_first_token_ms": 5, "spread": 0.6},
        seed=7,
    )
    client = traced(server, telemetry, max_retries=1)
    failed = 0
    for n in range(20):
        deployment = ("gpt-5.4-mini", "gpt-5.4-nano")[n % 2]
        try:
            if by_hand:
                chat_by_hand(telemetry, client, deployment)
            else:
                stream_chat(client, deployment)
        except openai.APIError:
            failed += 1
    return failed


# --- acceptance ----------------------------------------------------------------------------


def test_by_hand_and_the_instrumentation_give_the_same_table(start_server: StartServer) -> None:
    by_hand = setup_telemetry()
    failed_by_hand = faulty_run(start_server, by_hand, by_hand=True)

    instrumented = setup_telemetry()
    instrumentor = instrumented.instrument_openai()
    try:
        failed_instrumented = faulty_run(start_server, instrumented, by_hand=False)
    finally:
        instrumentor.uninstrument()

    hand_spans = by_hand.spans.get_finished_spans()
    auto_spans = instrumented.spans.get_finished_spans()
    hand = calls_from_spans(hand_spans, latency="configured")
    auto = calls_from_spans(auto_spans, latency="configured")
    assert failed_by_hand == failed_instrumented
    assert len(hand) == len(auto) == 20
    assert summarize(hand) == summarize(auto)
    assert summarize(hand, by=None) == summarize(auto, by=None)
    assert [r.error for r in hand] == [r.error for r in auto]
    assert sum(r.output_tokens or 0 for r in auto) > 0
    # the seed made some attempts fail, and the retries rescued some of them
    hand_attempts = attempts_from_spans(hand_spans)
    auto_attempts = attempts_from_spans(auto_spans)
    assert [(a.status, a.error) for a in hand_attempts] == [
        (a.status, a.error) for a in auto_attempts
    ]
    assert sum(not a.ok for a in auto_attempts) > failed_instrumented


def test_exported_spans_and_metrics_carry_the_genai_names(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    answer = stream_chat(traced(server, telemetry), "gpt-5.4-mini")
    assert answer
    (span,) = [s for s in telemetry.spans.get_finished_spans() if s.kind == SpanKind.CLIENT and
               "gen_ai.operation.name" in (s.attributes or {})]  # fmt: skip
    attributes = dict(span.attributes or {})
    assert set(attributes) >= GENAI_NAMES
    assert span.name == "chat gpt-5.4-mini"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "gpt-5.4-mini"
    assert str(attributes["gen_ai.response.model"]).startswith("gpt-5.4-mini-")
    (record,) = calls_from_spans([span])
    assert record.output_tokens == attributes["gen_ai.usage.output_tokens"]
    assert record.attempts == 0  # the attempt span is not in the list given

    data = telemetry.metrics.get_metrics_data()
    assert data is not None
    metrics = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= set(metrics)
    assert type(metrics["gen_ai.client.token.usage"].data).__name__ == "Histogram"
    points = metrics["gen_ai.client.token.usage"].data.data_points
    by_type = {
        p.attributes["gen_ai.token.type"]: p.sum
        for p in points
        if isinstance(p, HistogramDataPoint) and p.attributes
    }
    assert by_type == {
        "input": attributes["gen_ai.usage.input_tokens"],
        "output": attributes["gen_ai.usage.output_tokens"],
    }


def test_no_prompt_text_reaches_the_exported_telemetry_by_default(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    answer = stream_chat(traced(server, telemetry), "gpt-5.4-mini")
    client = traced(server, telemetry)
    client.chat.completions.create(model="gpt-5.4-nano", messages=ASK)
    exported = telemetry.exported_text()
    assert "gen_ai.usage.output_tokens" in exported  # the spans were exported
    assert PROMPT not in exported
    assert answer[:20] not in exported


@pytest.mark.parametrize("mode", ["span_only", "span_and_event"])
def test_with_the_opt_in_the_prompt_is_captured(
    server: ReplayServer, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv(CAPTURE, mode)
    telemetry = setup_telemetry()
    instrumentor = telemetry.instrument_openai()  # reads the variable when it starts
    try:
        stream_chat(traced(server, telemetry), "gpt-5.4-mini")
    finally:
        instrumentor.uninstrument()
    (span,) = [s for s in telemetry.spans.get_finished_spans() if s.name.startswith("chat ")]
    assert PROMPT in str((span.attributes or {}).get("gen_ai.input.messages"))
    assert PROMPT in telemetry.exported_text()


def test_a_failed_call_is_a_span_with_its_error_type_and_its_attempts(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    client = traced(server, telemetry, max_retries=2)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(
            model="gpt-5.4-mini", messages=HELLO, extra_headers={"x-replay-fault": "500"}
        )
    spans = telemetry.spans.get_finished_spans()
    (call,) = calls_from_spans(spans)
    assert (call.deployment, call.error, call.attempts) == (
        "gpt-5.4-mini",
        "openai.InternalServerError",
        3,
    )
    assert call.input_tokens is None and not call.ok
    attempts = attempts_from_spans(spans)
    assert [(a.deployment, a.status, a.error, a.retry) for a in attempts] == [
        ("gpt-5.4-mini", 500, "500", n) for n in range(3)
    ]
    (genai,) = [s for s in spans if s.name.startswith("chat ")]
    assert all(s.parent and s.parent.span_id == genai.context.span_id for s in spans if s != genai)


@pytest.mark.parametrize(
    ("fault", "exception", "error"),
    [
        ("429", openai.RateLimitError, "429"),
        ("reset", openai.APIConnectionError, "ReadError"),
        ("hang", openai.APITimeoutError, "ReadTimeout"),
    ],
)
def test_an_attempt_without_an_answer_is_a_span_with_the_exception_type(
    server: ReplayServer, telemetry: Telemetry, fault: str, exception: type[Exception], error: str
) -> None:
    client = traced(server, telemetry, timeout=0.3)
    with pytest.raises(exception):
        client.chat.completions.create(
            model="gpt-5.4-nano", messages=HELLO, extra_headers={"x-replay-fault": fault}
        )
    (attempt,) = attempts_from_spans(telemetry.spans.get_finished_spans())
    assert attempt.deployment == "gpt-5.4-nano" and not attempt.ok
    assert attempt.error is not None
    assert (attempt.status, attempt.error) == (429 if fault == "429" else None, error)
    if fault == "hang":
        assert attempt.latency >= 0.3  # the client's timeout, not an answer


def test_a_recorded_answer_is_read_for_its_tokens_reasoning_included(
    start_server: StartServer, telemetry: Telemetry
) -> None:
    server = start_server("test_monitoring.yaml")
    client = traced(server, telemetry, api_version="2025-04-01-preview")
    answer = client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    (record,) = calls_from_spans(telemetry.spans.get_finished_spans())
    assert (record.input_tokens, record.output_tokens, record.reasoning_tokens) == (13, 200, 192)
    assert answer.usage is not None and record.output_tokens == answer.usage.completion_tokens
    assert record.model == answer.model == "gpt-5.4-mini-2026-03-17"
    assert (record.attempts, record.time_to_first_chunk) == (1, None)  # not a stream


def test_a_model_routers_calls_group_by_the_model_that_answered(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    """Behind the model-router deployment, gen_ai.request.model is the deployment and
    gen_ai.response.model the model that answered; summarize(by="model") splits them."""
    client = traced(server, telemetry)
    for effort in ("none", "medium", "none"):  # the simulator routes medium to gpt-5.4-mini
        stream_chat(client, "model-router", reasoning_effort=effort)
    records = calls_from_spans(telemetry.spans.get_finished_spans())
    assert {r.deployment for r in records} == {"model-router"}
    assert [r.model for r in records] == [
        "gpt-5.4-nano-2026-03-17",
        "gpt-5.4-mini-2026-03-17",
        "gpt-5.4-nano-2026-03-17",
    ]
    (by_deployment,) = summarize(records, by="deployment")
    by_model = {row["model"]: row for row in summarize(records, by="model")}
    assert by_deployment["requests"] == 3
    assert {m: row["requests"] for m, row in by_model.items()} == {
        "gpt-5.4-mini-2026-03-17": 1,
        "gpt-5.4-nano-2026-03-17": 2,
    }
    assert sum(row["output_tokens"] for row in by_model.values()) == by_deployment["output_tokens"]


def test_configured_latency_is_the_servers_drawn_delay(
    start_server: StartServer, telemetry: Telemetry
) -> None:
    server = start_server(mode="lenient", latency={"time_to_first_token_ms": 40})
    stream_chat(traced(server, telemetry), "gpt-5.4-mini")
    spans = telemetry.spans.get_finished_spans()
    (measured,) = calls_from_spans(spans)
    (configured,) = calls_from_spans(spans, latency="configured")
    assert configured.latency == 0.040
    assert measured.latency >= configured.latency
    (genai,) = [s for s in spans if s.name.startswith("chat ")]
    assert (genai.attributes or {})[DELAY_ATTRIBUTE] == 40


def test_configured_latency_without_the_delay_is_refused(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    sync_client(server).chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    with pytest.raises(ValueError, match=r"no replay\.delay_ms.*AttemptSpans"):
        calls_from_spans(telemetry.spans.get_finished_spans(), latency="configured")
    with pytest.raises(ValueError, match="'measured' or 'configured'"):
        calls_from_spans([], latency="wall")


# --- Azure Monitor: the decision, never the export -------------------------------------------


class Configure:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def test_without_a_connection_string_nothing_is_configured() -> None:
    configure = Configure()
    for environ in ({}, {"APPLICATIONINSIGHTS_CONNECTION_STRING": "  "}):
        message = export_to_azure_monitor(environ, configure=configure)
        assert "skipped" in message and "APPLICATIONINSIGHTS_CONNECTION_STRING" in message
    assert configure.calls == []


def test_with_a_connection_string_azure_monitor_is_configured_with_it() -> None:
    configure = Configure()
    value = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://x/"
    message = export_to_azure_monitor(
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": value}, configure=configure
    )
    assert message.startswith("Exporting to Azure Monitor")
    assert configure.calls == [{"connection_string": value}]


def test_a_malformed_connection_string_is_refused_with_a_reason() -> None:
    configure = Configure()
    with pytest.raises(ValueError, match="InstrumentationKey="):
        export_to_azure_monitor(
            {"APPLICATIONINSIGHTS_CONNECTION_STRING": "my-app-insights"}, configure=configure
        )
    assert configure.calls == []


def test_importing_the_azure_monitor_distro_opens_no_connection() -> None:
    """Only configure_azure_monitor() may talk to Azure; importing it must not (offline runs)."""
    code = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise SystemExit(f'network touched: {args!r}')\n"
        "socket.socket.connect = socket.create_connection = socket.getaddrinfo = refuse\n"
        "from azure.monitor.opentelemetry import configure_azure_monitor\n"
        "import opentelemetry.instrumentation.genai.openai\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


# --- Sentry on the same spans ----------------------------------------------------------------


def test_sentry_sees_the_instrumentations_spans(server: ReplayServer, telemetry: Telemetry) -> None:
    """sentry-sdk's OpenTelemetry span processor turns the same spans into a Sentry
    transaction: notebook 16's error tracker can attach to them."""
    from sentry_sdk.integrations.opentelemetry import SentrySpanProcessor

    dsn = "https://public@sentry.invalid/1"  # never contacted: the transport keeps envelopes
    transport = MemoryTransport({"dsn": dsn})
    sentry_sdk.init(
        dsn=dsn,
        instrumenter="otel",
        traces_sample_rate=1.0,
        transport=transport,
        default_integrations=False,
    )
    try:
        telemetry.tracer_provider.add_span_processor(SentrySpanProcessor())
        stream_chat(traced(server, telemetry), "gpt-5.4-mini")
        sentry_sdk.flush()
    finally:
        sentry_sdk.init()  # no DSN: Sentry off again
    transactions = [
        item.payload.json
        for envelope in transport.envelopes
        for item in envelope.items
        if item.type == "transaction" and item.payload.json is not None
    ]
    assert [t["transaction"] for t in transactions] == ["chat gpt-5.4-mini"]
    (transaction,) = transactions
    otel = transaction["contexts"]["otel"]["attributes"]
    assert otel["gen_ai.request.model"] == "gpt-5.4-mini"
    assert [s["description"] for s in transaction["spans"]] == ["POST"]


# --- summaries and plots -----------------------------------------------------------------------


def call(latency_ms: float, *, error: str | None = None, deployment: str = "d") -> CallRecord:
    return CallRecord(
        operation="chat",
        deployment=deployment,
        error=error,
        latency=latency_ms / 1000,
        input_tokens=None if error else 10,
        output_tokens=None if error else 5,
    )


def test_percentiles_are_nearest_rank_and_come_from_the_recorded_latencies() -> None:
    latencies_ms = [120, 80, 400, 95, 2000, 130, 110, 90, 105, 700]
    ordered = sorted(latencies_ms)
    for q, value in percentiles(latencies_ms).items():
        assert value == ordered[math.ceil(int(q[1:]) / 100 * len(ordered)) - 1]
        assert value in latencies_ms
    (row,) = summarize([call(ms) for ms in latencies_ms])
    assert (round(row["p50_ms"]), round(row["p95_ms"]), round(row["p99_ms"])) == (110, 2000, 2000)
    assert (row["input_tokens"], row["output_tokens"]) == (100, 50)


def test_latency_percentiles_and_tokens_leave_failures_out() -> None:
    (row,) = summarize([call(300), call(5, error="openai.RateLimitError")], by=None)
    assert row["p50_ms"] == row["p99_ms"] == 300
    assert (row["requests"], row["errors"], row["error_rate"]) == (2, 1, 0.5)
    assert row["output_tokens"] == 5


def bars(ax: Axes) -> list[Rectangle]:
    """A bar chart's or histogram's bars (matplotlib types ``ax.patches`` as any ``Patch``)."""
    found = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(found) == len(ax.patches)
    return found


def test_the_table_and_the_plots_show_what_was_exported(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    client = traced(server, telemetry)
    client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    for fault in ("500", "429", "429"):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(
                model="gpt-5.4-nano", messages=HELLO, extra_headers={"x-replay-fault": fault}
            )
    spans = telemetry.spans.get_finished_spans()
    calls, attempts = calls_from_spans(spans), attempts_from_spans(spans)
    table = format_table(summarize(calls)).splitlines()
    assert table[0].split()[:4] == ["deployment", "requests", "errors", "error_rate"]
    assert table[1].split()[:4] == ["gpt-5.4-mini", "1", "0", "0.0%"]
    assert table[2].split()[:4] == ["gpt-5.4-nano", "3", "3", "100.0%"]
    assert error_counts(attempts) == {"all": {"429": 2, "500": 1}}
    ax = plot_errors(attempts)
    assert sorted(p.get_height() for p in bars(ax)) == [1, 2]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["429", "500"]
    ax = plot_latency(calls, bins=5)
    assert sum(p.get_height() for p in bars(ax)) == 1  # one success in the histogram


def test_bad_input_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentiles([])
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        percentiles([1.0], [0])
    with pytest.raises(ValueError, match="cannot group by 'colour'"):
        summarize([], by="colour")
    with pytest.raises(ValueError, match="has no 'operation'"):
        summarize([AttemptRecord(deployment="d", status=200, latency=0.1)], by="operation")
    with pytest.raises(ValueError, match="no successful requests"):
        plot_latency([call(1, error="x")])
    assert format_table([]) == "(no requests recorded)"


# --- exercise --------------------------------------------------------------------------------


def test_exercise_solution_passes() -> None:
    feedback = check_percentile(solution("08_monitoring").percentile)
    assert feedback.passed, feedback


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    feedback = check_percentile(lambda values, q: float(np.percentile(values, q)))
    assert not feedback.passed
    assert "p95 of 10 latencies" in str(feedback)
    assert "not one of the latencies" in str(feedback) and "do not interpolate" in str(feedback)


def test_exercise_off_by_one_rank_is_rejected_helpfully() -> None:
    feedback = check_percentile(lambda values, q: sorted(values)[int(q / 100 * len(values)) - 1])
    assert not feedback.passed and "wrong rank" in str(feedback)
