"""Ranking: BM25 keyword search, exact vector kNN, and Reciprocal Rank Fusion.

- **Keyword**: SQLite FTS5 matches the query against the index's searchable fields and ranks with
  its built-in ``bm25()`` (k1 = 1.2, b = 0.75, the parameters Azure's BM25 also defaults to);
  ``@search.score`` is ``-bm25()``, so higher is better as on Azure. No scoring is written here.
  ``search=*`` (or no text) matches every document with score 1.
- **Vector**: exhaustive (exact) kNN over the field's vectors with the metric of the field's
  profile. ``@search.score`` follows Azure's vector relevance scores: ``cosine`` gives
  ``1 / (1 + (1 - cos))`` (range 0.333..1), ``euclidean`` ``1 / (1 + distance)``;
  ``dotProduct`` is ranked by the dot product and reports it as the score.
- **Fusion**: whenever more than one ranked list runs (text + vectors, several vector queries or
  fields), Reciprocal Rank Fusion as Azure documents it: each list adds ``weight / (k + rank)``
  with ``k = 60`` and ``rank`` counted from 1, then documents are sorted by the sum.
  https://learn.microsoft.com/azure/search/hybrid-search-ranking
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import errors, odata
from .store import Field, Index, is_vector

RRF_K = 60
DEFAULT_PAGE = 50
MAX_PAGE = 1000
HYBRID_TEXT_RECALL = 50
"""Matches the text leg of a hybrid query contributes (Azure: the top 50 full-text matches)."""
WORD = re.compile(r"[^\W_]+")
QUERY_TERM = re.compile(r'"([^"]*)"|(\S+)')

Ranking = list[tuple[str, float]]


@dataclass(frozen=True)
class VectorQuery:
    vector: list[float]
    k: int
    fields: list[Field]
    weight: float = 1.0


@dataclass
class SearchRequest:
    """A search request, validated against the index."""

    text: str | None = None
    search_fields: list[str] = field(default_factory=list)
    mode: str = "any"
    filter: odata.Node | None = None
    orderby: list[odata.OrderBy] = field(default_factory=list)
    select: list[str] = field(default_factory=list)
    top: int | None = None
    skip: int = 0
    count: bool = False
    vector_queries: list[VectorQuery] = field(default_factory=list)
    post_filter: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


# -- request parsing ------------------------------------------------------------------------------


def parse_request(body: Any, index: Index) -> SearchRequest:
    """Validate a ``search.post.search`` body; Azure's 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise errors.invalid_request("The search request must be a JSON object.")
    query_type = body.get("queryType") or "simple"
    if query_type == "semantic" or body.get("semanticConfiguration") or body.get("answers"):
        raise errors.not_simulated(
            "Semantic ranking (queryType=semantic, answers, captions)",
            "It needs Microsoft's hosted reranker model. Use keyword, vector or hybrid queries "
            "offline; @search.score then comes from BM25, vector similarity or RRF.",
        )
    if query_type not in ("simple", "full"):
        raise errors.invalid_request(f"queryType : '{query_type}' is not a valid query type.")
    for unsupported, name in (
        ("facets", "Facets"),
        ("highlight", "Hit highlighting"),
        ("scoringProfile", "Scoring profiles"),
    ):
        if body.get(unsupported):
            raise errors.not_simulated(name, f"Remove '{unsupported}' from the request.")
    text = body.get("search")
    if text is not None and not isinstance(text, str):
        raise errors.invalid_request("search : must be a string.")
    mode = body.get("searchMode") or "any"
    if mode not in ("any", "all"):
        raise errors.invalid_request(f"searchMode : '{mode}' is not 'any' or 'all'.")
    request = SearchRequest(text=text, mode=mode, raw=body)
    request.search_fields = _search_fields(body.get("searchFields"), index)
    filter_text = body.get("filter")
    if filter_text is not None:
        if not isinstance(filter_text, str):
            raise errors.invalid_request("filter : must be a string.")
        if filter_text.strip():
            request.filter = odata.parse_filter(filter_text, index)
    orderby = body.get("orderby")
    if orderby:
        request.orderby = odata.parse_orderby(_string(orderby, "orderby"), index)
    select = body.get("select")
    request.select = odata.parse_select(
        _string(select, "select") if select is not None else None, index
    )
    request.top = _count_parameter(body.get("top"), "top")
    request.skip = _count_parameter(body.get("skip"), "skip") or 0
    if request.skip > 100_000:
        raise errors.invalid_request("skip : must be between 0 and 100000.")
    count = body.get("count", False)
    if not isinstance(count, bool):
        raise errors.invalid_request("count : must be true or false.")
    request.count = count
    filter_mode = body.get("vectorFilterMode") or "preFilter"
    if filter_mode not in ("preFilter", "postFilter"):
        raise errors.invalid_request(f"vectorFilterMode : '{filter_mode}' is not supported.")
    request.post_filter = filter_mode == "postFilter"
    queries = body.get("vectorQueries") or []
    if not isinstance(queries, list):
        raise errors.invalid_request("vectorQueries : must be an array.")
    request.vector_queries = [_vector_query(q, index, request.top) for q in queries]
    return request


