"""The replay server's Azure AI Search simulator, through the official azure-search-documents SDK.

Rankings are checked against expectations computed independently of the simulator: Lucene's
BM25 from its published formula (here) and from ``bm25s`` (``method="lucene"``, its own
implementation, on a 150-document corpus), cosine similarity with ``math``, Reciprocal Rank
Fusion by its formula (Azure: ``1 / (rank + 60)``, ranks from 1,
https://learn.microsoft.com/azure/search/hybrid-search-ranking).
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.search.documents import SearchClient
from azure.search.documents.indexes import SearchIndexClient
from azure.search.documents.indexes.models import (
    HnswAlgorithmConfiguration,
    SearchableField,
    SearchField,
    SearchFieldDataType,
    SearchIndex,
    SimpleField,
    VectorSearch,
    VectorSearchProfile,
)
from azure.search.documents.models import VectorizedQuery
from search_server import API_KEY, SearchServer

from helpers.replay import ReplayCredential
from helpers.replay.identity import COGNITIVE_SERVICES_AUDIENCE, mint_token
from helpers.replay.services.search import engine

INDEX = "guide"


@pytest.fixture(scope="module")
def server() -> Iterator[SearchServer]:
    running = SearchServer().start()
    yield running
    running.stop()


@pytest.fixture
def service(server: SearchServer) -> Iterator[SearchServer]:
    server.state.reset()
    yield server
    server.state.reset()


def index_client(server: SearchServer, **options: Any) -> SearchIndexClient:
    return SearchIndexClient(server.url, AzureKeyCredential(API_KEY), **options)


def search_client(server: SearchServer, index: str = INDEX, **options: Any) -> SearchClient:
    options.setdefault("credential", AzureKeyCredential(API_KEY))
    return SearchClient(server.url, index, **options)


def odata_message(error: HttpResponseError) -> str:
    """The OData error's message (azure-core types the error and its message as optional)."""
    assert error.error is not None and error.error.message is not None
    return error.error.message


def raw(
    server: SearchServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    api_version: str | None = "2024-07-01",
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
) -> tuple[int, bytes]:
    """A request on the wire, for what the SDK hides (status codes, bodies, headers)."""
    url = server.url + path + (f"?api-version={api_version}" if api_version else "")
    if data is None and body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    for name, value in ({"api-key": API_KEY} if headers is None else headers).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# -- a small corpus ---------------------------------------------------------------------------

CORPUS: list[dict[str, Any]] = [
    {
        "id": "tea-1", "title": "Brewing green tea", "category": "drinks", "rating": 4.5,
        "year": 2021, "published": True, "tags": ["tea", "japan"],
        "updated": "2024-03-01T08:00:00Z",
        "content": "Green tea wants water below boiling; steep it for two minutes.",
        "embedding": [0.9, 0.1, 0.0, 0.1],
    },
    {
        "id": "tea-2", "title": "Black tea with milk", "category": "drinks", "rating": 3.5,
        "year": 2019, "published": True, "tags": ["tea", "breakfast"],
        "updated": "2023-11-15T12:30:00Z",
        "content": "Strong black tea, brewed with boiling water, takes milk well.",
        "embedding": [0.8, 0.3, 0.1, 0.0],
    },
    {
        "id": "coffee-1", "title": "Pour-over coffee", "category": "drinks", "rating": 5.0,
        "year": 2022, "published": False, "tags": ["coffee"],
        "updated": "2024-06-30T18:45:00Z",
        "content": "Pour water slowly over ground coffee; a gooseneck kettle helps.",
        "embedding": [0.5, 0.8, 0.1, 0.0],
    },
    {
        "id": "bread-1", "title": "Sourdough bread", "category": "baking", "rating": 4.0,
        "year": 2020, "published": True, "tags": ["bread", "breakfast"],
        "updated": "2022-01-10T07:00:00Z",
        "content": "A sourdough starter needs flour, water and patience.",
        "embedding": [0.0, 0.2, 0.9, 0.3],
    },
    {
        "id": "bread-2", "title": "Quick soda bread", "category": "baking", "rating": None,
        "year": 2023, "published": True, "tags": [],
        "updated": "2024-02-29T09:15:00Z",
        "content": "Soda bread rises without yeast: buttermilk and baking soda do the work.",
        "embedding": [0.1, 0.1, 0.8, 0.5],
    },
    {
        "id": "hike-1", "title": "Packing for a day hike", "category": "outdoors", "rating": 4.8,
        "year": 2018, "published": False, "tags": ["hiking", "tea"],
        "updated": "2021-07-04T06:00:00Z",
        "content": "Carry water, a map, and a flask of hot tea for the summit.",
        "embedding": [0.3, 0.0, 0.2, 0.9],
    },
]  # fmt: skip
TEXT_FIELDS = ["title", "content", "tags"]


