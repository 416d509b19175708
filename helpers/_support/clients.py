"""One call to get working clients, online or offline.

    from helpers import connect
    azure = connect("02_function_calling")
    azure.client.chat.completions.create(model=azure.chat_deployment, ...)

With ``AZURE_OPENAI_ENDPOINT`` set, the clients talk to that resource with the
API key, or, when no key is set, with Microsoft Entra ID (keyless, the
production recommendation). Without it, they talk to the replay server: one
already running (``make serve``) or one started inside this process, serving
the notebook's recordings. Either way ``connect`` prints one line saying which.
"""

from __future__ import annotations

import atexit
import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import openai
from azure.core.credentials import AzureKeyCredential, TokenCredential
from azure.identity import get_bearer_token_provider
from azure.search.documents import SearchClient
from azure.search.documents.indexes import SearchIndexClient
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI

from ..replay.config import (
    DEFAULT_PORT,
    DEFAULT_PROJECT,
    Mode,
    ReplayConfig,
    default_recordings_dir,
)
from ..replay.identity import AI_SCOPE, ReplayCredential, openai_api_key
from ..replay.server import LOOPBACK, ReplayServer, probe
from .settings import Settings

Auth = Literal["key", "entra"]

ENTRA_SCOPE = AI_SCOPE
"""The Entra ID scope every client requests: ``https://ai.azure.com/.default``, the one Microsoft
Learn's "Azure OpenAI in Microsoft Foundry Models v1 API" page uses today (Azure OpenAI also
accepts the older ``https://cognitiveservices.azure.com/.default``)."""

_embedded: dict[tuple[str, ...], ReplayServer] = {}


def _stop_all() -> None:
    for server in _embedded.values():
        server.stop()
    _embedded.clear()


atexit.register(_stop_all)


