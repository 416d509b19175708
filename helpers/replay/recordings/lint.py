"""A linter for recordings: would Azure have sent this?

Curated recordings are written by hand, so nothing stops a curator from writing an answer
Azure could never send: a timestamp before the model existed, usage that does not add up,
three choices for ``n=1``, a Responses stream that ends in ``[DONE]``. Each rule below states
where it comes from; none is derived from this server's own builders.

Run it over files or folders (the default: every shipped recording)::

    python -m helpers.replay.recordings.lint [PATH ...]

It prints one line per finding (``file: interaction: rule: message``) and exits 1 if any.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..._support.counting import count_messages
from ..._support.models import catalogue
from ..._support.tokenizer import count_tokens
from ..config import DEFAULT_DEPLOYMENTS

__all__ = [
    "Finding",
    "Linter",
    "catalogue_ga_date",
    "lint_paths",
    "main",
    "shipped_recordings",
]

GaDate = Callable[[str], "dt.date | None"]
"""Given a response's ``model`` (e.g. ``gpt-5.4-mini-2026-03-17``), its GA date, if known."""

# Id prefixes, as the OpenAI API reference's examples and the openai SDK's types show them
# (ChatCompletion.id "chatcmpl-...", Response.id "resp_...", output message "msg_...",
# function call item "fc_...", tool call id "call_...", FileObject.id "file-...",
# Batch.id "batch_...", VectorStore.id "vs_..."). Azure keeps OpenAI's prefixes; its own
# docs' samples show the same (e.g. "Azure OpenAI Responses API" on Learn).
ID_PREFIXES: dict[str, str] = {
    "chat.completion": "chatcmpl-",
    "chat.completion.chunk": "chatcmpl-",
    "response": "resp_",
    "file": "file-",
    "batch": "batch_",
    "vector_store": "vs_",
}
ITEM_PREFIXES: dict[str, str] = {"message": "msg_", "function_call": "fc_"}

# "Prompt caching" (Learn, Azure OpenAI): caching applies to prompts of at least 1,024 tokens,
# and cache hits come in increments of 128 tokens after the first 1,024.
CACHE_MIN_TOKENS = 1024
CACHE_STEP = 128

# The Responses API's stream ends with one of these events and never with `data: [DONE]`
# (OpenAI API reference, "Streaming events"; the openai SDK's ResponseStreamEvent union).
# A stream may also stop on an `error` event (ResponseErrorEvent) when the service fails.
RESPONSES_TERMINAL_EVENTS = {
    "response.completed",
    "response.failed",
    "response.incomplete",
    "error",
}


@dataclass(frozen=True)
class Finding:
    path: str
    interaction: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.interaction}: {self.rule}: {self.message}"


@dataclass
class _Context:
    path: str
    name: str
    request: Mapping[str, Any]
    response: Mapping[str, Any]
    findings: list[Finding]

    def add(self, rule: str, message: str) -> None:
        self.findings.append(Finding(self.path, self.name, rule, message))

    @property
    def body(self) -> Mapping[str, Any]:
        body = self.request.get("body")
        return body if isinstance(body, Mapping) else {}


