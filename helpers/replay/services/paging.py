"""Cursor pages: how every list operation answers (files, vector stores and their files,
batches, a response's input items), written once.

A page is ``{"object": "list", "data": [...], "first_id", "last_id", "has_more"}``, what the
openai SDK's ``SyncCursorPage`` reads: while ``has_more`` is true, auto-pagination asks for
the next page with ``after=<id of the last item>``. The query parameters are the ones Azure's
specs give for vector stores (``List_Vector_Stores`` in the 2024-10-01-preview inference spec)
and batches (``Batch_List`` in the authoring spec), and OpenAI's API reference for files and
input items (the same in the openai SDK's ``files.list`` and ``input_items.list``):

* ``limit``: 1 to the list's maximum, its default otherwise;
* ``order``: ``asc`` or ``desc`` by creation time, ``desc`` by default, for lists that take
  it; the others (batches) list the newest first;
* ``after`` / ``before``: the id of an item of the list; the page holds the items that come
  after (before) it in the order asked for. An id the list does not hold gives an empty page
  (no documented answer; starting again from the top would loop a client that follows
  ``after`` forever).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import invalid_request
from ..validation import check_integer, type_error

T = TypeVar("T")


@dataclass(frozen=True)
class Paging:
    """One list's parameters: its ``limit`` range and whether it takes ``order``."""

    default_limit: int = 20
    max_limit: int = 100
    takes_order: bool = True


def _limit(query: Mapping[str, str], paging: Paging) -> int:
    raw = query.get("limit")
    if raw is None:
        return paging.default_limit
    try:
        value = int(raw)
    except ValueError:
        raise type_error("limit", "an integer") from None
    return check_integer(value, "limit", 1, paging.max_limit)


def _descending(query: Mapping[str, str], paging: Paging) -> bool:
    if not paging.takes_order:
        return True
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid_request(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", param="order"
        )
    return order == "desc"


def cursor_page(
    items: Sequence[T],
    query: Mapping[str, str],
    *,
    id_of: Callable[[T], str | None],
    describe: Callable[[T], dict[str, Any]],
    paging: Paging = Paging(),
) -> dict[str, Any]:
    """One page of ``items`` (given oldest first); only the page's items are described."""
    limit = _limit(query, paging)
    rows = list(reversed(items)) if _descending(query, paging) else list(items)
    ids = [id_of(item) for item in rows]
    after, before = query.get("after"), query.get("before")
    if after is not None:
        rows = rows[ids.index(after) + 1 :] if after in ids else []
    elif before is not None:
        rows = rows[: ids.index(before)] if before in ids else []
    page = rows[:limit]
    return {
        "data": [describe(item) for item in page],
        "first_id": id_of(page[0]) if page else None,
        "has_more": len(rows) > limit,
        "last_id": id_of(page[-1]) if page else None,
        "object": "list",
    }


def page_of(
    items: Sequence[dict[str, Any]], query: Mapping[str, str], paging: Paging = Paging()
) -> dict[str, Any]:
    """:func:`cursor_page` of items already described (objects, with an ``id`` if they have one)."""
    return cursor_page(
        items, query, id_of=lambda item: item.get("id"), describe=dict, paging=paging
    )
