"""Function calling: tools from typed Python, run concurrently, errors sent back to the model.

Use it when a chat model should call your code. Register typed functions (or
functions taking one pydantic model); each becomes a strict tool schema built
by the SDK's own ``openai.pydantic_function_tool``, described by the
function's docstring. :func:`run_tool_loop` then asks the model, runs every
tool call of a round concurrently, answers each call with a ``tool`` message,
and asks again until the model answers in text, or raises
:class:`ToolLoopLimitError` after ``max_rounds`` rounds of tools.

    tools = ToolRegistry()

    @tools.tool
    async def get_weather(city: str) -> dict[str, object]:
        \"\"\"Current weather for a city.\"\"\"

    result = await run_tool_loop(client, model=deployment, messages=messages, tools=tools)
    print(result.message.content)

A tool that raises, arguments that fail validation and unknown tool names do
not end the conversation: the model gets ``{"error": "..."}`` as the tool's
answer and can correct itself. So write exception messages for the model.

Tools that Azure runs on a remote MCP server (Responses API) need no loop of yours, only
approvals: :func:`run_mcp_approvals` (or :func:`run_mcp_approvals_async`) answers each
``mcp_approval_request`` by a policy such as :func:`allow_mcp_tools`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_type_hints

import openai
import pydantic
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionToolParam,
)
from openai.types.responses import Response
from openai.types.responses.response_input_param import McpApprovalResponse
from openai.types.responses.response_output_item import McpApprovalRequest

from ._support.errors import CookbookError
from ._support.exercises import Feedback, failed, passed

__all__ = [
    "McpApprovalLimitError",
    "McpApprovals",
    "McpPolicy",
    "Tool",
    "ToolDefinitionError",
    "ToolError",
    "ToolEvent",
    "ToolLoopLimitError",
    "ToolLoopResult",
    "ToolRegistry",
    "allow_mcp_tools",
    "check_run_tool_call",
    "format_transcript",
    "mcp_approval_responses",
    "run_mcp_approvals",
    "run_mcp_approvals_async",
    "run_tool_loop",
]

ToolFunction = Callable[..., Any]
"""A tool's implementation: sync or ``async``, returning anything pydantic can serialise."""

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolError(CookbookError):
    """Base class of this module's errors."""


class ToolDefinitionError(ToolError, TypeError):
    """A function that cannot become a tool (the message says what to change)."""


class ToolLoopLimitError(ToolError):
    """The model still asked for tools after ``max_rounds`` rounds of tool calls.

    ``messages`` holds the transcript so far, ending with the assistant message that
    asked for the tools no round was left for (its ``tool_calls`` unanswered), as the
    hand-written loop keeps it; to continue the conversation, answer those calls.
    """

    def __init__(
        self, max_rounds: int, requested: Sequence[str], messages: list[ChatCompletionMessageParam]
    ) -> None:
        self.max_rounds = max_rounds
        self.requested = list(requested)
        self.messages = messages
        super().__init__(
            f"The model asked for more tools ({', '.join(requested)}) after {max_rounds} "
            f"round(s) of tool calls, the limit set by max_rounds={max_rounds}. Raise "
            "max_rounds if the task needs more steps, or read .messages to see why it loops."
        )


@dataclass(frozen=True)
class ToolEvent:
    """Something that happened to one tool call: it started, finished or failed."""

    kind: Literal["start", "finish", "error"]
    name: str
    arguments: str
    """The arguments as the model wrote them (a JSON string)."""
    call_id: str
    detail: str | None = None
    """For ``error``: the message the model receives."""

    def __str__(self) -> str:
        text = f"{self.kind:<6} {self.name}({self.arguments})"
        return f"{text}: {self.detail}" if self.detail else text


EventHook = Callable[[ToolEvent], None]


@dataclass(frozen=True)
class Tool:
    """One callable tool: its name, description, argument model and implementation."""

    name: str
    description: str
    arguments: type[pydantic.BaseModel]
    function: ToolFunction
    takes_model: bool = False
    """``True`` when ``function`` takes the validated model itself, not its fields."""

    @property
    def param(self) -> ChatCompletionToolParam:
        """The ``tools=`` entry: a strict schema from ``openai.pydantic_function_tool``."""
        return openai.pydantic_function_tool(
            self.arguments, name=self.name, description=self.description
        )

    def validate(self, raw_arguments: str) -> pydantic.BaseModel:
        """The model's JSON arguments, validated (raises :class:`pydantic.ValidationError`)."""
        return self.arguments.model_validate_json(raw_arguments or "{}")

    async def run(self, arguments: pydantic.BaseModel) -> Any:
        """Call the function with validated arguments (a sync function runs in a thread)."""
        if self.takes_model:
            args: tuple[Any, ...] = (arguments,)
            kwargs: dict[str, Any] = {}
        else:
            args, kwargs = (), dict(arguments)
        if inspect.iscoroutinefunction(self.function):
            return await self.function(*args, **kwargs)
        result = await asyncio.to_thread(self.function, *args, **kwargs)
        if inspect.isawaitable(result):
            return await cast(Awaitable[Any], result)
        return result


