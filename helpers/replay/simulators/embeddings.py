"""Simulated embeddings for lenient mode: deterministic unit vectors.

The same text always gets the same vector (seeded by its SHA-256), so cosine
similarities are stable across runs; they carry no meaning, which the
``x-replay-unrecorded`` header says.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

from ...tokenizer import count_tokens
from .. import azure


def vector_for(text: str, dimensions: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    raw = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [round(v / norm, 6) for v in raw]


def inputs_of(body: dict[str, Any]) -> list[str]:
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    # Token arrays: embed their decimal form, which keeps results deterministic.
    if isinstance(value, list):
        return [" ".join(map(str, v)) if isinstance(v, list) else str(v) for v in value]
    return []


def simulate(body: dict[str, Any], model: str, default_dimensions: int) -> dict[str, Any]:
    texts = inputs_of(body)
    dimensions = body.get("dimensions") or default_dimensions
    tokens = sum(count_tokens(t, "text-embedding-3-small") for t in texts)
    return azure.embeddings_body(model, [vector_for(t, dimensions) for t in texts], tokens)
