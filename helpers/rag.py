"""RAG with the Responses API's ``file_search`` tool over a vector store (guide section 14).

The guide's version uses the Assistants API (assistant, thread, run, polling), which is
retired. The same retrieval-augmented answer takes three calls today:

1. upload the documents (``files.create``, purpose ``assistants``);
2. put them in a vector store and wait until they are chunked and indexed
   (``vector_stores.create``, then ``file_batches.create_and_poll``);
3. ask with ``responses.create(tools=[{"type": "file_search", "vector_store_ids": [...]}])``.

:func:`ask` returns the answer with what the search retrieved
(``include=["file_search_call.results"]``) and the ``file_citation`` annotations of the
text, and checks every citation against the files you uploaded: a citation that names
another file, or a file the search did not retrieve, raises :class:`CitationError`.

Works with the plain ``OpenAI`` client on Azure's v1 API (``Connection.v1_client()``) or
with ``AzureOpenAI``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openai import OpenAI
from openai.types import FileObject, VectorStore
from openai.types.responses import Response, ResponseFileSearchToolCall, ResponseOutputMessage
from openai.types.responses.response_output_text import AnnotationFileCitation
from pydantic import BaseModel, ConfigDict, Field

from ._support.errors import CookbookError
from ._support.exercises import Feedback, attempt, failed, passed

__all__ = [
    "Answer",
    "Citation",
    "CitationError",
    "FileSearchError",
    "KnowledgeBase",
    "Retrieved",
    "answer_of",
    "ask",
    "build_knowledge_base",
    "check_citations",
    "check_unsupported_citations",
    "create_vector_store",
    "remove_file",
    "upload_files",
]

MIN_CHUNK_TOKENS = 100
MAX_CHUNK_TOKENS = 4096
"""Bounds of ``max_chunk_size_tokens`` (Microsoft Learn: default 800, minimum 100, maximum
4096; the overlap, default 400, must not exceed half of it)."""


class FileSearchError(CookbookError, RuntimeError):
    """A file could not be indexed, or the answer is not what file search should give."""


class CitationError(FileSearchError):
    """An answer cites a file that was not uploaded or not retrieved."""


class Retrieved(BaseModel):
    """One chunk the file search retrieved."""

    model_config = ConfigDict(frozen=True)

    file_id: str
    filename: str
    score: float = Field(ge=0, le=1)
    text: str


class Citation(BaseModel):
    """A ``file_citation`` annotation: the file and where in the answer it is cited."""

    model_config = ConfigDict(frozen=True)

    file_id: str
    filename: str
    index: int = Field(ge=0)
    sentence: str
    """The answer's sentence that ends at ``index`` (what the file supports)."""


class Answer(BaseModel):
    """A file-search answer: its text, the citations in it and the chunks retrieved."""

    response_id: str
    text: str
    queries: list[str]
    results: list[Retrieved]
    citations: list[Citation]

    @property
    def cited_files(self) -> list[str]:
        """Names of the cited files, in order of first citation."""
        return list(dict.fromkeys(c.filename for c in self.citations))


class KnowledgeBase(BaseModel):
    """A vector store and the uploaded files it holds (file id -> file name)."""

    vector_store_id: str
    files: dict[str, str]


def upload_files(client: OpenAI, paths: Iterable[str | Path]) -> list[FileObject]:
    """Upload text files for file search (purpose ``assistants``)."""
    files = [Path(p) for p in paths]
    if not files:
        raise ValueError("upload_files needs at least one path")
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"No file to upload at {path}")
    uploaded = []
    for path in files:
        with path.open("rb") as handle:
            uploaded.append(client.files.create(file=(path.name, handle), purpose="assistants"))
    return uploaded


def _chunking(chunk_size: int | None, chunk_overlap: int | None) -> dict[str, Any] | None:
    if chunk_size is None and chunk_overlap is None:
        return None
    size = 800 if chunk_size is None else chunk_size
    overlap = size // 2 if chunk_overlap is None else chunk_overlap
    if not MIN_CHUNK_TOKENS <= size <= MAX_CHUNK_TOKENS:
        raise ValueError(
            f"chunk_size must be between {MIN_CHUNK_TOKENS} and {MAX_CHUNK_TOKENS} tokens, "
            f"got {size}"
        )
    if not 0 <= overlap <= size // 2:
        raise ValueError(
            f"chunk_overlap must be between 0 and half of chunk_size ({size // 2}), got {overlap}"
        )
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }


