"""Content filtering as Azure reports it, for what no recording covers.

Recordings carry Azure's own annotations (``prompt_filter_results``, per-choice
``content_filter_results``, streamed annotation chunks, a filtered output's
``finish_reason: "content_filter"``) and its 400s; they are served as recorded. For
unrecorded prompts in lenient mode, a small documented rule set
(:data:`~helpers.replay.config.DEFAULT_FILTER_RULES`, replaceable in the config file)
stands in for Azure's classifiers, so a learner who types a prompt the filter would
block sees the same 400 as on Azure: ``code: "content_filter"``, ``param: "prompt"``
and ``innererror.content_filter_result`` with every category's verdict.

The 400's body and message are Azure's (shared/docs/azure-wire-facts.md, "400 content
filter", from Azure's REST specs and public captures).

A simulated stream follows its deployment's streaming mode
(:attr:`~helpers.replay.config.Deployment.content_filter_streaming`; Learn, "Content
streaming"): by default the filter buffers the text, checks it and releases it in "content
chunks of the respective buffer size", each annotated (:func:`buffered`); with the
Asynchronous Filter the text goes out token by token and the verdicts follow in annotation
chunks, at most about 1,000 characters behind (:data:`ASYNCHRONOUS_WINDOW`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..config import ContentFilterSettings, FilterRule
from ..errors import AzureError

HARM = ("hate", "self_harm", "sexual", "violence")
PROMPT_FILTERED_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management "
    "policy. Please modify your prompt and retry. To learn more about our content filtering "
    "policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)


DEFAULT_BUFFER = 40
"""Characters the default filter holds before it releases a checked chunk: Azure does not
publish its buffer size, so this is a stand-in (whole words, at least this many characters)."""

ASYNCHRONOUS_WINDOW = 100
"""Characters the Asynchronous Filter sends before an annotation chunk reports on them: a
stand-in inside Learn's bound ("Content streaming": the filtering signal is "guaranteed within
a ~1,000-character window of the policy-violating content")."""


def buffered(pieces: Iterable[str], size: int = DEFAULT_BUFFER) -> list[str]:
    """Token-sized ``pieces`` regrouped as the default filter releases them: chunks of at
    least ``size`` characters (the last may be shorter), the text unchanged."""
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        current += piece
        if len(current) >= size:
            chunks.append(current)
            current = ""
    if current:
        chunks.append(current)
    return chunks


def prompt_texts(body: Any) -> list[str]:
    """The user-visible text of a chat or Responses request."""
    if not isinstance(body, dict):
        return []
    texts: list[str] = []

    def add(content: Any) -> None:
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])

    for message in body.get("messages") or []:
        if isinstance(message, dict):
            add(message.get("content"))
    value = body.get("input")
    if isinstance(value, str):
        texts.append(value)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                add(item.get("content"))
    return texts


def matching_rules(texts: Iterable[str], rules: Iterable[FilterRule]) -> list[FilterRule]:
    joined = "\n".join(texts)
    return [
        rule
        for rule in rules
        if any(re.search(p, joined, flags=re.IGNORECASE) for p in rule.patterns)
    ]


def filter_result(hits: list[FilterRule]) -> dict[str, Any]:
    """``content_filter_result`` with every category's verdict (Azure's shape)."""
    result: dict[str, Any] = {}
    for category in HARM:
        hit = next((r for r in hits if r.category == category), None)
        result[category] = (
            {"filtered": True, "severity": hit.severity}
            if hit
            else {"filtered": False, "severity": "safe"}
        )
    jailbreak = any(r.category == "jailbreak" for r in hits)
    result["jailbreak"] = {"filtered": jailbreak, "detected": jailbreak}
    return result


def prompt_filtered_body(content_filter_result: dict[str, Any]) -> dict[str, Any]:
    """The body of Azure's 400 for a blocked prompt, with the filter's verdicts (the curated
    recordings of notebooks 11 and 13 write it too)."""
    return {
        "error": {
            "message": PROMPT_FILTERED_MESSAGE,
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": content_filter_result,
            },
        }
    }


def prompt_filtered(hits: list[FilterRule]) -> AzureError:
    """Azure's 400 for a prompt its content filter blocked."""
    return AzureError(400, prompt_filtered_body(filter_result(hits)))


def check_prompt(body: Any, settings: ContentFilterSettings) -> None:
    """Raise Azure's 400 when an unrecorded prompt matches a rule."""
    if not settings.enabled:
        return
    hits = matching_rules(prompt_texts(body), settings.rules)
    if hits:
        raise prompt_filtered(hits)
