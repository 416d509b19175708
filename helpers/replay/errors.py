"""Azure-shaped error responses.

Every error the replay server sends has the body and status Azure OpenAI sends
for the same fault, so SDK code paths (``openai.AuthenticationError``,
``openai.NotFoundError``, ``openai.BadRequestError`` …) behave as they do live.
The message texts follow Azure's wording; replay-specific errors (a request
with no recording) add what to do about it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class AzureError(Exception):
    """An error to send to the client as an Azure-shaped JSON body."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(body.get("error", {}).get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}

    def to_response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


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


def unauthorized_token() -> AzureError:
    """Missing, malformed, expired or wrong-audience bearer token (Azure's wording)."""
    return AzureError(
        401,
        {
            "error": {
                "code": "PermissionDenied",
                "message": (
                    "Unauthorized. Access token is missing, invalid, audience is incorrect "
                    "(https://cognitiveservices.azure.com), or have expired."
                ),
            }
        },
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
