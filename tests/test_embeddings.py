"""helpers.embeddings: batching under Azure's limits, dimensions, similarity, nearest neighbours."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx2
import numpy as np
import openai
import pytest
from conftest import StartServer, async_client, solution, sync_client
from openai import AzureOpenAI

from helpers._support.tokenizer import get_encoding
from helpers.embeddings import (
    MAX_INPUTS_PER_REQUEST,
    EmbeddingInputError,
    aembed,
    batches,
    check_top_texts,
    cosine_similarity,
    embed,
    nearest,
)
from helpers.replay.config import Deployment

RECORDINGS = "test_embeddings.yaml"
MODEL = "text-embedding-3-small"
CORPUS = [
    "The kitten chased a ball of yarn across the floor.",
    "Our cat sleeps on the sofa most of the afternoon.",
    "Please pay the attached invoice within thirty days.",
    "The quarterly revenue grew by twelve percent.",
    "Reset your password from the account settings page.",
]
ROOMY = {
    MODEL: Deployment(
        kind="embeddings",
        model=MODEL,
        dimensions=1536,
        requests_per_minute=10_000,
        tokens_per_minute=10_000_000,
    ),
    "ada": Deployment(kind="embeddings", model="text-embedding-ada-002", dimensions=1536),
}


def counting_client(start_server: StartServer) -> tuple[AzureOpenAI, list[dict[str, object]]]:
    """A lenient server and an SDK client that keeps the JSON body of every request it sends."""
    sent: list[dict[str, object]] = []

    def keep(request: httpx2.Request) -> None:
        sent.append(json.loads(request.content))

    server = start_server(RECORDINGS, mode="lenient", deployments=ROOMY)
    http = openai.DefaultHttpxClient(event_hooks={"request": [keep]})
    return sync_client(server, http_client=http), sent


# --- batching -------------------------------------------------------------------------------


def test_embed_splits_more_than_2048_inputs_into_two_requests(start_server: StartServer) -> None:
    client, sent = counting_client(start_server)
    texts = [f"note number {i}" for i in range(MAX_INPUTS_PER_REQUEST + 1)]
    result = embed(client, texts, model=MODEL, dimensions=4)
    assert [len(body["input"]) for body in sent] == [2048, 1]  # type: ignore[arg-type]
    assert result.requests == 2
    assert result.vectors.shape == (2049, 4)
    # Rows stay in input order across the split: compare with embedding a few texts alone.
    for i in (0, 2047, 2048):
        alone = embed(client, [texts[i]], model=MODEL, dimensions=4).vectors[0]
        assert np.array_equal(result.vectors[i], alone)


def test_prompt_tokens_are_summed_over_requests(start_server: StartServer) -> None:
    client, _ = counting_client(start_server)
    result = embed(client, CORPUS, model=MODEL, dimensions=8, max_inputs=2)
    encoding = get_encoding("cl100k_base")
    assert result.requests == 3
    assert result.prompt_tokens == sum(len(encoding.encode(t)) for t in CORPUS)
    assert result.model == MODEL


def test_batches_start_a_new_request_before_the_token_sum_overflows() -> None:
    encoding = get_encoding("cl100k_base")
    texts = ["word " * 40, "word " * 40, "word " * 40, "word"]
    sizes = [len(encoding.encode(t)) for t in texts]
    runs = batches(texts, max_tokens=sizes[0] + sizes[1])
    assert runs == [range(0, 2), range(2, 4)]


def test_text_over_8192_tokens_is_refused_and_named() -> None:
    long_text = "lorem " * 9000
    with pytest.raises(EmbeddingInputError, match=r"texts\[1\] has \d+ tokens") as caught:
        batches(["short", long_text])
    assert caught.value.index == 1


def test_text_of_exactly_8192_tokens_is_accepted() -> None:
    encoding = get_encoding("cl100k_base")
    text = encoding.decode(encoding.encode("lorem " * 9000)[:8192])
    assert len(encoding.encode(text)) == 8192
    assert batches([text]) == [range(0, 1)]


@pytest.mark.parametrize(
    ("texts", "error"),
    [(["fine", ""], EmbeddingInputError), ("one string", TypeError), (["ok", 3], TypeError)],
)
def test_bad_inputs_are_refused_before_any_request(texts: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        batches(texts)  # type: ignore[arg-type]


def test_embedding_nothing_is_refused(start_server: StartServer) -> None:
    client, sent = counting_client(start_server)
    with pytest.raises(ValueError, match="nothing to embed"):
        embed(client, [], model=MODEL)
    assert sent == []


# --- dimensions and encoding ----------------------------------------------------------------


def test_dimensions_is_sent_only_when_asked(start_server: StartServer) -> None:
    client, sent = counting_client(start_server)
    embed(client, ["a"], model=MODEL)
    embed(client, ["a"], model=MODEL, dimensions=64)
    assert "dimensions" not in sent[0]
    assert sent[1]["dimensions"] == 64


def test_vectors_come_back_as_base64_and_are_decoded_by_the_sdk(start_server: StartServer) -> None:
    client, sent = counting_client(start_server)
    result = embed(client, CORPUS, model=MODEL, dimensions=16)
    assert sent[0]["encoding_format"] == "base64"  # the SDK's default, left alone
    assert result.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)


def test_ada_002_works_without_dimensions_and_rejects_them(start_server: StartServer) -> None:
    client, _ = counting_client(start_server)
    assert embed(client, ["a"], model="ada").vectors.shape == (1, 1536)
    with pytest.raises(openai.BadRequestError, match="does not support specifying dimensions"):
        embed(client, ["a"], model="ada", dimensions=256)


@pytest.mark.parametrize("dimensions", [0, -3, True, 2.5])
def test_invalid_dimensions_are_refused(start_server: StartServer, dimensions: object) -> None:
    client, sent = counting_client(start_server)
    with pytest.raises(ValueError, match="dimensions"):
        embed(client, ["a"], model=MODEL, dimensions=dimensions)  # type: ignore[arg-type]
    assert sent == []


async def test_aembed_matches_embed(start_server: StartServer) -> None:
    server = start_server(RECORDINGS, mode="lenient", deployments=ROOMY)
    sync = embed(sync_client(server), CORPUS, model=MODEL, dimensions=32)
    result = await aembed(async_client(server), CORPUS, model=MODEL, dimensions=32, max_inputs=2)
    assert result.requests == 3
    assert np.array_equal(result.vectors, sync.vectors)


# --- similarity and neighbours --------------------------------------------------------------


def test_cosine_similarity_matches_the_formula() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    got = cosine_similarity(a, b)
    for i in range(3):
        for j in range(4):
            dot = sum(x * y for x, y in zip(a[i], b[j], strict=True))
            norms = math.sqrt(sum(x * x for x in a[i])) * math.sqrt(sum(y * y for y in b[j]))
            assert got[i, j] == pytest.approx(dot / norms)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [([1.0, 0.0], [[1.0, 0.0, 0.0]], "different sizes"), ([0.0, 0.0], [[1.0, 0.0]], "zero vector")],
)
def test_cosine_similarity_refuses_vectors_it_cannot_compare(
    a: list[float], b: list[list[float]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        cosine_similarity(a, b)


def test_nearest_returns_the_k_best_by_cosine_best_first() -> None:
    rng = np.random.default_rng(11)
    candidates, query = rng.normal(size=(50, 8)), rng.normal(size=8)
    expected = sorted(
        range(50),
        key=lambda i: (
            -float(query @ candidates[i]) / (np.linalg.norm(query) * np.linalg.norm(candidates[i]))
        ),
    )[:5]
    hits = nearest(query, candidates, k=5)
    assert [h.index for h in hits] == expected
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_nearest_keeps_input_order_for_ties() -> None:
    hits = nearest([1.0, 0.0], [[0.0, 1.0], [2.0, 0.0], [1.0, 0.0]], k=2)
    assert [h.index for h in hits] == [1, 2]


def test_nearest_finds_the_related_sentence_through_the_server(start_server: StartServer) -> None:
    client, _ = counting_client(start_server)
    corpus = embed(client, CORPUS, model=MODEL, dimensions=256)
    query = embed(client, ["How do I change my login password?"], model=MODEL, dimensions=256)
    assert CORPUS[nearest(query.vectors[0], corpus.vectors, k=1)[0].index] == CORPUS[4]
    query = embed(client, ["a little cat playing"], model=MODEL, dimensions=256)
    top_two = {h.index for h in nearest(query.vectors[0], corpus.vectors, k=2)}
    assert top_two == {0, 1}


def test_nearest_refuses_k_below_one() -> None:
    with pytest.raises(ValueError, match="k must be"):
        nearest([1.0], [[1.0]], k=0)


def test_exercise_solution_passes() -> None:
    feedback = check_top_texts(solution("15_embeddings").top_texts)
    assert feedback.passed, feedback.message


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def by_dot_product(query: Any, vectors: Any, texts: list[str], k: int) -> list[str]:
        order = np.argsort(-(vectors @ query))[:k]
        return [texts[int(i)] for i in order]

    feedback = check_top_texts(by_dot_product)
    assert not feedback.passed
    assert "dot product" in feedback.message and "norms" in feedback.message
    assert "'Bank fees on credit cards'" in feedback.message
