"""Ranking: Lucene's BM25 keyword search, exact vector kNN, Reciprocal Rank Fusion.

- **Keyword**: Azure AI Search ranks full text with Lucene's ``BM25Similarity`` (Microsoft
  Learn, "Configure BM25 relevance scoring": ``k1`` = 1.2 and ``b`` = 0.75 unless the index's
  ``similarity`` sets them). For a term ``t`` in field ``f`` of document ``d``::

      score = idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))
      idf   = ln(1 + (N - n + 0.5) / (n + 0.5))

  with ``tf`` the term's frequency in the field, ``N`` the documents with at least one term
  in the field, ``n`` those containing ``t``, ``avgdl`` the field's average length in terms
  and ``dl`` the field's length as Lucene stores it (one byte, exact below 24 terms:
  :func:`.analysis.encoded_length`). A query is parsed as Lucene's simple query parser does:
  each term (and each ``"phrase"``) is one clause per searchable field and a document's
  ``@search.score`` is the sum over the clauses it matches (a phrase scores with its phrase
  frequency and the sum of its terms' idf); ``prefix*`` terms match with a constant score of
  1, as Lucene's prefix queries do. ``searchMode=all`` keeps documents that match every term
  in at least one field. Ties keep upload order. ``search=*`` (or no text) matches every
  document with score 1.
- **Vector**: exhaustive (exact) kNN over the field's vectors with the metric of the field's
  profile. ``@search.score`` follows Azure's vector relevance scores: ``cosine`` gives
  ``1 / (1 + (1 - cos))`` (range 0.333..1), ``euclidean`` ``1 / (1 + distance)``;
  ``dotProduct`` is ranked by the dot product and reports it as the score.
- **Fusion**: whenever more than one ranked list runs (text + vectors, several vector queries or
  fields), Reciprocal Rank Fusion as Azure documents it: each list adds ``weight / (k + rank)``
  with ``k = 60`` and ``rank`` counted from 1, then documents are sorted by the sum.
  https://learn.microsoft.com/azure/search/hybrid-search-ranking
- **Facets** count the documents the query matched (:mod:`.facets`).

Every loop over documents checks the request's :class:`~.budget.Deadline`.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import errors, limits, odata
from .analysis import MAX_TERM_BYTES, encoded_length, tokens
from .budget import UNLIMITED, Deadline
from .errors import shown
from .facets import Facet, count_facets, parse_facets
from .store import DOUBLE_MAX, Field, Index, TextField, is_vector

RRF_K = 60
DEFAULT_PAGE = 50
MAX_PAGE = limits.MAX_PAGE
HYBRID_TEXT_RECALL = 50
"""Matches the text leg of a hybrid query contributes (Azure: the top 50 full-text matches)."""
WORD = re.compile(r"[^\W_]+")
QUERY_TERM = re.compile(r'"([^"]*)"|(\S+)')
MAX_PREFIX_CHARACTERS = 1_000
"""Microsoft Learn, "Service limits in Azure AI Search": "Supported maximum search term size
is 1,000 characters for prefix search"."""

Ranking = list[tuple[str, float]]


@dataclass(frozen=True)
class QueryItem:
    """One clause of a simple-syntax query (per searchable field)."""

    kind: Literal["term", "phrase", "prefix"]
    terms: tuple[str, ...]


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
    items: list[QueryItem] = field(default_factory=list)
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
    facets: list[Facet] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


# -- request parsing ------------------------------------------------------------------------------


