"""Record mode: forward to a real resource, answer unchanged, keep a scrubbed copy.

The caller's own credentials travel to the upstream, which judges them. What is
written down never holds them: request headers are not stored at all, response
headers lose cookies and credentials, and the upstream host name and any
credential echoed in a body are replaced before the file is written.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..._support.sse import DONE, ServerSentEvent, arelay
from ..context import RequestContext
from ..errors import upstream_unreachable
from ..replies import StreamCut
from .store import (
    Interaction,
    RecordedRequest,
    RecordedResponse,
    RecordingsStore,
    StreamChunk,
    StreamEnd,
    is_responses_api,
)

if TYPE_CHECKING:
    from ..services.base import Operation

log = logging.getLogger("helpers.replay")

UPSTREAM_PLACEHOLDER = "upstream.openai.azure.example"
SECRET_PLACEHOLDER = "***"
NOT_RECORDED = frozenset({401, 403})
"""Auth failures are passed back to the caller but never become recordings."""

_DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "set-cookie", "cookie", "authorization", "api-key", "content-length",
        "transfer-encoding", "connection", "content-encoding", "keep-alive", "date", "server",
    }
)  # fmt: skip
_FORWARDED_REQUEST_HEADERS_DROPPED = frozenset(
    {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}
)


def _credentials(request: Request) -> list[str]:
    found = []
    if key := request.headers.get("api-key"):
        found.append(key)
    auth = request.headers.get("authorization", "")
    if auth:
        found.append(auth)
        found.append(auth.removeprefix("Bearer ").strip())
    return [c for c in found if len(c) >= 4]


class Scrubber:
    """Replaces secrets and the upstream host in anything about to be written."""

    def __init__(self, upstream: str, secrets: list[str]) -> None:
        host = httpx2.URL(upstream).host
        self._replacements = [
            (s, SECRET_PLACEHOLDER) for s in sorted(secrets, key=len, reverse=True)
        ]
        if host:
            self._replacements.append((host, UPSTREAM_PLACEHOLDER))

    def text(self, value: str) -> str:
        for secret, placeholder in self._replacements:
            value = value.replace(secret, placeholder)
        return value

    def json(self, value: Any) -> Any:
        return json.loads(self.text(json.dumps(value, ensure_ascii=False)))

    def headers(self, headers: httpx2.Headers) -> dict[str, str]:
        return {
            name.lower(): self.text(value)
            for name, value in headers.items()
            if name.lower() not in _DROPPED_RESPONSE_HEADERS
        }


class Recorder:
    """Forwards requests to ``upstream`` and appends each exchange to ``target``."""

    def __init__(self, upstream: str, target: Path, store: RecordingsStore) -> None:
        self.upstream = upstream.rstrip("/")
        self.target = target
        self.store = store
        self._client = httpx2.AsyncClient(timeout=httpx2.Timeout(120.0, connect=10.0))
        # The transport logs each URL at INFO; in record mode that URL is the upstream host.
        for name in ("httpx2", "httpcore2"):
            logging.getLogger(name).setLevel(logging.WARNING)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def forward(
        self, request: Request, ctx: RequestContext, operation: Operation | None
    ) -> Response:
        """Send the request upstream unchanged; answer what it answers; keep a scrubbed copy."""
        raw_body, body, api_version = ctx.raw_body, ctx.body, ctx.api_version
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _FORWARDED_REQUEST_HEADERS_DROPPED
        }
        headers["accept-encoding"] = "identity"
        url = f"{self.upstream}{request.url.path}"
        scrubber = Scrubber(self.upstream, _credentials(request))
        upstream_request = self._client.build_request(
            request.method, url, params=tuple(request.query_params.multi_items()),
            headers=headers, content=raw_body,
        )  # fmt: skip
        try:
            response = await self._client.send(upstream_request, stream=True)
        except httpx2.HTTPError as exc:
            raise upstream_unreachable(scrubber.text(type(exc).__name__)) from exc
        recorded_request = RecordedRequest(
            method=request.method,
            path=request.url.path,
            api_version=api_version,
            content_type=ctx.content_type if ctx.content_type == "multipart/form-data" else None,
            body=scrubber.json(body),
        )
        passthrough = {
            k: v
            for k, v in response.headers.items()
            if k.lower()
            not in {"content-length", "transfer-encoding", "connection", "content-encoding"}
        }
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return StreamingResponse(
                self._relay_stream(response, recorded_request, scrubber),
                status_code=response.status_code,
                headers=passthrough,
            )
        content = await response.aread()
        await response.aclose()
        content_type = response.headers.get("content-type", "")
        recorded_headers = scrubber.headers(response.headers)
        if not content or "json" in content_type:
            try:
                parsed: Any = json.loads(content) if content else None
            except json.JSONDecodeError:
                parsed = None
            stored = operation.store(parsed) if operation and response.status_code < 400 else parsed
            recorded = RecordedResponse(
                status=response.status_code, headers=recorded_headers, body=scrubber.json(stored)
            )
        else:
            recorded_headers.pop("content-type", None)
            recorded = RecordedResponse(
                status=response.status_code,
                headers=recorded_headers,
                content_type=content_type,
                text=scrubber.text(content.decode("utf-8", "replace")),
            )
        # Saved before answering, so a client that reads the file next finds the interaction.
        self._save(Interaction(request=recorded_request, response=recorded))
        return Response(content, status_code=response.status_code, headers=passthrough)

    def _save(self, interaction: Interaction) -> None:
        if interaction.response.status in NOT_RECORDED:
            log.warning(
                "not recorded: upstream answered %s (check your credentials)",
                interaction.response.status,
            )
            return
        recordings = self.store.append(self.target, interaction)
        log.info(
            "recorded %s %s -> %s (%s)",
            interaction.request.method,
            interaction.request.path,
            interaction.response.status,
            recordings.display_name,
        )

    async def _relay_stream(
        self, response: httpx2.Response, recorded_request: RecordedRequest, scrubber: Scrubber
    ) -> AsyncIterator[bytes]:
        """Pass the upstream's stream on byte for byte; record its events as they complete."""
        chunks: list[StreamChunk] = []
        last = time.perf_counter()
        end: StreamEnd = "eof"

        def on_event(event: ServerSentEvent) -> None:
            nonlocal last, end
            now = time.perf_counter()
            if event.data == DONE:
                end = "done"
            elif event.data:
                chunks.append(
                    StreamChunk(
                        data=scrubber.text(event.data),
                        delay_ms=round((now - last) * 1000),
                        event=None if event.event == "message" else event.event,
                    )
                )
            last = now

        try:
            async for piece in arelay(response.aiter_bytes(), on_event):
                yield piece
        except httpx2.HTTPError as exc:
            end = "cut"  # the upstream dropped the stream: record that, and drop ours too
            raise StreamCut("upstream cut the stream") from exc
        finally:
            await response.aclose()
            if end == "done" and is_responses_api(recorded_request.path):
                # Not Azure's wire format: the recording keeps the events, not the [DONE].
                log.warning("a Responses API stream ended with [DONE]; recorded without it")
                end = "eof"
            self._save(
                Interaction(
                    request=recorded_request,
                    response=RecordedResponse(
                        status=response.status_code,
                        headers=scrubber.headers(response.headers),
                        stream=chunks,
                        stream_end=end,
                    ),
                )
            )