def _description(function: ToolFunction, fallback: type[pydantic.BaseModel] | None) -> str:
    doc = inspect.getdoc(function) or (inspect.getdoc(fallback) if fallback else None)
    if not doc or (fallback is not None and doc == inspect.getdoc(pydantic.BaseModel)):
        raise ToolDefinitionError(
            f"Tool {function.__name__!r} has no docstring. The model chooses tools by their "
            "description, which is taken from the docstring: write one that says what the "
            "tool does and when to use it."
        )
    return doc


def _model_parameter(
    function: ToolFunction, hints: dict[str, Any]
) -> type[pydantic.BaseModel] | None:
    """The pydantic model a function takes as its only parameter, if it does."""
    params = list(inspect.signature(function).parameters.values())
    if len(params) == 1 and params[0].kind is not params[0].VAR_KEYWORD:
        annotation = hints.get(params[0].name)
        if inspect.isclass(annotation) and issubclass(annotation, pydantic.BaseModel):
            return annotation
    return None


def _arguments_model(function: ToolFunction, hints: dict[str, Any]) -> type[pydantic.BaseModel]:
    """A pydantic model of the function's parameters (closed, like a strict schema)."""
    fields: dict[str, Any] = {}
    for param in inspect.signature(function).parameters.values():
        where = f"Parameter {param.name!r} of tool {function.__name__!r}"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"{where} is *args or **kwargs; a tool's arguments must be named and typed."
            )
        if param.name not in hints:
            raise ToolDefinitionError(
                f"{where} has no type annotation; the JSON schema is built from annotations."
            )
        if param.default is not param.empty and param.default is not None:
            raise ToolDefinitionError(
                f"{where} defaults to {param.default!r}. Strict tool schemas make every "
                "argument required and do not allow defaults: drop the default (the model "
                "always sends a value), or use `X | None = None` and handle None."
            )
        default = ... if param.default is param.empty else None
        fields[param.name] = (hints[param.name], default)
    return pydantic.create_model(  # type: ignore[call-overload,no-any-return]
        "".join(part.title() for part in function.__name__.split("_")) + "Arguments",
        __config__=pydantic.ConfigDict(extra="forbid"),
        **fields,
    )


_ANY: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(Any)


def _to_content(result: Any) -> str:
    return result if isinstance(result, str) else _ANY.dump_json(result).decode()


def _error_content(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)


def _validation_message(name: str, error: pydantic.ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
        for e in error.errors(include_url=False)
    )
    return f"Invalid arguments for {name}: {problems}"


