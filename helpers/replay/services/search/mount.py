"""Azure AI Search, mounted under ``/search`` on the same server.

The search data plane is its own Starlette application (:mod:`helpers.replay.services.search`);
this module registers its state (the indexes, reset with the server) and mounts it,
so ``SearchClient(endpoint=f"{server.url}/search", credential=AzureKeyCredential(key))``
works with the same key as the OpenAI routes. Search results are computed from the
documents a notebook uploads, never recorded.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from ...state import ReplayState
from ..base import Service
from .routes import SEARCH_AUDIENCE, create_search_app
from .store import SearchState

PREFIX = "/search"


def _register(state: ReplayState) -> None:
    state.register("search", SearchState())


def _mount(state: ReplayState) -> tuple[str, ASGIApp]:
    search_state = state.simulator("search")
    assert isinstance(search_state, SearchState)
    app = create_search_app(api_key=state.config.api_key, state=search_state, clock=state.clock)
    return PREFIX, app


SERVICE = Service(
    name="search", endpoints=(), audience=SEARCH_AUDIENCE, register=_register, mount=_mount
)