def parse_request(body: Any, index: Index) -> SearchRequest:
    """Validate a ``search.post.search`` body; Azure's 400 naming what is wrong.

    Azure's request limits (:mod:`.limits`) are checked here, before any work is done.
    """
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
        raise errors.invalid_request(f"queryType : '{shown(query_type)}' is not a query type.")
    for unsupported, name in (
        ("highlight", "Hit highlighting"),
        ("scoringProfile", "Scoring profiles"),
    ):
        if body.get(unsupported):
            raise errors.not_simulated(name, f"Remove '{unsupported}' from the request.")
    text = body.get("search")
    if text is not None and not isinstance(text, str):
        raise errors.invalid_request("search : must be a string.")
    if text is not None and len(text) > limits.MAX_SEARCH_CHARACTERS:
        raise errors.bad_request(
            f"The search text is {len(text)} characters long; a search clause can have at "
            f"most {limits.MAX_SEARCH_CHARACTERS} characters."
        )
    mode = body.get("searchMode") or "any"
    if mode not in ("any", "all"):
        raise errors.invalid_request(f"searchMode : '{shown(mode)}' is not 'any' or 'all'.")
    request = SearchRequest(text=text, mode=mode, raw=body)
    request.search_fields = _search_fields(body.get("searchFields"), index)
    if not is_match_all(text):
        request.items = parse_query(str(text))
        searched = len(request.search_fields or index.text)
        if len(request.items) * searched > limits.MAX_SEARCH_CLAUSES:
            raise errors.clause_limit(limits.MAX_SEARCH_CLAUSES)
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
    if request.skip > limits.MAX_SKIP:
        raise errors.invalid_request(f"skip : must be between 0 and {limits.MAX_SKIP}.")
    count = body.get("count", False)
    if not isinstance(count, bool):
        raise errors.invalid_request("count : must be true or false.")
    request.count = count
    filter_mode = body.get("vectorFilterMode") or "preFilter"
    if filter_mode not in ("preFilter", "postFilter"):
        raise errors.invalid_request(f"vectorFilterMode : '{shown(filter_mode)}' is not supported.")
    request.post_filter = filter_mode == "postFilter"
    queries = body.get("vectorQueries") or []
    if not isinstance(queries, list):
        raise errors.invalid_request("vectorQueries : must be an array.")
    request.vector_queries = [_vector_query(q, index, request.top) for q in queries]
    request.facets = parse_facets(body.get("facets"), index)
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
        raise errors.invalid_request(
            f"{name} : must be a non-negative integer, not {shown(value)}."
        )
    return value


def _search_fields(value: Any, index: Index) -> list[str]:
    if not value:
        return []
    names = [n.strip() for n in _string(value, "searchFields").split(",") if n.strip()]
    for name in names:
        spec = index.fields.get(name)
        if spec is None:
            raise errors.no_such_property(name, "searchFields")
        if name not in index.text:
            raise errors.bad_request(
                f"Illegal arguments in query request: {name} is not a searchable field."
            )
    return list(dict.fromkeys(names))


def _vector_query(raw: Any, index: Index, top: int | None) -> VectorQuery:
    if not isinstance(raw, dict):
        raise errors.invalid_request("vectorQueries : every vector query must be an object.")
    kind = raw.get("kind")
    if kind != "vector":
        raise errors.not_simulated(
            f"The vector query kind {shown(kind)}",
            "It needs a vectorizer that calls an embedding model inside the search service; "
            "embed the query yourself and send kind 'vector' (VectorizedQuery).",
        )
    vector = raw.get("vector")
    if not is_vector(vector):
        raise errors.invalid_request(
            "vectorQueries : 'vector' must be a non-empty array of numbers within the range "
            "of Edm.Single."
        )
    fields_value = raw.get("fields")
    if fields_value is not None and not isinstance(fields_value, str):
        raise errors.invalid_request("vectorQueries : 'fields' must be a comma-separated string.")
    names = list(dict.fromkeys(n.strip() for n in (fields_value or "").split(",") if n.strip()))
    if not names:
        raise errors.invalid_request(
            "vectorQueries : 'fields' must name at least one vector field."
        )
    if len(names) > limits.MAX_VECTOR_QUERY_FIELDS:
        raise errors.invalid_request(
            f"vectorQueries : A vector query can search at most "
            f"{limits.MAX_VECTOR_QUERY_FIELDS} fields; this one names {len(names)}."
        )
    vector_fields: list[Field] = []
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
        vector_fields.append(spec)
    k = raw.get("k")
    if k is None:
        k = top if top is not None else DEFAULT_PAGE
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise errors.invalid_request(
            f"vectorQueries : 'k' must be a positive integer, not {shown(k)}."
        )
    exhaustive = raw.get("exhaustive")
    if exhaustive is not None and not isinstance(exhaustive, bool):
        raise errors.invalid_request("vectorQueries : 'exhaustive' must be true or false.")
    weight = raw.get("weight", 1.0)
    if weight is None:
        weight = 1.0
    if (
        not isinstance(weight, int | float)
        or isinstance(weight, bool)
        or not 0 < weight <= DOUBLE_MAX
    ):
        raise errors.invalid_request(
            "vectorQueries : 'weight' must be a finite number greater than 0."
        )
    return VectorQuery([float(v) for v in vector], k, vector_fields, float(weight))


