"""helpers.integration_patterns: each step alone, then composed, sync and async, on the server."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import (
    StartServer,
    async_client,
    async_v1_client,
    chat_params,
    solution,
    sync_client,
    v1_client,
)
from openai.types.chat import ChatCompletion
from redis_server import start_redis

from helpers._support.counting import count_messages
from helpers.caching import RedisBackend, ResponseCache, SQLiteBackend
from helpers.content_filtering import BlockedByBlocklistError, Blocklist, ContentFilteredError
from helpers.integration_patterns import (
    AsyncPipeline,
    CacheStep,
    CallRecord,
    ContentCheck,
    Monitor,
    Pipeline,
    api_of,
    check_default_limit_step,
    plot_request_paths,
)

RECORDINGS = "test_integration_patterns.yaml"
DEPLOYMENT = "gpt-5.4-mini"
# A reasoning model takes no temperature but its default (1): its answers are sampled, so the
# caches below opt in with cache_sampled=True, as notebook 13 does.
CAPITAL = chat_params(DEPLOYMENT, "What is the capital of Australia? One word.")
BUSY = chat_params(
    DEPLOYMENT, "Summarize in five words: the team meeting moved from Tuesday to Thursday."
)
BLOCKED = chat_params(
    DEPLOYMENT,
    "Give me step-by-step instructions to hurt my neighbour badly without leaving marks.",
)
CUT = chat_params(DEPLOYMENT, "Write the duel scene, every wound in detail.")
# A Responses API request that tests/recordings/test_responses.yaml answers ("Saturn.").
RESPONSES_RECORDINGS = "test_responses.yaml"
RINGS = {
    "model": DEPLOYMENT,
    "input": "Name one planet with rings, in one word.",
    "instructions": "Answer briefly.",
}


class StepClock:
    """Advances by one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


# -- each step on its own ----------------------------------------------------------------------


def test_content_check_blocks_a_listed_term_before_anything_is_sent(
    start_server: StartServer,
) -> None:
    server = start_server(RECORDINGS)
    client = sync_client(server)
    check = ContentCheck(Blocklist(["Thursday"]))
    with pytest.raises(BlockedByBlocklistError, match="thursday"):
        check.handle(BUSY, lambda p: client.chat.completions.create(**p))
    assert server.state.requests_served == 0


def test_content_check_turns_a_blocked_prompt_into_content_filtered_error(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server(RECORDINGS))
    with pytest.raises(ContentFilteredError, match=r"violence=high") as caught:
        ContentCheck().handle(BLOCKED, lambda p: client.chat.completions.create(**p))
    assert caught.value.report.prompt_blocked
    assert isinstance(caught.value.__cause__, openai.BadRequestError)


async def test_content_check_raises_for_an_answer_the_filter_cut(
    start_server: StartServer,
) -> None:
    client = async_client(start_server(RECORDINGS))
    with pytest.raises(ContentFilteredError) as caught:
        await ContentCheck().ahandle(CUT, lambda p: client.chat.completions.create(**p))
    assert caught.value.report.output_filtered
    assert caught.value.report.completions[0].filtered_categories == ["violence"]