def guide_index(name: str = INDEX) -> SearchIndex:
    return SearchIndex(
        name=name,
        fields=[
            SimpleField(name="id", type=SearchFieldDataType.STRING, key=True),
            SearchableField(name="title"),
            SearchableField(name="content"),
            SimpleField(name="category", type=SearchFieldDataType.STRING, filterable=True),
            SimpleField(
                name="rating", type=SearchFieldDataType.DOUBLE, filterable=True, sortable=True
            ),
            SimpleField(
                name="year", type=SearchFieldDataType.INT32, filterable=True, sortable=True
            ),
            SimpleField(name="published", type=SearchFieldDataType.BOOLEAN, filterable=True),
            SearchableField(name="tags", collection=True, filterable=True),
            SimpleField(
                name="updated",
                type=SearchFieldDataType.DATE_TIME_OFFSET,
                filterable=True,
                sortable=True,
            ),
            SearchField(
                name="embedding",
                # Collection is added by the SDK at run time (models/_patch.py); its hints show
                # the enum metaclass's __getattr__ (an Enum), hence "not callable".
                type=SearchFieldDataType.Collection(SearchFieldDataType.SINGLE),  # type: ignore[operator]
                searchable=True,
                vector_search_dimensions=4,
                vector_search_profile_name="default",
            ),
        ],
        vector_search=VectorSearch(
            profiles=[VectorSearchProfile(name="default", algorithm_configuration_name="hnsw")],
            algorithms=[HnswAlgorithmConfiguration(name="hnsw")],
        ),
    )


@pytest.fixture
def loaded(service: SearchServer) -> SearchClient:
    index_client(service).create_index(guide_index())
    client = search_client(service)
    results = client.upload_documents(CORPUS)
    assert all(r.succeeded for r in results)
    return client


def keys(results: Any) -> list[str]:
    return [hit["id"] for hit in results]


# -- independent expectations ---------------------------------------------------------------


K1, B = 1.2, 0.75
"""Azure AI Search's BM25 parameters (Microsoft Learn, "Configure BM25 relevance scoring")."""


def words(text: str) -> list[str]:
    """The terms of the corpus's plain English text (lower-cased words; no field reaches 24
    terms, below which Lucene stores a field's length exactly)."""
    return re.findall(r"[^\W_]+", text.lower())


def field_terms(doc: dict[str, Any], name: str) -> list[str]:
    value = doc[name]
    return [t for item in (value if isinstance(value, list) else [value]) for t in words(item)]


def expected_bm25(
    query_terms: list[str], columns: list[str] = TEXT_FIELDS, corpus: list[dict[str, Any]] = CORPUS
) -> list[tuple[str, float]]:
    """Lucene's BM25 from its published formula, computed here: per field, for each query term,
    ``idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))`` with
    ``idf = ln(1 + (N - n + 0.5) / (n + 0.5))``, ``N`` the documents with the field, summed
    over terms and fields (Lucene's simple query parser: one clause per term and field)."""
    scores: dict[str, float] = {}
    for name in columns:
        fields = {d["id"]: field_terms(d, name) for d in corpus}
        fields = {key: terms for key, terms in fields.items() if terms}
        assert all(len(terms) < 24 for terms in fields.values())
        n_docs = len(fields)
        average = sum(len(t) for t in fields.values()) / n_docs
        for term in query_terms:
            having = [key for key, terms in fields.items() if term in terms]
            idf = math.log(1 + (n_docs - len(having) + 0.5) / (len(having) + 0.5))
            for key in having:
                tf = fields[key].count(term)
                dl = len(fields[key])
                score = idf * tf / (tf + K1 * (1 - B + B * dl / average))
                scores[key] = scores.get(key, 0.0) + score
    order = [d["id"] for d in corpus]
    return sorted(scores.items(), key=lambda item: (-item[1], order.index(item[0])))


def cosine_score(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    cos = dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))
    return 1 / (1 + (1 - cos))  # Azure's cosine @search.score


def expected_knn(vector: list[float], k: int) -> list[tuple[str, float]]:
    scored = [(doc["id"], cosine_score(vector, doc["embedding"])) for doc in CORPUS]
    return sorted(scored, key=lambda item: -item[1])[:k]


def expected_rrf(*rankings: list[tuple[str, float]]) -> list[tuple[str, float]]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, (key, _) in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1 / (rank + 60)
    return sorted(fused.items(), key=lambda item: -item[1])


def assert_ranking(results: list[dict[str, Any]], expected: list[tuple[str, float]]) -> None:
    assert [(hit["id"], pytest.approx(hit["@search.score"], rel=1e-9)) for hit in results] == [
        (key, pytest.approx(score, rel=1e-9)) for key, score in expected
    ]


# -- indexes ------------------------------------------------------------------------------------


def test_index_round_trips_fields_and_vector_search(service: SearchServer) -> None:
    client = index_client(service)
    created = client.create_index(guide_index())
    fetched = client.get_index(INDEX)
    for index in (created, fetched):
        by_name = {f.name: f for f in index.fields}
        assert by_name["id"].key is True
        assert by_name["embedding"].vector_search_dimensions == 4
        assert by_name["embedding"].vector_search_profile_name == "default"
        vector_search = index.vector_search
        assert vector_search is not None and vector_search.profiles and vector_search.algorithms
        assert vector_search.profiles[0].algorithm_configuration_name == "hnsw"
        assert vector_search.algorithms[0].name == "hnsw"
    assert list(client.list_index_names()) == [INDEX]
    assert [i.name for i in client.list_indexes()] == [INDEX]


def test_create_or_update_adds_a_field_and_keeps_documents(
    loaded: SearchClient, service: SearchServer
) -> None:
    client = index_client(service)
    index = guide_index()
    index.fields.append(
        SimpleField(name="source", type=SearchFieldDataType.STRING, filterable=True)
    )
    updated = client.create_or_update_index(index)
    assert "source" in [f.name for f in updated.fields]
    assert loaded.get_document_count() == len(CORPUS)
    assert loaded.get_document("tea-1")["source"] is None


