"""Function calling: tool schemas, safe execution, and the tool loop against the replay server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, cast

import openai
import pytest
from conftest import StartServer, async_client, async_v1_client, solution, v1_client
from openai.types.chat import ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam
from openai.types.responses.response_output_item import McpApprovalRequest, McpCall
from openai.types.responses.tool_param import Mcp
from pydantic import BaseModel, Field, field_validator

from helpers.function_calling import (
    McpApprovalLimitError,
    ToolDefinitionError,
    ToolEvent,
    ToolLoopLimitError,
    ToolLoopResult,
    ToolRegistry,
    allow_mcp_tools,
    check_run_tool_call,
    format_transcript,
    mcp_approval_responses,
    run_mcp_approvals,
    run_mcp_approvals_async,
    run_tool_loop,
)

RECORDINGS = "test_function_calling.yaml"
DEPLOYMENT = "gpt-5.4-mini"
SYSTEM = "Answer with the tools; never guess weather or time."

TEMPERATURES = {"Oslo": 2, "Lisbon": 17}
LOCAL_TIMES = {"Europe/Oslo": "13:00", "Europe/Lisbon": "12:00", "Asia/Kolkata": "17:30"}


class LocalTime(BaseModel):
    """Current local time in an IANA time zone."""

    timezone: str = Field(description="IANA time zone name, e.g. 'Europe/Paris'")

    @field_validator("timezone")
    @classmethod
    def known(cls, name: str) -> str:
        if name not in LOCAL_TIMES:
            raise ValueError(f"{name!r} is not a known time zone")
        return name


def make_tools() -> ToolRegistry:
    tools = ToolRegistry()

    @tools.tool
    async def get_weather(
        city: Annotated[str, Field(description="City name")],
    ) -> dict[str, object]:
        """Current temperature in a city, in degrees Celsius."""
        if city not in TEMPERATURES:
            raise RuntimeError(f"The weather service has no data for {city!r}.")
        return {"city": city, "celsius": TEMPERATURES[city]}

    @tools.tool
    def get_local_time(args: LocalTime) -> str:
        return LOCAL_TIMES[args.timezone]

    return tools


def conversation(question: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def call(
    name: str, arguments: str, call_id: str = "call_0"
) -> ChatCompletionMessageFunctionToolCall:
    return ChatCompletionMessageFunctionToolCall(
        id=call_id, type="function", function={"name": name, "arguments": arguments}
    )


# Schemas ------------------------------------------------------------------------------------


def test_typed_function_becomes_a_strict_schema_described_by_its_docstring() -> None:
    function = make_tools().params[0]["function"]
    assert function["name"] == "get_weather"
    assert function["description"] == "Current temperature in a city, in degrees Celsius."
    assert function.get("strict") is True
    parameters: dict[str, Any] = function["parameters"]
    assert parameters["additionalProperties"] is False
    assert parameters["required"] == ["city"]
    assert parameters["properties"]["city"]["description"] == "City name"


def test_literal_parameter_becomes_an_enum() -> None:
    tools = ToolRegistry()

    @tools.tool
    def pick(units: Literal["celsius", "fahrenheit"]) -> str:
        """Pick units."""
        return units

    parameters: dict[str, Any] = tools.params[0]["function"]["parameters"]
    assert parameters["properties"]["units"]["enum"] == [
        "celsius",
        "fahrenheit",
    ]


def test_model_parameter_tool_matches_pydantic_function_tool() -> None:
    param = make_tools().params[1]
    expected = openai.pydantic_function_tool(
        LocalTime, name="get_local_time", description=LocalTime.__doc__
    )
    assert param == expected


def test_default_argument_is_refused_for_strict_schemas() -> None:
    def convert(amount: float, currency: str = "EUR") -> float:
        """Convert dollars."""
        return amount

    with pytest.raises(ToolDefinitionError, match=r"'currency'.*defaults to 'EUR'"):
        ToolRegistry().tool(convert)


def test_none_default_is_allowed_and_stays_required() -> None:
    tools = ToolRegistry()

    @tools.tool
    def search(query: str, limit: int | None = None) -> str:
        """Search."""
        return query

    assert tools.params[0]["function"]["parameters"]["required"] == ["query", "limit"]


def test_function_without_docstring_is_refused() -> None:
    def undocumented(city: str) -> str:
        return city

    with pytest.raises(ToolDefinitionError, match="no docstring"):
        ToolRegistry().tool(undocumented)


def test_parameter_without_annotation_is_refused() -> None:
    def untyped(city) -> str:  # type: ignore[no-untyped-def]
        """Untyped."""
        return str(city)

    with pytest.raises(ToolDefinitionError, match=r"'city'.*no type annotation"):
        ToolRegistry().tool(untyped)


def test_unresolvable_annotation_is_refused() -> None:
    def forward(city: NoSuchType) -> str:  # type: ignore[name-defined]  # noqa: F821
        """Forward reference to nothing."""
        return str(city)

    with pytest.raises(ToolDefinitionError, match="Cannot resolve the annotations"):
        ToolRegistry().tool(forward)


def test_registering_a_name_twice_is_refused() -> None:
    tools = ToolRegistry()

    def twice(x: int) -> int:
        """Twice."""
        return x

    tools.tool(twice)
    with pytest.raises(ToolDefinitionError, match="already registered"):
        tools.tool(twice)


# Execution ----------------------------------------------------------------------------------


async def test_result_is_json_in_a_tool_message_with_the_call_id() -> None:
    answer = await make_tools().execute(call("get_weather", '{"city":"Oslo"}', "call_abc"))
    assert answer == {
        "role": "tool",
        "tool_call_id": "call_abc",
        "content": '{"city":"Oslo","celsius":2}',
    }


async def test_raising_tool_becomes_an_error_message() -> None:
    answer = await make_tools().execute(call("get_weather", '{"city":"Atlantis"}'))
    assert answer["content"] == (
        '{"error": "RuntimeError: The weather service has no data for \'Atlantis\'."}'
    )


async def test_invalid_arguments_become_an_error_message_without_calling_the_tool() -> None:
    called = []
    tools = ToolRegistry()

    @tools.tool
    def record(count: int) -> int:
        """Record a count."""
        called.append(count)
        return count

    answer = await tools.execute(call("record", '{"count": "many"}'))
    assert "Invalid arguments for record: count: Input should be a valid integer" in str(
        answer["content"]
    )
    assert called == []


async def test_validator_failure_becomes_an_error_message() -> None:
    answer = await make_tools().execute(call("get_local_time", '{"timezone":"Asia/Mumbai"}'))
    assert "'Asia/Mumbai' is not a known time zone" in str(answer["content"])


async def test_malformed_json_arguments_become_an_error_message() -> None:
    answer = await make_tools().execute(call("get_weather", '{"city": "Oslo"'))
    assert "Invalid arguments for get_weather: arguments: Invalid JSON" in str(answer["content"])


async def test_unknown_tool_becomes_an_error_message_listing_the_tools() -> None:
    answer = await make_tools().execute(call("get_news", "{}"))
    assert answer["content"] == (
        '{"error": "Unknown tool \'get_news\'. Available tools: get_local_time, get_weather."}'
    )


async def test_cancellation_is_not_swallowed() -> None:
    tools = ToolRegistry()

    @tools.tool
    async def hang(seconds: float) -> None:
        """Wait."""
        await asyncio.sleep(seconds)

    task = asyncio.create_task(tools.execute(call("hang", '{"seconds": 10}')))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_calls_of_one_round_run_concurrently() -> None:
    log: list[str] = []
    tools = ToolRegistry()

    @tools.tool
    async def wait(seconds: float) -> float:
        """Wait."""
        await asyncio.sleep(seconds)
        return seconds

    def on_event(event: ToolEvent) -> None:
        log.append(f"{event.kind} {event.arguments}")

    answers = await tools.execute_all(
        [call("wait", '{"seconds":0.2}', "call_a"), call("wait", '{"seconds":0.05}', "call_b")],
        on_event,
    )
    assert log == [
        'start {"seconds":0.2}',
        'start {"seconds":0.05}',
        'finish {"seconds":0.05}',
        'finish {"seconds":0.2}',
    ]
    assert [a["tool_call_id"] for a in answers] == ["call_a", "call_b"]


async def test_error_event_carries_the_message_for_the_model() -> None:
    events: list[ToolEvent] = []
    await make_tools().execute(call("get_weather", '{"city":"Atlantis"}'), events.append)
    assert [e.kind for e in events] == ["start", "error"]
    assert events[1].detail == "RuntimeError: The weather service has no data for 'Atlantis'."


# The loop against the replay server ---------------------------------------------------------

TWO_ROUNDS = "Which is warmer right now, Oslo or Lisbon, and what time is it there?"

ToolLoop = Callable[..., Awaitable[ToolLoopResult]]


@pytest.fixture
def tool_loop(start_server: StartServer) -> ToolLoop:
    """``await tool_loop(messages, max_rounds=...)``: ``run_tool_loop`` with every tool, on
    this module's recordings (``model`` defaults to the recorded deployment)."""
    server = start_server(RECORDINGS)

    async def run(
        messages: list[ChatCompletionMessageParam], *, model: str = DEPLOYMENT, **options: Any
    ) -> ToolLoopResult:
        async with async_client(server) as client:
            return await run_tool_loop(
                client, model=model, messages=messages, tools=make_tools(), **options
            )

    return run


