"""Facets: counts of the matching documents per value, interval or range of a facetable field.

A facet expression is ``field,param:value,...`` (Microsoft Learn, "Search Documents" REST
reference, ``facet``; "Add faceted navigation to a search app"):

* ``count:N``: at most ``N`` buckets (default 10); ``sort:count`` (the default, most documents
  first), ``-count``, ``value`` or ``-value``;
* ``values:a|b|c``: ranges ``< a``, ``[a, b)``, ``[b, c)``, ``>= c`` of a number or date field,
  answered as ``{"to": a, "count": n}``, ``{"from": a, "to": b, "count": n}``, ...;
* ``interval:X``: buckets of width ``X`` of a number field, or of a ``minute``, ``hour``,
  ``day``, ``week``, ``month``, ``quarter`` or ``year`` of a date field, each named by its lower
  bound and listed in order.

Counts are over every document the query matches (not only the page returned); a document
counts once per distinct value of a collection field; ``null`` values are not counted.
Errors: "Unknown field 'x' in facet specification." (Azure's wording, as quoted in
Azure-Samples/azure-search-knowledge-mining#98), and 400s in the same shape for a field that
is not facetable or a parameter the field's type does not take.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from . import errors
from .errors import shown
from .store import DOUBLE_MAX, GEOGRAPHY_POINT, NUMERIC_TYPES, Field, Index, parse_datetime

DATETIME = "Edm.DateTimeOffset"
PARAMETER = "facet"
DATE_INTERVALS = ("minute", "hour", "day", "week", "month", "quarter", "year")
MAX_FACETS = 100
"""Facet expressions per request this server takes (Azure publishes no number)."""
MAX_RANGES = 1000


@dataclass(frozen=True)
class Facet:
    """One parsed facet expression."""

    field: Field
    count: int = 10
    sort: str = "count"
    values: tuple[Any, ...] = ()
    interval: float | str | None = None


def _error(detail: str) -> errors.AzureError:
    return errors.search_error(400, f"{detail}\r\nParameter name: {PARAMETER}")


def parse_facets(value: Any, index: Index) -> list[Facet]:
    """The request's ``facets`` (an array of expressions), checked against the index."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.invalid_request("facets : must be an array of strings.")
    if len(value) > MAX_FACETS:
        raise _error(f"A query can have at most {MAX_FACETS} facet expressions.")
    return [parse_facet(expression, index) for expression in value]


def parse_facet(expression: str, index: Index) -> Facet:
    name, *parameters = (part.strip() for part in expression.split(","))
    spec = index.fields.get(name)
    if spec is None:
        raise _error(f"Unknown field '{shown(name)}' in facet specification.")
    if not spec.facetable or spec.is_vector or spec.element == GEOGRAPHY_POINT:
        raise _error(
            f"The field '{name}' is not facetable. Only fields marked facetable in the index "
            "can be used in facet specifications."
        )
    options: dict[str, str] = {}
    for parameter in parameters:
        key, colon, text = parameter.partition(":")
        key = key.strip()
        if not colon or key not in ("count", "sort", "values", "interval", "timeoffset"):
            raise _error(f"Invalid facet parameter '{shown(parameter)}' for the field '{name}'.")
        options[key] = text.strip()
    count = 10
    if "count" in options:
        text = options["count"]
        if not text.isascii() or not text.isdigit() or len(text) > 9:
            raise _error(f"The facet count '{shown(text)}' must be a non-negative integer.")
        count = int(text)
    sort = options.get("sort", "count")
    if sort not in ("count", "-count", "value", "-value"):
        raise _error(f"The facet sort '{shown(sort)}' must be count, -count, value or -value.")
    if "values" in options and "interval" in options:
        raise _error(f"The facet on '{name}' can have 'values' or 'interval', not both.")
    facet = Facet(spec, count=count, sort=sort)
    if "values" in options:
        return Facet(spec, count, sort, values=_boundaries(spec, options["values"]))
    if "interval" in options:
        return Facet(spec, count, sort, interval=_interval(spec, options["interval"]))
    return facet


