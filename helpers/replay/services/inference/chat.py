"""Simulated chat completions for lenient mode.

When a learner edits a prompt, no recording matches. Rather than stop the
workshop, lenient mode answers with a well-formed completion that says plainly
it was not recorded (and sets the ``x-replay-unrecorded`` header). If the
request asks for structured output, the answer is a minimal JSON value that
fits the schema, so code that parses it keeps going.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ...._support.counting import count_messages
from ...._support.tokenizer import count_tokens, get_encoding
from ... import azure
from ...behaviours.content_filter import ASYNCHRONOUS_WINDOW, buffered

UNRECORDED_TEXT = (
    "[unrecorded] The replay server has no recording of this request, so it answered with "
    "this placeholder (lenient mode). Restore the original prompt to see the recorded answer, "
    "or point .env at an Azure OpenAI resource to get a real one."
)


EXAMPLE_NODE_BUDGET = 2000
"""Schema nodes :func:`example_from_schema` expands at most: ``$ref`` cycles and chains that
fan out end here (with ``null``) instead of recursing forever or exponentially."""


UNRECORDED_VALUE = "[unrecorded]"
"""Every string in a made-up structured answer: the learner sees it was not recorded."""


_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "at",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "give",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "show",
        "tell",
        "the",
        "then",
        "this",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "let",
        "hi",
        "hello",
        "thanks",
        "yes",
        "no",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
"""Words that open a question capitalised without naming anything (``What``, ``Of``, ``Is``)."""


@dataclass
class Hints:
    """Values a learner's own question offers a made-up tool call: names (capitalised words,
    in order: ``Paris``, ``New York``), numbers, and the text to look enum values up in.

    Lenient mode answers an edited question without a recording; drawing a tool's arguments
    from the question keeps the lesson alive (the loop runs on the learner's own city), and
    ``"[unrecorded]"`` is left only where the question offers nothing.
    """

    text: str = ""
    names: list[str] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: str) -> Hints:
        names = []
        for match in re.finditer(r"[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*", text):
            words = match.group(0).split()
            while words and re.sub(r"'(s|re|m|ll|d)$", "", words[0].lower()) in _FUNCTION_WORDS:
                words = words[1:]
            if words:
                names.append(" ".join(words))
        numbers = [float(n) for n in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])", text)]
        return cls(text, list(dict.fromkeys(names)), numbers)

    @classmethod
    def from_messages(cls, messages: Any) -> Hints:
        """From the last user message (text, or the text parts of its content)."""
        for message in reversed(messages if isinstance(messages, list) else []):
            if isinstance(message, dict) and message.get("role") == "user":
                return cls.from_text(_text_of(message.get("content")))
        return cls()

    def enum_value(self, options: list[Any]) -> Any:
        lowered = self.text.lower()
        named = [o for o in options if isinstance(o, str) and o and o.lower() in lowered]
        return named[0] if named else options[0]

    def name(self, index: int) -> str:
        return self.names[index] if index < len(self.names) else UNRECORDED_VALUE

    def number(self, index: int, low: Any, high: Any) -> float | None:
        for value in self.numbers[index:]:
            if (_number(low) and value < low) or (_number(high) and value > high):
                continue
            return value
        return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def example_from_schema(
    schema: Any, defs: dict[str, Any] | None = None, hints: Hints | None = None
) -> Any:
    """The simplest value that satisfies a JSON schema of the kind structured outputs allow.

    Lenient mode runs this on any schema a client sends, strict or not, so it takes odd ones
    in its stride: a ``$ref`` to itself or in a cycle, an empty ``enum``, ``properties`` that
    is not an object, non-numeric bounds. What it cannot satisfy becomes ``null``. With
    ``hints`` (a tool call's arguments), enum values, strings and numbers come from the
    learner's question where it offers them.
    """
    hints = hints or Hints()
    used = {"names": 0, "numbers": 0}
    root = schema if isinstance(schema, dict) else {}
    if defs is None:
        found = root.get("$defs", root.get("definitions"))
        defs = found if isinstance(found, dict) else {}
    budget = [EXAMPLE_NODE_BUDGET]

    def resolve(ref: str) -> Any:
        if ref in ("#", "#/"):
            return root
        return defs.get(ref.rsplit("/", 1)[-1])

    def example(node: Any, refs: frozenset[str]) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or not isinstance(node, dict):
            return None
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in refs:  # a cycle: stop here
                return None
            return example(resolve(ref), refs | {ref})
        enum = node.get("enum")
        if isinstance(enum, list) and enum:
            return hints.enum_value(enum)
        if "const" in node:
            return node["const"]
        for key in ("anyOf", "oneOf", "allOf"):
            options = node.get(key)
            if isinstance(options, list) and options:
                return example(options[0], refs)
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if isinstance(k, str) and k != "null"), "null")
        match kind:
            case "object":
                props = node.get("properties")
                if not isinstance(props, dict):
                    return {}
                return {name: example(sub, refs) for name, sub in props.items()}
            case "array":
                return []
            case "string":
                value = hints.name(used["names"])
                used["names"] += value != UNRECORDED_VALUE
                return value
            case "integer" | "number":
                low = node.get("minimum", 0)
                found = hints.number(used["numbers"], low, node.get("maximum"))
                if found is not None:
                    used["numbers"] += 1
                    return int(found) if kind == "integer" else found
                return low if _number(low) else 0
            case "boolean":
                return False
            case _:
                return None

    return example(schema, frozenset())


def unrecorded_content(body: dict[str, Any]) -> str:
    fmt = body.get("response_format")
    fmt = fmt if isinstance(fmt, dict) else {}
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return json.dumps(example_from_schema(schema if isinstance(schema, dict) else {}))
    if fmt.get("type") == "json_object":
        return json.dumps({"unrecorded": True, "note": UNRECORDED_TEXT})
    results = _tool_results(body.get("messages") or [])
    if results:
        return f"{UNRECORDED_TEXT} The tools answered: {'; '.join(results)}"
    return UNRECORDED_TEXT


def _tool_results(messages: list[Any]) -> list[str]:
    """The tool messages that answer the last assistant turn, shortened for the placeholder."""
    results: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        results.insert(0, text if len(text) <= 120 else text[:117] + "...")
    return results


def _failed_tools(messages: list[Any]) -> set[str]:
    """Names of the tools whose latest results are errors, if the model has called tools only
    once so far (a simulated model retries a failed round once, then answers)."""
    rounds = [
        m
        for m in messages
        if isinstance(m, dict) and m.get("role") == "assistant" and m.get("tool_calls")
    ]
    if len(rounds) != 1:
        return set()
    names = {
        str(call.get("id")): str((call.get("function") or {}).get("name", ""))
        for call in rounds[0].get("tool_calls") or []
        if isinstance(call, dict)
    }
    failed = set()
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        if re.search(r'"error"|\berror\b|exception', text, re.IGNORECASE):
            failed.add(names.get(str(message.get("tool_call_id")), ""))
    return failed - {""}


def tool_calls_for(body: dict[str, Any], ids: azure.IdSource) -> tuple[list[dict[str, Any]], str]:
    """Tool calls that fit the request's tool schemas, and the finish reason, or ``([], "")``.

    A model asked with tools answers with calls unless ``tool_choice`` is ``none`` or the last
    messages are tool results (then it answers in text, except that it calls the tools that
    failed once more after its first round); a named tool choice calls that tool (finish
    reason ``stop``, as Azure reports a forced call); several tools are called in parallel
    unless ``parallel_tool_calls`` is false.
    """
    tools = [
        t
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    choice = body.get("tool_choice", "auto")
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if not tools or choice == "none":
        return [], ""
    if last.get("role") == "tool":
        failed = _failed_tools(messages)
        if not failed:
            return [], ""
        # A model that reads a tool's error tries again, once: the simulated conversation keeps
        # the shape of a real one, so a round limit (max_rounds) still has something to stop.
        tools = [t for t in tools if t["function"].get("name") in failed] or tools[:1]
    finish = "tool_calls"
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        tools = [t for t in tools if t["function"].get("name") == name] or tools[:1]
        finish = "stop"
    elif body.get("parallel_tool_calls") is False:
        tools = tools[:1]
    hints = Hints.from_messages(messages)
    calls = [
        azure.tool_call(
            ids.call_id(),
            str(tool["function"].get("name", "")),
            example_from_schema(
                tool["function"].get("parameters") or {"type": "object"}, hints=hints
            ),
        )
        for tool in tools
    ]
    return calls, finish


def _pieces(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


def truncate(text: str, budget: int) -> str:
    """The first ``budget`` tokens of ``text`` (o200k_base), as text."""
    encoding = get_encoding("o200k_base")
    return encoding.decode(encoding.encode(text, disallowed_special=())[: max(budget, 0)])


def fit_calls(calls: list[tuple[str, str]], budget: int) -> list[tuple[str, bool]]:
    """The calls (name, arguments) that fit in ``budget`` tokens, in order: each whole one's
    arguments with True, then, where the cap falls inside a call whose name came out whole,
    its arguments cut at the cap with False. Chat Completions and the Responses API both cut
    capped tool calls this way."""
    fitted: list[tuple[str, bool]] = []
    for name, arguments in calls:
        cost = call_tokens(name, arguments)
        if cost <= budget:
            fitted.append((arguments, True))
            budget -= cost
            continue
        left = budget - count_tokens(name)
        if left > 0:  # the name came out whole; the arguments stop at the cap
            fitted.append((truncate(arguments, left), False))
        break
    return fitted


def call_tokens(name: str, arguments: str) -> int:
    """What a tool call is billed here: its name and arguments (a stand-in: how a call is
    serialised for counting is not published)."""
    return count_tokens(name) + count_tokens(arguments)


@dataclass
class Generated:
    """One choice's answer once the cap is applied, and the tokens it bills."""

    content: str
    calls: list[dict[str, Any]]
    finish_reason: str
    reasoning_tokens: int
    completion_tokens: int


def capped(
    content: str,
    calls: list[dict[str, Any]],
    finish_reason: str,
    reasoning_tokens: int,
    limit: int | None,
) -> Generated:
    """One generation held to ``limit`` (``max_completion_tokens`` or ``max_tokens``).

    "An upper bound for the number of tokens that can be generated for a completion,
    including visible output tokens and reasoning tokens" (OpenAI API reference,
    ``max_completion_tokens``): reasoning is spent first, then what is left is text or tool
    calls. An answer that does not fit stops at the cap, bills exactly the cap and ends with
    ``finish_reason: "length"`` (a call cut halfway keeps the arguments generated so far);
    an answer that fits keeps its own finish reason and bills what it used.
    """
    wanted = sum(call_tokens(c["function"]["name"], c["function"]["arguments"]) for c in calls)
    if not calls:
        wanted = count_tokens(content)
    if limit is None or reasoning_tokens + wanted <= limit:
        return Generated(content, calls, finish_reason, reasoning_tokens, reasoning_tokens + wanted)
    reasoning = min(reasoning_tokens, limit)
    budget = limit - reasoning
    fitted = fit_calls([(c["function"]["name"], c["function"]["arguments"]) for c in calls], budget)
    kept = [
        call if whole else {**call, "function": {**call["function"], "arguments": arguments}}
        for call, (arguments, whole) in zip(calls, fitted, strict=False)
    ]
    text = "" if calls else truncate(content, budget)
    return Generated(text, kept, "length", reasoning, limit)


def simulate(
    body: dict[str, Any],
    model: str,
    ids: azure.IdSource,
    *,
    reasoning_tokens: int = 0,
    cached_tokens: int = 0,
    created: int = azure.CREATED,
    filter_streaming: Literal["default", "asynchronous"] = "default",
) -> dict[str, Any] | list[str]:
    """A non-streamed body, or the list of SSE payloads when ``stream`` is set.

    ``n`` choices (OpenAI API reference, ``n``: "How many chat completion choices to generate
    for each input message"), each generated on its own: its own tool call ids, its own
    ``reasoning_tokens`` (reasoning deployments) and its own cap, as ``max_completion_tokens``
    bounds each completion; ``usage`` counts the prompt once and sums the completions.
    ``created`` is the server's time (:func:`helpers.replay.azure.timestamp`);
    ``filter_streaming`` is the deployment's content filter streaming mode.
    """
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    limit = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
    wanted = body.get("n")
    count = wanted if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted > 0 else 1
    generated = []
    for _ in range(count):
        calls, finish = tool_calls_for(body, ids)
        content = "" if calls else unrecorded_content(body)
        generated.append(capped(content, calls, finish or "", reasoning_tokens, limit))
    prompt_tokens = count_messages(body.get("messages", []), strict=False)
    completion_tokens = sum(g.completion_tokens for g in generated)
    reasoning = sum(g.reasoning_tokens for g in generated)
    cached = min(cached_tokens, prompt_tokens)
    completion_id = ids.completion_id()
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        asynchronous = filter_streaming == "asynchronous"
        return azure.chat_stream(
            completion_id=completion_id,
            model=model,
            choices=[
                azure.StreamedChoice(
                    pieces=_pieces(g.content) if asynchronous else buffered(_pieces(g.content)),
                    tool_calls=g.calls or None,
                    finish_reason=g.finish_reason or None,
                )
                for g in generated
            ],
            include_usage=include_usage,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            reasoning_tokens=reasoning,
            cached_tokens=cached,
            created=created,
            asynchronous_filter_window=ASYNCHRONOUS_WINDOW if asynchronous else None,
        )
    return azure.chat_completion(
        completion_id=completion_id,
        model=model,
        choices=[
            azure.chat_choice(
                index,
                content=None if g.calls else g.content,
                tool_calls=g.calls or None,
                finish_reason=g.finish_reason or None,
            )
            for index, g in enumerate(generated)
        ],
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        reasoning_tokens=reasoning,
        cached_tokens=cached,
        created=created,
    )