async def test_loop_runs_rounds_until_the_model_answers_in_text(tool_loop: ToolLoop) -> None:
    result = await tool_loop(conversation(TWO_ROUNDS))
    assert result.rounds == 2
    assert result.message.content == "Lisbon is warmer at 17 °C (Oslo is 2 °C). It's 12:00 there."
    assert [m["role"] for m in result.messages] == [
        "system", "user", "assistant", "tool", "tool", "assistant", "tool", "assistant",
    ]  # fmt: skip


async def test_loop_does_not_modify_the_callers_messages(tool_loop: ToolLoop) -> None:
    messages = conversation(TWO_ROUNDS)
    await tool_loop(messages)
    assert messages == conversation(TWO_ROUNDS)


async def test_loop_raises_after_max_rounds(tool_loop: ToolLoop) -> None:
    with pytest.raises(ToolLoopLimitError) as caught:
        await tool_loop(conversation(TWO_ROUNDS), max_rounds=1)
    assert caught.value.requested == ["get_local_time"]
    roles = [m["role"] for m in caught.value.messages]
    assert roles[-4:] == ["assistant", "tool", "tool", "assistant"]


async def test_loop_limit_error_keeps_the_unanswered_request(tool_loop: ToolLoop) -> None:
    with pytest.raises(ToolLoopLimitError) as caught:
        await tool_loop(conversation(TWO_ROUNDS), max_rounds=1)
    last = cast(dict[str, Any], caught.value.messages[-1])
    assert [c["function"]["name"] for c in last["tool_calls"]] == caught.value.requested


