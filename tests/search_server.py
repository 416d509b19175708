"""The Azure AI Search simulator on a loopback port, for the search tests.

Modelled on helpers.replay.server.ReplayServer. Once the replay server mounts the search app,
the tests can use the main server instead (see the search simulator's integration notes).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from helpers.replay.search import SearchState, create_search_app

API_KEY = "test-search-key"


class SearchServer:
    """The search simulator on a free loopback port, served by uvicorn from a daemon thread.

    Modelled on helpers.replay.server.ReplayServer; the lead will switch these tests to the
    main replay server once it mounts the search app.
    """

    def __init__(self, clock: Callable[[], float] = time.time, *, mount: str = "") -> None:
        self.state = SearchState()
        self.mount = mount
        app: ASGIApp = create_search_app(api_key=API_KEY, state=self.state, clock=clock)
        if mount:  # as another app would host it, e.g. the replay server under /search
            app = Starlette(routes=[Mount(mount, app=app)])
        self._uvicorn = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        )
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        """The endpoint to give ``SearchClient`` / ``SearchIndexClient``."""
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}{self.mount}"

    def start(self) -> SearchServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the search simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