@dataclass
class Connection:
    """Clients and deployment names for one notebook."""

    settings: Settings
    endpoint: str
    offline: bool
    description: str
    server: ReplayServer | None = None
    recording: bool = False
    """Requests go through a local recorder to Azure, with your own credentials."""
    _clients: dict[tuple[Auth, bool], AzureOpenAI | AsyncAzureOpenAI] = field(
        default_factory=dict, repr=False
    )
    _v1_clients: dict[tuple[Auth, bool], OpenAI] = field(default_factory=dict, repr=False)

    @property
    def chat_deployment(self) -> str:
        return self.settings.chat_deployment

    @property
    def small_chat_deployment(self) -> str:
        return self.settings.small_chat_deployment

    @property
    def embedding_deployment(self) -> str:
        return self.settings.embedding_deployment

    @property
    def api_key(self) -> str:
        """The key for this target: the replay server's local key offline, yours live."""
        secret = self.settings.replay_api_key if self._replay_credentials else self.settings.api_key
        if secret is None:
            raise ValueError(
                "API-key auth needs AZURE_OPENAI_API_KEY; leave it empty to use Entra ID."
            )
        return secret.get_secret_value()

    @property
    def _replay_credentials(self) -> bool:
        return self.offline and not self.recording

    @property
    def default_auth(self) -> Auth:
        if self._replay_credentials or self.settings.api_key is not None:
            return "key"
        return "entra"

    @property
    def client(self) -> AzureOpenAI:
        """The synchronous client, with the configured authentication."""
        return self.sync_client(self.default_auth)

    @property
    def async_client(self) -> AsyncAzureOpenAI:
        """The asynchronous client, with the configured authentication."""
        return self.make_async_client(self.default_auth)

    def sync_client(self, auth: Auth = "key") -> AzureOpenAI:
        key = (auth, False)
        if key not in self._clients:
            self._clients[key] = AzureOpenAI(**self._client_options(auth))
        client = self._clients[key]
        assert isinstance(client, AzureOpenAI)
        return client

    def make_async_client(self, auth: Auth = "key") -> AsyncAzureOpenAI:
        """A new async client (async clients belong to one event loop, so they are not cached)."""
        return AsyncAzureOpenAI(**self._client_options(auth))

    def _client_options(self, auth: Auth) -> dict[str, Any]:
        options: dict[str, Any] = {
            "azure_endpoint": self.endpoint,
            "api_version": self.settings.api_version,
        }
        if auth == "key":
            options["api_key"] = self.api_key
        else:
            options["azure_ad_token_provider"] = get_bearer_token_provider(
                self.token_credential(), ENTRA_SCOPE
            )
        return options

    # --- the v1 API: the plain OpenAI client --------------------------------------------------

    @property
    def v1_base_url(self) -> str:
        """``{endpoint}/openai/v1/``: the v1 API's base URL (no api-version)."""
        return f"{self.endpoint.rstrip('/')}/openai/v1/"

    def v1_client(self, auth: Auth | None = None) -> OpenAI:
        """The plain ``OpenAI`` client on Azure's v1 API, with an API key or Entra ID."""
        auth = auth or self.default_auth
        key = (auth, True)
        if key not in self._v1_clients:
            credential: str | Callable[[], str] = (
                self.api_key
                if auth == "key"
                else get_bearer_token_provider(self.token_credential(), ENTRA_SCOPE)
            )
            self._v1_clients[key] = OpenAI(base_url=self.v1_base_url, api_key=credential)
        client = self._v1_clients[key]
        assert isinstance(client, OpenAI)
        return client

    def make_v1_async_client(self, auth: Auth | None = None) -> AsyncOpenAI:
        """A new ``AsyncOpenAI`` client on the v1 API (one per event loop)."""
        auth = auth or self.default_auth
        if auth == "key":
            return AsyncOpenAI(base_url=self.v1_base_url, api_key=self.api_key)
        provider = get_bearer_token_provider(self.token_credential(), ENTRA_SCOPE)
        return AsyncOpenAI(
            base_url=self.v1_base_url, api_key=openai_api_key(provider, is_async=True)
        )

    # --- a Microsoft Foundry project ------------------------------------------------------------

    @property
    def project_endpoint(self) -> str:
        """``FOUNDRY_PROJECT_ENDPOINT`` live; offline, the replay server's project endpoint."""
        if not self.offline:
            if not self.settings.project_endpoint:
                raise ValueError(
                    "The project client needs FOUNDRY_PROJECT_ENDPOINT "
                    "(https://<resource>.services.ai.azure.com/api/projects/<project>) in .env."
                )
            return self.settings.project_endpoint.rstrip("/")
        return f"{self.endpoint.rstrip('/')}/api/projects/{DEFAULT_PROJECT}"

    # --- Azure AI Search ------------------------------------------------------------------------

    @property
    def search_endpoint(self) -> str:
        """Your Azure AI Search service live; offline, the replay server's ``/search``."""
        if self.settings.search_endpoint and not self.offline:
            return self.settings.search_endpoint
        return f"{self.endpoint.rstrip('/')}/search"

    @property
    def search_credential(self) -> AzureKeyCredential:
        """An ``AzureKeyCredential`` for the search endpoint (the local key offline)."""
        if self._replay_credentials:
            return AzureKeyCredential(self.settings.replay_api_key.get_secret_value())
        if self.settings.search_api_key is None:
            raise ValueError("Azure AI Search needs AZURE_SEARCH_API_KEY (or use Entra ID).")
        return AzureKeyCredential(self.settings.search_api_key.get_secret_value())

    def search_client(self, index: str) -> SearchClient:
        """A ``SearchClient`` for one index."""
        return SearchClient(self.search_endpoint, index, self.search_credential)

    def search_index_client(self) -> SearchIndexClient:
        """A ``SearchIndexClient`` to create and delete indexes."""
        return SearchIndexClient(self.search_endpoint, self.search_credential)

    def token_credential(self) -> TokenCredential:
        """``DefaultAzureCredential`` live; offline, a local stand-in the replay server accepts."""
        if self._replay_credentials:
            return ReplayCredential(self.settings.replay_api_key.get_secret_value())
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()


def recordings_for(notebook: str | None) -> list[Path]:
    """The recordings an embedded server loads, from ``$REPLAY_RECORDINGS_DIR`` or the default."""
    folder = Path(os.environ.get("REPLAY_RECORDINGS_DIR") or default_recordings_dir())
    if notebook is None:
        return [folder]
    path = folder / f"{Path(notebook).stem}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"No recordings for notebook {notebook!r}: expected {path}")
    return [path]


def _embedded_server(settings: Settings, recordings: list[Path]) -> ReplayServer:
    key = (settings.replay_mode.value, *map(str, recordings))
    server = _embedded.get(key)
    if server is None:
        config = ReplayConfig(
            mode=settings.replay_mode,
            api_key=settings.replay_api_key.get_secret_value(),
            recordings=recordings,
            record_to=recordings[0] if recordings[0].is_file() else None,
            draft=settings.replay_draft,
        )
        server = ReplayServer(config).start()
        _embedded[key] = server
    return server


MISS_CODE = "RecordingNotFound"


def describe_miss(error: BaseException) -> str | None:
    """The replay server's explanation of a missing recording, or ``None`` for other errors."""
    if not isinstance(error, openai.APIStatusError):
        return None
    body = error.body if isinstance(error.body, dict) else {}
    if body.get("code") != MISS_CODE:
        return None
    return str(body.get("message", ""))


