"""Indexes and their documents, as the simulated search service holds them.

Each index keeps its definition (fields with Azure's defaults filled in, ``vectorSearch``
profiles and algorithms, anything else the client sent), its documents in upload order, and an
in-memory SQLite FTS5 table over its searchable text fields, which :mod:`.engine` ranks with
FTS5's own ``bm25()``.
"""

from __future__ import annotations

import copy
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

from . import errors

STRING = "Edm.String"
NUMERIC_TYPES = frozenset({"Edm.Int32", "Edm.Int64", "Edm.Double"})
SCALAR_TYPES = frozenset(
    {STRING, "Edm.Boolean", "Edm.DateTimeOffset", "Edm.GeographyPoint", *NUMERIC_TYPES}
)
VECTOR_ELEMENT_TYPES = frozenset({"Edm.Single", "Edm.Half", "Edm.Int16", "Edm.SByte", "Edm.Byte"})
INDEX_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?$")
# "Keys can only contain letters, digits, underscore (_), dash (-), or equal sign (=)."
DOCUMENT_KEY = re.compile(r"^[A-Za-z0-9_\-=]+$")
SINGLE_MAX = 3.4028234663852886e38
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def element_type(type_name: str) -> str:
    """``Edm.String`` for ``Collection(Edm.String)``; the type itself for a scalar."""
    match = re.fullmatch(r"Collection\((.+)\)", type_name)
    return match.group(1) if match else type_name


@dataclass(frozen=True)
class Field:
    """One field of an index, with Azure's defaults applied."""

    name: str
    type: str
    key: bool
    searchable: bool
    filterable: bool
    sortable: bool
    facetable: bool
    retrievable: bool
    dimensions: int | None = None
    profile: str | None = None

    @property
    def is_collection(self) -> bool:
        return self.type.startswith("Collection(")

    @property
    def element(self) -> str:
        return element_type(self.type)

    @property
    def is_vector(self) -> bool:
        return self.is_collection and self.element in VECTOR_ELEMENT_TYPES


@dataclass
class Index:
    """An index: its definition, documents and full-text table."""

    name: str
    definition: dict[str, Any]
    fields: dict[str, Field]
    key: Field
    etag: str
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    rowids: dict[str, int] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    """searchable field name -> FTS5 column name (c0, c1, ...)."""
    db: sqlite3.Connection = field(
        default_factory=lambda: sqlite3.connect(":memory:", check_same_thread=False)
    )
    next_rowid: int = 1

    def __post_init__(self) -> None:
        searchable = [f for f in self.fields.values() if f.searchable and f.element == STRING]
        self.columns = {f.name: f"c{i}" for i, f in enumerate(searchable)}
        if self.columns:
            # unicode61 (case folding, diacritics removed) approximates Azure's standard analyzer.
            columns = ", ".join(self.columns.values())
            self.db.execute(
                f"CREATE VIRTUAL TABLE docs USING fts5({columns}, "
                "tokenize = 'unicode61 remove_diacritics 2')"
            )

    def representation(self) -> dict[str, Any]:
        """The index definition as GET /indexes('name') returns it."""
        body = copy.deepcopy(self.definition)
        body["@odata.etag"] = self.etag
        return body

    def vector_metric(self, vector_field: Field) -> str:
        """The similarity metric of a vector field's profile (``cosine`` unless configured)."""
        search = self.definition.get("vectorSearch") or {}
        profile = next(
            (p for p in search.get("profiles") or [] if p.get("name") == vector_field.profile),
            None,
        )
        if profile is None:
            return "cosine"
        algorithm = next(
            (
                a
                for a in search.get("algorithms") or []
                if a.get("name") == profile.get("algorithm")
            ),
            None,
        )
        if algorithm is None:
            return "cosine"
        parameters = (
            algorithm.get("hnswParameters") or algorithm.get("exhaustiveKnnParameters") or {}
        )
        return str(parameters.get("metric") or "cosine")

    # -- documents -------------------------------------------------------------------------

    def put(self, key: str, document: dict[str, Any]) -> None:
        """Insert or replace a whole document (``document`` is already validated)."""
        self._unindex(key)
        # A replaced document keeps its place (and rowid): ties rank in first-upload order.
        self.documents[key] = document
        rowid = self.rowids.get(key)
        if rowid is None:
            rowid = self.next_rowid
            self.next_rowid += 1
            self.rowids[key] = rowid
        if self.columns:
            texts = [_text(document.get(name)) for name in self.columns]
            placeholders = ", ".join("?" for _ in texts)
            self.db.execute(
                f"INSERT INTO docs (rowid, {', '.join(self.columns.values())}) "
                f"VALUES (?, {placeholders})",
                [rowid, *texts],
            )

    def remove(self, key: str) -> None:
        self._unindex(key)
        self.documents.pop(key, None)
        self.rowids.pop(key, None)

    def _unindex(self, key: str) -> None:
        rowid = self.rowids.get(key)
        if rowid is not None and self.columns:
            self.db.execute("DELETE FROM docs WHERE rowid = ?", [rowid])

    def key_for_rowid(self) -> dict[int, str]:
        return {rowid: key for key, rowid in self.rowids.items()}

    def close(self) -> None:
        self.db.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(item) for item in value if item is not None)
    return str(value)


