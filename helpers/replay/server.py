"""Run the replay server: in a background thread (notebooks, tests) or in the foreground.

    with ReplayServer(ReplayConfig(recordings=[path])) as server:
        client = AzureOpenAI(azure_endpoint=server.url, api_key=server.api_key, ...)

The socket is bound before the thread starts, so ``server.url`` is valid as
soon as the constructor returns from ``start()``; port 0 picks a free port.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

from .._support.tokenizer import OFFLINE_ENCODINGS, get_encoding
from .app import SERVER_NAME, create_asgi_app
from .behaviours.ratelimit import RateLimiter
from .config import ReplayConfig
from .protocol import AzureHttpToolsProtocol
from .state import ReplayState

LOOPBACK = "127.0.0.1"
HTTP_PROTOCOL = AzureHttpToolsProtocol
"""uvicorn's HTTP parser: httptools (fast), answering unparseable requests in Azure's JSON."""


class _QuietCuts(logging.Filter):
    """Drop uvicorn's complaints about answers the server ends or withholds on purpose
    (a recorded or injected cut, a hang the client gave up on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            "without completing response" in message or "without starting response" in message
        )


logging.getLogger("uvicorn.error").addFilter(_QuietCuts())


class ReplayServer:
    """The replay server on a loopback port, served from a daemon thread."""

    def __init__(
        self,
        config: ReplayConfig | None = None,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        clock: Callable[[], float] = time.time,
        limiter: RateLimiter | None = None,
        log_level: str = "warning",
    ) -> None:
        self.config = config or ReplayConfig.from_env()
        self.host = host
        self._requested_port = port
        self.app = create_asgi_app(self.config, clock=clock, limiter=limiter)
        self._uvicorn = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level=log_level, access_log=False, lifespan="on",
                timeout_graceful_shutdown=2, server_header=False, http=HTTP_PROTOCOL,
            )
        )  # fmt: skip
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the server is not started")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """The endpoint to give a client as ``azure_endpoint``."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def state(self) -> ReplayState:
        """What the server knows (recordings, ids, stores); for tests and the server's code."""
        state: ReplayState = self.app.state.replay  # type: ignore[attr-defined]
        return state

    def reset(self) -> None:
        """Start again without restarting: quotas refilled, recordings served from the top,
        every uploaded file, batch, stored response, vector store and index forgotten (what
        ``POST /_replay/reset`` does)."""
        self.state.reset()

    def start(self, timeout: float = 10.0) -> ReplayServer:
        # Load the tokenizers now (usage and quota accounting) so the first request is not slow.
        for name in OFFLINE_ENCODINGS:
            get_encoding(name)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this. Without it, a response's headers and body go out
        # as two small writes and the second waits ~40 ms for the client's delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self._requested_port))
        self._socket = sock
        self._thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [sock]}, name="replay-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the replay server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def probe(url: str, timeout: float = 0.3) -> dict[str, Any] | None:
    """The health document of a replay server at ``url``, or ``None`` if none answers there."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/_replay/health", timeout=timeout) as resp:
            data = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("server") == SERVER_NAME else None


def serve_forever(config: ReplayConfig, host: str, port: int) -> None:
    """Serve in the foreground until interrupted (``python -m helpers.replay``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    uvicorn.run(
        create_asgi_app(config),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        http=HTTP_PROTOCOL,
    )
