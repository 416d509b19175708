"""The HTTP parser the replay server runs on: fast, and Azure-shaped even when a request
is not valid HTTP.

uvicorn's httptools protocol (llhttp, in C) is several times faster than h11 under load.
It rejects what it cannot parse (an unknown method such as ``BREW``, a broken request
line) before the application sees it, and uvicorn answers those with plain text. This
subclass answers them with a JSON body in Azure's error shape instead, so no client of
the replay server ever gets a non-JSON error. The wording is the server's own.

``send_400_response`` is not a public uvicorn API, and uvicorn has none for this answer:
uvicorn is pinned (``pyproject.toml``) to the versions ``tests/test_pinned_internals.py``
checked, which fails when an upgrade renames the method or stops calling it.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .replies import dump_json


def bad_http_response(detail: str) -> bytes:
    """A complete HTTP/1.1 400 response whose body is an Azure-shaped JSON error."""
    body = dump_json(
        {"error": {"code": "400", "message": f"The request is not valid HTTP ({detail})."}}
    )
    head = (
        b"HTTP/1.1 400 Bad Request\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
        b"connection: close\r\n\r\n"
    )
    return head + body


class AzureHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Azure-shaped answers to unparseable requests."""

    def send_400_response(self, msg: str) -> None:
        self.transport.write(bad_http_response(msg))
        self.transport.close()
