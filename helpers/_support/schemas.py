"""The rules a JSON schema must follow in strict mode, in one place.

Azure accepts a schema for structured outputs (``response_format`` with
``"strict": true``) or for a strict tool only if every object is closed
(``additionalProperties: false``), every property is listed in ``required``,
and no ``default`` is given. :func:`strict_violations` finds every place a
schema breaks those rules. The replay server reports the first one as Azure
does (:mod:`helpers.replay.validation`); section 3 lists them all for the
learner (:func:`helpers.structured_outputs.strict_schema_problems`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["StrictViolation", "strict_violations"]

Rule = Literal["default", "additionalProperties", "required"]


@dataclass(frozen=True)
class StrictViolation:
    """One broken rule at one place in a schema.

    ``path`` is the way down from the root, as Azure writes its error context:
    ``("properties", "contact")``, ``("items",)``, ``("anyOf", "0")``, or
    ``("$defs", "Name")`` for a definition. ``missing`` names the properties
    absent from ``required`` (rule ``"required"`` only).
    """

    path: tuple[str, ...]
    rule: Rule
    missing: tuple[str, ...] = ()


def _is_object(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node


def strict_violations(schema: Any) -> Iterator[StrictViolation]:
    """Every violation of the strict-mode rules, in document order (root first)."""

    def walk(node: Any, path: tuple[str, ...]) -> Iterator[StrictViolation]:
        if not isinstance(node, dict):
            return
        if "default" in node:
            yield StrictViolation(path, "default")
        properties = node.get("properties") or {}
        if _is_object(node):
            if node.get("additionalProperties") is not False:
                yield StrictViolation(path, "additionalProperties")
            required = node.get("required")
            listed = required if isinstance(required, list) else []
            missing = tuple(key for key in properties if key not in listed)
            if missing:
                yield StrictViolation(path, "required", missing)
        for key, sub in properties.items():
            yield from walk(sub, (*path, "properties", key))
        yield from walk(node.get("items"), (*path, "items"))
        for keyword in ("anyOf", "allOf"):
            for i, sub in enumerate(node.get(keyword) or []):
                yield from walk(sub, (*path, keyword, str(i)))
        for name, sub in (node.get("$defs") or {}).items():
            yield from walk(sub, ("$defs", name))

    yield from walk(schema, ())
