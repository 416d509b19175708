"""A :class:`~.context.Reply` on the wire: JSON, bytes, server-sent events, faults.

Streams are sent event by event with their recorded pauses and end the way the
reply says: ``data: [DONE]`` (how a Chat Completions stream ends), plain EOF
(how a Responses API stream ends, after its terminal event), a *cut* (the
chunked body stops without its terminator, so the client sees an incomplete
read, as when a proxy drops a long stream) or a *reset* (TCP RST). An event
whose data spans lines is sent as one ``data:`` line per line, as the SSE
standard frames it. Faults
before any answer: ``reset``, or ``hang`` until the client gives up.
JSON bodies are always encodable: a lone surrogate from a client's body is
written as a JSON ``\\uXXXX`` escape rather than failing the response.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct

from starlette.types import Message, Receive, Scope, Send

from .context import Reply
from .errors import ReplayError, dump_json

HANG_LIMIT_SECONDS = 600.0
"""A hang ends by itself after this long if the client never gives up."""
TRANSPORT_KEY = "replay.transport"
"""Where the boundary leaves the connection's transport in ``scope["extensions"]``."""


def _header_list(headers: dict[str, str], content_type: str | None) -> list[tuple[bytes, bytes]]:
    pairs = [
        (k.lower().encode("latin-1"), v.encode("latin-1", "replace"))
        for k, v in headers.items()
        if k.lower() not in ("content-type", "content-length", "transfer-encoding")
    ]
    if content_type:
        pairs.append((b"content-type", content_type.encode("latin-1")))
    return pairs


def reset_connection(scope: Scope) -> bool:
    """Abort the connection with a TCP reset; False when the server gives no transport."""
    transport = scope.get("extensions", {}).get(TRANSPORT_KEY)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


class ReplyResponse:
    """An ASGI response for a :class:`Reply`."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reply = self.reply
        if reply.fault == "reset" and reset_connection(scope):
            return
        if reply.fault is not None:
            await _hang(receive)
            return
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        if reply.events is not None:
            await self._stream(scope, receive, send)
            return
        if reply.content is not None:
            body, content_type = reply.content, reply.content_type or "application/octet-stream"
        elif reply.json is None and reply.status == 204:
            body, content_type = b"", None
        else:
            body, content_type = dump_json(reply.json), "application/json"
        headers = _header_list(reply.headers, content_type)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        reply = self.reply
        assert reply.events is not None
        headers = _header_list(reply.headers, "text/event-stream; charset=utf-8")
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        for event in reply.events:
            if event.delay > 0:
                await asyncio.sleep(event.delay)
            chunk = sse_frame(event.data, event.event)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if reply.stream_end == "reset" and reset_connection(scope):
            return
        if reply.stream_end in ("cut", "reset"):
            raise StreamCut("the recording cuts this stream here")
        tail = sse_frame("[DONE]") if reply.stream_end == "done" else b""
        await send({"type": "http.response.body", "body": tail, "more_body": False})


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def sse_frame(data: str, event: str | None = None) -> bytes:
    """One server-sent event on the wire: ``event:`` if named, a ``data:`` line per line."""
    prefix = f"event: {event}\n" if event else ""
    if "\n" in data or "\r" in data:
        data = "\ndata: ".join(_LINE_BREAK.split(data))
    return f"{prefix}data: {data}\n\n".encode("utf-8", "backslashreplace")


class StreamCut(ReplayError):
    """Raised after a cut stream's last event: the server closes without ending the body."""


async def _hang(receive: Receive) -> None:
    async def disconnected() -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), HANG_LIMIT_SECONDS)
