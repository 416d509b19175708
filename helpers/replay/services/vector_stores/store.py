"""Vector stores: chunking, state and hybrid retrieval, for the server's file search.

A vector store holds files that were uploaded through the Files API. Attaching a file
chunks its text and indexes every chunk twice: a stand-in embedding
(:mod:`..inference.embeddings`, 256 dimensions) and a row in an SQLite FTS5 table. A search runs
both legs and fuses them with Reciprocal Rank Fusion, reusing the Azure AI Search
simulator's ranking code (:mod:`helpers.replay.services.search.engine`). That is what the file
search tool is documented to do: "use both vector and keyword search to retrieve
relevant content" (Microsoft Learn, Azure OpenAI file search tool); the Responses
tool's ``ranking_options.hybrid_search`` names the two RRF weights
(``embedding_weight``, ``text_weight``). A keyword leg alone would miss paraphrases, a
semantic leg alone would miss exact names and codes; the stand-in embeddings are a
small static model, so the keyword leg also keeps exact terms reliable.

Scores are the fused RRF value divided by the best value possible (first in both legs),
so they lie in (0, 1] like the service's, rounded to 4 decimals.

Chunking follows the documented defaults: ``static`` chunks of at most 800 tokens with
400 tokens of overlap; ``max_chunk_size_tokens`` between 100 and 4096 and an overlap of
at most half of it. Azure's inference spec (2024-10-01-preview, ``staticChunkingStrategy``
and ``autoChunkingStrategyRequestParam``: "This strategy currently uses a
``max_chunk_size_tokens`` of ``800`` and ``chunk_overlap_tokens`` of ``400``") and
Microsoft Learn (``VectorStoreStaticChunkingStrategyOptions``) say so. ``auto`` is the
static default, and a file reports it that way, as the service does. Tokens are
counted with ``cl100k_base`` (an assumption: the service does not name its tokenizer).

Processing: a file is ``in_progress`` when attached and ``completed`` after
:data:`PROCESSING_SECONDS` on the server clock, or at once when a client reads it, its
batch, its vector store or the store's file list (a poll): the SDK's ``create_and_poll``
and ``upload_and_poll`` never wait. Only completed files are searched, and only while
the uploaded file still exists.
"""

from __future__ import annotations

import copy
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from ...._support.tokenizer import get_encoding
from ...state import ObjectsById
from ..inference.embeddings import MODEL_DIMENSIONS, vectors_for
from ..search.engine import fts_query, reciprocal_rank_fusion

DEFAULT_MAX_CHUNK_TOKENS = 800
DEFAULT_CHUNK_OVERLAP_TOKENS = 400
MIN_CHUNK_TOKENS = 100
MAX_CHUNK_TOKENS = 4096
PROCESSING_SECONDS = 1.0
"""How long a file takes to process on the server clock, when nobody polls it."""
DEFAULT_MAX_RESULTS = 10
"""``max_num_results`` of a vector store search when not given (range 1..50)."""
TOOL_MAX_RESULTS = 20
"""``max_num_results`` of the ``file_search`` tool when not given (the documented default
for current models)."""
SEMANTIC_RECALL = 50
"""Chunks the semantic leg contributes to the fusion, at most."""
SEMANTIC_FLOOR = 0.15
"""Cosine below which the stand-in embeddings are no evidence of relevance (unrelated texts
score about 0 to 0.1 with this model, related ones 0.2 to 0.6), so a chunk neither leg finds
relevant is not returned at all: without a floor, every chunk of a small store would come
back with a high rank-based score."""
MAX_FILES_PER_STORE = 10_000
"""Files a vector store can hold (Microsoft Learn, Azure OpenAI file search)."""
TEXT_EXTENSIONS = frozenset(
    {
        ".c", ".cpp", ".cs", ".css", ".go", ".html", ".java", ".js", ".json", ".md", ".php",
        ".py", ".rb", ".sh", ".tex", ".ts", ".txt",
    }
)  # fmt: skip
"""Text formats the file search tool accepts (Microsoft Learn's list; binary formats such as
.pdf and .docx are accepted by the service but not parsed by this simulator)."""
ENCODING = "cl100k_base"
SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?=[^\s.!?]))+[.!?]*")
"""A sentence: up to a stop that ends a word (so "9.60 euros" stays in one piece)."""
WORD = re.compile(r"[^\W_]+")


