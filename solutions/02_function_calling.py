"""Solution to notebook 2's exercise: run one tool call, returning every failure to the model."""

import json
from collections.abc import Callable
from typing import Any

from openai.types.chat import ChatCompletionMessageFunctionToolCall


def run_tool_call(
    tool_call: ChatCompletionMessageFunctionToolCall, functions: dict[str, Callable[..., Any]]
) -> dict[str, Any]:
    """A tool message for ``tool_call``: the result as JSON, or ``{"error": ...}`` as content."""
    name = tool_call.function.name
    try:
        if name not in functions:
            raise LookupError(f"unknown tool {name!r}; use one of {sorted(functions)}")
        arguments = json.loads(tool_call.function.arguments)
        content = json.dumps(functions[name](**arguments))
    except Exception as error:
        content = json.dumps({"error": f"{type(error).__name__}: {error}"})
    return {"role": "tool", "tool_call_id": tool_call.id, "content": content}
