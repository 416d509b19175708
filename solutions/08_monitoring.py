"""Solution to notebook 8's exercise: a nearest-rank percentile of latencies."""

import math


def percentile(latencies: list[float], q: int) -> float:
    """The latency at rank ceil(q/100 * n) of the sorted list (from 1): always a value seen."""
    ordered = sorted(latencies)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]