async def test_model_answering_directly_takes_no_rounds(tool_loop: ToolLoop) -> None:
    result = await tool_loop(conversation("Hello!"))
    assert result.rounds == 0
    assert result.message.content == "Hello! Ask me about the weather or the time in any city."


async def test_model_recovers_from_a_raising_tool(tool_loop: ToolLoop) -> None:
    # The second request only matches its recording if it carries the error message.
    result = await tool_loop(conversation("How warm is it in Atlantis?"))
    assert result.message.content is not None
    assert result.message.content.startswith("I couldn't get the weather for Atlantis")


async def test_model_corrects_arguments_that_failed_validation(tool_loop: ToolLoop) -> None:
    result = await tool_loop(conversation("What time is it in Mumbai?"))
    assert result.rounds == 2
    assert result.message.content == "It's 17:30 in Mumbai."


async def test_loop_errors_from_the_service_are_the_sdks(tool_loop: ToolLoop) -> None:
    with pytest.raises(openai.NotFoundError):
        await tool_loop(conversation("Hi"), model="no-such-deployment")


def test_transcript_shows_one_line_per_message() -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"celsius": 2}'},
    ]
    assert format_transcript(messages).splitlines() == [
        "user      Weather in Oslo?",
        'assistant calls get_weather({"city":"Oslo"})',
        'tool      {"celsius": 2}',
    ]


def test_exercise_solution_passes() -> None:
    feedback = check_run_tool_call(solution("02_function_calling").run_tool_call)
    assert feedback.passed, feedback


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def trusting(
        call: ChatCompletionMessageFunctionToolCall, functions: dict[str, Any]
    ) -> dict[str, Any]:
        result = functions[call.function.name](**json.loads(call.function.arguments))
        return {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}

    feedback = check_run_tool_call(trusting)
    assert not feedback.passed
    assert "an unknown tool raised KeyError: 'get_time'" in str(feedback)
    assert "return it to the model as the content" in str(feedback)


def test_exercise_wrong_tool_call_id_is_rejected_helpfully() -> None:
    def fixed_id(
        call: ChatCompletionMessageFunctionToolCall, functions: dict[str, Any]
    ) -> dict[str, Any]:
        message: dict[str, Any] = solution("02_function_calling").run_tool_call(call, functions)
        return {**message, "tool_call_id": "call_1"}

    feedback = check_run_tool_call(fixed_id)
    assert not feedback.passed and "must be the call's id 'call_a'" in str(feedback)


# Remote MCP approvals (the replay server simulates the Contoso weather MCP server) ------------

WEATHER_MCP: Mcp = {
    "type": "mcp",
    "server_label": "weather",
    "server_url": "https://weather.contoso.com/mcp",
}
FORECAST = "What's the forecast in Lisbon for the next 2 days?"
ALERTS = "Email me severe-weather alerts for Oslo at ana@contoso.com."


def mcp_request(name: str, label: str = "weather") -> McpApprovalRequest:
    return McpApprovalRequest(
        id="mcpr_1", arguments="{}", name=name, server_label=label, type="mcp_approval_request"
    )