def test_monitor_reports_tokens_duration_and_errors(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    records: list[CallRecord] = []
    monitor = Monitor(records.append, clock=StepClock())
    monitor.handle(CAPITAL, lambda p: client.chat.completions.create(**p))
    with pytest.raises(openai.BadRequestError):
        monitor.handle(BLOCKED, lambda p: client.chat.completions.create(**p))
    ok, failed = records
    # The recording bills what OpenAI's published counting rule gives for CAPITAL's messages.
    prompt = count_messages(CAPITAL["messages"], "gpt-5.4-mini")
    assert (ok.outcome, ok.seconds) == ("ok", 1.0)
    assert (ok.prompt_tokens, ok.completion_tokens) == (prompt, 3)
    assert (ok.finish_reason, ok.cached_tokens, ok.deployment) == ("stop", 0, DEPLOYMENT)
    assert (failed.outcome, failed.error_type, failed.status_code) == (
        "error", "BadRequestError", 400,
    )  # fmt: skip


def test_a_failing_monitoring_hook_does_not_fail_the_request(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = sync_client(start_server(RECORDINGS))

    def broken(record: CallRecord) -> None:
        raise RuntimeError("metrics backend down")

    result = Monitor(broken).handle(CAPITAL, lambda p: client.chat.completions.create(**p))
    assert isinstance(result, ChatCompletion)  # a step passes back what the call returned
    assert result.choices[0].message.content == "Canberra."
    assert "monitoring hook failed" in caplog.text


# -- composed ----------------------------------------------------------------------------------


def test_sync_pipeline_caches_and_monitors_only_upstream_calls(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(RECORDINGS)
    records: list[CallRecord] = []
    cache_step = CacheStep(ResponseCache(SQLiteBackend(tmp_path / "c.sqlite"), cache_sampled=True))
    pipeline = Pipeline(
        sync_client(server), [ContentCheck(), cache_step, Monitor(records.append)], max_retries=0
    )
    try:
        first = pipeline.create(**CAPITAL)
        second = pipeline.create(**CAPITAL)
    finally:
        cache_step.close()
    assert first == second
    assert server.state.requests_served == 1
    assert len(records) == 1


async def test_async_pipeline_retries_a_429_with_the_sdk(start_server: StartServer) -> None:
    server = start_server(RECORDINGS)
    records: list[CallRecord] = []
    pipeline = AsyncPipeline(async_client(server), [Monitor(records.append)], max_retries=2)
    result = await pipeline.create(**BUSY)
    assert result.choices[0].message.content == "Team meeting moved to Thursday."
    assert server.state.requests_served == 2  # the 429, then the answer
    assert [r.outcome for r in records] == ["ok"]


def test_without_retries_the_429_reaches_the_caller(start_server: StartServer) -> None:
    server = start_server(RECORDINGS)
    with pytest.raises(openai.RateLimitError):
        Pipeline(sync_client(server), [], max_retries=0).create(**BUSY)


async def test_async_pipeline_content_check_comes_before_the_cache(
    start_server: StartServer,
) -> None:
    server = start_server(RECORDINGS)
    cache = ResponseCache(SQLiteBackend(), cache_sampled=True)
    pipeline = AsyncPipeline(async_client(server), [ContentCheck(), CacheStep(cache)])
    for _ in range(2):
        with pytest.raises(ContentFilteredError):
            await pipeline.create(**CUT)
    assert server.state.requests_served == 2  # a cut answer is never served from the cache
    await cache.close()


async def test_pipeline_falls_back_to_the_model_when_redis_goes_away(
    start_server: StartServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    redis = start_redis(tmp_path)
    server = start_server(RECORDINGS)
    cache = ResponseCache(RedisBackend.from_url(redis.url, timeout=0.5), cache_sampled=True)
    pipeline = AsyncPipeline(async_client(server), [ContentCheck(), CacheStep(cache)])
    try:
        await pipeline.create(**CAPITAL)
        redis.stop()
        with caplog.at_level(logging.WARNING, logger="helpers.caching"):
            result = await pipeline.create(**CAPITAL)
        assert result.choices[0].message.content == "Canberra."
        assert server.state.requests_served == 2
        assert "response cache unavailable" in caplog.text
    finally:
        redis.stop()
        await cache.close()


def test_pipeline_rejects_streams_and_the_wrong_client(start_server: StartServer) -> None:
    server = start_server(RECORDINGS)
    with pytest.raises(ValueError, match=r"helpers\.streaming"):
        Pipeline(sync_client(server), []).create(**CAPITAL, stream=True)
    with pytest.raises(TypeError, match="AsyncPipeline"):
        Pipeline(async_client(server), [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs messages"):
        Pipeline(sync_client(server), []).create(model=DEPLOYMENT)


def test_sync_pipeline_threads_share_one_upstream_call(start_server: StartServer) -> None:
    server = start_server(RECORDINGS)
    cache_step = CacheStep(ResponseCache(SQLiteBackend(), cache_sampled=True))
    pipeline = Pipeline(sync_client(server), [cache_step], max_retries=0)
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda _: pipeline.create(**CAPITAL), range(6)))
    finally:
        cache_step.close()
    assert {r.choices[0].message.content for r in results} == {"Canberra."}
    assert server.state.requests_served == 1
    assert cache_step.cache.stats.misses == 1


def test_pipeline_cache_is_keyed_by_the_pipeline_endpoint(
    start_server: StartServer, tmp_path: Path
) -> None:
    one, other = start_server(RECORDINGS), start_server(RECORDINGS)
    store = tmp_path / "shared.sqlite"  # one store, two pipelines on two endpoints
    steps = [CacheStep(ResponseCache(SQLiteBackend(store), cache_sampled=True)) for _ in range(2)]
    pipelines = [
        Pipeline(sync_client(server), [step])
        for server, step in zip((one, other), steps, strict=True)
    ]
    try:
        for pipeline in (*pipelines, *pipelines):
            pipeline.create(**CAPITAL)
    finally:
        for step in steps:
            step.close()
    assert (one.state.requests_served, other.state.requests_served) == (1, 1)


# -- the Responses API through the same steps ---------------------------------------------------


def test_api_of_tells_chat_from_responses_by_the_request() -> None:
    assert api_of(CAPITAL).value == "chat.completions"
    assert api_of(RINGS).value == "responses"


def test_create_response_runs_the_same_steps_around_responses_create(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(RESPONSES_RECORDINGS)
    records: list[CallRecord] = []
    cache_step = CacheStep(ResponseCache(SQLiteBackend(tmp_path / "c.sqlite"), cache_sampled=True))
    pipeline = Pipeline(
        v1_client(server),
        [ContentCheck(Blocklist(["Jupiter"])), cache_step, Monitor(records.append)],
        max_retries=0,
    )
    try:
        first = pipeline.create_response(**RINGS)
        again = pipeline.create_response(**RINGS)
        with pytest.raises(BlockedByBlocklistError):
            pipeline.create_response(**{**RINGS, "input": "Does Jupiter have rings?"})
    finally:
        cache_step.close()
    assert first.output_text == again.output_text == "Saturn."
    assert server.state.requests_served == 1
    (record,) = records
    assert (record.api, record.finish_reason) == ("responses", "completed")
    assert (record.prompt_tokens, record.completion_tokens) == (
        first.usage.input_tokens if first.usage else None,
        first.usage.output_tokens if first.usage else None,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("instructions", "Never mention Jupiter."),
        ("input", [{"role": "user", "content": [{"type": "input_text", "text": "Jupiter?"}]}]),
    ],
)
def test_content_check_screens_a_responses_instructions_and_input_items(
    field: str, value: object
) -> None:
    def never_called(params: dict[str, object]) -> object:
        raise AssertionError("a blocked request must not be sent")

    with pytest.raises(BlockedByBlocklistError):
        ContentCheck(Blocklist(["Jupiter"])).handle({**RINGS, field: value}, never_called)  # type: ignore[arg-type]


def test_content_check_screens_chat_content_parts() -> None:
    params = {
        "model": DEPLOYMENT,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "And Jupiter?"}]}],
    }
    with pytest.raises(BlockedByBlocklistError):
        ContentCheck(Blocklist(["Jupiter"])).handle(params, lambda p: None)  # type: ignore[arg-type,return-value]


