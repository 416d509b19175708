"""helpers.hybrid_search.index: a typed index, an uploader reporting each failure, three queries.

Runs against the replay server's Azure AI Search simulator through the official SDK. Hybrid
results are checked against Reciprocal Rank Fusion (``1 / (rank + 60)``) of the helper's own
keyword and vector rankings, computed here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Annotated, Any

import numpy as np
import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.search.documents import SearchClient
from azure.search.documents.indexes import SearchIndexClient
from azure.search.documents.indexes.models import HnswAlgorithmConfiguration
from azure.search.documents.models import VectorizedQuery
from pydantic import BaseModel
from search_server import API_KEY, SearchServer

from helpers.hybrid_search.index import (
    FILTERABLE,
    KEY,
    SEARCHABLE,
    SORTABLE,
    Indexed,
    SearchHit,
    UploadError,
    Vector,
    hybrid_search,
    index_from_model,
    keyword_search,
    upload,
    vector_query,
    vector_search,
)

INDEX = "recipes"


class Recipe(BaseModel):
    id: Annotated[str, KEY]
    title: Annotated[str, SEARCHABLE]
    body: Annotated[str, Indexed(searchable=True, analyzer="en.microsoft")]
    cuisine: Annotated[str, FILTERABLE]
    minutes: Annotated[int, SORTABLE]
    vegetarian: Annotated[bool, FILTERABLE]
    tags: Annotated[list[str], Indexed(searchable=True, filterable=True)]
    added: Annotated[dt.datetime, SORTABLE]
    rating: float | None = None
    embedding: Annotated[list[float], Vector(dimensions=3)]


class RecipeText(BaseModel):
    """What queries return: no vector."""

    id: str
    title: str
    minutes: int


def recipe(key: str, title: str, body: str, cuisine: str, minutes: int, veg: bool,
           tags: list[str], vector: list[float]) -> Recipe:  # fmt: skip
    added = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=minutes)
    return Recipe(id=key, title=title, body=body, cuisine=cuisine, minutes=minutes,
                  vegetarian=veg, tags=tags, added=added, embedding=vector)  # fmt: skip


RECIPES = [
    recipe("dal", "Red lentil dal", "Simmer lentils with turmeric, then temper cumin in ghee.",
           "indian", 35, True, ["lentils", "spicy"], [0.9, 0.2, 0.1]),
    recipe("risotto", "Mushroom risotto", "Toast rice, add stock slowly, finish with parmesan.",
           "italian", 40, True, ["rice"], [0.2, 0.9, 0.2]),
    recipe("curry", "Chicken curry", "Brown chicken, add onions, spices and coconut milk.",
           "indian", 50, False, ["spicy", "chicken"], [0.8, 0.1, 0.5]),
    recipe("carbonara", "Spaghetti carbonara", "Eggs, pecorino and guanciale; no cream.",
           "italian", 20, False, ["pasta"], [0.1, 0.8, 0.6]),
    recipe("salad", "Lentil salad", "Cooked lentils, herbs, lemon and olive oil.",
           "mediterranean", 15, True, ["lentils", "cold"], [0.6, 0.4, 0.1]),
]  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[SearchServer]:
    running = SearchServer().start()
    yield running
    running.stop()


@pytest.fixture
def index_client(server: SearchServer) -> Iterator[SearchIndexClient]:
    server.state.reset()
    yield SearchIndexClient(server.url, AzureKeyCredential(API_KEY))
    server.state.reset()


@pytest.fixture
def client(server: SearchServer, index_client: SearchIndexClient) -> SearchClient:
    index_client.create_index(index_from_model(INDEX, Recipe))
    search_client = SearchClient(server.url, INDEX, AzureKeyCredential(API_KEY))
    upload(search_client, RECIPES).raise_for_failures()
    return search_client


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.hypot(*a) * math.hypot(*b))


# -- the index ----------------------------------------------------------------------------------


def test_index_fields_follow_the_model(index_client: SearchIndexClient) -> None:
    created = index_client.create_index(index_from_model(INDEX, Recipe))
    fields = {f.name: f for f in created.fields}
    assert list(fields) == list(Recipe.model_fields)
    assert fields["id"].type == "Edm.String" and fields["id"].key
    assert fields["title"].searchable and not fields["title"].filterable
    assert fields["body"].analyzer_name == "en.microsoft"
    assert fields["cuisine"].filterable and fields["cuisine"].facetable
    assert fields["minutes"].type == "Edm.Int64" and fields["minutes"].sortable
    assert fields["vegetarian"].type == "Edm.Boolean"
    assert fields["tags"].type == "Collection(Edm.String)" and fields["tags"].filterable
    assert fields["added"].type == "Edm.DateTimeOffset"
    assert fields["rating"].type == "Edm.Double" and not fields["rating"].filterable
    assert fields["embedding"].type == "Collection(Edm.Single)"
    assert fields["embedding"].vector_search_dimensions == 3
    assert fields["embedding"].vector_search_profile_name == "default"
    vector_search = created.vector_search
    assert vector_search is not None and vector_search.profiles and vector_search.algorithms
    profile = vector_search.profiles[0]
    algorithm = vector_search.algorithms[0]
    assert (profile.name, profile.algorithm_configuration_name) == ("default", algorithm.name)
    assert isinstance(algorithm, HnswAlgorithmConfiguration) and algorithm.parameters is not None
    assert algorithm.parameters.metric == "cosine"


class NoKey(BaseModel):
    title: Annotated[str, SEARCHABLE]


class TwoKeys(BaseModel):
    a: Annotated[str, KEY]
    b: Annotated[str, KEY]


class IntKey(BaseModel):
    id: Annotated[int, KEY]


class VectorOfText(BaseModel):
    id: Annotated[str, KEY]
    embedding: Annotated[list[str], Vector(dimensions=3)]


class SearchableNumber(BaseModel):
    id: Annotated[str, KEY]
    year: Annotated[int, SEARCHABLE]


class Nested(BaseModel):
    id: Annotated[str, KEY]
    author: NoKey


class SortableList(BaseModel):
    id: Annotated[str, KEY]
    tags: Annotated[list[str], SORTABLE]


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [
        (NoKey, ValueError, "exactly one str field as the key"),
        (TwoKeys, ValueError, "found ['a', 'b']"),
        (IntKey, TypeError, "IntKey.id: the key field must be a str"),
        (VectorOfText, TypeError, "a Vector field must be list[float]"),
        (SearchableNumber, TypeError, "only str fields"),
        (Nested, TypeError, "Nested.author"),
        (SortableList, TypeError, "cannot be sortable"),
    ],
)
def test_models_azure_cannot_index_are_refused(
    model: type[BaseModel], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        index_from_model("x", model)
    assert message in str(caught.value)


def test_vector_marker_checks_dimensions() -> None:
    with pytest.raises(ValueError, match="2 to 4096"):
        Vector(dimensions=1)


# -- uploading ----------------------------------------------------------------------------------


def test_upload_reports_each_failed_document(client: SearchClient) -> None:
    documents: list[Any] = [
        {"id": "soup", "title": "Tomato soup"},
        {"id": "not valid", "title": "A key with a space"},
        recipe(
            "pie", "Apple pie", "Butter, flour, apples.", "english", 90, True, [], [0.1, 0.1, 0.9]
        ),
    ]
    report = upload(client, documents)
    assert report.succeeded == ["soup", "pie"]
    assert [(f.key, f.status_code) for f in report.failed] == [("not valid", 400)]
    assert "Invalid document key" in report.failed[0].message
    assert not report.ok
    with pytest.raises(UploadError) as caught:
        report.raise_for_failures()
    assert "1 of 3 documents were not indexed" in str(caught.value)
    assert "not valid: 400" in str(caught.value)
    assert client.get_document("pie")["added"] == "2024-03-31T00:00:00Z"


def test_upload_sends_batches(client: SearchClient) -> None:
    extra = [{"id": f"extra-{i}", "title": f"Extra {i}"} for i in range(7)]
    report = upload(client, extra, batch_size=3)
    assert report.ok and report.succeeded == [d["id"] for d in extra]
    assert client.get_document_count() == len(RECIPES) + len(extra)
    merged = upload(client, [{"id": "extra-0", "minutes": 5}], action="merge")
    assert merged.ok and client.get_document("extra-0")["minutes"] == 5
    upload(client, [{"id": d["id"]} for d in extra], action="delete").raise_for_failures()
    assert client.get_document_count() == len(RECIPES)


def test_upload_of_a_malformed_batch_raises_the_sdk_error(client: SearchClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        upload(client, [{"id": "x", "servings": 4}])
    assert caught.value.status_code == 400


def test_upload_refuses_bad_input(client: SearchClient) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        upload(client, [], batch_size=0)
    with pytest.raises(TypeError, match="pydantic models or dicts"):
        upload(client, ["dal"])  # type: ignore[list-item]


# -- querying ----------------------------------------------------------------------------------


def test_keyword_search_returns_typed_hits(client: SearchClient) -> None:
    hits = keyword_search(client, "lentils", model=RecipeText, top=3)
    assert all(isinstance(hit, SearchHit) and isinstance(hit.document, RecipeText) for hit in hits)
    assert {hit.document.id for hit in hits} == {"dal", "salad"}
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    raw = list(client.search("lentils", top=3, select=["id"]))
    assert [(h.document.id, h.score) for h in hits] == [(r["id"], r["@search.score"]) for r in raw]


def test_keyword_search_with_filter_and_fields(client: SearchClient) -> None:
    hits = keyword_search(client, "lentils", model=RecipeText, filter="cuisine eq 'indian'")
    assert [hit.document.id for hit in hits] == ["dal"]
    titles_only = keyword_search(client, "cumin", model=RecipeText, search_fields=["title"])
    assert titles_only == []


def test_vector_search_ranks_by_cosine(client: SearchClient) -> None:
    query = [0.85, 0.15, 0.3]
    hits = vector_search(client, query, model=RecipeText, vector_field="embedding", k=3)
    expected = sorted(RECIPES, key=lambda r: -cosine(query, r.embedding))[:3]
    assert [hit.document.id for hit in hits] == [r.id for r in expected]
    assert [hit.score for hit in hits] == pytest.approx(
        [1 / (2 - cosine(query, r.embedding)) for r in expected]
    )


def test_vector_search_filter_applies_before_knn(client: SearchClient) -> None:
    hits = vector_search(client, [0.9, 0.2, 0.1], model=RecipeText, vector_field="embedding",
                         k=2, filter="vegetarian eq false")  # fmt: skip
    assert {hit.document.id for hit in hits} == {"curry", "carbonara"}


def test_hybrid_search_is_rrf_of_keyword_and_vector(client: SearchClient) -> None:
    text, vector = "lentils spicy", [0.2, 0.85, 0.3]
    keyword = keyword_search(client, text, model=RecipeText, top=50)
    nearest = vector_search(client, vector, model=RecipeText, vector_field="embedding", k=3)
    fused: dict[str, float] = {}
    for ranking in (keyword, nearest):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.document.id] = fused.get(hit.document.id, 0.0) + 1 / (rank + 60)
    expected = sorted(fused.items(), key=lambda item: -item[1])[:4]
    hits = hybrid_search(client, text, vector, model=RecipeText, vector_field="embedding",
                         top=4, k=3)  # fmt: skip
    assert [(h.document.id, h.score) for h in hits] == [
        (key, pytest.approx(score)) for key, score in expected
    ]


def test_queries_refuse_bad_input(client: SearchClient) -> None:
    with pytest.raises(ValueError, match="search text is empty"):
        keyword_search(client, "  ", model=RecipeText)
    with pytest.raises(ValueError, match="query vector is empty"):
        vector_search(client, [], model=RecipeText, vector_field="embedding")
    with pytest.raises(ValueError, match="k must be at least 1"):
        vector_query([0.1, 0.2, 0.3], field="embedding", k=0)
    with pytest.raises(ValueError, match="top must be at least 1"):
        keyword_search(client, "rice", model=RecipeText, top=0)
    with pytest.raises(TypeError, match="pydantic model class"):
        keyword_search(client, "rice", model=dict)  # type: ignore[type-var]


def test_vector_query_is_the_sdks_vectorized_query() -> None:
    query = vector_query([1, 2, 3], field="embedding", k=4)
    assert isinstance(query, VectorizedQuery)
    assert dict(query) == {
        "vector": [1.0, 2.0, 3.0],
        "k": 4,
        "fields": "embedding",
        "kind": "vector",
    }


def test_vector_query_takes_a_numpy_row() -> None:
    # helpers.embeddings returns float32 rows; a numpy array has no truth value.
    row = np.array([[0.5, 0.25, 0.125]], dtype=np.float32)[0]
    assert vector_query(row, field="embedding", k=2).vector == [0.5, 0.25, 0.125]
    with pytest.raises(ValueError, match="query vector is empty"):
        vector_query(np.array([], dtype=np.float32), field="embedding")


def test_wrong_vector_field_is_the_services_400(client: SearchClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        vector_search(client, [0.1, 0.2, 0.3], model=RecipeText, vector_field="title")
    assert caught.value.status_code == 400
