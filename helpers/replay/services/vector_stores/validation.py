"""Vector stores: Azure's 400s for the parameters of their requests and of the ``file_search``
tool (chunking strategy, expiry, metadata and attributes, file ids, search queries, ranking
options, attribute filters).

Each check returns the value in the form the operations use, so an operation validates and
reads a parameter with one call. Ranges: chunking as documented in :mod:`.store`;
``expires_after.days`` 1 to 365 and ``max_num_results`` 1 to 50 (Azure's 2024-10-01-preview
inference spec, ``vectorStoreExpirationAfter`` and the file search tool); filters as the v1
spec's ``ComparisonFilter`` and ``CompoundFilter``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ...errors import invalid_request
from ...validation import (
    check_array_length,
    check_integer,
    check_metadata,
    missing_parameter,
    type_error,
)
from . import store as sim

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")


def chunking_strategy(value: Any, name: str = "chunking_strategy") -> dict[str, Any]:
    """The static strategy a request asks for (``auto`` or absent: 800/400)."""
    if value is None:
        return copy.deepcopy(sim.DEFAULT_STRATEGY)
    if not isinstance(value, dict):
        raise type_error(name, "an object")
    kind = value.get("type")
    if kind == "auto":
        return copy.deepcopy(sim.DEFAULT_STRATEGY)
    if kind != "static":
        raise invalid_request(
            f"Invalid value: '{kind}'. Supported values are: 'auto' and 'static'.",
            param=f"{name}.type",
        )
    static = value.get("static")
    if not isinstance(static, dict):
        raise missing_parameter(f"{name}.static")
    size = check_integer(
        static.get("max_chunk_size_tokens"),
        f"{name}.static.max_chunk_size_tokens",
        sim.MIN_CHUNK_TOKENS,
        sim.MAX_CHUNK_TOKENS,
    )
    overlap = check_integer(
        static.get("chunk_overlap_tokens"), f"{name}.static.chunk_overlap_tokens", 0, size
    )
    if overlap > size // 2:
        raise invalid_request(
            f"Invalid '{name}.static.chunk_overlap_tokens': must not exceed half of "
            f"max_chunk_size_tokens ({size // 2}), got {overlap}.",
            param=f"{name}.static.chunk_overlap_tokens",
        )
    return sim.static_strategy(size, overlap)


def expires_after(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise type_error("expires_after", "an object")
    if value.get("anchor") != "last_active_at":
        raise invalid_request(
            f"Invalid value: '{value.get('anchor')}'. Supported values are: 'last_active_at'.",
            param="expires_after.anchor",
        )
    days = check_integer(value.get("days"), "expires_after.days", 1, 365)
    return {"anchor": "last_active_at", "days": days}


def metadata(value: Any, name: str = "metadata") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise type_error(name, "an object")
    check_metadata(value, name)
    return dict(value)


def attributes(value: Any) -> dict[str, Any] | None:
    """A vector store file's ``attributes``: metadata whose values may be numbers or booleans."""
    if value is None:
        return None
    found = metadata(value, "attributes")
    for key, item in found.items():
        if not isinstance(item, (str, int, float, bool)):
            raise type_error(f"attributes.{key}", "a string, number or boolean")
    return found


def file_ids(value: Any, name: str = "file_ids") -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise type_error(name, "an array of strings")
    check_array_length(value, name, sim.MAX_FILES_PER_STORE)
    return list(value)


def queries(value: Any, name: str) -> list[str]:
    """A search's ``query``: a string or an array of strings, not all blank."""
    if isinstance(value, str):
        found = [value]
    elif isinstance(value, list) and all(isinstance(q, str) for q in value):
        found = list(value)
    elif value is None:
        raise missing_parameter(name)
    else:
        raise type_error(name, "a string or an array of strings")
    if not any(q.strip() for q in found):
        raise invalid_request(f"Invalid '{name}': empty string.", param=name, code="empty_string")
    return found


def max_num_results(value: Any, name: str) -> None:
    if value is not None:
        check_integer(value, name, 1, 50)


def ranking(value: Any, name: str) -> tuple[float, float, float]:
    """``(score_threshold, embedding_weight, text_weight)`` from ``ranking_options``."""
    if value is None:
        return 0.0, 1.0, 1.0
    if not isinstance(value, dict):
        raise type_error(name, "an object")
    threshold = value.get("score_threshold", 0.0)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise type_error(f"{name}.score_threshold", "a number")
    if not 0 <= threshold <= 1:
        raise invalid_request(
            f"Invalid '{name}.score_threshold': expected a number between 0 and 1, "
            f"but got {threshold} instead.",
            param=f"{name}.score_threshold",
        )
    hybrid = value.get("hybrid_search") or {}
    if not isinstance(hybrid, dict):
        raise type_error(f"{name}.hybrid_search", "an object")
    weights = (hybrid.get("embedding_weight", 1.0), hybrid.get("text_weight", 1.0))
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise type_error(f"{name}.hybrid_search", "non-negative weights")
    return float(threshold), float(weights[0]), float(weights[1])


def check_filter(node: Any, name: str) -> None:
    """Azure's 400 for a malformed attribute filter (a comparison, or and/or of filters)."""
    if not isinstance(node, dict):
        raise type_error(name, "an object")
    kind = node.get("type")
    if kind in ("and", "or"):
        children = node.get("filters")
        if not isinstance(children, list) or not children:
            raise type_error(f"{name}.filters", "a non-empty array of filters")
        for i, child in enumerate(children):
            check_filter(child, f"{name}.filters[{i}]")
        return
    if kind not in COMPARISONS:
        raise invalid_request(
            f"Invalid value: '{kind}'. Supported values are: "
            + ", ".join(f"'{c}'" for c in (*COMPARISONS, "and", "or"))
            + ".",
            param=f"{name}.type",
        )
    if not isinstance(node.get("key"), str):
        raise type_error(f"{name}.key", "a string")
    if not isinstance(node.get("value"), (str, int, float, bool)):
        raise type_error(f"{name}.value", "a string, number or boolean")


def file_search_tool(tool: dict[str, Any], name: str, exists: Callable[[str], bool]) -> None:
    """A Responses ``file_search`` tool: vector stores that ``exist``, and its options."""
    ids = tool.get("vector_store_ids")
    if ids is None:
        raise missing_parameter(f"{name}.vector_store_ids")
    for store_id in file_ids(ids, f"{name}.vector_store_ids"):
        if not exists(store_id):
            raise invalid_request(
                f"Vector store '{store_id}' not found.", param=f"{name}.vector_store_ids"
            )
    max_num_results(tool.get("max_num_results"), f"{name}.max_num_results")
    ranking(tool.get("ranking_options"), f"{name}.ranking_options")
    if tool.get("filters") is not None:
        check_filter(tool["filters"], f"{name}.filters")
