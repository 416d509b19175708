"""Vector stores, their files and file batches, search, and the Responses ``file_search`` tool.

Routes, on the v1 surface (``/openai/v1/vector_stores...``) and on the dated one
(``/openai/vector_stores...?api-version=...``; Azure's 2024-10-01-preview spec lists the
same operations, except search, which is v1 only):

* ``POST``/``GET`` ``/vector_stores``; ``GET``/``POST``/``DELETE`` ``/vector_stores/{id}``
* ``POST /vector_stores/{id}/search`` (``query``, ``max_num_results``, ``filters``,
  ``ranking_options.score_threshold``; ``rewrite_query`` is accepted and ignored)
* ``POST``/``GET`` ``/vector_stores/{id}/files``; ``GET``/``DELETE`` ``.../files/{file_id}``
* ``POST .../file_batches``; ``GET .../file_batches/{id}``, ``POST .../cancel``,
  ``GET .../file_batches/{id}/files``

Files come from the Files service's store (:class:`..files.operations.FilesStore`); the
chunking, indexing and hybrid ranking are in :mod:`.store`, the checks of every parameter
in :mod:`.validation`, and lists page as every list does (:mod:`..paging`). Every operation
here is answered from state (after the recordings had their chance): a vector store is
data, not a model's answer.

For the Responses API, :func:`attach_file_search` computes the retrieval for a request
whose tools include ``{"type": "file_search", "vector_store_ids": [...]}`` and puts a
``file_search_call`` item (with ``results`` when ``include`` asks for
``file_search_call.results``) before the message, and ``file_citation`` annotations on
its text naming the files of the chunks retrieved. A recorded answer keeps its text; a
simulated one quotes the retrieved chunks.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from ...context import Reply, RequestContext
from ...errors import AzureError, object_not_found
from ...validation import body_object, missing_parameter, type_error
from ..base import BodyKind, Endpoint, StateOperation, on_both_surfaces
from ..files.operations import FilesStore
from ..files.operations import not_found as file_not_found
from ..paging import page_of
from . import store as sim
from . import validation as check
from .store import VectorStoresStore


def store_not_found(store_id: str) -> AzureError:
    # The wording OpenAI's API uses; Azure's v1 spec gives only the error envelope.
    return object_not_found(f"No vector store found with id '{store_id}'.")


def _body(ctx: RequestContext) -> dict[str, Any]:
    return {} if ctx.body is None else body_object(ctx.body)


def _oldest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """By ``created_at``; objects created in the same second in the order they were made."""
    return sorted(items, key=lambda item: item["created_at"])


def _store(ctx: RequestContext) -> sim.VectorStore:
    store_id = ctx.path_params["vector_store_id"]
    found = ctx.state.get(VectorStoresStore).stores.get(store_id)
    if found is None:
        raise store_not_found(store_id)
    return found


def _attach(
    ctx: RequestContext,
    store: sim.VectorStore,
    file_id: str,
    strategy: dict[str, Any],
    attributes: dict[str, Any] | None,
    batch_id: str | None = None,
) -> sim.StoreFile:
    uploaded = ctx.state.get(FilesStore).get(file_id)
    if uploaded is None:
        raise file_not_found(file_id)
    now = ctx.state.clock()
    return ctx.state.get(VectorStoresStore).attach(
        store,
        file_id=file_id,
        filename=uploaded.filename,
        content=uploaded.content,
        strategy=strategy,
        attributes=attributes,
        created_at=int(now),
        started=now,
        batch_id=batch_id,
    )


def _poll(store: sim.VectorStore, files: list[sim.StoreFile] | None = None) -> None:
    """A client read the state: processing is over (so polling helpers never wait)."""
    for stored in files if files is not None else list(store.files.values()):
        stored.polled = True


class CreateVectorStore(StateOperation):
    name: ClassVar[str] = "VectorStores_Create"

    def validate(self, ctx: RequestContext) -> None:
        body = _body(ctx)
        if body.get("name") is not None and not isinstance(body["name"], str):
            raise type_error("name", "a string")
        check.metadata(body.get("metadata"))
        check.expires_after(body.get("expires_after"))
        ids = check.file_ids(body.get("file_ids"))
        check.chunking_strategy(body.get("chunking_strategy"))
        for file_id in ids:
            if ctx.state.get(FilesStore).get(file_id) is None:
                raise file_not_found(file_id)

    async def simulate(self, ctx: RequestContext) -> Reply:
        body = _body(ctx)
        now = int(ctx.state.clock())
        store = ctx.state.get(VectorStoresStore).stores.add(
            sim.VectorStore(
                id="vs_" + ctx.state.ids.item_id("vs")[3:35],
                name=str(body.get("name") or ""),
                created_at=now,
                last_active_at=now,
                metadata=check.metadata(body.get("metadata")),
                expires_after=check.expires_after(body.get("expires_after")),
                description=body.get("description"),
            )
        )
        strategy = check.chunking_strategy(body.get("chunking_strategy"))
        for file_id in check.file_ids(body.get("file_ids")):
            _attach(ctx, store, file_id, strategy, None)
        return Reply.of_json(store.describe(ctx.state.clock()))


class ListVectorStores(StateOperation):
    name: ClassVar[str] = "VectorStores_List"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        now = ctx.state.clock()
        stores = [s.describe(now) for s in ctx.state.get(VectorStoresStore).stores.all()]
        return Reply.of_json(page_of(_oldest_first(stores), ctx.query))


class RetrieveVectorStore(StateOperation):
    name: ClassVar[str] = "VectorStores_Get"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        store = _store(ctx)
        _poll(store)
        return Reply.of_json(store.describe(ctx.state.clock()))


class ModifyVectorStore(StateOperation):
    name: ClassVar[str] = "VectorStores_Modify"

    def validate(self, ctx: RequestContext) -> None:
        body = _body(ctx)
        _store(ctx)
        if body.get("name") is not None and not isinstance(body["name"], str):
            raise type_error("name", "a string")
        check.metadata(body.get("metadata"))
        check.expires_after(body.get("expires_after"))

    async def simulate(self, ctx: RequestContext) -> Reply:
        body = _body(ctx)
        store = _store(ctx)
        if "name" in body and body["name"] is not None:
            store.name = body["name"]
        if "metadata" in body:
            store.metadata = check.metadata(body["metadata"])
        if "expires_after" in body:
            store.expires_after = check.expires_after(body["expires_after"])
        return Reply.of_json(store.describe(ctx.state.clock()))


class DeleteVectorStore(StateOperation):
    name: ClassVar[str] = "VectorStores_Delete"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        store_id = ctx.path_params["vector_store_id"]
        if not ctx.state.get(VectorStoresStore).delete_store(store_id):
            raise store_not_found(store_id)
        return Reply.of_json({"deleted": True, "id": store_id, "object": "vector_store.deleted"})


class SearchVectorStore(StateOperation):
    name: ClassVar[str] = "VectorStores_Search"

    def validate(self, ctx: RequestContext) -> None:
        body = _body(ctx)
        _store(ctx)
        check.queries(body.get("query"), "query")
        check.max_num_results(body.get("max_num_results"), "max_num_results")
        if body.get("filters") is not None:
            check.check_filter(body["filters"], "filters")
        check.ranking(body.get("ranking_options"), "ranking_options")

    async def simulate(self, ctx: RequestContext) -> Reply:
        body = _body(ctx)
        store = _store(ctx)
        queries = check.queries(body.get("query"), "query")
        threshold, embedding_weight, text_weight = check.ranking(
            body.get("ranking_options"), "ranking_options"
        )
        hits = ctx.state.get(VectorStoresStore).search(
            [store.id],
            queries,
            max_results=body.get("max_num_results") or sim.DEFAULT_MAX_RESULTS,
            now=ctx.state.clock(),
            file_exists=lambda file_id: ctx.state.get(FilesStore).get(file_id) is not None,
            score_threshold=threshold,
            embedding_weight=embedding_weight,
            text_weight=text_weight,
            filters=body.get("filters"),
        )
        return Reply.of_json(
            {
                "data": [hit.search_result() for hit in hits],
                "has_more": False,
                "next_page": None,
                "object": "vector_store.search_results.page",
                "search_query": queries,
            }
        )


class CreateVectorStoreFile(StateOperation):
    name: ClassVar[str] = "VectorStoreFiles_Create"

    def validate(self, ctx: RequestContext) -> None:
        body = _body(ctx)
        _store(ctx)
        file_id = body.get("file_id")
        if not isinstance(file_id, str):
            raise missing_parameter("file_id")
        if ctx.state.get(FilesStore).get(file_id) is None:
            raise file_not_found(file_id)
        check.chunking_strategy(body.get("chunking_strategy"))
        check.attributes(body.get("attributes"))

    async def simulate(self, ctx: RequestContext) -> Reply:
        body = _body(ctx)
        store = _store(ctx)
        stored = _attach(
            ctx,
            store,
            body["file_id"],
            check.chunking_strategy(body.get("chunking_strategy")),
            check.attributes(body.get("attributes")),
        )
        return Reply.of_json(stored.describe(ctx.state.clock()))


class ListVectorStoreFiles(StateOperation):
    name: ClassVar[str] = "VectorStoreFiles_List"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        store = _store(ctx)
        files = list(store.files.values())
        batch_id = ctx.path_params.get("batch_id")
        if batch_id is not None:
            batch = _batch(ctx, store)
            files = [f for f in files if f.file_id in batch.file_ids and f.batch_id == batch.id]
        _poll(store, files)
        now = ctx.state.clock()
        described = [f.describe(now) for f in files]
        wanted = ctx.query.get("filter")
        if wanted is not None:
            described = [f for f in described if f["status"] == wanted]
        return Reply.of_json(page_of(_oldest_first(described), ctx.query))


def _store_file(ctx: RequestContext, store: sim.VectorStore) -> sim.StoreFile:
    file_id = ctx.path_params["file_id"]
    stored = store.files.get(file_id)
    if stored is None:
        raise object_not_found(f"No file found with id '{file_id}' in vector store '{store.id}'.")
    return stored


class RetrieveVectorStoreFile(StateOperation):
    name: ClassVar[str] = "VectorStoreFiles_Get"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        store = _store(ctx)
        stored = _store_file(ctx, store)
        _poll(store, [stored])
        return Reply.of_json(stored.describe(ctx.state.clock()))


class DeleteVectorStoreFile(StateOperation):
    name: ClassVar[str] = "VectorStoreFiles_Delete"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        store = _store(ctx)
        stored = _store_file(ctx, store)
        ctx.state.get(VectorStoresStore).detach(store, stored.file_id)
        return Reply.of_json(
            {"deleted": True, "id": stored.file_id, "object": "vector_store.file.deleted"}
        )


def _batch(ctx: RequestContext, store: sim.VectorStore) -> sim.FileBatch:
    batch_id = ctx.path_params["batch_id"]
    batch = ctx.state.get(VectorStoresStore).batches.get(batch_id)
    if batch is None or batch.vector_store_id != store.id:
        raise object_not_found(
            f"No file batch found with id '{batch_id}' in vector store '{store.id}'."
        )
    return batch


def _describe_batch(ctx: RequestContext, store: sim.VectorStore, batch: sim.FileBatch) -> Reply:
    now = ctx.state.clock()
    files = [
        f for f in store.files.values() if f.batch_id == batch.id and f.file_id in batch.file_ids
    ]
    counts = store.counts(files, now)
    if counts["in_progress"]:
        status = "cancelling" if batch.cancelled else "in_progress"
    elif batch.cancelled:
        status = "cancelled"
    else:
        status = "failed" if counts["failed"] and not counts["completed"] else "completed"
    return Reply.of_json(
        {
            "created_at": batch.created_at,
            "file_counts": counts,
            "id": batch.id,
            "object": "vector_store.files_batch",
            "status": status,
            "vector_store_id": store.id,
        }
    )


class CreateFileBatch(StateOperation):
    name: ClassVar[str] = "VectorStoreFileBatches_Create"

    def validate(self, ctx: RequestContext) -> None:
        body = _body(ctx)
        _store(ctx)
        ids = check.file_ids(body.get("file_ids"))
        if not ids:
            raise missing_parameter("file_ids")
        for file_id in ids:
            if ctx.state.get(FilesStore).get(file_id) is None:
                raise file_not_found(file_id)
        check.chunking_strategy(body.get("chunking_strategy"))
        check.attributes(body.get("attributes"))

    async def simulate(self, ctx: RequestContext) -> Reply:
        body = _body(ctx)
        store = _store(ctx)
        batch = sim.FileBatch(
            id="vsfb_" + ctx.state.ids.item_id("vsfb")[5:37],
            vector_store_id=store.id,
            file_ids=check.file_ids(body.get("file_ids")),
            created_at=int(ctx.state.clock()),
        )
        ctx.state.get(VectorStoresStore).batches.add(batch)
        strategy = check.chunking_strategy(body.get("chunking_strategy"))
        attributes = check.attributes(body.get("attributes"))
        for file_id in batch.file_ids:
            _attach(ctx, store, file_id, strategy, attributes, batch_id=batch.id)
        return _describe_batch(ctx, store, batch)


class RetrieveFileBatch(StateOperation):
    name: ClassVar[str] = "VectorStoreFileBatches_Get"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        store = _store(ctx)
        batch = _batch(ctx, store)
        _poll(store, [f for f in store.files.values() if f.batch_id == batch.id])
        return _describe_batch(ctx, store, batch)


class CancelFileBatch(StateOperation):
    name: ClassVar[str] = "VectorStoreFileBatches_Cancel"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        store = _store(ctx)
        batch = _batch(ctx, store)
        now = ctx.state.clock()
        batch.cancelled = True
        for stored in store.files.values():
            if stored.batch_id == batch.id and stored.status(now) == "in_progress":
                stored.cancelled = True
        return _describe_batch(ctx, store, batch)


# -- the Responses file_search tool ------------------------------------------------------------


def file_search_tools(body: Any) -> list[dict[str, Any]]:
    tools = body.get("tools") if isinstance(body, dict) else None
    if not isinstance(tools, list):
        return []
    return [t for t in tools if isinstance(t, dict) and t.get("type") == "file_search"]


def check_file_search_tools(ctx: RequestContext) -> None:
    """Azure's 400s for a ``file_search`` tool without vector stores or with unknown ones."""
    stores = ctx.state.get(VectorStoresStore).stores

    def exists(store_id: str) -> bool:
        return stores.get(store_id) is not None

    for i, tool in enumerate(ctx.body.get("tools") or []):
        if isinstance(tool, dict) and tool.get("type") == "file_search":
            check.file_search_tool(tool, f"tools[{i}]", exists)


