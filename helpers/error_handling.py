"""Error handling: what went wrong, whether to retry, and how long to wait.

Use :func:`classify` to turn any exception the ``openai`` SDK raises into a
:class:`Failure` (a typed record with ``kind``, ``retryable`` and ``delay``),
and :class:`RetryPolicy` to retry a call the way Azure asks you to:

    policy = RetryPolicy(deadline=60)
    client = AzureOpenAI(..., max_retries=0)      # one retry layer, not two
    completion = policy.call(client.chat.completions.create, model=..., messages=...)

What is retried: 429 (rate limited), 408, 409, 5xx, connection errors and
client timeouts. What is not: 400 (including a prompt blocked by the content
filter), 401, 403, 404 and 422, which fail the same way every time. The wait
is the server's own ``retry-after-ms`` (else ``retry-after``) when it sends
one, otherwise exponential backoff with jitter (seedable); the policy gives up
after ``max_attempts`` or when the next wait would pass the ``deadline``, and
re-raises the SDK's last exception.

The SDK retries too (``max_retries``, 2 by default; it also prefers
``retry-after-ms``). This policy adds what it lacks: a deadline for the whole
operation, a seedable jitter, a hook to log or count each retry, and the
classification reused by the batch processor.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import httpx2
import openai
import pydantic
import tenacity

from ._support.exercises import Feedback, attempt, failed, passed

__all__ = [
    "DEFAULT_WAIT_SECONDS",
    "ErrorKind",
    "Failure",
    "RetryPolicy",
    "check_retry_wait",
    "classify",
    "retry_after_seconds",
]

T = TypeVar("T")


class ErrorKind(StrEnum):
    """What kind of failure an exception is; one value per way to react."""

    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    CONTENT_FILTERED = "content_filtered"
    BAD_REQUEST = "bad_request"
    AUTHENTICATION = "authentication"
    PERMISSION_DENIED = "permission_denied"
    DEPLOYMENT_NOT_FOUND = "deployment_not_found"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    UNPROCESSABLE = "unprocessable"
    REQUEST_TIMEOUT = "request_timeout"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    UNEXPECTED = "unexpected"


RETRYABLE_KINDS = frozenset(
    {
        ErrorKind.RATE_LIMITED,
        ErrorKind.CONFLICT,
        ErrorKind.REQUEST_TIMEOUT,
        ErrorKind.SERVER_ERROR,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
    }
)


class Failure(pydantic.BaseModel):
    """One failed request, as data: safe to log, count, store or return."""

    kind: ErrorKind
    retryable: bool
    delay: float | None = None
    """Seconds the server asked to wait (``retry-after-ms`` / ``retry-after``), if it did."""
    status: int | None = None
    code: str | None = None
    """The error's ``code``: ``"429"``, ``"DeploymentNotFound"``, ``"content_filter"``…"""
    param: str | None = None
    message: str
    request_id: str | None = None
    exception: str
    """The SDK exception's class name, e.g. ``RateLimitError``."""
    inner_code: str | None = None
    """Azure's ``innererror.code``, e.g. ``ResponsibleAIPolicyViolation``."""
    content_filter: dict[str, Any] | None = None
    """Azure's ``innererror.content_filter_result``: the verdict per category."""

    @property
    def filtered_categories(self) -> list[str]:
        """The content-filter categories that blocked the prompt (``hate``, ``jailbreak``…)."""
        return sorted(
            name
            for name, verdict in (self.content_filter or {}).items()
            if isinstance(verdict, Mapping) and verdict.get("filtered")
        )

    def __str__(self) -> str:
        where = f" {self.status}" if self.status is not None else ""
        code = f" [{self.code}]" if self.code else ""
        retry = "retryable" if self.retryable else "not retryable"
        return f"{self.kind.value}{where}{code} ({retry}): {self.message}"


