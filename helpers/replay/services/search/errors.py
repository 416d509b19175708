"""Azure AI Search's error answers, as the server's one error type (:class:`.errors.AzureError`).

Azure AI Search sends ``{"error": {"code": "", "message": "..."}}`` (an empty code is normal)
with the status its HTTP-status-codes page gives: 400 for a bad URI, header or body, 401 when
credentials are missing, 403 for a wrong ``api-key``, 404 for a missing index or document, 409
for a conflict, 503 when "the system is under heavy load and your request can't be processed
at this time". https://learn.microsoft.com/rest/api/searchservice/http-status-codes

Messages marked "Azure's wording" are the live service's own, as seen in public captures (SDK
tracebacks quoted in issues, e.g. Azure-Samples/azure-search-openai-demo#1591 for filter
syntax, run-llama/llama_index#13513 and #19370, Azure/azure-sdk-for-python#39837,
MicrosoftLearning/mslearn-knowledge-mining#19) or Microsoft Learn's troubleshooting pages.
Messages that only this simulator sends (features it does not simulate, limits whose wording
was never published) say so or follow the shape of Azure's.
"""

from __future__ import annotations

import uuid

from ...errors import AzureError, CredentialProblem


def shown(value: object) -> str:
    """A client's value in an error message: short, whatever its type."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 100 else text[:100] + "..."


def search_error(
    status: int, message: str, *, code: str = "", headers: dict[str, str] | None = None
) -> AzureError:
    """An error in Azure AI Search's shape, with the ``request-id`` header it always sends."""
    return AzureError(
        status,
        {"error": {"code": code, "message": message}},
        headers={"request-id": str(uuid.uuid4()), **(headers or {})},
    )


def bad_request(message: str, *, code: str = "") -> AzureError:
    return search_error(400, message, code=code)


def invalid_request(details: str) -> AzureError:
    """A malformed body: Azure prefixes the detail with "The request is invalid. Details: "."""
    return search_error(400, f"The request is invalid. Details: {details}")


def unreadable_body(detail: str) -> AzureError:
    """A body that is not JSON Azure reads (the guarded reader's verdict)."""
    return invalid_request(f"The request body is not valid JSON ({detail}).")


def body_too_large(size: int, limit: int) -> AzureError:
    """Over the payload limit (Microsoft Learn, "Service limits in Azure AI Search")."""
    return invalid_request(
        f"The request body is too large: {size} bytes or more, where the service accepts at "
        f"most {limit} bytes (16 MB) for indexing and query requests."
    )


def url_too_long(length: int, limit: int) -> AzureError:
    """Over the URL limit (Microsoft Learn, "Service limits in Azure AI Search": 8 KB)."""
    return search_error(
        400,
        f"The request URL is {length} bytes long; Azure AI Search accepts URLs of at most "
        f"{limit} bytes (8 KB). Send long queries with POST .../docs/search.post.search.",
    )


def invalid_expression(detail: str, parameter: str) -> AzureError:
    """A bad ``$filter``, ``$orderby`` or ``$select`` (Azure's wording, CRLF included)."""
    return search_error(400, f"Invalid expression: {detail}\r\nParameter name: {parameter}")


def syntax_error(position: int, text: str, parameter: str = "$filter") -> AzureError:
    return invalid_expression(f"Syntax error at position {position} in '{text}'.", parameter)


def no_such_property(name: str, parameter: str) -> AzureError:
    return invalid_expression(
        f"Could not find a property named '{name}' on type 'search.document'.", parameter
    )


def too_deep(parameter: str = "$filter") -> AzureError:
    """A filter nested or chained too deep for the OData parser (Azure's wording, as quoted
    in run-llama/llama_index#19370 for a filter of about 1,200 ``or`` clauses)."""
    return invalid_expression("Recursion depth exceeded allowed limit.", parameter)


def clause_limit(limit: int) -> AzureError:
    """More query clauses (terms x searchable fields) than Azure runs (Azure's wording and code,
    as quoted in Azure/azure-sdk-for-python#39837)."""
    return search_error(
        400,
        f"Failed to execute query because it exceeded the maximum clause limit of {limit}. This "
        f"can happen when the query terms multiplied by fields specified in the query exceeds "
        f"{limit}. If fields are not explicitly specified, all searchable fields in the index "
        "are used. Please limit the number of terms in the query or scope the query terms to a "
        "smaller number of searchable fields using the 'searchFields' parameter or fielded "
        "search syntax.",
        code="ClauseLimitExceeded",
    )


def missing_api_version() -> AzureError:
    """No, malformed or unsupported ``api-version`` (Azure's wording)."""
    return search_error(400, "Invalid or missing api-version query string parameter.")


def index_not_found(index: str, service: str) -> AzureError:
    """Azure's wording, see /work/shared/docs/azure-wire-facts.md."""
    return search_error(404, f"The index '{index}' for service '{service}' was not found.")


def document_not_found() -> AzureError:
    """A lookup by key that finds nothing: 404 with an empty body, as the live service sends."""
    return AzureError(404, None, headers={"request-id": str(uuid.uuid4())})


def resource_not_found() -> AzureError:
    """A path this simulator does not serve (indexers, skillsets, synonym maps, ...)."""
    return search_error(
        404,
        "The replay server's Azure AI Search simulator does not serve this path. It serves "
        "/servicestats, indexes and their documents: /indexes, /indexes('name'), "
        "/indexes('name')/docs/...",
    )


def method_not_allowed(method: str) -> AzureError:
    return search_error(405, f"The HTTP method '{method}' is not supported for this resource.")


def unauthorized(problem: CredentialProblem, audience: str) -> AzureError:
    """No credentials: 401; a wrong ``api-key`` or an invalid token: 403. Both with an empty
    body: the live service sends no JSON here, which is why the SDK only says "Operation
    returned an invalid status 'Forbidden'"."""
    return AzureError(
        401 if problem == "missing" else 403, None, headers={"request-id": str(uuid.uuid4())}
    )


def busy(seconds: float) -> AzureError:
    """A request that ran out of its time budget: Azure's 503 ("the system is under heavy load
    and your request can't be processed at this time"; the SDK retries it)."""
    return search_error(
        503,
        "The system is under heavy load and your request can't be processed at this time. "
        f"(The replay server stopped this request after {seconds:g} seconds of work.)",
        headers={"retry-after": "1"},
    )


def not_simulated(feature: str, advice: str) -> AzureError:
    """A feature of Azure AI Search that this simulator does not imitate (its own message)."""
    return search_error(
        400,
        f"{feature} is not simulated by the replay server's Azure AI Search simulator. {advice}",
        code="NotSimulated",
    )