def test_create_or_update_refuses_to_change_an_existing_field(service: SearchServer) -> None:
    client = index_client(service)
    client.create_index(guide_index())
    index = guide_index()
    index.fields[4] = SimpleField(name="rating", type=SearchFieldDataType.STRING, filterable=True)
    with pytest.raises(HttpResponseError) as caught:
        client.create_or_update_index(index)
    assert caught.value.status_code == 400
    assert "rating" in str(caught.value)


def test_create_or_update_creates_with_201_and_honours_prefer(service: SearchServer) -> None:
    body = guide_index().as_dict()
    prefer = {"api-key": API_KEY, "prefer": "return=representation"}
    status, content = raw(service, "PUT", f"/indexes('{INDEX}')", body, headers=prefer)
    assert status == 201
    assert json.loads(content)["name"] == INDEX
    status, content = raw(service, "PUT", f"/indexes('{INDEX}')", body)
    assert (status, content) == (204, b"")


def test_creating_an_existing_index_is_a_conflict(service: SearchServer) -> None:
    client = index_client(service)
    client.create_index(guide_index())
    with pytest.raises(ResourceExistsError):
        client.create_index(guide_index())


def test_deleted_index_is_gone(service: SearchServer) -> None:
    client = index_client(service)
    client.create_index(guide_index())
    client.delete_index(INDEX)
    with pytest.raises(ResourceNotFoundError) as caught:
        client.get_index(INDEX)
    assert odata_message(caught.value).startswith(
        f"The index '{INDEX}' for service 'replay-search'"
    )
    assert list(client.list_index_names()) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda body: body["fields"][0].update(key=False), "exactly one key field"),
        (lambda body: body.update(name="Bad_Name"), "lowercase letters"),
        (lambda body: body["fields"][-1].update(vectorSearchProfile="missing"), "profile"),
        (lambda body: body["fields"][-1].pop("dimensions"), "dimensions"),
        (lambda body: body["fields"].append(dict(body["fields"][1])), "more than once"),
        (lambda body: body["fields"][1].update(type="Edm.Text"), "unknown type"),
    ],
)
def test_invalid_index_definitions_are_400s(
    service: SearchServer, change: Callable[[dict[str, Any]], Any], expected: str
) -> None:
    body = guide_index().as_dict()
    change(body)
    status, content = raw(service, "POST", "/indexes", body)
    assert status == 400
    assert expected in json.loads(content)["error"]["message"]


# -- documents ------------------------------------------------------------------------------------


def test_lookup_count_and_write_actions(loaded: SearchClient) -> None:
    assert loaded.get_document_count() == len(CORPUS)
    assert loaded.get_document("tea-1", selected_fields=["title", "rating"]) == {
        "title": "Brewing green tea",
        "rating": 4.5,
    }
    merged = loaded.merge_documents([{"id": "tea-1", "rating": 2.0}])
    assert [(r.key, r.status_code) for r in merged] == [("tea-1", 200)]
    after = loaded.get_document("tea-1")
    assert (after["rating"], after["title"]) == (2.0, "Brewing green tea")
    uploaded = loaded.merge_or_upload_documents([{"id": "new-1", "title": "Iced tea"}])
    assert [(r.key, r.status_code) for r in uploaded] == [("new-1", 201)]
    assert loaded.get_document("new-1")["content"] is None
    loaded.delete_documents([{"id": "new-1"}])
    with pytest.raises(ResourceNotFoundError):
        loaded.get_document("new-1")
    assert loaded.get_document_count() == len(CORPUS)


