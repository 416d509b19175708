"""Azure-shaped error responses: the one error type every service of the server raises.

Every error the replay server sends has the body and status the Azure service sends
for the same fault, so SDK code paths (``openai.AuthenticationError``,
``openai.NotFoundError``, ``openai.BadRequestError``, ``azure.core``'s
``HttpResponseError`` …) behave as they do live. The message texts follow Azure's
wording; replay-specific errors (a request with no recording) add what to do about it.
Azure OpenAI's errors are built here; Azure AI Search's (same :class:`AzureError`, its
own ``{"error": {"code": "", "message": ...}}`` body) in
:mod:`helpers.replay.services.search.errors`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from starlette.responses import Response

CredentialProblem = Literal["missing", "key", "token"]
"""Why credentials were refused: none sent, a wrong ``api-key``, a bad bearer token."""


class ReplayError(Exception):
    """The root of every exception the replay server (``helpers.replay``) raises."""


def dump_json(value: Any) -> bytes:
    """Compact JSON as UTF-8; lone surrogates become ``\\uXXXX`` escapes (still valid JSON)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace")


class AzureError(ReplayError):
    """An error to send to the client as an Azure-shaped JSON body.

    ``body=None`` is an answer with no body at all, which is what Azure AI Search sends for
    a missing (401) or refused (403) credential.
    """

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__((body or {}).get("error", {}).get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}

    def to_response(self) -> Response:
        if self.body is None:
            return Response(status_code=self.status, headers=self.headers)
        return Response(
            dump_json(self.body),
            status_code=self.status,
            headers=self.headers,
            media_type="application/json",
        )


def unauthorized_key() -> AzureError:
    """Missing or wrong ``api-key`` (Azure's wording)."""
    return AzureError(
        401,
        {
            "error": {
                "code": "401",
                "message": (
                    "Access denied due to invalid subscription key or wrong API endpoint. "
                    "Make sure to provide a valid key for an active subscription and use a "
                    "correct regional API endpoint for your resource."
                ),
            }
        },
    )


def unauthorized_token(audience: str = "https://cognitiveservices.azure.com") -> AzureError:
    """Missing, malformed, expired or wrong-audience bearer token (Azure's wording)."""
    return AzureError(
        401,
        {
            "error": {
                "code": "PermissionDenied",
                "message": (
                    "Unauthorized. Access token is missing, invalid, audience is incorrect "
                    f"({audience}), or have expired."
                ),
            }
        },
    )


def unauthorized(problem: CredentialProblem, audience: str) -> AzureError:
    """Azure OpenAI's 401 for a missing or refused credential (:func:`.pipeline.authenticate`)."""
    return unauthorized_token(audience) if problem == "token" else unauthorized_key()


def rate_limited(
    operation: str,
    api_version: str | None,
    retry_after: float,
    headers: dict[str, str],
    exceeded: Literal["call", "token"] = "token",
) -> AzureError:
    """Azure's 429 for an exhausted quota, in the wording Azure's 429 bodies use: "have exceeded
    call rate limit" for requests per minute, "token rate limit" for tokens (both as quoted in
    public reports, e.g. BerriAI/litellm and Azure/azure-sdk-for-net issues)."""
    seconds = max(1, int(retry_after + 0.999))
    version = f" under Azure OpenAI API version {api_version}" if api_version else ""
    return AzureError(
        429,
        {
            "error": {
                "code": "429",
                "message": (
                    f"Requests to the {operation} Operation{version} have exceeded {exceeded} "
                    "rate limit of your current OpenAI S0 pricing tier. Please retry after "
                    f"{seconds} seconds. Please go here: https://aka.ms/oai/quotaincrease if you "
                    "would like to further increase the default rate limit."
                ),
            }
        },
        headers=headers,
    )


def internal_error(request_id: str) -> AzureError:
    """An unexpected failure inside the server: Azure's 500 body, with the request id."""
    return AzureError(
        500,
        {
            "error": {
                "code": "InternalServerError",
                "message": (
                    "The server had an error while processing your request. Sorry about that! "
                    f"(request id {request_id})"
                ),
            }
        },
        headers={"apim-request-id": request_id},
    )


def method_not_allowed() -> AzureError:
    return AzureError(
        405, {"error": {"code": "405", "message": "The requested method is not allowed."}}
    )


def resource_not_found() -> AzureError:
    """Unknown route or missing ``api-version``: Azure's bare 404."""
    return AzureError(404, {"error": {"code": "404", "message": "Resource not found"}})


def deployment_not_found() -> AzureError:
    return AzureError(
        404,
        {
            "error": {
                "code": "DeploymentNotFound",
                "message": (
                    "The API deployment for this resource does not exist. If you created the "
                    "deployment within the last 5 minutes, please wait a moment and try again."
                ),
            }
        },
    )


def invalid_request(
    message: str,
    *,
    param: str | None,
    code: str | None = "invalid_value",
    status: int = 400,
) -> AzureError:
    """A 400 naming the offending parameter, in the shape Azure uses for chat and embeddings."""
    return AzureError(
        status,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        },
    )


def object_not_found(message: str) -> AzureError:
    """404 for an id the server does not hold (a response, file, batch, vector store)."""
    return AzureError(
        404,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        },
    )


def recording_not_found(message: str) -> AzureError:
    """A request the recordings do not hold (replay mode).

    400 rather than 404 or 5xx: the SDK does not retry it, and it cannot be
    mistaken for a missing deployment.
    """
    return AzureError(
        400,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "RecordingNotFound",
            }
        },
        headers={"x-replay-miss": "true"},
    )


def upstream_unreachable(detail: str) -> AzureError:
    """Record mode could not reach the upstream resource."""
    return AzureError(
        502,
        {
            "error": {
                "code": "UpstreamUnreachable",
                "message": f"The replay server (record mode) could not reach upstream: {detail}",
            }
        },
        headers={"x-should-retry": "false"},
    )
