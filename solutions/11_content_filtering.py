"""Solution to notebook 11's exercise: what blocked a prompt, read from a 400's error body.

Only a 400 whose ``code`` is ``"content_filter"`` is the filter's verdict; its categories and
detectors sit under ``innererror.content_filter_result`` (some samples spell it
``content_filter_results``), and only those marked ``"filtered": true`` blocked the prompt: a
severity other than ``safe`` alone does not.
"""

from __future__ import annotations

from typing import Any


def blocked_categories(body: dict[str, Any]) -> list[str]:
    """The sorted names of the categories and detectors that blocked the prompt, or ``[]``."""
    if body.get("code") != "content_filter":
        return []
    inner = body.get("innererror") or {}
    verdict = inner.get("content_filter_result") or inner.get("content_filter_results") or {}
    return sorted(
        name
        for name, result in verdict.items()
        if isinstance(result, dict) and result.get("filtered")
    )
