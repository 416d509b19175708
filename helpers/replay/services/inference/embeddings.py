"""Stand-in embeddings for lenient mode: vectors that mean something, computed offline.

When no recording covers an embeddings request, the server answers with vectors from
a real but small *static* embedding model instead of noise, so that in a workshop a
sentence about cats still lands next to one about kittens and far from one about
invoices. It is a **stand-in** for ``text-embedding-3-small`` and friends, not a copy:
the geometry is similar in spirit (related texts have higher cosine similarity), the
numbers are not what Azure would return, and the ``x-replay-unrecorded`` header says so.

The model
    WordLlama ``l2_supercat`` at 256 dimensions, a table of one vector per token of the
    Llama 2 vocabulary (32,000 x 256, float16) that the ``wordllama`` wheel (MIT licence)
    ships together with its tokenizer file: nothing is downloaded, ever. Its author trained
    the table from the token embeddings of Llama 2 70B and other models with that
    vocabulary (see the package's README). A text's vector
    is the mean of its tokens' vectors, exactly what ``WordLlama.embed`` computes. We read
    the two files from the installed package ourselves rather than import ``wordllama``:
    its import calls ``logging.basicConfig(level=INFO)`` (which would switch on httpx's
    per-request log lines in every notebook), and its loader (0.4.0) looks for the shipped
    tokenizer under ``tokenizer/`` while the wheel has it under ``tokenizers/``, so
    ``WordLlama.load()`` downloads the tokenizer from Hugging Face.
    ``tests/test_embeddings_stand_in.py`` checks that our cosines equal the library's own.

Sizing the vector to the deployment (``D``, e.g. 1536) and to ``dimensions`` (``d``)
    - The 256-d model vector ``v`` is first rotated onto the principal axes of the
      model's token table (``R``, from an eigen-decomposition of its 256 x 256 second
      moment matrix, signs fixed), so coordinates come in order of importance. A
      rotation keeps every cosine exactly.
    - For ``D >= 512`` the full vector is ``[c*R v, s*S v]`` with ``c**2 = 256/D``,
      ``s**2 = 1 - c**2`` and ``S`` a fixed seeded ``(D-256) x 256`` matrix with
      orthonormal columns: an isometry, so cosines between full vectors are the model's
      exactly, and the energy is spread evenly over the ``D`` coordinates. (For
      ``256 < D < 512`` a seeded ``D x 256`` matrix with orthonormal columns is used.)
    - ``dimensions=d`` returns the first ``d`` coordinates of the full vector, L2
      renormalised: what Azure does for ``text-embedding-3`` models (Matryoshka-style
      shortening). Here ``d = 256`` gives back ``R v`` exactly; ``d < 256`` keeps the
      model's top ``d`` principal axes, a good but approximate shortening (cosines move
      a little, as they do with the real models); ``256 < d < D`` mixes in part of the
      seeded tail, also an approximation.
    - Values are rounded to 6 decimals so JSON, base64 and notebook outputs are stable.

Texts with no tokens (only possible inside a list, Azure rejects a bare ``""``) get a
unit vector seeded by the text's SHA-256. Token-array inputs are decoded with
``cl100k_base`` (the embedding models' encoding) and embedded as text.

The model is loaded once, lazily, under a lock, on the first simulated request: about
0.2 s and 33 MB (the token table as float32); then about 0.1 ms per text at 1,536 dimensions.
Vectors are the same on every run and restart; across machines, float rounding in the
eigen-decomposition could in principle change a last digit.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...._support.tokenizer import count_tokens, get_encoding
from ... import azure
from ...errors import ReplayError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = [
    "MODEL_DIMENSIONS",
    "MODEL_NAME",
    "StandInModel",
    "StandInModelError",
    "inputs_of",
    "simulate",
    "stand_in_model",
    "vector_for",
]

MODEL_NAME = "wordllama l2_supercat 256"
MODEL_DIMENSIONS = 256
PROJECTION_SEED = 20240125
"""Seed of the fixed tail projection (the release date of text-embedding-3, as a number)."""
DECIMALS = 6

_WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
_TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"

Matrix = NDArray[np.float64]


class StandInModelError(ReplayError, RuntimeError):
    """The wordllama wheel (which ships the stand-in model's files) is missing or incomplete."""


def _package_dir() -> Path:
    # find_spec locates the package without running its __init__ (see the module docstring).
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise StandInModelError(
            "The 'wordllama' package is not installed; it ships the stand-in embedding model "
            "the replay server uses for unrecorded embeddings (pip install wordllama)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class StandInModel:
    """The static model: a token table, its tokenizer and its principal axes."""

    table: NDArray[np.float32]
    """One 256-d vector per token id."""
    tokenizer: Tokenizer
    axes: Matrix
    """256 x 256 rotation whose rows are the table's principal axes, most important first."""

    @classmethod
    def load(cls, package_dir: Path | None = None) -> StandInModel:
        """Read the weights and tokenizer that the ``wordllama`` wheel ships (no network)."""
        # Imported here so that starting the server does not pay for them until needed.
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = package_dir or _package_dir()
        weights, tokenizer = folder / _WEIGHTS, folder / _TOKENIZER
        for path in (weights, tokenizer):
            if not path.is_file():
                raise StandInModelError(f"The wordllama wheel is missing {path}; reinstall it.")
        table = load_file(str(weights))["embedding.weight"].astype(np.float32)
        moments = table.astype(np.float64).T @ table.astype(np.float64)
        eigenvalues, eigenvectors = np.linalg.eigh(moments)
        axes = eigenvectors[:, np.argsort(eigenvalues)[::-1]].T
        # An axis and its negation are equally valid: pick the one whose largest entry is > 0.
        signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
        return cls(
            table=table, tokenizer=Tokenizer.from_file(str(tokenizer)), axes=axes * signs[:, None]
        )

    def embed(self, texts: list[str]) -> Matrix:
        """Unit 256-d vectors on the principal axes, one row per text (mean of token vectors)."""
        out = np.zeros((len(texts), MODEL_DIMENSIONS))
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        for row, (text, encoding) in enumerate(zip(texts, encodings, strict=True)):
            ids = np.clip(np.asarray(encoding.ids, dtype=np.int64), 0, len(self.table) - 1)
            mean = self.table[ids].astype(np.float64).mean(axis=0) if len(ids) else None
            if mean is None or not np.linalg.norm(mean) > 0:
                mean = _seeded_direction(text)
            out[row] = self.axes @ (mean / np.linalg.norm(mean))
        return out


_lock = threading.Lock()
_model: StandInModel | None = None


def stand_in_model() -> StandInModel:
    """The stand-in model, loaded on first use (thread-safe, once per process)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = StandInModel.load()
    return _model


def _seeded_direction(text: str) -> Matrix:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    return np.random.default_rng(seed).standard_normal(MODEL_DIMENSIONS)


@cache
def _expansion(size: int) -> Matrix:
    """A ``size x 256`` matrix with orthonormal columns whose top block is a multiple of I."""
    if size <= MODEL_DIMENSIONS:
        return np.eye(MODEL_DIMENSIONS)
    rng = np.random.default_rng([PROJECTION_SEED, size])
    tail_rows = size - MODEL_DIMENSIONS
    if tail_rows < MODEL_DIMENSIONS:
        q, _ = np.linalg.qr(rng.standard_normal((size, MODEL_DIMENSIONS)))
        return q
    q, _ = np.linalg.qr(rng.standard_normal((tail_rows, MODEL_DIMENSIONS)))
    head = MODEL_DIMENSIONS / size
    return np.vstack([np.sqrt(head) * np.eye(MODEL_DIMENSIONS), np.sqrt(1.0 - head) * q])


def vectors_for(texts: list[str], size: int, dimensions: int | None = None) -> list[list[float]]:
    """Stand-in vectors for a deployment of ``size`` dimensions, shortened to ``dimensions``."""
    if size < 1 or (dimensions is not None and not 1 <= dimensions <= max(size, 1)):
        raise ValueError(f"dimensions must be between 1 and {size}, got {dimensions}")
    if not texts:
        return []
    full = (
        stand_in_model().embed(texts) @ _expansion(size).T
    )  # rows are unit vectors of length >= 256
    full = full[:, :size] if size < MODEL_DIMENSIONS else full
    short = full[:, : dimensions or size]
    short = short / np.linalg.norm(short, axis=1, keepdims=True)
    rounded: list[list[float]] = (np.round(short, DECIMALS) + 0.0).tolist()  # + 0.0: no -0.0
    return rounded


def vector_for(text: str, dimensions: int) -> list[float]:
    """The stand-in vector of ``text`` for a deployment of ``dimensions`` dimensions."""
    return vectors_for([text], dimensions)[0]


def _decode_tokens(tokens: list[Any]) -> str:
    try:
        return get_encoding("cl100k_base").decode([int(t) for t in tokens])
    except (KeyError, ValueError, TypeError, OverflowError):
        return " ".join(map(str, tokens))


def inputs_of(body: dict[str, Any]) -> list[str]:
    """The texts of an embeddings request body (token arrays decoded with cl100k_base)."""
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    if value and all(isinstance(v, int) for v in value):
        return [_decode_tokens(value)]
    return [
        v if isinstance(v, str) else _decode_tokens(v) if isinstance(v, list) else str(v)
        for v in value
    ]


def simulate(body: dict[str, Any], model: str, default_dimensions: int) -> dict[str, Any]:
    """An embeddings response for ``body`` with stand-in vectors (see the module docstring)."""
    texts = inputs_of(body)
    dimensions = body.get("dimensions") or default_dimensions
    tokens = sum(count_tokens(t, "text-embedding-3-small") for t in texts)
    vectors = vectors_for(texts, default_dimensions, min(dimensions, default_dimensions))
    return azure.embeddings_body(model, vectors, tokens)
