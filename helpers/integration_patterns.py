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
    response = pipeline.create_response(model=deployment, instructions=rules, input=question)

``create`` goes to chat completions, ``create_response`` to the Responses API (the
successor of the Assistants API: a conversation continues with ``previous_response_id``,
and the call returns when the answer is ready, so nothing is polled); both run the same
steps. A step tells the two apart by the request (:func:`api_of`: ``messages`` for chat
completions, ``input`` for a response).

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
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from textwrap import fill
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, cast

import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from pydantic import BaseModel

from ._support.exercises import Feedback, failed, passed
from .caching import ResponseCache, Surface, namespace_for
from .content_filtering import (
    Blocklist,
    ContentFilteredError,
    report_from_completion,
    report_from_error,
    report_from_response,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "AsyncPipeline",
    "CacheStep",
    "CallRecord",
    "ContentCheck",
    "Monitor",
    "Pipeline",
    "Step",
    "api_of",
    "check_default_limit_step",
    "plot_request_paths",
]

log = logging.getLogger(__name__)

Params = dict[str, Any]
Result = ChatCompletion | Response
"""What a step passes back: a chat completion, or a Responses API response."""
CallNext = Callable[[Params], Result]
AsyncCallNext = Callable[[Params], Awaitable[Result]]
T = TypeVar("T")


def api_of(params: Mapping[str, Any]) -> Surface:
    """The API a request is for: chat completions (``messages``) or Responses (``input``)."""
    return Surface.CHAT if "messages" in params else Surface.RESPONSES


def _screened_messages(params: Mapping[str, Any]) -> list[Any]:
    """The messages a blocklist reads: chat ``messages``, or a response's ``instructions``
    and ``input`` (a string, or a list of input items with string or list content)."""
    if api_of(params) is Surface.CHAT:
        return list(params.get("messages") or [])
    screened: list[Any] = []
    if isinstance(params.get("instructions"), str):
        screened.append({"role": "developer", "content": params["instructions"]})
    given = params.get("input")
    if isinstance(given, str):
        screened.append({"role": "user", "content": given})
    else:
        screened.extend(item for item in given or [] if isinstance(item, Mapping))
    return screened


class Step(Protocol):
    """One middleware: the same behaviour for sync and async pipelines."""

    def handle(self, params: Params, call_next: CallNext) -> Result: ...

    async def ahandle(self, params: Params, call_next: AsyncCallNext) -> Result: ...


class ContentCheck:
    """Screens the messages before sending and reads Azure's verdict on the way back.

    - ``blocklist`` (optional, a client-side supplement): a match in the messages (chat) or
      in the instructions and input (Responses), string or text parts, raises
      ``BlockedByBlocklistError`` and nothing is sent;
    - a prompt Azure blocks (400 ``content_filter``) and an answer it cuts
      (``finish_reason: "content_filter"``, or a response ``incomplete`` for that reason)
      both raise :class:`ContentFilteredError`, whose ``report`` says which category, so
      callers handle one exception.
    """

    def __init__(self, blocklist: Blocklist | None = None) -> None:
        self.blocklist = blocklist

    def _before(self, params: Params) -> None:
        if self.blocklist is not None:
            self.blocklist.screen(_screened_messages(params))

    @staticmethod
    def _after(result: Result) -> Result:
        if isinstance(result, Response):
            report = report_from_response(result)
        else:
            report = report_from_completion(result)
        if report.filtered:
            raise ContentFilteredError(report)
        return result

    @staticmethod
    def _blocked(error: openai.BadRequestError) -> ContentFilteredError | None:
        report = report_from_error(error)
        return ContentFilteredError(report) if report is not None else None

    def handle(self, params: Params, call_next: CallNext) -> Result:
        self._before(params)
        try:
            completion = call_next(params)
        except openai.BadRequestError as error:
            if (blocked := self._blocked(error)) is not None:
                raise blocked from error
            raise
        return self._after(completion)

    async def ahandle(self, params: Params, call_next: AsyncCallNext) -> Result:
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

    @staticmethod
    def _kind(params: Params) -> tuple[Surface, type[Result]]:
        api = api_of(params)
        return api, Response if api is Surface.RESPONSES else ChatCompletion

    def handle(self, params: Params, call_next: CallNext) -> Result:
        with self._lock:
            if self._loop is None:
                self._loop = _LoopThread()
        api, result_type = self._kind(params)
        fetch = self.cache.fetch(
            api,
            params,
            lambda: asyncio.to_thread(call_next, params),
            result_type,
            namespace=self.namespace,
        )
        return self._loop.run(fetch)

    async def ahandle(self, params: Params, call_next: AsyncCallNext) -> Result:
        api, result_type = self._kind(params)
        return await self.cache.fetch(
            api,
            params,
            lambda: call_next(params),
            result_type,
            namespace=self.namespace,
        )

    def close(self) -> None:
        """Close the cache's backend (on the thread that used it) and stop that thread."""
        if self._loop is not None:
            self._loop.run(self.cache.close())
            self._loop.close()
            self._loop = None


