"""The Responses API: create (JSON or streamed), retrieve, delete, list input items.

* ``POST /openai/v1/responses`` (and ``POST /openai/responses?api-version=...-preview``),
  the deployment named by ``model``;
* ``GET /openai/v1/responses/{id}``, ``DELETE /openai/v1/responses/{id}``,
  ``GET /openai/v1/responses/{id}/input_items``;
* background mode (``background: true``, ``POST .../responses/{id}/cancel``, a stream
  resumed with ``?stream=true&starting_after=N``): :mod:`.background`.

A create is looked up in the recordings like any request; the server then keeps
the response it served (recorded or simulated) as state, so retrieval and
``previous_response_id`` chains work offline. Streams are sent as typed events
(``event:`` and ``data:`` lines) in Azure's order and end without ``[DONE]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ...._support.counting import count_responses_input
from ... import azure
from ...behaviours.content_filter import check_prompt
from ...behaviours.prompt_cache import PromptCache, cache_route, prompt_tokens
from ...context import Reply, RequestContext, StreamEvent
from ...errors import AzureError, invalid_request, object_not_found
from ...families import check_responses
from ...replies import dump_json
from ...state import ReplayState
from ..base import DeploymentKind, Endpoint, Operation, Service, StateOperation
from ..inference.operations import remember_prompt
from ..paging import page_of
from ..vector_stores.operations import (
    attach_file_search,
    check_file_search_tools,
    file_search_tools,
)
from . import background, mcp, simulator
from .validation import check_body


def _not_found(response_id: str) -> AzureError:
    return object_not_found(f"Response with id '{response_id}' not found.")


class CreateResponse(Operation):
    name: ClassVar[str] = "Responses_Create"
    label: ClassVar[str] = "responses"
    adapts_answers: ClassVar[bool] = True  # the served response is parsed to keep it as state
    deployment_kind: ClassVar[DeploymentKind | None] = "chat"

    def validate(self, ctx: RequestContext) -> None:
        body = check_body(ctx.body)
        background.check_create(body)
        check_file_search_tools(ctx)
        assert ctx.deployment is not None
        check_responses(body, ctx.deployment)
        previous = body.get("previous_response_id")
        if previous and ctx.state.get(simulator.ResponsesStore).get(previous) is None:
            raise invalid_request(
                f"Previous response with id '{previous}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        if mcp.mcp_tools(body):
            history = ctx.state.get(simulator.ResponsesStore).history(previous)
            mcp.check_approval_responses(body, history)

    def charged_tokens(self, ctx: RequestContext) -> int:
        body = ctx.body if isinstance(ctx.body, dict) else {}
        limit = body.get("max_output_tokens")
        model = ctx.deployment.model if ctx.deployment else "gpt-4o"
        instructions = body.get("instructions")
        prompt = count_responses_input(
            body.get("input") or [],
            model,
            instructions=instructions if isinstance(instructions, str) else None,
            tools=body.get("tools") if isinstance(body.get("tools"), list) else None,
            strict=False,
        )
        return prompt + (limit if isinstance(limit, int) else 0)

    async def simulate(self, ctx: RequestContext) -> Reply:
        assert ctx.deployment is not None and ctx.deployment_name is not None
        check_prompt(ctx.body, ctx.state.config.content_filter)
        state = ctx.state
        history = state.get(simulator.ResponsesStore).history(ctx.body.get("previous_response_id"))
        cached = state.get(PromptCache).lookup(
            ctx.deployment_name, prompt_tokens(ctx.body), cache_route(ctx.body)
        )
        response = simulator.simulate(
            ctx.body,
            ctx.deployment,
            state.ids,
            history,
            azure.timestamp(ctx.clock, ctx.deployment.model),
            cached_tokens=cached,
        )
        response = attach_file_search(ctx, response, simulated=True)
        if ctx.body.get("background"):
            return background.start(ctx, response)
        if ctx.body.get("stream"):
            events = [
                StreamEvent(_dump(payload), event=kind)
                for kind, payload in simulator.stream_events(response)
            ]
            return Reply.of_stream(events, end="eof")
        return Reply.of_json(response)

    def present(self, ctx: RequestContext, reply: Reply) -> Reply:
        """A recorded answer keeps its text; a ``file_search`` tool's retrieval is computed."""
        if not file_search_tools(ctx.body):
            return reply
        if reply.events is not None:
            final = simulator.final_response(e.data for e in reply.events)
            if final is not None:
                final = attach_file_search(ctx, final, simulated=False)
                reply.events = [
                    StreamEvent(_dump(payload), event=kind)
                    for kind, payload in simulator.stream_events(final)
                ]
        elif isinstance(reply.json, dict) and reply.json.get("object") == "response":
            reply.json = attach_file_search(ctx, reply.json, simulated=False)
        return reply

    def served(self, ctx: RequestContext, reply: Reply) -> None:
        """Keep what was served (recorded or simulated) as the response's state."""
        if reply.status >= 400 or not isinstance(ctx.body, dict):
            return
        remember_prompt(ctx)
        if reply.events is not None and "x-replay-unrecorded" not in reply.headers:
            # The pipeline presents recorded JSON answers only; a recorded stream gets its
            # file search here, before it is sent (present() is idempotent).
            self.present(ctx, reply)
        if reply.events is not None:
            background.keep_recorded(ctx, reply)
            response = simulator.final_response(e.data for e in reply.events)
        else:
            response = reply.json if isinstance(reply.json, dict) else None
        if response is None or not isinstance(response.get("id"), str):
            return
        if ctx.body.get("store", True) is False:
            return
        ctx.state.get(simulator.ResponsesStore).put(
            response, simulator.input_items(ctx.body, ctx.state.ids)
        )


