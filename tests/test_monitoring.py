"""The monitor records every request the SDK makes, from the wire: status, deployment, tokens
from the body, latency, time to first token, and the kind of each failure. Driven through the
openai SDK against the replay server with forced faults and configured latency."""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import matplotlib
import numpy as np
import openai
import pytest
from conftest import HELLO, StartServer, async_client, solution, sync_client, v1_client
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from sse_upstream import FRAMED_CHUNKS, FakeUpstream, framed_body

from helpers.error_handling import ErrorKind
from helpers.monitoring import (
    Monitor,
    RequestRecord,
    check_percentile,
    format_table,
    percentiles,
    plot_errors,
    plot_latency,
    summarize,
)
from helpers.replay import Deployment, ReplayServer
from helpers.replay.config import DEFAULT_DEPLOYMENTS

matplotlib.use("Agg")

STANDARD = "gpt-4.1-mini"
"""A deployment of a standard-family (non-reasoning) model, kept to show a record with no
reasoning tokens beside the reasoning deployments' (gpt-4.1-mini, Legacy, 2025-04-14)."""
DEPLOYMENTS = {
    **DEFAULT_DEPLOYMENTS,
    STANDARD: Deployment(kind="chat", model="gpt-4.1-mini-2025-04-14"),
}


def monitored(server: ReplayServer, monitor: Monitor, **options: Any) -> openai.AzureOpenAI:
    return sync_client(server, http_client=monitor.http_client(), **options)


def lenient(start_server: StartServer, **config: Any) -> ReplayServer:
    return start_server(mode="lenient", **config)


@pytest.fixture
def server(start_server: StartServer) -> ReplayServer:
    """A lenient server without recordings: every answer is simulated (the built-in
    deployments and a standard one)."""
    return lenient(start_server, deployments=DEPLOYMENTS)


def test_each_success_is_recorded_with_its_deployment_status_and_token_usage(
    server: ReplayServer,
) -> None:
    monitor = Monitor()
    client = monitored(server, monitor)
    answers = [
        client.chat.completions.create(model=deployment, messages=HELLO)
        for deployment in ("gpt-5.4-mini", "gpt-5.4-mini", STANDARD)
    ]

    records = monitor.records
    assert [(r.deployment, r.status, r.error) for r in records] == [
        ("gpt-5.4-mini", 200, None),
        ("gpt-5.4-mini", 200, None),
        (STANDARD, 200, None),
    ]
    for record, answer in zip(records, answers, strict=True):
        usage = answer.usage
        assert usage is not None and usage.completion_tokens_details is not None
        assert record.prompt_tokens == usage.prompt_tokens
        assert record.completion_tokens == usage.completion_tokens
        assert record.reasoning_tokens == usage.completion_tokens_details.reasoning_tokens
        assert record.model == answer.model
        assert record.operation == "chat/completions" and not record.stream
        assert record.request_id == answer._request_id
    assert records[0].reasoning_tokens and not records[2].reasoning_tokens  # gpt-5.4 reasons


@pytest.mark.parametrize(
    ("fault", "exception", "status", "kind"),
    [
        ("500", openai.InternalServerError, 500, ErrorKind.SERVER_ERROR),
        ("503", openai.InternalServerError, 503, ErrorKind.SERVER_ERROR),
        ("408", openai.APIStatusError, 408, ErrorKind.REQUEST_TIMEOUT),
        ("429", openai.RateLimitError, 429, ErrorKind.RATE_LIMITED),
        ("reset", openai.APIConnectionError, None, ErrorKind.CONNECTION),
        ("hang", openai.APITimeoutError, None, ErrorKind.TIMEOUT),
    ],
)
def test_a_forced_fault_is_recorded_with_its_status_and_kind(
    server: ReplayServer,
    fault: str,
    exception: type[Exception],
    status: int | None,
    kind: ErrorKind,
) -> None:
    monitor = Monitor()
    client = monitored(server, monitor, timeout=0.3)
    with pytest.raises(exception):
        client.chat.completions.create(
            model="gpt-5.4-mini", messages=HELLO, extra_headers={"x-replay-fault": fault}
        )
    (record,) = monitor.records
    assert (record.status, record.error, record.deployment) == (status, kind, "gpt-5.4-mini")
    assert record.prompt_tokens is None
    if fault == "hang":
        assert record.latency >= 0.3  # the client's timeout, not an answer


def test_latency_is_at_least_what_the_server_was_told_to_take(start_server: StartServer) -> None:
    server = lenient(start_server, latency={"time_to_first_token_ms": 40, "per_token_ms": 0.2})
    monitor = Monitor()
    client = monitored(server, monitor)
    for _ in range(3):
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    for record in monitor.records:
        assert record.completion_tokens
        assert record.latency >= (40 + 0.2 * record.completion_tokens) / 1000


