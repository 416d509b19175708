"""Background mode of the Responses API: ``background: true``, polling, cancel, resumed streams.

As Microsoft Learn's *Use the Azure OpenAI Responses API* (how-to/responses, "Background
tasks") describes it:

* ``POST /responses`` with ``background: true`` answers at once with ``status: "queued"``;
  the server keeps the final response aside (a :class:`BackgroundJob`);
* ``GET /responses/{id}`` then finds it ``queued``, ``in_progress`` and finally ``completed``
  as the server's clock passes (:data:`QUEUED_SECONDS`, :data:`RUNNING_SECONDS`): the same
  injected clock the Batch API's jobs use, so a test or a notebook on virtual time sees the
  same statuses on every run;
* ``POST /responses/{id}/cancel`` makes an unfinished job ``cancelled``; cancelling again
  returns the same cancelled response ("Canceling is idempotent");
* with ``stream: true`` as well, every event carries its ``sequence_number`` and
  ``GET /responses/{id}?stream=true&starting_after=N`` sends the events after ``N`` again
  ("You can only resume streaming if the original request included ``stream=true``");
* "Background mode requires ``store=true``": ``store: false`` is a 400.

A recorded background create is kept the same way: a recorded stream's events (and its final
response) are what a resumed stream replays; a recorded JSON answer is ``queued`` and its
polls are recorded too. The wording of the 400s for cancelling a response that was not created
in the background, or one that already finished, and for resuming a stream that was not
streamed, is this simulator's: neither Learn nor the REST specs give Azure's.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from ...context import Reply, RequestContext, StreamEvent
from ...errors import AzureError, invalid_request, object_not_found
from ...replies import dump_json
from ...state import ObjectsById
from ..base import StateOperation
from . import simulator

QUEUED_SECONDS = 1.0
"""How long a simulated background response stays ``queued``."""
RUNNING_SECONDS = 3.0
"""How long it is then ``in_progress`` before it is ``completed``."""
UNFINISHED = frozenset({"queued", "in_progress"})


@dataclass
class BackgroundJob:
    """A background response: its final form, kept aside, and when it changes status."""

    id: str
    final: dict[str, Any]
    created: float
    events: list[StreamEvent] | None = None
    """The stream's events (``stream: true``), numbered by ``sequence_number``."""
    cancelled_at: float | None = None

    def status_at(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "cancelled"
        if now < self.created + QUEUED_SECONDS:
            return "queued"
        if now < self.created + QUEUED_SECONDS + RUNNING_SECONDS:
            return "in_progress"
        return str(self.final.get("status", "completed"))

    def view(self, now: float) -> dict[str, Any]:
        """The response a look at ``now`` finds: the final one once it is done, else the
        same response with that status and no output or usage yet."""
        status = self.status_at(now)
        if status not in UNFINISHED and status != "cancelled":
            return copy.deepcopy(self.final)
        return unfinished(self.final, status)


def unfinished(response: dict[str, Any], status: str) -> dict[str, Any]:
    """``response`` as it looks while ``status`` (queued, in_progress or cancelled)."""
    return {**copy.deepcopy(response), "status": status, "output": [], "usage": None}


class BackgroundJobs(ObjectsById[BackgroundJob]):
    """The background responses the server knows the final form of; reset with the server."""


def check_create(body: dict[str, Any]) -> None:
    """Learn: "Background mode requires store=true. Stateless requests are not supported." """
    if body.get("background") and body.get("store", True) is False:
        raise invalid_request(
            "Background mode requires 'store' to be true: a background response must be "
            "stored to be retrieved.",
            param="store",
            code="invalid_value",
        )


def _dump(payload: dict[str, Any]) -> str:
    return dump_json(payload).decode("utf-8")


def stream_payloads(final: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A background stream as ``(event type, payload)``: ``response.created`` and
    ``response.queued`` with the response queued, then the events of the finished response
    (from ``response.in_progress`` on), numbered from 0 by ``sequence_number``."""
    queued = unfinished(final, "queued")
    opening = [
        ("response.created", {"response": queued}),
        ("response.queued", {"response": queued}),
    ]
    later = [(k, p) for k, p in simulator.stream_events(final) if k != "response.created"]
    return [
        (kind, {**payload, "type": kind, "sequence_number": number})
        for number, (kind, payload) in enumerate([*opening, *later])
    ]


def stream_events(final: dict[str, Any]) -> list[StreamEvent]:
    """:func:`stream_payloads` as the events a reply sends."""
    return [StreamEvent(_dump(payload), event=kind) for kind, payload in stream_payloads(final)]


def start(ctx: RequestContext, final: dict[str, Any]) -> Reply:
    """A simulated background create: keep ``final`` aside, answer ``queued`` (or stream)."""
    streamed = bool(ctx.body.get("stream"))
    job = BackgroundJob(
        id=final["id"],
        final=final,
        created=ctx.clock,
        events=stream_events(final) if streamed else None,
    )
    ctx.state.get(BackgroundJobs).add(job)
    if job.events is not None:
        return Reply.of_stream(list(job.events), end="eof")
    return Reply.of_json(job.view(ctx.clock))


def keep_recorded(ctx: RequestContext, reply: Reply) -> None:
    """A recorded background stream: keep its events, so a resumed stream replays them."""
    if not ctx.body.get("background") or reply.events is None:
        return
    final = simulator.final_response(e.data for e in reply.events)
    jobs = ctx.state.get(BackgroundJobs)
    if final is None or not isinstance(final.get("id"), str) or jobs.get(final["id"]):
        return
    jobs.add(BackgroundJob(id=final["id"], final=final, created=ctx.clock, events=reply.events))


def retrieve(ctx: RequestContext, response_id: str) -> Reply | None:
    """``GET /responses/{id}`` of a background response (``None`` for any other): its status
    at the server's clock, or with ``stream=true`` its events after ``starting_after``."""
    job = ctx.state.get(BackgroundJobs).get(response_id)
    streamed = ctx.query.get("stream", "").lower() == "true"
    if job is None:
        if streamed and ctx.state.get(simulator.ResponsesStore).get(response_id) is not None:
            raise _not_streamed()
        return None
    if not streamed:
        return Reply.of_json(job.view(ctx.clock))
    if job.events is None:
        raise _not_streamed()
    after = _starting_after(ctx.query.get("starting_after"))
    return Reply.of_stream([e for e in job.events if _number(e) > after], end="eof")


def _not_streamed() -> AzureError:
    return invalid_request(
        "This response was not created with stream=true, so there is no stream to resume.",
        param="stream",
        code="invalid_value",
    )


def _starting_after(value: str | None) -> int:
    if value is None:
        return -1
    try:
        return int(value)
    except ValueError:
        raise invalid_request(
            f"Invalid 'starting_after': expected an integer, but got '{value}' instead.",
            param="starting_after",
            code="invalid_type",
        ) from None


def _number(event: StreamEvent) -> int:
    """An event's ``sequence_number`` (-1 for one without)."""
    try:
        payload = json.loads(event.data)
    except json.JSONDecodeError:
        return -1
    number = payload.get("sequence_number") if isinstance(payload, dict) else None
    return number if isinstance(number, int) else -1


class CancelResponse(StateOperation):
    """``POST /responses/{id}/cancel``: an unfinished background response becomes
    ``cancelled``; a cancelled one is returned again (Learn: cancelling is idempotent)."""

    name: ClassVar[str] = "Responses_Cancel"
    body_kind = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        response_id = ctx.path_params["response_id"]
        job = ctx.state.get(BackgroundJobs).get(response_id)
        if job is None:
            if ctx.state.get(simulator.ResponsesStore).get(response_id) is None:
                raise object_not_found(f"Response with id '{response_id}' not found.")
            raise invalid_request(
                "Cannot cancel a synchronous response: only responses created with "
                "background=true can be cancelled.",
                param=None,
                code="invalid_value",
            )
        now = ctx.clock
        status = job.status_at(now)
        if status not in UNFINISHED and status != "cancelled":
            raise invalid_request(
                f"Cannot cancel a response that is already {status}.",
                param=None,
                code="invalid_value",
            )
        if job.cancelled_at is None:
            job.cancelled_at = now
        return Reply.of_json(job.view(now))