@dataclass
class ToolRegistry:
    """The tools a conversation may use, and their safe execution."""

    tools: dict[str, Tool] = field(default_factory=dict)

    def tool(self, function: ToolFunction) -> ToolFunction:
        """Register ``function`` as a tool (usable as a decorator); return it unchanged.

        Its parameters become the arguments schema (describe them with
        ``Annotated[str, Field(description=...)]``), or, if its one parameter is a
        pydantic model, that model does. The docstring is the description.
        """
        name = function.__name__
        if not _NAME.match(name):
            raise ToolDefinitionError(
                f"Tool name {name!r} must be 1-64 letters, digits, '_' or '-'."
            )
        if name in self.tools:
            raise ToolDefinitionError(f"A tool named {name!r} is already registered.")
        try:
            hints = get_type_hints(function, include_extras=True)
        except NameError as exc:
            raise ToolDefinitionError(
                f"Cannot resolve the annotations of tool {name!r} ({exc}); define the types "
                "it uses at module level."
            ) from exc
        model = _model_parameter(function, hints)
        description = _description(function, model)
        if model is None:
            self.tools[name] = Tool(name, description, _arguments_model(function, hints), function)
        else:
            self.tools[name] = Tool(name, description, model, function, takes_model=True)
        return function

    @property
    def params(self) -> list[ChatCompletionToolParam]:
        """Every tool's schema, for ``chat.completions.create(tools=...)``."""
        return [tool.param for tool in self.tools.values()]

    async def execute(
        self, call: ChatCompletionMessageFunctionToolCall, on_event: EventHook | None = None
    ) -> ChatCompletionToolMessageParam:
        """Run one tool call and return its ``tool`` message; failures become its content.

        Unknown tools, arguments that are not valid JSON or fail validation, and
        exceptions raised by the tool are all reported to the model as
        ``{"error": "..."}``. Cancellation is not caught.
        """
        name, raw = call.function.name, call.function.arguments
        emit = on_event or (lambda event: None)
        emit(ToolEvent("start", name, raw, call.id))
        ok, text = await self._answer(name, raw)
        if ok:
            emit(ToolEvent("finish", name, raw, call.id))
            return {"role": "tool", "tool_call_id": call.id, "content": text}
        emit(ToolEvent("error", name, raw, call.id, text))
        return {"role": "tool", "tool_call_id": call.id, "content": _error_content(text)}

    async def _answer(self, name: str, raw: str) -> tuple[bool, str]:
        """``(True, result)``, or ``(False, the error message for the model)``."""
        tool = self.tools.get(name)
        if tool is None:
            return (
                False,
                f"Unknown tool {name!r}. Available tools: {', '.join(sorted(self.tools))}.",
            )
        try:
            arguments = tool.validate(raw)
        except pydantic.ValidationError as exc:
            return False, _validation_message(name, exc)
        try:
            return True, _to_content(await tool.run(arguments))
        except Exception as exc:  # the tool's failure is information for the model
            return False, f"{type(exc).__name__}: {exc}"

    async def execute_all(
        self,
        calls: Iterable[ChatCompletionMessageFunctionToolCall],
        on_event: EventHook | None = None,
    ) -> list[ChatCompletionToolMessageParam]:
        """Run tool calls concurrently; the answers come back in the calls' order."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self.execute(call, on_event)) for call in calls]
        return [task.result() for task in tasks]


@dataclass(frozen=True)
class ToolLoopResult:
    """The model's final answer and how it got there."""

    message: ChatCompletionMessage
    """The final assistant message (its ``content`` is the answer)."""
    messages: list[ChatCompletionMessageParam]
    """The whole transcript, final answer included: pass it back to continue."""
    rounds: int
    """Rounds of tool calls that were run (0 when the model answered directly)."""
    completions: list[ChatCompletion]
    """Every response, one per model request (for usage and content-filter results)."""


def _function_calls(message: ChatCompletionMessage) -> list[ChatCompletionMessageFunctionToolCall]:
    calls = message.tool_calls or []
    function_call = ChatCompletionMessageFunctionToolCall
    unsupported = [c.type for c in calls if not isinstance(c, function_call)]
    if unsupported:
        raise ToolError(f"The model made tool calls of unsupported type(s): {unsupported}.")
    return cast(list[ChatCompletionMessageFunctionToolCall], calls)


async def run_tool_loop(
    client: AsyncOpenAI,
    *,
    model: str,
    messages: Sequence[ChatCompletionMessageParam],
    tools: ToolRegistry,
    max_rounds: int = 5,
    on_event: EventHook | None = None,
    **options: Any,
) -> ToolLoopResult:
    """Ask the model, run the tools it calls, and repeat until it answers in text.

    ``model`` is the Azure *deployment* name. Each round's tool calls run
    concurrently and every call gets a ``tool`` message with its ``tool_call_id``.
    ``options`` go to ``chat.completions.create`` (``parallel_tool_calls``,
    ``max_completion_tokens``...). On gpt-5.4-mini, a reasoning model, function
    tools on Chat Completions take no ``reasoning_effort`` but ``"none"`` (any other
    is a 400) and no ``temperature`` but the default. ``messages`` is not modified.

    Raises :class:`ToolLoopLimitError` when the model asks for tools again after
    ``max_rounds`` rounds, and the SDK's own errors (``openai.APIError``...) for
    failed requests.
    """
    if max_rounds < 0:
        raise ValueError(f"max_rounds must be 0 or more, got {max_rounds}")
    transcript = list(messages)
    completions: list[ChatCompletion] = []
    rounds = 0
    while True:
        completion = await client.chat.completions.create(
            model=model, messages=transcript, tools=tools.params, **options
        )
        completions.append(completion)
        message = completion.choices[0].message
        assistant = cast(ChatCompletionAssistantMessageParam, message.model_dump(exclude_none=True))
        calls = _function_calls(message)
        if not calls:
            transcript.append(assistant)
            return ToolLoopResult(message, transcript, rounds, completions)
        transcript.append(assistant)
        if rounds == max_rounds:
            raise ToolLoopLimitError(max_rounds, [c.function.name for c in calls], transcript)
        transcript.extend(await tools.execute_all(calls, on_event))
        rounds += 1


