"""Error tracking: report Azure OpenAI failures to Sentry with the context needed to act.

Use it in a service where someone must find out *why* a call failed without
reproducing it. :func:`init_error_tracking` sets up ``sentry-sdk`` with its own
``OpenAIIntegration`` (which captures every exception the SDK's ``create``
raises) and a ``before_send`` hook that adds, from the SDK's exception:

- ``contexts.azure_openai``: HTTP status, Azure's error ``code``/``param``/``type``,
  ``innererror.code``, and the request ids support asks for: ``apim-request-id``
  (Azure API Management's id) and ``x-request-id``, plus region and deployment;
- ``contexts.content_filter``: the parsed content-filter result of a blocked
  prompt, or of an answer the filter cut when ``helpers.integration_patterns`` raised
  ``ContentFilteredError`` for it (categories and severities only, never the text);
- tags ``azure.request_id``, ``azure.error_code``, ``azure.status`` and
  ``azure.content_filter`` (``blocked`` or ``cut``) to search by.

The integration reports every exception ``create`` raises as *unhandled*
(``mechanism.handled`` is ``False``), also the ones your code catches and answers, such as
a prompt blocked by the content filter. Pass their Azure error codes in ``ignore_codes``
(for example ``{"content_filter"}``) and :func:`init_error_tracking` drops those events
in ``before_send``, so that expected 400s do not page anyone. :func:`plot_sent_events`
draws, by error code, how many errors the SDK raised and how many of them went to Sentry.

Prompt text is not sent unless you ask (``send_default_pii=True``): the
integration then records prompts and answers, and stack frames carry their local
variables (which hold the messages). By default both are off.

Offline, and in tests, events go to a :class:`MemoryTransport` instead of a
DSN: nothing leaves the process, and you can look at the exact event that
would have been sent. For production pass ``dsn=`` (Sentry's HTTP transport).
``traces_sample_rate`` stays unset (no tracing) unless you choose a rate; 1.0
traces every request and belongs in development only.
"""

from __future__ import annotations

import copy
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx2
import openai
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.openai import OpenAIIntegration
from sentry_sdk.transport import Transport

from ._support.exercises import Feedback, failed, passed
from .content_filtering import ContentFilteredError, SafetyReport, error_body, report_from_error

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "AZURE_REQUEST_ID_HEADERS",
    "ErrorTracking",
    "MemoryTransport",
    "azure_context",
    "check_before_send",
    "init_error_tracking",
    "plot_sent_events",
]

AZURE_REQUEST_ID_HEADERS = (
    "apim-request-id",
    "x-request-id",
    "x-ms-client-request-id",
    "x-ms-region",
    "x-ms-deployment-name",
)
"""Response headers Azure OpenAI sets that identify a request for Microsoft support."""


class MemoryTransport(Transport):
    """Keeps every envelope in memory; ``events`` are the error events as Sentry would get them."""

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(dict(options) if options is not None else None)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Error and message events (not transactions, sessions or client reports)."""
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == "event" and item.payload.json is not None
        ]

    def clear(self) -> None:
        self.envelopes.clear()


def azure_context(error: BaseException) -> dict[str, Any] | None:
    """What an SDK exception tells about the failed Azure call, as a Sentry context.

    ``None`` for exceptions that are not the openai SDK's.
    """
    if isinstance(error, openai.APIStatusError):
        body = error_body(error)
        inner = body.get("innererror") or body.get("inner_error") or {}
        headers = error.response.headers
        context: dict[str, Any] = {
            "status_code": error.status_code,
            "code": body.get("code"),
            "param": body.get("param"),
            "type": body.get("type"),
            "innererror_code": inner.get("code") if isinstance(inner, Mapping) else None,
            "method": error.request.method,
            "path": error.request.url.path,
        }
        for name in AZURE_REQUEST_ID_HEADERS:
            if name in headers:
                context[name.replace("-", "_")] = headers[name]
        return context
    if isinstance(error, openai.APIConnectionError):
        return {
            "status_code": None,
            "code": "timeout" if isinstance(error, openai.APITimeoutError) else "connection",
            "method": error.request.method,
            "path": error.request.url.path,
        }
    return None


def _dropping(
    ignore_codes: frozenset[str],
) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]:
    """``before_send`` that adds Azure's context and drops errors whose code is ignored."""

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        exc_info = hint.get("exc_info")
        error = exc_info[1] if exc_info else None
        if isinstance(error, openai.APIStatusError) and error.code in ignore_codes:
            return None
        return _before_send(event, hint)

    return before_send