def _string(value: Any, name: str) -> str:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if not isinstance(value, str):
        raise errors.invalid_request(f"{name} : must be a comma-separated string.")
    return value


def _count_parameter(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise errors.invalid_request(f"{name} : must be a non-negative integer, not {value!r}.")
    return value


def _search_fields(value: Any, index: Index) -> list[str]:
    if not value:
        return []
    names = [n.strip() for n in _string(value, "searchFields").split(",") if n.strip()]
    for name in names:
        spec = index.fields.get(name)
        if spec is None:
            raise errors.no_such_property(name, "searchFields")
        if name not in index.columns:
            raise errors.bad_request(
                f"Illegal arguments in query request: {name} is not a searchable field."
            )
    return names


def _vector_query(raw: Any, index: Index, top: int | None) -> VectorQuery:
    if not isinstance(raw, dict):
        raise errors.invalid_request("vectorQueries : every vector query must be an object.")
    kind = raw.get("kind")
    if kind != "vector":
        raise errors.not_simulated(
            f"The vector query kind {kind!r}",
            "It needs a vectorizer that calls an embedding model inside the search service; "
            "embed the query yourself and send kind 'vector' (VectorizedQuery).",
        )
    vector = raw.get("vector")
    if not is_vector(vector):
        raise errors.invalid_request(
            "vectorQueries : 'vector' must be a non-empty array of numbers within the range "
            "of Edm.Single."
        )
    names = [n.strip() for n in str(raw.get("fields") or "").split(",") if n.strip()]
    if not names:
        raise errors.invalid_request(
            "vectorQueries : 'fields' must name at least one vector field."
        )
    fields: list[Field] = []
    for name in names:
        spec = index.fields.get(name)
        if spec is None:
            raise errors.no_such_property(name, "vectorQueries.fields")
        if not spec.is_vector or not spec.searchable:
            raise errors.bad_request(
                f"The field '{name}' in the vector query is not a searchable vector field."
            )
        if len(vector) != spec.dimensions:
            raise errors.bad_request(
                f"The vector field '{name}', with dimension of '{spec.dimensions}', expects a "
                f"length of '{spec.dimensions}'. However, the provided length is '{len(vector)}'."
            )
        fields.append(spec)
    k = raw.get("k")
    if k is None:
        k = top if top is not None else DEFAULT_PAGE
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise errors.invalid_request(f"vectorQueries : 'k' must be a positive integer, not {k!r}.")
    weight = raw.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
        raise errors.invalid_request("vectorQueries : 'weight' must be a number greater than 0.")
    return VectorQuery([float(v) for v in vector], k, fields, float(weight))


# -- ranking --------------------------------------------------------------------------------------


def is_match_all(text: str | None) -> bool:
    return text is None or text.strip() in ("", "*")


def fts_query(text: str, mode: str) -> str | None:
    """The FTS5 MATCH expression for a simple-syntax query: words, "phrases" and prefix*."""
    parts: list[str] = []
    for match in QUERY_TERM.finditer(text):
        phrase, word = match.groups()
        term = phrase if phrase is not None else word.lstrip("+-|&!")
        prefix = phrase is None and term.endswith("*")
        tokens = WORD.findall(term)
        if not tokens:
            continue
        quoted = '"' + " ".join(tokens) + '"'
        parts.append(quoted + " *" if prefix else quoted)
    if not parts:
        return None
    return (" AND " if mode == "all" else " OR ").join(parts)


def keyword_ranking(
    index: Index, text: str | None, search_fields: Sequence[str], mode: str
) -> Ranking:
    """Documents matching ``text``, best first, scored by FTS5's BM25 (``*``: all, score 1)."""
    if is_match_all(text):
        return [(key, 1.0) for key in index.documents]
    if not index.columns:
        return []
    expression = fts_query(str(text), mode)
    if expression is None:
        return []
    if search_fields:
        columns = " ".join(index.columns[name] for name in search_fields)
        expression = f"{{{columns}}} : ({expression})"
    keys = index.key_for_rowid()
    rows = index.db.execute(
        "SELECT rowid, -bm25(docs) FROM docs WHERE docs MATCH ? ORDER BY bm25(docs), rowid",
        [expression],
    ).fetchall()
    return [(keys[rowid], float(score)) for rowid, score in rows if rowid in keys]


def similarity(metric: str, a: Sequence[float], b: Sequence[float]) -> float:
    """Azure's ``@search.score`` for a vector match under ``metric``."""
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    if metric == "euclidean":
        distance = math.sqrt(math.fsum((x - y) ** 2 for x, y in zip(a, b, strict=True)))
        return 1.0 / (1.0 + distance)
    if metric == "dotProduct":
        return dot
    norms = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    cosine = dot / norms if norms else 0.0
    return 1.0 / (1.0 + (1.0 - cosine))


def vector_ranking(
    index: Index, query: Sequence[float], vector_field: Field, k: int, candidates: Sequence[str]
) -> Ranking:
    """The ``k`` candidates nearest to ``query`` on ``vector_field`` (exact, exhaustive)."""
    metric = index.vector_metric(vector_field)
    scored = [
        (key, similarity(metric, query, vector))
        for key in candidates
        if (vector := index.documents[key].get(vector_field.name)) is not None
    ]
    scored.sort(key=lambda item: -item[1])  # stable: ties keep upload order
    return scored[:k]


def reciprocal_rank_fusion(rankings: Sequence[tuple[Ranking, float]], k: int = RRF_K) -> Ranking:
    """Fuse ranked lists: each adds ``weight / (k + rank)``, rank counted from 1."""
    fused: dict[str, float] = {}
    for ranking, weight in rankings:
        for rank, (key, _score) in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: -item[1])


