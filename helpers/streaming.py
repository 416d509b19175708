"""Stream chat completions from Azure OpenAI into text deltas and one final result.

Use it when you show text as it arrives and still need what a non-streamed
call gives you: the full text, ``finish_reason``, token usage and Azure's
content-filter annotations, plus time to first token.

    with stream_chat(azure.client, model=azure.chat_deployment, messages=msgs) as stream:
        for text in stream:
            print(text, end="")
    result = stream.result

Azure's streams carry two chunks without choices: the first (its
``prompt_filter_results``) and, with ``stream_options.include_usage``, the
last (its ``usage``). Both are read, never indexed with ``choices[0]``.
Errors are raised, never yielded as text: a request Azure rejects raises the
SDK's own error (``openai.BadRequestError``...) before any text; an error
event in the middle of the stream raises :class:`StreamInterruptedError`,
which keeps the text received so far.

The Responses API streams typed events instead; :func:`stream_response` reads
them the same way (text deltas while streaming, one result with the final
``Response`` at the end) and raises :class:`StreamInterruptedError` on an
``error`` or ``response.failed`` event, which the SDK passes through as data:

    with stream_response(azure.v1_client(), model=azure.chat_deployment, input=q) as stream:
        for text in stream:
            print(text, end="")
    print(stream.result.usage)
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam
from openai.types.responses import (
    Response,
    ResponseInputParam,
    ResponseStreamEvent,
    ResponseUsage,
)

from ._support.errors import CookbookError
from ._support.exercises import Feedback, failed, passed

__all__ = [
    "AsyncResponseTextStream",
    "AsyncTextStream",
    "Clock",
    "ResponseStreamAccumulator",
    "ResponseStreamResult",
    "ResponseTextStream",
    "StreamAccumulator",
    "StreamInterruptedError",
    "StreamNotFinishedError",
    "StreamResult",
    "TextStream",
    "approx_seconds",
    "astream_chat",
    "astream_response",
    "check_collect_stream",
    "describe_chunk",
    "stream_chat",
    "stream_response",
]

Clock = Callable[[], float]
"""Seconds from an arbitrary origin; ``time.perf_counter`` unless a test injects its own."""


@dataclass(frozen=True)
class StreamResult:
    """Everything a finished stream told us, besides the text as it arrived."""

    text: str
    """The content deltas joined."""
    finish_reason: str | None
    """``stop``, ``length`` (hit ``max_tokens``), ``content_filter``, ``tool_calls``; ``None``
    if the stream ended without one."""
    usage: CompletionUsage | None
    """Token counts; only sent when ``stream_options={"include_usage": True}``."""
    model: str | None
    """The model that answered (``gpt-5.4-mini-2026-03-17``), not the deployment name."""
    prompt_filter_results: list[dict[str, Any]]
    """Azure's annotations of the prompt, from the first chunk (empty if there was none)."""
    filtered_categories: tuple[str, ...]
    """Output content-filter categories Azure marked ``filtered: true`` (sorted)."""
    refusal: str | None
    """The refusal deltas joined, when the model refused (structured outputs)."""
    chunks: int
    """Chunks received, the choice-less annotation and usage chunks included."""
    time_to_first_token: float | None
    """Seconds from the request to the first non-empty content delta; ``None`` without text."""
    total_time: float
    """Seconds from the request to the end of the stream."""

    @property
    def truncated(self) -> bool:
        """The answer stopped at the token limit (``finish_reason == "length"``)."""
        return self.finish_reason == "length"

    @property
    def filtered(self) -> bool:
        """Azure's content filter stopped the answer (``finish_reason == "content_filter"``)."""
        return self.finish_reason == "content_filter"


class StreamNotFinishedError(CookbookError, RuntimeError):
    """The result of a stream was asked for before the stream was read to the end."""


