"""Azure AI Search's error answers.

Azure AI Search sends ``{"error": {"code": "", "message": "..."}}`` (an empty code is normal)
with the status its HTTP-status-codes page gives: 400 for a bad URI, header or body, 401 when
credentials are missing, 403 for a wrong ``api-key``, 404 for a missing index or document, 409
for a conflict. https://learn.microsoft.com/rest/api/searchservice/http-status-codes

Messages marked "Azure's wording" are the live service's own, as seen in public captures (SDK
tracebacks quoted in issues, e.g. Azure-Samples/azure-search-openai-demo#1591 for filter
syntax, run-llama/llama_index#13513, MicrosoftLearning/mslearn-knowledge-mining#19). Messages
that only this simulator sends (features it does not simulate) say so.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from ...errors import ReplayError


class SearchError(ReplayError):
    """An error to send as Azure AI Search's JSON error body (or, for auth, an empty body)."""

    def __init__(
        self, status: int, message: str, *, code: str = "", empty_body: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.empty_body = empty_body

    @property
    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def to_response(self, headers: dict[str, str] | None = None) -> Response:
        if self.empty_body:
            return Response(status_code=self.status, headers=headers)
        return JSONResponse(self.body, status_code=self.status, headers=headers)


def bad_request(message: str) -> SearchError:
    return SearchError(400, message)


def invalid_request(details: str) -> SearchError:
    """A malformed body: Azure prefixes the detail with "The request is invalid. Details: "."""
    return SearchError(400, f"The request is invalid. Details: {details}")


def invalid_expression(detail: str, parameter: str) -> SearchError:
    """A bad ``$filter``, ``$orderby`` or ``$select`` (Azure's wording, CRLF included)."""
    return SearchError(400, f"Invalid expression: {detail}\r\nParameter name: {parameter}")


def syntax_error(position: int, text: str, parameter: str = "$filter") -> SearchError:
    return invalid_expression(f"Syntax error at position {position} in '{text}'.", parameter)


def no_such_property(name: str, parameter: str) -> SearchError:
    return invalid_expression(
        f"Could not find a property named '{name}' on type 'search.document'.", parameter
    )


def missing_api_version() -> SearchError:
    """No, malformed or unsupported ``api-version`` (Azure's wording)."""
    return SearchError(400, "Invalid or missing api-version query string parameter.")


def index_not_found(index: str, service: str) -> SearchError:
    """Azure's wording, see /work/shared/docs/azure-wire-facts.md."""
    return SearchError(404, f"The index '{index}' for service '{service}' was not found.")


def document_not_found() -> SearchError:
    """A lookup by key that finds nothing: 404 with an empty body, as the live service sends."""
    return SearchError(404, "Document not found.", empty_body=True)


def resource_not_found() -> SearchError:
    """A path this simulator does not serve (indexers, skillsets, synonym maps, ...)."""
    return SearchError(
        404,
        "The replay server's Azure AI Search simulator does not serve this path. It serves "
        "indexes and their documents: /indexes, /indexes('name'), /indexes('name')/docs/...",
    )


def missing_credentials() -> SearchError:
    """No ``api-key`` and no bearer token: 401 with an empty body."""
    return SearchError(401, "", empty_body=True)


def forbidden() -> SearchError:
    """A wrong ``api-key`` or an invalid token: 403 with an empty body.

    The live service sends no JSON here, which is why the SDK only says
    "Operation returned an invalid status 'Forbidden'".
    """
    return SearchError(403, "", empty_body=True)


def not_simulated(feature: str, advice: str) -> SearchError:
    """A feature of Azure AI Search that this simulator does not imitate (its own message)."""
    return SearchError(
        400,
        f"{feature} is not simulated by the replay server's Azure AI Search simulator. {advice}",
        code="NotSimulated",
    )
