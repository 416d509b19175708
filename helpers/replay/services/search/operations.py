"""Azure AI Search's data plane on the server's one pipeline, as the SDK calls it.

Every request takes the pipeline's steps (:mod:`helpers.replay.pipeline`) with this service's
:data:`FRONT`: the route and its ``api-version`` (400 "Invalid or missing api-version query
string parameter.") and the 8 KB URL limit, the one ``authenticate`` for the
``https://search.azure.com`` audience (401/403 with an empty body, as Azure AI Search
answers), the one guarded JSON reader with a 16 MB limit, then the operation. Operations
find their index (404) and do their work off the event loop, in a worker thread, under the
service's lock and within a time budget (:mod:`.budget`; Azure's 503 when it runs out), so
one expensive request cannot hold up any other route of the server.

Paths are served in both of Azure's spellings, the OData one the SDK sends
(``/indexes('name')/docs/search.post.search``) and the one the REST docs show
(``/indexes/name/docs/search``). Search results are computed from the documents a notebook
uploads, never recorded.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool

from ...context import Reply, RequestContext
from ...replies import dump_json
from ...state import ReplayState
from ..base import BodyKind, Endpoint, Front, Service, StateOperation
from . import engine, errors, limits, odata
from .budget import DEFAULT_SECONDS, Deadline, OutOfTime
from .errors import shown
from .store import DOCUMENT_KEY, Index, SearchState, reindex, validate_document

PREFIX = "/search"
SEARCH_AUDIENCE = "https://search.azure.com"
SERVICE_NAME = "replay-search"
API_VERSIONS = frozenset(
    {
        # Generally available data-plane versions (azure-search-documents 12 sends 2026-04-01).
        "2020-06-30",
        "2023-11-01",
        "2024-07-01",
        "2025-09-01",
        "2026-04-01",
        # Previews still in use by samples.
        "2024-05-01-preview",
        "2024-09-01-preview",
        "2024-11-01-preview",
        "2025-03-01-preview",
        "2025-05-01-preview",
        "2025-08-01-preview",
        "2025-11-01-preview",
    }
)
ODATA_HEADERS = {"OData-Version": "4.0"}


def check_route(ctx: RequestContext) -> None:
    """Step 1 for Azure AI Search: the URL's length, then a supported ``api-version``."""
    if ctx.target_length > limits.MAX_URL_BYTES:
        raise errors.url_too_long(ctx.target_length, limits.MAX_URL_BYTES)
    if ctx.api_version not in API_VERSIONS:
        raise errors.missing_api_version()


FRONT = Front(
    prefix=PREFIX,
    check_route=check_route,
    unauthorized=errors.unauthorized,
    bad_body=errors.unreadable_body,
    too_large=errors.body_too_large,
    max_json_body=limits.MAX_PAYLOAD_BYTES,
    not_found=errors.resource_not_found,
    method_not_allowed=errors.method_not_allowed,
    forwarded=False,
)


def search_state(ctx: RequestContext) -> SearchState:
    found = ctx.state.simulator("search")
    assert isinstance(found, SearchState)
    return found


class SearchOperation(StateOperation):
    """One data-plane operation: its work runs in a thread, under the lock, within budget."""

    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        search = search_state(ctx)
        seconds = search.budget_seconds

        def work() -> Reply:
            with search.lock:
                return self.run(ctx, search, Deadline(seconds))

        try:
            reply = await run_in_threadpool(work)
        except OutOfTime as exc:
            raise errors.busy(exc.seconds) from None
        reply.headers.update(ODATA_HEADERS)
        reply.headers["request-id"] = str(uuid.uuid4())
        return reply

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        raise NotImplementedError


def _index(ctx: RequestContext, search: SearchState) -> Index:
    name = ctx.path_params["name"]
    index = search.indexes.get(name)
    if index is None:
        raise errors.index_not_found(name, SERVICE_NAME)
    return index


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply.of_bytes(dump_json(body), "application/json; odata.metadata=minimal", status,
                          headers)  # fmt: skip


# -- the service ----------------------------------------------------------------------------------