def _dump(payload: dict[str, Any]) -> str:
    return dump_json(payload).decode("utf-8")


class RetrieveResponse(StateOperation):
    name: ClassVar[str] = "Responses_Get"
    body_kind = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        response_id = ctx.path_params["response_id"]
        in_background = background.retrieve(ctx, response_id)
        if in_background is not None:
            return in_background
        found = ctx.state.get(simulator.ResponsesStore).get(response_id)
        if found is None:
            raise _not_found(response_id)
        return Reply.of_json(found)


class DeleteResponse(StateOperation):
    name: ClassVar[str] = "Responses_Delete"
    body_kind = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        response_id = ctx.path_params["response_id"]
        ctx.state.get(background.BackgroundJobs).delete(response_id)
        if not ctx.state.get(simulator.ResponsesStore).delete(response_id):
            raise _not_found(response_id)
        return Reply.of_json({"deleted": True, "id": response_id, "object": "response"})


class ListInputItems(StateOperation):
    name: ClassVar[str] = "Responses_ListInputItems"
    body_kind = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        response_id = ctx.path_params["response_id"]
        items = ctx.state.get(simulator.ResponsesStore).input_items(response_id)
        if items is None:
            raise _not_found(response_id)
        return Reply.of_json(page_of(items, ctx.query))


def _register(state: ReplayState) -> None:
    state.register("responses", simulator.ResponsesStore())
    state.register("responses.background", background.BackgroundJobs())


CREATE = CreateResponse()
CANCEL = background.CancelResponse()

SERVICE = Service(
    name="responses",
    endpoints=(
        Endpoint("POST", "/openai/v1/responses", CREATE),
        Endpoint("POST", "/openai/responses", CREATE),
        Endpoint("GET", "/openai/v1/responses/{response_id}", RetrieveResponse()),
        Endpoint("DELETE", "/openai/v1/responses/{response_id}", DeleteResponse()),
        Endpoint("GET", "/openai/v1/responses/{response_id}/input_items", ListInputItems()),
        Endpoint("POST", "/openai/v1/responses/{response_id}/cancel", CANCEL),
        Endpoint("GET", "/openai/responses/{response_id}", RetrieveResponse()),
        Endpoint("DELETE", "/openai/responses/{response_id}", DeleteResponse()),
        Endpoint("GET", "/openai/responses/{response_id}/input_items", ListInputItems()),
        Endpoint("POST", "/openai/responses/{response_id}/cancel", CANCEL),
    ),
    register=_register,
)
