"""Indexes and their documents, as the simulated search service holds them.

Each index keeps its definition (fields with Azure's defaults filled in, ``vectorSearch``
profiles and algorithms, anything else the client sent), its documents in upload order, and
for every searchable text field an inverted index in Lucene's terms: the terms of each
document (:mod:`.analysis`), their postings (term -> document -> frequency) and each field's
length and token count, which is what :mod:`.engine` needs to rank with Lucene's BM25.

Nothing here is half-done: a definition is checked in full (:meth:`SearchState.build_index`)
before an index exists, and a document in full (:func:`validate_document`, :meth:`Index.analyze`)
before it is stored, so a request that fails leaves the service as it was.
"""

from __future__ import annotations

import copy
import math
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

from ...replies import dump_json
from . import errors, limits
from .analysis import MAX_TERM_BYTES, tokens
from .budget import DEFAULT_SECONDS, Deadline
from .errors import shown

STRING = "Edm.String"
GEOGRAPHY_POINT = "Edm.GeographyPoint"
NUMERIC_TYPES = frozenset({"Edm.Int32", "Edm.Int64", "Edm.Double"})
SCALAR_TYPES = frozenset(
    {STRING, "Edm.Boolean", "Edm.DateTimeOffset", GEOGRAPHY_POINT, *NUMERIC_TYPES}
)
VECTOR_ELEMENT_TYPES = frozenset({"Edm.Single", "Edm.Half", "Edm.Int16", "Edm.SByte", "Edm.Byte"})
INDEX_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?$")
# "Field names must start with a letter, contain only letters, digits or underscores" and not
# start with "azureSearch" (Microsoft Learn, "Naming rules in Azure AI Search").
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
CONFIG_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$")
# "Keys can only contain letters, digits, underscore (_), dash (-), or equal sign (=)."
DOCUMENT_KEY = re.compile(r"^[A-Za-z0-9_\-=]+$")
SINGLE_MAX = 3.4028234663852886e38
DOUBLE_MAX = 1.7976931348623157e308
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
METRICS = ("cosine", "euclidean", "dotProduct", "hamming")
BM25 = "#Microsoft.Azure.Search.BM25Similarity"
CLASSIC = "#Microsoft.Azure.Search.ClassicSimilarity"
DEFAULT_K1, DEFAULT_B = 1.2, 0.75
"""BM25's defaults in Azure AI Search (Microsoft Learn, "Configure BM25 relevance scoring")."""
POSITION_GAP = None
"""Between two values of a string collection: no phrase matches across it."""

Analyzed = dict[str, list[str | None]]
"""A document's searchable text: field -> its terms in order (``None`` between two values)."""


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

    @property
    def is_text(self) -> bool:
        """Searchable text: full-text queries match and rank it."""
        return self.searchable and self.element == STRING


@dataclass
class TextField:
    """The inverted index of one searchable field, with what BM25 needs to score it."""

    postings: dict[str, dict[str, int]] = field(default_factory=dict)
    """term -> document key -> term frequency."""
    terms: dict[str, list[str | None]] = field(default_factory=dict)
    """document key -> the field's terms in order (for phrases)."""
    lengths: dict[str, int] = field(default_factory=dict)
    """document key -> number of terms (only documents with at least one)."""
    total_terms: int = 0
    _vocabulary: list[str] | None = None

    @property
    def doc_count(self) -> int:
        """Lucene's ``docCount``: documents with at least one term in the field."""
        return len(self.lengths)

    @property
    def average_length(self) -> float:
        return self.total_terms / self.doc_count if self.doc_count else 0.0

    def vocabulary(self) -> list[str]:
        """The field's terms, sorted (for prefix queries)."""
        if self._vocabulary is None:
            self._vocabulary = sorted(self.postings)
        return self._vocabulary

    def add(self, key: str, terms: list[str | None]) -> None:
        counts = Counter(term for term in terms if term is not None)
        if not counts:
            return
        for term, count in counts.items():
            self.postings.setdefault(term, {})[key] = count
        length = sum(counts.values())
        self.terms[key] = terms
        self.lengths[key] = length
        self.total_terms += length
        self._vocabulary = None

    def discard(self, key: str) -> None:
        terms = self.terms.pop(key, None)
        if terms is None:
            return
        for term in set(terms):
            if term is None:
                continue
            postings = self.postings[term]
            del postings[key]
            if not postings:
                del self.postings[term]
        self.total_terms -= self.lengths.pop(key)
        self._vocabulary = None


