"""The replay server with its Azure AI Search service, for the search tests.

Search lives under ``/search`` on the main replay server, on the same pipeline as every
other route (helpers.replay.services.search.operations). ``SearchServer.url`` is the
endpoint to give ``SearchClient`` and ``SearchIndexClient``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from helpers.replay import ReplayConfig, ReplayServer
from helpers.replay.services.search.operations import PREFIX
from helpers.replay.services.search.store import SearchState

API_KEY = "test-search-key"


class SearchServer:
    """A replay server on a free loopback port, seen from its search endpoint."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.server = ReplayServer(ReplayConfig(api_key=API_KEY, recordings=[]), clock=clock)

    @property
    def url(self) -> str:
        return self.server.url + PREFIX

    @property
    def state(self) -> SearchState:
        found = self.server.state.simulator("search")
        assert isinstance(found, SearchState)
        return found

    def start(self) -> SearchServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
