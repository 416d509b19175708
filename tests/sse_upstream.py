"""A stand-in upstream for record mode and the monitoring transport: a one-route HTTP server
on a loopback port that streams a chat completion framed the way a test chooses."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

CHAT_ROUTE = "/openai/deployments/gpt-4o-mini/chat/completions"


def _chunk(n: int, content: str | None, finish: str | None = None) -> dict[str, object]:
    delta = {"content": content} if content is not None else {}
    return {
        "id": "chatcmpl-framing", "object": "chat.completion.chunk", "created": 1700000000 + n,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip


FRAMED_CHUNKS = [
    _chunk(0, "Drägon"),
    _chunk(1, " found"),
    _chunk(2, " home."),
    _chunk(3, None, "stop"),
]


def framed_body(eol: str) -> list[bytes]:
    """A chat stream as an upstream may legally frame it (WHATWG HTML, "Server-sent events":
    lines end in CRLF, LF or CR): a comment, one event's JSON split over two ``data:`` lines,
    ``[DONE]`` last; cut into pieces that split line ends (CR | LF) and a UTF-8 character."""
    lines = [": keep-alive", ""]
    for n, chunk in enumerate(FRAMED_CHUNKS):
        text = json.dumps(chunk, separators=(",", ":"), ensure_ascii=False)
        if n == 1:
            head, tail = text.split('"choices":', 1)
            lines += [f"data: {head}", f'data:"choices":{tail}', ""]  # no space after the colon
        else:
            lines += [f"data: {text}", ""]
    lines += ["data: [DONE]", ""]
    body = (eol.join(lines) + eol).encode("utf-8")
    cuts = sorted({body.index(b"\xc3") + 1, *range(7, len(body), 29)})
    return [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]


class FakeUpstream:
    """A one-route HTTP server on a loopback port that streams fixed bytes (record mode's
    upstream, framed as the test chooses)."""

    def __init__(self, pieces: list[bytes], route: str = CHAT_ROUTE) -> None:
        async def stream(request: Request) -> StreamingResponse:
            async def body() -> AsyncIterator[bytes]:
                for piece in pieces:
                    yield piece

            return StreamingResponse(body(), media_type="text/event-stream")

        app = Starlette(routes=[Route(route, stream, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def __enter__(self) -> FakeUpstream:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