def _before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    exc_info = hint.get("exc_info")
    error = exc_info[1] if exc_info else None
    if error is None:
        return event
    if isinstance(error, ContentFilteredError):
        # Raised by helpers.integration_patterns for a cut answer (or a blocked prompt):
        # no HTTP error.
        _add_filter_context(event, error.report)
        if isinstance(error.__cause__, openai.APIStatusError):
            error = error.__cause__
        else:
            return event
    context = azure_context(error)
    if context is None:
        return event
    contexts = event.setdefault("contexts", {})
    tags = event.setdefault("tags", {})
    contexts["azure_openai"] = context
    request_id = context.get("apim_request_id") or context.get("x_request_id")
    if request_id:
        tags["azure.request_id"] = request_id
    if context.get("code") is not None:
        tags["azure.error_code"] = str(context["code"])
    if context.get("status_code") is not None:
        tags["azure.status"] = str(context["status_code"])
    report = report_from_error(error)
    if report is not None:
        _add_filter_context(event, report)
    return event


def _add_filter_context(event: dict[str, Any], report: SafetyReport) -> None:
    """Categories and severities only: a report never holds the text it judged."""
    prompt = report.prompt_results()
    context: dict[str, Any] = {
        "prompt_blocked": report.prompt_blocked,
        "filtered_categories": prompt.filtered_categories,
        "detected": prompt.detected,
        "severities": prompt.severities(),
    }
    if report.completions:
        context["output_filtered"] = report.output_filtered
        context["choices"] = {
            str(index): {
                "finish_reason": report.finish_reasons.get(index),
                "filtered_categories": results.filtered_categories,
                "severities": results.severities(),
            }
            for index, results in sorted(report.completions.items())
        }
    event.setdefault("contexts", {})["content_filter"] = context
    event.setdefault("tags", {})["azure.content_filter"] = (
        "blocked" if report.prompt_blocked else ("cut" if report.output_filtered else "annotated")
    )


@dataclass
class ErrorTracking:
    """A running Sentry client; ``transport`` is the in-memory one when no DSN was given."""

    client: sentry_sdk.Client
    transport: MemoryTransport | None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def events(self) -> list[dict[str, Any]]:
        if self.transport is None:
            raise RuntimeError("events are only kept in memory when no dsn is configured")
        return self.transport.events

    def close(self) -> None:
        """Flush and stop the client; the SDK's calls are no longer watched afterwards."""
        self.client.close()
        sentry_sdk.get_global_scope().set_client(None)


def init_error_tracking(
    *,
    dsn: str | None = None,
    send_default_pii: bool = False,
    environment: str = "development",
    release: str | None = None,
    traces_sample_rate: float | None = None,
    server_name: str | None = None,
    ignore_codes: Iterable[str] = (),
) -> ErrorTracking:
    """Start Sentry with the OpenAI integration and Azure context on every SDK error.

    Without ``dsn`` events stay in memory (``ErrorTracking.events``); nothing is sent.
    Errors whose Azure ``code`` is in ``ignore_codes`` (e.g. ``"content_filter"``, a 400
    your code answers) are not sent at all.
    """
    if traces_sample_rate is not None and not 0.0 <= traces_sample_rate <= 1.0:
        raise ValueError(f"traces_sample_rate must be between 0 and 1, got {traces_sample_rate}")
    transport = MemoryTransport() if dsn is None else None
    options: dict[str, Any] = {
        "dsn": dsn,
        "transport": transport,
        "environment": environment,
        "release": release,
        # What may leave the process. Stack frames' local variables hold the messages, so
        # they count as prompt text. (sentry-sdk 2.x moves from send_default_pii to
        # data_collection; OpenAIIntegration still reads send_default_pii, so when prompts
        # are allowed it is set as well, below.)
        # (With no data_collection, sentry-sdk's own default include_local_variables=True
        # would send every frame's locals: set it to False if you configure Sentry by hand.)
        "data_collection": {
            "user_info": send_default_pii,
            "stack_frame_variables": send_default_pii,
            "gen_ai": {"inputs": send_default_pii, "outputs": send_default_pii},
            "http_bodies": [],
        },
        "traces_sample_rate": traces_sample_rate,
        "before_send": _dropping(frozenset(ignore_codes)),
        "integrations": [OpenAIIntegration(include_prompts=send_default_pii)],
        "default_integrations": True,
    }
    if server_name is not None:
        options["server_name"] = server_name
    with warnings.catch_warnings():
        if send_default_pii:
            options["send_default_pii"] = True
            warnings.filterwarnings("ignore", r".*send_default_pii.*deprecated", DeprecationWarning)
        sentry_sdk.init(**options)
    return ErrorTracking(client=sentry_sdk.get_client(), transport=transport, options=options)  # type: ignore[arg-type]


