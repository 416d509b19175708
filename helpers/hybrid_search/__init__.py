"""RAG with hybrid search on Azure AI Search (guide section 10).

Two parts: :mod:`.index` describes documents as a typed index, uploads them and queries by
keywords, vectors or both; :mod:`.grounding` retrieves passages and asks for an answer whose
``[n]`` citations are checked against them. Everything is re-exported here::

    from helpers.hybrid_search import KEY, SEARCHABLE, Vector, index_from_model, upload, ask
"""

from .grounding import (
    SYSTEM_PROMPT,
    AnswerError,
    GroundedAnswer,
    InstructionsRole,
    Retriever,
    SearchMode,
    Source,
    UngroundedAnswerError,
    answer,
    ask,
    build_messages,
    format_sources,
    parse_citations,
)
from .index import (
    FILTERABLE,
    KEY,
    SEARCHABLE,
    SORTABLE,
    FailedDocument,
    Indexed,
    SearchHit,
    UploadError,
    UploadReport,
    Vector,
    check_rrf,
    hybrid_search,
    index_from_model,
    keyword_search,
    upload,
    vector_query,
    vector_search,
)

__all__ = [
    "FILTERABLE",
    "KEY",
    "SEARCHABLE",
    "SORTABLE",
    "SYSTEM_PROMPT",
    "AnswerError",
    "FailedDocument",
    "GroundedAnswer",
    "Indexed",
    "InstructionsRole",
    "Retriever",
    "SearchHit",
    "SearchMode",
    "Source",
    "UngroundedAnswerError",
    "UploadError",
    "UploadReport",
    "Vector",
    "answer",
    "ask",
    "build_messages",
    "check_rrf",
    "format_sources",
    "hybrid_search",
    "index_from_model",
    "keyword_search",
    "parse_citations",
    "upload",
    "vector_query",
    "vector_search",
]