def test_a_stream_records_time_to_first_token_and_the_usage_chunk(
    start_server: StartServer,
) -> None:
    server = lenient(start_server, latency={"time_to_first_token_ms": 30, "per_token_ms": 1})
    monitor = Monitor()
    client = monitored(server, monitor)
    chunks = list(
        client.chat.completions.create(
            model="gpt-5.4-mini",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None
    (record,) = monitor.records
    assert record.stream and record.ok
    assert record.events == len(chunks)  # the annotation and usage chunks included
    assert record.time_to_first_token is not None
    assert 0.03 <= record.time_to_first_token <= record.latency
    assert (record.prompt_tokens, record.completion_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )


@pytest.mark.parametrize("eol", ["\r\n", "\r", "\n"], ids=["crlf", "cr", "lf"])
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_every_event_is_counted_whatever_the_line_endings(eol: str, use_async: bool) -> None:
    monitor = Monitor()
    with FakeUpstream(framed_body(eol)) as upstream:
        options: dict[str, Any] = {
            "azure_endpoint": upstream.url,
            "api_key": "k",
            "api_version": "2024-10-21",
        }
        if use_async:
            async with openai.AsyncAzureOpenAI(
                http_client=monitor.async_http_client(), **options
            ) as client:
                stream = await client.chat.completions.create(
                    model="gpt-4o-mini", messages=HELLO, stream=True
                )
                chunks = [chunk async for chunk in stream]
        else:
            sync = openai.AzureOpenAI(http_client=monitor.http_client(), **options)
            chunks = list(
                sync.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True)
            )
    assert [c.model_dump(exclude_unset=True) for c in chunks] == FRAMED_CHUNKS
    (record,) = monitor.records
    assert record.stream and record.ok
    assert record.events == len(FRAMED_CHUNKS)  # the SDK read 4 events; so did the monitor
    assert record.model == "gpt-4o-mini-2024-07-18"
    assert record.time_to_first_token is not None


def test_a_stream_cut_midway_is_recorded_as_a_connection_failure(
    server: ReplayServer,
) -> None:
    monitor = Monitor()
    client = monitored(server, monitor)
    stream = client.chat.completions.create(
        model="gpt-5.4-mini",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-replay-fault": "cut"},
    )
    with pytest.raises(openai.APIConnectionError):
        for _ in stream:
            pass
    (record,) = monitor.records
    assert (record.status, record.error) == (200, ErrorKind.CONNECTION)
    assert record.completion_tokens is None  # the usage chunk never came


def test_the_sdks_own_retries_are_recorded_as_attempts(server: ReplayServer) -> None:
    monitor = Monitor()
    client = monitored(server, monitor, max_retries=2)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(
            model="gpt-5.4-mini", messages=HELLO, extra_headers={"x-replay-fault": "500"}
        )
    assert [(r.attempt, r.error) for r in monitor.records] == [
        (n, ErrorKind.SERVER_ERROR) for n in range(3)
    ]


async def test_the_async_client_is_recorded_too(server: ReplayServer) -> None:
    monitor = Monitor()
    client = async_client(server, http_client=monitor.async_http_client())
    await client.chat.completions.create(model="gpt-5.4-nano", messages=HELLO)
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(
            model="gpt-5.4-nano", messages=HELLO, extra_headers={"x-replay-fault": "429"}
        )
    assert [(r.deployment, r.status, r.error) for r in monitor.records] == [
        ("gpt-5.4-nano", 200, None),
        ("gpt-5.4-nano", 429, ErrorKind.RATE_LIMITED),
    ]
    assert monitor.records[0].completion_tokens


def test_on_the_v1_api_the_deployment_is_the_requests_model(server: ReplayServer) -> None:
    monitor = Monitor()
    client = v1_client(server, http_client=monitor.http_client())
    client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    response = client.responses.create(model="gpt-5.4-mini", input="Say hello.")
    chat, responses = monitor.records
    assert (chat.deployment, chat.operation) == ("gpt-5.4-mini", "chat/completions")
    assert (responses.deployment, responses.operation) == ("gpt-5.4-mini", "responses")
    assert response.usage is not None
    assert responses.completion_tokens == response.usage.output_tokens
    assert responses.reasoning_tokens == response.usage.output_tokens_details.reasoning_tokens


def test_seeded_random_faults_are_counted_by_kind_and_deployment(
    start_server: StartServer,
) -> None:
    def run() -> list[RequestRecord]:
        server = lenient(
            start_server, faults={"probability": 0.4, "kinds": ["500", "429", "reset"]}, seed=11
        )
        monitor = Monitor()
        client = monitored(server, monitor)
        for n in range(20):
            with contextlib.suppress(openai.APIError):
                client.chat.completions.create(
                    model=("gpt-5.4-mini", "gpt-5.4-nano")[n % 2], messages=HELLO
                )
        return monitor.records

    first, second = run(), run()
    assert [r.error for r in first] == [r.error for r in second]  # same seed, same faults
    failures = [r for r in first if not r.ok]
    assert 0 < len(failures) < len(first)
    rows = {row["deployment"]: row for row in summarize(first)}
    for deployment, row in rows.items():
        mine = [r for r in first if r.deployment == deployment]
        assert row["requests"] == len(mine) == 10
        assert row["errors"] == sum(not r.ok for r in mine)
        assert row["error_rate"] == row["errors"] / 10
    monitor = Monitor()
    for record in first:
        monitor.add(record)
    total = Counter(r.error.value for r in failures if r.error is not None)
    assert monitor.error_counts() == {"all": total}
    assert set(total) <= {"server_error", "rate_limited", "connection"}


class SteppingClock:
    """Returns the given instants in turn: each request reads it when sent and when done."""

    def __init__(self, instants: list[float]) -> None:
        self._instants: Iterator[float] = iter(instants)

    def __call__(self) -> float:
        return next(self._instants)


def test_percentiles_are_nearest_rank_and_come_from_the_recorded_latencies(
    server: ReplayServer,
) -> None:
    latencies_ms = [120, 80, 400, 95, 2000, 130, 110, 90, 105, 700]
    instants: list[float] = []
    for n, ms in enumerate(latencies_ms):
        instants += [n * 10.0, n * 10.0 + ms / 1000]
    monitor = Monitor(clock=SteppingClock(instants))
    client = monitored(server, monitor)
    for _ in latencies_ms:
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)

    recorded = [round(r.latency * 1000, 6) for r in monitor.records]
    assert recorded == latencies_ms
    ordered = sorted(latencies_ms)
    for q, value in percentiles(recorded).items():
        assert value == ordered[math.ceil(int(q[1:]) / 100 * len(ordered)) - 1]
        assert value in latencies_ms
    (row,) = monitor.summary()
    assert (round(row["p50_ms"]), round(row["p95_ms"]), round(row["p99_ms"])) == (110, 2000, 2000)


