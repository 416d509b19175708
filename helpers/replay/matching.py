"""What makes two requests the same, and how to explain when none is.

Two requests match when their method, path (deployment included), api-version
and *canonical* JSON bodies are equal. The canonical body has sorted keys and
leaves out fields that change the presentation but not the answer
(``encoding_format`` on embeddings, which the server re-encodes) plus any a
recordings file lists under ``match.ignore_fields``.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterable, Sequence
from typing import Any

PRESENTATION_FIELDS: dict[str, tuple[str, ...]] = {
    "/embeddings": ("encoding_format",),
}
"""Per-route body fields that never take part in matching."""


def _drop(body: Any, dotted: str) -> None:
    head, _, rest = dotted.partition(".")
    if not isinstance(body, dict) or head not in body:
        return
    if rest:
        _drop(body[head], rest)
    else:
        del body[head]


def canonical_body(path: str, body: Any, ignore: Iterable[str] = ()) -> Any:
    """The body with presentation-only and ignored fields removed."""
    if not isinstance(body, dict):
        return body
    result = copy.deepcopy(body)
    for suffix, fields in PRESENTATION_FIELDS.items():
        if path.endswith(suffix):
            for name in fields:
                _drop(result, name)
    for name in ignore:
        _drop(result, name)
    return result


def canonical_json(value: Any, *, pretty: bool = False) -> str:
    if pretty:
        return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_key(
    method: str, path: str, api_version: str | None, body: Any, ignore: Iterable[str] = ()
) -> str:
    """A string equal for two requests exactly when they match."""
    return "\n".join(
        [method.upper(), path, str(api_version), canonical_json(canonical_body(path, body, ignore))]
    )


def describe_request(method: str, path: str, api_version: str | None, body: Any) -> list[str]:
    """The lines a diff compares: the request line, then the pretty canonical body."""
    head = f"{method.upper()} {path}?api-version={api_version}"
    return [head, *canonical_json(canonical_body(path, body), pretty=True).splitlines()]


def nearest_diff(
    received: Sequence[str],
    recorded: Iterable[tuple[str, Sequence[str]]],
    *,
    max_lines: int = 30,
) -> tuple[str, str] | None:
    """The label of the recorded request closest to ``received`` and a short unified diff.

    ``recorded`` yields ``(label, lines)`` pairs as made by :func:`describe_request`.
    """
    best: tuple[float, str, Sequence[str]] | None = None
    for label, lines in recorded:
        matcher = difflib.SequenceMatcher(a=lines, b=received, autojunk=False)
        score = matcher.ratio() + (1.0 if lines[:1] == received[:1] else 0.0)
        if best is None or score > best[0]:
            best = (score, label, lines)
    if best is None:
        return None
    _, label, lines = best
    diff = list(
        difflib.unified_diff(list(lines), list(received), "recorded", "received", n=1, lineterm="")
    )
    if len(diff) > max_lines:
        diff = [*diff[:max_lines], f"... ({len(diff) - max_lines} more diff lines)"]
    return label, "\n".join(diff)