class SearchState:
    """Every index of the simulated search service. ``reset()`` empties it."""

    def __init__(self) -> None:
        self.indexes: dict[str, Index] = {}
        self.lock = threading.RLock()
        self._etags = 0

    def reset(self) -> None:
        with self.lock:
            for index in self.indexes.values():
                index.close()
            self.indexes.clear()

    def __iter__(self) -> Iterator[Index]:
        return iter(list(self.indexes.values()))

    def next_etag(self) -> str:
        self._etags += 1
        return f'"0x8DD{self._etags:013X}"'

    def build_index(self, body: Any, *, name: str | None = None) -> Index:
        """An :class:`Index` from a create/update body, or Azure's 400 saying what is wrong."""
        if not isinstance(body, dict):
            raise errors.invalid_request("index : The index definition must be a JSON object.")
        index_name = body.get("name", name)
        if name is not None and index_name != name:
            raise errors.bad_request(
                f"The index name '{index_name}' in the request body does not match the name "
                f"'{name}' in the URL."
            )
        if not isinstance(index_name, str) or not INDEX_NAME.fullmatch(index_name):
            raise errors.invalid_request(
                "name : Index name must only contain lowercase letters, digits or dashes, "
                "cannot start or end with dashes and is limited to 128 characters."
            )
        raw_fields = body.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            raise errors.invalid_request("fields : The index must have at least one field.")
        vector_search = body.get("vectorSearch") or {}
        if not isinstance(vector_search, dict):
            raise errors.invalid_request("vectorSearch : must be a JSON object.")
        profiles = {
            p.get("name"): p for p in vector_search.get("profiles") or [] if isinstance(p, dict)
        }
        algorithms = {
            a.get("name") for a in vector_search.get("algorithms") or [] if isinstance(a, dict)
        }
        for profile_name, profile in profiles.items():
            if profile.get("algorithm") not in algorithms:
                raise errors.invalid_request(
                    f"vectorSearch.profiles : The vector search profile '{profile_name}' refers "
                    f"to the algorithm configuration '{profile.get('algorithm')}', which is not "
                    "defined in vectorSearch.algorithms."
                )
        fields: dict[str, Field] = {}
        normalized: list[dict[str, Any]] = []
        for raw in raw_fields:
            parsed, shown = _parse_field(raw, profiles)
            if parsed.name in fields:
                raise errors.invalid_request(
                    f"fields : The field '{parsed.name}' is defined more than once."
                )
            fields[parsed.name] = parsed
            normalized.append(shown)
        keys = [f for f in fields.values() if f.key]
        if len(keys) != 1:
            raise errors.invalid_request(
                "fields : The index must contain exactly one key field of type Edm.String; "
                f"found {len(keys)}."
            )
        definition = copy.deepcopy(body)
        definition["name"] = index_name
        definition["fields"] = normalized
        return Index(
            name=index_name,
            definition=definition,
            fields=fields,
            key=keys[0],
            etag=self.next_etag(),
        )


