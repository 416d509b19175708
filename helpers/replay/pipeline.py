"""The request pipeline: the steps Azure takes, in Azure's order, for every endpoint.

1. path and ``api-version``   -> 404 ``Resource not found`` (dated versions on
   ``/openai/...``; none, ``preview`` or ``latest`` on ``/openai/v1/...``); a service
   with its own rule checks it instead (Azure AI Search: 400, and its URL limit)
2. record mode                -> forward to the upstream, which judges credentials
3. credentials for the service's audience -> 401 (one :func:`authenticate` for every
   service; the answer's shape is the service's, :class:`~.services.base.Front`)
4. the body (JSON, multipart or none)     -> 400 when it cannot be read: one guarded JSON
   reader (:func:`.limits.parse_json_body`) with the service's size limit
5. the deployment, from the path or the body's ``model`` -> 404 ``DeploymentNotFound``,
   400 ``OperationNotSupported`` (an Azure AI Search index is found by its operation,
   under the service's lock: 404)
6. the answer step (:mod:`helpers.replay.answer`, which batch lines go through too): the
   recordings (a recorded answer is served exactly, a recorded 4xx included); what no
   recording covers is validated, then held to Azure's limits (-> Azure's 400;
   :mod:`helpers.replay.limits`); quota accounting (``x-ratelimit-*`` headers, 429 when
   enforced); then a simulation (lenient mode, and operations on state the server keeps)
   or an explained replay miss

Operations supply only what is their own (:mod:`helpers.replay.services.base`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Message, Receive, Scope, Send

from . import errors, limits
from .answer import account, azure_headers, miss_message, recorded_reply, serve
from .behaviours import faults, projects, router
from .config import API_VERSION_PATTERN, Mode
from .context import RequestContext
from .errors import CredentialProblem
from .identity import key_is_valid, token_is_valid
from .recordings.matching import normalise_multipart
from .replies import ReplyResponse
from .services.base import Endpoint, Front, Operation, Service
from .state import ReplayState

V1_PREFIX = "/openai/v1/"
V1_API_VERSIONS = frozenset({"preview", "latest"})

Handler = Callable[[Request], Awaitable[Response]]


# --- step 1: path and api-version -----------------------------------------------------------


def check_api_version(path: str, api_version: str | None) -> None:
    """Azure's bare 404 for a missing or malformed ``api-version``."""
    if path.startswith(V1_PREFIX):
        if api_version is not None and api_version not in V1_API_VERSIONS:
            raise errors.resource_not_found()
    elif path.startswith("/openai/") and (
        not api_version or not API_VERSION_PATTERN.fullmatch(api_version)
    ):
        raise errors.resource_not_found()


# --- step 3: credentials --------------------------------------------------------------------

OPENAI_FRONT = Front()
"""Azure OpenAI's first steps (every service but Azure AI Search)."""


def credential_owner(ctx: RequestContext, audience: str) -> ReplayState | CredentialProblem:
    """The state of the key the request's credentials prove, or what is wrong with them.

    ``api-key`` is compared with each key the server accepts (:meth:`.state.ReplayState.keys`:
    its own, or a room's learners'); ``Authorization: Bearer`` must carry a token for
    ``audience`` signed from one of them (:func:`.identity.token_is_valid`). The v1 API also
    takes a key as a bearer token (the plain ``OpenAI`` client sends ``api_key`` that way).
    """
    keys = ctx.state.keys()
    presented = ctx.headers.get("api-key")
    if ctx.project is not None:  # a project endpoint: Entra ID tokens only (behaviours/projects)
        if presented is not None:
            return "token"
        audience = projects.PROJECT_AUDIENCE
    elif presented is not None:
        return _holder(presented, keys) or "key"
    auth = ctx.headers.get("authorization")
    if auth is None:
        return "token" if ctx.project is not None else "missing"
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        return "token"
    if ctx.is_v1 and ctx.project is None and (owner := _holder(token, keys)) is not None:
        return owner
    now = ctx.state.clock()
    for key, owner in keys:
        if token_is_valid(token, key, now, audience=audience):
            return owner
    return "token"


def _holder(presented: str, keys: list[tuple[str, ReplayState]]) -> ReplayState | None:
    """The state of the key ``presented`` equals; every key compared in constant time."""
    found = None
    for key, owner in keys:
        if key_is_valid(presented, key):
            found = owner
    return found


def authenticate(ctx: RequestContext, audience: str, front: Front = OPENAI_FRONT) -> None:
    """Check ``api-key`` or ``Authorization: Bearer`` as Azure does (the service's 401/403),
    then put the credential's state on the request: from here on every store, quota and
    recording the request reaches is its key's (a room's learner's own, :mod:`.room`)."""
    owner = credential_owner(ctx, audience)
    if isinstance(owner, str):
        shown = projects.PROJECT_AUDIENCE if ctx.project is not None else audience
        raise front.unauthorized(owner, shown)
    ctx.state = owner


# --- step 4: the body -----------------------------------------------------------------------

