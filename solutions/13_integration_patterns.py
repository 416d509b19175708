"""Solution to notebook 13's exercise: a pipeline step that sets a default token limit.

A step gets the request and ``call_next``. This one acts before the call: a request without a
limit gets one, named as its API names it (``max_completion_tokens`` for chat completions,
which reasoning models require instead of ``max_tokens``; ``max_output_tokens`` for the
Responses API), and a limit the caller set is left alone. It passes a new dict on, so the
caller's request is never changed, and returns what the rest of the pipeline returned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Params = dict[str, Any]


class DefaultLimit:
    """Give every request without a token limit ``limit`` output tokens."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def _with_limit(self, params: Params) -> Params:
        name = "max_completion_tokens" if "messages" in params else "max_output_tokens"
        if params.get(name) is not None:
            return params
        return {**params, name: self.limit}

    def handle(self, params: Params, call_next: Callable[[Params], Any]) -> Any:
        return call_next(self._with_limit(params))

    async def ahandle(self, params: Params, call_next: Callable[[Params], Awaitable[Any]]) -> Any:
        return await call_next(self._with_limit(params))
