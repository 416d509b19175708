"""The Azure AI Search data-plane routes, as ``azure-search-documents`` calls them.

Every request goes through the same steps: ``api-version`` (400), credentials (401 / 403),
the index (404), then the operation. Errors are :class:`~.errors.SearchError`; anything
unexpected is logged and answered with a 500 in Azure's shape, as a last resort.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...identity import key_is_valid, token_is_valid
from . import engine, errors, odata
from .store import DOCUMENT_KEY, Index, SearchState, validate_document

log = logging.getLogger("helpers.replay.services.search")
log.addHandler(logging.NullHandler())

SEARCH_AUDIENCE = "https://search.azure.com"
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
MAX_BATCH = 32_000
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]

Handler = Callable[[Request], Awaitable[Response]]


class _Service:
    """The handlers, bound to one :class:`SearchState`."""

    def __init__(
        self, api_key: str, state: SearchState, service_name: str, clock: Callable[[], float]
    ) -> None:
        self.api_key = api_key
        self.state = state
        self.service_name = service_name
        self.clock = clock

    # -- pipeline --------------------------------------------------------------------------

    def endpoint(self, handlers: dict[str, Handler]) -> Handler:
        """One route: checks, then the handler for the request's method."""

        async def handle(request: Request) -> Response:
            headers = {"request-id": str(uuid.uuid4()), "OData-Version": "4.0"}
            try:
                if request.query_params.get("api-version") not in API_VERSIONS:
                    raise errors.missing_api_version()
                self.authenticate(request)
                handler = handlers.get(request.method)
                if handler is None:
                    raise errors.SearchError(
                        405, f"The HTTP method '{request.method}' is not supported here."
                    )
                with self.state.lock:
                    response = await handler(request)
            except errors.SearchError as error:
                log.info("search %s %s -> %s", request.method, request.url.path, error.status)
                return error.to_response(headers)
            except Exception:  # the last resort: never a bare 500 page
                log.exception("search %s %s failed", request.method, request.url.path)
                return errors.SearchError(
                    500, "The replay server's search simulator failed; see its log."
                ).to_response(headers)
            response.headers.update(headers)
            return response

        return handle

    def authenticate(self, request: Request) -> None:
        key = request.headers.get("api-key")
        if key is not None:
            if not key_is_valid(key, self.api_key):
                raise errors.forbidden()
            return
        authorization = request.headers.get("authorization")
        if authorization is None:
            raise errors.missing_credentials()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not search_token_is_valid(
            token.strip(), self.api_key, self.clock()
        ):
            raise errors.forbidden()

    def index(self, request: Request) -> Index:
        name = request.path_params["name"]
        index = self.state.indexes.get(name)
        if index is None:
            raise errors.index_not_found(name, self.service_name)
        return index

    # -- indexes -----------------------------------------------------------------------------

    async def list_indexes(self, request: Request) -> Response:
        selected = [
            s.strip() for s in request.query_params.get("$select", "").split(",") if s.strip()
        ]
        indexes = [index.representation() for index in self.state]
        if selected and selected != ["*"]:
            indexes = [{k: v for k, v in body.items() if k in selected} for body in indexes]
        return JSONResponse({"value": indexes})

    async def create_index(self, request: Request) -> Response:
        index = self.state.build_index(await _json(request))
        if index.name in self.state.indexes:
            index.close()
            raise errors.SearchError(
                409, f"Cannot create index '{index.name}' because it already exists."
            )
        self.state.indexes[index.name] = index
        return JSONResponse(index.representation(), status_code=201)

    async def get_index(self, request: Request) -> Response:
        return JSONResponse(self.index(request).representation())

    async def put_index(self, request: Request) -> Response:
        name = request.path_params["name"]
        existing = self.state.indexes.get(name)
        _check_preconditions(request, existing)
        index = self.state.build_index(await _json(request), name=name)
        if existing is not None:
            _check_compatible(existing, index)
            for key, document in existing.documents.items():
                index.put(key, {f: document.get(f) for f in index.fields})
            existing.close()
        self.state.indexes[name] = index
        status = 200 if existing is not None else 201
        if request.headers.get("prefer", "").strip() == "return=representation":
            return JSONResponse(
                index.representation(),
                status_code=status,
                headers={"Preference-Applied": "return=representation"},
            )
        return Response(status_code=204)

    async def delete_index(self, request: Request) -> Response:
        index = self.index(request)
        _check_preconditions(request, index)
        del self.state.indexes[index.name]
        index.close()
        return Response(status_code=204)

    # -- documents ---------------------------------------------------------------------------

    async def count(self, request: Request) -> Response:
        return JSONResponse(len(self.index(request).documents))

    async def lookup(self, request: Request) -> Response:
        index = self.index(request)
        document = index.documents.get(request.path_params["key"])
        if document is None:
            raise errors.document_not_found()
        select = odata.parse_select(request.query_params.get("$select"), index)
        return JSONResponse(engine.project(document, select))

    async def search_post(self, request: Request) -> Response:
        index = self.index(request)
        return self._search(request, index, await _json(request))

    async def search_get(self, request: Request) -> Response:
        index = self.index(request)
        params = request.query_params
        body: dict[str, Any] = {}
        renames = {
            "search": "search", "$filter": "filter", "$orderby": "orderby", "$select": "select",
            "searchFields": "searchFields", "searchMode": "searchMode", "queryType": "queryType",
        }  # fmt: skip
        for name, key in renames.items():
            if name in params:
                body[key] = params[name]
        for name, key in (("$top", "top"), ("$skip", "skip")):
            if name in params:
                try:
                    body[key] = int(params[name])
                except ValueError as exc:
                    raise errors.invalid_request(f"{name} : must be an integer.") from exc
        if "$count" in params:
            body["count"] = params["$count"].lower() == "true"
        return self._search(request, index, body)

    def _search(self, request: Request, index: Index, body: Any) -> Response:
        parsed = engine.parse_request(body, index)
        version = request.query_params.get("api-version")
        prefix = request.url.path.split("/indexes(", 1)[0]  # where the app is mounted
        next_link = str(
            request.url.replace(
                path=f"{prefix}/indexes('{index.name}')/docs/search.post.search",
                query=f"api-version={version}",
            )
        )
        return JSONResponse(engine.run(index, parsed, next_link))

    async def index_documents(self, request: Request) -> Response:
        index = self.index(request)
        body = await _json(request)
        actions = body.get("value") if isinstance(body, dict) else None
        if not isinstance(actions, list) or not actions or len(actions) > MAX_BATCH:
            raise errors.invalid_request(
                "actions : No indexing actions found in the request. Please include between 1 "
                f"and {MAX_BATCH} indexing actions in your request."
            )
        prepared: list[tuple[str, str, dict[str, Any]]] = []
        for position, action in enumerate(actions):
            if not isinstance(action, dict):
                raise errors.invalid_request(f"actions : {position}: must be a JSON object.")
            kind = action.get("@search.action", "upload")
            if kind not in ("upload", "merge", "mergeOrUpload", "delete"):
                raise errors.invalid_request(
                    f"actions : {position}: '{kind}' is not a valid @search.action; use upload, "
                    "merge, mergeOrUpload or delete."
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
        results = [self._apply(index, kind, key, document) for kind, key, document in prepared]
        status = 200 if all(r["status"] for r in results) else 207
        return JSONResponse({"value": results}, status_code=status)

    @staticmethod
    def _apply(index: Index, kind: str, key: str, document: dict[str, Any]) -> dict[str, Any]:
        def result(status_code: int, message: str | None = None) -> dict[str, Any]:
            return {
                "key": key,
                "status": message is None,
                "errorMessage": message,
                "statusCode": status_code,
            }

        if not DOCUMENT_KEY.fullmatch(key):
            return result(
                400,
                f"Invalid document key: '{key}'. Keys can only contain letters, digits, "
                "underscore (_), dash (-), or equal sign (=).",
            )
        existing = index.documents.get(key)
        if kind == "delete":
            index.remove(key)
            return result(200)
        if kind == "merge" and existing is None:
            return result(404, "Document not found.")
        if existing is not None and kind in ("merge", "mergeOrUpload"):
            index.put(key, {**existing, **document})
            return result(200)
        full = {name: document.get(name) for name in index.fields}
        index.put(key, full)
        return result(201 if existing is None else 200)

    async def not_found(self, request: Request) -> Response:
        raise errors.resource_not_found()


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise errors.invalid_request(f"The request body is not valid JSON ({exc}).") from exc


def _no_constants(name: str) -> Any:
    """NaN and Infinity are not JSON (Python's json module would accept them)."""
    raise ValueError(f"{name} is not a JSON value")


def _check_preconditions(request: Request, index: Index | None) -> None:
    if_match = request.headers.get("if-match")
    if_none_match = request.headers.get("if-none-match")
    failed = (if_match is not None and (index is None or if_match not in ("*", index.etag))) or (
        if_none_match is not None and index is not None and if_none_match in ("*", index.etag)
    )
    if failed:
        raise errors.SearchError(
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
            updated.close()
            raise errors.bad_request(
                f"Existing field '{name}' cannot be changed or removed. Delete the index and "
                "create it again to change its fields."
            )


def search_token_is_valid(token: str, key: str, now: float) -> bool:
    """True for a token that :class:`helpers.replay.ReplayCredential` minted for Azure AI Search."""
    return token_is_valid(token, key, now, audience=SEARCH_AUDIENCE)


def create_search_app(
    *,
    api_key: str,
    state: SearchState,
    service_name: str = "replay-search",
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The Azure AI Search data plane as an ASGI app (mount it, or serve it on its own port)."""
    service = _Service(api_key, state, service_name, clock)
    table: list[tuple[str, dict[str, Handler]]] = [
        ("/indexes", {"GET": service.list_indexes, "POST": service.create_index}),
        (
            "/indexes('{name}')",
            {"GET": service.get_index, "PUT": service.put_index, "DELETE": service.delete_index},
        ),
        ("/indexes('{name}')/docs/$count", {"GET": service.count}),
        ("/indexes('{name}')/docs/search.post.search", {"POST": service.search_post}),
        ("/indexes('{name}')/docs/search.index", {"POST": service.index_documents}),
        ("/indexes('{name}')/docs('{key}')", {"GET": service.lookup}),
        ("/indexes('{name}')/docs", {"GET": service.search_get}),
    ]
    routes = [
        Route(path, service.endpoint(handlers), methods=ALL_METHODS) for path, handlers in table
    ]
    routes.append(
        Route(
            "/{path:path}",
            service.endpoint(dict.fromkeys(ALL_METHODS, service.not_found)),
            methods=ALL_METHODS,
        )
    )
    app = Starlette(routes=routes)
    app.state.search = state
    return app
