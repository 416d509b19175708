"""What the curate scripts share: the file they write, its ids, and how a request is recorded.

The scripts ``notebooks/recordings/curate_*.py`` and ``tests/recordings/curate_*.py`` write
recordings by hand: each request is the one a notebook or a test sends, each answer is
built with the replay server's Azure-shaped builders (:mod:`helpers.replay.azure`,
:mod:`helpers.replay.services.responses.simulator`) and the texts and token counts are
chosen by hand. A :class:`Curation` is the file being written with its deterministic ids
(the same ids on every run, so a script rewrites its file byte for byte); the functions
below build the requests and streams every script records the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..._support.tokenizer import count_tokens
from .. import azure
from ..config import DEFAULT_DEPLOYMENTS
from ..services.responses import simulator as sim
from .store import (
    FORMAT,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    RecordingsFile,
    StreamChunk,
)

CHAT_API_VERSION = "2025-04-01-preview"
"""The api-version the curated chat completions are recorded with."""

CURATED_DEPLOYMENT = DEFAULT_DEPLOYMENTS["gpt-5.4-mini"]
"""The deployment the curated answers come from (its model name, a reasoning model)."""


class Curation:
    """A curated recordings file being written, with the ids its answers take in turn."""

    def __init__(self, recordings: RecordingsFile, *, seed: int, description: str) -> None:
        self.recordings = recordings
        self.recordings.document.description = description
        self.ids = azure.IdSource(seed)

    @classmethod
    def new(cls, target: Path, *, seed: int, description: str) -> Curation:
        """A new curated file at ``target``, written from scratch."""
        return cls(RecordingsFile.new(target, "curated"), seed=seed, description=description)

    @classmethod
    def of_drafts(cls, target: Path, *, seed: int, description: str) -> Curation:
        """The file a lenient draft run wrote (``REPLAY_DRAFT=1``): its requests are the
        notebook's own, its answers the script's to write."""
        recordings = RecordingsFile.load(target)
        recordings.document.format = FORMAT
        return cls(recordings, seed=seed, description=description)

    @property
    def interactions(self) -> list[Interaction]:
        return self.recordings.document.interactions

    def add(self, name: str, request: RecordedRequest, response: RecordedResponse) -> None:
        self.interactions.append(Interaction(name=name, request=request, response=response))

    def answer_drafts(
        self,
        *,
        chat: Callable[[dict[str, Any]], tuple[str, RecordedResponse]],
        responses: Callable[[dict[str, Any]], tuple[str, RecordedResponse]],
    ) -> None:
        """Name and answer, in order, each request the draft run saved: a chat completion
        (recorded at :data:`CHAT_API_VERSION`) by ``chat``, a Responses API request by
        ``responses``; each is given the request's body."""
        for interaction in self.interactions:
            request = interaction.request
            if request.path.endswith("/chat/completions"):
                request.api_version = CHAT_API_VERSION
                interaction.name, interaction.response = chat(request.body)
            else:
                interaction.name, interaction.response = responses(request.body)

    def save(self) -> None:
        self.recordings.save()

    def reasoned_answer(
        self,
        body: dict[str, Any],
        text: str,
        *,
        input_tokens: int,
        reasoning_tokens: int,
        visible_tokens: int | None = None,
    ) -> dict[str, Any]:
        """gpt-5.4-mini's completed Response to ``body``: a reasoning item, then ``text``.

        Output tokens are the reasoning tokens plus ``visible_tokens`` (by default the text's
        count in o200k_base).
        """
        output = [
            sim.reasoning_item(self.ids.item_id("rs")),
            sim.message_item(self.ids.item_id("msg"), text),
        ]
        visible = count_tokens(text) if visible_tokens is None else visible_tokens
        usage = sim.responses_usage(
            input_tokens, visible + reasoning_tokens, reasoning_tokens=reasoning_tokens
        )
        return sim.response_object(
            body,
            CURATED_DEPLOYMENT,
            response_id=self.ids.item_id("resp"),
            output=output,
            usage=usage,
        )


def chat_request(
    deployment: str, body: dict[str, Any], api_version: str | None = CHAT_API_VERSION
) -> RecordedRequest:
    """A chat completion request to ``deployment`` (its Azure path, with an api-version)."""
    return RecordedRequest(
        path=f"/openai/deployments/{deployment}/chat/completions",
        api_version=api_version,
        body=body,
    )


def responses_request(body: dict[str, Any]) -> RecordedRequest:
    """A Responses API request (the v1 path, which takes no api-version)."""
    return RecordedRequest(path="/openai/v1/responses", body=body)


def event_stream(
    events: Iterable[tuple[str, dict[str, Any]]], *, pause_ms: float = 0
) -> list[StreamChunk]:
    """A Responses API stream: each event under its name, the first at once and every other
    ``pause_ms`` after the one before."""
    return [
        StreamChunk(data=azure.dumps(payload), event=kind, delay_ms=pause_ms if n else 0)
        for n, (kind, payload) in enumerate(events)
    ]
