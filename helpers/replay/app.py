"""The replay server's ASGI application: routing and the request pipeline.

Every request to ``/openai/...`` goes through the same steps Azure takes, in
Azure's order, so each fault gets Azure's answer:

1. route and ``api-version``      -> 404 ``Resource not found``
2. credentials                    -> 401
3. deployment                     -> 404 ``DeploymentNotFound`` / 400 ``OperationNotSupported``
4. JSON body and its parameters   -> 400 naming the parameter
5. rate-limit accounting          -> ``x-ratelimit-*`` headers (429 when enforced)
6. the answer: a recording (replay, lenient), a marked simulation (lenient miss),
   an explaining error (replay miss), or the upstream's answer (record).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import azure, errors
from .config import API_VERSION_PATTERN, Deployment, Mode, ReplayConfig
from .errors import AzureError
from .identity import key_is_valid, token_is_valid
from .matching import describe_request, nearest_diff
from .operations import DEPLOYMENT_OPERATIONS, Operation
from .record import Recorder
from .recordings import (
    Interaction,
    RecordedRequest,
    RecordedResponse,
    RecordingsStore,
    StreamChunk,
)
from .simulators.ratelimit import RateLimiter

log = logging.getLogger("helpers.replay")
log.addHandler(logging.NullHandler())

SERVER_NAME = "azure-openai-cookbook-replay"


@dataclass
class ReplayState:
    """What the running server knows: configuration, recordings, counters."""

    config: ReplayConfig
    store: RecordingsStore
    clock: Callable[[], float] = time.time
    limiter: RateLimiter = field(default_factory=RateLimiter)
    ids: azure.IdSource = field(default_factory=azure.IdSource)
    recorder: Recorder | None = None
    requests_served: int = 0


def create_app(
    config: ReplayConfig,
    *,
    store: RecordingsStore | None = None,
    clock: Callable[[], float] = time.time,
    limiter: RateLimiter | None = None,
) -> Starlette:
    """Build the ASGI app. ``clock`` drives token expiry; ``limiter`` the quota model."""
    store = store if store is not None else RecordingsStore.from_paths(config.recordings)
    state = ReplayState(config=config, store=store, clock=clock)
    if limiter is not None:
        state.limiter = limiter
    if config.mode is Mode.RECORD:
        if not config.upstream:
            raise ValueError("record mode needs an upstream URL (--upstream)")
        state.recorder = Recorder(config.upstream, config.record_path, store)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "server": SERVER_NAME,
                "mode": config.mode.value,
                "recordings": store.source_names,
                "deployments": sorted(config.deployments),
            }
        )

    async def reset(request: Request) -> Response:
        _authenticate(request, state)
        store.reset()
        state.ids = azure.IdSource()
        return Response(status_code=204)

    async def deployment_operation(request: Request) -> Response:
        return await _handle(request, state)

    async def anything_else(request: Request) -> Response:
        if config.mode is Mode.RECORD and state.recorder is not None:
            raw = await request.body()
            body = _parse_json(raw) if raw else None
            return await state.recorder.forward(
                request, raw, body, None, request.query_params.get("api-version")
            )
        return errors.resource_not_found().to_response()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if state.recorder is not None:
            await state.recorder.aclose()

    routes = [
        Route("/_replay/health", health, methods=["GET"]),
        Route("/_replay/reset", reset, methods=["POST"]),
        Route(
            "/openai/deployments/{deployment}/{operation:path}",
            deployment_operation,
            methods=["POST"],
        ),
        Route("/{path:path}", anything_else, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.replay = state
    return app


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise errors.invalid_request(
            "We could not parse the JSON body of your request. The API expects a JSON payload, "
            f"but what was sent was not valid JSON ({exc}).",
            param=None,
            code=None,
        ) from exc


def _authenticate(request: Request, state: ReplayState) -> None:
    key = request.headers.get("api-key")
    if key is not None:
        if not key_is_valid(key, state.config.api_key):
            raise errors.unauthorized_key()
        return
    auth = request.headers.get("authorization")
    if auth is None:
        raise errors.unauthorized_key()
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token_is_valid(
        token.strip(), state.config.api_key, state.clock()
    ):
        raise errors.unauthorized_token()


def _find_operation(suffix: str) -> Operation | None:
    for operation in DEPLOYMENT_OPERATIONS:
        if "/" + suffix == operation.suffix:
            return operation
    return None


async def _handle(request: Request, state: ReplayState) -> Response:
    config = state.config
    deployment_name = request.path_params["deployment"]
    operation = _find_operation(request.path_params["operation"])
    api_version = request.query_params.get("api-version")
    try:
        if operation is None or not api_version or not API_VERSION_PATTERN.fullmatch(api_version):
            raise errors.resource_not_found()
        if config.mode is Mode.RECORD:
            assert state.recorder is not None
            raw = await request.body()
            body = _parse_json(raw)
            return await state.recorder.forward(request, raw, body, operation, api_version)
        _authenticate(request, state)
        deployment = config.deployments.get(deployment_name)
        if deployment is None:
            raise errors.deployment_not_found()
        if deployment.kind != operation.kind:
            raise operation.wrong_model(deployment)
        body = _parse_json(await request.body())
        operation.validate(body, deployment)
        decision = state.limiter.check(
            deployment_name,
            deployment.requests_per_minute,
            deployment.tokens_per_minute,
            operation.charged_tokens(body),
        )
        headers = azure.response_headers(
            state.ids,
            region=config.region,
            deployment=deployment_name,
            client_request_id=request.headers.get("x-ms-client-request-id"),
            rate_limits=decision.headers(),
        )
        if not decision.allowed:
            raise _rate_limited(operation, api_version, decision.retry_after, headers)
        return await _answer(request, state, operation, deployment, body, api_version, headers)
    except AzureError as error:
        log.info(
            "%s %s %s -> %s", config.mode.value, request.method, request.url.path, error.status
        )
        return error.to_response()


def _rate_limited(
    operation: Operation, api_version: str, retry_after: float, headers: dict[str, str]
) -> AzureError:
    seconds = max(1, int(retry_after + 0.999))
    return AzureError(
        429,
        {
            "error": {
                "code": "429",
                "message": (
                    f"Requests to the {operation.name.capitalize()}_Create Operation under Azure "
                    f"OpenAI API version {api_version} have exceeded token rate limit of your "
                    f"current OpenAI S0 pricing tier. Please retry after {seconds} seconds. "
                    "Please go here: https://aka.ms/oai/quotaincrease if you would like to "
                    "further increase the default rate limit."
                ),
            }
        },
        headers=headers,
    )


async def _answer(
    request: Request,
    state: ReplayState,
    operation: Operation,
    deployment: Deployment,
    body: dict[str, Any],
    api_version: str,
    headers: dict[str, str],
) -> Response:
    config = state.config
    path = request.url.path
    match = state.store.lookup(request.method, path, api_version, body)
    state.requests_served += 1
    if match is not None:
        log.info(
            "%s %s %s -> %s (%s #%d)",
            config.mode.value, request.method, path, match.interaction.response.status,
            match.source, match.index,
        )  # fmt: skip
        return _recorded_response(match.interaction, operation, body, headers)
    if config.mode is Mode.LENIENT:
        log.warning("lenient %s %s -> unrecorded, simulated", request.method, path)
        headers["x-replay-unrecorded"] = "true"
        simulated = operation.simulate(body, deployment, state.ids)
        if config.draft:
            _save_draft(state, request.method, path, api_version, body, simulated)
        if isinstance(simulated, list):
            return _sse_response([(payload, 0.0) for payload in simulated], 200, headers)
        return JSONResponse(operation.present(simulated, body), headers=headers)
    raise errors.recording_not_found(
        _miss_message(state.store, request.method, path, api_version, body)
    )


def _save_draft(
    state: ReplayState,
    method: str,
    path: str,
    api_version: str,
    body: dict[str, Any],
    simulated: dict[str, Any] | list[str],
) -> None:
    """Append a lenient miss to the recordings file for a curator to complete by hand."""
    response = (
        RecordedResponse(stream=[StreamChunk(data=payload) for payload in simulated])
        if isinstance(simulated, list)
        else RecordedResponse(body=simulated)
    )
    request = RecordedRequest(method=method, path=path, api_version=api_version, body=body)
    state.store.append(
        state.config.record_path, Interaction(name="draft", request=request, response=response)
    )


def _recorded_response(
    interaction: Interaction, operation: Operation, body: dict[str, Any], headers: dict[str, str]
) -> Response:
    recorded = interaction.response
    for name, value in recorded.headers.items():
        if not name.startswith("x-ratelimit-remaining"):
            headers[name.lower()] = value
    headers.pop("content-type", None)
    headers.pop("content-length", None)
    if recorded.stream is not None:
        return _sse_response(
            [(chunk.data, chunk.delay_ms / 1000) for chunk in recorded.stream],
            recorded.status,
            headers,
        )
    content = operation.present(recorded.body, body) if recorded.status < 400 else recorded.body
    return Response(
        json.dumps(content, separators=(",", ":"), ensure_ascii=False),
        status_code=recorded.status,
        headers=headers,
        media_type="application/json",
    )


def _sse_response(
    events: list[tuple[str, float]], status: int, headers: dict[str, str]
) -> Response:
    async def stream() -> AsyncIterator[bytes]:
        for data, delay in events:
            if delay > 0:
                await asyncio.sleep(delay)
            yield f"data: {data}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(
        stream(),
        status_code=status,
        headers=headers,
        media_type="text/event-stream; charset=utf-8",
    )


def _miss_message(
    store: RecordingsStore, method: str, path: str, api_version: str | None, body: Any
) -> str:
    searched = ", ".join(store.source_names) or "(no recordings files loaded)"
    received = describe_request(method, path, api_version, body)
    candidates = (
        (
            f"{recordings.display_name} #{index}"
            + (f" ({interaction.name})" if interaction.name else ""),
            describe_request(
                interaction.request.method,
                interaction.request.path,
                interaction.request.api_version or api_version,
                interaction.request.body,
            ),
        )
        for recordings, index, interaction in store.candidates()
    )
    nearest = nearest_diff(received, candidates)
    lines = [
        f"No recording matches {method} {path} (api-version {api_version}). Searched: {searched}."
    ]
    if nearest is None:
        lines.append("The recordings hold no interactions at all.")
    else:
        label, diff = nearest
        lines.append(f"Nearest recorded request: {label}. Differences (recorded -> received):")
        lines.append(diff or "(no difference in the compared fields)")
    lines.append(
        "To go on: undo the change to the request, add an interaction to the recordings file, "
        "set REPLAY_MODE=lenient for a simulated answer, or record one with `make record`."
    )
    return "\n".join(lines)