class CallRecord(BaseModel):
    """What :class:`Monitor` reports for one upstream call.

    For a response, ``finish_reason`` is its ``status`` (``completed``) or the reason it is
    ``incomplete``, and the token counts are its ``input_tokens`` and ``output_tokens``.
    """

    api: Literal["chat.completions", "responses"] = "chat.completions"
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

    def _record(self, params: Params, start: float, result: Result | BaseException) -> None:
        seconds = self.clock() - start
        deployment = str(params.get("model", ""))
        api = api_of(params).value
        if isinstance(result, BaseException):
            record = CallRecord(
                api=api,
                deployment=deployment,
                outcome="error",
                seconds=seconds,
                error_type=type(result).__name__,
                status_code=getattr(result, "status_code", None),
            )
        elif isinstance(result, Response):
            used = result.usage
            incomplete = result.incomplete_details
            record = CallRecord(
                api=api,
                deployment=deployment,
                outcome="ok",
                seconds=seconds,
                finish_reason=(incomplete.reason if incomplete else None) or result.status,
                prompt_tokens=used.input_tokens if used else None,
                completion_tokens=used.output_tokens if used else None,
                cached_tokens=used.input_tokens_details.cached_tokens if used else None,
            )
        else:
            usage = result.usage
            details = usage.prompt_tokens_details if usage else None
            record = CallRecord(
                api=api,
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

    def handle(self, params: Params, call_next: CallNext) -> Result:
        start = self.clock()
        try:
            result = call_next(params)
        except Exception as error:
            self._record(params, start, error)
            raise
        self._record(params, start, result)
        return result

    async def ahandle(self, params: Params, call_next: AsyncCallNext) -> Result:
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


def _check_params(params: Params, api: Surface) -> None:
    if params.get("stream"):
        raise ValueError(
            "the pipeline handles whole answers; stream with helpers.streaming instead"
        )
    if api is Surface.CHAT:
        method, needed, what = "create", ("model", "messages"), "the messages"
    else:
        method, needed, what = "create_response", ("model", "input"), "the input"
    for required in needed:
        if required not in params:
            raise TypeError(f"{method}() needs {required}=... (the deployment and {what})")
    if api is Surface.RESPONSES and "messages" in params:
        raise TypeError("create_response() takes input=..., not messages=...")
    if api is Surface.RESPONSES and params.get("background"):
        raise ValueError("the pipeline handles whole answers; a background response is polled")


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
    """Steps around ``chat.completions.create`` and ``responses.create``, sync client."""

    def __init__(
        self, client: AzureOpenAI | OpenAI, steps: Sequence[Step], *, max_retries: int = 3
    ) -> None:
        if isinstance(client, AsyncOpenAI):
            raise TypeError("Pipeline takes a sync client; use AsyncPipeline for AsyncAzureOpenAI")
        super().__init__(client, steps, max_retries)

    def _call(self, params: Params) -> Result:
        if api_of(params) is Surface.RESPONSES:
            return self.client.responses.create(**params)
        return self.client.chat.completions.create(**params)

    def _run(self, params: Params, api: Surface) -> Result:
        _check_params(params, api)

        def run(index: int, current: Params) -> Result:
            if index == len(self.steps):
                return self._call(current)
            return self.steps[index].handle(current, lambda p: run(index + 1, p))

        return run(0, params)

    def create(self, **params: Any) -> ChatCompletion:
        """Run the steps, then ``chat.completions.create``; returns its ``ChatCompletion``."""
        return cast(ChatCompletion, self._run(params, Surface.CHAT))

    def create_response(self, **params: Any) -> Response:
        """Run the same steps, then ``responses.create``; returns its ``Response``."""
        return cast(Response, self._run(params, Surface.RESPONSES))


class AsyncPipeline(_Steps[AsyncAzureOpenAI | AsyncOpenAI]):
    """Steps around ``await ... chat.completions.create`` / ``responses.create``, async."""

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

    async def _call(self, params: Params) -> Result:
        if api_of(params) is Surface.RESPONSES:
            return await self.client.responses.create(**params)
        return await self.client.chat.completions.create(**params)

    async def _run(self, params: Params, api: Surface) -> Result:
        _check_params(params, api)

        async def run(index: int, current: Params) -> Result:
            if index == len(self.steps):
                return await self._call(current)
            return await self.steps[index].ahandle(current, lambda p: run(index + 1, p))

        return await run(0, params)

    async def create(self, **params: Any) -> ChatCompletion:
        """Run the steps, then ``chat.completions.create``; returns its ``ChatCompletion``."""
        return cast(ChatCompletion, await self._run(params, Surface.CHAT))

    async def create_response(self, **params: Any) -> Response:
        """Run the same steps, then ``responses.create``; returns its ``Response``."""
        return cast(Response, await self._run(params, Surface.RESPONSES))


# --- picture: where each request left the pipeline -------------------------------------------

PATH_STEPS = ("content check", "cache", "Azure, with the SDK's retries")
"""The columns of :func:`plot_request_paths`: the steps in the order a request meets them."""

_COLOURS = {
    "passed": "#59a14f",
    "blocked": "#e15759",
    "answered": "#4e79a7",
    "retried": "#f28e2b",
    "miss": "#d9e7d4",
    "not reached": "#f0f0f0",
}


def _path_cells(answered: bool, calls: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """What each step did with one request: (text, colour key) per column of PATH_STEPS."""
    if len(calls) > 1:
        raise ValueError(f"one request makes at most one call to Azure, got {len(calls)}")
    if not calls:
        unreached = ("not reached", "not reached")
        if answered:  # answered without a call: the cache had it
            return [("passed", "passed"), ("hit: answered", "answered"), unreached]
        return [("blocked: not sent", "blocked"), unreached, unreached]
    call = calls[0]
    if answered:
        retries = int(call.get("retries") or 0)
        if retries:
            text = f"answered\nafter {retries} {'retry' if retries == 1 else 'retries'}"
            azure = (text, "retried")
        else:
            azure = ("answered", "answered")
    else:
        said = " ".join(str(call[key]) for key in ("status", "code") if call.get(key) is not None)
        azure = (f"refused\n{said}" if said else "refused", "blocked")
    return [("passed", "passed"), ("miss", "miss"), azure]


def plot_request_paths(
    requests: Sequence[tuple[str, bool, Sequence[Mapping[str, Any]]]],
    ax: Axes | None = None,
    *,
    title: str = "Where each request left the pipeline",
) -> Axes:
    """One row per request, one column per step (:data:`PATH_STEPS`): what each step did.

    Each request is ``(label, answered, calls)``: whether the caller got an answer, and the
    records of its calls that reached Azure (none, or one: a dict with ``retries`` when
    answered, ``status`` and ``code`` when Azure refused it). No call and an answer is a
    cache hit; no call and no answer, a request the content check stopped. Long labels are
    wrapped.
    """
    import matplotlib.pyplot as plt

    if not requests:
        raise ValueError("no requests to plot")
    ax = ax or plt.subplots(figsize=(9, 0.6 * len(requests) + 1.2))[1]
    for row, (_, answered, calls) in enumerate(requests):
        for column, (text, colour) in enumerate(_path_cells(answered, calls)):
            ax.barh(row, 1, left=column, height=0.8, color=_COLOURS[colour], edgecolor="white")
            dark = colour in {"passed", "blocked", "answered", "retried"}
            ax.text(
                column + 0.5, row, text, ha="center", va="center",
                color="white" if dark else "dimgray",
            )  # fmt: skip
    ax.set_xlim(0, len(PATH_STEPS))
    ax.set_ylim(len(requests) - 0.5, -0.5)  # first request on top
    ax.set_xticks([column + 0.5 for column in range(len(PATH_STEPS))], PATH_STEPS)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.set_yticks(range(len(requests)), [fill(label, 34) for label, _, _ in requests])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, pad=24)
    return ax


# --- exercise -------------------------------------------------------------------------------

_LIMIT_CASES: list[tuple[str, Params, Params]] = [
    # (case, the request, what call_next must receive with a limit of 500)
    (
        "a chat request without a limit",
        {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "Hi"}]},
        {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "Hi"}],
         "max_completion_tokens": 500},
    ),
    (
        "a chat request with its own limit",
        {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "Hi"}],
         "max_completion_tokens": 50},
        {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "Hi"}],
         "max_completion_tokens": 50},
    ),
    (
        "a Responses request without a limit",
        {"model": "gpt-5.4-mini", "input": "Hi"},
        {"model": "gpt-5.4-mini", "input": "Hi", "max_output_tokens": 500},
    ),
]  # fmt: skip


