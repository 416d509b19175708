"""Integration: content check, cache, call with retries and monitoring, composed around a client.

Use it when one application needs all of the production pieces on every call,
in one place, and each piece must stay testable on its own. A pipeline is a
list of *steps* (middleware) around the SDK call; each step gets the request
and ``call_next``, and may act before, after, or instead of it:

    pipeline = Pipeline(
        client,                                   # AzureOpenAI, max_retries applied to it
        [ContentCheck(Blocklist(["project falcon"])), CacheStep(cache), Monitor(records.append)],
        max_retries=3,
    )
    completion = pipeline.create(model=deployment, messages=msgs, temperature=0)

:class:`AsyncPipeline` is the same around ``AsyncAzureOpenAI``; every step has a
sync ``handle`` and an async ``ahandle`` so one list of steps serves both.

Retries are the SDK's own (``max_retries``): it retries 408, 409, 429 and 5xx
with backoff, honours Azure's ``retry-after-ms`` / ``retry-after``, and never
retries a 400 or 401. The order of the steps is the order of the list: the
content check first (a blocked request never reaches the cache or Azure), the
cache next, monitoring around the actual call (so it sees upstream calls only).
Streams are not handled here (see ``helpers.streaming``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, Literal, Protocol, TypeVar

import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from .caching import ResponseCache, Surface, namespace_for
from .content_filtering import (
    Blocklist,
    ContentFilteredError,
    report_from_completion,
    report_from_error,
)

__all__ = [
    "AsyncPipeline",
    "CacheStep",
    "CallRecord",
    "ContentCheck",
    "Monitor",
    "Pipeline",
    "Step",
]

log = logging.getLogger(__name__)

Params = dict[str, Any]
CallNext = Callable[[Params], ChatCompletion]
AsyncCallNext = Callable[[Params], Awaitable[ChatCompletion]]
T = TypeVar("T")


class Step(Protocol):
    """One middleware: the same behaviour for sync and async pipelines."""

    def handle(self, params: Params, call_next: CallNext) -> ChatCompletion: ...

    async def ahandle(self, params: Params, call_next: AsyncCallNext) -> ChatCompletion: ...


class ContentCheck:
    """Screens the messages before sending and reads Azure's verdict on the way back.

    - ``blocklist`` (optional, a client-side supplement): a match raises
      ``BlockedByBlocklistError`` and nothing is sent;
    - a prompt Azure blocks (400 ``content_filter``) and an answer it cuts
      (``finish_reason: "content_filter"``) both raise :class:`ContentFilteredError`,
      whose ``report`` says which category, so callers handle one exception.
    """

    def __init__(self, blocklist: Blocklist | None = None) -> None:
        self.blocklist = blocklist

    def _before(self, params: Params) -> None:
        if self.blocklist is not None:
            self.blocklist.screen(params.get("messages") or [])

    @staticmethod
    def _after(completion: ChatCompletion) -> ChatCompletion:
        report = report_from_completion(completion)
        if report.filtered:
            raise ContentFilteredError(report)
        return completion

    @staticmethod
    def _blocked(error: openai.BadRequestError) -> ContentFilteredError | None:
        report = report_from_error(error)
        return ContentFilteredError(report) if report is not None else None

    def handle(self, params: Params, call_next: CallNext) -> ChatCompletion:
        self._before(params)
        try:
            completion = call_next(params)
        except openai.BadRequestError as error:
            if (blocked := self._blocked(error)) is not None:
                raise blocked from error
            raise
        return self._after(completion)

    async def ahandle(self, params: Params, call_next: AsyncCallNext) -> ChatCompletion:
        self._before(params)
        try:
            completion = await call_next(params)
        except openai.BadRequestError as error:
            if (blocked := self._blocked(error)) is not None:
                raise blocked from error
            raise
        return self._after(completion)


class _LoopThread:
    """An event loop on a daemon thread, so sync code can use the async cache."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class CacheStep:
    """Answers from a :class:`~helpers.caching.ResponseCache` when it may, else calls on.

    In a sync pipeline the cache runs on its own event-loop thread (created on
    first use; :meth:`close` stops it), so identical calls from several threads
    still share one upstream call.
    """

    def __init__(self, cache: ResponseCache) -> None:
        self.cache = cache
        self.namespace = cache.namespace
        self._loop: _LoopThread | None = None
        self._lock = threading.Lock()

    def bind(self, client: OpenAI | AsyncOpenAI) -> None:
        """Key entries by the pipeline's endpoint unless the cache has its own namespace."""
        if self.cache.namespace is None:
            self.namespace = namespace_for(client)

    def handle(self, params: Params, call_next: CallNext) -> ChatCompletion:
        with self._lock:
            if self._loop is None:
                self._loop = _LoopThread()
        fetch = self.cache.fetch(
            Surface.CHAT,
            params,
            lambda: asyncio.to_thread(call_next, params),
            ChatCompletion,
            namespace=self.namespace,
        )
        return self._loop.run(fetch)

    async def ahandle(self, params: Params, call_next: AsyncCallNext) -> ChatCompletion:
        return await self.cache.fetch(
            Surface.CHAT,
            params,
            lambda: call_next(params),
            ChatCompletion,
            namespace=self.namespace,
        )

    def close(self) -> None:
        """Close the cache's backend (on the thread that used it) and stop that thread."""
        if self._loop is not None:
            self._loop.run(self.cache.close())
            self._loop.close()
            self._loop = None


