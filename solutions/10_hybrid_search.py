"""Solution to notebook 10's exercise: Reciprocal Rank Fusion of any number of rankings."""


def rrf(rankings: list[list[str]], k: int = 60) -> list[tuple[str, float]]:
    """``(key, score)`` best first: each ranking a key is in adds ``1 / (k + rank)`` (from 1)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1 / (k + rank)
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)
