"""Configuration from ``.env`` and the environment, in one typed object.

The names are the SDK's own (``AZURE_OPENAI_ENDPOINT``, ``AZURE_OPENAI_API_KEY``,
``OPENAI_API_VERSION``), so a ``.env`` that works here works with plain
``AzureOpenAI()`` too. Deployment names are configuration, not code: on Azure,
``model=`` is the name *you* gave the deployment.
"""

from __future__ import annotations

import os

from dotenv import dotenv_values, find_dotenv
from pydantic import BaseModel, ConfigDict, SecretStr

from ..replay.config import DEFAULT_API_KEY, Mode

DEFAULT_API_VERSION = "2025-04-01-preview"
"""The dated version the ``AzureOpenAI`` client sends: one that knows reasoning models
(``reasoning_effort``, ``developer`` messages, ``max_completion_tokens``). The v1 API needs none."""


_FROM_DOTENV: set[str] = set()
"""Variables this process took from ``.env`` (so a later edit of ``.env`` replaces them)."""


def _apply_dotenv(path: str) -> None:
    if not path:
        return
    for name, value in dotenv_values(path).items():
        if value is None:
            continue
        if name not in os.environ or name in _FROM_DOTENV:
            os.environ[name] = value
            _FROM_DOTENV.add(name)


class Settings(BaseModel):
    """Everything the cookbook reads from the environment."""

    model_config = ConfigDict(frozen=True)

    endpoint: str | None = None
    """``AZURE_OPENAI_ENDPOINT``; empty means: run offline on the replay server."""
    api_key: SecretStr | None = None
    """``AZURE_OPENAI_API_KEY``; empty with an endpoint means: keyless Entra ID auth."""
    api_version: str = DEFAULT_API_VERSION
    chat_deployment: str = "gpt-5.4-mini"
    """``AZURE_OPENAI_CHAT_DEPLOYMENT``: a GPT-5.4 reasoning model by default (``make models``)."""
    small_chat_deployment: str = "gpt-5.4-nano"
    """``AZURE_OPENAI_SMALL_CHAT_DEPLOYMENT``: a cheaper, faster model for simple calls."""
    embedding_deployment: str = "text-embedding-3-small"
    project_endpoint: str | None = None
    """``FOUNDRY_PROJECT_ENDPOINT``: a Microsoft Foundry project's endpoint
    (``https://<resource>.services.ai.azure.com/api/projects/<project>``), for the project client
    (``azure-ai-projects``) of notebook 1; the name the package's own samples use."""
    search_endpoint: str | None = None
    """``AZURE_SEARCH_ENDPOINT``: your Azure AI Search service (live runs of notebooks 10, 14)."""
    search_api_key: SecretStr | None = None
    """``AZURE_SEARCH_API_KEY``: an admin key for that service."""
    replay_mode: Mode = Mode.REPLAY
    replay_api_key: SecretStr = SecretStr(DEFAULT_API_KEY)
    replay_url: str | None = None
    replay_draft: bool = False
    """``REPLAY_DRAFT=1`` (lenient mode): save each unrecorded request as a draft to curate."""
    """``REPLAY_URL``: a running replay server, or ``embedded`` to always start one in-process."""

    @property
    def offline(self) -> bool:
        return not self.endpoint

    @classmethod
    def from_env(cls, *, dotenv: bool = True) -> Settings:
        """Read ``.env`` (nearest one above the working folder; real variables win), then build.

        ``.env`` is read again on every call, so an edit (``REPLAY_MODE=lenient``) takes effect
        at the next ``connect()`` without restarting the kernel; variables that were set in the
        real environment before ``.env`` was first read still win.
        """
        if dotenv:
            _apply_dotenv(find_dotenv(usecwd=True))

        def get(name: str) -> str | None:
            value = os.environ.get(name, "").strip()
            return value or None

        values: dict[str, object] = {
            "endpoint": get("AZURE_OPENAI_ENDPOINT"),
            "api_key": get("AZURE_OPENAI_API_KEY"),
            "api_version": get("OPENAI_API_VERSION"),
            "chat_deployment": get("AZURE_OPENAI_CHAT_DEPLOYMENT"),
            "small_chat_deployment": get("AZURE_OPENAI_SMALL_CHAT_DEPLOYMENT"),
            "embedding_deployment": get("AZURE_OPENAI_EMBEDDING_DEPLOYMENT"),
            "project_endpoint": get("FOUNDRY_PROJECT_ENDPOINT"),
            "search_endpoint": get("AZURE_SEARCH_ENDPOINT"),
            "search_api_key": get("AZURE_SEARCH_API_KEY"),
            "replay_mode": get("REPLAY_MODE"),
            "replay_api_key": get("REPLAY_API_KEY"),
            "replay_url": get("REPLAY_URL"),
            "replay_draft": get("REPLAY_DRAFT"),
        }
        return cls.model_validate({k: v for k, v in values.items() if v is not None})
