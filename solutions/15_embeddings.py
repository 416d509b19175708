"""Solution to notebook 15's exercise: the texts nearest a query, by cosine similarity.

Vectors that are not unit length (shortened by hand, or from another model) must be divided by
their norms; otherwise the dot product ranks the longest vector first, whatever its direction.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def top_texts(
    query: NDArray[np.float64], vectors: NDArray[np.float64], texts: list[str], k: int
) -> list[str]:
    """The ``k`` texts whose vectors point most nearly the way ``query`` does, best first."""
    rows = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = rows @ (query / np.linalg.norm(query))
    order = np.argsort(-scores, kind="stable")[:k]
    return [texts[int(i)] for i in order]