class CallRecord(BaseModel):
    """What :class:`Monitor` reports for one upstream call."""

    deployment: str
    outcome: Literal["ok", "error"]
    seconds: float
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    error_type: str | None = None
    status_code: int | None = None


class Monitor:
    """Calls ``hook`` with a :class:`CallRecord` after every call that reaches it.

    ``clock`` measures duration (``time.perf_counter`` unless a test injects one).
    A failing hook is logged, never allowed to fail the request.
    """

    def __init__(
        self,
        hook: Callable[[CallRecord], object],
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.hook = hook
        self.clock = clock

    def _record(self, params: Params, start: float, result: ChatCompletion | BaseException) -> None:
        seconds = self.clock() - start
        deployment = str(params.get("model", ""))
        if isinstance(result, BaseException):
            record = CallRecord(
                deployment=deployment,
                outcome="error",
                seconds=seconds,
                error_type=type(result).__name__,
                status_code=getattr(result, "status_code", None),
            )
        else:
            usage = result.usage
            details = usage.prompt_tokens_details if usage else None
            record = CallRecord(
                deployment=deployment,
                outcome="ok",
                seconds=seconds,
                finish_reason=result.choices[0].finish_reason if result.choices else None,
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
                cached_tokens=details.cached_tokens if details else None,
            )
        try:
            self.hook(record)
        except Exception:
            log.exception("monitoring hook failed; the request is unaffected")

    def handle(self, params: Params, call_next: CallNext) -> ChatCompletion:
        start = self.clock()
        try:
            result = call_next(params)
        except Exception as error:
            self._record(params, start, error)
            raise
        self._record(params, start, result)
        return result

    async def ahandle(self, params: Params, call_next: AsyncCallNext) -> ChatCompletion:
        start = self.clock()
        try:
            result = await call_next(params)
        except Exception as error:
            self._record(params, start, error)
            raise
        self._record(params, start, result)
        return result


def _bind(steps: Sequence[Step], client: OpenAI | AsyncOpenAI) -> None:
    """Tell the steps that want to know (``bind(client)``) which client they wrap."""
    for step in steps:
        bind = getattr(step, "bind", None)
        if callable(bind):
            bind(client)


def _check_params(params: Params) -> None:
    if params.get("stream"):
        raise ValueError(
            "the pipeline handles whole answers; stream with helpers.streaming instead"
        )
    for required in ("model", "messages"):
        if required not in params:
            raise TypeError(f"create() needs {required}=... (the deployment and the messages)")


C = TypeVar("C", AzureOpenAI | OpenAI, AsyncAzureOpenAI | AsyncOpenAI)


class _Steps(Generic[C]):
    """What both pipelines hold: the client, whose own retries are set to ``max_retries``,
    and the steps, each told which client it wraps."""

    def __init__(self, client: C, steps: Sequence[Step], max_retries: int) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self.client: C = client.with_options(max_retries=max_retries)
        self.steps = list(steps)
        _bind(self.steps, client)


class Pipeline(_Steps[AzureOpenAI | OpenAI]):
    """Steps around ``client.chat.completions.create``, for the sync client."""

    def __init__(
        self, client: AzureOpenAI | OpenAI, steps: Sequence[Step], *, max_retries: int = 3
    ) -> None:
        if isinstance(client, AsyncOpenAI):
            raise TypeError("Pipeline takes a sync client; use AsyncPipeline for AsyncAzureOpenAI")
        super().__init__(client, steps, max_retries)

    def _call(self, params: Params) -> ChatCompletion:
        return self.client.chat.completions.create(**params)

    def create(self, **params: Any) -> ChatCompletion:
        """Run the steps, then the SDK call; returns its ``ChatCompletion``."""
        _check_params(params)

        def run(index: int, current: Params) -> ChatCompletion:
            if index == len(self.steps):
                return self._call(current)
            return self.steps[index].handle(current, lambda p: run(index + 1, p))

        return run(0, params)


class AsyncPipeline(_Steps[AsyncAzureOpenAI | AsyncOpenAI]):
    """Steps around ``await client.chat.completions.create``, for the async client."""

    def __init__(
        self,
        client: AsyncAzureOpenAI | AsyncOpenAI,
        steps: Sequence[Step],
        *,
        max_retries: int = 3,
    ) -> None:
        if not isinstance(client, AsyncOpenAI):
            raise TypeError("AsyncPipeline takes an async client; use Pipeline for AzureOpenAI")
        super().__init__(client, steps, max_retries)

    async def _call(self, params: Params) -> ChatCompletion:
        return await self.client.chat.completions.create(**params)

    async def create(self, **params: Any) -> ChatCompletion:
        """Run the steps, then the SDK call; returns its ``ChatCompletion``."""
        _check_params(params)

        async def run(index: int, current: Params) -> ChatCompletion:
            if index == len(self.steps):
                return await self._call(current)
            return await self.steps[index].ahandle(current, lambda p: run(index + 1, p))

        return await run(0, params)
