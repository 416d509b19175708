"""Content filtering: read what Azure's filter decided, in every shape it reports it.

Azure OpenAI has no ``/moderations`` endpoint (it answers 404). Every
deployment runs a content filter on the way in and on the way out, and says
what it found in four places, all parsed here into one typed
:class:`SafetyReport`:

- a prompt it blocks: HTTP 400 with ``code: "content_filter"`` and
  ``innererror.content_filter_result`` (singular, as the live service spells
  it and Learn's *Use blocklists* shows it; Microsoft's sample on *Content filter
  annotations* reads ``content_filter_results`` and the 2024-10-01-preview spec
  writes ``inner_error.content_filter_results``; all are read) -> :func:`report_from_error`;
- a prompt it lets through: ``prompt_filter_results`` on the completion;
- an answer: ``choices[].content_filter_results`` and, when it cut the answer,
  ``finish_reason: "content_filter"`` -> :func:`report_from_completion`;
- a stream: the annotations arrive in their own chunks (the first chunk has no
  choices, only ``prompt_filter_results``) -> :func:`report_from_chunks` or
  :class:`StreamFilterAccumulator` while you stream.

The SDK keeps Azure's fields in ``model_extra``; this module reads them there.

    try:
        completion = client.chat.completions.create(...)
    except openai.BadRequestError as error:
        report = report_from_error(error)   # None unless it was the content filter
    else:
        report = report_from_completion(completion)
    if report.filtered: ...

:class:`Blocklist` checks text on the client against a term list. It is only
a supplement: blocklists belong on the service (Azure AI Foundry, "Blocklists"),
where they apply to every client, on prompts or on answers as you attach them
(Learn, *Use blocklists*: ``promptBlocklists``, ``completionBlocklists``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam
from openai.types.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._support.errors import CookbookError, InvariantError
from ._support.exercises import Feedback, attempt, failed, passed

__all__ = [
    "SEVERITY_CATEGORIES",
    "BlockedByBlocklistError",
    "Blocklist",
    "BlocklistMatch",
    "ContentFilterResults",
    "ContentFilteredError",
    "DetectionResult",
    "PromptFilterResult",
    "SafetyReport",
    "SeverityResult",
    "StreamFilterAccumulator",
    "check_blocked_categories",
    "error_body",
    "is_content_filter_error",
    "raise_if_filtered",
    "report_from_chunks",
    "report_from_completion",
    "report_from_error",
]

Severity = str
"""``safe``, ``low``, ``medium`` or ``high`` (the spec's enum); kept as text so a new level
the service adds one day is reported, not rejected."""
SEVERITY_ORDER: dict[str, int] = {"safe": 0, "low": 1, "medium": 2, "high": 3}
SEVERITY_CATEGORIES = ("hate", "self_harm", "sexual", "violence")
DETECTION_CATEGORIES = (
    "jailbreak",
    "indirect_attack",
    "protected_material_text",
    "protected_material_code",
    "profanity",
)


class SeverityResult(BaseModel):
    """A harm category: was it filtered, and how severe did the classifier find it."""

    model_config = ConfigDict(extra="allow")

    filtered: bool
    severity: Severity = "safe"


class DetectionResult(BaseModel):
    """A yes/no detector (jailbreak, indirect attack, protected material, profanity)."""

    model_config = ConfigDict(extra="allow")

    filtered: bool
    detected: bool = False
    citation: dict[str, Any] | None = None
    """``protected_material_code`` only: ``{"URL": ..., "license": ...}`` of the matched source."""


class BlocklistResult(BaseModel):
    """Azure's custom blocklists (configured on the service): which ones matched."""

    model_config = ConfigDict(extra="allow")

    filtered: bool
    details: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _older_list_shape(cls, data: Any) -> Any:
        # Older api-versions send a bare list of {"id", "filtered"}.
        if isinstance(data, list):
            return {"filtered": any(d.get("filtered") for d in data), "details": data}
        return data


class FilterError(BaseModel):
    """The filter could not run (e.g. it timed out); the content was *not* checked."""

    model_config = ConfigDict(extra="allow")

    code: str | int | None = None
    message: str | None = None


class ContentFilterResults(BaseModel):
    """One set of annotations: for a prompt, an answer, or a streamed segment of one."""

    model_config = ConfigDict(extra="allow")

    hate: SeverityResult | None = None
    self_harm: SeverityResult | None = None
    sexual: SeverityResult | None = None
    violence: SeverityResult | None = None
    jailbreak: DetectionResult | None = None
    indirect_attack: DetectionResult | None = None
    protected_material_text: DetectionResult | None = None
    protected_material_code: DetectionResult | None = None
    profanity: DetectionResult | None = None
    custom_blocklists: BlocklistResult | None = None
    error: FilterError | None = None

    @model_validator(mode="before")
    @classmethod
    def _hyphenated_names(cls, data: Any) -> Any:
        # Some of Azure's documented samples write "self-harm"; the API sends "self_harm".
        if isinstance(data, Mapping):
            return {str(k).replace("-", "_"): v for k, v in data.items()}
        return data

    @property
    def filtered(self) -> bool:
        """Whether any category or detector made the service filter the content."""
        return bool(self.filtered_categories)

    @property
    def filtered_categories(self) -> list[str]:
        """The names of the categories that were filtered, in a stable order."""
        names = [*SEVERITY_CATEGORIES, *DETECTION_CATEGORIES, "custom_blocklists"]
        return [n for n in names if (r := getattr(self, n)) is not None and r.filtered]

    @property
    def detected(self) -> list[str]:
        """Detectors that fired (even when the configuration only annotates, not filters)."""
        return [n for n in DETECTION_CATEGORIES if (r := getattr(self, n)) and r.detected]

    def severities(self) -> dict[str, Severity]:
        """Severity per harm category present, e.g. ``{"violence": "medium", ...}``."""
        return {n: r.severity for n in SEVERITY_CATEGORIES if (r := getattr(self, n)) is not None}

    def merge(self, other: ContentFilterResults) -> ContentFilterResults:
        """The worse of two annotations per category (streams annotate segment by segment)."""
        merged: dict[str, Any] = {}
        for name in ContentFilterResults.model_fields:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is None or theirs is None:
                merged[name] = mine if theirs is None else theirs
            elif isinstance(mine, SeverityResult):
                worse = max(mine, theirs, key=lambda r: SEVERITY_ORDER.get(r.severity, 0))
                merged[name] = SeverityResult(
                    filtered=mine.filtered or theirs.filtered, severity=worse.severity
                )
            elif isinstance(mine, DetectionResult):
                merged[name] = DetectionResult(
                    filtered=mine.filtered or theirs.filtered,
                    detected=mine.detected or theirs.detected,
                    citation=mine.citation or theirs.citation,
                )
            elif isinstance(mine, BlocklistResult):
                merged[name] = BlocklistResult(
                    filtered=mine.filtered or theirs.filtered, details=mine.details + theirs.details
                )
            else:
                merged[name] = theirs
        return ContentFilterResults.model_validate(merged)

    def summary(self) -> str:
        """One line a person can read: ``violence=medium (filtered), jailbreak detected``."""
        parts = []
        for name, severity in self.severities().items():
            if severity != "safe" or name in self.filtered_categories:
                mark = " (filtered)" if name in self.filtered_categories else ""
                parts.append(f"{name}={severity}{mark}")
        for name in self.detected:
            parts.append(
                f"{name} detected" + (" (filtered)" if getattr(self, name).filtered else "")
            )
        if self.custom_blocklists is not None and self.custom_blocklists.filtered:
            ids = ", ".join(str(d.get("id")) for d in self.custom_blocklists.details)
            parts.append(f"custom blocklist ({ids}) (filtered)")
        if self.error is not None:
            parts.append(f"filter error {self.error.code}: {self.error.message}")
        if parts:
            return ", ".join(parts)
        given = any(getattr(self, name) is not None for name in ContentFilterResults.model_fields)
        return "all safe" if given else "no details given"


class PromptFilterResult(BaseModel):
    """Annotations for one prompt (``prompt_index`` counts prompts, not messages)."""

    model_config = ConfigDict(extra="allow")

    prompt_index: int = 0
    content_filter_results: ContentFilterResults = Field(default_factory=ContentFilterResults)


class SafetyReport(BaseModel):
    """Everything the content filter said about one request and its answer."""

    prompt: list[PromptFilterResult] = Field(default_factory=list)
    completions: dict[int, ContentFilterResults] = Field(default_factory=dict)
    """Per choice index; for a stream, the worst annotation over all its segments."""
    finish_reasons: dict[int, str | None] = Field(default_factory=dict)
    prompt_blocked: bool = False
    """The service refused the prompt (HTTP 400, ``code: "content_filter"``): no answer at all."""
    error_message: str | None = None
    """Azure's message when the prompt was blocked."""

    @property
    def output_filtered(self) -> bool:
        """An answer was cut: ``finish_reason == "content_filter"`` on some choice."""
        return any(reason == "content_filter" for reason in self.finish_reasons.values())

    @property
    def filtered(self) -> bool:
        """The prompt was blocked or an answer was cut."""
        return self.prompt_blocked or self.output_filtered

    def prompt_results(self) -> ContentFilterResults:
        """All prompt annotations merged into one (the worst per category)."""
        merged = ContentFilterResults()
        for item in self.prompt:
            merged = merged.merge(item.content_filter_results)
        return merged

    def describe(self) -> str:
        """A short human-readable account, for logs and notebooks."""
        if self.prompt_blocked:
            return f"prompt blocked: {self.prompt_results().summary()}"
        lines = [f"prompt: {self.prompt_results().summary()}"] if self.prompt else []
        for index, results in sorted(self.completions.items()):
            cut = (
                " -> answer cut (content_filter)"
                if self.finish_reasons.get(index) == ("content_filter")
                else ""
            )
            lines.append(f"choice {index}: {results.summary()}{cut}")
        return "; ".join(lines) or "no content-filter annotations"


class ContentFilteredError(InvariantError):
    """Azure's content filter blocked the prompt or cut the answer; ``report`` says why.

    ``response`` is the answer the filter cut (``None`` for a blocked prompt: there was no
    answer); ``categories`` names the filters that fired. Section 19's response checks
    raise it too.
    """

    def __init__(
        self, report: SafetyReport, *, response: ChatCompletion | Response | None = None
    ) -> None:
        super().__init__(
            f"Azure's content filter intervened: {report.describe()}", response=response
        )
        self.report = report

    @property
    def categories(self) -> list[str]:
        """The filters that fired on the prompt or an answer, sorted: ``["violence"]``."""
        results = [self.report.prompt_results(), *self.report.completions.values()]
        return sorted({name for r in results for name in r.filtered_categories})


def _extra(model: Any, name: str) -> Any:
    extra = getattr(model, "model_extra", None) or {}
    return extra.get(name)


def _prompt_results(raw: Any) -> list[PromptFilterResult]:
    return [PromptFilterResult.model_validate(item) for item in raw or []]


def report_from_completion(completion: ChatCompletion) -> SafetyReport:
    """The annotations of a (non-streamed) chat completion; ``parse`` results work too."""
    if not isinstance(completion, ChatCompletion):
        raise TypeError(
            f"report_from_completion() takes a ChatCompletion, got {type(completion).__name__}; "
            "for a stream use report_from_chunks(), for an error report_from_error()."
        )
    report = SafetyReport(prompt=_prompt_results(_extra(completion, "prompt_filter_results")))
    for choice in completion.choices:
        raw = _extra(choice, "content_filter_results")
        report.completions[choice.index] = ContentFilterResults.model_validate(raw or {})
        report.finish_reasons[choice.index] = choice.finish_reason
    return report


def report_from_response(response: Response) -> SafetyReport:
    """What the filter said about a Responses API answer.

    A filtered output ends the response as ``incomplete`` with
    ``incomplete_details.reason == "content_filter"`` (recorded here as the finish reason
    of output 0, so :attr:`SafetyReport.output_filtered` reads the same on both APIs); a
    blocked prompt is the same 400 as on chat completions (:func:`report_from_error`).
    """
    if not isinstance(response, Response):
        raise TypeError(f"report_from_response() takes a Response, got {type(response).__name__}")
    report = SafetyReport(prompt=_prompt_results(_extra(response, "prompt_filter_results")))
    reason = response.incomplete_details.reason if response.incomplete_details else None
    report.finish_reasons[0] = "content_filter" if reason == "content_filter" else reason
    return report


class StreamFilterAccumulator:
    """Collects the annotations of a stream chunk by chunk: ``add(chunk)``, then ``report``."""

    def __init__(self) -> None:
        self.report = SafetyReport()

    def add(self, chunk: ChatCompletionChunk) -> ChatCompletionChunk:
        """Read one chunk's annotations and finish reasons; returns the chunk unchanged."""
        self.report.prompt.extend(_prompt_results(_extra(chunk, "prompt_filter_results")))
        for choice in chunk.choices:
            raw = _extra(choice, "content_filter_results")
            if raw:
                seen = self.report.completions.get(choice.index, ContentFilterResults())
                parsed = ContentFilterResults.model_validate(raw)
                self.report.completions[choice.index] = seen.merge(parsed)
            if choice.finish_reason is not None or choice.index not in self.report.finish_reasons:
                self.report.finish_reasons[choice.index] = choice.finish_reason
        return chunk


def report_from_chunks(chunks: Iterable[ChatCompletionChunk]) -> SafetyReport:
    """The annotations of a whole stream (consumes ``chunks``)."""
    accumulator = StreamFilterAccumulator()
    for chunk in chunks:
        accumulator.add(chunk)
    return accumulator.report


def error_body(error: openai.APIStatusError) -> dict[str, Any]:
    """Azure's ``error`` object from an SDK error (the SDK may or may not have unwrapped it)."""
    body = error.body
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        body = body["error"]
    return dict(body) if isinstance(body, Mapping) else {}


def is_content_filter_error(error: BaseException) -> bool:
    """Whether ``error`` is Azure's 400 for a prompt the content filter blocked."""
    return (
        isinstance(error, openai.BadRequestError)
        and error_body(error).get("code") == "content_filter"
    )


def report_from_error(error: BaseException) -> SafetyReport | None:
    """The report for a blocked prompt, from the SDK's ``BadRequestError``; ``None`` otherwise.

    Reads ``innererror.content_filter_result`` (the live service) and
    ``inner_error.content_filter_results`` (the REST spec's spelling).
    """
    if not isinstance(error, openai.BadRequestError) or not is_content_filter_error(error):
        return None
    body = error_body(error)
    inner = body.get("innererror") or body.get("inner_error") or {}
    raw = inner.get("content_filter_result") or inner.get("content_filter_results") or {}
    results = ContentFilterResults.model_validate(raw)
    return SafetyReport(
        prompt=[PromptFilterResult(prompt_index=0, content_filter_results=results)],
        prompt_blocked=True,
        error_message=body.get("message"),
    )


def raise_if_filtered(completion: ChatCompletion | Response) -> SafetyReport:
    """The answer's report, or :class:`ContentFilteredError` when the answer was cut."""
    report = (
        report_from_response(completion)
        if isinstance(completion, Response)
        else report_from_completion(completion)
    )
    if report.filtered:
        raise ContentFilteredError(report, response=completion)
    return report


# -- the client-side supplement ---------------------------------------------------------------


class BlocklistMatch(BaseModel):
    """A blocked term found in a message."""

    term: str
    message_index: int
    start: int
    end: int


class BlockedByBlocklistError(CookbookError, ValueError):
    """A message contains a term of the client-side blocklist; the request was not sent."""

    def __init__(self, matches: list[BlocklistMatch]) -> None:
        terms = ", ".join(sorted({m.term for m in matches}))
        super().__init__(f"blocked by the client-side blocklist before sending: {terms}")
        self.matches = matches


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


class Blocklist:
    """Whole-word, case- and width-insensitive term matching on the client.

    A supplement only: Azure's own blocklists (configured on the deployment's
    content filter) also check the model's output and every other client.
    Matching works on NFKC-normalized, case-folded text, so offsets refer to that form.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms = sorted({_fold(t).strip() for t in terms if t.strip()})
        if not self.terms:
            raise ValueError("a Blocklist needs at least one non-empty term")
        alternatives = "|".join(re.escape(t) for t in sorted(self.terms, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    def find(self, text: str, *, message_index: int = 0) -> list[BlocklistMatch]:
        """Every blocked term in ``text``."""
        return [
            BlocklistMatch(
                term=m.group(0), message_index=message_index, start=m.start(), end=m.end()
            )
            for m in self._pattern.finditer(_fold(text))
        ]

    def check_messages(
        self, messages: Iterable[ChatCompletionMessageParam]
    ) -> list[BlocklistMatch]:
        """Blocked terms in the text of chat messages (string content and text parts)."""
        found: list[BlocklistMatch] = []
        for index, message in enumerate(messages):
            content = message.get("content")
            texts = [content] if isinstance(content, str) else [
                part.get("text", "") for part in content or [] if isinstance(part, Mapping)
            ]  # fmt: skip
            for text in texts:
                if isinstance(text, str):
                    found.extend(self.find(text, message_index=index))
        return found

    def screen(self, messages: Iterable[ChatCompletionMessageParam]) -> None:
        """Raise :class:`BlockedByBlocklistError` if any message contains a blocked term."""
        matches = self.check_messages(messages)
        if matches:
            raise BlockedByBlocklistError(matches)


# --- exercise -------------------------------------------------------------------------------

_BLOCKED_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "a violent prompt",
        {
            "code": "content_filter",
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "hate": {"filtered": False, "severity": "safe"},
                    "self_harm": {"filtered": False, "severity": "safe"},
                    "sexual": {"filtered": False, "severity": "safe"},
                    "violence": {"filtered": True, "severity": "high"},
                },
            },
        },
        ["violence"],
    ),
    (
        "a jailbreak with low-severity hate",
        {
            "code": "content_filter",
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "hate": {"filtered": False, "severity": "low"},
                    "self_harm": {"filtered": True, "severity": "medium"},
                    "jailbreak": {"filtered": True, "detected": True},
                },
            },
        },
        ["jailbreak", "self_harm"],
    ),
    (
        "a blocklist hit, spelled content_filter_results",
        {
            "code": "content_filter",
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_results": {
                    "violence": {"filtered": False, "severity": "safe"},
                    "custom_blocklists": {
                        "filtered": True,
                        "details": [{"filtered": True, "id": "contoso-codenames"}],
                    },
                },
            },
        },
        ["custom_blocklists"],
    ),
    (
        "a 400 that is not the content filter",
        {"code": "unsupported_parameter", "message": "Unsupported parameter: 'max_tokens'"},
        [],
    ),
]


def check_blocked_categories(function: Callable[[dict[str, Any]], list[str]]) -> Feedback:
    """Exercise: ``function(body)`` names what blocked a prompt, from a 400's error body.

    ``body`` is ``err.body`` of an ``openai.BadRequestError``. The answer is the sorted names of
    the categories and detectors whose verdict says ``"filtered": true`` (under
    ``innererror.content_filter_result``, or ``content_filter_results`` as some samples spell
    it), and ``[]`` for a 400 that is not the content filter. The feedback names the first case
    that fails, what came back, and what is missing or extra and why.
    """
    name = "blocked categories"
    for case, body, expected in _BLOCKED_CASES:
        got = attempt(name, function, body)
        if isinstance(got, Feedback):
            return got
        if got == expected:
            continue
        if not isinstance(got, list) or not all(isinstance(item, str) for item in got):
            return failed(name, f"for {case}, return a list of names; got {got!r}.")
        hints: list[str] = []
        inner = body.get("innererror", {})
        verdict = inner.get("content_filter_result") or inner.get("content_filter_results") or {}
        for extra in sorted(set(got) - set(expected)):
            if extra in verdict:
                hints.append(f"{extra!r} is {verdict[extra]}: not filtered, so it did not block")
            else:
                hints.append(f"{extra!r} is not in this verdict")
        for missing in sorted(set(expected) - set(got)):
            hints.append(f"{missing!r} is missing: its verdict is {verdict[missing]}")
        if not hints:
            hints.append("the right names, but sort them")
        if not expected:
            hints.append('its code is not "content_filter"')
        return failed(
            name, f"for {case}, you returned {got!r}, expected {expected!r}: {'; '.join(hints)}."
        )
    return passed(name, f"all {len(_BLOCKED_CASES)} error bodies read correctly.")
