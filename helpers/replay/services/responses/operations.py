"""The Responses API: create (JSON or streamed), retrieve, delete, list input items.

* ``POST /openai/v1/responses`` (and ``POST /openai/responses?api-version=...-preview``),
  the deployment named by ``model``;
* ``GET /openai/v1/responses/{id}``, ``DELETE /openai/v1/responses/{id}``,
  ``GET /openai/v1/responses/{id}/input_items``.

A create is looked up in the recordings like any request; the server then keeps
the response it served (recorded or simulated) as state, so retrieval and
``previous_response_id`` chains work offline. Streams are sent as typed events
(``event:`` and ``data:`` lines) in Azure's order and end without ``[DONE]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ...._support.counting import count_responses_input
from ...behaviours.content_filter import check_prompt
from ...behaviours.prompt_cache import prompt_tokens
from ...context import Reply, RequestContext, StreamEvent
from ...errors import AzureError, invalid_request, object_not_found
from ...families import check_responses
from ...state import ReplayState
from ...validation import check_strict_schema
from ..base import DeploymentKind, Endpoint, Operation, Service, StateOperation
from ..inference.operations import prompt_cache_of, remember_prompt
from ..vector_stores.operations import (
    attach_file_search,
    check_file_search_tools,
    file_search_tools,
)
from . import simulator

PARAMETERS = frozenset(
    {
        "model", "input", "instructions", "previous_response_id", "store", "stream",
        "stream_options", "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning",
        "max_output_tokens", "max_tool_calls", "temperature", "top_p", "metadata", "truncation",
        "user", "include", "prompt_cache_key", "prompt_cache_retention", "safety_identifier",
        "service_tier", "background", "top_logprobs", "conversation", "prompt",
    }
)  # fmt: skip


def store_of(state: ReplayState) -> simulator.ResponsesStore:
    found = state.simulator("responses")
    assert isinstance(found, simulator.ResponsesStore)
    return found


def _not_found(response_id: str) -> AzureError:
    return object_not_found(f"Response with id '{response_id}' not found.")


def _unknown(name: str) -> AzureError:
    return invalid_request(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def _type_error(name: str, expected: str) -> AzureError:
    return invalid_request(
        f"Invalid type for '{name}': expected {expected}.", param=name, code="invalid_type"
    )


INPUT_ROLES = ("user", "assistant", "system", "developer")
TEXT_PART_TYPES = ("input_text", "output_text", "refusal", "summary_text", "reasoning_text")


def _check_input_item(item: Any, where: str) -> None:
    """Types of one input item, so nothing downstream reads a malformed one."""
    if not isinstance(item, dict):
        raise _type_error(where, "an object")
    kind = item.get("type", "message")
    if not isinstance(kind, str):
        raise _type_error(f"{where}.type", "a string")
    if kind == "message":
        role = item.get("role")
        if role not in INPUT_ROLES:
            raise invalid_request(
                f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', 'system', "
                "and 'developer'.",
                param=f"{where}.role",
                code="invalid_value",
            )
        content = item.get("content")
        if not isinstance(content, (str, list)):
            raise _type_error(f"{where}.content", "a string or an array of content parts")
        for j, part in enumerate(content if isinstance(content, list) else []):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise _type_error(f"{where}.content[{j}]", "an object with a 'type'")
            if part["type"] in TEXT_PART_TYPES and not isinstance(part.get("text"), str):
                raise _type_error(f"{where}.content[{j}].text", "a string")
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise _type_error(f"{where}.call_id", "a string")
        if not isinstance(item.get("output"), (str, list)):
            raise _type_error(f"{where}.output", "a string")
    elif kind == "function_call":
        for name in ("call_id", "name", "arguments"):
            if not isinstance(item.get(name), str):
                raise _type_error(f"{where}.{name}", "a string")


class CreateResponse(Operation):
    name: ClassVar[str] = "Responses_Create"
    label: ClassVar[str] = "responses"
    adapts_answers: ClassVar[bool] = True  # the served response is parsed to keep it as state
    deployment_kind: ClassVar[DeploymentKind | None] = "chat"

    def validate(self, ctx: RequestContext) -> None:
        body = ctx.body
        if not isinstance(body, dict):
            raise invalid_request(
                "The request body must be a JSON object.", param=None, code="invalid_request_body"
            )
        for name in sorted(body):
            if name not in PARAMETERS:
                raise _unknown(name)
        value = body.get("input")
        if value is not None and not isinstance(value, (str, list)):
            raise _type_error("input", "a string or an array of input items")
        if isinstance(value, list):
            for i, item in enumerate(value):
                _check_input_item(item, f"input[{i}]")
        for name, kinds, expected in (
            ("instructions", (str,), "a string"),
            ("previous_response_id", (str,), "a string"),
            ("store", (bool,), "a boolean"),
            ("stream", (bool,), "a boolean"),
            ("parallel_tool_calls", (bool,), "a boolean"),
            ("tools", (list,), "an array"),
            ("text", (dict,), "an object"),
            ("reasoning", (dict,), "an object"),
            ("metadata", (dict,), "an object"),
            ("tool_choice", (str, dict), "a string or an object"),
        ):
            if body.get(name) is not None and not isinstance(body[name], kinds):
                raise _type_error(name, expected)
        limit = body.get("max_output_tokens")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or not 16 <= limit <= 2**31
        ):
            raise invalid_request(
                "Invalid 'max_output_tokens': integer below minimum value. Expected a value "
                f">= 16, but got {limit} instead.",
                param="max_output_tokens",
                code="integer_below_min_value",
            )
        for i, tool in enumerate(body.get("tools") or []):
            if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
                raise _type_error(f"tools[{i}]", "an object with a 'type'")
            if tool["type"] == "function" and not tool.get("name"):
                raise invalid_request(
                    f"Missing required parameter: 'tools[{i}].name'.",
                    param=f"tools[{i}].name",
                    code="missing_required_parameter",
                )
        effort = (body.get("reasoning") or {}).get("effort")
        if effort is not None and not isinstance(effort, str):
            raise _type_error("reasoning.effort", "a string")
        fmt = (body.get("text") or {}).get("format")
        if fmt is not None and not isinstance(fmt, dict):
            raise _type_error("text.format", "an object")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            if not fmt.get("name"):
                raise invalid_request(
                    "Missing required parameter: 'text.format.name'.",
                    param="text.format.name",
                    code="missing_required_parameter",
                )
            if fmt.get("strict") and isinstance(fmt.get("schema"), dict):
                check_strict_schema(
                    fmt["schema"],
                    f"Invalid schema for response_format '{fmt['name']}'",
                    "text.format.schema",
                    "invalid_json_schema",
                )
        check_file_search_tools(ctx)
        assert ctx.deployment is not None
        check_responses(body, ctx.deployment)
        previous = body.get("previous_response_id")
        if previous and store_of(ctx.state).get(previous) is None:
            raise invalid_request(
                f"Previous response with id '{previous}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )

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
        history = store_of(state).history(ctx.body.get("previous_response_id"))
        cached = prompt_cache_of(state).lookup(ctx.deployment_name, prompt_tokens(ctx.body))
        response = simulator.simulate(
            ctx.body, ctx.deployment, state.ids, history, cached_tokens=cached
        )
        response = attach_file_search(ctx, response, simulated=True)
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
            response = simulator.final_response(e.data for e in reply.events)
        else:
            response = reply.json if isinstance(reply.json, dict) else None
        if response is None or not isinstance(response.get("id"), str):
            return
        if ctx.body.get("store", True) is False:
            return
        store_of(ctx.state).put(response, simulator.input_items(ctx.body, ctx.state.ids))


def _dump(payload: dict[str, Any]) -> str:
    from ...replies import dump_json

    return dump_json(payload).decode("utf-8")


class RetrieveResponse(StateOperation):
    name: ClassVar[str] = "Responses_Get"
    body_kind = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        response_id = ctx.path_params["response_id"]
        found = store_of(ctx.state).get(response_id)
        if found is None:
            raise _not_found(response_id)
        return Reply.of_json(found)


class DeleteResponse(StateOperation):
    name: ClassVar[str] = "Responses_Delete"
    body_kind = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        response_id = ctx.path_params["response_id"]
        if not store_of(ctx.state).delete(response_id):
            raise _not_found(response_id)
        return Reply.of_json({"deleted": True, "id": response_id, "object": "response"})


class ListInputItems(StateOperation):
    name: ClassVar[str] = "Responses_ListInputItems"
    body_kind = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        response_id = ctx.path_params["response_id"]
        items = store_of(ctx.state).input_items(response_id)
        if items is None:
            raise _not_found(response_id)
        if ctx.query.get("order", "desc") == "desc":
            items = list(reversed(items))
        return Reply.of_json(
            {
                "data": items,
                "first_id": items[0]["id"] if items else None,
                "has_more": False,
                "last_id": items[-1]["id"] if items else None,
                "object": "list",
            }
        )


def _register(state: ReplayState) -> None:
    state.register("responses", simulator.ResponsesStore())


CREATE = CreateResponse()

SERVICE = Service(
    name="responses",
    endpoints=(
        Endpoint("POST", "/openai/v1/responses", CREATE),
        Endpoint("POST", "/openai/responses", CREATE),
        Endpoint("GET", "/openai/v1/responses/{response_id}", RetrieveResponse()),
        Endpoint("DELETE", "/openai/v1/responses/{response_id}", DeleteResponse()),
        Endpoint("GET", "/openai/v1/responses/{response_id}/input_items", ListInputItems()),
        Endpoint("GET", "/openai/responses/{response_id}", RetrieveResponse()),
        Endpoint("DELETE", "/openai/responses/{response_id}", DeleteResponse()),
        Endpoint("GET", "/openai/responses/{response_id}/input_items", ListInputItems()),
    ),
    register=_register,
)
