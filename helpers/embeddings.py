"""Embeddings: many texts to vectors within Azure's limits, and what to do with the vectors.

Use it to embed a corpus and search it by meaning without a vector database:

    result = embed(azure.client, texts, model=azure.embedding_deployment, dimensions=256)
    hits = nearest(result.vectors[0], result.vectors, k=3)

:func:`embed` splits the texts into requests that respect Azure's per-request limits
(:data:`MAX_INPUTS_PER_REQUEST` inputs, :data:`MAX_TOKENS_PER_INPUT` tokens each,
:data:`MAX_TOKENS_PER_REQUEST` in total), refuses texts Azure would refuse with an error
that names the text, sends ``dimensions`` only when you ask for it (``text-embedding-ada-002``
rejects the parameter, even as ``null``), and returns one ``float32`` row per text, in order.
The SDK asks for base64 vectors by default (a quarter of the JSON size) and decodes them
itself, so there is nothing to do about encoding: leave ``encoding_format`` alone.

:func:`cosine_similarity` and :func:`nearest` are plain numpy: exact, and fast enough for
tens of thousands of vectors. Past that, use a vector index (Azure AI Search, section 10).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from openai import AsyncOpenAI, Omit, OpenAI, omit
from openai.types import CreateEmbeddingResponse

from ._support.errors import CookbookError
from ._support.exercises import Feedback, attempt, failed, passed
from ._support.tokenizer import get_encoding

__all__ = [
    "EMBEDDING_ENCODING",
    "MAX_INPUTS_PER_REQUEST",
    "MAX_TOKENS_PER_INPUT",
    "MAX_TOKENS_PER_REQUEST",
    "EmbeddingInputError",
    "EmbeddingResult",
    "Neighbour",
    "aembed",
    "batches",
    "check_top_texts",
    "cosine_similarity",
    "embed",
    "nearest",
]

MAX_INPUTS_PER_REQUEST = 2048
"""Inputs in one embeddings request. Microsoft Learn, "Azure OpenAI quotas and limits"
(https://learn.microsoft.com/azure/ai-services/openai/quotas-limits): "Max number of inputs
in array with /embeddings: 2048"."""
MAX_TOKENS_PER_INPUT = 8192
"""Tokens in one input. Microsoft Learn, "Learn how to generate embeddings"
(https://learn.microsoft.com/azure/ai-services/openai/how-to/embeddings): "The maximum length
of input text for our latest embedding models is 8,192 tokens"."""
MAX_TOKENS_PER_REQUEST = 300_000
"""Tokens summed over one request's inputs: the openai SDK's reference for ``input``
("all embedding models enforce a maximum of 300,000 tokens summed across all inputs")."""
EMBEDDING_ENCODING = "cl100k_base"
"""The tokenizer of ``text-embedding-3-small``, ``-3-large`` and ``ada-002``."""

Vectors = NDArray[np.float32]


class EmbeddingInputError(CookbookError, ValueError):
    """A text Azure would reject: empty, or longer than one input may be."""

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index
        """Position of the offending text in the list you passed."""


@dataclass(frozen=True)
class EmbeddingResult:
    """Vectors for a list of texts, and what getting them cost."""

    vectors: Vectors
    """One row per text, in the order given; shape ``(len(texts), dimensions)``."""
    prompt_tokens: int
    """Tokens billed, summed over the requests (``usage.prompt_tokens``)."""
    requests: int
    """How many embeddings requests were sent."""
    model: str
    """The model that answered (``response.model``), e.g. ``text-embedding-3-small``."""


@dataclass(frozen=True)
class Neighbour:
    """A nearest-neighbour hit: the candidate's row and its cosine similarity to the query.

    A frozen dataclass, not a NamedTuple: a tuple's ``index`` field would hide ``tuple.index()``.
    """

    index: int
    score: float


def _token_counts(texts: Sequence[str]) -> list[int]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string (wrap it in a list)")
    encoding = get_encoding(EMBEDDING_ENCODING)
    counts = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
        if not text:
            raise EmbeddingInputError(f"texts[{i}] is empty; Azure rejects empty inputs", index=i)
        counts.append(len(encoding.encode(text, disallowed_special=())))
    return counts


def batches(
    texts: Sequence[str],
    *,
    max_inputs: int = MAX_INPUTS_PER_REQUEST,
    max_tokens_per_input: int = MAX_TOKENS_PER_INPUT,
    max_tokens: int = MAX_TOKENS_PER_REQUEST,
) -> list[range]:
    """Split ``texts`` into consecutive runs that each fit in one request.

    Raises :class:`EmbeddingInputError` for an empty text or one over ``max_tokens_per_input``
    tokens (split it into chunks first: an embedding of a truncated text silently loses meaning).
    """
    if not 1 <= max_inputs <= MAX_INPUTS_PER_REQUEST:
        raise ValueError(f"max_inputs must be between 1 and {MAX_INPUTS_PER_REQUEST}")
    counts = _token_counts(texts)
    runs: list[range] = []
    start, tokens = 0, 0
    for i, count in enumerate(counts):
        if count > max_tokens_per_input:
            raise EmbeddingInputError(
                f"texts[{i}] has {count} tokens ({EMBEDDING_ENCODING}); one input may have at "
                f"most {max_tokens_per_input}. Split it into chunks and embed those.",
                index=i,
            )
        if i > start and (i - start == max_inputs or tokens + count > max_tokens):
            runs.append(range(start, i))
            start, tokens = i, 0
        tokens += count
    if counts:
        runs.append(range(start, len(counts)))
    return runs


def _dimensions(dimensions: int | None) -> int | Omit:
    if dimensions is None:
        # Left out of the body rather than sent as null: ada-002 rejects the parameter outright.
        return omit
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise ValueError(f"dimensions must be a positive int or None, got {dimensions!r}")
    return dimensions


def _plan(texts: Sequence[str], max_inputs: int) -> list[range]:
    runs = batches(texts, max_inputs=max_inputs)
    if not runs:
        raise ValueError("texts is empty: there is nothing to embed")
    return runs


def _collect(responses: list[CreateEmbeddingResponse], n: int) -> EmbeddingResult:
    rows: list[list[float]] = []
    for response in responses:
        rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
    if len(rows) != n:
        raise RuntimeError(f"asked for {n} embeddings, got {len(rows)}")
    return EmbeddingResult(
        vectors=np.asarray(rows, dtype=np.float32).reshape(n, -1),
        prompt_tokens=sum(r.usage.prompt_tokens for r in responses),
        requests=len(responses),
        model=responses[0].model,
    )


def embed(
    client: OpenAI,
    texts: Sequence[str],
    *,
    model: str,
    dimensions: int | None = None,
    max_inputs: int = MAX_INPUTS_PER_REQUEST,
) -> EmbeddingResult:
    """Embed ``texts`` with the deployment ``model``, in as few requests as the limits allow.

    ``client`` is an ``AzureOpenAI`` (or v1 ``OpenAI``) client; its retries handle 429s.
    """
    size = _dimensions(dimensions)
    runs = _plan(texts, max_inputs)
    responses = [
        client.embeddings.create(model=model, input=[texts[i] for i in run], dimensions=size)
        for run in runs
    ]
    return _collect(responses, len(texts))


async def aembed(
    client: AsyncOpenAI,
    texts: Sequence[str],
    *,
    model: str,
    dimensions: int | None = None,
    max_inputs: int = MAX_INPUTS_PER_REQUEST,
) -> EmbeddingResult:
    """:func:`embed` with an ``AsyncAzureOpenAI`` client (requests are sent one after another)."""
    size = _dimensions(dimensions)
    runs = _plan(texts, max_inputs)
    responses = [
        await client.embeddings.create(model=model, input=[texts[i] for i in run], dimensions=size)
        for run in runs
    ]
    return _collect(responses, len(texts))


def _unit_rows(x: ArrayLike, name: str) -> NDArray[np.float64]:
    rows = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if rows.ndim != 2 or rows.shape[1] == 0:
        raise ValueError(f"{name} must be a vector or a 2-D array of vectors")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError(f"{name} contains a zero vector, which has no direction")
    return rows / norms


def cosine_similarity(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Cosine similarities of the rows of ``a`` with the rows of ``b``, shape ``(len(a), len(b))``.

    Vectors need not be normalised. Azure's embeddings already are (length 1), so for them
    this equals the dot product; with ``dimensions`` they are renormalised after shortening.
    """
    left, right = _unit_rows(a, "a"), _unit_rows(b, "b")
    if left.shape[1] != right.shape[1]:
        raise ValueError(
            f"vectors of different sizes ({left.shape[1]} and {right.shape[1]}): were they "
            "embedded with the same model and dimensions?"
        )
    result: NDArray[np.float64] = np.clip(left @ right.T, -1.0, 1.0)
    return result


def nearest(query: ArrayLike, candidates: ArrayLike, *, k: int = 5) -> list[Neighbour]:
    """The ``k`` candidates most similar to ``query`` (exact cosine), best first.

    Ties keep the candidates' order, so results are deterministic.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    scores = cosine_similarity(query, candidates)
    if scores.shape[0] != 1:
        raise ValueError("query must be one vector; call nearest once per query")
    order = np.argsort(-scores[0], kind="stable")[:k]
    return [Neighbour(int(i), float(scores[0, i])) for i in order]


# --- exercise -------------------------------------------------------------------------------

_TOP_TEXTS = ["A recipe for chicken soup", "Bank fees on credit cards", "Rain on Saturday", "Bread"]
_TOP_VECTORS = np.array(
    [[0.9, 0.1, 0.0], [3.0, 3.0, 0.0], [0.0, 1.0, 0.0], [0.6, 0.0, 0.8]], dtype=np.float64
)
"""Rows of different lengths, as vectors shortened by hand are: the longest is not the closest."""
_TOP_CASES: list[tuple[str, list[float], int]] = [
    ("a unit-length query, top two", [1.0, 0.0, 0.0], 2),
    ("a longer query, top three", [4.0, 0.0, 0.0], 3),
    ("a query near the third text, top one", [0.1, 2.0, 0.0], 1),
]


def check_top_texts(
    function: Callable[[NDArray[np.float64], NDArray[np.float64], list[str], int], list[str]],
) -> Feedback:
    """Exercise: ``function(query, vectors, texts, k)`` returns the ``k`` texts closest to
    ``query`` by cosine similarity, best first (``vectors[i]`` embeds ``texts[i]``).

    The vectors are not unit length, so a plain dot product ranks the longest first; the
    feedback names the case, what came back, and says so when the order is the dot product's
    or reversed.
    """
    name = "top texts"
    for case, query_values, k in _TOP_CASES:
        query = np.array(query_values, dtype=np.float64)
        got = attempt(name, function, query.copy(), _TOP_VECTORS.copy(), list(_TOP_TEXTS), k)
        if isinstance(got, Feedback):
            return got
        scores = cosine_similarity(query, _TOP_VECTORS)[0]
        expected = [_TOP_TEXTS[int(i)] for i in np.argsort(-scores, kind="stable")[:k]]
        if isinstance(got, np.ndarray | tuple):
            got = list(got)
        if got == expected:
            continue
        if not isinstance(got, list) or not all(isinstance(t, str) for t in got):
            return failed(name, f"for {case}, return a list of the texts; got {got!r}.")
        message = f"for {case}, you returned {got!r}, expected {expected!r}"
        dots = _TOP_VECTORS @ query
        by_dot = [_TOP_TEXTS[int(i)] for i in np.argsort(-dots, kind="stable")[:k]]
        worst_first = [_TOP_TEXTS[int(i)] for i in np.argsort(scores, kind="stable")[:k]]
        if len(got) != k:
            hint = f"return exactly k={k} texts"
        elif got == by_dot:
            hint = (
                "that is the dot product's order: the longest vector wins; divide by both "
                "vectors' norms (cosine similarity) so only the direction counts"
            )
        elif got == worst_first:
            hint = "that is the least similar first: sort from the highest similarity down"
        else:
            ranked = ", ".join(f"{t!r}: {s:.3f}" for t, s in zip(_TOP_TEXTS, scores, strict=True))
            hint = f"the cosine similarities are {ranked}"
        return failed(name, f"{message}: {hint}.")
    return passed(name, f"all {len(_TOP_CASES)} queries ranked by cosine similarity.")