class ServiceStatistics(SearchOperation):
    """``GET /servicestats``: counts and limits (estimates, as Azure's are)."""

    name = "Service_GetServiceStatistics"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        indexes = list(search)

        def counter(usage: int, quota: int | None) -> dict[str, int | None]:
            return {"usage": usage, "quota": quota}

        return _json(
            {
                "counters": {
                    "aliasesCount": counter(0, 30),
                    "documentCount": counter(sum(len(i.documents) for i in indexes), None),
                    "indexesCount": counter(len(indexes), 15),
                    "indexersCount": counter(0, 15),
                    "dataSourcesCount": counter(0, 15),
                    "storageSize": counter(sum(i.storage_size for i in indexes), 16 * 2**30),
                    "synonymMaps": counter(0, 3),
                    "skillsetCount": counter(0, 15),
                    "vectorIndexSize": counter(sum(i.vector_size for i in indexes), 5 * 2**30),
                },
                "limits": {
                    "maxFieldsPerIndex": limits.MAX_FIELDS_PER_INDEX,
                    "maxFieldNestingDepthPerIndex": 10,
                    "maxComplexCollectionFieldsPerIndex": 40,
                    "maxComplexObjectsInCollectionsPerDocument": 3000,
                    "maxStoragePerIndex": 16 * 2**30,
                },
            }
        )


# -- indexes -------------------------------------------------------------------------------------


class ListIndexes(SearchOperation):
    name = "Indexes_List"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        selected = [s.strip() for s in ctx.query.get("$select", "").split(",") if s.strip()]
        indexes = [index.representation() for index in search]
        if selected and selected != ["*"]:
            indexes = [{k: v for k, v in body.items() if k in selected} for body in indexes]
        return _json({"value": indexes})


class CreateIndex(SearchOperation):
    name = "Indexes_Create"
    body_kind: ClassVar[BodyKind] = "json"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        index = search.build_index(ctx.body)
        if index.name in search.indexes:
            raise errors.search_error(
                409, f"Cannot create index '{index.name}' because it already exists."
            )
        search.indexes[index.name] = index
        return _json(index.representation(), 201)


class GetIndex(SearchOperation):
    name = "Indexes_Get"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        return _json(_index(ctx, search).representation())


class IndexStatistics(SearchOperation):
    name = "Indexes_GetStatistics"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        index = _index(ctx, search)
        return _json(
            {
                "documentCount": len(index.documents),
                "storageSize": index.storage_size,
                "vectorIndexSize": index.vector_size,
            }
        )


class PutIndex(SearchOperation):
    """Create or update: an update may add fields, never change or remove one; the documents
    are indexed again under the new definition before it replaces the old one."""

    name = "Indexes_CreateOrUpdate"
    body_kind: ClassVar[BodyKind] = "json"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        name = ctx.path_params["name"]
        existing = search.indexes.get(name)
        _check_preconditions(ctx, existing)
        index = search.build_index(ctx.body, name=name)
        if existing is not None:
            _check_compatible(existing, index)
            reindex(index, existing.documents, deadline)
        search.indexes[name] = index  # only now: a failure above leaves the old index
        status = 200 if existing is not None else 201
        if ctx.headers.get("prefer", "").strip() == "return=representation":
            return _json(
                index.representation(), status, {"Preference-Applied": "return=representation"}
            )
        return Reply(status=204)


class DeleteIndex(SearchOperation):
    name = "Indexes_Delete"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        index = _index(ctx, search)
        _check_preconditions(ctx, index)
        del search.indexes[index.name]
        return Reply(status=204)


def _check_preconditions(ctx: RequestContext, index: Index | None) -> None:
    if_match = ctx.headers.get("if-match")
    if_none_match = ctx.headers.get("if-none-match")
    failed = (if_match is not None and (index is None or if_match not in ("*", index.etag))) or (
        if_none_match is not None and index is not None and if_none_match in ("*", index.etag)
    )
    if failed:
        raise errors.search_error(
            412, "The precondition given in one of the request headers evaluated to false."
        )


def _check_compatible(existing: Index, updated: Index) -> None:
    """Azure lets an update add fields, not change or remove existing ones."""
    for name, old in existing.fields.items():
        new = updated.fields.get(name)
        if new is None or (new.type, new.key, new.dimensions) != (
            old.type,
            old.key,
            old.dimensions,
        ):
            raise errors.bad_request(
                f"Existing field '{name}' cannot be changed or removed. Delete the index and "
                "create it again to change its fields."
            )