LARGE_BODY_BYTES = 1024 * 1024
"""JSON bodies larger than this are parsed in a worker thread, so the event loop (every other
request) does not wait for them."""


def parse_json(raw: bytes, front: Front = OPENAI_FRONT) -> Any:
    """The body as JSON Azure accepts, or the service's 400 (:func:`.limits.parse_json_body`)."""
    return limits.parse_json_body(raw, error=front.bad_body)


async def read_body(request: Request, ctx: RequestContext, front: Front = OPENAI_FRONT) -> None:
    """Fill ``ctx.raw_body``/``body`` (and ``files`` for multipart) from the request, once."""
    if ctx.body_read:
        return
    ctx.body_read = True
    content_type = request.headers.get("content-type", "")
    ctx.content_type = content_type.split(";")[0].strip().lower() or None
    multipart = ctx.content_type == "multipart/form-data"
    limit = limits.MAX_MULTIPART_BODY_BYTES if multipart else front.max_json_body
    declared = limits.declared_length(request.headers)
    if declared is not None and declared > limit:
        raise front.too_large(declared, limit)
    ctx.raw_body = await limits.read_capped(request.stream(), limit, error=front.too_large)
    if multipart:
        fields: dict[str, Any] = {}
        body = ctx.raw_body

        async def receive_read_body() -> Message:  # the stream is spent: serve what was read
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            async with Request(request.scope, receive_read_body).form() as form:
                for name, value in form.multi_items():
                    if isinstance(value, str):
                        fields[name] = value
                    else:
                        content = await value.read()
                        ctx.files[name] = (
                            value.filename or "",
                            value.content_type or "application/octet-stream",
                            content,
                        )
        except Exception as exc:  # starlette raises its own parser errors, and AssertionError
            raise errors.invalid_request(
                f"The multipart body of your request could not be read ({type(exc).__name__}).",
                param=None,
                code="invalid_multipart",
            ) from exc
        ctx.body = normalise_multipart(fields, ctx.files)
        return
    if len(ctx.raw_body) > LARGE_BODY_BYTES:  # parsing takes a while: not on the event loop
        ctx.body = await run_in_threadpool(parse_json, ctx.raw_body, front)
    else:
        ctx.body = parse_json(ctx.raw_body, front) if ctx.raw_body else None


# --- step 5: the deployment -----------------------------------------------------------------

_MODEL_MISSING = errors.invalid_request(
    "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
)


def resolve_deployment(ctx: RequestContext, operation: Operation) -> None:
    if operation.deployment_kind is None:
        return
    name = ctx.path_params.get("deployment")
    if name is None:
        model = ctx.body.get("model") if isinstance(ctx.body, dict) else None
        if model is None:
            raise _MODEL_MISSING
        if not isinstance(model, str):
            raise errors.invalid_request(
                "Invalid type for 'model': expected a string.", param="model", code="invalid_type"
            )
        name = model
    deployment = ctx.state.config.deployments.get(name)
    if deployment is None:
        raise errors.deployment_not_found()
    if deployment.kind != operation.deployment_kind:
        raise operation.wrong_model(deployment)
    if deployment.is_router:  # checked, simulated and named as the model that answers
        deployment = router.answering(deployment, ctx.body)
    ctx.deployment_name, ctx.deployment = name, deployment


# --- simulated faults -------------------------------------------------------------------------


def pick_fault(ctx: RequestContext, operation: Operation) -> faults.FaultKind | None:
    """A fault forced by ``x-replay-fault`` or drawn for the deployment; HTTP ones raise here."""
    forced = ctx.headers.get(faults.FAULT_HEADER)
    if forced is not None:
        if forced not in faults.FAULT_KINDS:
            raise errors.invalid_request(
                f"Unknown {faults.FAULT_HEADER}: '{forced}'. "
                f"Known: {', '.join(faults.FAULT_KINDS)}.",
                param=faults.FAULT_HEADER,
                code="invalid_value",
            )
        kind: faults.FaultKind | None = forced  # type: ignore[assignment]
    elif operation.deployment_kind is None:
        return None
    else:
        kind = ctx.state.get(faults.FaultInjector).draw(ctx.state.config.faults_for(ctx.deployment))
    if kind is None:
        return None
    error = faults.error_for(kind, operation.name, ctx.api_version)
    if error is not None:
        if kind == "429":  # refused at the door: nothing charged, the quota left reported
            rate_limits: dict[str, str] = {}
            if ctx.deployment is not None and ctx.deployment_name is not None:
                rate_limits = ctx.state.limiter.peek(
                    ctx.deployment_name,
                    ctx.deployment.requests_per_minute,
                    ctx.deployment.tokens_per_minute,
                ).headers()
            ctx.response_headers.update(azure_headers(ctx, rate_limits))
        else:  # failed behind the door: charged on arrival, as Azure's quota is
            account(ctx, operation)
        error.headers = {**ctx.response_headers, **error.headers}
        raise error
    return kind


# --- the handlers ---------------------------------------------------------------------------


