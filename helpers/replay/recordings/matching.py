"""What makes two requests the same, and how to explain when none is.

Two requests match when their method, *route key*, api-version and
*canonical* bodies are equal.

* The route key names the operation and the deployment the same way on both
  API surfaces: ``POST /openai/deployments/gpt-4o/chat/completions`` and
  ``POST /openai/v1/chat/completions`` with ``"model": "gpt-4o"`` are the same
  request, so one recording serves the ``AzureOpenAI`` and the v1 ``OpenAI``
  client alike.
* api-versions must be equal when both sides have one; a recording without
  one, or a v1 request (which sends none), matches any.
* The canonical body has sorted keys and leaves out fields that change the
  presentation but not the answer (and the server-made ``vector_store_ids`` of a
  Responses ``file_search`` tool) (``encoding_format`` on embeddings, which
  the server re-encodes) plus any a recordings file lists under
  ``match.ignore_fields``. Multipart bodies are compared in their normalised
  form (fields, and each file's name, type and SHA-256), never byte for byte:
  their boundaries are random.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
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
    ignore = list(ignore)
    presentation = [f for suffix, fields in PRESENTATION_FIELDS.items() if path.endswith(suffix)
                    for f in fields]  # fmt: skip
    if not ignore and not presentation and not path.endswith("/responses"):
        return body  # nothing to leave out: compared as it is (never modified)
    result = copy.deepcopy(body)
    for suffix, fields in PRESENTATION_FIELDS.items():
        if path.endswith(suffix):
            for name in fields:
                _drop(result, name)
    for name in ignore:
        _drop(result, name)
    if path.endswith("/responses") and isinstance(result.get("tools"), list):
        # Vector store ids are made by the server that holds the store (Azure live, this
        # server offline), so a recorded file_search request matches whatever store id it got.
        for tool in result["tools"]:
            if isinstance(tool, dict) and tool.get("type") == "file_search":
                tool.pop("vector_store_ids", None)
    return result


def canonical_json(value: Any, *, pretty: bool = False) -> str:
    if pretty:
        return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_DEPLOYMENT_PATH = re.compile(r"/openai/deployments/([^/]+)/(.+)")
V1_MODEL_ROUTES = frozenset({"chat/completions", "embeddings", "responses"})
"""v1 routes whose deployment is the body's ``model``."""


def route_key(path: str, body: Any) -> str:
    """The operation and deployment a request addresses, the same on both API surfaces."""
    if found := _DEPLOYMENT_PATH.fullmatch(path):
        return f"deployment:{found.group(1)}/{found.group(2)}"
    rest = path.removeprefix("/openai/v1/").removeprefix("/openai/")
    if rest in V1_MODEL_ROUTES and isinstance(body, dict) and isinstance(body.get("model"), str):
        return f"deployment:{body['model']}/{rest}"
    return path


def canonical_key(method: str, path: str, body: Any, ignore: Iterable[str] = ()) -> str:
    """A string equal for two requests (api-version aside) exactly when they match."""
    return "\n".join(
        [method.upper(), route_key(path, body), canonical_json(canonical_body(path, body, ignore))]
    )


def versions_match(recorded: str | None, received: str | None) -> bool:
    return recorded is None or received is None or recorded == received


def normalise_multipart(fields: dict[str, Any], files: dict[str, tuple[str, str, bytes]]) -> Any:
    """A multipart body as matching sees it: plain fields, and each file by name, type and hash."""
    body: dict[str, Any] = dict(fields)
    for name, (filename, content_type, content) in files.items():
        body[name] = {
            "filename": filename,
            "content_type": content_type,
            "bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    return body


def describe_request(method: str, path: str, api_version: str | None, body: Any) -> list[str]:
    """The lines a diff compares: the request line, then the pretty canonical body."""
    head = f"{method.upper()} {path}" + (f"?api-version={api_version}" if api_version else "")
    return [head, *canonical_json(canonical_body(path, body), pretty=True).splitlines()]


_WORD = re.compile(r"\w+|[^\w\s]")
_MAX_WORDS = 4000


def _words(lines: Sequence[str]) -> list[str]:
    return _WORD.findall("\n".join(lines[1:]))[:_MAX_WORDS]


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
    received_words = _words(received)
    for label, lines in recorded:
        # Similarity of the whole request, word by word, so that a one-word edit diffs
        # against the recording it was made from (whole-line ties cannot tell them apart).
        matcher = difflib.SequenceMatcher(a=_words(lines), b=received_words, autojunk=False)
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
