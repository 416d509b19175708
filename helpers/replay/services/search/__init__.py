"""A simulated Azure AI Search service for the replay server.

``SearchClient`` and ``SearchIndexClient`` work against it unchanged, over http with an
``AzureKeyCredential`` (or a bearer token from :class:`helpers.replay.ReplayCredential` for the
``https://search.azure.com`` audience)::

    state = SearchState()
    app = create_search_app(api_key="local-replay-key", state=state)

Modules: :mod:`~.state` (indexes, documents, FTS5 tables), :mod:`~.engine` (BM25, vector kNN,
Reciprocal Rank Fusion), :mod:`~.odata` (``$filter``, ``$orderby``, ``$select``),
:mod:`~.routes` (the REST surface), :mod:`~.errors` (Azure AI Search's error answers).
Index contents are computed from the documents clients upload, never recorded.
"""

from .routes import API_VERSIONS, create_search_app, search_token_is_valid
from .state import SearchState

__all__ = ["API_VERSIONS", "SearchState", "create_search_app", "search_token_is_valid"]
