"""The answer step: what a request gets once its deployment is known, sent directly or batched.

1. the recordings: a recorded answer is served exactly, a recorded 4xx included;
2. what no recording covers is validated (the operation's own checks), then held to Azure's
   limits (:mod:`helpers.replay.limits`);
3. the deployment's quota is charged (``x-ratelimit-*`` headers; a 429 when enforced);
4. then it is simulated (operations on state the server keeps, and every operation in
   lenient mode, where a draft can be saved for a curator) or explained (a replay miss).

The HTTP pipeline (:mod:`helpers.replay.pipeline`) runs it for every request, after the
api-version, credentials, body and deployment steps (:func:`serve`); the Batch API runs it
for every line of an input file (:func:`answer` with ``quota=False``: batch lines do not draw
on the online deployments' quota), so a batch line gets the same recordings, validation,
limits and simulation as the same request sent directly.

The step needs only what :class:`Answerable` lists, which every
:class:`~helpers.replay.services.base.Operation` has; it imports no service, so the services
can call it.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from . import azure, errors, limits
from .config import Mode
from .context import Reply, RequestContext, StreamEvent
from .recordings.matching import describe_request, nearest_diff
from .recordings.store import Interaction, RecordedRequest, RecordedResponse, StreamChunk
from .replies import dump_json

log = logging.getLogger("helpers.replay")


class Answerable(Protocol):
    """What the answer step asks of an operation (see :mod:`helpers.replay.services.base`)."""

    @property
    def name(self) -> str: ...
    @property
    def adapts_answers(self) -> bool: ...
    @property
    def simulated(self) -> bool: ...
    def validate(self, ctx: RequestContext) -> None: ...
    def charged_tokens(self, ctx: RequestContext) -> int: ...
    async def simulate(self, ctx: RequestContext) -> Reply: ...
    def present(self, ctx: RequestContext, reply: Reply) -> Reply: ...
    def served(self, ctx: RequestContext, reply: Reply) -> None: ...
    def store(self, body: Any) -> Any: ...


async def serve(ctx: RequestContext, operation: Answerable) -> Reply:
    """An HTTP request's answer, after which the operation keeps the state it creates."""
    ctx.state.requests_served += 1
    reply = await answer(ctx, operation)
    if reply.status < 400:
        operation.served(ctx, reply)
    return reply


async def answer(ctx: RequestContext, operation: Answerable, *, quota: bool = True) -> Reply:
    """A recording if one matches, else validation, limits and a simulation or an explained
    miss; ``quota=False`` charges nothing (batch lines). Azure's errors are raised."""
    state = ctx.state
    match = state.store.lookup(ctx.method, ctx.path, ctx.lookup_version, ctx.body)
    if match is not None:
        if quota:
            account(ctx, operation, key=("charge", id(match.interaction)))
        log.debug("%s %s -> %s (%s #%d)", ctx.method, ctx.path,
                  match.interaction.response.status, match.source, match.index)  # fmt: skip
        return recorded_reply(ctx, operation, match.interaction)
    operation.validate(ctx)
    limits.check_request(ctx, operation.name)  # Azure's limits, on what validation let through
    if quota:
        account(ctx, operation)
    if operation.simulated:
        return _with_headers(await operation.simulate(ctx), ctx)
    if state.config.mode is Mode.LENIENT:
        log.warning("lenient %s %s -> unrecorded, simulated", ctx.method, ctx.path)
        reply = _with_headers(await operation.simulate(ctx), ctx)
        reply.headers["x-replay-unrecorded"] = "true"
        if state.config.draft:
            save_draft(ctx, operation, reply)
        return reply
    raise errors.recording_not_found(miss_message(ctx))


def body_of(reply: Reply) -> Any:
    """A reply's body as a batch output line holds it: JSON parsed, text as text, else None."""
    if reply.json is not None:
        return reply.json
    if reply.content is None:
        return None
    if reply.content_type == "application/json":
        return json.loads(reply.content)
    return reply.content.decode("utf-8", errors="replace")


# --- recorded answers -----------------------------------------------------------------------


def recorded_reply(
    ctx: RequestContext, operation: Answerable | None, interaction: Interaction
) -> Reply:
    """A recorded interaction's answer, with Azure's headers for this request."""
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
        return Reply.of_bytes(
            recorded.text.encode("utf-8"),
            recorded.content_type or "text/plain; charset=utf-8",
            recorded.status,
            headers,
        )
    if recorded.status == 204 and recorded.body is None:
        return Reply(status=204, headers=headers)
    if operation is None or recorded.status >= 400 or not operation.adapts_answers:
        # Served as recorded: serialised once per interaction, not per request.
        body = ctx.state.prepared(("json", id(interaction)), lambda: dump_json(recorded.body))
        return Reply.of_bytes(body, "application/json", recorded.status, headers)
    return operation.present(ctx, Reply.of_json(recorded.body, recorded.status, headers))


# --- quota ----------------------------------------------------------------------------------


def account(ctx: RequestContext, operation: Answerable, key: tuple[str, int] | None = None) -> None:
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
            ctx.response_headers.update(azure_headers(ctx, rate_limits))
            raise errors.rate_limited(
                operation.name,
                ctx.api_version,
                decision.retry_after,
                ctx.response_headers,
                decision.exceeded,
            )
    ctx.response_headers.update(azure_headers(ctx, rate_limits))


def azure_headers(ctx: RequestContext, rate_limits: dict[str, str]) -> dict[str, str]:
    """The headers Azure adds to every answer: request ids, region, rate limits."""
    return azure.response_headers(
        ctx.state.ids,
        region=ctx.state.config.region,
        deployment=ctx.deployment_name,
        client_request_id=ctx.headers.get("x-ms-client-request-id"),
        rate_limits=rate_limits,
    )


# --- simulated answers and misses -----------------------------------------------------------


def _with_headers(reply: Reply, ctx: RequestContext) -> Reply:
    reply.headers = {**ctx.response_headers, **reply.headers}
    return reply


def save_draft(ctx: RequestContext, operation: Answerable, reply: Reply) -> None:
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
    """Why replay mode has no answer: the files searched and the nearest recorded request."""
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
