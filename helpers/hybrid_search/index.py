"""Azure AI Search for RAG (guide section 10): a typed index, a careful uploader, three queries.

Use it when your retrieval step runs on Azure AI Search. Describe a document as a pydantic
model, marking its fields with :class:`Indexed` and :class:`Vector`; build the index from it;
upload documents and get back which ones failed and why; then query by keywords (BM25), by
vector (kNN) or both (hybrid, fused by Azure with Reciprocal Rank Fusion)::

    class Chunk(BaseModel):
        id: Annotated[str, KEY]
        title: Annotated[str, SEARCHABLE]
        content: Annotated[str, SEARCHABLE]
        category: Annotated[str, FILTERABLE]
        embedding: Annotated[list[float], Vector(dimensions=1536)]

    class ChunkText(BaseModel):  # what a query returns: no vector to download
        id: str
        title: str
        content: str

    index_client.create_or_update_index(index_from_model("guide", Chunk))
    upload(search_client, chunks).raise_for_failures()
    hits = hybrid_search(search_client, question, embed(question), model=ChunkText,
                         vector_field="embedding", top=5)

Queries return :class:`SearchHit` objects: the document validated into the model you pass
(only that model's fields are requested, so a model without the vector field keeps responses
small) and Azure's ``@search.score``. The SDK's own errors (``HttpResponseError`` and its
subclasses) pass through unchanged.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import pydantic
from azure.search.documents import RequestEntityTooLargeError, SearchClient
from azure.search.documents.indexes.models import (
    HnswAlgorithmConfiguration,
    HnswParameters,
    SearchField,
    SearchFieldDataType,
    SearchIndex,
    VectorSearch,
    VectorSearchProfile,
)
from azure.search.documents.models import IndexDocumentsBatch, IndexingResult, VectorizedQuery

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
from .._support.errors import CookbookError
from .._support.exercises import Feedback, attempt, failed, passed

__all__ = [
    "FILTERABLE",
    "KEY",
    "SEARCHABLE",
    "SORTABLE",
    "FailedDocument",
    "Indexed",
    "SearchHit",
    "UploadError",
    "UploadReport",
    "Vector",
    "check_rrf",
    "hybrid_search",
    "index_from_model",
    "keyword_search",
    "upload",
    "vector_query",
    "vector_search",
]

T = TypeVar("T", bound=pydantic.BaseModel)
Action = Literal["upload", "merge", "mergeOrUpload", "delete"]
DEFAULT_PROFILE = "default"
DEFAULT_ALGORITHM = "hnsw"
MAX_BATCH = 1000
"""Azure accepts up to 32,000 actions (16 MB) per request; 1,000 is its recommended batch."""


@dataclass(frozen=True)
class Indexed:
    """How Azure AI Search treats a field. Fields without a marker are only retrievable."""

    key: bool = False
    searchable: bool = False
    filterable: bool = False
    sortable: bool = False
    facetable: bool = False
    retrievable: bool = True
    analyzer: str | None = None
    """A language analyzer for a searchable field, e.g. ``en.microsoft``."""


KEY = Indexed(key=True, filterable=True)
SEARCHABLE = Indexed(searchable=True)
FILTERABLE = Indexed(filterable=True, facetable=True)
SORTABLE = Indexed(filterable=True, sortable=True)


@dataclass(frozen=True)
class Vector:
    """A vector field (``list[float]``) of ``dimensions`` numbers, searched with ``profile``."""

    dimensions: int
    profile: str = DEFAULT_PROFILE
    retrievable: bool = True

    def __post_init__(self) -> None:
        if not 2 <= self.dimensions <= 4096:
            raise ValueError(f"Vector dimensions must be 2 to 4096, got {self.dimensions}")


# -- the index ----------------------------------------------------------------------------------

_SCALARS: dict[type, str] = {
    str: SearchFieldDataType.STRING,
    bool: SearchFieldDataType.BOOLEAN,
    int: SearchFieldDataType.INT64,
    float: SearchFieldDataType.DOUBLE,
    dt.datetime: SearchFieldDataType.DATE_TIME_OFFSET,
}


def index_from_model(
    name: str,
    model: type[pydantic.BaseModel],
    *,
    metric: Literal["cosine", "euclidean", "dotProduct"] = "cosine",
) -> SearchIndex:
    """A :class:`SearchIndex` whose fields follow ``model``'s annotations.

    ``str``, ``int`` (Edm.Int64), ``float``, ``bool``, ``datetime`` and lists of them map to
    Azure's types (``Optional`` is fine); ``Annotated[list[float], Vector(n)]`` becomes a
    ``Collection(Edm.Single)`` vector field. Each vector profile named by a field gets an
    HNSW algorithm with ``metric``. Exactly one field must be marked :data:`KEY` (a ``str``).
    """
    if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
        raise TypeError(f"index_from_model() takes a pydantic model class, got {model!r}")
    fields: list[SearchField] = []
    profiles: list[str] = []
    for field_name, info in model.model_fields.items():
        name_on_wire = info.alias or field_name
        vector = next((m for m in info.metadata if isinstance(m, Vector)), None)
        indexed = next((m for m in info.metadata if isinstance(m, Indexed)), Indexed())
        python_type, is_list = _field_type(model, field_name, info.annotation)
        if vector is not None:
            if not is_list or python_type is not float:
                raise TypeError(
                    f"{model.__name__}.{field_name}: a Vector field must be list[float], "
                    f"not {info.annotation!r}"
                )
            # SearchFieldDataType.Collection is added by the SDK at run time (models/_patch.py);
            # its hints show the enum metaclass's __getattr__ (an Enum), so ignore "not callable".
            fields.append(
                SearchField(
                    name=name_on_wire,
                    type=SearchFieldDataType.Collection(SearchFieldDataType.SINGLE),  # type: ignore[operator]
                    searchable=True,
                    retrievable=vector.retrievable,
                    vector_search_dimensions=vector.dimensions,
                    vector_search_profile_name=vector.profile,
                )
            )
            if vector.profile not in profiles:
                profiles.append(vector.profile)
            continue
        edm = _SCALARS[python_type]
        _check_indexed(model, field_name, indexed, edm, is_list)
        fields.append(
            SearchField(
                name=name_on_wire,
                type=SearchFieldDataType.Collection(edm) if is_list else edm,  # type: ignore[operator]
                key=indexed.key,
                searchable=indexed.searchable,
                filterable=indexed.filterable,
                sortable=indexed.sortable,
                facetable=indexed.facetable,
                retrievable=indexed.retrievable,
                analyzer_name=indexed.analyzer,
            )
        )
    keys = [f.name for f in fields if f.key]
    if len(keys) != 1:
        raise ValueError(
            f"{model.__name__} must mark exactly one str field as the key "
            f"(Annotated[str, KEY]); found {keys or 'none'}"
        )
    vector_search = None
    if profiles:
        vector_search = VectorSearch(
            algorithms=[
                HnswAlgorithmConfiguration(
                    name=DEFAULT_ALGORITHM, parameters=HnswParameters(metric=metric)
                )
            ],
            profiles=[
                VectorSearchProfile(name=profile, algorithm_configuration_name=DEFAULT_ALGORITHM)
                for profile in profiles
            ],
        )
    return SearchIndex(name=name, fields=fields, vector_search=vector_search)


def _field_type(model: type, field_name: str, annotation: Any) -> tuple[type, bool]:
    """(element type, is a list) for a field annotation, ``Optional`` removed."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _field_type(model, field_name, options[0])
    elif origin in (list, Sequence):
        (element,) = typing.get_args(annotation) or (Any,)
        element_type, nested = _field_type(model, field_name, element)
        if not nested:
            return element_type, True
    elif annotation in _SCALARS:
        return annotation, False
    raise TypeError(
        f"{model.__name__}.{field_name}: {annotation!r} has no Azure AI Search type; use str, "
        "int, float, bool, datetime, a list of one of them, or list[float] with Vector(...)"
    )


