"""The Responses API's remote MCP tool, offline: a simulated MCP server and the items it yields.

A request's ``{"type": "mcp", "server_label", "server_url", ...}`` tool (Learn, *Use the Azure
OpenAI Responses API*, "Using remote MCP servers") makes Azure's MCP client list the server's
tools and call them for the model. Offline there is no MCP server to reach, so the server_url
is looked up in :data:`SERVERS`, MCP servers defined here as data: their tool lists (what
``tools/list`` would return) and how each tool answers (a table, never a network call).

Per turn of a simulated answer (:func:`respond`):

* an ``mcp_list_tools`` item for each server the conversation has not listed yet (a chain that
  already holds one for the label is not listed again), filtered by ``allowed_tools``;
* on a new question, one call of a server's tool, with arguments drawn from the question: an
  ``mcp_approval_request`` when ``require_approval`` asks for one ("always", the documented
  default, or a filter that matches the tool), else an ``mcp_call`` with the tool's output;
* on ``mcp_approval_response`` input items, an ``mcp_call`` (with ``approval_request_id``) for
  each approved request, nothing for a refused one.

A ``server_url`` no simulated server answers gets HTTP 424 ``external_connector_error``: Learn
documents no wording, so the message takes the form OpenAI's API was reported to send when
listing a server's tools failed ("Error retrieving tool list from MCP server: '<label>'. Http
status code: ...", RageAgainstThePixel/OpenAI-DotNet issue #486); the wording is the
simulator's, not Azure's. The item shapes
are the openai SDK's (``openai.types.responses.response_output_item``: ``McpListTools``,
``McpCall``, ``McpApprovalRequest``) and its ``response.mcp_*`` stream events.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from ... import azure
from ...errors import AzureError, ReplayError, invalid_request
from ..inference.chat import Hints, example_from_schema

MCP_ITEM_TYPES = frozenset({"mcp_list_tools", "mcp_call", "mcp_approval_request"})


class McpTool(BaseModel):
    """One tool of a simulated MCP server: what ``tools/list`` says and how it answers."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool
    answer: Callable[[dict[str, Any]], str]
    """The tool's text result for its arguments; raises :class:`McpToolFailure` to fail."""

    def listed(self) -> dict[str, Any]:
        return {
            "annotations": {"read_only": self.read_only},
            "description": self.description,
            "input_schema": self.input_schema,
            "name": self.name,
        }


class McpServer(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    tools: tuple[McpTool, ...]

    def tool(self, name: str) -> McpTool | None:
        return next((t for t in self.tools if t.name == name), None)


class McpToolFailure(ReplayError):
    """A simulated tool's failure, sent to the model as ``mcp_tool_execution_error``."""


# The simulated Contoso weather MCP server (contoso.com: Microsoft's fictitious company).
FORECASTS: dict[str, list[tuple[str, int, int, str]]] = {
    "Oslo": [("2026-11-25", 1, -3, "snow showers"), ("2026-11-26", 0, -5, "clear"),
             ("2026-11-27", 2, -2, "cloudy")],
    "Lisbon": [("2026-11-25", 18, 12, "sunny"), ("2026-11-26", 16, 11, "rain"),
               ("2026-11-27", 17, 12, "partly cloudy")],
    "Sydney": [("2026-11-25", 26, 18, "clear"), ("2026-11-26", 29, 20, "hot and sunny"),
               ("2026-11-27", 23, 17, "thunderstorms")],
    "New York": [("2026-11-25", 9, 3, "overcast"), ("2026-11-26", 7, 1, "rain"),
                 ("2026-11-27", 5, -1, "windy")],
}  # fmt: skip


def _forecast(arguments: dict[str, Any]) -> str:
    city, days = arguments.get("city"), arguments.get("days", 1)
    if city not in FORECASTS:
        raise McpToolFailure(f"No forecast for {city!r}. Known cities: {', '.join(FORECASTS)}.")
    if not isinstance(days, int) or not 1 <= days <= 3:
        raise McpToolFailure(f"days must be 1, 2 or 3, not {days!r}.")
    rows = [
        {"date": date, "high_c": high, "low_c": low, "conditions": conditions}
        for date, high, low, conditions in FORECASTS[city][:days]
    ]
    return json.dumps({"city": city, "forecast": rows})


def _subscribe(arguments: dict[str, Any]) -> str:
    city, email = arguments.get("city"), arguments.get("email")
    if city not in FORECASTS:
        raise McpToolFailure(f"No alerts for {city!r}. Known cities: {', '.join(FORECASTS)}.")
    return json.dumps({"subscribed": email, "city": city, "alerts": "severe weather"})


CONTOSO_WEATHER = McpServer(
    url="https://weather.contoso.com/mcp",
    tools=(
        McpTool(
            name="get_forecast",
            description="Daily forecast for a city: high and low in Celsius, conditions.",
            input_schema={
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. 'Lisbon'"},
                    "days": {"type": "integer", "minimum": 1, "maximum": 3},
                },
                "required": ["city", "days"],
                "additionalProperties": False,
            },
            read_only=True,
            answer=_forecast,
        ),
        McpTool(
            name="subscribe_alerts",
            description="Email severe-weather alerts for a city to an address.",
            input_schema={
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "email": {"type": "string", "format": "email"},
                },
                "required": ["city", "email"],
                "additionalProperties": False,
            },
            read_only=False,
            answer=_subscribe,
        ),
    ),
)

