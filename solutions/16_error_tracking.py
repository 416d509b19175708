"""Solution to notebook 16's exercise: a Sentry ``before_send`` hook for Azure OpenAI errors.

Expected outcomes your app answers itself (a blocked prompt, a conversation too long to send) are
dropped by Azure's error ``code``, never by status or exception class: another 400 is a bug in
the request. Every other SDK status error gets tags to search by, the request id support asks for
included; anything else passes through unchanged.
"""

from __future__ import annotations

from typing import Any

import openai

EXPECTED_CODES = {"content_filter", "context_length_exceeded"}


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    """Drop expected Azure errors; tag the rest with status, code and request id."""
    error = hint.get("exc_info", (None, None, None))[1]
    if not isinstance(error, openai.APIStatusError):
        return event
    if error.code in EXPECTED_CODES:
        return None
    tags = event.setdefault("tags", {})
    tags["azure.status"] = str(error.status_code)
    if error.code is not None:
        tags["azure.error_code"] = error.code
    request_id = error.response.headers.get("apim-request-id")
    if request_id:
        tags["azure.request_id"] = request_id
    return event
