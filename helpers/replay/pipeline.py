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
6. the recordings: a recorded answer is served exactly, a recorded 4xx included
7. what no recording covers is validated, then held to Azure's limits (-> Azure's 400;
   :mod:`helpers.replay.limits`), then simulated (lenient
   mode, and operations on state the server keeps) or explained (replay miss)
8. quota accounting before any answer -> ``x-ratelimit-*`` headers, 429 when enforced

Operations supply only what is their own (:mod:`helpers.replay.services.base`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

from . import azure, errors, limits
from .behaviours import faults
from .config import API_VERSION_PATTERN, Mode
from .context import Reply, RequestContext, StreamEvent
from .errors import CredentialProblem
from .identity import key_is_valid, token_is_valid
from .recordings.matching import describe_request, nearest_diff, normalise_multipart
from .recordings.store import Interaction, RecordedRequest, RecordedResponse, StreamChunk
from .replies import ReplyResponse, dump_json
from .services.base import Endpoint, Front, Operation, Service
from .state import ReplayState

log = logging.getLogger("helpers.replay")

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


def credential_problem(ctx: RequestContext, audience: str) -> CredentialProblem | None:
    """What is wrong with the request's credentials for ``audience``, or None when they pass.

    ``api-key`` is compared with the server's key; ``Authorization: Bearer`` must carry a
    token for ``audience`` (:func:`.identity.token_is_valid`). The v1 API also takes the
    resource key as a bearer token (the plain ``OpenAI`` client sends ``api_key`` that way).
    """
    key = ctx.state.config.api_key
    presented = ctx.headers.get("api-key")
    if presented is not None:
        return None if key_is_valid(presented, key) else "key"
    auth = ctx.headers.get("authorization")
    if auth is None:
        return "missing"
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        return "token"
    if ctx.is_v1 and key_is_valid(token, key):
        return None
    if not token_is_valid(token, key, ctx.state.clock(), audience=audience):
        return "token"
    return None


def authenticate(ctx: RequestContext, audience: str, front: Front = OPENAI_FRONT) -> None:
    """Check ``api-key`` or ``Authorization: Bearer`` as Azure does; the service's 401/403."""
    problem = credential_problem(ctx, audience)
    if problem is not None:
        raise front.unauthorized(problem, audience)


# --- step 4: the body -----------------------------------------------------------------------

LARGE_BODY_BYTES = 1024 * 1024
"""JSON bodies larger than this are parsed in a worker thread, so the event loop (every other
request) does not wait for them."""


def parse_json(raw: bytes, front: Front = OPENAI_FRONT) -> Any:
    """The body as JSON Azure accepts, or the service's 400 (:func:`.limits.parse_json_body`)."""
    return limits.parse_json_body(raw, error=front.bad_body)


async def read_body(request: Request, ctx: RequestContext, front: Front = OPENAI_FRONT) -> None:
    """Fill ``ctx.raw_body``/``body`` (and ``files`` for multipart) from the request."""
    content_type = request.headers.get("content-type", "")
    ctx.content_type = content_type.split(";")[0].strip().lower() or None
    multipart = ctx.content_type == "multipart/form-data"
    limit = limits.MAX_MULTIPART_BODY_BYTES if multipart else front.max_json_body
    declared = limits.declared_length(request.headers)
    if declared is not None and declared > limit:
        raise front.too_large(declared, limit)
    ctx.raw_body = await limits.read_capped(request.stream(), limit, error=front.too_large)
    request._body = ctx.raw_body  # Starlette's body cache: the form parser reads it from there
    if multipart:
        fields: dict[str, Any] = {}
        try:
            async with request.form() as form:
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
    ctx.deployment_name, ctx.deployment = name, deployment


# --- step 8: quota --------------------------------------------------------------------------


def account(ctx: RequestContext, operation: Operation, key: tuple[str, int] | None = None) -> None:
    """Charge the deployment's quota; set the response headers; raise 429 when enforced.

    ``key`` names a recorded interaction whose charge is counted once and then remembered.
    """
    state = ctx.state
    rate_limits: dict[str, str] = {}
    if ctx.deployment is not None and ctx.deployment_name is not None:
        charge = (
            state.prepared(key, lambda: operation.charged_tokens(ctx))
            if key is not None
            else operation.charged_tokens(ctx)
        )
        decision = state.limiter.check(
            ctx.deployment_name,
            ctx.deployment.requests_per_minute,
            ctx.deployment.tokens_per_minute,
            charge,
        )
        rate_limits = decision.headers()
        if not decision.allowed:
            ctx.response_headers.update(_azure_headers(ctx, rate_limits))
            raise errors.rate_limited(
                operation.name, ctx.api_version, decision.retry_after, ctx.response_headers
            )
    ctx.response_headers.update(_azure_headers(ctx, rate_limits))


def _azure_headers(ctx: RequestContext, rate_limits: dict[str, str]) -> dict[str, str]:
    return azure.response_headers(
        ctx.state.ids,
        region=ctx.state.config.region,
        deployment=ctx.deployment_name,
        client_request_id=ctx.headers.get("x-ms-client-request-id"),
        rate_limits=rate_limits,
    )


# --- steps 6 and 7: recordings, validation, simulation -------------------------------------


def recorded_reply(
    ctx: RequestContext, operation: Operation | None, interaction: Interaction
) -> Reply:
    recorded = interaction.response
    headers = dict(ctx.response_headers)
    for name, value in recorded.headers.items():
        if not name.lower().startswith("x-ratelimit-remaining"):
            headers[name.lower()] = value
    headers.pop("content-type", None)
    headers.pop("content-length", None)
    if recorded.fault is not None:
        return Reply(status=recorded.status, headers=headers, fault=recorded.fault)
    if recorded.stream is not None:
        events = ctx.state.prepared(
            ("events", id(interaction)),
            lambda: [
                StreamEvent(chunk.data, chunk.delay_ms / 1000, chunk.event)
                for chunk in recorded.stream or []
            ],
        )
        return Reply.of_stream(
            list(events), status=recorded.status, headers=headers, end=recorded.stream_end or "done"
        )
    if recorded.text is not None:
        reply = Reply.of_bytes(
            recorded.text.encode("utf-8"),
            recorded.content_type or "text/plain; charset=utf-8",
            recorded.status,
            headers,
        )
    elif recorded.status == 204 and recorded.body is None:
        reply = Reply(status=204, headers=headers)
    elif operation is None or recorded.status >= 400 or not operation.adapts_answers:
        # Served as recorded: serialised once per interaction, not per request.
        body = ctx.state.prepared(("json", id(interaction)), lambda: dump_json(recorded.body))
        reply = Reply.of_bytes(body, "application/json", recorded.status, headers)
    else:
        reply = operation.present(ctx, Reply.of_json(recorded.body, recorded.status, headers))
    return reply


async def answer(ctx: RequestContext, operation: Operation) -> Reply:
    """The answer, after which the operation keeps whatever state it creates."""
    reply = await _answer(ctx, operation)
    if reply.status < 400:
        operation.served(ctx, reply)
    return reply


async def _answer(ctx: RequestContext, operation: Operation) -> Reply:
    """A recording if one matches, else validation and a simulation or an explained miss."""
    state = ctx.state
    match = state.store.lookup(ctx.method, ctx.path, ctx.lookup_version, ctx.body)
    state.requests_served += 1
    if match is not None:
        account(ctx, operation, key=("charge", id(match.interaction)))
        log.debug("%s %s -> %s (%s #%d)", ctx.method, ctx.path,
                  match.interaction.response.status, match.source, match.index)  # fmt: skip
        return recorded_reply(ctx, operation, match.interaction)
    operation.validate(ctx)
    limits.check_request(ctx, operation.name)  # Azure's limits, on what validation let through
    account(ctx, operation)
    mode = state.config.mode
    if operation.simulated:
        return _with_headers(await operation.simulate(ctx), ctx)
    if mode is Mode.LENIENT:
        log.warning("lenient %s %s -> unrecorded, simulated", ctx.method, ctx.path)
        reply = _with_headers(await operation.simulate(ctx), ctx)
        reply.headers["x-replay-unrecorded"] = "true"
        if state.config.draft:
            save_draft(ctx, operation, reply)
        return reply
    raise errors.recording_not_found(miss_message(ctx))


def _with_headers(reply: Reply, ctx: RequestContext) -> Reply:
    reply.headers = {**ctx.response_headers, **reply.headers}
    return reply


def save_draft(ctx: RequestContext, operation: Operation, reply: Reply) -> None:
    """Append a lenient miss to the recordings file for a curator to complete by hand.

    Bodies are stored in their recorded form (embeddings as floats, whatever encoding the
    request asked for), as record mode stores them.
    """
    if reply.events is not None:
        response = RecordedResponse(
            stream=[StreamChunk(data=e.data, event=e.event) for e in reply.events],
            stream_end=None if reply.stream_end == "done" else reply.stream_end,
        )
    else:
        response = RecordedResponse(status=reply.status, body=operation.store(reply.json))
    request = RecordedRequest(
        method=ctx.method, path=ctx.path, api_version=ctx.api_version, body=ctx.body
    )
    ctx.state.store.append(
        ctx.state.config.record_path, Interaction(name="draft", request=request, response=response)
    )


def miss_message(ctx: RequestContext) -> str:
    store = ctx.state.store
    searched = ", ".join(store.source_names) or "(no recordings files loaded)"
    received = describe_request(ctx.method, ctx.path, ctx.api_version, ctx.body)
    candidates = (
        (
            f"{recordings.display_name} #{index}"
            + (f" ({interaction.name})" if interaction.name else ""),
            describe_request(
                interaction.request.method,
                interaction.request.path,
                interaction.request.api_version or ctx.api_version,
                interaction.request.body,
            ),
        )
        for recordings, index, interaction in store.candidates()
    )
    nearest = nearest_diff(received, candidates)
    version = f" (api-version {ctx.api_version})" if ctx.api_version else ""
    lines = [
        f"Missing recording: the replay server has no recording of {ctx.method} {ctx.path}"
        f"{version}, so this is not Azure's answer. Searched: {searched}."
    ]
    if nearest is None:
        lines.append("The recordings hold no interactions at all.")
    else:
        label, diff = nearest
        lines.append(f"Most similar recorded request: {label}. Differences (recorded -> received):")
        lines.append(diff or "(no difference in the compared fields)")
    lines.append(
        "To go on: undo the change to the request, add an interaction to the recordings file, "
        "set REPLAY_MODE=lenient for a simulated answer, or record one with `make record`."
    )
    return "\n".join(lines)


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
        injector = ctx.state.simulator("faults")
        assert isinstance(injector, faults.FaultInjector)
        kind = injector.draw(ctx.state.config.faults_for(ctx.deployment))
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
            ctx.response_headers.update(_azure_headers(ctx, rate_limits))
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
        authenticate(ctx, service.audience, front)
        if operation.body_kind != "none":
            await read_body(request, ctx, front)
        resolve_deployment(ctx, operation)
        fault = pick_fault(ctx, operation)
        reply = await answer(ctx, operation)
        if fault is not None:
            reply = faults.apply_fault(fault, reply)
        reply = faults.apply_latency(state.config.latency_for(ctx.deployment), reply)
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
        match = state.store.lookup(ctx.method, ctx.path, ctx.lookup_version, ctx.body)
        if match is not None:
            ctx.response_headers.update(_azure_headers(ctx, {}))
            return ReplyResponse(recorded_reply(ctx, None, match.interaction))  # type: ignore[return-value]
        # A miss on a resource the recordings know (``/openai/batches/...``) is explained;
        # any other unknown path gets Azure's bare 404, as on Azure.
        family = _SAME_FAMILY.match(ctx.path)
        recorded_family = (
            family is not None
            and family.group(1) != "/openai/deployments"
            and any(
                interaction.request.path.startswith(family.group(1))
                for _, _, interaction in state.store.candidates()
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
