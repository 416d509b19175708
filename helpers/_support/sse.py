"""Server-sent events, read by one parser: httpx-sse's, for record mode and tests.

The framing rules are the WHATWG HTML Living Standard's ("Server-sent events",
"Interpreting an event stream"): a line ends in CRLF, LF or a lone CR; a blank
line dispatches the event; a line starting with ``:`` is a comment; several
``data:`` lines are joined with ``\\n``; one space after the colon is dropped; an
event the stream ends in the middle of is never dispatched. ``httpx-sse``
implements them; this module feeds it bytes that are passing by (a transport, a
proxy) so that it can watch a stream without changing it:

* :func:`relay` / :func:`arelay` pass every chunk on unchanged and call
  ``on_event`` for each event as soon as the chunk that completes it has arrived,
  before that chunk is passed on (a chunk that only starts an event waits for the
  rest of it, which its reader could not have used anyway);
* :func:`parse_events` reads a whole body (tests, recordings).
"""

from __future__ import annotations

import codecs
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from typing import Any, cast

from httpx_sse import EventSource, ServerSentEvent

__all__ = ["DONE", "ServerSentEvent", "arelay", "parse_events", "relay"]

DONE = "[DONE]"
"""The ``data:`` of the event that ends a Chat Completions stream (never a Responses stream)."""

OnEvent = Callable[[ServerSentEvent], None]
Transform = Callable[[bytes], bytes]


class _Body:
    """What ``EventSource`` reads from a response: its content type and its text, as it comes."""

    def __init__(self, texts: Iterator[str] | AsyncIterator[str]) -> None:
        self.headers = {"content-type": "text/event-stream"}
        self._texts = texts

    def iter_text(self) -> Iterator[str]:
        return cast(Iterator[str], self._texts)

    def aiter_text(self) -> AsyncIterator[str]:
        return cast(AsyncIterator[str], self._texts)


def _event_source(texts: Iterator[str] | AsyncIterator[str]) -> EventSource:
    # EventSource reads only `headers` and `iter_text()` / `aiter_text()` of what it is given.
    return EventSource(cast(Any, _Body(texts)))


def _utf8() -> codecs.IncrementalDecoder:
    # Event streams are always UTF-8 (the standard ignores any charset parameter).
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


def parse_events(body: bytes | str | Iterable[bytes]) -> list[ServerSentEvent]:
    """Every event of a whole stream body, comments and framing removed."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    chunks: Iterable[bytes] = [body] if isinstance(body, bytes) else body
    events: list[ServerSentEvent] = []
    for _ in relay(chunks, events.append):
        pass
    return events


def relay(
    chunks: Iterable[bytes], on_event: OnEvent, *, transform: Transform | None = None
) -> Generator[bytes, None, None]:
    """Yield ``chunks`` unchanged, calling ``on_event`` for each event they carry.

    ``transform`` turns a chunk into the bytes to parse (e.g. undoing ``gzip``); the
    chunk itself is passed on as it came.
    """
    passed: list[bytes] = []

    def texts() -> Generator[str, None, None]:
        decoder = _utf8()
        for chunk in chunks:
            passed.append(chunk)
            if text := decoder.decode(transform(chunk) if transform else chunk):
                yield text
        if text := decoder.decode(b"", final=True):
            yield text

    source: Generator[str, None, None] = texts()
    events = cast(Generator[ServerSentEvent, None, None], _event_source(source).iter_sse())
    try:
        for event in events:
            on_event(event)
            yield from _drain(passed)
        yield from _drain(passed)
    finally:
        events.close()
        source.close()


async def arelay(
    chunks: AsyncIterable[bytes], on_event: OnEvent, *, transform: Transform | None = None
) -> AsyncGenerator[bytes, None]:
    """The async twin of :func:`relay`."""
    passed: list[bytes] = []

    async def texts() -> AsyncGenerator[str, None]:
        decoder = _utf8()
        async for chunk in chunks:
            passed.append(chunk)
            if text := decoder.decode(transform(chunk) if transform else chunk):
                yield text
        if text := decoder.decode(b"", final=True):
            yield text

    source: AsyncGenerator[str, None] = texts()
    events: AsyncGenerator[ServerSentEvent, None] = _event_source(source).aiter_sse()
    try:
        async for event in events:
            on_event(event)
            for chunk in _drain(passed):
                yield chunk
        for chunk in _drain(passed):
            yield chunk
    finally:
        await events.aclose()
        await source.aclose()


def _drain(passed: list[bytes]) -> list[bytes]:
    """Everything in ``passed``, which is left empty."""
    taken = passed[:]
    passed.clear()
    return taken