@dataclass
class Index:
    """An index: its definition, documents and inverted indexes."""

    name: str
    definition: dict[str, Any]
    fields: dict[str, Field]
    key: Field
    etag: str
    k1: float = DEFAULT_K1
    b: float = DEFAULT_B
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Key -> document, in upload order (a replaced document keeps its place)."""
    text: dict[str, TextField] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    """Key -> the document's size as JSON, in bytes (for the statistics)."""

    def __post_init__(self) -> None:
        self.text = {f.name: TextField() for f in self.fields.values() if f.is_text}

    @property
    def storage_size(self) -> int:
        """Bytes of JSON the documents hold (Azure's ``storageSize`` is an estimate too)."""
        return sum(self.sizes.values())

    @property
    def vector_size(self) -> int:
        """Bytes of the stored vectors, as 4-byte floats."""
        vectors = [f for f in self.fields.values() if f.is_vector]
        return sum(
            4 * len(document.get(f.name) or ())
            for document in self.documents.values()
            for f in vectors
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

    def analyze(self, document: dict[str, Any]) -> Analyzed:
        """The terms of a whole, validated document's searchable text fields."""
        analyzed: Analyzed = {}
        for name in self.text:
            value = document.get(name)
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            terms: list[str | None] = []
            for item in values:
                if item is None:
                    continue
                if terms:
                    terms.append(POSITION_GAP)
                terms.extend(tokens(item))
            analyzed[name] = terms
        return analyzed

    def term_too_large(self, document: dict[str, Any], analyzed: Analyzed) -> str | None:
        """Azure's per-document error for a term longer than Lucene indexes, or None."""
        for name, terms in analyzed.items():
            for term in terms:
                if term is not None and _too_large(term):
                    return _immense(name)
        for spec in self.fields.values():  # filterable, sortable, facetable strings: one term
            if spec.element != STRING or not (spec.filterable or spec.sortable or spec.facetable):
                continue
            value = document.get(spec.name)
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, str) and _too_large(item):
                    return _immense(spec.name)
        return None

    def put(self, key: str, document: dict[str, Any], analyzed: Analyzed | None = None) -> None:
        """Insert or replace a whole, validated document (a replaced one keeps its place)."""
        for text in self.text.values():
            text.discard(key)
        self.documents[key] = document
        self.sizes[key] = len(dump_json(document))
        for name, terms in (analyzed if analyzed is not None else self.analyze(document)).items():
            self.text[name].add(key, terms)

    def remove(self, key: str) -> None:
        for text in self.text.values():
            text.discard(key)
        self.documents.pop(key, None)
        self.sizes.pop(key, None)


def _too_large(term: str) -> bool:
    """Longer than Lucene's largest term once UTF-8 encoded (cheap test first)."""
    return len(term) * 4 > MAX_TERM_BYTES and len(term.encode("utf-8")) > MAX_TERM_BYTES


def _immense(name: str) -> str:
    """Azure's wording (Microsoft Learn, "Troubleshooting common indexer errors and warnings")."""
    return (
        f"Field '{name}' contains a term that is too large to process. The max length for "
        f"UTF-8 encoded terms is {MAX_TERM_BYTES} bytes."
    )