def _boundaries(spec: Field, text: str) -> tuple[Any, ...]:
    if spec.element not in NUMERIC_TYPES and spec.element != DATETIME:
        raise _error(f"'values' needs a number or date field; '{spec.name}' is {spec.type}.")
    parts = text.split("|")
    if len(parts) > MAX_RANGES:
        raise _error(f"A facet can have at most {MAX_RANGES} values.")
    bounds = [_bound(spec, part) for part in parts]
    if any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)) or not bounds:
        raise _error(f"The facet values '{shown(text)}' must be in ascending order.")
    return tuple(bounds)


def _bound(spec: Field, text: str) -> Any:
    if spec.element == DATETIME:
        value = parse_datetime(text.strip())
        if value is None:
            raise _error(f"'{shown(text)}' is not a date-time with an offset.")
        return value
    try:
        number = float(text)
    except ValueError:
        raise _error(f"'{shown(text)}' is not a number.") from None
    if not math.isfinite(number) or abs(number) > DOUBLE_MAX:
        raise _error(f"'{shown(text)}' is out of the range of Edm.Double.")
    return number


def _interval(spec: Field, text: str) -> float | str:
    if spec.element == DATETIME:
        if text not in DATE_INTERVALS:
            raise _error(f"A date interval is one of {', '.join(DATE_INTERVALS)}.")
        return text
    if spec.element not in NUMERIC_TYPES:
        raise _error(f"'interval' needs a number or date field; '{spec.name}' is {spec.type}.")
    try:
        width = float(text)
    except ValueError:
        raise _error(f"The interval '{shown(text)}' is not a number.") from None
    if not math.isfinite(width) or width <= 0 or width > DOUBLE_MAX:
        raise _error(f"The interval '{shown(text)}' must be a number greater than 0.")
    return width


# -- counting ---------------------------------------------------------------------------------


def _values(document: dict[str, Any], spec: Field) -> list[Any]:
    value = document.get(spec.name)
    items = value if isinstance(value, list) else [value]
    distinct = []
    for item in items:
        if item is None:
            continue
        if spec.element == DATETIME and isinstance(item, str):
            item = parse_datetime(item)
            if item is None:
                continue
        if item not in distinct:
            distinct.append(item)
    return distinct


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _floor_date(value: datetime, unit: str) -> datetime:
    value = value.astimezone(UTC)
    if unit == "minute":
        return value.replace(second=0, microsecond=0)
    if unit == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    day = value.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)


def count_facets(
    facets: list[Facet], documents: Iterable[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """``@search.facets`` for the documents a query matched."""
    matched = list(documents)
    answer: dict[str, list[dict[str, Any]]] = {}
    for facet in facets:
        spec = facet.field
        if facet.values:
            answer[spec.name] = _ranges(facet, matched)
            continue
        counts: Counter[Any] = Counter()
        for document in matched:
            for value in _values(document, spec):
                if isinstance(facet.interval, str):
                    value = _floor_date(value, facet.interval)
                elif facet.interval is not None:
                    steps = value / facet.interval  # may overflow to inf: then its own bucket
                    value = math.floor(steps) * facet.interval if math.isfinite(steps) else value
                counts[value] += 1
        buckets = list(counts.items())
        if facet.interval is not None or facet.sort in ("value", "-value"):
            buckets.sort(key=lambda item: item[0], reverse=facet.sort == "-value")
        elif facet.sort == "-count":
            buckets.sort(key=lambda item: item[1])
        else:
            buckets.sort(key=lambda item: -item[1])
        if facet.count:
            buckets = buckets[: facet.count]
        answer[spec.name] = [{"value": _text(v), "count": n} for v, n in buckets]
    return answer


def _ranges(facet: Facet, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bounds = facet.values
    counts = [0] * (len(bounds) + 1)
    for document in documents:
        seen: set[int] = set()
        for value in _values(document, facet.field):
            slot = sum(1 for bound in bounds if value >= bound)
            seen.add(slot)
        for slot in seen:
            counts[slot] += 1
    ranges: list[dict[str, Any]] = []
    for slot, count in enumerate(counts):
        bucket: dict[str, Any] = {}
        if slot > 0:
            bucket["from"] = _text(bounds[slot - 1])
        if slot < len(bounds):
            bucket["to"] = _text(bounds[slot])
        bucket["count"] = count
        ranges.append(bucket)
    return ranges