# --- plot ---------------------------------------------------------------------------------------


def plot_sent_events(
    raised: Iterable[str | None], sent: Iterable[str | None], ax: Axes | None = None
) -> Axes:
    """Errors by Azure error code: how many the SDK raised, and how many went to Sentry.

    ``raised`` and ``sent`` hold one code per error (``azure_context(error)["code"]`` for what
    your code caught, ``event["contexts"]["azure_openai"]["code"]`` for the events); ``None``
    is drawn as ``(no code)``. Codes are ordered by how often they were raised, most at the top;
    a code raised but never sent is labelled as dropped in ``before_send`` (the helper's
    ``ignore_codes``, or your own hook).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    raised_counts = Counter("(no code)" if code is None else code for code in raised)
    sent_counts = Counter("(no code)" if code is None else code for code in sent)
    if not raised_counts:
        raise ValueError("no raised errors to plot")
    unknown = sorted(set(sent_counts) - set(raised_counts))
    if unknown:
        raise ValueError(f"events sent for codes that were never raised: {unknown}")
    codes = sorted(raised_counts, key=lambda code: (-raised_counts[code], code))
    ax = ax or plt.subplots(figsize=(8, 0.6 * len(codes) + 1.2))[1]
    rows = range(len(codes))
    height = 0.38
    for offset, counts, label, colour in (
        (-height / 2, raised_counts, "raised by the SDK (caught by your code)", "#9e9e9e"),
        (height / 2, sent_counts, "sent to Sentry", "#c44e52"),
    ):
        bars = ax.barh(
            [row + offset for row in rows],
            [counts[code] for code in codes],
            height=height,
            label=label,
            color=colour,
        )
        sent_series = counts is sent_counts
        ax.bar_label(
            bars,
            [
                "0 (dropped in before_send)"
                if sent_series and not counts[code]
                else str(counts[code])
                for code in codes
            ],
            padding=2,
        )
    ax.set_yticks(list(rows), codes)
    ax.invert_yaxis()  # the most frequent code on top
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no half errors
    ax.set_xlabel("errors")
    ax.margins(x=0.08)  # room for the count after the longest bar
    total_sent = sum(sent_counts.values())
    ax.set_title(f"{raised_counts.total()} errors raised, {total_sent} sent to Sentry")
    ax.legend(loc="lower right")
    return ax


# --- exercise -------------------------------------------------------------------------------

EXERCISE_EXPECTED_CODES = frozenset({"content_filter", "context_length_exceeded"})
"""The Azure error codes the exercise's app answers itself (a polite refusal, a trimmed chat)."""


def _status_error(status: int, body: dict[str, Any], request_id: str) -> openai.APIStatusError:
    url = "https://contoso.openai.azure.com/openai/deployments/gpt-5.4-mini/chat/completions"
    request = httpx2.Request("POST", url)
    headers = {"apim-request-id": request_id, "x-ms-region": "Sweden Central"}
    response = httpx2.Response(status, headers=headers, json={"error": body}, request=request)
    kinds: dict[int, type[openai.APIStatusError]] = {
        400: openai.BadRequestError, 404: openai.NotFoundError, 429: openai.RateLimitError,
    }  # fmt: skip
    return kinds[status](f"Error code: {status} - {body}", response=response, body=body)


_FILTERED = {"code": "content_filter", "message": "The response was filtered.", "param": "prompt"}
_TOO_LONG = {"code": "context_length_exceeded", "message": "This model's maximum context length "
             "was exceeded.", "param": "messages", "type": "invalid_request_error"}  # fmt: skip
_UNSUPPORTED = {"code": "unsupported_parameter", "message": "Unsupported parameter: 'max_tokens' "
                "is not supported with this model.", "param": "max_tokens"}  # fmt: skip
