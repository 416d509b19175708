"""What an operation sees (:class:`RequestContext`) and what it answers (:class:`Reply`).

Every operation of every service gets the same context: the request line, path
parameters, query, headers, the parsed body, the deployment it addresses (if
any), the server's state (recordings, stores, clock, ids) and the headers
Azure will add to the answer. It returns a :class:`Reply`: a status, headers,
and one kind of content (JSON, bytes with a content type, or a stream of
server-sent events that ends with ``[DONE]``, plain EOF, a cut or a reset). The
pipeline turns a reply into HTTP the same way whatever produced it, so a
recording, a simulator and record mode cannot disagree on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .config import Deployment
from .state import ReplayState

StreamEnd = Literal["done", "eof", "cut", "reset"]
Fault = Literal["reset", "hang"]


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event: its ``data:`` payload, an optional ``event:`` name, a pause."""

    data: str
    delay: float = 0.0
    event: str | None = None


@dataclass
class Reply:
    """An answer, before it becomes HTTP."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None
    events: list[StreamEvent] | None = None
    stream_end: StreamEnd = "done"
    fault: Fault | None = None
    delay: float = 0.0
    """Seconds to wait before answering (simulated latency of a JSON answer)."""

    @classmethod
    def of_json(cls, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status=status, headers=dict(headers or {}), json=body)

    @classmethod
    def of_stream(
        cls,
        events: list[StreamEvent],
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        end: StreamEnd = "done",
    ) -> Reply:
        return cls(status=status, headers=dict(headers or {}), events=events, stream_end=end)

    @classmethod
    def of_bytes(
        cls,
        content: bytes,
        content_type: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        return cls(
            status=status, headers=dict(headers or {}), content=content, content_type=content_type
        )


@dataclass
class RequestContext:
    """One request as an operation sees it."""

    method: str
    path: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    api_version: str | None
    state: ReplayState
    raw_body: bytes = b""
    body_read: bool = False
    content_type: str | None = None
    body: Any = None
    """The parsed JSON body, or a multipart body in its normalised form."""
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    """Multipart uploads: field name -> (filename, content type, bytes)."""
    deployment_name: str | None = None
    deployment: Deployment | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    """Azure's headers for the answer (request ids, region, rate limits); replies inherit them."""
    base_url: str = ""
    """Scheme, host and port the client used (``http://127.0.0.1:8765/``), for links."""
    target_length: int = 0
    """Bytes of the request target as sent (path and query, before percent-decoding)."""
    project: str | None = None
    """The Foundry project whose endpoint the request came to (``/api/projects/{project}/...``),
    or None (:mod:`.behaviours.projects`)."""

    @property
    def clock(self) -> float:
        return self.state.clock()

    @property
    def is_v1(self) -> bool:
        return self.path.startswith("/openai/v1/")

    @property
    def lookup_version(self) -> str | None:
        """The api-version recordings must match: none on v1 (``preview`` is not a date)."""
        return None if self.is_v1 else self.api_version