def test_latency_percentiles_leave_failures_out(server: ReplayServer) -> None:
    monitor = Monitor()
    client = monitored(server, monitor)
    client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="gpt-5.4-mini", messages=HELLO, extra_headers={"x-replay-fault": "429"}
        )
    (row,) = monitor.summary(by=None)
    ok = monitor.records[0]
    assert row["p50_ms"] == row["p99_ms"] == ok.latency * 1000
    assert (row["requests"], row["errors"], row["error_rate"]) == (2, 1, 0.5)
    assert row["completion_tokens"] == ok.completion_tokens


def bars(ax: Axes) -> list[Rectangle]:
    """A bar chart's or histogram's bars (matplotlib types ``ax.patches`` as any ``Patch``)."""
    found = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(found) == len(ax.patches)
    return found


def test_the_table_and_the_plots_show_what_was_recorded(server: ReplayServer) -> None:
    monitor = Monitor()
    client = monitored(server, monitor)
    client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    for fault in ("500", "429", "429"):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(
                model="gpt-5.4-nano", messages=HELLO, extra_headers={"x-replay-fault": fault}
            )
    table = monitor.table().splitlines()
    assert table[0].split()[:4] == ["deployment", "requests", "errors", "error_rate"]
    assert table[1].split()[:4] == ["gpt-5.4-mini", "1", "0", "0.0%"]
    assert table[2].split()[:4] == ["gpt-5.4-nano", "3", "3", "100.0%"]
    ax = plot_errors(monitor.records)
    heights = {p.get_x(): p.get_height() for p in bars(ax)}
    assert sorted(heights.values()) == [1, 2]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["rate_limited", "server_error"]
    ax = plot_latency(monitor.records, bins=5)
    assert sum(p.get_height() for p in bars(ax)) == 1  # one success in the histogram


def test_bad_input_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentiles([])
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        percentiles([1.0], [0])
    with pytest.raises(ValueError, match="cannot group by 'colour'"):
        summarize([], by="colour")
    with pytest.raises(ValueError, match="max_records"):
        Monitor(max_records=0)
    assert format_table([]) == "(no requests recorded)"


def test_only_the_newest_records_are_kept(server: ReplayServer) -> None:
    monitor = Monitor(max_records=2)
    client = monitored(server, monitor)
    for deployment in (STANDARD, "gpt-5.4-mini", "gpt-5.4-nano"):
        client.chat.completions.create(model=deployment, messages=HELLO)
    assert [r.deployment for r in monitor.records] == ["gpt-5.4-mini", "gpt-5.4-nano"]


def test_a_recorded_answer_is_read_for_its_tokens(start_server: StartServer) -> None:
    server = start_server("test_monitoring.yaml")
    monitor = Monitor()
    client = monitored(server, monitor, api_version="2025-04-01-preview")
    client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    (record,) = monitor.records
    assert (record.prompt_tokens, record.completion_tokens, record.reasoning_tokens) == (
        13,
        200,
        192,
    )
    assert record.model == "gpt-5.4-mini-2026-03-17" and record.cached_tokens == 0


def test_a_recorded_answer_is_paced_per_completion_token(start_server: StartServer) -> None:
    server = start_server(
        "test_monitoring.yaml", latency={"time_to_first_token_ms": 10, "per_token_ms": 2}
    )
    monitor = Monitor()
    client = monitored(server, monitor, api_version="2025-04-01-preview")
    client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    (record,) = monitor.records
    assert record.latency >= (10 + 2 * 200) / 1000


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