def static_strategy(max_tokens: int, overlap: int) -> dict[str, Any]:
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": max_tokens, "chunk_overlap_tokens": overlap},
    }


DEFAULT_STRATEGY = static_strategy(DEFAULT_MAX_CHUNK_TOKENS, DEFAULT_CHUNK_OVERLAP_TOKENS)


def chunk_text(text: str, max_tokens: int, overlap: int) -> list[str]:
    """Windows of ``max_tokens`` tokens, each starting ``max_tokens - overlap`` after the last."""
    encoding = get_encoding(ENCODING)
    tokens = encoding.encode(text, disallowed_special=())
    if not tokens:
        return []
    step = max_tokens - overlap
    chunks = []
    for start in range(0, len(tokens), step):
        # A window can cut a character's UTF-8 bytes in two: drop the partial bytes.
        window = encoding.decode_bytes(tokens[start : start + max_tokens])
        chunks.append(window.decode("utf-8", errors="ignore"))
        if start + max_tokens >= len(tokens):
            break
    return chunks


@dataclass
class Chunk:
    rowid: int
    vector_store_id: str
    file_id: str
    text: str
    vector: np.ndarray


@dataclass
class StoreFile:
    """A file attached to a vector store."""

    file_id: str
    vector_store_id: str
    filename: str
    created_at: int
    started: float
    usage_bytes: int
    strategy: dict[str, Any]
    attributes: dict[str, Any] | None = None
    last_error: dict[str, str] | None = None
    cancelled: bool = False
    polled: bool = False
    batch_id: str | None = None

    def status(self, now: float) -> str:
        if self.last_error is not None:
            return "failed"
        if self.cancelled:
            return "cancelled"
        if self.polled or now >= self.started + PROCESSING_SECONDS:
            return "completed"
        return "in_progress"

    def describe(self, now: float) -> dict[str, Any]:
        return {
            "attributes": self.attributes or {},
            "chunking_strategy": self.strategy,
            "created_at": self.created_at,
            "id": self.file_id,
            "last_error": self.last_error,
            "object": "vector_store.file",
            "status": self.status(now),
            "usage_bytes": self.usage_bytes if self.last_error is None else 0,
            "vector_store_id": self.vector_store_id,
        }


@dataclass
class VectorStore:
    id: str
    name: str
    created_at: int
    last_active_at: int
    metadata: dict[str, Any]
    expires_after: dict[str, Any] | None
    description: str | None = None
    files: dict[str, StoreFile] = field(default_factory=dict)

    def expires_at(self) -> int | None:
        if not self.expires_after:
            return None
        return self.last_active_at + int(self.expires_after.get("days", 0)) * 86_400

    def counts(self, files: Iterable[StoreFile], now: float) -> dict[str, int]:
        counts = {"cancelled": 0, "completed": 0, "failed": 0, "in_progress": 0, "total": 0}
        for stored in files:
            counts[stored.status(now)] += 1
            counts["total"] += 1
        return counts

    def describe(self, now: float) -> dict[str, Any]:
        counts = self.counts(self.files.values(), now)
        expires_at = self.expires_at()
        if expires_at is not None and now >= expires_at:
            status = "expired"
        else:
            status = "in_progress" if counts["in_progress"] else "completed"
        return {
            "created_at": self.created_at,
            "description": self.description,
            "expires_after": self.expires_after,
            "expires_at": expires_at,
            "file_counts": counts,
            "id": self.id,
            "last_active_at": self.last_active_at,
            "metadata": self.metadata,
            "name": self.name,
            "object": "vector_store",
            "status": status,
            "usage_bytes": sum(f.usage_bytes for f in self.files.values() if not f.last_error),
        }