# -- the simple query syntax ----------------------------------------------------------------------


def is_match_all(text: str | None) -> bool:
    return text is None or text.strip() in ("", "*")


def parse_query(text: str) -> list[QueryItem]:
    """The clauses of a simple-syntax query: terms (as the analyzer makes them of each word),
    ``"phrases"`` and ``prefix*`` terms. Operators (``+ - |``) are read as plain words."""
    items: list[QueryItem] = []
    for match in QUERY_TERM.finditer(text):
        phrase, word = match.groups()
        if phrase is not None:
            terms = tokens(phrase)
            if len(terms) == 1:
                items.append(QueryItem("term", (terms[0],)))
            elif terms:
                items.append(QueryItem("phrase", tuple(terms)))
            continue
        word = word.lstrip("+-|&!")
        if word.endswith("*") and word.rstrip("*"):
            prefix = word.rstrip("*").lower()
            if len(prefix) > MAX_PREFIX_CHARACTERS:
                raise errors.bad_request(
                    f"The prefix term '{prefix[:32]}...' is {len(prefix)} characters long; "
                    f"prefix search terms can have at most {MAX_PREFIX_CHARACTERS} characters."
                )
            items.append(QueryItem("prefix", (prefix,)))
            continue
        items.extend(QueryItem("term", (term,)) for term in tokens(word))
    for item in items:
        for term in item.terms:
            if len(term) * 4 > MAX_TERM_BYTES and len(term.encode("utf-8")) > MAX_TERM_BYTES:
                raise errors.bad_request(
                    f"The search term '{term[:32]}...' is larger than {MAX_TERM_BYTES} bytes "
                    "of UTF-8, the largest term Azure AI Search accepts."
                )
    return items


def fts_query(text: str, mode: str) -> str | None:
    """An SQLite FTS5 MATCH expression for a simple-syntax query: words, "phrases" and prefix*
    (the vector stores' keyword leg, :mod:`..vector_stores.store`, ranks with FTS5)."""
    parts: list[str] = []
    for match in QUERY_TERM.finditer(text):
        phrase, word = match.groups()
        term = phrase if phrase is not None else word.lstrip("+-|&!")
        prefix = phrase is None and term.endswith("*")
        words = WORD.findall(term)
        if not words:
            continue
        quoted = '"' + " ".join(words) + '"'
        parts.append(quoted + " *" if prefix else quoted)
    if not parts:
        return None
    return (" AND " if mode == "all" else " OR ").join(parts)


# -- ranking --------------------------------------------------------------------------------------


def bm25_idf(doc_count: int, doc_freq: int) -> float:
    """Lucene's BM25 idf: ``ln(1 + (N - n + 0.5) / (n + 0.5))``."""
    return math.log(1 + (doc_count - doc_freq + 0.5) / (doc_freq + 0.5))


def _clause_scores(
    index: Index, text: TextField, item: QueryItem, deadline: Deadline
) -> Iterator[tuple[str, float]]:
    """The documents one clause matches in one field, with their BM25 score for it."""
    if item.kind == "prefix":
        vocabulary = text.vocabulary()
        prefix = item.terms[0]
        start = bisect.bisect_left(vocabulary, prefix)
        matched: set[str] = set()
        for term in deadline.every(vocabulary[start:], stride=32):
            if not term.startswith(prefix):
                break
            matched.update(text.postings[term])
        for key in matched:
            yield key, 1.0
        return
    postings = [text.postings.get(term) for term in item.terms]
    if not all(postings):
        return
    n_docs = text.doc_count
    idf = math.fsum(bm25_idf(n_docs, len(p or ())) for p in postings)
    average = text.average_length
    k1, b = index.k1, index.b
    if item.kind == "term":
        frequencies: Iterator[tuple[str, int]] = iter(postings[0].items())  # type: ignore[union-attr]
    else:
        frequencies = _phrase_frequencies(text, item.terms, postings, deadline)  # type: ignore[arg-type]
    for key, tf in deadline.every(frequencies):
        length = encoded_length(text.lengths[key])
        yield key, idf * tf / (tf + k1 * (1 - b + b * length / average))