def _show_misses_first(
    shell: Any, etype: type[BaseException], value: BaseException, tb: Any, tb_offset: Any = None
) -> list[str] | None:
    """IPython handler: a replay miss shows its explanation and diff; the traceback is folded."""
    message = describe_miss(value)
    if message is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None
    frames = traceback.extract_tb(tb)
    # The learner's cell: the outermost frame that is not IPython's or a library's own.
    cell = next((f for f in frames if "site-packages" not in f.filename), frames[-1])
    lines = [
        "This request has no recording (the replay server said so; Azure was not asked).",
        message,
        f"(traceback folded: {etype.__name__} raised in your cell, line {cell.lineno}: "
        f"{cell.line})",
    ]
    stb = ["\n".join(lines)]
    shell._showtraceback(etype, value, stb)  # IPython displays what a custom handler shows
    return stb


UNRECORDED_NOTICE = (
    "[unrecorded] {count} answer(s) in this cell were made up by the replay server (lenient "
    "mode): their text, token counts, reasoning tokens and scores are the simulator's, not a "
    "model's."
)
"""Printed under a notebook cell whose answers lenient mode made up, so that every made-up
value a cell shows (a token count, a score) is marked, whichever client asked for it."""


class _UnrecordedAnswers(logging.Handler):
    """Counts the embedded server's lenient answers (its "-> unrecorded, simulated" warnings)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "-> unrecorded, simulated" in record.getMessage():
            self.count += 1


_UNRECORDED = _UnrecordedAnswers()


def _install_unrecorded_notice() -> None:
    """Mark each notebook cell whose answers were made up (IPython only; once per kernel)."""
    try:
        from IPython import get_ipython  # type: ignore[attr-defined]
    except ImportError:
        return
    shell = get_ipython()
    logger = logging.getLogger("helpers.replay")
    if shell is None or _UNRECORDED in logger.handlers:
        return
    logger.addHandler(_UNRECORDED)

    def reset(*_: Any) -> None:
        _UNRECORDED.count = 0

    def notice(*_: Any) -> None:
        if _UNRECORDED.count:
            print(UNRECORDED_NOTICE.format(count=_UNRECORDED.count))
            _UNRECORDED.count = 0

    shell.events.register("pre_run_cell", reset)
    shell.events.register("post_run_cell", notice)


def _install_miss_handler() -> None:
    try:
        from IPython import get_ipython  # type: ignore[attr-defined]
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "set_custom_exc"):
        shell.set_custom_exc((openai.BadRequestError,), _show_misses_first)


def connect(
    notebook: str | None = None, *, settings: Settings | None = None, quiet: bool = False
) -> Connection:
    """Clients for a notebook, against Azure when configured, else against the replay server.

    ``notebook`` names the recordings an embedded server loads (``"02_function_calling"``
    loads ``notebooks/recordings/02_function_calling.yaml``); ``None`` loads them all.
    """
    settings = settings or Settings.from_env()
    server: ReplayServer | None = None
    recording = False
    if not settings.offline:
        assert settings.endpoint is not None
        endpoint = settings.endpoint
        auth = "API key" if settings.api_key is not None else "Microsoft Entra ID"
        description = (
            f"Live: Azure OpenAI resource from AZURE_OPENAI_ENDPOINT "
            f"(api-version {settings.api_version}, auth: {auth})."
        )
    else:
        shared = (
            None
            if settings.replay_url == "embedded"
            else (settings.replay_url or f"http://{LOOPBACK}:{DEFAULT_PORT}")
        )
        health = probe(shared) if shared else None
        if shared and health and health.get("mode") == "record":
            # A recorder forwards to Azure with the caller's own credentials; the settings keep
            # describing the offline run that the recording is for.
            endpoint = shared
            recording = True
            description = (
                "Recording: requests go through the local recorder to your Azure resource."
            )
        elif shared and health:
            endpoint = shared
            description = (
                f"Offline: replay server at {shared} ({health.get('mode')} mode, "
                f"{len(health.get('recordings', []))} recordings files); no Azure calls."
            )
        else:
            if settings.replay_url not in (None, "embedded"):
                raise ConnectionError(
                    f"No replay server answers at REPLAY_URL={settings.replay_url}"
                )
            recordings = recordings_for(notebook)
            server = _embedded_server(settings, recordings)
            endpoint = server.url
            names = ", ".join(f"recordings/{p.name}" for p in recordings)
            description = (
                f"Offline: replaying {names} on an embedded replay server "
                f"({settings.replay_mode.value} mode); no Azure calls."
            )
    connection = Connection(
        settings=settings, endpoint=endpoint, offline=settings.offline,
        description=description, server=server, recording=recording,
    )  # fmt: skip
    if connection.offline and not connection.recording:
        _install_miss_handler()
        if server is not None and settings.replay_mode is Mode.LENIENT:
            _install_unrecorded_notice()
    if not quiet:
        print(description)
    return connection