def _stream_payloads(response: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    payloads: list[Mapping[str, Any]] = []
    for chunk in response.get("stream") or []:
        data = chunk.get("data", "")
        if data.strip() == "[DONE]":
            continue
        try:
            parsed = json.loads(data)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            payloads.append(parsed)
    return payloads


def _is_responses(path: str) -> bool:
    return path.rstrip("/").endswith("/responses")


class Linter:
    """The rules, applied interaction by interaction.

    ``ga_date`` looks up a model's GA date (the project passes its model catalogue); ``today``
    is the day after which no timestamp may fall.
    """

    def __init__(self, ga_date: GaDate | None = None, today: dt.date | None = None) -> None:
        self.ga_date = ga_date or (lambda model: None)
        self.today = today or dt.datetime.now(dt.UTC).date()

    # --- entry points ---------------------------------------------------------------------

    def lint_document(self, path: str, document: Mapping[str, Any]) -> list[Finding]:
        findings: list[Finding] = []
        for number, interaction in enumerate(document.get("interactions") or [], 1):
            request = interaction.get("request") or {}
            response = interaction.get("response") or {}
            name = interaction.get("name") or f"#{number}"
            self._lint(_Context(path, name, request, response, findings))
        return findings

    def lint_file(self, path: Path, shown: str | None = None) -> list[Finding]:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return self.lint_document(shown or str(path), document)

    # --- the rules --------------------------------------------------------------------------

    def _lint(self, c: _Context) -> None:
        status = c.response.get("status", 200)
        if status != 200 or c.response.get("fault"):
            return
        stream = c.response.get("stream")
        bodies: list[Mapping[str, Any]]
        if stream is not None:
            self._stream_ending(c)
            bodies = _stream_payloads(c.response)
        elif isinstance(c.response.get("body"), Mapping):
            bodies = [c.response["body"]]
        else:
            bodies = []
        if c.request.get("content_type", "").startswith("multipart/") or c.response.get("text"):
            self._batch_file(c)
        for body in bodies:
            self._ids(c, body)
            self._timestamps(c, body)
        objects = [self._object_of(b) for b in bodies]
        answered_by = next((o.get("model") for o in objects if o.get("model")), None)
        if isinstance(answered_by, str):
            self._routed(c, answered_by)
            self._request_accepted(c, answered_by)
        if stream is None and bodies:
            self._answer(c, bodies[0], objects[0])
        elif stream is not None:
            self._streamed_answer(c, bodies)

    # Rule: a model router deployment answers with one model of its subset, named in ``model``
    # ("How to use model router", Learn: "the "model" field reveals which underlying model was
    # selected"); the request is then checked against that model (the rule below).
    def _routed(self, c: _Context, answered_by: str) -> None:
        path = c.request.get("path", "")
        parts = path.split("/")
        name = parts[3] if path.startswith("/openai/deployments/") and len(parts) > 3 else None
        name = name or c.body.get("model")
        deployment = DEFAULT_DEPLOYMENTS.get(name) if isinstance(name, str) else None
        if deployment is None or not deployment.is_router:
            return
        if answered_by not in deployment.routes_to:
            c.add(
                "router",
                f"{name} answers with one of {list(deployment.routes_to)}, not {answered_by!r}",
            )

    # Rule: the model that answered takes the request. Reasoning models accept only the efforts
    # on their list and reject ``max_tokens`` on Chat Completions ("Azure OpenAI reasoning
    # models", Learn); standard models take no effort; a model that refuses function tools with
    # a reasoning effort on Chat Completions (Learn's models page for gpt-5.6, OpenAI's 400 for
    # gpt-5.4) answers no such request. The facts are the catalogue's, each with its source.
    def _request_accepted(self, c: _Context, answered_by: str) -> None:
        entry = catalogue().find(answered_by)
        if entry is None or entry.kind != "chat":
            return
        responses = _is_responses(c.request.get("path", ""))
        reasoning = c.body.get("reasoning")
        effort = (
            (reasoning.get("effort") if isinstance(reasoning, Mapping) else None)
            if responses
            else c.body.get("reasoning_effort")
        )
        if effort is not None:
            if entry.family != "reasoning":
                c.add(
                    "request", f"{answered_by} is not a reasoning model but got effort {effort!r}"
                )
            elif effort not in entry.efforts:
                c.add("request", f"{answered_by} takes no effort {effort!r} ({entry.efforts})")
        if responses or entry.family != "reasoning":
            return
        if c.body.get("max_tokens") is not None:
            c.add("request", f"{answered_by} rejects max_tokens (max_completion_tokens)")
        tools = c.body.get("tools")
        has_function = isinstance(tools, list) and any(
            isinstance(t, Mapping) and t.get("type") == "function" for t in tools
        )
        refuses = entry.chat_tools_with_reasoning
        if has_function and refuses is not None and refuses.value is False:
            default = entry.default_effort.value if entry.default_effort else None
            if (effort or default or "none") != "none":
                c.add("request", f"{answered_by} refuses function tools with effort {effort!r}")

    @staticmethod
    def _object_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
        """A Responses stream event carries its response under ``response``."""
        inner = body.get("response")
        return inner if isinstance(inner, Mapping) else body

    def _answer(self, c: _Context, body: Mapping[str, Any], obj: Mapping[str, Any]) -> None:
        kind = body.get("object")
        if kind == "chat.completion":
            self._chat(c, body, body.get("choices") or [], body.get("usage"))
        elif kind == "response":
            self._response(c, body)
        elif kind == "list" and c.request.get("path", "").endswith("/embeddings"):
            self._embeddings(c, body)
        elif kind == "batch":
            self._request_counts(c, body)

    def _streamed_answer(self, c: _Context, events: list[Mapping[str, Any]]) -> None:
        if _is_responses(c.request.get("path", "")):
            final = [e for e in events if e.get("type") in RESPONSES_TERMINAL_EVENTS]
            if final and isinstance(final[-1].get("response"), Mapping):
                self._response(c, final[-1]["response"])
            return
        choices: dict[int, dict[str, Any]] = {}
        usage = None
        for event in events:
            for choice in event.get("choices") or []:
                index = choice.get("index", 0)
                merged = choices.setdefault(index, {"index": index, "text": ""})
                delta = choice.get("delta") or {}
                merged["text"] += delta.get("content") or ""
                if choice.get("finish_reason"):
                    merged["finish_reason"] = choice["finish_reason"]
            if event.get("usage"):
                usage = event["usage"]
        if choices:
            self._chat(c, {}, [choices[i] for i in sorted(choices)], usage)

    # Rule: as many choices as `n` (API reference, chat "n": "How many chat completion choices
    # to generate for each input message"); usage adds up; the cap holds.
    def _chat(
        self,
        c: _Context,
        body: Mapping[str, Any],
        choices: list[Mapping[str, Any]],
        usage: Mapping[str, Any] | None,
    ) -> None:
        wanted = c.body.get("n") or 1
        if len(choices) != wanted:
            c.add("choices", f"{len(choices)} choice(s) for n={wanted}")
        if not usage:
            return
        prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        self._sums(c, "prompt_tokens", prompt, "completion_tokens", completion, usage)
        details = usage.get("completion_tokens_details") or {}
        reasoning = details.get("reasoning_tokens") or 0
        if reasoning > completion:
            c.add("usage", f"reasoning_tokens {reasoning} > completion_tokens {completion}")
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        self._cached(c, cached, prompt)
        # max_completion_tokens: "An upper bound for the number of tokens that can be generated
        # for a completion, including visible output tokens and reasoning tokens" (API reference).
        cap = c.body.get("max_completion_tokens") or c.body.get("max_tokens")
        if cap is not None:
            if completion > cap * wanted:
                c.add("cap", f"completion_tokens {completion} over the cap {cap} (n={wanted})")
            truncated = any(ch.get("finish_reason") == "length" for ch in choices)
            if truncated and wanted == 1 and completion != cap:
                c.add("cap", f"finish_reason length with {completion} of {cap} tokens")
        elif any(ch.get("finish_reason") == "length" for ch in choices):
            c.add("cap", "finish_reason length with no max_completion_tokens/max_tokens")
        self._prompt_tokens(c, prompt)

    def _prompt_tokens(self, c: _Context, prompt: int) -> None:
        """OpenAI's published counting rules (helpers._support.counting, tiktoken underneath).

        Exact for plain messages; tools, schemas and images add tokens the published rules do
        not size exactly, so there the count is a floor.
        """
        messages = c.body.get("messages")
        if not isinstance(messages, list):
            return
        model = c.response.get("body", {}) or {}
        name = model.get("model") if isinstance(model, Mapping) else None
        try:
            counted = count_messages(messages, name or "gpt-4o", strict=True)
            exact = not any(k in c.body for k in ("tools", "functions", "response_format"))
        except (ValueError, KeyError, TypeError):
            counted = count_messages(messages, name or "gpt-4o", strict=False)
            exact = False
        if exact and prompt != counted:
            c.add("prompt_tokens", f"prompt_tokens {prompt}, but the messages count {counted}")
        elif not exact and prompt < counted:
            c.add("prompt_tokens", f"prompt_tokens {prompt} below the messages' own {counted}")

    def _response(self, c: _Context, response: Mapping[str, Any]) -> None:
        usage = response.get("usage")
        if usage:
            given, output = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
            self._sums(c, "input_tokens", given, "output_tokens", output, usage)
            reasoning = (usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
            if reasoning > output:
                c.add("usage", f"reasoning_tokens {reasoning} > output_tokens {output}")
            cached = (usage.get("input_tokens_details") or {}).get("cached_tokens") or 0
            self._cached(c, cached, given)
            cap = c.body.get("max_output_tokens")
            if cap is not None and output > cap:
                c.add("cap", f"output_tokens {output} over max_output_tokens {cap}")
            reason = (response.get("incomplete_details") or {}).get("reason")
            if reason == "max_output_tokens" and cap is not None and output != cap:
                c.add("cap", f"incomplete at max_output_tokens with {output} of {cap} tokens")
        for item in response.get("output") or []:
            prefix = ITEM_PREFIXES.get(item.get("type", ""))
            if prefix and not str(item.get("id", "")).startswith(prefix):
                c.add("ids", f"{item.get('type')} item id {item.get('id')!r} lacks {prefix!r}")
            if item.get("type") == "function_call" and not str(item.get("call_id", "")).startswith(
                "call_"
            ):
                c.add("ids", f"function_call call_id {item.get('call_id')!r} lacks 'call_'")

    def _embeddings(self, c: _Context, body: Mapping[str, Any]) -> None:
        usage = body.get("usage") or {}
        prompt, total = usage.get("prompt_tokens"), usage.get("total_tokens")
        if prompt != total:
            c.add("usage", f"embeddings prompt_tokens {prompt} != total_tokens {total}")
        given = c.body.get("input")
        texts = [given] if isinstance(given, str) else given
        if isinstance(texts, list) and all(isinstance(t, str) for t in texts):
            # text-embedding-3 and ada-002 use cl100k_base (tiktoken's model map).
            counted = sum(count_tokens(t, "text-embedding-3-small") for t in texts)
            if prompt != counted:
                c.add("prompt_tokens", f"embeddings prompt_tokens {prompt}, tiktoken {counted}")
        data = body.get("data") or []
        expected = len(texts) if isinstance(texts, list) else None
        if expected is not None and len(data) != expected:
            c.add("choices", f"{len(data)} embeddings for {expected} inputs")

    @staticmethod
    def _sums(
        c: _Context, a_name: str, a: int, b_name: str, b: int, usage: Mapping[str, Any]
    ) -> None:
        # CompletionUsage.total_tokens: "Total number of tokens used in the request (prompt +
        # completion)"; ResponseUsage.total_tokens likewise (input + output).
        total = usage.get("total_tokens")
        if total != a + b:
            c.add("usage", f"{a_name} {a} + {b_name} {b} != total_tokens {total}")

    @staticmethod
    def _cached(c: _Context, cached: int, prompt: int) -> None:
        if cached > prompt:
            c.add("usage", f"cached_tokens {cached} > prompt tokens {prompt}")
        elif cached and (cached < CACHE_MIN_TOKENS or (cached - CACHE_MIN_TOKENS) % CACHE_STEP):
            c.add("usage", f"cached_tokens {cached}: Azure caches from 1,024 in steps of 128")

    def _ids(self, c: _Context, body: Mapping[str, Any]) -> None:
        obj = self._object_of(body)
        kind = obj.get("object")
        prefix = ID_PREFIXES.get(kind or "")
        ident = obj.get("id")
        # Azure's first stream chunk (prompt filter results) has an empty id and object.
        if prefix and ident and not str(ident).startswith(prefix):
            c.add("ids", f"{kind} id {ident!r} lacks {prefix!r}")
        for choice in obj.get("choices") or []:
            message = choice.get("message") or choice.get("delta") or {}
            for call in message.get("tool_calls") or []:
                if call.get("id") and not str(call["id"]).startswith("call_"):
                    c.add("ids", f"tool call id {call['id']!r} lacks 'call_'")

    def _timestamps(self, c: _Context, body: Mapping[str, Any]) -> None:
        obj = self._object_of(body)
        for field in ("created", "created_at"):
            stamp = obj.get(field)
            if not isinstance(stamp, int | float) or isinstance(stamp, bool) or stamp <= 0:
                continue
            day = dt.datetime.fromtimestamp(stamp, dt.UTC).date()
            if day > self.today:
                c.add("timestamps", f"{field} {day} is in the future")
            model = obj.get("model")
            ga = self.ga_date(model) if isinstance(model, str) and model else None
            if ga is not None and day < ga:
                c.add("timestamps", f"{field} {day} is before {model} was GA ({ga})")

    def _stream_ending(self, c: _Context) -> None:
        # Left out, a recording's stream ends the way its API does (the store's default).
        responses = _is_responses(c.request.get("path", ""))
        end = c.response.get("stream_end") or ("eof" if responses else "done")
        if end in ("cut", "reset"):
            return  # a fault on purpose
        chunks = c.response.get("stream") or []
        sends_done = end == "done" or any(ch.get("data", "").strip() == "[DONE]" for ch in chunks)
        if responses:
            if sends_done:
                c.add("stream_end", "a Responses stream never ends with data: [DONE]")
            types = [e.get("type") for e in _stream_payloads(c.response)]
            if not types or types[-1] not in RESPONSES_TERMINAL_EVENTS:
                c.add("stream_end", f"a Responses stream ends with {types[-1:] or 'nothing'}")
        elif not sends_done:
            # Chat Completions: "data: [DONE]" ends the stream (API reference, stream).
            c.add("stream_end", "a chat stream ends with data: [DONE]")

    def _batch_file(self, c: _Context) -> None:
        """Global Batch: one deployment (model) per input file (Learn, "Azure OpenAI batch")."""
        text = c.response.get("text") or None
        raw = c.request.get("body")
        body: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        content = text if text is not None else body.get("content")
        if body.get("purpose") not in (None, "batch") or not isinstance(content, str):
            return
        models = set()
        for line in content.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            body_of = item.get("body") if isinstance(item, dict) else None
            if isinstance(body_of, dict) and "custom_id" in item and "model" in body_of:
                models.add(body_of["model"])
        if len(models) > 1:
            c.add("batch", f"one batch file names {len(models)} deployments: {sorted(models)}")

    @staticmethod
    def _request_counts(c: _Context, body: Mapping[str, Any]) -> None:
        counts = body.get("request_counts") or {}
        total, done, failed = (counts.get(k, 0) for k in ("total", "completed", "failed"))
        if body.get("status") == "completed" and done + failed != total:
            c.add("batch", f"request_counts {done} completed + {failed} failed != {total} total")
        elif done + failed > total:
            c.add("batch", f"request_counts {done} + {failed} exceed the total {total}")


def shipped_recordings(root: Path) -> list[Path]:
    return sorted(
        [
            *root.glob("notebooks/recordings/*.yaml"),
            *root.glob("tests/recordings/*.yaml"),
            *root.glob("tests/live/recordings/*.yaml"),  # the SDK-level live checks'
        ]
    )


def lint_paths(paths: Iterable[Path], linter: Linter, root: Path | None = None) -> list[Finding]:
    findings: list[Finding] = []
    for path in _expand(paths):
        shown = path.relative_to(root).as_posix() if root and path.is_relative_to(root) else None
        findings.extend(linter.lint_file(path, shown))
    return findings


def _expand(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        yield from sorted(path.glob("*.yaml")) if path.is_dir() else [path]


def catalogue_ga_date(model: str) -> dt.date | None:
    """The GA date the project's model catalogue gives (None for a model it does not know)."""
    entry = catalogue().find(model)
    return entry.ga.value if entry is not None else None


def main(argv: list[str] | None = None) -> int:
    from ..config import project_root

    root = project_root()
    args = [Path(a) for a in (sys.argv[1:] if argv is None else argv)]
    findings = lint_paths(args or shipped_recordings(root), Linter(catalogue_ga_date), root)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