def retry_after_seconds(
    headers: Mapping[str, str] | None, *, now: Callable[[], float] = time.time
) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, else ``retry-after`` (seconds or date)."""
    if not headers:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if seconds >= 0 and seconds != float("inf"):
            return seconds
    value = headers.get("retry-after")
    if value:
        parsed = email.utils.parsedate_tz(value)
        if parsed is not None:
            return max(0.0, email.utils.mktime_tz(parsed) - now())
    return None


def _status_kind(error: openai.APIStatusError, code: str | None) -> ErrorKind:
    status = error.status_code
    if status == 400:
        return ErrorKind.CONTENT_FILTERED if code == "content_filter" else ErrorKind.BAD_REQUEST
    if status == 401:
        return ErrorKind.AUTHENTICATION
    if status == 403:
        return ErrorKind.PERMISSION_DENIED
    if status == 404:
        return (
            ErrorKind.DEPLOYMENT_NOT_FOUND if code == "DeploymentNotFound" else ErrorKind.NOT_FOUND
        )
    if status == 408:
        return ErrorKind.REQUEST_TIMEOUT
    if status == 409:
        return ErrorKind.CONFLICT
    if status == 422:
        return ErrorKind.UNPROCESSABLE
    if status == 429:
        # OpenAI's "insufficient_quota" is a billing limit: waiting does not help.
        return ErrorKind.QUOTA_EXHAUSTED if code == "insufficient_quota" else ErrorKind.RATE_LIMITED
    if status >= 500:
        return ErrorKind.SERVER_ERROR
    return ErrorKind.UNEXPECTED


def classify(error: BaseException) -> Failure:
    """A :class:`Failure` for any exception; SDK errors get their kind, code and delay.

    Reads what the SDK parsed (``status_code``, ``code``, ``param``, ``body``) and Azure's
    ``innererror`` (``content_filter_result`` when the prompt was filtered). An
    ``x-should-retry`` header, when the service sends one, overrides the retry decision.
    """
    if not isinstance(error, BaseException):
        raise TypeError(f"classify() takes an exception, got {type(error).__name__}")
    name = type(error).__name__
    if isinstance(error, openai.APITimeoutError):
        return Failure(kind=ErrorKind.TIMEOUT, retryable=True, message=str(error), exception=name)
    if isinstance(error, openai.APIConnectionError):
        cause = f" ({error.__cause__})" if error.__cause__ else ""
        return Failure(
            kind=ErrorKind.CONNECTION, retryable=True, message=f"{error}{cause}", exception=name
        )
    if not isinstance(error, openai.APIStatusError):
        return Failure(
            kind=ErrorKind.UNEXPECTED, retryable=False, message=str(error) or name, exception=name
        )
    body = error.body if isinstance(error.body, Mapping) else {}
    inner = found if isinstance(found := body.get("innererror"), Mapping) else {}
    code = error.code
    kind = _status_kind(error, code)
    retryable = kind in RETRYABLE_KINDS
    headers = error.response.headers
    should_retry = headers.get("x-should-retry")
    if should_retry in {"true", "false"}:
        retryable = should_retry == "true"
    message = found if isinstance(found := body.get("message"), str) else str(error)
    return Failure(
        kind=kind,
        retryable=retryable,
        delay=retry_after_seconds(headers),
        status=error.status_code,
        code=code,
        param=error.param,
        message=message,
        request_id=error.request_id or headers.get("apim-request-id"),
        exception=name,
        inner_code=inner.get("code"),
        content_filter=inner.get("content_filter_result"),
    )


RetryHook = Callable[[Failure, float, int], None]
"""Called before each wait with the failure, the seconds it will wait and the attempt number."""


@dataclass
class RetryPolicy:
    """Retries that honour Azure's ``retry-after``, back off with jitter and respect a deadline.

    ``sleep`` / ``async_sleep`` and ``clock`` are injectable so tests record the waits
    instead of waiting; ``seed`` makes the jitter repeatable.
    """

    max_attempts: int = 6
    deadline: float = 60.0
    """Seconds from the first attempt after which no new attempt starts."""
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.5
    """Each backoff is shortened by a random fraction up to this (0 = no jitter)."""
    seed: int | None = None
    sleep: Callable[[float], None] = time.sleep
    async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    on_retry: RetryHook | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.deadline <= 0 or self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("deadline must be positive and backoffs not negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff after failed attempt number ``attempt`` (1-based), jittered."""
        base = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        return base * (1 - self.jitter * rng.random())

    def _settings(self) -> dict[str, Any]:
        rng = random.Random(self.seed)
        start: list[float] = []

        def before(state: tenacity.RetryCallState) -> None:
            if state.attempt_number == 1:
                start[:] = [self.clock()]

        def wait(state: tenacity.RetryCallState) -> float:
            failure = classify(_exception_of(state))
            if failure.delay is not None:
                return failure.delay
            return self.backoff(state.attempt_number, rng)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            return self.clock() - start[0] + state.upcoming_sleep > self.deadline

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if self.on_retry is not None:
                failure = classify(_exception_of(state))
                self.on_retry(failure, state.upcoming_sleep, state.attempt_number)

        return {
            "retry": tenacity.retry_if_exception(lambda e: classify(e).retryable),
            "wait": wait,
            "stop": stop,
            "before": before,
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def retrying(self) -> tenacity.Retrying:
        """A fresh ``tenacity.Retrying`` for one operation: ``for attempt in retrying: ...``."""
        return tenacity.Retrying(sleep=self.sleep, **self._settings())

    def async_retrying(self) -> tenacity.AsyncRetrying:
        """A fresh ``tenacity.AsyncRetrying`` for one operation."""
        return tenacity.AsyncRetrying(sleep=self.async_sleep, **self._settings())

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` under this policy; the last exception is re-raised."""
        return self.retrying()(fn, *args, **kwargs)

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """``await fn(*args, **kwargs)`` under this policy; the last exception is re-raised."""

        async def attempt() -> T:  # the SDK's methods are not seen as coroutine functions
            return await fn(*args, **kwargs)

        return await self.async_retrying()(attempt)


def _exception_of(state: tenacity.RetryCallState) -> BaseException:
    assert state.outcome is not None and state.outcome.failed
    exception = state.outcome.exception()
    assert exception is not None
    return exception


# --- exercise --------------------------------------------------------------------------------

DEFAULT_WAIT_SECONDS = 1.0
"""The exercise's wait when a retryable error names none."""


def _status_error(status: int, headers: dict[str, str]) -> openai.APIStatusError:
    request = httpx2.Request(
        "POST", "https://my-resource.openai.azure.com/openai/v1/chat/completions"
    )
    response = httpx2.Response(status, headers=headers, request=request)
    kind = {400: openai.BadRequestError, 401: openai.AuthenticationError,
            429: openai.RateLimitError, 500: openai.InternalServerError}[status]  # fmt: skip
    return kind(f"Error code: {status}", response=response, body=None)


def _retry_wait_cases() -> list[tuple[str, BaseException, float | None]]:
    timeout = openai.APITimeoutError(request=httpx2.Request("POST", "https://example.invalid"))
    return [
        ("429 with retry-after-ms 1500 and retry-after 2",
         _status_error(429, {"retry-after-ms": "1500", "retry-after": "2"}), 1.5),
        ("429 with retry-after 3", _status_error(429, {"retry-after": "3"}), 3.0),
        ("500 with no header", _status_error(500, {}), DEFAULT_WAIT_SECONDS),
        ("a timeout", timeout, DEFAULT_WAIT_SECONDS),
        ("400 bad request", _status_error(400, {}), None),
        ("401 unauthorized", _status_error(401, {}), None),
    ]  # fmt: skip


def check_retry_wait(retry_wait: Callable[[BaseException], float | None]) -> Feedback:
    """Check ``retry_wait(error)``: seconds to wait before retrying, or None for "do not retry".

    Retry 408, 429, 5xx and timeouts or lost connections; wait what ``retry-after-ms`` says,
    else ``retry-after``, else :data:`DEFAULT_WAIT_SECONDS`; never retry other 4xx.
    """
    exercise = "retry decision"
    for case, error, expected in _retry_wait_cases():
        got = attempt(exercise, retry_wait, error)
        if isinstance(got, Feedback):
            return got
        if got == expected or (
            isinstance(got, int | float) and expected is not None and abs(got - expected) < 1e-9
        ):
            continue
        if expected is None:
            hint = "this error will fail the same way again: return None"
        elif got is None:
            hint = "this error is transient: retry it"
        elif "retry-after-ms" in case:
            hint = (
                "read retry-after-ms first (milliseconds, Azure's precise value), then retry-after"
            )
        elif "retry-after" in case:
            hint = "with no retry-after-ms, wait the retry-after header's seconds"
        else:
            hint = f"no header: wait the default {DEFAULT_WAIT_SECONDS} s"
        return failed(exercise, f"{case}: got {got!r}, expected {expected!r}; {hint}.")
    return passed(exercise, f"all {len(_retry_wait_cases())} errors get the right decision.")
