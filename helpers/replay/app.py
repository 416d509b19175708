"""The replay server's ASGI application: services joined, one pipeline, one error boundary.

``create_app`` registers the stateful simulators, mounts every endpoint of every
service (:mod:`helpers.replay.services`) on the shared pipeline
(:mod:`helpers.replay.pipeline`), adds the server's own ``/_replay/*`` routes
and a last route that answers anything else from the recordings or with
Azure's 404. The whole app sits behind :class:`Boundary`: every request gets
a JSON answer in Azure's shape, an unexpected exception included (a logged 500
with the request id), so nothing the client sends can produce a plain-text
error or take the server down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors
from .behaviours.faults import FaultInjector, LatencyDraws
from .behaviours.projects import ProjectEndpoint
from .behaviours.ratelimit import RateLimiter
from .config import ReplayConfig
from .errors import AzureError
from .pipeline import (
    OPENAI_FRONT,
    AnyMethod,
    authenticate,
    endpoint_handler,
    new_context,
    recorded_only_handler,
    unrouted_handler,
)
from .recordings.record import Recorder
from .recordings.store import RecordingsStore
from .replies import TRANSPORT_KEY, StreamCut
from .services import SERVICES, Service
from .state import ReplayState

log = logging.getLogger("helpers.replay")
log.addHandler(logging.NullHandler())

SERVER_NAME = "azure-openai-cookbook-replay"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def new_state(
    config: ReplayConfig,
    store: RecordingsStore,
    clock: Callable[[], float],
    limiter: RateLimiter | None = None,
) -> ReplayState:
    """A state with every stateful store registered (quotas, faults, each service's stores)."""
    state = ReplayState(config=config, store=store, clock=clock)
    state.ids = type(state.ids)(config.seed)
    state.register(
        "rate_limits",
        limiter
        or RateLimiter(
            clock=clock,
            enforce=config.rate_limits.enforce,
            window=config.rate_limits.window_seconds,
        ),
    )
    state.register("faults", FaultInjector(config.seed))
    state.register("latency", LatencyDraws(config.seed))
    for service in SERVICES:
        if service.register is not None:
            service.register(state)
    return state


def create_app(
    config: ReplayConfig,
    *,
    store: RecordingsStore | None = None,
    clock: Callable[[], float] = time.time,
    limiter: RateLimiter | None = None,
) -> Starlette:
    """Build the ASGI app. ``clock`` drives token expiry and the simulators' time."""
    store = store if store is not None else RecordingsStore.from_paths(config.recordings)
    state = new_state(config, store, clock, limiter)
    if config.room_keys:  # a classroom: each learner's key with a whole state of its own
        state.learners = {
            key: new_state(config.model_copy(update={"seed": config.seed + n}), store.fork(), clock)
            for n, key in enumerate(config.room_keys, start=1)
        }
    if config.mode.records:
        if not config.upstream:
            raise ValueError("record mode needs an upstream URL (--upstream)")
        state.recorder = Recorder(config.upstream, config.record_path, store)

    async def health(request: Request) -> JSONResponse:
        document: dict[str, object] = {
            "server": SERVER_NAME,
            "mode": config.mode.value,
            "recordings": store.source_names,
            "deployments": sorted(config.deployments),
            "simulators": sorted(state.simulators),
        }
        if state.learners is not None:
            document["learners"] = len(state.learners)
        return JSONResponse(document)

    async def reset(request: Request) -> Response:
        ctx = new_context(request, state)
        authenticate(ctx, "https://cognitiveservices.azure.com")
        ctx.state.reset()  # the caller's own state (in a room, one learner's)
        return Response(status_code=204)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if state.recorder is not None:
            await state.recorder.aclose()

    routes: list[BaseRoute] = [
        Route("/_replay/health", health, methods=["GET"]),
        Route("/_replay/reset", reset, methods=["POST"]),
    ]
    for service in SERVICES:
        for endpoint in service.endpoints:
            routes.append(
                Route(
                    endpoint.path,
                    endpoint_handler(service, endpoint, state),
                    methods=[endpoint.method],
                )
            )
        prefix = service.front.prefix
        if prefix is not None:  # the rest of the service's paths, every method: its 404/405
            handler = AnyMethod(unrouted_handler(service, state))
            routes.append(Route(prefix, handler))
            routes.append(Route(prefix + "/{path:path}", handler))
    routes.append(
        Route(
            "/{path:path}",
            recorded_only_handler(state, "https://cognitiveservices.azure.com"),
            methods=ALL_METHODS,
        )
    )
    app = Starlette(
        routes=routes,
        middleware=[Middleware(ProjectEndpoint)],  # a Foundry project's OpenAI routes
        lifespan=lifespan,
        exception_handlers={
            AzureError: _azure_error,
            HTTPException: _http_error_for(SERVICES),
            Exception: _unexpected_error,
        },
    )
    app.state.replay = state
    return app


async def _azure_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AzureError)
    log.debug("%s %s -> %s", request.method, request.url.path, exc.status)
    return exc.to_response()


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StreamCut):  # a recorded cut: the response has started, nothing to send
        raise exc
    request_id = str(uuid.uuid4())
    log.error("unexpected error (request id %s)", request_id, exc_info=exc)
    return errors.internal_error(request_id).to_response()


def _http_error_for(services: tuple[Service, ...]) -> Callable[[Request, Exception], Any]:
    """Starlette's own 404/405 (a path or method no route takes) as the service's JSON error."""
    fronts = [s.front for s in services if s.front.prefix is not None]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = request.scope["path"]
        front = next(
            (f for f in fronts if f.prefix and (path + "/").startswith(f.prefix + "/")),
            OPENAI_FRONT,
        )
        if exc.status_code == 405:
            return front.method_not_allowed(request.method).to_response()
        if exc.status_code == 404:
            return front.not_found().to_response()
        return AzureError(
            exc.status_code, {"error": {"code": str(exc.status_code), "message": str(exc.detail)}}
        ).to_response()

    return http_error


class Boundary:
    """The outermost layer: no exception leaves it, no error is sent that is not Azure-shaped.

    It also hands the connection's transport to replies that must reset it (fault injection).
    """

    state: State
    """The wrapped app's ``state`` (set by :func:`create_asgi_app`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is not None:
            scope.setdefault("extensions", {})[TRANSPORT_KEY] = transport
        started = completed = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, completed
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                completed = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if completed:
                return  # answered already (Starlette re-raises after its error handler)
            if started:  # a cut stream, or a failure mid-body: end the connection, as Azure's would
                if not isinstance(exc, StreamCut):
                    log.error("unexpected error mid-response", exc_info=exc)
                if transport is not None:
                    transport.close()
                    await asyncio.sleep(0)
                return
            request_id = str(uuid.uuid4())
            log.error("unexpected error (request id %s)", request_id, exc_info=exc)
            response = errors.internal_error(request_id).to_response()
            await response(scope, receive, send)


def create_asgi_app(config: ReplayConfig, **options: Any) -> Boundary:
    """:func:`create_app` behind the :class:`Boundary`: what the HTTP server runs."""
    app = create_app(config, **options)
    boundary = Boundary(app)
    boundary.state = app.state
    return boundary