@dataclass
class FileBatch:
    id: str
    vector_store_id: str
    file_ids: list[str]
    created_at: int
    cancelled: bool = False


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk."""

    file_id: str
    filename: str
    score: float
    text: str
    attributes: dict[str, Any]

    def search_result(self) -> dict[str, Any]:
        """As ``POST /vector_stores/{id}/search`` returns it."""
        return {
            "attributes": self.attributes,
            "content": [{"text": self.text, "type": "text"}],
            "file_id": self.file_id,
            "filename": self.filename,
            "score": self.score,
        }

    def tool_result(self) -> dict[str, Any]:
        """As a ``file_search_call`` item lists it (``include=["file_search_call.results"]``)."""
        return {
            "attributes": self.attributes,
            "file_id": self.file_id,
            "filename": self.filename,
            "score": self.score,
            "text": self.text,
        }


class VectorStoresStore:
    """Vector stores, their files, batches and chunk index; reset with the server."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.stores = ObjectsById[VectorStore]()
        self.batches = ObjectsById[FileBatch]()
        self._chunks: dict[int, Chunk] = {}
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute("CREATE VIRTUAL TABLE chunks USING fts5(text)")
        self._next_rowid = 1

    def reset(self) -> None:
        with self._lock:
            self.stores.reset()
            self.batches.reset()
            self._chunks.clear()
            self._db.execute("DELETE FROM chunks")
            self._next_rowid = 1

    # -- stores -----------------------------------------------------------------------------

    def delete_store(self, store_id: str) -> bool:
        """Delete a vector store and its chunks; ``False`` when there was none with that id."""
        with self._lock:
            store = self.stores.get(store_id)
            if store is None:
                return False
            self.stores.delete(store_id)
            for file_id in list(store.files):
                self._drop_chunks(store_id, file_id)
            return True

    # -- files ------------------------------------------------------------------------------

    def attach(
        self,
        store: VectorStore,
        *,
        file_id: str,
        filename: str,
        content: bytes,
        strategy: dict[str, Any],
        attributes: dict[str, Any] | None,
        created_at: int,
        started: float,
        batch_id: str | None = None,
    ) -> StoreFile:
        """Attach a file: chunk and index it now; it reports ``completed`` once processed."""
        static = strategy["static"]
        stored = StoreFile(
            file_id=file_id,
            vector_store_id=store.id,
            filename=filename,
            created_at=created_at,
            started=started,
            usage_bytes=len(content),
            strategy=copy.deepcopy(strategy),
            attributes=copy.deepcopy(attributes),
            batch_id=batch_id,
        )
        text = _text_of(filename, content)
        if isinstance(text, dict):
            stored.last_error = text
        with self._lock:
            if file_id in store.files:
                self._drop_chunks(store.id, file_id)
            store.files[file_id] = stored
            if isinstance(text, str):
                pieces = chunk_text(
                    text, static["max_chunk_size_tokens"], static["chunk_overlap_tokens"]
                )
                vectors = vectors_for(pieces, MODEL_DIMENSIONS) if pieces else []
                for piece, vector in zip(pieces, vectors, strict=True):
                    rowid = self._next_rowid
                    self._next_rowid += 1
                    self._db.execute(
                        "INSERT INTO chunks(rowid, text) VALUES (?, ?)", [rowid, piece]
                    )
                    self._chunks[rowid] = Chunk(rowid, store.id, file_id, piece, np.array(vector))
        return stored

    def detach(self, store: VectorStore, file_id: str) -> bool:
        with self._lock:
            if store.files.pop(file_id, None) is None:
                return False
            self._drop_chunks(store.id, file_id)
            return True

    def _drop_chunks(self, store_id: str, file_id: str) -> None:
        gone = [
            rowid
            for rowid, chunk in self._chunks.items()
            if chunk.vector_store_id == store_id and chunk.file_id == file_id
        ]
        for rowid in gone:
            del self._chunks[rowid]
            self._db.execute("DELETE FROM chunks WHERE rowid = ?", [rowid])

    # -- search -----------------------------------------------------------------------------

    def search(
        self,
        store_ids: Sequence[str],
        queries: Sequence[str],
        *,
        max_results: int,
        now: float,
        file_exists: Callable[[str], bool],
        score_threshold: float = 0.0,
        embedding_weight: float = 1.0,
        text_weight: float = 1.0,
        filters: dict[str, Any] | None = None,
    ) -> list[Hit]:
        """The best chunks for ``queries`` across ``store_ids`` (hybrid: vectors + BM25, RRF)."""
        with self._lock:
            candidates: dict[int, Chunk] = {}
            files: dict[int, StoreFile] = {}  # the file each candidate chunk is from
            for rowid, chunk in self._chunks.items():
                store = self.stores.get(chunk.vector_store_id)
                if store is None or chunk.vector_store_id not in store_ids:
                    continue
                stored = store.files.get(chunk.file_id)
                if stored is None or stored.status(now) != "completed":
                    continue
                if not file_exists(chunk.file_id):
                    continue
                if filters and not matches_filter(stored.attributes or {}, filters):
                    continue
                candidates[rowid] = chunk
                files[rowid] = stored
            if not candidates:
                return []
            rankings: list[tuple[list[tuple[str, float]], float]] = []
            texts = [q for q in queries if q.strip()]
            query_vectors = vectors_for(texts, MODEL_DIMENSIONS) if texts else []
            matrix = np.stack([c.vector for c in candidates.values()])
            keys = [str(rowid) for rowid in candidates]
            for text, vector in zip(texts, query_vectors, strict=True):
                cosines = matrix @ np.asarray(vector)
                order = sorted(range(len(keys)), key=lambda i: (-cosines[i], int(keys[i])))
                semantic = [
                    (keys[i], float(cosines[i]))
                    for i in order[:SEMANTIC_RECALL]
                    if cosines[i] >= SEMANTIC_FLOOR
                ]
                rankings.append((semantic, embedding_weight))
                expression = fts_query(keyword_text(text), "any")
                if expression is not None and text_weight > 0:
                    rows = self._db.execute(
                        "SELECT rowid, -bm25(chunks) FROM chunks WHERE chunks MATCH ? "
                        "ORDER BY bm25(chunks), rowid",
                        [expression],
                    ).fetchall()
                    keyword = [(str(r), float(s)) for r, s in rows if r in candidates]
                    rankings.append((keyword, text_weight))
            if not rankings:
                return []
            fused = reciprocal_rank_fusion(rankings)
            best = sum(w for _, w in rankings) / (60 + 1)
            hits = []
            for key, value in fused:
                score = round(min(1.0, value / best), 4) if best > 0 else 0.0
                if score < score_threshold:
                    continue
                chunk, stored = candidates[int(key)], files[int(key)]
                hits.append(
                    Hit(
                        file_id=chunk.file_id,
                        filename=stored.filename,
                        score=score,
                        text=chunk.text,
                        attributes=copy.deepcopy(stored.attributes or {}),
                    )
                )
                if len(hits) >= max_results:
                    break
            for store_id in store_ids:
                searched = self.stores.get(store_id)
                if searched is not None:
                    searched.last_active_at = max(searched.last_active_at, int(now))
            return hits


STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from",
        "how", "i", "in", "is", "it", "me", "my", "of", "on", "or", "our", "should", "so", "that",
        "the", "their", "there", "these", "this", "to", "was", "we", "what", "when", "where",
        "which", "who", "why", "will", "with", "you", "your",
    }
)  # fmt: skip
"""Words the keyword leg leaves out of a query: a match on "the" alone is no evidence. The
service rewrites queries for its keyword search too (``rewrite_query``); this is far simpler."""


def keyword_text(query: str) -> str:
    """The query's words without :data:`STOP_WORDS` (the query itself if nothing is left)."""
    kept = [w for w in WORD.findall(query) if w.lower() not in STOP_WORDS]
    return " ".join(kept) if kept else query


def _text_of(filename: str, content: bytes) -> str | dict[str, str]:
    """The file's text, or the ``last_error`` a file that cannot be read ends with."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix not in TEXT_EXTENSIONS:
        return {
            "code": "unsupported_file",
            "message": f"The file type {suffix or '(none)'} is not supported by this simulator.",
        }
    for encoding in ("utf-8", "utf-16"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return {"code": "invalid_file", "message": "The file is not valid UTF-8 or UTF-16 text."}


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def matches_filter(attributes: dict[str, Any], node: dict[str, Any]) -> bool:
    """Attribute filters: comparisons (eq, ne, gt, gte, lt, lte) and compound and/or."""
    if not isinstance(node, dict):
        return False
    kind = node.get("type")
    if kind in ("and", "or"):
        children = node.get("filters")
        if not isinstance(children, list):
            return False
        results = (matches_filter(attributes, f) for f in children)
        return all(results) if kind == "and" else any(results)
    compare = _COMPARISONS.get(str(kind))
    if compare is None or not isinstance(node.get("key"), str) or node["key"] not in attributes:
        return False
    try:
        return bool(compare(attributes[node["key"]], node.get("value")))
    except TypeError:
        return False


# -- the Responses file_search tool ------------------------------------------------------------


def words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if len(w) > 3}


def citations_for(text: str, hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """``file_citation`` annotations for a recorded answer: the files its sentences draw on.

    Each sentence is attributed to the retrieved file whose chunks share the most of its
    words (ties go to the better-ranked file), provided they share at least two words and
    half of the sentence's; the file is cited at the end of that sentence. If no sentence
    qualifies, the top hit's file is cited at the end of the text (the answer came from the
    search).
    """
    first: dict[str, Hit] = {}
    file_words: dict[str, set[str]] = {}
    for hit in hits:
        first.setdefault(hit.file_id, hit)
        file_words.setdefault(hit.file_id, set()).update(words(hit.text))
    annotations = []
    for match in SENTENCE.finditer(text):
        sentence_words = words(match.group())
        best, best_overlap = None, 0
        for file_id, hit in first.items():
            overlap = len(sentence_words & file_words[file_id])
            if overlap > best_overlap:
                best, best_overlap = hit, overlap
        if best is not None and best_overlap >= 2 and 2 * best_overlap >= len(sentence_words):
            annotations.append(_citation(best, match.end()))
    if not annotations and hits:
        annotations.append(_citation(hits[0], len(text)))
    return annotations


def _citation(hit: Hit, index: int) -> dict[str, Any]:
    return {
        "file_id": hit.file_id,
        "filename": hit.filename,
        "index": index,
        "type": "file_citation",
    }


def lenient_answer(
    prefix: str, hits: Sequence[Hit], queries: Sequence[str]
) -> tuple[str, list[dict[str, Any]]]:
    """A simulated answer and its citations: from the best chunk of each of the top two files,
    the sentence that shares the most words with the query, cited right after it."""
    if not hits:
        return prefix + " The file search found nothing relevant in the vector stores.", []
    asked = set().union(*(words(keyword_text(q)) for q in queries)) if queries else set()
    text = prefix + " From the retrieved passages:"
    annotations: list[dict[str, Any]] = []
    seen: set[str] = set()
    for hit in hits:
        if hit.file_id in seen or len(seen) >= 2:
            continue
        sentences = [m.group().strip() for m in SENTENCE.finditer(hit.text)]
        sentences = [x for x in sentences if len(words(x)) > 2] or [hit.text.strip()[:200]]
        best = max(sentences, key=lambda x: len(words(x) & asked))
        if seen and len(words(best) & asked) < 2:
            continue
        seen.add(hit.file_id)
        text += f' "{_trim(best)}"'
        annotations.append(_citation(hit, len(text)))
    return text, annotations


def _trim(sentence: str, limit: int = 240) -> str:
    sentence = " ".join(sentence.split()).lstrip("#-* ")
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0]
    return cut + " ..."


__all__ = [
    "DEFAULT_STRATEGY",
    "Hit",
    "StoreFile",
    "VectorStore",
    "VectorStoresStore",
    "chunk_text",
    "citations_for",
    "lenient_answer",
    "static_strategy",
]