def _phrase_frequencies(
    text: TextField,
    terms: tuple[str, ...],
    postings: list[dict[str, int]],
    deadline: Deadline,
) -> Iterator[tuple[str, int]]:
    """Documents holding the phrase, with how many times it occurs in the field."""
    rarest = min(postings, key=len)
    width = len(terms)
    first = terms[0]
    for key in deadline.every(rarest):
        if not all(key in p for p in postings):
            continue
        sequence = text.terms[key]
        count = sum(
            1
            for start in deadline.every(range(len(sequence) - width + 1), stride=16)
            if sequence[start] == first and tuple(sequence[start : start + width]) == terms
        )
        if count:
            yield key, count


def keyword_ranking(
    index: Index,
    items: Sequence[QueryItem],
    search_fields: Sequence[str],
    mode: str,
    deadline: Deadline = UNLIMITED,
) -> Ranking:
    """Documents matching the clauses, best first, by Lucene's BM25 summed over clauses."""
    if not items:
        return []
    names = list(search_fields) or list(index.text)
    scores: dict[str, float] = {}
    matched: Counter[str] = Counter()
    distinct = Counter(items)  # a repeated clause scores again: multiply, do not repeat work
    for item, repeats in distinct.items():
        hits: set[str] = set()
        for name in names:
            deadline.check()
            for key, score in _clause_scores(index, index.text[name], item, deadline):
                scores[key] = scores.get(key, 0.0) + repeats * score
                hits.add(key)
        matched.update(hits)
    keys = [k for k in scores if mode != "all" or matched[k] == len(distinct)]
    position = {key: i for i, key in enumerate(index.documents)}
    keys.sort(key=lambda k: (-scores[k], position[k]))
    return [(k, scores[k]) for k in keys]


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
    index: Index,
    query: Sequence[float],
    vector_field: Field,
    k: int,
    candidates: Sequence[str],
    deadline: Deadline = UNLIMITED,
) -> Ranking:
    """The ``k`` candidates nearest to ``query`` on ``vector_field`` (exact, exhaustive)."""
    metric = index.vector_metric(vector_field)
    scored = [
        (key, similarity(metric, query, vector))
        for key in deadline.every(candidates, stride=64)
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


def run(
    index: Index, request: SearchRequest, next_link: str, deadline: Deadline = UNLIMITED
) -> dict[str, Any]:
    """Answer a validated search request with Azure's response body."""
    allowed = _filtered_keys(index, request.filter, deadline)
    page = request.top if request.top is not None else DEFAULT_PAGE
    page = min(page, MAX_PAGE)
    rankings: list[tuple[Ranking, float]] = []
    text_leg = not (request.vector_queries and is_match_all(request.text))
    if text_leg:
        if is_match_all(request.text):
            ranking = [(key, 1.0) for key in index.documents if key in allowed]
        else:
            ranking = [
                item
                for item in keyword_ranking(
                    index, request.items, request.search_fields, request.mode, deadline
                )
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
            ranking = vector_ranking(
                index, query.vector, vector_field, query.k, candidates, deadline
            )
            if request.post_filter:
                ranking = [item for item in ranking if item[0] in allowed]
            rankings.append((ranking, query.weight))
    results = rankings[0][0] if len(rankings) == 1 else reciprocal_rank_fusion(rankings)
    if request.orderby:
        results = _ordered(index, results, request.orderby)
    body: dict[str, Any] = {}
    if request.count:
        body["@odata.count"] = len(results)
    if request.facets:
        matched = (index.documents[key] for key, _ in deadline.every(results))
        body["@search.facets"] = count_facets(request.facets, matched)
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


def _filtered_keys(index: Index, node: odata.Node | None, deadline: Deadline) -> set[str]:
    if node is None:
        return set(index.documents)
    return {
        key
        for key, doc in deadline.every(index.documents.items(), stride=1)
        if odata.matches(node, doc, deadline)
    }


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