def _check_indexed(model: type, field_name: str, indexed: Indexed, edm: str, is_list: bool) -> None:
    where = f"{model.__name__}.{field_name}"
    if indexed.key and (edm != SearchFieldDataType.STRING or is_list):
        raise TypeError(f"{where}: the key field must be a str")
    if indexed.searchable and edm != SearchFieldDataType.STRING:
        raise TypeError(f"{where}: only str fields (or lists of str) can be searchable")
    if indexed.sortable and is_list:
        raise TypeError(f"{where}: a list field cannot be sortable")
    if indexed.analyzer and not indexed.searchable:
        raise TypeError(f"{where}: an analyzer only applies to a searchable field")


# -- uploading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedDocument:
    """A document Azure did not index, with its per-document status code and reason."""

    key: str
    status_code: int
    message: str


@dataclass
class UploadReport:
    """What happened to each document of an upload."""

    succeeded: list[str] = field(default_factory=list)
    failed: list[FailedDocument] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def raise_for_failures(self) -> UploadReport:
        """Raise :class:`UploadError` if any document failed; else return the report."""
        if self.failed:
            raise UploadError(self)
        return self


class UploadError(CookbookError):
    """Some documents were not indexed; ``report`` says which and why."""

    def __init__(self, report: UploadReport) -> None:
        lines = [f"  {f.key}: {f.status_code} {f.message}" for f in report.failed]
        super().__init__(
            f"{len(report.failed)} of {len(report.failed) + len(report.succeeded)} documents "
            "were not indexed:\n" + "\n".join(lines)
        )
        self.report = report