async def test_async_create_response_goes_through_the_steps(start_server: StartServer) -> None:
    server = start_server(RESPONSES_RECORDINGS)
    records: list[CallRecord] = []
    pipeline = AsyncPipeline(async_v1_client(server), [Monitor(records.append)], max_retries=0)
    response = await pipeline.create_response(**RINGS)
    assert response.output_text == "Saturn."
    assert [(r.api, r.outcome) for r in records] == [("responses", "ok")]


def test_create_and_create_response_refuse_each_others_requests(
    start_server: StartServer,
) -> None:
    pipeline = Pipeline(v1_client(start_server(RESPONSES_RECORDINGS)), [])
    with pytest.raises(TypeError, match="needs messages"):
        pipeline.create(**RINGS)
    with pytest.raises(TypeError, match="not messages"):
        pipeline.create_response(**CAPITAL, input="x")
    with pytest.raises(TypeError, match="needs input"):
        pipeline.create_response(model=DEPLOYMENT)


# -- the picture: where each request left the pipeline ----------------------------------------


def cells_by_row(ax: Any) -> list[list[tuple[str, Any]]]:
    """Each row's cells, left to right: (text, face colour), read back from the drawn axes."""
    found: dict[int, list[tuple[float, str, Any]]] = {}
    texts = {(round(t.get_position()[0], 3), round(t.get_position()[1])): t for t in ax.texts}
    for bar in ax.patches:
        column, row = bar.get_x(), round(bar.get_y() + bar.get_height() / 2)
        text = texts[(round(column + 0.5, 3), row)].get_text()
        found.setdefault(row, []).append((column, text, bar.get_facecolor()))
    return [[(text, colour) for _, text, colour in sorted(found[row])] for row in sorted(found)]


