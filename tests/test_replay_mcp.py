"""The Responses API's remote MCP tool on the replay server, through the official SDK.

The server simulates the Contoso weather MCP server offline (lenient mode: the model's part is
simulated too): tool listing once per conversation, approval requests by ``require_approval``,
approved and refused calls, tool errors, the stream's ``response.mcp_*`` events, the 424 of a
server that cannot be reached, and Azure's 400s for malformed mcp tools and approvals.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from conftest import StartServer, async_v1_client, sync_client, v1_client
from openai.types.responses import Response
from openai.types.responses.response_output_item import (
    McpApprovalRequest,
    McpCall,
    McpListTools,
)

from helpers.replay import ReplayServer

DEPLOYMENT = "gpt-5.4-mini"
URL = "https://weather.contoso.com/mcp"
QUESTION = "What's the forecast in Lisbon for the next 2 days?"


def weather(**options: Any) -> Any:
    """The Contoso weather MCP tool (Any: some tests send values the SDK's types refuse)."""
    return {"type": "mcp", "server_label": "weather", "server_url": URL, **options}


@pytest.fixture
def server(start_server: StartServer) -> ReplayServer:
    return start_server(mode="lenient")


def items(response: Response, kind: type) -> list[Any]:
    return [item for item in response.output if isinstance(item, kind)]


def answer_the_approval(client: openai.OpenAI, *, approve: bool) -> tuple[Response, Response]:
    """Ask QUESTION with the weather tool, then answer its one approval request."""
    first = client.responses.create(model=DEPLOYMENT, input=QUESTION, tools=[weather()])
    (request,) = items(first, McpApprovalRequest)
    second = client.responses.create(
        model=DEPLOYMENT,
        previous_response_id=first.id,
        tools=[weather()],
        input=[
            {"type": "mcp_approval_response", "approve": approve, "approval_request_id": request.id}
        ],
    )
    return first, second


def test_mcp_tools_are_listed_then_a_call_waits_for_approval_by_default(
    server: ReplayServer,
) -> None:
    response = v1_client(server).responses.create(
        model=DEPLOYMENT, input=QUESTION, tools=[weather()]
    )
    assert [i.type for i in response.output] == [
        "mcp_list_tools",
        "reasoning",
        "mcp_approval_request",
    ]
    (listing,) = items(response, McpListTools)
    assert listing.server_label == "weather"
    assert [t.name for t in listing.tools] == ["get_forecast", "subscribe_alerts"]
    (request,) = items(response, McpApprovalRequest)
    assert request.name == "get_forecast"
    assert json.loads(request.arguments) == {"city": "Lisbon", "days": 2}
    assert response.output_text == ""


def test_approved_call_runs_the_tool_and_tools_are_not_listed_again(server: ReplayServer) -> None:
    client = v1_client(server)
    first, second = answer_the_approval(client, approve=True)
    (request,) = items(first, McpApprovalRequest)
    assert not items(second, McpListTools)
    (call,) = items(second, McpCall)
    assert call.approval_request_id == request.id
    assert call.status == "completed" and call.error is None
    forecast = json.loads(call.output or "")
    assert forecast["city"] == "Lisbon"
    assert [day["date"] for day in forecast["forecast"]] == ["2026-11-25", "2026-11-26"]
    assert second.output_text
    stored = client.responses.input_items.list(second.id)
    assert [i.type for i in stored.data] == ["mcp_approval_response"]


def test_refused_approval_runs_no_tool(server: ReplayServer) -> None:
    client = v1_client(server)
    _, second = answer_the_approval(client, approve=False)
    assert not items(second, McpCall)
    assert [i.type for i in second.output][-1] == "message"


def test_never_requiring_approval_calls_at_once(server: ReplayServer) -> None:
    response = v1_client(server).responses.create(
        model=DEPLOYMENT, input=QUESTION, tools=[weather(require_approval="never")]
    )
    assert [i.type for i in response.output] == [
        "mcp_list_tools",
        "reasoning",
        "mcp_call",
        "message",
    ]
    (call,) = items(response, McpCall)
    assert call.approval_request_id is None and call.output


def test_approval_filter_and_allowed_tools_select_by_name_and_read_only(
    server: ReplayServer,
) -> None:
    tool = weather(
        allowed_tools={"read_only": True}, require_approval={"never": {"read_only": True}}
    )
    response = v1_client(server).responses.create(model=DEPLOYMENT, input=QUESTION, tools=[tool])
    (listing,) = items(response, McpListTools)
    assert [t.name for t in listing.tools] == ["get_forecast"]
    assert items(response, McpCall) and not items(response, McpApprovalRequest)
    named = weather(allowed_tools=["subscribe_alerts"], require_approval={"never": ["x"]})
    response = v1_client(server).responses.create(
        model=DEPLOYMENT, input="Alert me about Oslo", tools=[named]
    )
    (request,) = items(response, McpApprovalRequest)
    assert request.name == "subscribe_alerts"


def test_a_failing_tool_is_an_mcp_call_with_its_error(server: ReplayServer) -> None:
    response = v1_client(server).responses.create(
        model=DEPLOYMENT,
        input="What's the forecast in Atlantis for 1 day?",
        tools=[weather(require_approval="never")],
    )
    (call,) = items(response, McpCall)
    assert call.status == "failed" and call.output is None
    assert call.error is not None and call.error.type == "mcp_tool_execution_error"
    assert "No forecast for 'Atlantis'" in json.dumps(call.error.content)


def test_unreachable_server_is_a_424(server: ReplayServer) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        v1_client(server).responses.create(
            model=DEPLOYMENT,
            input=QUESTION,
            tools=[weather(server_url="https://nowhere.contoso.com/mcp")],
        )
    assert caught.value.status_code == 424
    assert "Error retrieving tool list from MCP server: 'weather'" in caught.value.message


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ({"type": "mcp", "server_url": URL}, "tools[0].server_label"),
        ({"type": "mcp", "server_label": "weather"}, "tools[0].server_url"),
        (weather(require_approval="sometimes"), "tools[0].require_approval"),
        (weather(headers={"Authorization": 1}), "tools[0].headers"),
    ],
)
def test_malformed_mcp_tool_is_a_400_naming_it(server: ReplayServer, tool: Any, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        v1_client(server).responses.create(model=DEPLOYMENT, input=QUESTION, tools=[tool])
    assert caught.value.param == param


def test_approval_of_an_unknown_request_is_a_400(server: ReplayServer) -> None:
    client = v1_client(server)
    first = client.responses.create(model=DEPLOYMENT, input=QUESTION, tools=[weather()])
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model=DEPLOYMENT,
            previous_response_id=first.id,
            tools=[weather()],
            input=[
                {"type": "mcp_approval_response", "approve": True, "approval_request_id": "mcpr_x"}
            ],
        )
    assert caught.value.param == "input[0].approval_request_id"