def create_vector_store(
    client: OpenAI,
    name: str,
    file_ids: Sequence[str],
    *,
    chunk_size: int | None = None,
    chunk_overlap: int | None = None,
    expires_after_days: int | None = None,
) -> VectorStore:
    """A vector store holding ``file_ids``, returned once every file is indexed.

    Raises :class:`FileSearchError` naming each file that failed to process.
    """
    if not file_ids:
        raise ValueError("create_vector_store needs at least one file id")
    chunking = _chunking(chunk_size, chunk_overlap)
    options: dict[str, Any] = {}
    if expires_after_days is not None and not 1 <= expires_after_days <= 365:
        raise ValueError(f"expires_after_days must be between 1 and 365, got {expires_after_days}")
    if expires_after_days is not None:
        options["expires_after"] = {"anchor": "last_active_at", "days": expires_after_days}
    store = client.vector_stores.create(name=name, **options)
    batch_options: dict[str, Any] = {"chunking_strategy": chunking} if chunking else {}
    batch = client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=list(file_ids), **batch_options
    )
    if batch.file_counts.failed or batch.file_counts.cancelled:
        failed = client.vector_stores.files.list(vector_store_id=store.id, filter="failed")
        reasons = "; ".join(
            f"{f.id}: {f.last_error.message if f.last_error else 'unknown error'}" for f in failed
        )
        raise FileSearchError(
            f"{batch.file_counts.failed} of {batch.file_counts.total} files failed to index "
            f"in vector store {store.id}: {reasons or 'cancelled'}"
        )
    return client.vector_stores.retrieve(store.id)


def build_knowledge_base(
    client: OpenAI, paths: Iterable[str | Path], name: str, **options: Any
) -> KnowledgeBase:
    """Upload ``paths`` and index them in a new vector store (options: see
    :func:`create_vector_store`)."""
    uploaded = upload_files(client, paths)
    store = create_vector_store(client, name, [f.id for f in uploaded], **options)
    return KnowledgeBase(vector_store_id=store.id, files={f.id: f.filename for f in uploaded})


def _sentence_before(text: str, index: int) -> str:
    start = max(text.rfind(mark, 0, max(index - 1, 0)) for mark in (". ", "! ", "? ", "\n"))
    return text[start + 1 if start >= 0 else 0 : index].strip()


def answer_of(response: Response) -> Answer:
    """The text, retrieved chunks and file citations of a file-search response."""
    queries: list[str] = []
    results: list[Retrieved] = []
    citations: list[Citation] = []
    texts: list[str] = []
    for item in response.output:
        if isinstance(item, ResponseFileSearchToolCall):
            queries.extend(item.queries)
            results.extend(
                Retrieved(
                    file_id=r.file_id or "",
                    filename=r.filename or "",
                    score=r.score or 0.0,
                    text=r.text or "",
                )
                for r in item.results or []
            )
        elif isinstance(item, ResponseOutputMessage):
            for part in item.content:
                if part.type != "output_text":
                    continue
                offset = sum(len(t) for t in texts)
                texts.append(part.text)
                citations.extend(
                    Citation(
                        file_id=a.file_id,
                        filename=a.filename,
                        index=offset + a.index,
                        sentence=_sentence_before(part.text, a.index),
                    )
                    for a in part.annotations
                    if isinstance(a, AnnotationFileCitation)
                )
    return Answer(
        response_id=response.id,
        text="".join(texts),
        queries=queries,
        results=results,
        citations=citations,
    )


def check_citations(answer: Answer, files: Mapping[str, str]) -> None:
    """Raise :class:`CitationError` unless every citation names an uploaded file (``files``:
    id -> name) that the search retrieved (when the results were included)."""
    retrieved = {r.file_id for r in answer.results}
    for citation in answer.citations:
        if citation.file_id not in files:
            raise CitationError(
                f"The answer cites {citation.filename!r} ({citation.file_id}), "
                "which is not one of the uploaded files"
            )
        if files[citation.file_id] != citation.filename:
            raise CitationError(
                f"The answer cites {citation.file_id} as {citation.filename!r}, but it was "
                f"uploaded as {files[citation.file_id]!r}"
            )
        if answer.results and citation.file_id not in retrieved:
            raise CitationError(
                f"The answer cites {citation.filename!r}, which the file search did not retrieve"
            )


def ask(
    client: OpenAI,
    model: str,
    question: str,
    knowledge: KnowledgeBase | Sequence[str],
    *,
    instructions: str | None = None,
    max_num_results: int | None = None,
    previous_response_id: str | None = None,
    reasoning_effort: str | None = None,
) -> Answer:
    """Ask ``question`` with the ``file_search`` tool over a knowledge base (or vector store ids).

    With a :class:`KnowledgeBase`, citations are checked against its files
    (:func:`check_citations`).
    """
    if not question.strip():
        raise ValueError("question must not be empty")
    store_ids = (
        [knowledge.vector_store_id] if isinstance(knowledge, KnowledgeBase) else list(knowledge)
    )
    if not store_ids:
        raise ValueError("ask needs a knowledge base or at least one vector store id")
    if max_num_results is not None and not 1 <= max_num_results <= 50:
        raise ValueError(f"max_num_results must be between 1 and 50, got {max_num_results}")
    tool: dict[str, Any] = {"type": "file_search", "vector_store_ids": store_ids}
    if max_num_results is not None:
        tool["max_num_results"] = max_num_results
    options: dict[str, Any] = {}
    if instructions is not None:
        options["instructions"] = instructions
    if previous_response_id is not None:
        options["previous_response_id"] = previous_response_id
    if reasoning_effort is not None:
        options["reasoning"] = {"effort": reasoning_effort}
    response = client.responses.create(
        model=model,
        input=question,
        tools=[tool],  # type: ignore[list-item]
        include=["file_search_call.results"],
        **options,
    )
    answer = answer_of(response)
    if isinstance(knowledge, KnowledgeBase):
        check_citations(answer, knowledge.files)
    return answer