def test_allow_mcp_tools_approves_only_the_named_tools_of_the_named_server() -> None:
    policy = allow_mcp_tools("get_forecast", server_label="weather")
    assert policy(mcp_request("get_forecast"))
    assert not policy(mcp_request("subscribe_alerts"))
    assert not policy(mcp_request("get_forecast", label="other"))


def test_policy_approves_and_the_approved_call_runs(start_server: StartServer) -> None:
    client = v1_client(start_server(mode="lenient"))
    first = client.responses.create(model=DEPLOYMENT, input=FORECAST, tools=[WEATHER_MCP])
    (pending,) = mcp_approval_responses(first, allow_mcp_tools("get_forecast"))
    assert pending[1] == {
        "type": "mcp_approval_response",
        "approval_request_id": pending[0].id,
        "approve": True,
    }
    result = run_mcp_approvals(
        client,
        first,
        policy=allow_mcp_tools("get_forecast"),
        model=DEPLOYMENT,
        tools=[WEATHER_MCP],
    )
    assert [(r.name, approved) for r, approved in result.decisions] == [("get_forecast", True)]
    (call,) = [i for i in result.response.output if isinstance(i, McpCall)]
    assert call.approval_request_id == pending[0].id and call.output
    assert [r.id for r in result.responses] == [first.id, result.response.id]


def test_policy_refusal_is_sent_and_no_call_runs(start_server: StartServer) -> None:
    client = v1_client(start_server(mode="lenient"))
    first = client.responses.create(model=DEPLOYMENT, input=ALERTS, tools=[WEATHER_MCP])
    result = run_mcp_approvals(
        client,
        first,
        policy=allow_mcp_tools("get_forecast"),
        model=DEPLOYMENT,
        tools=[WEATHER_MCP],
    )
    assert [(r.name, approved) for r, approved in result.decisions] == [("subscribe_alerts", False)]
    assert not [i for i in result.response.output if isinstance(i, McpCall)]
    assert result.response.output_text


def test_nothing_to_approve_returns_the_response_as_it_is(start_server: StartServer) -> None:
    client = v1_client(start_server(mode="lenient"))
    tools: list[Mcp] = [{**WEATHER_MCP, "require_approval": "never"}]
    first = client.responses.create(model=DEPLOYMENT, input=FORECAST, tools=tools)
    result = run_mcp_approvals(
        client, first, policy=allow_mcp_tools(), model=DEPLOYMENT, tools=tools
    )
    assert result.response is first and result.decisions == []


def test_approvals_past_max_rounds_raise_naming_the_tool(start_server: StartServer) -> None:
    client = v1_client(start_server(mode="lenient"))
    first = client.responses.create(model=DEPLOYMENT, input=FORECAST, tools=[WEATHER_MCP])
    with pytest.raises(McpApprovalLimitError, match=r"\(get_forecast\) after 0 round") as caught:
        run_mcp_approvals(
            client,
            first,
            policy=allow_mcp_tools("get_forecast"),
            max_rounds=0,
            model=DEPLOYMENT,
            tools=[WEATHER_MCP],
        )
    assert caught.value.response is first


async def test_the_async_client_runs_the_same_rounds(start_server: StartServer) -> None:
    """run_mcp_approvals_async sends the same approvals and ends on the same answer."""
    server = start_server(mode="lenient")
    policy = allow_mcp_tools("get_forecast")
    outcomes = []
    for question in (FORECAST, ALERTS):
        client = async_v1_client(server)
        first = await client.responses.create(model=DEPLOYMENT, input=question, tools=[WEATHER_MCP])
        result = await run_mcp_approvals_async(
            client, first, policy=policy, model=DEPLOYMENT, tools=[WEATHER_MCP]
        )
        await client.close()
        calls = [i for i in result.response.output if isinstance(i, McpCall)]
        outcomes.append(([(r.name, ok) for r, ok in result.decisions], len(calls)))
        assert [r.id for r in result.responses] == [first.id, result.response.id]
    assert outcomes == [([("get_forecast", True)], 1), ([("subscribe_alerts", False)], 0)]
    client = async_v1_client(server)
    first = await client.responses.create(model=DEPLOYMENT, input=FORECAST, tools=[WEATHER_MCP])
    with pytest.raises(McpApprovalLimitError, match=r"after 0 round"):
        await run_mcp_approvals_async(
            client, first, policy=policy, max_rounds=0, model=DEPLOYMENT, tools=[WEATHER_MCP]
        )
    with pytest.raises(ValueError, match="max_rounds must be 0 or more"):
        await run_mcp_approvals_async(client, first, policy=policy, max_rounds=-1)
    await client.close()