SERVERS: dict[str, McpServer] = {CONTOSO_WEATHER.url: CONTOSO_WEATHER}
"""The MCP servers the replay server simulates, by URL."""


def mcp_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "mcp"]


def server_of(tool: dict[str, Any]) -> McpServer:
    """The simulated server at the tool's ``server_url``, or the 424 of one that cannot list."""
    url = str(tool.get("server_url") or "").rstrip("/")
    found = SERVERS.get(url)
    if found is None:
        label = tool.get("server_label")
        raise AzureError(
            424,
            {
                "error": {
                    "message": f"Error retrieving tool list from MCP server: '{label}'. "
                    "Http status code: 404 (Not Found)",
                    "type": "external_connector_error",
                    "param": "tools",
                    "code": "http_error",
                }
            },
        )
    return found


def _matches(selector: Any, tool: McpTool) -> bool:
    """A ``tool_names`` / ``read_only`` filter (or a list of names) that selects ``tool``."""
    if isinstance(selector, list):
        return tool.name in selector
    if not isinstance(selector, dict):
        return False
    names = selector.get("tool_names")
    if isinstance(names, list) and tool.name in names:
        return True
    read_only = selector.get("read_only")
    return isinstance(read_only, bool) and read_only == tool.read_only


def allowed(tool_param: dict[str, Any], server: McpServer) -> list[McpTool]:
    """The server's tools that ``allowed_tools`` lets the model see (all when it is absent)."""
    selector = tool_param.get("allowed_tools")
    if selector is None:
        return list(server.tools)
    return [t for t in server.tools if _matches(selector, t)]


def needs_approval(tool_param: dict[str, Any], tool: McpTool) -> bool:
    """Whether ``require_approval`` asks for an approval before ``tool`` runs. Learn: "By
    default, the Responses API requires explicit approval before any data is shared with a
    remote MCP server"."""
    policy = tool_param.get("require_approval")
    if policy in (None, "always"):
        return True
    if policy == "never":
        return False
    if isinstance(policy, dict):
        if _matches(policy.get("never"), tool):
            return False
        if _matches(policy.get("always"), tool):
            return True
    return True


def run_tool(server: McpServer, name: str, arguments: str) -> tuple[str | None, Any]:
    """``(output, error)`` of one call: the tool's text, or an ``McpToolCallError`` object."""
    tool = server.tool(name)
    try:
        parsed = json.loads(arguments)
        if tool is None:
            raise McpToolFailure(f"Unknown tool {name!r}.")
        return tool.answer(parsed if isinstance(parsed, dict) else {}), None
    except (McpToolFailure, json.JSONDecodeError) as failure:
        content = [{"type": "text", "text": str(failure)}]
        return None, {"type": "mcp_tool_execution_error", "content": content}


def list_tools_item(item_id: str, label: str, tools: Iterable[McpTool]) -> dict[str, Any]:
    return {
        "id": item_id,
        "server_label": label,
        "tools": [t.listed() for t in tools],
        "type": "mcp_list_tools",
    }


def call_item(
    item_id: str,
    server: McpServer,
    label: str,
    name: str,
    arguments: str,
    approval_request_id: str | None = None,
) -> dict[str, Any]:
    output, error = run_tool(server, name, arguments)
    return {
        "approval_request_id": approval_request_id,
        "arguments": arguments,
        "error": error,
        "id": item_id,
        "name": name,
        "output": output,
        "server_label": label,
        "status": "failed" if error else "completed",
        "type": "mcp_call",
    }


def approval_request_item(item_id: str, label: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "arguments": arguments,
        "id": item_id,
        "name": name,
        "server_label": label,
        "type": "mcp_approval_request",
    }


def approval_requests(items: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        str(i.get("id")): i
        for i in items
        if isinstance(i, dict) and i.get("type") == "mcp_approval_request"
    }