class SearchState:
    """Every index of the simulated search service. ``reset()`` empties it.

    ``budget_seconds`` is the time one request may work (:mod:`.budget`).
    """

    def __init__(self, budget_seconds: float = DEFAULT_SECONDS) -> None:
        self.indexes: dict[str, Index] = {}
        self.lock = threading.RLock()
        self.budget_seconds = budget_seconds
        self._etags = 0

    def reset(self) -> None:
        with self.lock:
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
                f"The index name '{shown(index_name)}' in the request body does not match the "
                f"name '{name}' in the URL."
            )
        if not isinstance(index_name, str) or not INDEX_NAME.fullmatch(index_name):
            raise errors.invalid_request(
                "name : Index name must only contain lowercase letters, digits or dashes, "
                "cannot start or end with dashes and is limited to 128 characters."
            )
        raw_fields = body.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            raise errors.invalid_request("fields : The index must have at least one field.")
        if len(raw_fields) > limits.MAX_FIELDS_PER_INDEX:
            raise errors.invalid_request(
                f"fields : The index has {len(raw_fields)} fields; an index can have at most "
                f"{limits.MAX_FIELDS_PER_INDEX} fields."
            )
        profiles = _vector_search(body.get("vectorSearch"))
        fields: dict[str, Field] = {}
        normalized: list[dict[str, Any]] = []
        for raw in raw_fields:
            parsed, listed = _parse_field(raw, profiles)
            if parsed.name in fields:
                raise errors.invalid_request(
                    f"fields : The field '{parsed.name}' is defined more than once."
                )
            fields[parsed.name] = parsed
            normalized.append(listed)
        keys = [f for f in fields.values() if f.key]
        if len(keys) != 1:
            raise errors.invalid_request(
                "fields : The index must contain exactly one key field of type Edm.String; "
                f"found {len(keys)}."
            )
        k1, b = _similarity(body.get("similarity"))
        definition = copy.deepcopy(body)
        definition["name"] = index_name
        definition["fields"] = normalized
        return Index(
            name=index_name,
            definition=definition,
            fields=fields,
            key=keys[0],
            etag=self.next_etag(),
            k1=k1,
            b=b,
        )