def remove_file(
    client: OpenAI, knowledge: KnowledgeBase, file_id: str, *, delete_upload: bool = True
) -> KnowledgeBase:
    """Take a file out of the vector store (and delete the upload); the new knowledge base."""
    if file_id not in knowledge.files:
        raise KeyError(f"{file_id} is not in vector store {knowledge.vector_store_id}")
    client.vector_stores.files.delete(file_id=file_id, vector_store_id=knowledge.vector_store_id)
    if delete_upload:
        client.files.delete(file_id)
    remaining = {k: v for k, v in knowledge.files.items() if k != file_id}
    return KnowledgeBase(vector_store_id=knowledge.vector_store_id, files=remaining)


# --- exercise -------------------------------------------------------------------------------

EXERCISE_UPLOADS = {
    "file-rentals": "coop_rentals.md",
    "file-membership": "coop_membership.md",
    "file-history": "coop_history.md",
}
"""The files the exercise's vector store holds: id -> name."""


def _search_call(results: list[tuple[str, float]] | None) -> dict[str, Any]:
    found = None
    if results is not None:
        found = [
            {"file_id": file_id, "filename": EXERCISE_UPLOADS[file_id], "score": score,
             "text": f"(a chunk of {EXERCISE_UPLOADS[file_id]})"}
            for file_id, score in results
        ]  # fmt: skip
    return {"type": "file_search_call", "id": "fs_ex", "status": "completed",
            "queries": ["late fee for a bike"], "results": found}  # fmt: skip


def _cited_message(text: str, citations: list[tuple[str, str]]) -> dict[str, Any]:
    annotations = [
        {"type": "file_citation", "file_id": file_id, "filename": filename, "index": len(text)}
        for file_id, filename in citations
    ]
    content = [{"type": "output_text", "text": text, "annotations": annotations}]
    return {"type": "message", "id": "msg_ex", "role": "assistant", "status": "completed",
            "content": content}  # fmt: skip


def _exercise_response(output: list[dict[str, Any]]) -> Response:
    return Response.model_validate(
        {"id": "resp_ex", "object": "response", "created_at": 0, "model": "gpt-5.4-mini",
         "output": output, "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
    )  # fmt: skip


_RENTALS = ("file-rentals", "coop_rentals.md")
_CITATION_CASES: list[tuple[str, Response, list[str], str]] = [
    # (case, the response, the problem files expected, why)
    (
        "an answer citing what the search retrieved",
        _exercise_response([
            _search_call([("file-rentals", 0.82), ("file-membership", 0.41)]),
            _cited_message("The late fee is 5 euros per hour.", [_RENTALS, _RENTALS]),
        ]),
        [],
        "every citation names an uploaded file the search retrieved",
    ),
    (
        "an answer citing a file the search did not retrieve",
        _exercise_response([
            _search_call([("file-rentals", 0.82)]),
            _cited_message("The co-op was founded by six riders.",
                           [("file-history", "coop_history.md"), _RENTALS]),
        ]),
        ["coop_history.md"],
        "coop_history.md was uploaded, but the file_search_call's results do not include it",
    ),
    (
        "an answer citing a file that was never uploaded",
        _exercise_response([
            _search_call([("file-rentals", 0.82)]),
            _cited_message("A city bike costs 10 euros.", [("file-9f2c", "old_prices.md")]),
        ]),
        ["old_prices.md"],
        "its file id is not one of the uploaded files",
    ),
    (
        "a response without search results (no include)",
        _exercise_response([
            _search_call(None),
            _cited_message("The late fee is 5 euros per hour.", [_RENTALS]),
        ]),
        [],
        "without include=['file_search_call.results'] the results are None: retrieval cannot "
        "be checked, only the uploads",
    ),
]  # fmt: skip


def check_unsupported_citations(
    function: Callable[[Response, dict[str, str]], list[str]],
) -> Feedback:
    """Exercise: ``function(response, uploaded)`` lists the file citations a file-search answer
    cannot back up.

    ``uploaded`` maps file ids to names. The answer is the sorted, distinct names of the files
    cited (``file_citation`` annotations) whose id is not uploaded, or that the search did not
    retrieve when its results were included. The feedback names the case and why.
    """
    name = "unsupported citations"
    for case, response, expected, why in _CITATION_CASES:
        got = attempt(name, function, response, dict(EXERCISE_UPLOADS))
        if isinstance(got, Feedback):
            return got
        if got == expected:
            continue
        if isinstance(got, list) and sorted(set(got)) == expected:
            return failed(name, f"for {case}, the right files, but list each once, sorted.")
        return failed(name, f"for {case}, you returned {got!r}, expected {expected!r}: {why}.")
    return passed(name, f"all {len(_CITATION_CASES)} answers checked correctly.")