def test_stream_has_the_sdks_mcp_events_in_order(server: ReplayServer) -> None:
    stream = v1_client(server).responses.create(
        model=DEPLOYMENT, input=QUESTION, tools=[weather(require_approval="never")], stream=True
    )
    kinds = [event.type for event in stream]
    mcp = [k for k in kinds if k.startswith("response.mcp")]
    assert mcp == [
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.completed",
        "response.mcp_call.in_progress",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
    ]
    assert kinds[-1] == "response.completed"


def test_the_api_version_route_takes_the_mcp_tool(server: ReplayServer) -> None:
    response = sync_client(server).responses.create(
        model=DEPLOYMENT, input=QUESTION, tools=[weather(require_approval="never")]
    )
    assert items(response, McpCall)


async def test_async_client_runs_the_approval_round_trip(server: ReplayServer) -> None:
    async with async_v1_client(server) as client:
        first = await client.responses.create(model=DEPLOYMENT, input=QUESTION, tools=[weather()])
        (request,) = items(first, McpApprovalRequest)
        second = await client.responses.create(
            model=DEPLOYMENT,
            previous_response_id=first.id,
            tools=[weather()],
            input=[
                {
                    "type": "mcp_approval_response",
                    "approve": True,
                    "approval_request_id": request.id,
                }
            ],
        )
    (call,) = items(second, McpCall)
    assert call.approval_request_id == request.id


def test_simulated_model_calls_the_tool_the_question_mentions(server: ReplayServer) -> None:
    response = v1_client(server).responses.create(
        model=DEPLOYMENT,
        input="Email me weather alerts for Oslo at ana@contoso.com",
        tools=[weather()],
    )
    (request,) = items(response, McpApprovalRequest)
    assert request.name == "subscribe_alerts"