def new_context(request: Request, state: ReplayState) -> RequestContext:
    query = dict(request.query_params)
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    query_string = scope.get("query_string", b"")
    return RequestContext(
        method=request.method,
        path=scope["path"],
        path_params=dict(request.path_params),
        query=query,
        headers=request.headers,
        api_version=query.get("api-version"),
        state=state,
        base_url=_base_url(request),
        target_length=len(raw_path) + (len(query_string) + 1 if query_string else 0),
        project=scope.get(projects.PROJECT_KEY),
    )


def check_route(ctx: RequestContext, front: Front) -> None:
    """Step 1 after routing: the service's ``api-version`` rule (Azure OpenAI's by default)."""
    if front.check_route is not None:
        front.check_route(ctx)
    else:
        check_api_version(ctx.path, ctx.api_version)


def _base_url(request: Request) -> str:
    """The URL the client reached the server by; a ``Host`` header no URL holds gives way."""
    try:
        return str(request.base_url)
    except ValueError:  # e.g. "Host: [::" (urllib: "Invalid IPv6 URL")
        server = request.scope.get("server") or ("127.0.0.1", 80)
        return f"http://{server[0]}:{server[1]}/"


def endpoint_handler(service: Service, endpoint: Endpoint, state: ReplayState) -> Handler:
    """The pipeline for one endpoint, as a Starlette handler."""
    operation = endpoint.operation
    front = service.front

    async def handle(request: Request) -> Response:
        ctx = new_context(request, state)
        check_route(ctx, front)
        if state.config.mode is Mode.RECORD and front.forwarded:
            return await _forward(request, ctx, operation)
        if state.config.mode is Mode.RECORD_MISSING and front.forwarded:
            await read_body(request, ctx, front)
            if not state.store.holds(ctx.method, ctx.path, ctx.lookup_version, ctx.body):
                return await _forward(request, ctx, operation)
        authenticate(ctx, service.audience, front)
        if operation.body_kind != "none":
            await read_body(request, ctx, front)
        resolve_deployment(ctx, operation)
        fault = pick_fault(ctx, operation)
        reply = await serve(ctx, operation)
        if fault is not None:
            reply = faults.apply_fault(fault, reply)
        reply = faults.apply_latency(
            ctx.state.config.latency_for(ctx.deployment), reply, ctx.state.get(faults.LatencyDraws)
        )
        return ReplyResponse(reply)  # type: ignore[return-value]

    return handle


class AnyMethod:
    """A handler as an ASGI endpoint, so that Starlette routes every method to it (it gives a
    plain function only the methods listed, and a bare 405 for the others)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


def unrouted_handler(service: Service, state: ReplayState) -> Handler:
    """A request under a service's prefix that none of its endpoints took, whatever the method:
    the service's 405 when the path is one of its endpoints', else its 404, both after the
    route and credential checks as any request of the service."""
    front = service.front
    paths = [compile_path(endpoint.path)[0] for endpoint in service.endpoints]

    async def handle(request: Request) -> Response:
        ctx = new_context(request, state)
        check_route(ctx, front)
        authenticate(ctx, service.audience, front)
        if any(path.match(ctx.path) for path in paths):
            raise front.method_not_allowed(ctx.method)
        raise front.not_found()

    return handle


_SAME_FAMILY = re.compile(r"^(/openai/(?:v1/)?[^/]+)")


def recorded_only_handler(state: ReplayState, audience: str) -> Handler:
    """Any other request: served if a recording holds it, else Azure's 404."""

    async def handle(request: Request) -> Response:
        ctx = new_context(request, state)
        if state.config.mode is Mode.RECORD:
            return await _forward(request, ctx, None)
        if not ctx.path.startswith("/openai/"):
            raise errors.resource_not_found()
        check_api_version(ctx.path, ctx.api_version)
        authenticate(ctx, audience)
        await read_body(request, ctx)
        match = ctx.state.store.lookup(ctx.method, ctx.path, ctx.lookup_version, ctx.body)
        if match is not None:
            ctx.response_headers.update(azure_headers(ctx, {}))
            return ReplyResponse(recorded_reply(ctx, None, match.interaction))  # type: ignore[return-value]
        if state.config.mode is Mode.RECORD_MISSING:
            return await _forward(request, ctx, None)
        # A miss on a resource the recordings know (``/openai/batches/...``) is explained;
        # any other unknown path gets Azure's bare 404, as on Azure.
        family = _SAME_FAMILY.match(ctx.path)
        recorded_family = (
            family is not None
            and family.group(1) != "/openai/deployments"
            and any(
                interaction.request.path.startswith(family.group(1))
                for _, _, interaction in ctx.state.store.candidates()
            )
        )
        if recorded_family and state.config.mode is Mode.REPLAY:
            raise errors.recording_not_found(miss_message(ctx))
        raise errors.resource_not_found()

    return handle


async def _forward(request: Request, ctx: RequestContext, operation: Operation | None) -> Response:
    recorder = ctx.state.recorder
    assert recorder is not None
    await read_body(request, ctx)
    return await recorder.forward(request, ctx, operation)