def _parse_field(raw: Any, profiles: dict[Any, Any]) -> tuple[Field, dict[str, Any]]:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise errors.invalid_request("fields : Every field needs a 'name' and a 'type'.")
    name = raw["name"]
    type_name = raw.get("type")
    if not isinstance(type_name, str):
        raise errors.invalid_request(f"fields : The field '{name}' has no 'type'.")
    element = element_type(type_name)
    if element == "Edm.ComplexType":
        raise errors.not_simulated(
            f"The complex field '{name}'",
            "Use flat fields (e.g. 'address_city') in indexes built against the replay server.",
        )
    is_collection = element != type_name
    is_vector = is_collection and element in VECTOR_ELEMENT_TYPES
    if element not in SCALAR_TYPES and not is_vector:
        raise errors.invalid_request(
            f"fields : The field '{name}' has an unknown type '{type_name}'."
        )
    is_string = element == STRING
    key = bool(raw.get("key", False))
    if key and type_name != STRING:
        raise errors.invalid_request(
            f"fields : The key field '{name}' must be of type Edm.String, not {type_name}."
        )

    def flag(attribute: str, default: bool) -> bool:
        value = raw.get(attribute)
        return default if value is None else bool(value)

    dimensions = raw.get("dimensions")
    profile = raw.get("vectorSearchProfile")
    if is_vector:
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 2:
            raise errors.invalid_request(
                f"fields : The vector field '{name}' must set 'dimensions' (an integer, 2 to 4096)."
            )
        if profile not in profiles:
            raise errors.invalid_request(
                f"fields : The vector field '{name}' must name a vector search profile "
                f"defined in vectorSearch.profiles ('vectorSearchProfile': {profile!r})."
            )
    parsed = Field(
        name=name,
        type=type_name,
        key=key,
        searchable=flag("searchable", is_string or is_vector),
        filterable=flag("filterable", not is_vector),
        sortable=flag("sortable", not is_collection),
        facetable=flag("facetable", not is_vector),
        retrievable=flag("retrievable", True),
        dimensions=dimensions if is_vector else None,
        profile=profile if is_vector else None,
    )
    if parsed.searchable and not (is_string or is_vector):
        raise errors.invalid_request(
            f"fields : The field '{name}' of type {type_name} cannot be searchable; only "
            "string and vector fields can."
        )
    if parsed.sortable and is_collection:
        raise errors.invalid_request(f"fields : The collection field '{name}' cannot be sortable.")
    shown = dict(raw)
    shown.update(
        key=parsed.key,
        searchable=parsed.searchable,
        filterable=parsed.filterable,
        sortable=parsed.sortable,
        facetable=parsed.facetable,
        retrievable=parsed.retrievable,
    )
    return parsed, shown


# -- document values -------------------------------------------------------------------------


def validate_document(index: Index, document: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The document with only index fields, each value checked against its field's type.

    Raises Azure's 400 (a bad value fails the whole batch, as on Azure).
    """
    clean: dict[str, Any] = {}
    for name, value in document.items():
        if name == "@search.action":
            continue
        spec = index.fields.get(name)
        if spec is None:
            raise errors.invalid_request(
                f"The property '{name}' does not exist on type 'search.documentFields'. Make sure "
                "to only use property names that are defined by the type."
            )
        clean[name] = _check_value(spec, value)
    if not partial:
        for name in index.fields:
            clean.setdefault(name, None)
    return clean


def _check_value(spec: Field, value: Any) -> Any:
    if value is None:
        return None
    if spec.is_vector:
        if not is_vector(value):
            raise errors.invalid_request(
                f"The vector field '{spec.name}' must be an array of numbers within the range "
                "of Edm.Single."
            )
        if len(value) != spec.dimensions:
            raise errors.invalid_request(
                f"The vector field '{spec.name}', with dimension of '{spec.dimensions}', expects "
                f"a length of '{spec.dimensions}'. However, the provided length is '{len(value)}'."
            )
        return [float(v) for v in value]
    if spec.is_collection:
        if not isinstance(value, list):
            raise errors.invalid_request(
                f"The field '{spec.name}' is a {spec.type}; send a JSON array, not "
                f"{type(value).__name__}."
            )
        return [_check_scalar(spec, spec.element, item) for item in value]
    return _check_scalar(spec, spec.type, value)


def _check_scalar(spec: Field, type_name: str, value: Any) -> Any:
    ok: bool
    if value is None:
        return None
    if type_name == STRING:
        ok = isinstance(value, str)
    elif type_name == "Edm.Boolean":
        ok = isinstance(value, bool)
    elif type_name in ("Edm.Int32", "Edm.Int64"):
        low, high = INT32 if type_name == "Edm.Int32" else INT64
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    elif type_name == "Edm.Double":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif type_name == "Edm.DateTimeOffset":
        ok = isinstance(value, str) and parse_datetime(value) is not None
    else:  # Edm.GeographyPoint: stored as sent
        ok = isinstance(value, dict)
    if not ok:
        raise errors.invalid_request(
            f"The value {value!r} of the field '{spec.name}' is not a valid {type_name}."
        )
    return value


def is_vector(value: Any) -> TypeGuard[list[float]]:
    """A non-empty list of finite numbers that fit in Edm.Single (float32)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(v, int | float) and not isinstance(v, bool) and abs(v) <= SINGLE_MAX
            for v in value
        )
    )


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 timestamp with an offset (``Z`` allowed), or ``None``."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