def run(index: Index, request: SearchRequest, next_link: str) -> dict[str, Any]:
    """Answer a validated search request with Azure's response body."""
    allowed = _filtered_keys(index, request.filter)
    page = request.top if request.top is not None else DEFAULT_PAGE
    page = min(page, MAX_PAGE)
    rankings: list[tuple[Ranking, float]] = []
    text_leg = not (request.vector_queries and is_match_all(request.text))
    if text_leg:
        ranking = [
            item
            for item in keyword_ranking(index, request.text, request.search_fields, request.mode)
            if item[0] in allowed
        ]
        if request.vector_queries:
            ranking = ranking[: max(HYBRID_TEXT_RECALL, request.skip + page)]
        rankings.append((ranking, 1.0))
    for query in request.vector_queries:
        candidates = (
            list(index.documents)
            if request.post_filter
            else [key for key in index.documents if key in allowed]
        )
        for vector_field in query.fields:
            ranking = vector_ranking(index, query.vector, vector_field, query.k, candidates)
            if request.post_filter:
                ranking = [item for item in ranking if item[0] in allowed]
            rankings.append((ranking, query.weight))
    results = rankings[0][0] if len(rankings) == 1 else reciprocal_rank_fusion(rankings)
    if request.orderby:
        results = _ordered(index, results, request.orderby)
    body: dict[str, Any] = {}
    if request.count:
        body["@odata.count"] = len(results)
    end = request.skip + page
    if request.top is not None:
        end = min(end, request.skip + request.top)
    window = results[request.skip : end]
    body["value"] = [_hit(index, key, score, request.select) for key, score in window]
    wanted_end = len(results) if request.top is None else request.skip + request.top
    if end < min(wanted_end, len(results)):
        following = dict(request.raw)
        following["skip"] = end
        if request.top is not None:
            following["top"] = request.top - (end - request.skip)
        body["@odata.nextLink"] = next_link
        body["@search.nextPageParameters"] = following
    return body


def _filtered_keys(index: Index, node: odata.Node | None) -> set[str]:
    if node is None:
        return set(index.documents)
    return {key for key, doc in index.documents.items() if odata.matches(node, doc)}


def _ordered(index: Index, results: Ranking, clauses: list[odata.OrderBy]) -> Ranking:
    ordered = sorted(results, key=lambda item: -item[1])  # ties: by score, best first
    for clause in reversed(clauses):
        if clause.field == odata.SCORE:
            ordered.sort(key=lambda item: item[1], reverse=clause.descending)
        else:
            name, edm = clause.field, index.fields[clause.field].type
            ordered.sort(
                key=lambda item: odata.sort_key_value(index.documents[item[0]].get(name), edm),
                reverse=clause.descending,
            )
    return ordered


def _hit(index: Index, key: str, score: float, select: list[str]) -> dict[str, Any]:
    document = index.documents[key]
    hit: dict[str, Any] = {"@search.score": score}
    hit.update((name, document.get(name)) for name in select)
    return hit


def project(document: dict[str, Any], select: list[str]) -> dict[str, Any]:
    """A stored document as a lookup returns it: the selected retrievable fields."""
    return {name: document.get(name) for name in select}
