"""Solution to notebook 5's exercise: a retry decision that honours Azure's retry-after-ms."""

import openai

DEFAULT_WAIT_SECONDS = 1.0


def retry_wait(error: BaseException) -> float | None:
    """Seconds to wait before retrying ``error``, or None when retrying cannot help."""
    if isinstance(error, openai.APIConnectionError):  # timeouts included
        return DEFAULT_WAIT_SECONDS
    if not isinstance(error, openai.APIStatusError):
        return None
    if error.status_code not in (408, 429) and error.status_code < 500:
        return None
    headers = error.response.headers
    if "retry-after-ms" in headers:
        return float(headers["retry-after-ms"]) / 1000
    if "retry-after" in headers:
        return float(headers["retry-after"])
    return DEFAULT_WAIT_SECONDS