def check_approval_responses(body: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """400 for an ``mcp_approval_response`` that answers no request of this conversation
    (wording the simulator's own: Learn documents none)."""
    raw = body.get("input")
    items = raw if isinstance(raw, list) else []
    known = approval_requests([*history, *items])
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("type") == "mcp_approval_response":
            wanted = item.get("approval_request_id")
            if wanted not in known:
                raise invalid_request(
                    f"No MCP approval request with id '{wanted}' in this conversation.",
                    param=f"input[{i}].approval_request_id",
                )


def _listed_labels(history: list[dict[str, Any]]) -> set[str]:
    return {str(i.get("server_label")) for i in history if i.get("type") == "mcp_list_tools"}


def _mentioned(tools: list[McpTool], question: str) -> list[McpTool]:
    """The tools whose name has a word the question uses ("alerts": ``subscribe_alerts``)
    first, the others after them, each group in the server's order."""
    words = set(re.findall(r"[a-z]{4,}", question.lower()))
    return sorted(tools, key=lambda t: not words & set(t.name.lower().split("_")))


def _chosen(
    body: dict[str, Any], params: list[dict[str, Any]], question: str
) -> tuple[dict[str, Any], McpTool] | None:
    """The server and tool a simulated model calls: the one ``tool_choice`` names, else the
    first allowed tool the question mentions, else the first allowed tool."""
    raw = body.get("tool_choice")
    if raw == "none":
        return None
    choice: dict[str, Any] = raw if isinstance(raw, dict) and raw.get("type") == "mcp" else {}
    for param in params:
        if choice and choice.get("server_label") != param.get("server_label"):
            continue
        tools = _mentioned(allowed(param, server_of(param)), question)
        if choice.get("name"):
            tools = [t for t in tools if t.name == choice["name"]]
        if tools:
            return param, tools[0]
    return None


def respond(
    body: dict[str, Any],
    items: list[dict[str, Any]],
    history: list[dict[str, Any]],
    ids: azure.IdSource,
    question: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(listings, actions)`` of a simulated turn: ``mcp_list_tools`` items first, then the
    calls or approval requests; both empty when the request has no mcp tool."""
    params = mcp_tools(body)
    if not params:
        return [], []
    listed = _listed_labels(history)
    listings = []
    for param in params:
        server = server_of(param)
        label = str(param.get("server_label"))
        if label not in listed:
            listings.append(list_tools_item(ids.item_id("mcpl"), label, allowed(param, server)))
            listed.add(label)
    by_label = {str(p.get("server_label")): p for p in params}
    answers = [i for i in items if i.get("type") == "mcp_approval_response"]
    actions: list[dict[str, Any]] = []
    if answers:
        requests = approval_requests([*history, *items])
        for answer in answers:
            request = requests.get(str(answer.get("approval_request_id")))
            if not answer.get("approve") or request is None:
                continue
            label = str(request["server_label"])
            server = server_of(by_label.get(label, {"server_label": label}))
            name, arguments = request["name"], request["arguments"]
            call = call_item(ids.item_id("mcp"), server, label, name, arguments, request["id"])
            actions.append(call)
        return listings, actions
    if items and items[-1].get("type") not in ("message", None):
        return listings, actions  # a tool's output or the like: the model answers in text
    chosen = _chosen(body, params, question)
    if chosen is None:
        return listings, actions
    param, tool = chosen
    label = str(param.get("server_label"))
    arguments = json.dumps(example_from_schema(tool.input_schema, hints=Hints.from_text(question)))
    if needs_approval(param, tool):
        actions.append(approval_request_item(ids.item_id("mcpr"), label, tool.name, arguments))
    else:
        actions.append(call_item(ids.item_id("mcp"), server_of(param), label, tool.name, arguments))
    return listings, actions


def awaits_approval(actions: Iterable[dict[str, Any]]) -> bool:
    return any(a.get("type") == "mcp_approval_request" for a in actions)


def item_events(item: dict[str, Any], index: int) -> list[tuple[str, dict[str, Any]]]:
    """The events an MCP item streams between ``response.output_item.added`` (included) and
    ``response.output_item.done``: the openai SDK's ``response.mcp_list_tools.*`` and
    ``response.mcp_call*`` events; an approval request has none of its own."""
    kind, ident = item.get("type"), item.get("id")
    at = {"item_id": ident, "output_index": index}
    if kind == "mcp_list_tools":
        return [
            ("response.output_item.added", {"item": {**item, "tools": []}, "output_index": index}),
            ("response.mcp_list_tools.in_progress", at),
            ("response.mcp_list_tools.completed", at),
        ]
    if kind == "mcp_call":
        opening = {**item, "arguments": "", "error": None, "output": None, "status": "in_progress"}
        ending = "failed" if item.get("error") else "completed"
        return [
            ("response.output_item.added", {"item": opening, "output_index": index}),
            ("response.mcp_call.in_progress", at),
            ("response.mcp_call_arguments.delta", {**at, "delta": item.get("arguments", "")}),
            ("response.mcp_call_arguments.done", {**at, "arguments": item.get("arguments", "")}),
            (f"response.mcp_call.{ending}", at),
        ]
    return [("response.output_item.added", {"item": item, "output_index": index})]


def imported_text(listings: Iterable[dict[str, Any]], actions: Iterable[dict[str, Any]]) -> str:
    """What a turn adds to the model's input: the tool definitions it imported and the calls'
    outputs ("you only pay for tokens used when importing tool definitions or making tool
    calls", Learn)."""
    parts = [json.dumps(listing["tools"]) for listing in listings]
    parts += [str(a.get("output") or "") for a in actions if a.get("type") == "mcp_call"]
    return "\n".join(parts)
