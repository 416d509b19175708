"""The bike-care corpus (notebooks/data/bike_care.jsonl) indexed on a replay server's search.

Shared by tests/test_hybrid_search.py and tests/recordings/curate_test_hybrid_search.py, so the
prompts the tests
send are the prompts the curated recordings were written for. The vectors come from the replay
server's embeddings stand-in (lenient mode): computed, deterministic, never recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from azure.core.credentials import AzureKeyCredential
from azure.search.documents import SearchClient
from azure.search.documents.indexes import SearchIndexClient
from openai import AzureOpenAI
from pydantic import BaseModel

from helpers.embeddings import embed
from helpers.hybrid_search.grounding import Retriever
from helpers.hybrid_search.index import (
    FILTERABLE,
    KEY,
    SEARCHABLE,
    Vector,
    index_from_model,
    upload,
)
from helpers.replay import ReplayServer
from helpers.replay.services.search.operations import PREFIX

CORPUS = Path(__file__).parent.parent / "notebooks" / "data" / "bike_care.jsonl"
INDEX = "bike-care"
CHAT = "gpt-5.4-mini"
EMBEDDINGS = "text-embedding-3-small"
DIMENSIONS = 256
API_VERSION = "2025-04-01-preview"
TOP = 3


class Passage(BaseModel):
    id: Annotated[str, KEY]
    title: Annotated[str, SEARCHABLE]
    content: Annotated[str, SEARCHABLE]
    category: Annotated[str, FILTERABLE]
    embedding: Annotated[list[float], Vector(dimensions=DIMENSIONS)]


def corpus() -> list[dict[str, str]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def openai_client(server: ReplayServer) -> AzureOpenAI:
    return AzureOpenAI(
        azure_endpoint=server.url, api_key=server.api_key, api_version=API_VERSION, max_retries=0
    )


def search_client(server: ReplayServer) -> SearchClient:
    return SearchClient(server.url + PREFIX, INDEX, AzureKeyCredential(server.api_key))


def build_index(server: ReplayServer) -> Retriever:
    """Create and fill the index (the server must embed in lenient mode); a hybrid retriever."""
    client = openai_client(server)
    documents = corpus()
    vectors = embed(
        client,
        [f"{d['title']}\n{d['content']}" for d in documents],
        model=EMBEDDINGS,
        dimensions=DIMENSIONS,
    ).vectors
    index_client = SearchIndexClient(server.url + PREFIX, AzureKeyCredential(server.api_key))
    index_client.create_or_update_index(index_from_model(INDEX, Passage))
    passages = [Passage(**d, embedding=v.tolist()) for d, v in zip(documents, vectors, strict=True)]
    upload(search_client(server), passages).raise_for_failures()
    return Retriever(
        search_client(server), client, embedding_model=EMBEDDINGS, dimensions=DIMENSIONS, top=TOP
    )