# Remote MCP tools on the Responses API ------------------------------------------------------

McpPolicy = Callable[[McpApprovalRequest], bool]
"""Decides one ``mcp_approval_request``: True approves the call, False refuses it."""


class McpApprovalLimitError(ToolError):
    """The model still asked for MCP approvals after ``max_rounds`` rounds of answers.

    ``response`` is the last response, whose ``mcp_approval_request`` items are unanswered.
    """

    def __init__(self, max_rounds: int, response: Response) -> None:
        self.max_rounds = max_rounds
        self.response = response
        pending = [i.name for i in response.output if isinstance(i, McpApprovalRequest)]
        super().__init__(
            f"The model asked to approve more MCP calls ({', '.join(pending)}) after "
            f"{max_rounds} round(s) of approvals, the limit set by max_rounds={max_rounds}. "
            f"Answer them by hand (previous_response_id={response.id!r}) or raise max_rounds."
        )


def allow_mcp_tools(*names: str, server_label: str | None = None) -> McpPolicy:
    """A policy that approves calls of the named tools (on ``server_label``, if given) and
    refuses every other call."""
    allowed = frozenset(names)

    def policy(request: McpApprovalRequest) -> bool:
        return request.name in allowed and server_label in (None, request.server_label)

    return policy


def mcp_approval_responses(
    response: Response, policy: McpPolicy
) -> list[tuple[McpApprovalRequest, McpApprovalResponse]]:
    """Each ``mcp_approval_request`` of ``response`` with the ``mcp_approval_response`` input
    item that answers it as ``policy`` decides (empty when nothing waits for approval)."""
    answers: list[tuple[McpApprovalRequest, McpApprovalResponse]] = []
    for item in response.output:
        if isinstance(item, McpApprovalRequest):
            answer: McpApprovalResponse = {
                "type": "mcp_approval_response",
                "approval_request_id": item.id,
                "approve": bool(policy(item)),
            }
            answers.append((item, answer))
    return answers


@dataclass(frozen=True)
class McpApprovals:
    """The answer after every approval round, and what was decided on the way."""

    response: Response
    """The last response: nothing in it waits for approval (``output_text`` is the answer)."""
    decisions: list[tuple[McpApprovalRequest, bool]]
    """Every approval request the policy answered, in order, with its decision."""
    responses: list[Response]
    """Every response, the first one included (for usage)."""


McpRound = tuple[str, list[McpApprovalResponse]]
"""One approval round to send: ``previous_response_id`` and the ``mcp_approval_response`` items."""


def _mcp_rounds(
    response: Response, policy: McpPolicy, max_rounds: int
) -> Generator[McpRound, Response, McpApprovals]:
    """The approval loop without I/O: yields each round to send, receives its response."""
    if max_rounds < 0:
        raise ValueError(f"max_rounds must be 0 or more, got {max_rounds}")
    decisions: list[tuple[McpApprovalRequest, bool]] = []
    responses = [response]
    for round_number in range(max_rounds + 1):
        answers = mcp_approval_responses(response, policy)
        if not answers:
            return McpApprovals(response, decisions, responses)
        if round_number == max_rounds:
            break
        decisions.extend((item, answer["approve"]) for item, answer in answers)
        response = yield response.id, [a for _, a in answers]
        responses.append(response)
    raise McpApprovalLimitError(max_rounds, response)


def run_mcp_approvals(
    client: OpenAI,
    response: Response,
    *,
    policy: McpPolicy,
    max_rounds: int = 3,
    **request: Any,
) -> McpApprovals:
    """Answer ``response``'s MCP approval requests by ``policy`` until the model answers.

    Each round sends one ``mcp_approval_response`` per request, chained with
    ``previous_response_id``; ``request`` is what every such call needs again (``model=`` the
    deployment, ``tools=`` the same mcp tools). Raises :class:`McpApprovalLimitError` when the
    model still asks after ``max_rounds`` rounds, and the SDK's errors for failed requests.
    """
    rounds = _mcp_rounds(response, policy, max_rounds)
    try:
        previous, answers = next(rounds)
        while True:
            sent = client.responses.create(
                previous_response_id=previous, input=list(answers), **request
            )
            previous, answers = rounds.send(sent)
    except StopIteration as done:
        return cast(McpApprovals, done.value)