def _vector_search(value: Any) -> dict[str, dict[str, Any]]:
    """The vector search profiles by name, after checking the whole ``vectorSearch`` section."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.invalid_request("vectorSearch : must be a JSON object.")
    sections: dict[str, list[dict[str, Any]]] = {}
    for section in ("profiles", "algorithms", "vectorizers", "compressions"):
        items = value.get(section)
        if items is None:
            items = []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise errors.invalid_request(f"vectorSearch.{section} : must be an array of objects.")
        names: set[str] = set()
        for item in items:
            item_name = item.get("name")
            if not isinstance(item_name, str) or not CONFIG_NAME.fullmatch(item_name):
                raise errors.invalid_request(
                    f"vectorSearch.{section} : Every entry needs a 'name' of letters, digits, "
                    "dashes, underscores or periods (at most 128 characters), not "
                    f"{shown(item_name)}."
                )
            if item_name in names:
                raise errors.invalid_request(
                    f"vectorSearch.{section} : The name '{item_name}' is used more than once."
                )
            names.add(item_name)
        sections[section] = items
    for definition in sections["algorithms"]:
        _check_algorithm(definition)
    defined = {section: {i["name"] for i in items} for section, items in sections.items()}
    profiles: dict[str, dict[str, Any]] = {}
    for profile in sections["profiles"]:
        profile_name = profile["name"]
        algorithm = profile.get("algorithm")
        if not isinstance(algorithm, str) or algorithm not in defined["algorithms"]:
            raise errors.invalid_request(
                f"vectorSearch.profiles : The vector search profile '{profile_name}' refers to "
                f"the algorithm configuration '{shown(profile.get('algorithm'))}', which is not "
                "defined in vectorSearch.algorithms."
            )
        for reference, section in (("vectorizer", "vectorizers"), ("compression", "compressions")):
            target = profile.get(reference)
            if target is not None and (
                not isinstance(target, str) or target not in defined[section]
            ):
                raise errors.invalid_request(
                    f"vectorSearch.profiles : The vector search profile '{profile_name}' refers "
                    f"to the {reference} '{shown(target)}', which is not defined in "
                    f"vectorSearch.{section}."
                )
        profiles[profile_name] = profile
    return profiles


HNSW_RANGES = {"m": (4, 10), "efConstruction": (100, 1000), "efSearch": (100, 1000)}
"""HNSW parameters' ranges (Microsoft Learn, "Create a vector index": m 4-10,
efConstruction 100-1000, efSearch 100-1000)."""


def _check_algorithm(algorithm: dict[str, Any]) -> None:
    name, kind = algorithm["name"], algorithm.get("kind")
    parameter_key = {"hnsw": "hnswParameters", "exhaustiveKnn": "exhaustiveKnnParameters"}.get(
        kind if isinstance(kind, str) else ""
    )
    if parameter_key is None:
        raise errors.invalid_request(
            f"vectorSearch.algorithms : The algorithm '{name}' has kind {shown(kind)}; use "
            "'hnsw' or 'exhaustiveKnn'."
        )
    parameters = algorithm.get(parameter_key)
    if parameters is None:
        return
    if not isinstance(parameters, dict):
        raise errors.invalid_request(
            f"vectorSearch.algorithms : '{parameter_key}' of '{name}' must be a JSON object."
        )
    metric = parameters.get("metric")
    if metric is not None and metric not in METRICS:
        raise errors.invalid_request(
            f"vectorSearch.algorithms : The metric {shown(metric)} of '{name}' is not one of "
            f"{', '.join(METRICS)}."
        )
    for parameter, (low, high) in HNSW_RANGES.items():
        value = parameters.get(parameter)
        if value is None or kind != "hnsw":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise errors.invalid_request(
                f"vectorSearch.algorithms : '{parameter}' of '{name}' must be an integer from "
                f"{low} to {high}, not {shown(value)}."
            )


def _similarity(value: Any) -> tuple[float, float]:
    """BM25's ``k1`` and ``b`` from the index's ``similarity`` (Azure's defaults if unset)."""
    if value is None:
        return DEFAULT_K1, DEFAULT_B
    if not isinstance(value, dict):
        raise errors.invalid_request("similarity : must be a JSON object.")
    kind = value.get("@odata.type")
    if kind == CLASSIC:
        raise errors.bad_request(
            "ClassicSimilarity is not supported by this service: search services created after "
            'July 2020 rank with BM25 only (Microsoft Learn, "Configure BM25 relevance '
            'scoring").'
        )
    if kind != BM25:
        raise errors.invalid_request(f"similarity : {shown(kind)} is not a similarity type.")
    k1, b = value.get("k1"), value.get("b")
    if k1 is None:
        k1 = DEFAULT_K1
    if b is None:
        b = DEFAULT_B
    if not _finite_number(k1) or k1 < 0:
        raise errors.invalid_request("similarity.k1 : must be a number of 0 or more.")
    if not _finite_number(b) or not 0 <= b <= 1:
        raise errors.invalid_request("similarity.b : must be a number from 0 to 1.")
    return float(k1), float(b)


def _finite_number(value: Any) -> bool:
    """A JSON number that is a finite double (a huge integer is not, nor ``1e999``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) <= DOUBLE_MAX
    return math.isfinite(value)


ATTRIBUTES = ("key", "searchable", "filterable", "sortable", "facetable", "retrievable")


def _parse_field(raw: Any, profiles: dict[str, dict[str, Any]]) -> tuple[Field, dict[str, Any]]:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise errors.invalid_request("fields : Every field needs a 'name' and a 'type'.")
    name = raw["name"]
    if not FIELD_NAME.fullmatch(name) or name.startswith("azureSearch"):
        raise errors.invalid_request(
            f"fields : The field name '{shown(name)}' is not valid. Field names must start "
            "with a letter, contain only letters, digits or underscores, be at most 128 "
            "characters long and not start with 'azureSearch'."
        )
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
            f"fields : The field '{name}' has an unknown type '{shown(type_name)}'."
        )
    for attribute in ATTRIBUTES:
        if raw.get(attribute) is not None and not isinstance(raw.get(attribute), bool):
            raise errors.invalid_request(
                f"fields : '{attribute}' of the field '{name}' must be true or false."
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
        low, high = limits.MIN_VECTOR_DIMENSIONS, limits.MAX_VECTOR_DIMENSIONS
        if (
            not isinstance(dimensions, int)
            or isinstance(dimensions, bool)
            or not low <= dimensions <= high
        ):
            raise errors.invalid_request(
                f"fields : The vector field '{name}' must set 'dimensions' (an integer, {low} to "
                f"{high})."
            )
        if not isinstance(profile, str) or profile not in profiles:
            raise errors.invalid_request(
                f"fields : The vector field '{name}' must name a vector search profile "
                f"defined in vectorSearch.profiles ('vectorSearchProfile': {shown(profile)})."
            )
    parsed = Field(
        name=name,
        type=type_name,
        key=key,
        searchable=flag("searchable", is_string or is_vector),
        filterable=flag("filterable", not is_vector),
        sortable=flag("sortable", not is_collection),
        facetable=flag("facetable", not is_vector and element != GEOGRAPHY_POINT),
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
    if parsed.facetable and element == GEOGRAPHY_POINT:
        raise errors.invalid_request(
            f"fields : The field '{name}' of type {type_name} cannot be facetable."
        )
    listed = dict(raw)
    listed.update(
        key=parsed.key,
        searchable=parsed.searchable,
        filterable=parsed.filterable,
        sortable=parsed.sortable,
        facetable=parsed.facetable,
        retrievable=parsed.retrievable,
    )
    return parsed, listed


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
                f"The property '{shown(name)}' does not exist on type 'search.documentFields'. "
                "Make sure to only use property names that are defined by the type."
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
        ok = _finite_number(value)
        value = float(value) if ok else value
    elif type_name == "Edm.DateTimeOffset":
        ok = isinstance(value, str) and parse_datetime(value) is not None
    else:  # Edm.GeographyPoint
        ok = is_geography_point(value)
    if not ok:
        raise errors.invalid_request(
            f"The value {shown(value)} of the field '{spec.name}' is not a valid {type_name}."
        )
    return value


def is_geography_point(value: Any) -> bool:
    """A GeoJSON point: ``{"type": "Point", "coordinates": [longitude, latitude]}``
    (Microsoft Learn, "Supported data types": WGS84, longitude first)."""
    if not isinstance(value, dict) or value.get("type") != "Point":
        return False
    if set(value) - {"type", "coordinates", "crs"}:
        return False
    coordinates = value.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) != 2:
        return False
    if not all(_finite_number(c) for c in coordinates):
        return False
    longitude, latitude = coordinates
    return -180 <= longitude <= 180 and -90 <= latitude <= 90


def is_vector(value: Any) -> TypeGuard[list[float]]:
    """A non-empty list of finite numbers that fit in Edm.Single (float32)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(v, int | float)
            and not isinstance(v, bool)
            and abs(v) <= SINGLE_MAX
            and v == v  # not NaN
            for v in value
        )
    )


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 timestamp with an offset (``Z`` allowed), or ``None``."""
    if len(text) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def reindex(index: Index, documents: dict[str, dict[str, Any]], deadline: Deadline) -> None:
    """Fill a new ``index`` with ``documents`` (an updated definition keeps its documents)."""
    for key, document in deadline.every(documents.items(), stride=64):
        index.put(key, {f: document.get(f) for f in index.fields})