def upload(
    client: SearchClient,
    documents: Iterable[pydantic.BaseModel | Mapping[str, Any]],
    *,
    action: Action = "mergeOrUpload",
    batch_size: int = MAX_BATCH,
) -> UploadReport:
    """Send ``documents`` in batches and report each one's outcome.

    A batch that is partly rejected comes back as HTTP 207 with one status per document; the
    failures land in :attr:`UploadReport.failed` rather than being lost. A batch Azure finds too
    large (413) is split in half and retried. A malformed batch (a missing key, an unknown
    field) raises the SDK's ``HttpResponseError``: nothing in it was indexed.
    """
    if not 1 <= batch_size <= 32_000:
        raise ValueError(f"batch_size must be 1 to 32000, got {batch_size}")
    report = UploadReport()
    pending: list[dict[str, Any]] = []
    for document in documents:
        pending.append(_as_dict(document))
        if len(pending) == batch_size:
            _send(client, pending, action, report)
            pending = []
    if pending:
        _send(client, pending, action, report)
    return report


def _as_dict(document: pydantic.BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(document, pydantic.BaseModel):
        return document.model_dump(mode="json", by_alias=True)
    if isinstance(document, Mapping):
        return dict(document)
    raise TypeError(f"upload() takes pydantic models or dicts, got {type(document).__name__}")


def _send(
    client: SearchClient, documents: list[dict[str, Any]], action: Action, report: UploadReport
) -> None:
    batch = IndexDocumentsBatch()
    adders = {
        "upload": batch.add_upload_actions,
        "merge": batch.add_merge_actions,
        "mergeOrUpload": batch.add_merge_or_upload_actions,
        "delete": batch.add_delete_actions,
    }
    adders[action](documents)
    try:
        results: list[IndexingResult] = client.index_documents(batch)
    except RequestEntityTooLargeError:
        if len(documents) == 1:
            raise
        middle = len(documents) // 2
        _send(client, documents[:middle], action, report)
        _send(client, documents[middle:], action, report)
        return
    for result in results:
        if result.succeeded:
            report.succeeded.append(str(result.key))
        else:
            report.failed.append(
                FailedDocument(
                    str(result.key), int(result.status_code), str(result.error_message or "")
                )
            )


# -- querying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit(Generic[T]):
    """One result: the document as ``T`` and Azure's ``@search.score``.

    The score's scale depends on the query: BM25 for keywords (unbounded), the similarity for a
    single vector query (0.333 to 1 for cosine), Reciprocal Rank Fusion for hybrid queries
    (about 1/61 per fused list at most). Compare scores only within one query.
    """

    document: T
    score: float
    reranker_score: float | None = None


def vector_query(
    vector: Sequence[float] | NDArray[np.floating[Any]], *, field: str, k: int = 5
) -> VectorizedQuery:
    """The SDK's ``VectorizedQuery`` for ``k`` nearest neighbours of ``vector`` in ``field``."""
    if len(vector) == 0:  # not `not vector`: a numpy array has no truth value
        raise ValueError("the query vector is empty; embed the query text first")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return VectorizedQuery(vector=[float(v) for v in vector], k_nearest_neighbors=k, fields=field)


def keyword_search(
    client: SearchClient,
    text: str,
    *,
    model: type[T],
    top: int = 5,
    filter: str | None = None,
    search_fields: Sequence[str] | None = None,
) -> list[SearchHit[T]]:
    """The ``top`` documents ranked by BM25 for ``text`` (simple query syntax)."""
    if not text.strip():
        raise ValueError("the search text is empty; use '*' to match every document")
    return _run(
        client, model, top, search_text=text, filter=filter,
        search_fields=list(search_fields) if search_fields else None,
    )  # fmt: skip


def vector_search(
    client: SearchClient,
    vector: Sequence[float],
    *,
    model: type[T],
    vector_field: str,
    k: int = 5,
    filter: str | None = None,
) -> list[SearchHit[T]]:
    """The ``k`` documents whose ``vector_field`` is nearest to ``vector`` (filtered first)."""
    query = vector_query(vector, field=vector_field, k=k)
    return _run(client, model, k, vector_queries=[query], filter=filter)


def hybrid_search(
    client: SearchClient,
    text: str,
    vector: Sequence[float],
    *,
    model: type[T],
    vector_field: str,
    top: int = 5,
    k: int | None = None,
    filter: str | None = None,
) -> list[SearchHit[T]]:
    """Keyword and vector search in one request, fused by Reciprocal Rank Fusion.

    ``k`` neighbours (default: ``top``) take part in the fusion; ``top`` results come back.
    """
    if not text.strip():
        raise ValueError("the search text is empty; use vector_search() for vector-only queries")
    query = vector_query(vector, field=vector_field, k=k if k is not None else top)
    return _run(client, model, top, search_text=text, vector_queries=[query], filter=filter)


def _run(client: SearchClient, model: type[T], top: int, **options: Any) -> list[SearchHit[T]]:
    if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
        raise TypeError(f"model must be a pydantic model class, got {model!r}")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    select = [info.alias or name for name, info in model.model_fields.items()]
    results = client.search(select=select, top=top, **options)
    hits: list[SearchHit[T]] = []
    for result in results:
        document = {k: v for k, v in result.items() if not k.startswith("@search.")}
        hits.append(
            SearchHit(
                document=model.model_validate(document),
                score=float(result["@search.score"]),
                reranker_score=result.get("@search.reranker_score"),
            )
        )
    return hits


# --- exercise --------------------------------------------------------------------------------

RRF_K = 60
"""The constant Azure AI Search adds to every rank in Reciprocal Rank Fusion."""

RRF_RANKINGS: list[list[str]] = [
    ["tubeless", "puncture", "washing", "chain-wear"],  # keywords
    ["puncture", "tubeless", "tyre-pressure"],  # a vector query on the titles
    ["tyre-pressure", "puncture", "washing", "tubeless"],  # a vector query on the contents
]
"""Three legs of one hybrid query: the exercise fuses them all (Azure takes several vectors)."""


def _reference_rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1 / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def check_rrf(rrf: Callable[[list[list[str]]], list[tuple[str, float]]]) -> Feedback:
    """Check ``rrf(rankings)``: ``(key, score)`` pairs, best first, fused by RRF with k = 60.

    Every ranking a key appears in adds ``1 / (60 + rank)``, ranks counted from 1.
    """
    exercise = "reciprocal rank fusion"
    expected = _reference_rrf(RRF_RANKINGS)
    got = attempt(exercise, rrf, [list(r) for r in RRF_RANKINGS])
    if isinstance(got, Feedback):
        return got
    try:
        pairs = [(str(key), float(score)) for key, score in got]
    except (TypeError, ValueError):
        return failed(exercise, f"return a list of (key, score) pairs, got {got!r}.")
    keys, wanted = [key for key, _ in pairs], [key for key, _ in expected]
    if sorted(keys) != sorted(wanted):
        missing = sorted(set(wanted) - set(keys))
        message = f"keys {keys} should hold each key of any ranking once; missing {missing}"
        return failed(exercise, message + ": a key scores in every list it appears in.")
    scores = dict(pairs)
    for key, score in expected:
        if abs(scores[key] - score) > 1e-9:
            first = 1 / (RRF_K + 1)
            hint = f"ranks count from 1, so a first place adds 1/{RRF_K + 1} = {first:.5f}"
            if scores[key] < score:
                hint = f"add 1 / ({RRF_K} + rank) for every list a key is in"
            return failed(
                exercise, f"{key!r} scored {scores[key]:.5f}, expected {score:.5f}: {hint}."
            )
    if keys != wanted:
        return failed(exercise, f"the scores are right but the order is {keys}: best first.")
    return passed(exercise, f"{len(expected)} keys fused from {len(RRF_RANKINGS)} rankings, "
                            f"{wanted[0]!r} first with {expected[0][1]:.5f}.")  # fmt: skip