def _last_user_text(body: dict[str, Any]) -> str:
    raw = body.get("input")
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        return ""
    for item in reversed(raw):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(
                str(p.get("text", ""))
                for p in content
                if isinstance(p, dict) and p.get("type") == "input_text"
            )
    return ""


def _tool_search(ctx: RequestContext, tool: dict[str, Any], queries: list[str]) -> list[sim.Hit]:
    """One ``file_search`` tool's retrieval; settings a recording let through that Azure
    would reject fall back to their defaults (validation runs on unrecorded requests only)."""
    ids = tool.get("vector_store_ids")
    store_ids = [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
    limit = tool.get("max_num_results")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
        limit = sim.TOOL_MAX_RESULTS
    try:
        threshold, embedding_weight, text_weight = check.ranking(
            tool.get("ranking_options"), "tool"
        )
    except AzureError:
        threshold, embedding_weight, text_weight = 0.0, 1.0, 1.0
    filters = tool.get("filters")
    return ctx.state.get(VectorStoresStore).search(
        store_ids,
        queries,
        max_results=limit,
        now=ctx.state.clock(),
        file_exists=lambda file_id: ctx.state.get(FilesStore).get(file_id) is not None,
        score_threshold=threshold,
        embedding_weight=embedding_weight,
        text_weight=text_weight,
        filters=filters if isinstance(filters, dict) else None,
    )


def attach_file_search(
    ctx: RequestContext, response: dict[str, Any], *, simulated: bool
) -> dict[str, Any]:
    """``response`` with the file search computed (a no-op without a ``file_search`` tool)."""
    tools = file_search_tools(ctx.body)
    if not tools or ctx.body.get("tool_choice") == "none":
        return response
    response = copy.deepcopy(response)
    output: list[dict[str, Any]] = list(response.get("output") or [])
    recorded = next((item for item in output if item.get("type") == "file_search_call"), None)
    recorded_queries = (recorded or {}).get("queries")
    queries = [q for q in recorded_queries or [] if isinstance(q, str)]
    if not isinstance(recorded_queries, list) or not queries:
        queries = [q for q in [_last_user_text(ctx.body).strip()] if q]
    hits: list[sim.Hit] = []
    for tool in tools:
        if queries:
            hits.extend(_tool_search(ctx, tool, queries))
    hits.sort(key=lambda hit: -hit.score)
    include = ctx.body.get("include")
    include = include if isinstance(include, list) else []
    call = {
        "id": (recorded or {}).get("id") or ctx.state.ids.item_id("fs"),
        "queries": queries,
        "results": [h.tool_result() for h in hits]
        if "file_search_call.results" in include
        else None,
        "status": "completed",
        "type": "file_search_call",
    }
    if recorded is not None:
        output[output.index(recorded)] = call
    else:
        first_message = next(
            (n for n, item in enumerate(output) if item.get("type") == "message"), len(output)
        )
        output.insert(first_message, call)
    fmt = ((ctx.body.get("text") or {}).get("format") or {}).get("type", "text")
    plain_text = fmt == "text"
    for item in output:
        if item.get("type") != "message":
            continue
        for part in item.get("content") or []:
            if part.get("type") != "output_text":
                continue
            others = [a for a in part.get("annotations") or [] if a.get("type") != "file_citation"]
            if simulated and plain_text:
                part["text"], cited = sim.lenient_answer(str(part.get("text", "")), hits, queries)
            else:
                cited = sim.citations_for(str(part.get("text", "")), hits)
            part["annotations"] = cited + others
    response["output"] = output
    response["tools"] = copy.deepcopy(ctx.body.get("tools") or [])  # the ids this request used
    return response


def _endpoints(prefix: str) -> tuple[Endpoint, ...]:
    base = f"{prefix}/vector_stores"
    store = f"{base}/{{vector_store_id}}"
    batch = f"{store}/file_batches/{{batch_id}}"
    return (
        Endpoint("POST", base, CreateVectorStore()),
        Endpoint("GET", base, ListVectorStores()),
        Endpoint("GET", store, RetrieveVectorStore()),
        Endpoint("POST", store, ModifyVectorStore()),
        Endpoint("DELETE", store, DeleteVectorStore()),
        Endpoint("POST", f"{store}/search", SearchVectorStore()),
        Endpoint("POST", f"{store}/files", CreateVectorStoreFile()),
        Endpoint("GET", f"{store}/files", ListVectorStoreFiles()),
        Endpoint("GET", f"{store}/files/{{file_id}}", RetrieveVectorStoreFile()),
        Endpoint("DELETE", f"{store}/files/{{file_id}}", DeleteVectorStoreFile()),
        Endpoint("POST", f"{store}/file_batches", CreateFileBatch()),
        Endpoint("GET", batch, RetrieveFileBatch()),
        Endpoint("POST", f"{batch}/cancel", CancelFileBatch()),
        Endpoint("GET", f"{batch}/files", ListVectorStoreFiles()),
    )


SERVICE = on_both_surfaces("vector_stores", _endpoints, sim.VectorStoresStore)