def test_partly_failing_batch_is_207_with_per_document_statuses(
    loaded: SearchClient, service: SearchServer
) -> None:
    actions = [
        {"@search.action": "upload", "id": "jam-1", "title": "Strawberry jam"},
        {"@search.action": "merge", "id": "nobody", "title": "Not there"},
        {"@search.action": "upload", "id": "bad key!", "title": "Spaces are not allowed"},
        {"@search.action": "upload", "id": "tea-2", "title": "Black tea, replaced"},
        {"@search.action": "delete", "id": "bread-2"},
    ]
    status, content = raw(
        service, "POST", f"/indexes('{INDEX}')/docs/search.index", {"value": actions}
    )
    assert status == 207
    results = {
        r["key"]: (r["status"], r["statusCode"], r["errorMessage"])
        for r in json.loads(content)["value"]
    }
    assert results["jam-1"] == (True, 201, None)
    assert results["nobody"] == (False, 404, "Document not found.")
    assert results["bad key!"][:2] == (False, 400)
    assert "Invalid document key" in results["bad key!"][2]
    assert results["tea-2"] == (True, 200, None)
    assert results["bread-2"] == (True, 200, None)
    assert loaded.get_document_count() == len(CORPUS)  # +jam-1, -bread-2
    via_sdk = loaded.upload_documents([{"id": "ok-1"}, {"id": "no good"}])
    assert [(r.key, r.succeeded, r.status_code) for r in via_sdk] == [
        ("ok-1", True, 201),
        ("no good", False, 400),
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"title": "no key"}, "Document key cannot be missing or empty"),
        ({"id": "x", "colour": "red"}, "The property 'colour' does not exist"),
        ({"id": "x", "rating": "high"}, "not a valid Edm.Double"),
        ({"id": "x", "year": 2.5}, "not a valid Edm.Int32"),
        ({"id": "x", "embedding": [1.0, 2.0]}, "expects a length of '4'"),
        ({"id": "x", "tags": "tea"}, "JSON array"),
    ],
)
def test_bad_documents_fail_the_whole_batch(
    loaded: SearchClient, document: dict[str, Any], expected: str
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        loaded.upload_documents([{"id": "fine-1"}, document])
    assert caught.value.status_code == 400
    assert expected in odata_message(caught.value)
    with pytest.raises(ResourceNotFoundError):
        loaded.get_document("fine-1")


# -- keyword, vector, hybrid --------------------------------------------------------------------


def test_keyword_ranking_is_lucene_bm25_summed_over_fields(loaded: SearchClient) -> None:
    results = list(loaded.search("tea water"))
    assert_ranking(results, expected_bm25(["tea", "water"]))
    texts = [" ".join([d["title"], d["content"], *d["tags"]]).lower() for d in CORPUS]
    words = [set(re.findall(r"\w+", text)) for text in texts]
    assert len(results) == sum(1 for w in words if {"tea", "water"} & w)


def test_keyword_search_fields_and_mode(loaded: SearchClient) -> None:
    in_titles = list(loaded.search("bread water", search_fields=["title"]))
    assert_ranking(in_titles, expected_bm25(["bread", "water"], columns=["title"]))
    assert sorted(keys(in_titles)) == ["bread-1", "bread-2"]
    both = keys(loaded.search("tea boiling", search_mode="all"))
    assert sorted(both) == sorted(
        d["id"] for d in CORPUS if "boiling" in d["content"] and "tea" in d["content"].lower()
    )


# -- Lucene's BM25, against an independent implementation -------------------------------------

VOCABULARY = [
    "tea", "water", "kettle", "green", "black", "milk", "sugar", "coffee", "bean", "roast",
    "grind", "brew", "filter", "espresso", "bread", "flour", "yeast", "dough", "oven", "crust",
    "hike", "trail", "summit", "map", "boots", "rain", "wind", "tent", "river", "forest",
    "bike", "chain", "brake", "tyre", "saddle", "gear", "pedal", "wheel", "spoke", "helmet",
    "garden", "soil", "seed", "tomato", "basil", "shade", "frost", "compost", "rose", "pot",
]  # fmt: skip


def lucene_corpus(count: int = 150) -> list[dict[str, str]]:
    """Documents in two searchable fields, of words drawn with Zipf-like weights (so terms range
    from very common to rare), every field shorter than 24 terms (Lucene's exact lengths)."""
    rng = random.Random(20240701)
    weights = [1 / (rank + 1) for rank in range(len(VOCABULARY))]
    return [
        {
            "id": f"doc-{i:03d}",
            "title": " ".join(rng.choices(VOCABULARY, weights, k=rng.randrange(1, 6))),
            "content": " ".join(rng.choices(VOCABULARY, weights, k=rng.randrange(3, 23))),
        }
        for i in range(count)
    ]


def lucene_queries(count: int = 36) -> list[list[str]]:
    rng = random.Random(7)
    return [rng.sample(VOCABULARY, k=rng.randrange(1, 4)) for _ in range(count)]


def test_keyword_ranking_matches_bm25s_lucene_on_150_documents_and_36_queries(
    service: SearchServer,
) -> None:
    """Acceptance: the top 10 of every query is the top 10 of an independent Lucene BM25.

    ``bm25s`` with ``method="lucene"`` (Kamphuis et al., ECIR 2020: Lucene's idf and length
    normalisation) scores each field on its own; Lucene's simple query parser sums the fields'
    scores, so the expectation is the sum of one ``bm25s`` index per field. Ties may come in
    either order; every rank must carry the expected score and the expected document set.
    """
    import bm25s
    import numpy as np

    corpus = lucene_corpus()
    index_client(service).create_index(
        SearchIndex(
            name="lucene",
            fields=[
                SimpleField(name="id", type=SearchFieldDataType.STRING, key=True),
                SearchableField(name="title"),
                SearchableField(name="content"),
            ],
        )
    )
    client = search_client(service, "lucene")
    assert all(r.succeeded for r in client.upload_documents(corpus))
    ids = [d["id"] for d in corpus]
    fields = ("title", "content")
    retrievers = {}
    for name in fields:
        retriever = bm25s.BM25(method="lucene", k1=K1, b=B)
        retriever.index([d[name].split() for d in corpus], show_progress=False)
        retrievers[name] = retriever
    identical = 0
    queries = lucene_queries()
    for terms in queries:
        for searched in (fields, ("content",)):
            expected = np.sum([retrievers[f].get_scores(terms) for f in searched], axis=0)
            by_id = dict(zip(ids, expected.tolist(), strict=True))
            best = sorted((score for score in expected.tolist() if score > 0), reverse=True)
            hits = list(
                client.search(" ".join(terms), search_fields=list(searched), top=10, select=["id"])
            )
            assert len(hits) == min(10, len(best)), terms
            for rank, hit in enumerate(hits):
                assert hit["@search.score"] == pytest.approx(by_id[hit["id"]], rel=1e-5), terms
                assert hit["@search.score"] == pytest.approx(best[rank], rel=1e-5), terms
            identical += 1
    assert identical == 2 * len(queries) >= 60


def test_bm25_by_hand_with_lucenes_one_byte_field_length(service: SearchServer) -> None:
    """Numbers worked by hand. Lucene stores a field's length in one byte (SmallFloat
    intToByte4): exact below 24, then 4 significant bits: 100 - 24 = 76 = 0b1001100 keeps
    0b1001000 = 72, so BM25 sees a length of 24 + 72 = 96, not 100."""
    index_client(service).create_index(
        SearchIndex(
            name="by-hand",
            fields=[
                SimpleField(name="id", type=SearchFieldDataType.STRING, key=True),
                SearchableField(name="content"),
            ],
        )
    )
    client = search_client(service, "by-hand")
    long_text = "tea " + " ".join(f"w{i}" for i in range(99))  # 100 terms
    client.upload_documents(
        [
            {"id": "long", "content": long_text},
            {"id": "short", "content": "tea"},
            {"id": "other", "content": "coffee beans"},
        ]
    )
    # N = 3 documents, n = 2 hold "tea": idf = ln(1 + 1.5 / 2.5) = ln(1.6)
    idf = math.log(1.6)
    average = (100 + 1 + 2) / 3  # avgdl from the exact lengths: 34.333...
    long_score = idf * 1 / (1 + 1.2 * (0.25 + 0.75 * 96 / average))
    short_score = idf * 1 / (1 + 1.2 * (0.25 + 0.75 * 1 / average))
    assert_ranking(list(client.search("tea")), [("short", short_score), ("long", long_score)])
    assert long_score != pytest.approx(idf / (1 + 1.2 * (0.25 + 0.75 * 100 / average)))
    # "tea coffee" in searchMode=all: no document has both; a phrase: frequency 1, idf summed.
    assert keys(client.search("tea coffee", search_mode="all")) == []
    phrase = idf_sum = math.log(1 + 2.5 / 1.5) * 2  # "coffee" and "beans": n = 1 each
    phrase *= 1 / (1 + 1.2 * (0.25 + 0.75 * 2 / average))
    assert_ranking(list(client.search('"coffee beans"')), [("other", phrase)])
    assert idf_sum > 0
    assert keys(client.search('"beans coffee"')) == []
    # A prefix matches with a constant score of 1 per field, as Lucene's prefix queries do.
    assert_ranking(list(client.search("be*")), [("other", 1.0)])


def test_match_all_scores_one(loaded: SearchClient) -> None:
    results = list(loaded.search("*", include_total_count=True))
    assert {hit["@search.score"] for hit in results} == {1.0}
    assert sorted(keys(results)) == sorted(d["id"] for d in CORPUS)


def test_vector_ranking_is_exact_cosine(loaded: SearchClient) -> None:
    query = [0.7, 0.2, 0.1, 0.2]
    results = list(
        loaded.search(
            None,
            vector_queries=[
                VectorizedQuery(vector=query, k_nearest_neighbors=3, fields="embedding")
            ],
        )
    )
    assert_ranking(results, expected_knn(query, 3))


def test_hybrid_ranking_is_rrf_of_bm25_and_cosine(loaded: SearchClient) -> None:
    query = [0.1, 0.1, 0.9, 0.4]
    results = list(
        loaded.search(
            "tea water",
            vector_queries=[
                VectorizedQuery(vector=query, k_nearest_neighbors=3, fields="embedding")
            ],
        )
    )
    assert_ranking(results, expected_rrf(expected_bm25(["tea", "water"]), expected_knn(query, 3)))


def test_two_vector_queries_are_fused(loaded: SearchClient) -> None:
    a, b = [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]
    results = list(
        loaded.search(
            None,
            vector_queries=[
                VectorizedQuery(vector=a, k_nearest_neighbors=2, fields="embedding"),
                VectorizedQuery(vector=b, k_nearest_neighbors=2, fields="embedding"),
            ],
        )
    )
    assert_ranking(results, expected_rrf(expected_knn(a, 2), expected_knn(b, 2)))


def test_vector_prefilter_and_postfilter(loaded: SearchClient) -> None:
    query = [0.9, 0.1, 0.0, 0.1]
    pre = keys(
        loaded.search(
            None,
            filter="category eq 'baking'",
            vector_queries=[
                VectorizedQuery(vector=query, k_nearest_neighbors=2, fields="embedding")
            ],
        )
    )
    assert sorted(pre) == ["bread-1", "bread-2"]  # k among the filtered documents
    post = keys(
        loaded.search(
            None,
            filter="category eq 'baking'",
            vector_filter_mode="postFilter",
            vector_queries=[
                VectorizedQuery(vector=query, k_nearest_neighbors=2, fields="embedding")
            ],
        )
    )
    assert post == []  # the 2 nearest are teas, filtered out afterwards


def test_select_top_skip_count_orderby(loaded: SearchClient) -> None:
    ranked = sorted(CORPUS, key=lambda d: (d["rating"] is not None, d["rating"] or 0), reverse=True)
    results = loaded.search(
        "*",
        order_by=["rating desc"],
        select=["id", "rating"],
        top=2,
        skip=1,
        include_total_count=True,
    )
    hits = list(results)
    assert results.get_count() == len(CORPUS)
    assert [{k: v for k, v in hit.items() if not k.startswith("@")} for hit in hits] == [
        {"id": d["id"], "rating": d["rating"]} for d in ranked[1:3]
    ]
    oldest = keys(loaded.search("*", order_by=["updated asc"], top=1))
    assert oldest == [min(CORPUS, key=lambda d: datetime.fromisoformat(d["updated"]))["id"]]


def test_results_beyond_the_first_page_are_fetched_by_the_sdk(service: SearchServer) -> None:
    index_client(service).create_index(guide_index())
    client = search_client(service)
    client.upload_documents([{"id": f"doc-{i:03d}", "year": i} for i in range(120)])
    assert keys(client.search("*", order_by=["year asc"])) == [f"doc-{i:03d}" for i in range(120)]
    assert len(list(client.search("*", top=70))) == 70


# -- facets ---------------------------------------------------------------------------------------


@pytest.fixture
def faceted(service: SearchServer) -> SearchClient:
    index = guide_index()
    for field in index.fields:
        if field.name in ("category", "tags", "rating", "year", "updated"):
            field.facetable = True
    index_client(service).create_index(index)
    client = search_client(service)
    client.upload_documents(CORPUS)
    return client


def test_facets_count_every_matching_document(faceted: SearchClient) -> None:
    results = faceted.search(
        "tea",
        facets=["category", "tags,count:3", "rating,interval:1", "year,values:2019|2021",
                "updated,interval:year", "category,sort:value"],
        top=1,
    )  # fmt: skip
    facets = results.get_facets()
    assert facets is not None
    matched = [
        d for d in CORPUS if "tea" in words(" ".join([d["title"], d["content"], *d["tags"]]))
    ]
    assert len(list(results)) == 1  # the page is one document; the facets count all matches
    categories = Counter(d["category"] for d in matched)
    assert facets["category"] == [
        {"value": v, "count": n} for v, n in sorted(categories.items(), key=lambda i: -i[1])
    ]
    tags = Counter(t for d in matched for t in set(d["tags"]))
    assert [(f["value"], f["count"]) for f in facets["tags"]] == sorted(
        tags.items(), key=lambda i: -i[1]
    )[:3]
    ratings = Counter(math.floor(d["rating"]) for d in matched if d["rating"] is not None)
    assert facets["rating"] == [{"value": v, "count": n} for v, n in sorted(ratings.items())]
    years = [d["year"] for d in matched]
    assert facets["year"] == [
        {"to": 2019, "count": sum(y < 2019 for y in years)},
        {"from": 2019, "to": 2021, "count": sum(2019 <= y < 2021 for y in years)},
        {"from": 2021, "count": sum(y >= 2021 for y in years)},
    ]
    updated = Counter(d["updated"][:4] for d in matched)
    assert facets["updated"] == [
        {"value": f"{y}-01-01T00:00:00Z", "count": n} for y, n in sorted(updated.items())
    ]


@pytest.mark.parametrize(
    ("facet", "message"),
    [
        ("title", "The field 'title' is not facetable."),
        ("colour", "Unknown field 'colour' in facet specification."),
        ("rating,interval:0", "greater than 0"),
        ("category,interval:1", "'interval' needs a number or date field"),
        ("rating,values:5|1", "ascending"),
        ("rating,sort:sideways", "sort"),
        ("rating,count:-1", "count"),
        ("updated,interval:fortnight", "date interval"),
    ],
)
def test_a_bad_facet_is_azures_400(faceted: SearchClient, facet: str, message: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        list(faceted.search("*", facets=[facet]))
    assert caught.value.status_code == 400
    said = odata_message(caught.value)
    assert message in said
    assert said.endswith("\r\nParameter name: facet")


# -- filters ------------------------------------------------------------------------------------

FILTERS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("category eq 'drinks'", lambda d: d["category"] == "drinks"),
    ("category ne 'drinks'", lambda d: d["category"] != "drinks"),
    ("rating gt 4.5", lambda d: d["rating"] is not None and d["rating"] > 4.5),
    ("rating ge 4.5", lambda d: d["rating"] is not None and d["rating"] >= 4.5),
    ("year lt 2020", lambda d: d["year"] < 2020),
    ("year le 2020", lambda d: d["year"] <= 2020),
    ("rating eq null", lambda d: d["rating"] is None),
    ("rating ne null and rating lt 4", lambda d: d["rating"] is not None and d["rating"] < 4),
    ("published eq false or year ge 2023", lambda d: not d["published"] or d["year"] >= 2023),
    ("published", lambda d: d["published"]),
    ("not published", lambda d: not d["published"]),
    (
        "not (category eq 'drinks' or category eq 'baking')",
        lambda d: d["category"] not in ("drinks", "baking"),
    ),
    (
        "(year gt 2018 and year lt 2022) or rating ge 5",
        lambda d: 2018 < d["year"] < 2022 or (d["rating"] or 0) >= 5,
    ),
    ("search.in(category, 'baking,outdoors')", lambda d: d["category"] in ("baking", "outdoors")),
    (
        "search.in(category, 'baking|outdoors', '|')",
        lambda d: d["category"] in ("baking", "outdoors"),
    ),
    ("search.in(category, 'drinks baking')", lambda d: d["category"] in ("drinks", "baking")),
    ("tags/any(t: t eq 'breakfast')", lambda d: "breakfast" in d["tags"]),
    (
        "tags/any(t: search.in(t, 'coffee,hiking'))",
        lambda d: bool({"coffee", "hiking"} & set(d["tags"])),
    ),
    ("tags/all(t: t ne 'tea')", lambda d: "tea" not in d["tags"]),
    ("tags/any()", lambda d: bool(d["tags"])),
    ("not tags/any()", lambda d: not d["tags"]),
    ("updated ge 2024-01-01T00:00:00Z", lambda d: d["updated"] >= "2024-01-01"),
    ("updated lt 2022-01-10T07:00:01+00:00", lambda d: d["updated"] < "2022-01-10T07:00:01"),
    ("year eq 2021 and published eq true", lambda d: d["year"] == 2021 and d["published"]),
    ("category eq 'it''s'", lambda d: False),
]


@pytest.mark.parametrize(("expression", "predicate"), FILTERS, ids=[f for f, _ in FILTERS])
def test_filter_selects_exactly_the_matching_documents(
    loaded: SearchClient, expression: str, predicate: Callable[[dict[str, Any]], bool]
) -> None:
    found = keys(loaded.search("*", filter=expression))
    assert sorted(found) == sorted(d["id"] for d in CORPUS if predicate(d))


def test_string_fields_compare_as_strings_even_when_they_look_like_dates(
    loaded: SearchClient,
) -> None:
    odd = {"id": "odd", "category": "2024-01-01T00:00:00Z"}
    loaded.upload_documents([odd])
    for expression, below in (("category lt 'baking'", True), ("category gt 'baking'", False)):
        found = keys(loaded.search("*", filter=expression))
        expected = [
            d["id"]
            for d in [*CORPUS, odd]
            if (d["category"] < "baking") == below and d["category"] != "baking"
        ]
        assert sorted(found) == sorted(expected)
    assert "odd" in keys(loaded.search("*", filter="category lt 'baking'"))


def test_filter_combines_with_keyword_ranking(loaded: SearchClient) -> None:
    results = list(loaded.search("tea water", filter="category eq 'drinks'"))
    expected = [
        (k, s) for k, s in expected_bm25(["tea", "water"]) if k.startswith(("tea", "coffee"))
    ]
    assert_ranking(results, expected)


BAD_FILTERS: list[tuple[str, str]] = [
    ("rating gx 4", "Syntax error at position 7 in 'rating gx 4'."),
    ("rating ge", "Syntax error"),
    ("(rating ge 4", "Syntax error"),
    ("rating ge 4)", "Syntax error"),
    ("category eq 'unterminated", "Syntax error"),
    ("and", "Syntax error"),
    ("colour eq 'red'", "Could not find a property named 'colour' on type 'search.document'."),
    ("title eq 'Sourdough bread'", "'title' is not a filterable field."),
    ("category eq 5", "incompatible types"),
    ("rating eq 'high'", "incompatible types"),
    ("tags eq 'tea'", "cannot be compared directly"),
    ("year", "must be a boolean"),
    ("search.in(rating, '1,2')", "search.in"),
    ("rating eq year", "constant"),
    ("geo.distance(location, geography'POINT(0 0)') lt 5", "not simulated"),
]


@pytest.mark.parametrize(("expression", "message"), BAD_FILTERS, ids=[f for f, _ in BAD_FILTERS])
def test_bad_filter_is_azures_400(loaded: SearchClient, expression: str, message: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        list(loaded.search("*", filter=expression))
    assert caught.value.status_code == 400
    error = caught.value.error
    assert error is not None and error.message is not None
    assert message in error.message
    if error.code == "":  # Azure's own OData errors name the parameter
        assert error.message.endswith("\r\nParameter name: $filter")


# -- errors, versions, credentials ----------------------------------------------------------------


def test_unknown_index_is_404(service: SearchServer) -> None:
    client = search_client(service, index="missing")
    with pytest.raises(ResourceNotFoundError) as caught:
        list(client.search("tea"))
    assert caught.value.status_code == 404
    assert (
        odata_message(caught.value)
        == "The index 'missing' for service 'replay-search' was not found."
    )
    with pytest.raises(ResourceNotFoundError):
        client.get_document_count()


def test_wrong_key_is_403_and_missing_credentials_401(
    loaded: SearchClient, service: SearchServer
) -> None:
    client = search_client(service, credential=AzureKeyCredential("not-the-key"))
    with pytest.raises(HttpResponseError) as caught:
        client.get_document_count()
    assert caught.value.status_code == 403
    assert raw(service, "GET", f"/indexes('{INDEX}')/docs/$count", headers={}) == (401, b"")


def test_bearer_token_for_search_audience_is_accepted(
    loaded: SearchClient, service: SearchServer
) -> None:
    client = search_client(service, credential=ReplayCredential(API_KEY))
    with pytest.raises(ServiceRequestError):  # azure-core refuses bearer tokens over http...
        client.get_document_count()
    assert client.get_document_count(enforce_https=False) == len(CORPUS)  # ...unless told to
    for token in (
        mint_token(
            API_KEY, audience=COGNITIVE_SERVICES_AUDIENCE, expires_on=int(time.time()) + 600
        ),
        mint_token(API_KEY, audience="https://search.azure.com", expires_on=int(time.time()) - 1),
        mint_token(
            "another-key", audience="https://search.azure.com", expires_on=int(time.time()) + 600
        ),
        "not.a.token",
    ):
        status, _ = raw(service, "GET", f"/indexes('{INDEX}')/docs/$count",
                        headers={"authorization": f"Bearer {token}"})  # fmt: skip
        assert status == 403


def test_api_versions(loaded: SearchClient, service: SearchServer) -> None:
    assert search_client(service, api_version="2024-07-01").get_document_count() == len(CORPUS)
    assert raw(service, "GET", f"/indexes('{INDEX}')/docs/$count") == (
        200,
        str(len(CORPUS)).encode(),
    )
    for version in (None, "2099-01-01", "latest"):
        status, content = raw(
            service, "GET", f"/indexes('{INDEX}')/docs/$count", api_version=version
        )
        assert status == 400
        assert json.loads(content) == {
            "error": {
                "code": "",
                "message": "Invalid or missing api-version query string parameter.",
            }
        }


def test_semantic_ranking_is_a_clear_400(loaded: SearchClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        list(loaded.search("tea", query_type="semantic", semantic_configuration_name="default"))
    assert caught.value.status_code == 400
    assert "not simulated" in odata_message(caught.value)


@pytest.mark.parametrize(
    ("path", "body", "data"),
    [
        ("/docs/search.post.search", None, b"{not json"),
        ("/docs/search.post.search", ["a list"], None),
        ("/docs/search.post.search", {"top": -1}, None),
        ("/docs/search.post.search", {"top": "ten"}, None),
        ("/docs/search.post.search", {"count": "yes"}, None),
        ("/docs/search.post.search", {"search": 42}, None),
        ("/docs/search.post.search", {"select": "colour"}, None),
        ("/docs/search.post.search", {"orderby": "content desc"}, None),
        ("/docs/search.post.search", {"orderby": "rating sideways"}, None),
        ("/docs/search.post.search", {"searchFields": "category"}, None),
        ("/docs/search.post.search", {"vectorQueries": {"kind": "vector"}}, None),
        (
            "/docs/search.post.search",
            {"vectorQueries": [{"kind": "vector", "vector": [1, 2], "fields": "embedding"}]},
            None,
        ),
        (
            "/docs/search.post.search",
            {"vectorQueries": [{"kind": "vector", "vector": [1, 2, 3, 4], "fields": "title"}]},
            None,
        ),
        (
            "/docs/search.post.search",
            {
                "vectorQueries": [
                    {"kind": "vector", "vector": [1, 2, 3, 4], "fields": "embedding", "k": 0}
                ]
            },
            None,
        ),
        (
            "/docs/search.post.search",
            {"vectorQueries": [{"kind": "text", "text": "tea", "fields": "embedding"}]},
            None,
        ),
        ("/docs/search.post.search", {"vectorQueries": ["vector"]}, None),
        ("/docs/search.index", {"value": []}, None),
        ("/docs/search.index", {"value": [{"@search.action": "replace", "id": "x"}]}, None),
        ("/docs/search.index", {"value": "x"}, None),
        ("/docs/search.index", None, b"\xff\xfe"),
    ],
)
def test_malformed_requests_are_400s_never_500s(
    loaded: SearchClient, service: SearchServer, path: str, body: Any, data: bytes | None
) -> None:
    status, content = raw(service, "POST", f"/indexes('{INDEX}')" + path, body, data=data)
    assert status == 400
    error = json.loads(content)["error"]
    assert set(error) == {"code", "message"} and error["message"]


def test_unserved_paths_are_404_in_azures_shape(service: SearchServer) -> None:
    status, content = raw(service, "GET", "/indexers")
    assert status == 404
    assert "does not serve this path" in json.loads(content)["error"]["message"]


def test_search_by_get(loaded: SearchClient, service: SearchServer) -> None:
    query = "2024-07-01&search=tea&$filter=year%20ge%202020&$count=true&$select=id"
    status, content = raw(service, "GET", f"/indexes('{INDEX}')/docs", api_version=query)
    assert status == 200
    body = json.loads(content)
    expected = [
        k
        for k, _ in expected_bm25(["tea"])
        if next(d for d in CORPUS if d["id"] == k)["year"] >= 2020
    ]
    assert [hit["id"] for hit in body["value"]] == expected
    assert body["@odata.count"] == len(expected)


def test_mounted_under_a_path_the_sdk_pages_through_results() -> None:
    mounted = SearchServer().start()
    try:
        index_client(mounted).create_index(guide_index())
        client = search_client(mounted)
        client.upload_documents([{"id": f"doc-{i:03d}", "year": i} for i in range(60)])
        assert keys(client.search("*", order_by=["year desc"])) == [
            f"doc-{i:03d}" for i in reversed(range(60))
        ]
        status, content = raw(mounted, "POST", f"/indexes('{INDEX}')/docs/search.post.search", {})
        assert status == 200
        assert json.loads(content)["@odata.nextLink"].startswith(mounted.url + "/indexes(")
    finally:
        mounted.stop()


def test_unexpected_failure_is_a_logged_500_in_azures_shape(
    loaded: SearchClient,
    service: SearchServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(engine, "run", broken)  # the only way to reach the last resort
    with caplog.at_level(logging.ERROR, logger="helpers.replay"):
        status, content = raw(service, "POST", f"/indexes('{INDEX}')/docs/search.post.search", {})
    assert status == 500
    error = json.loads(content)["error"]
    assert error["code"] == "InternalServerError"
    assert error["message"].startswith("The server had an error while processing your request.")
    assert "a bug" in caplog.text


def test_reset_empties_the_service(loaded: SearchClient, service: SearchServer) -> None:
    service.state.reset()
    with pytest.raises(ResourceNotFoundError):
        loaded.get_document_count()