class StreamInterruptedError(CookbookError, openai.APIError):
    """The stream failed after it started; ``partial_text`` holds what arrived before.

    It is an ``openai.APIError`` (``code``, ``body`` and ``request`` come from the error
    the SDK raised, which is also ``__cause__``), so ``except openai.APIError`` catches it.
    """

    def __init__(self, error: openai.APIError, *, partial_text: str, chunks: int) -> None:
        super().__init__(
            f"The stream failed after {chunks} chunks ({len(partial_text)} characters of text "
            f"received): {error.message}",
            error.request,
            body=error.body,
        )
        self.error = error
        self.partial_text = partial_text
        self.chunks = chunks


R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class _Accumulator(Generic[R]):
    """What both accumulators keep: the text, and when the request was sent (``started``,
    ``clock()`` when omitted), when the first non-empty text delta came and when the stream
    ended (:meth:`finish`)."""

    def __init__(self, *, clock: Clock = time.perf_counter, started: float | None = None) -> None:
        self._clock = clock
        self._started = clock() if started is None else started
        self._text: list[str] = []
        self._first_token_at: float | None = None
        self._finished_at: float | None = None

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._text)

    def _append(self, delta: str) -> None:
        if delta:
            if self._first_token_at is None:
                self._first_token_at = self._clock()
            self._text.append(delta)

    def finish(self) -> R:
        """Stamp the end of the stream (once) and return the result."""
        if self._finished_at is None:
            self._finished_at = self._clock()
        return self.result()

    def result(self) -> R:
        raise NotImplementedError

    def _times(self) -> tuple[float | None, float]:
        """Seconds to the first text delta (``None`` without text) and to the end."""
        assert self._finished_at is not None, "only for a finished stream"
        first = self._first_token_at
        return (
            None if first is None else first - self._started,
            self._finished_at - self._started,
        )


class StreamAccumulator(_Accumulator[StreamResult]):
    """Fold chunks into a :class:`StreamResult`; the part of a stream that needs no network.

    ``started`` is when the request was sent (``clock()`` when omitted). :meth:`add`
    returns the chunk's text delta (``""`` when it has none); :meth:`finish` stamps the end.
    """

    def __init__(self, *, clock: Clock = time.perf_counter, started: float | None = None) -> None:
        super().__init__(clock=clock, started=started)
        self._refusal: list[str] = []
        self._finish_reason: str | None = None
        self._usage: CompletionUsage | None = None
        self._model: str | None = None
        self._prompt_filter_results: list[dict[str, Any]] = []
        self._filtered: set[str] = set()
        self.chunks = 0

    def add(self, chunk: ChatCompletionChunk) -> str:
        """Take in one chunk and return its text delta."""
        self.chunks += 1
        extra = chunk.model_extra or {}
        if extra.get("prompt_filter_results"):
            self._prompt_filter_results = list(extra["prompt_filter_results"])
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.model and self._model is None:
            self._model = chunk.model
        delta_text = ""
        for choice in chunk.choices:  # empty on Azure's annotation and usage chunks
            if choice.index != 0:
                raise ValueError(
                    f"got a chunk for choice {choice.index}; this helper reads one choice (n=1)"
                )
            filters = (choice.model_extra or {}).get("content_filter_results") or {}
            self._filtered.update(
                name
                for name, verdict in filters.items()
                if isinstance(verdict, dict) and verdict.get("filtered")
            )
            if choice.delta.refusal:
                self._refusal.append(choice.delta.refusal)
            if choice.delta.content:
                delta_text += choice.delta.content
            if choice.finish_reason is not None:
                self._finish_reason = choice.finish_reason
        self._append(delta_text)
        return delta_text

    def result(self) -> StreamResult:
        """The result of a finished stream."""
        if self._finished_at is None:
            raise StreamNotFinishedError(
                "The stream has not been read to the end yet: iterate it fully "
                "(or call consume()) before asking for its result."
            )
        time_to_first_token, total_time = self._times()
        return StreamResult(
            text=self.text,
            finish_reason=self._finish_reason,
            usage=self._usage,
            model=self._model,
            prompt_filter_results=self._prompt_filter_results,
            filtered_categories=tuple(sorted(self._filtered)),
            refusal="".join(self._refusal) if self._refusal else None,
            chunks=self.chunks,
            time_to_first_token=time_to_first_token,
            total_time=total_time,
        )

    def interrupted(self, error: openai.APIError) -> StreamInterruptedError:
        """The exception to raise when ``error`` broke the stream."""
        return StreamInterruptedError(error, partial_text=self.text, chunks=self.chunks)


