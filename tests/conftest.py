"""Shared fixtures: a real replay server on a free loopback port, and SDK clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI
from openai.types.chat import ChatCompletionMessageParam

from helpers.replay import ReplayConfig, ReplayServer

RECORDINGS = Path(__file__).parent / "recordings"
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


def async_client(server: ReplayServer, **options: Any) -> AsyncAzureOpenAI:
    options.setdefault("api_key", server.api_key)
    options.setdefault("max_retries", 0)
    return AsyncAzureOpenAI(azure_endpoint=server.url, api_version=API_VERSION, **options)