async def run_mcp_approvals_async(
    client: AsyncOpenAI,
    response: Response,
    *,
    policy: McpPolicy,
    max_rounds: int = 3,
    **request: Any,
) -> McpApprovals:
    """:func:`run_mcp_approvals` with an :class:`~openai.AsyncOpenAI` client: the same rounds,
    each request awaited."""
    rounds = _mcp_rounds(response, policy, max_rounds)
    try:
        previous, answers = next(rounds)
        while True:
            sent = await client.responses.create(
                previous_response_id=previous, input=list(answers), **request
            )
            previous, answers = rounds.send(sent)
    except StopIteration as done:
        return cast(McpApprovals, done.value)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def format_transcript(messages: Iterable[ChatCompletionMessageParam], width: int = 96) -> str:
    """One line per message (role, then text or tool calls), for reading a conversation."""
    lines = []
    for message in messages:
        data = cast(dict[str, Any], message)
        calls = data.get("tool_calls") or []
        if calls:
            text = "calls " + ", ".join(
                f"{c['function']['name']}({c['function']['arguments']})" for c in calls
            )
        else:
            content = data.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
        lines.append(f"{data['role']:<9} " + _shorten(text, width - 10))
    return "\n".join(lines)


# --- exercise --------------------------------------------------------------------------------


def _exercise_weather(city: str) -> dict[str, Any]:
    if city == "Atlantis":
        raise ValueError(f"no weather station in {city}")
    return {"city": city, "temperature_c": 4}


def _exercise_call(
    call_id: str, name: str, arguments: str
) -> ChatCompletionMessageFunctionToolCall:
    return ChatCompletionMessageFunctionToolCall.model_validate(
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    )


def check_run_tool_call(
    run_tool_call: Callable[
        [ChatCompletionMessageFunctionToolCall, dict[str, ToolFunction]], dict[str, Any]
    ],
) -> Feedback:
    """Check ``run_tool_call(tool_call, functions)``: one tool call in, one tool message out.

    The message is ``{"role": "tool", "tool_call_id": ..., "content": <JSON text>}``. An unknown
    tool, arguments that are not JSON, or a tool that raises must not raise: the error goes
    back to the model as the content, so it can correct itself.
    """
    exercise = "run a tool call"
    functions: dict[str, ToolFunction] = {"get_weather": _exercise_weather}
    cases = [
        ("a good call", _exercise_call("call_a", "get_weather", '{"city": "Oslo"}'), None),
        ("an unknown tool", _exercise_call("call_b", "get_time", '{"city": "Oslo"}'), "get_time"),
        ("arguments cut short", _exercise_call("call_c", "get_weather", '{"city": "Os'), "error"),
        ("a tool that raises", _exercise_call("call_d", "get_weather", '{"city": "Atlantis"}'),
         "no weather station in Atlantis"),
    ]  # fmt: skip
    for case, call, error_mentions in cases:
        try:
            message = run_tool_call(call, dict(functions))
        except NotImplementedError:
            return failed(
                exercise, "still a stub: replace `raise NotImplementedError` with your code."
            )
        except Exception as error:
            raised = f"{case} raised {type(error).__name__}: {error}"
            return failed(exercise, raised + "; return it to the model as the content instead.")
        if not isinstance(message, dict) or message.get("role") != "tool":
            return failed(exercise, f"{case}: return a dict with 'role': 'tool', got {message!r}.")
        if message.get("tool_call_id") != call.id:
            return failed(exercise, f"{case}: 'tool_call_id' must be the call's id {call.id!r}, "
                                    f"got {message.get('tool_call_id')!r}.")  # fmt: skip
        content = message.get("content")
        if not isinstance(content, str):
            return failed(exercise, f"{case}: 'content' must be text (json.dumps the result).")
        if error_mentions is None:
            try:
                result = json.loads(content)
            except json.JSONDecodeError:
                result = None
            if result != _exercise_weather("Oslo"):
                return failed(exercise, f"{case}: content {content!r} should be the function's "
                                        "result as JSON, json.dumps(result).")  # fmt: skip
        elif error_mentions not in content:
            return failed(exercise, f"{case}: content {content!r} should tell the model what went "
                                    f"wrong (mention {error_mentions!r}).")  # fmt: skip
    return passed(exercise, "results as JSON, and every failure returned to the model.")