class _Accumulating(Protocol[R_co]):
    @property
    def text(self) -> str: ...
    def add(self, item: Any) -> str: ...
    def finish(self) -> R_co: ...
    def result(self) -> R_co: ...
    def interrupted(self, error: openai.APIError) -> StreamInterruptedError: ...


class _StreamCommon(Generic[R]):
    """What the synchronous and asynchronous text streams share, whatever API they read.

    A subclass names its accumulator (chat chunks or Responses events). The loop over the
    source is written twice (``for`` and ``async for``, in the two subclasses below); what a
    failure inside it becomes, and the rest, is here once.
    """

    _accumulator: Callable[..., _Accumulating[R]]

    def __init__(
        self, source: Any, *, clock: Clock = time.perf_counter, started: float | None = None
    ) -> None:
        self._source = source
        self._state = self._accumulator(clock=clock, started=started)

    def _interrupted(self, failure: _StreamFailure | openai.APIError) -> StreamInterruptedError:
        """The error to raise (``from`` its ``error``) for a failure while reading: the SDK's
        ``APIError``, or an ``error`` / ``response.failed`` event inside a Responses stream."""
        if isinstance(failure, _StreamFailure):
            failure = _api_error(failure, self._source.response.request)
        return self._state.interrupted(failure)

    @property
    def text(self) -> str:
        """The text received so far."""
        return self._state.text

    @property
    def result(self) -> R:
        """The final result; raises :class:`StreamNotFinishedError` before the end."""
        return self._state.result()


class _TextStreamBase(_StreamCommon[R]):
    """What every synchronous text stream offers."""

    def __iter__(self) -> Iterator[str]:
        try:
            for item in self._source:
                text = self._state.add(item)
                if text:
                    yield text
        except (_StreamFailure, openai.APIError) as failure:
            broken = self._interrupted(failure)
            raise broken from broken.error
        self._state.finish()

    def consume(self) -> R:
        """Read whatever is left of the stream and return the result."""
        for _ in self:
            pass
        return self._state.result()

    def close(self) -> None:
        """Release the connection (reading to the end does it too)."""
        self._source.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _AsyncTextStreamBase(_StreamCommon[R]):
    """What every asynchronous text stream offers."""

    async def __aiter__(self) -> AsyncIterator[str]:
        try:
            async for item in self._source:
                text = self._state.add(item)
                if text:
                    yield text
        except (_StreamFailure, openai.APIError) as failure:
            broken = self._interrupted(failure)
            raise broken from broken.error
        self._state.finish()

    async def consume(self) -> R:
        """Read whatever is left of the stream and return the result."""
        async for _ in self:
            pass
        return self._state.result()

    async def close(self) -> None:
        """Release the connection (reading to the end does it too)."""
        await self._source.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class TextStream(_TextStreamBase[StreamResult]):
    """A synchronous stream of text deltas; ``result`` once it has been read to the end."""

    _accumulator = StreamAccumulator


class AsyncTextStream(_AsyncTextStreamBase[StreamResult]):
    """The asynchronous twin of :class:`TextStream`: ``async for text in stream``."""

    _accumulator = StreamAccumulator


