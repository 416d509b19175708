"""Shared fixtures: a real replay server on a free loopback port, and SDK clients for it."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI
from openai.types.chat import ChatCompletionMessageParam

from helpers._support.settings import Settings
from helpers.replay import RecordingsFile, ReplayConfig, ReplayServer
from helpers.replay.pytest_plugin import Replay

RECORDINGS = Path(__file__).parent / "recordings"
SOLUTIONS = Path(__file__).parent.parent / "solutions"


def solution(stem: str) -> Any:
    """``solutions/<stem>.py`` imported by path (the folder is no package): an exercise's answer."""
    spec = importlib.util.spec_from_file_location(f"solution_{stem}", SOLUTIONS / f"{stem}.py")
    assert spec is not None and spec.loader is not None, f"no solutions/{stem}.py"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


API_VERSION = "2024-10-01-preview"

StartServer = Callable[..., ReplayServer]

# Requests the shared recordings (replay_server.yaml, replay_core.yaml) answer.
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello in five words."}]
STORY: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Tell a three-word story."}]
INPUTS = ["The quick brown fox", "jumps over the lazy dog"]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start replay servers (stopped after the test): ``start_server("file.yaml", mode=...)``."""
    servers: list[ReplayServer] = []

    def start(
        *recordings: str | Path, clock: Callable[[], float] | None = None, **config: Any
    ) -> ReplayServer:
        paths = [p if isinstance(p, Path) else RECORDINGS / p for p in recordings]
        options: dict[str, Any] = {"clock": clock} if clock is not None else {}
        server = ReplayServer(ReplayConfig(recordings=paths, **config), **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


StartRecorder = Callable[[ReplayServer | str], tuple[ReplayServer, Path]]


@pytest.fixture
def start_recorder(start_server: StartServer, tmp_path: Path) -> StartRecorder:
    """``recorder, target = start_recorder(upstream)``: a server in record mode in front of
    ``upstream`` (a replay server, reached as ``localhost``, or a URL), writing to ``target``."""

    def start(upstream: ReplayServer | str) -> tuple[ReplayServer, Path]:
        url = upstream if isinstance(upstream, str) else f"http://localhost:{upstream.port}"
        target = tmp_path / "recorded.yaml"
        return start_server(target, mode="record", upstream=url, record_to=target), target

    return start


@pytest.fixture
def drafting(start_server: StartServer, tmp_path: Path) -> tuple[ReplayServer, Path]:
    """A lenient server in draft mode and the curated file it appends each miss to (empty
    at first, and its own recordings, so a saved draft answers the same request again)."""
    target = tmp_path / "drafts.yaml"
    RecordingsFile.new(target, "curated").save()
    return start_server(target, mode="lenient", draft=True, record_to=target), target


def user(text: str) -> list[Any]:
    """A conversation of one user message, as ``list[Any]`` so that any ``messages=`` takes it
    (the SDK's, a blocklist's, a pipeline's)."""
    return [{"role": "user", "content": text}]


def chat_params(model: str, question: str, **options: Any) -> dict[str, Any]:
    """``chat.completions.create``'s arguments for ``question`` asked alone of ``model``."""
    return {"model": model, "messages": user(question), **options}


def sync_client(server: ReplayServer, **options: Any) -> AzureOpenAI:
    """The official SDK client pointed at a replay server (no retries unless asked)."""
    options.setdefault("api_key", server.api_key)
    options.setdefault("max_retries", 0)
    options.setdefault("api_version", API_VERSION)
    return AzureOpenAI(azure_endpoint=server.url, **options)


def v1_client(server: ReplayServer, **options: Any) -> OpenAI:
    """The plain ``OpenAI`` client on a replay server's v1 API (``/openai/v1/``, no
    api-version), as Microsoft documents it for Azure (no retries unless asked)."""
    options.setdefault("api_key", server.api_key)
    options.setdefault("max_retries", 0)
    return OpenAI(base_url=f"{server.url}/openai/v1/", **options)


def async_v1_client(server: ReplayServer, **options: Any) -> AsyncOpenAI:
    options.setdefault("api_key", server.api_key)
    options.setdefault("max_retries", 0)
    return AsyncOpenAI(base_url=f"{server.url}/openai/v1/", **options)


def async_client(server: ReplayServer, **options: Any) -> AsyncAzureOpenAI:
    options.setdefault("api_key", server.api_key)
    options.setdefault("max_retries", 0)
    return AsyncAzureOpenAI(azure_endpoint=server.url, api_version=API_VERSION, **options)


RECORDED_DEPLOYMENT = "gpt-5.4-mini"
"""The chat deployment the SDK-level live checks' recordings name (the cookbook's default)."""


@pytest.fixture
def chat_deployment(replay: Replay) -> str:
    """For the SDK-level live checks (tests/live/, run on Azure by ``make test-live``): the
    recordings' deployment offline; live (``--replay-mode=live``), the one ``.env`` names."""
    return Settings.from_env().chat_deployment if replay.live else RECORDED_DEPLOYMENT