# -- documents ------------------------------------------------------------------------------------


class CountDocuments(SearchOperation):
    name = "Documents_Count"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        return _json(len(_index(ctx, search).documents))


class LookupDocument(SearchOperation):
    name = "Documents_Get"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        index = _index(ctx, search)
        key = ctx.path_params["key"]
        if ctx.path.endswith("')"):  # OData spelling: docs('it''s')
            key = key.replace("''", "'")
        document = index.documents.get(key)
        if document is None:
            raise errors.document_not_found()
        select = odata.parse_select(ctx.query.get("$select"), index)
        return _json(engine.project(document, select))


def _next_link(ctx: RequestContext, index: Index) -> str:
    base = ctx.base_url.rstrip("/")
    name = quote(index.name, safe="")
    version = quote(ctx.api_version or "", safe="")
    return f"{base}{PREFIX}/indexes('{name}')/docs/search.post.search?api-version={version}"


class SearchPost(SearchOperation):
    name = "Documents_SearchPost"
    body_kind: ClassVar[BodyKind] = "json"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        index = _index(ctx, search)
        request = engine.parse_request(ctx.body, index)
        return _json(engine.run(index, request, _next_link(ctx, index), deadline))


GET_PARAMETERS = {
    "search": "search", "$filter": "filter", "$orderby": "orderby", "$select": "select",
    "searchFields": "searchFields", "searchMode": "searchMode", "queryType": "queryType",
}  # fmt: skip


class SearchGet(SearchOperation):
    name = "Documents_SearchGet"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        index = _index(ctx, search)
        params = ctx.query
        body: dict[str, Any] = {
            key: params[name] for name, key in GET_PARAMETERS.items() if name in params
        }
        for name, key in (("$top", "top"), ("$skip", "skip")):
            if name in params:
                text = params[name].strip()
                if not text.isascii() or not text.isdigit() or len(text) > 18:
                    raise errors.invalid_request(f"{name} : must be a non-negative integer.")
                body[key] = int(text)
        if "$count" in params:
            body["count"] = params["$count"].lower() == "true"
        request = engine.parse_request(body, index)
        return _json(engine.run(index, request, _next_link(ctx, index), deadline))


class IndexDocuments(SearchOperation):
    """A batch of upload, merge, mergeOrUpload and delete actions.

    Everything that can fail the whole batch (its shape, a value of the wrong type) is checked
    first; then each action is judged against the index as the earlier ones leave it (a bad key,
    a merge of a missing document, a term too large), and only then are the successful ones
    applied, so a failure leaves nothing half-stored.
    """

    name = "Documents_Index"
    body_kind: ClassVar[BodyKind] = "json"

    def run(self, ctx: RequestContext, search: SearchState, deadline: Deadline) -> Reply:
        index = _index(ctx, search)
        body = ctx.body
        actions = body.get("value") if isinstance(body, dict) else None
        if (
            not isinstance(actions, list)
            or not actions
            or len(actions) > limits.MAX_INDEXING_ACTIONS
        ):
            raise errors.invalid_request(
                "actions : No indexing actions found in the request. Please include between 1 "
                f"and {limits.MAX_INDEXING_ACTIONS} indexing actions in your request."
            )
        prepared: list[tuple[str, str, dict[str, Any]]] = []
        for position, action in enumerate(deadline.every(actions, stride=64)):
            if not isinstance(action, dict):
                raise errors.invalid_request(f"actions : {position}: must be a JSON object.")
            kind = action.get("@search.action", "upload")
            if kind not in ("upload", "merge", "mergeOrUpload", "delete"):
                raise errors.invalid_request(
                    f"actions : {position}: {shown(kind)} is not a valid @search.action; "
                    "use upload, merge, mergeOrUpload or delete."
                )
            key = action.get(index.key.name)
            if not isinstance(key, str) or not key:
                raise errors.invalid_request(
                    f"actions : {position}: Document key cannot be missing or empty."
                )
            document = (
                {index.key.name: key}
                if kind == "delete"
                else validate_document(index, action, partial=kind != "upload")
            )
            prepared.append((kind, key, document))
        results, changes = _plan(index, prepared, deadline)
        for key, changed, analyzed in changes:  # cannot fail: everything was checked
            if changed is None:
                index.remove(key)
            else:
                index.put(key, changed, analyzed)
        status = 200 if all(r["status"] for r in results) else 207
        return _json({"value": results}, status)