def _drive(coroutine: Coroutine[Any, Any, T]) -> tuple[bool, T | None]:
    """Run a coroutine that never waits (its ``call_next`` returns at once), without an event
    loop, so the checker works inside a notebook's running loop too."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return True, cast(T, done.value)
    coroutine.close()
    return False, None


def _limit_hint(case: str, sent: Params, expected: Params) -> str:
    if "max_tokens" in sent:
        return "sent max_tokens: reasoning models reject it; use max_completion_tokens"
    if "messages" not in sent and "max_completion_tokens" in sent:
        return "a Responses request (it has input, not messages) takes max_output_tokens"
    if "messages" in sent and "max_output_tokens" in sent:
        return "a chat request (it has messages) takes max_completion_tokens"
    if "with its own limit" in case:
        return "the caller's own limit wins: set a default only when none is given"
    return f"call_next got {sent!r}, expected {expected!r}"


def check_default_limit_step(step_class: Any, limit: int = 500) -> Feedback:
    """Exercise: ``step_class(limit)`` is a pipeline step that gives every request without a
    token limit a default one: ``max_completion_tokens`` on chat completions,
    ``max_output_tokens`` on the Responses API, never replacing the caller's own.

    Both ``handle`` and ``ahandle`` are tried with a stand-in ``call_next``; the step must pass
    a new dict (the caller's is left alone) and return what ``call_next`` returned. The feedback
    names the case and what the step did wrong.
    """
    name = "default limit step"
    try:
        step = step_class(limit)
    except NotImplementedError:
        return failed(name, "still a stub: replace `raise NotImplementedError` with your code.")
    except Exception as error:
        return failed(name, f"DefaultLimit({limit}) raised {type(error).__name__}: {error}")
    for method in ("handle", "ahandle"):
        for case, request, expected in _LIMIT_CASES:
            original = {**request}
            sent: list[Params] = []
            answer = object()  # stands in for the completion or response call_next returns

            def call_next(params: Params, sent: list[Params] = sent, answer: Any = answer) -> Any:
                sent.append(params)
                return answer

            async def acall_next(params: Params, call_next: CallNext = call_next) -> Any:
                return call_next(params)

            try:
                if method == "handle":
                    got = step.handle(request, call_next)
                else:
                    finished, got = _drive(step.ahandle(request, acall_next))
                    if not finished:
                        return failed(name, "ahandle must await only call_next.")
            except NotImplementedError:
                return failed(
                    name,
                    f"{method} is still a stub: replace `raise NotImplementedError` with code.",
                )
            except Exception as error:
                return failed(name, f"{method}, {case}: raised {type(error).__name__}: {error}")
            if not sent and method == "ahandle":
                return failed(name, f"{method}, {case}: `return await call_next(...)`.")
            if len(sent) != 1:
                return failed(name, f"{method}, {case}: call call_next exactly once.")
            if request != original:
                return failed(
                    name,
                    f"{method}, {case}: the caller's dict was changed; pass a new one "
                    "({**params, ...}) so a retry or a cache key sees what the caller sent.",
                )
            if sent[0] != expected:
                return failed(name, f"{method}, {case}: {_limit_hint(case, sent[0], expected)}.")
            if got is not answer:
                return failed(name, f"{method}, {case}: return what call_next returned.")
    return passed(name, "handle and ahandle set the right limit, and only when none was given.")