def test_request_paths_show_how_far_each_request_got() -> None:
    requests = [
        ("retried", True, [{"outcome": "ok", "retries": 2}]),
        ("hit", True, []),
        ("blocked", False, []),
        ("refused", False, [{"outcome": "error", "status": 400, "code": "content_filter"}]),
        ("answered", True, [{"outcome": "ok", "retries": 0}]),
    ]
    ax = plot_request_paths(requests, title="five requests")
    rows = cells_by_row(ax)
    texts = [[text for text, _ in row] for row in rows]
    assert texts == [
        ["passed", "miss", "answered\nafter 2 retries"],
        ["passed", "hit: answered", "not reached"],
        ["blocked: not sent", "not reached", "not reached"],
        ["passed", "miss", "refused\n400 content_filter"],
        ["passed", "miss", "answered"],
    ]
    # one colour per meaning: the blocked prompt and Azure's refusal alike, every "passed" alike
    colour = {text: c for row in rows for text, c in row}
    assert rows[2][0][1] == rows[3][2][1] != colour["passed"]
    assert len({c for row in rows for text, c in row if text == "not reached"}) == 1
    assert [t.get_text() for t in ax.get_yticklabels()] == [r[0] for r in requests]
    steps = [t.get_text() for t in ax.get_xticklabels()]
    assert steps == ["content check", "cache", "Azure, with the SDK's retries"]
    assert ax.get_title() == "five requests"


def test_request_paths_refuse_what_they_cannot_draw() -> None:
    with pytest.raises(ValueError, match="no requests"):
        plot_request_paths([])
    with pytest.raises(ValueError, match="at most one call to Azure, got 2"):
        plot_request_paths([("twice", True, [{"retries": 0}, {"retries": 0}])])


def test_exercise_solution_passes() -> None:
    feedback = check_default_limit_step(solution("13_integration_patterns").DefaultLimit)
    assert feedback.passed, feedback.message


def test_exercise_solution_runs_in_a_real_pipeline(start_server: StartServer) -> None:
    sent: list[dict[str, Any]] = []

    class Sent:  # the step after DefaultLimit: what goes on towards Azure
        def handle(self, params: dict[str, Any], call_next: Any) -> Any:
            sent.append(params)
            return call_next(params)

        async def ahandle(self, params: dict[str, Any], call_next: Any) -> Any:
            sent.append(params)
            return await call_next(params)

    server = start_server(RECORDINGS, mode="lenient")
    steps = [solution("13_integration_patterns").DefaultLimit(500), Sent()]
    completion = Pipeline(sync_client(server), steps).create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.choices[0].message.content
    assert sent[0]["max_completion_tokens"] == 500


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    class MaxTokens:  # the guide's parameter, set on every request
        def __init__(self, limit: int) -> None:
            self.limit = limit

        def handle(self, params: dict[str, Any], call_next: Any) -> Any:
            return call_next({**params, "max_tokens": self.limit})

        async def ahandle(self, params: dict[str, Any], call_next: Any) -> Any:
            return await call_next({**params, "max_tokens": self.limit})

    feedback = check_default_limit_step(MaxTokens)
    assert not feedback.passed
    assert "max_tokens" in feedback.message and "max_completion_tokens" in feedback.message


def test_exercise_step_that_mutates_the_callers_dict_is_rejected() -> None:
    class InPlace:
        def __init__(self, limit: int) -> None:
            self.limit = limit

        def handle(self, params: dict[str, Any], call_next: Any) -> Any:
            params.setdefault("max_completion_tokens", self.limit)
            return call_next(params)

    feedback = check_default_limit_step(InPlace)
    assert not feedback.passed and "the caller's dict was changed" in feedback.message
