"""Solution to notebook 6's exercise: the shortest time a job can take under both quotas."""


def minimum_minutes(items: int, tokens_per_item: int, rpm: int, tpm: int) -> float:
    """The longer of what the requests quota and the tokens quota allow: both hold at once."""
    return max(items / rpm, items * tokens_per_item / tpm)