_NOT_FOUND = {"code": "DeploymentNotFound", "message": "The API deployment for this resource "
              "does not exist."}  # fmt: skip
_THROTTLED = {"code": "429", "message": "Requests to the ChatCompletions_Create Operation have "
              "exceeded the call rate limit."}  # fmt: skip

_SEND_CASES: list[tuple[str, BaseException | None, dict[str, str] | None]] = [
    # (case, the exception in the hint (None: a message event), the tags to add or None: drop)
    ("a content_filter 400", _status_error(400, _FILTERED, "a1f0c3d2"), None),
    ("a context_length_exceeded 400", _status_error(400, _TOO_LONG, "b2e1d4c3"), None),
    (
        "an unsupported_parameter 400",
        _status_error(400, _UNSUPPORTED, "c3d2e5b4"),
        {"azure.status": "400", "azure.error_code": "unsupported_parameter",
         "azure.request_id": "c3d2e5b4"},
    ),
    (
        "a DeploymentNotFound 404",
        _status_error(404, _NOT_FOUND, "d4c3f6a5"),
        {"azure.status": "404", "azure.error_code": "DeploymentNotFound",
         "azure.request_id": "d4c3f6a5"},
    ),
    (
        "a 429 the SDK gave up retrying",
        _status_error(429, _THROTTLED, "e5b4a7f6"),
        {"azure.status": "429", "azure.error_code": "429", "azure.request_id": "e5b4a7f6"},
    ),
    ("a ValueError from your own code", ValueError("no city given"), {}),
    ("a message event (no exception)", None, {}),
]  # fmt: skip


def check_before_send(
    function: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None],
) -> Feedback:
    """Exercise: ``function(event, hint)`` is a Sentry ``before_send`` hook that drops the
    expected Azure errors (codes in :data:`EXERCISE_EXPECTED_CODES`) and tags every other SDK
    status error with ``azure.status``, ``azure.error_code`` and ``azure.request_id`` (the
    ``apim-request-id`` header), keeping the event's own tags and leaving other events alone.

    The feedback names the case and what the hook did wrong with it.
    """
    name = "before_send"
    for case, error, added in _SEND_CASES:
        event: dict[str, Any] = {"level": "error", "tags": {"team": "support"}}
        hint: dict[str, Any] = {}
        if error is not None:
            hint["exc_info"] = (type(error), error, None)
        try:
            got = function(copy.deepcopy(event), hint)
        except NotImplementedError:
            return failed(name, "still a stub: replace `raise NotImplementedError` with your code.")
        except Exception as exc:
            return failed(name, f"for {case}, your hook raised {type(exc).__name__}: {exc}.")
        if added is None:
            if got is not None:
                return failed(
                    name,
                    f"{case} is an expected outcome your app answers: return None to drop it "
                    "(compare `error.code` with the expected codes).",
                )
            continue
        if got is None:
            why = (
                "is a bug in the request, not an expected outcome (drop by `error.code`, not "
                "by status or exception class)"
                if isinstance(error, openai.APIStatusError)
                else "is not an Azure error: return the event unchanged"
            )
            return failed(name, f"{case} was dropped, but it {why}.")
        if not isinstance(got, dict):
            return failed(name, f"for {case}, return the event (a dict) or None; got {got!r}.")
        tags = got.get("tags")
        if not isinstance(tags, dict) or tags.get("team") != "support":
            return failed(
                name, f"for {case}, the event's own tags were lost: add to event['tags']."
            )
        want = {"team": "support", **added}
        if tags != want:
            wrong = [
                f"{key} is {tags.get(key)!r}, expected {value!r}"
                for key, value in want.items()
                if tags.get(key) != value
            ] + [f"{key} should not be set" for key in tags if key not in want]
            hints = []
            if any(not isinstance(value, str) for value in tags.values()):
                hints.append("Sentry tags are strings")
            if added and tags.get("azure.request_id") != added["azure.request_id"]:
                hints.append("the request id is the response's apim-request-id header")
            hint_text = f" ({'; '.join(hints)})" if hints else ""
            return failed(name, f"for {case}, {'; '.join(wrong)}{hint_text}.")
    return passed(name, f"all {len(_SEND_CASES)} events dropped or tagged as they should be.")
