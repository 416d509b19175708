"""The Microsoft Foundry project endpoint's OpenAI routes, on the same pipeline.

A Foundry project has its own endpoint, ``https://<resource>.services.ai.azure.com/api/projects/
<project>`` (Microsoft Learn, "Microsoft Foundry SDKs and Endpoints"), and the project client's
``get_openai_client()`` (``azure-ai-projects`` 2.x, ``_patch.py``) returns the plain ``OpenAI``
client with ``base_url`` that endpoint followed by ``/openai/v1``, no api-version, and a bearer
token for the scope ``https://ai.azure.com/.default`` as its ``api_key``. "The project endpoint
serves this traffic on the /openai route" (the same page).

A :class:`ProjectEndpoint` takes ``/api/projects/{project}/openai/v1/...`` to the v1 API's route
(``/openai/v1/...``), so a project's request goes through the one pipeline and matches the same
recordings, and marks it (:data:`PROJECT_KEY`) so that :func:`.pipeline.authenticate` asks for
what the project endpoint takes: a Microsoft Entra ID token for :data:`PROJECT_AUDIENCE` only.
``AIProjectClient`` takes a ``TokenCredential`` and nothing else, and Learn's page says "API keys
work on /openai/v1", the resource's endpoint: an ``api-key`` header is not a credential here.
Two choices are the simulator's, not documented behaviour: the answer to an ``api-key`` is the
token 401, and embeddings, which "the project endpoint used by the Foundry SDK doesn't currently
route" (Learn, same page), get Azure's 404 ``Resource not found``.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from .. import errors
from ..identity import AI_AUDIENCE

PROJECT_KEY = "replay.project"
"""The ASGI scope key holding the project's name on a request that came to a project endpoint."""

PROJECT_AUDIENCE = AI_AUDIENCE
"""The only audience the project endpoint's tokens may have (get_openai_client's scope)."""

PROJECT_PATH = re.compile(
    r"^/api/projects/(?P<project>[A-Za-z0-9_.-]+)(?P<rest>/openai/v1(?:/.*)?)$"
)
NOT_ROUTED = re.compile(r"^/openai/v1/embeddings/?$")
"""v1 routes the project endpoint does not serve (Learn: embeddings)."""


def project_path(path: str) -> tuple[str, str] | None:
    """``(project, v1 path)`` for a project endpoint's OpenAI path, else None."""
    match = PROJECT_PATH.match(path)
    return (match["project"], match["rest"]) if match else None


class ProjectEndpoint:
    """ASGI middleware: a project endpoint's OpenAI request becomes the v1 request it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = project_path(scope["path"]) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        project, path = found
        if NOT_ROUTED.match(path):
            await errors.resource_not_found().to_response()(scope, receive, send)
            return
        scope = dict(scope)
        scope["path"] = path
        scope["raw_path"] = path.encode("utf-8")
        scope[PROJECT_KEY] = project
        await self.app(scope, receive, send)