Change = tuple[str, dict[str, Any] | None, Any]


def _plan(
    index: Index, prepared: list[tuple[str, str, dict[str, Any]]], deadline: Deadline
) -> tuple[list[dict[str, Any]], list[Change]]:
    """Each action's result, and the changes of the successful ones, in order."""
    pending: dict[str, dict[str, Any] | None] = {}
    results: list[dict[str, Any]] = []
    changes: list[Change] = []

    def result(key: str, status_code: int, message: str | None = None) -> None:
        results.append(
            {"key": key, "status": message is None, "errorMessage": message,
             "statusCode": status_code}
        )  # fmt: skip

    for kind, key, document in deadline.every(prepared, stride=16):
        if len(key) > limits.MAX_KEY_LENGTH or not DOCUMENT_KEY.fullmatch(key):
            shown = key if len(key) <= 100 else key[:100] + "..."
            result(
                key,
                400,
                f"Invalid document key: '{shown}'. Keys can only contain letters, digits, "
                "underscore (_), dash (-), or equal sign (=), and be at most "
                f"{limits.MAX_KEY_LENGTH} characters long.",
            )
            continue
        existing = pending[key] if key in pending else index.documents.get(key)
        if kind == "delete":
            pending[key] = None
            changes.append((key, None, None))
            result(key, 200)
            continue
        if kind == "merge" and existing is None:
            result(key, 404, "Document not found.")
            continue
        if existing is not None and kind in ("merge", "mergeOrUpload"):
            full = {**existing, **document}
        else:
            full = {name: document.get(name) for name in index.fields}
        analyzed = index.analyze(full)
        problem = index.term_too_large(full, analyzed)
        if problem is not None:
            result(key, 400, problem)
            continue
        pending[key] = full
        changes.append((key, full, analyzed))
        result(key, 201 if existing is None and kind != "merge" else 200)
    return results, changes


# -- the table ------------------------------------------------------------------------------------


def _both(
    method: str, odata_path: str, rest_path: str, operation: SearchOperation
) -> list[Endpoint]:
    return [
        Endpoint(method, PREFIX + odata_path, operation),
        Endpoint(method, PREFIX + rest_path, operation),
    ]


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", PREFIX + "/servicestats", ServiceStatistics()),
    Endpoint("GET", PREFIX + "/indexes", ListIndexes()),
    Endpoint("POST", PREFIX + "/indexes", CreateIndex()),
    *_both("GET", "/indexes('{name}')", "/indexes/{name}", GetIndex()),
    *_both("PUT", "/indexes('{name}')", "/indexes/{name}", PutIndex()),
    *_both("DELETE", "/indexes('{name}')", "/indexes/{name}", DeleteIndex()),
    *_both("GET", "/indexes('{name}')/search.stats", "/indexes/{name}/stats", IndexStatistics()),
    *_both("GET", "/indexes('{name}')/docs/$count", "/indexes/{name}/docs/$count",
           CountDocuments()),
    *_both("POST", "/indexes('{name}')/docs/search.post.search", "/indexes/{name}/docs/search",
           SearchPost()),
    *_both("POST", "/indexes('{name}')/docs/search.index", "/indexes/{name}/docs/index",
           IndexDocuments()),
    *_both("GET", "/indexes('{name}')/docs('{key}')", "/indexes/{name}/docs/{key}",
           LookupDocument()),
    *_both("GET", "/indexes('{name}')/docs", "/indexes/{name}/docs", SearchGet()),
)  # fmt: skip


def _register(state: ReplayState) -> None:
    state.register("search", SearchState(budget_seconds=DEFAULT_SECONDS))


SERVICE = Service(
    name="search",
    endpoints=ENDPOINTS,
    audience=SEARCH_AUDIENCE,
    register=_register,
    front=FRONT,
)