def _stream_params(include_usage: bool, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("n") not in (None, 1):
        raise ValueError(f"stream_chat reads one choice; n must be 1, not {params['n']!r}")
    for name in ("stream", "stream_options"):
        if name in params:
            raise TypeError(f"stream_chat sets {name!r} itself; pass include_usage= instead")
    options: dict[str, Any] = {"stream": True}
    if include_usage:
        options["stream_options"] = {"include_usage": True}
    return {**params, **options}


def stream_chat(
    client: AzureOpenAI,
    *,
    model: str,
    messages: Iterable[ChatCompletionMessageParam],
    include_usage: bool = True,
    clock: Clock = time.perf_counter,
    **params: Any,
) -> TextStream:
    """Start a streamed chat completion; ``model`` is the Azure *deployment* name.

    Other keyword arguments go to ``client.chat.completions.create``. A rejected
    request raises the SDK's error here, before any text.
    """
    started = clock()
    chunks = client.chat.completions.create(
        model=model, messages=messages, **_stream_params(include_usage, params)
    )
    return TextStream(chunks, clock=clock, started=started)


async def astream_chat(
    client: AsyncAzureOpenAI,
    *,
    model: str,
    messages: Iterable[ChatCompletionMessageParam],
    include_usage: bool = True,
    clock: Clock = time.perf_counter,
    **params: Any,
) -> AsyncTextStream:
    """The asynchronous :func:`stream_chat`: ``stream = await astream_chat(...)``."""
    started = clock()
    chunks = await client.chat.completions.create(
        model=model, messages=messages, **_stream_params(include_usage, params)
    )
    return AsyncTextStream(chunks, clock=clock, started=started)


# --- the Responses API ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseStreamResult:
    """What a finished Responses stream told us: the final ``Response`` and the timings."""

    response: Response
    """The ``Response`` of the ``response.completed`` (or ``response.incomplete``) event."""
    text: str
    """The ``response.output_text.delta`` events joined."""
    events: int
    """Events received, the terminal one included."""
    time_to_first_token: float | None
    """Seconds from the request to the first non-empty text delta; ``None`` without text."""
    total_time: float
    """Seconds from the request to the end of the stream."""

    @property
    def usage(self) -> ResponseUsage | None:
        """Token counts (Responses streams always end with them)."""
        return self.response.usage

    @property
    def incomplete(self) -> bool:
        """The answer stopped early (``max_output_tokens``, the content filter...): see
        ``response.incomplete_details.reason``."""
        return self.response.status == "incomplete"


class _StreamFailure(CookbookError):
    """An ``error`` or ``response.failed`` event; turned into :class:`StreamInterruptedError`."""

    def __init__(self, message: str, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.body = body


class ResponseStreamAccumulator(_Accumulator[ResponseStreamResult]):
    """Fold Responses API events into a :class:`ResponseStreamResult` (no network needed).

    :meth:`add` returns the event's text delta (``""`` for other events) and raises
    ``_StreamFailure`` for an ``error`` or ``response.failed`` event; the stream classes
    turn that into :class:`StreamInterruptedError`.
    """

    def __init__(self, *, clock: Clock = time.perf_counter, started: float | None = None) -> None:
        super().__init__(clock=clock, started=started)
        self._response: Response | None = None
        self.events = 0

    def add(self, event: ResponseStreamEvent) -> str:
        """Take in one event and return its text delta."""
        self.events += 1
        if event.type == "response.output_text.delta":
            self._append(event.delta)
            return event.delta
        if event.type in ("response.completed", "response.incomplete"):
            self._response = event.response
        elif event.type == "response.failed":
            error = event.response.error
            body = error.model_dump() if error else {"code": None, "message": None}
            raise _StreamFailure(
                f"the response failed: {body.get('message') or 'no reason given'}", body
            )
        elif event.type == "error":
            body = {"code": event.code, "message": event.message, "param": event.param}
            raise _StreamFailure(f"error event: {event.message}", body)
        return ""

    def result(self) -> ResponseStreamResult:
        """The result of a stream that ended with ``response.completed`` or ``.incomplete``."""
        if self._finished_at is None or self._response is None:
            raise StreamNotFinishedError(
                "The Responses stream has not reached response.completed (or .incomplete): "
                "iterate it fully (or call consume()) before asking for its result."
            )
        time_to_first_token, total_time = self._times()
        return ResponseStreamResult(
            response=self._response,
            text=self.text,
            events=self.events,
            time_to_first_token=time_to_first_token,
            total_time=total_time,
        )

    def interrupted(self, error: openai.APIError) -> StreamInterruptedError:
        """The exception to raise when ``error`` broke the stream."""
        return StreamInterruptedError(error, partial_text=self.text, chunks=self.events)


def _api_error(failure: _StreamFailure, request: Any) -> openai.APIError:
    return openai.APIError(failure.message, request, body=failure.body)


class ResponseTextStream(_TextStreamBase[ResponseStreamResult]):
    """A synchronous Responses stream of text deltas; ``result`` once it has ended."""

    _accumulator = ResponseStreamAccumulator


class AsyncResponseTextStream(_AsyncTextStreamBase[ResponseStreamResult]):
    """The asynchronous twin of :class:`ResponseTextStream`: ``async for text in stream``."""

    _accumulator = ResponseStreamAccumulator


def _response_params(params: dict[str, Any]) -> dict[str, Any]:
    if "stream" in params:
        raise TypeError("stream_response sets 'stream' itself")
    return {**params, "stream": True}


def stream_response(
    client: OpenAI,
    *,
    model: str,
    input: str | ResponseInputParam,
    clock: Clock = time.perf_counter,
    **params: Any,
) -> ResponseTextStream:
    """Start a streamed Responses API call; ``model`` is the Azure *deployment* name.

    ``client`` is an ``OpenAI`` client on the v1 endpoint (``{endpoint}/openai/v1/``).
    Other keyword arguments go to ``client.responses.create`` (``instructions``,
    ``previous_response_id``, ``max_output_tokens``...). A rejected request raises the
    SDK's error here, before any text.
    """
    started = clock()
    events = client.responses.create(model=model, input=input, **_response_params(params))
    return ResponseTextStream(events, clock=clock, started=started)


async def astream_response(
    client: AsyncOpenAI,
    *,
    model: str,
    input: str | ResponseInputParam,
    clock: Clock = time.perf_counter,
    **params: Any,
) -> AsyncResponseTextStream:
    """The asynchronous :func:`stream_response`: ``stream = await astream_response(...)``."""
    started = clock()
    events = await client.responses.create(model=model, input=input, **_response_params(params))
    return AsyncResponseTextStream(events, clock=clock, started=started)


def approx_seconds(seconds: float, step: float = 0.1) -> str:
    """``seconds`` floored to a multiple of ``step``, as text: ``0.47 -> "0.4 s"``.

    Flooring (not rounding) keeps a duration stable across runs when it is known to
    fall inside one step (a sleep wakes late by milliseconds, never early).
    """
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    steps = math.floor(seconds / step + 1e-9)  # 0.3 / 0.1 is 2.9999999999999996
    decimals = len(f"{step:g}".partition(".")[2])
    return f"{steps * step:.{decimals}f} s"


def describe_chunk(chunk: ChatCompletionChunk) -> str:
    """One line saying what a chunk carries, for looking at a stream by eye."""
    parts: list[str] = []
    extra = chunk.model_extra or {}
    if not chunk.choices:
        parts.append("no choices")
    if extra.get("prompt_filter_results"):
        parts.append("prompt_filter_results")
    for choice in chunk.choices:
        delta = choice.delta
        if delta.role:
            parts.append(f"role={delta.role}")
        if delta.content:
            parts.append(f"content={delta.content!r}")
        if delta.tool_calls:
            parts.append(f"tool_calls x{len(delta.tool_calls)}")
        if choice.finish_reason:
            parts.append(f"finish_reason={choice.finish_reason}")
    if chunk.usage is not None:
        parts.append(
            f"usage: {chunk.usage.prompt_tokens} prompt + "
            f"{chunk.usage.completion_tokens} completion tokens"
        )
    return ", ".join(parts) or "empty delta"


# --- exercise -------------------------------------------------------------------------------

_SAFE = {name: {"filtered": False, "severity": "safe"} for name in ("hate", "sexual", "violence")}


def _chunk(choices: list[dict[str, Any]], **extra: Any) -> ChatCompletionChunk:
    body = {"id": "chatcmpl-exercise", "object": "chat.completion.chunk", "created": 0}
    return ChatCompletionChunk.model_validate(
        {**body, "model": "gpt-5.4-mini-2026-03-17", "choices": choices, **extra}
    )


def _delta(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {"index": 0, "delta": delta, "finish_reason": finish}


def _exercise_stream(
    words: list[str], finish: str, usage: dict[str, int] | None
) -> list[ChatCompletionChunk]:
    """A stream as Azure sends it: a prompt-annotation chunk with no choices first, a role
    chunk, text, a finishing chunk with no text, then (with ``include_usage``) a usage chunk
    with no choices."""
    chunks = [
        _chunk([], prompt_filter_results=[{"prompt_index": 0, "content_filter_results": _SAFE}]),
        _chunk([_delta(role="assistant", content="")]),
        *(_chunk([_delta(word)]) for word in words),
        _chunk([_delta(finish=finish)]),
    ]
    if usage is not None:
        chunks.append(_chunk([], usage=usage))
    return chunks


_STREAM_CASES: list[tuple[str, list[ChatCompletionChunk], tuple[str, str, int | None]]] = [
    (
        "a stream with a usage chunk",
        _exercise_stream(
            ["A token", " is a piece", " of text."],
            "stop",
            {"prompt_tokens": 14, "completion_tokens": 9, "total_tokens": 23},
        ),
        ("A token is a piece of text.", "stop", 9),
    ),
    (
        "a stream cut at max_completion_tokens",
        _exercise_stream(
            ["Tokens are", " pieces"],
            "length",
            {"prompt_tokens": 14, "completion_tokens": 16, "total_tokens": 30},
        ),
        ("Tokens are pieces", "length", 16),
    ),
    (
        "a stream without include_usage",
        _exercise_stream(["Steel rang", " across the courtyard."], "content_filter", None),
        ("Steel rang across the courtyard.", "content_filter", None),
    ),
]


def check_collect_stream(
    function: Callable[[list[ChatCompletionChunk]], tuple[str, str | None, int | None]],
) -> Feedback:
    """Exercise: ``function(chunks)`` folds a chat stream's chunks into
    ``(text, finish_reason, completion_tokens)``.

    The chunks are shaped as Azure sends them (a first chunk with no choices, chunks whose delta
    has no content, a usage chunk with no choices; no usage chunk without ``include_usage``).
    The feedback names the case and the part that is wrong, and explains the usual crashes.
    """
    name = "collect a stream"
    for case, chunks, expected in _STREAM_CASES:
        try:
            got = function(list(chunks))
        except NotImplementedError:
            return failed(name, "still a stub: replace `raise NotImplementedError` with your code.")
        except IndexError as error:
            return failed(
                name,
                f"for {case}, your function raised IndexError ({error}): Azure's first chunk "
                "has no choices (only prompt_filter_results), nor does the usage chunk; loop "
                "over `chunk.choices` instead of reading `chunk.choices[0]`.",
            )
        except TypeError as error:
            return failed(
                name,
                f"for {case}, your function raised TypeError ({error}): a delta's `content` "
                "is None on chunks that carry no text (the finishing chunk); add only text.",
            )
        except AttributeError as error:
            return failed(
                name,
                f"for {case}, your function raised AttributeError ({error}): the usage chunk "
                "is the only one whose `usage` is set; it is None on every other chunk.",
            )
        except Exception as error:
            return failed(name, f"your function raised {type(error).__name__}: {error}")
        if not isinstance(got, tuple) or len(got) != 3:
            return failed(name, f"return (text, finish_reason, completion_tokens); got {got!r}.")
        parts = ("text", "finish_reason", "completion_tokens")
        wrong = [
            f"{part} is {value!r}, expected {want!r}"
            for part, value, want in zip(parts, got, expected, strict=True)
            if value != want
        ]
        if wrong:
            hint = ""
            if got[1] is None and expected[1] is not None:
                hint = (
                    " (the finish reason is on the last chunk with choices, not on the usage"
                    " chunk that follows it)"
                )
            elif expected[2] is None and got[2] is not None:
                hint = " (without include_usage there is no usage chunk: say None, not a guess)"
            return failed(name, f"for {case}, {'; '.join(wrong)}{hint}.")
    return passed(name, f"all {len(_STREAM_CASES)} streams folded correctly.")
