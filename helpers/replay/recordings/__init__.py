"""Recordings: the YAML store (:mod:`.store`), what makes two requests the same
(:mod:`.matching`), record mode (:mod:`.record`), the linter (:mod:`.lint`) and what the
curate scripts share (:mod:`.curate`)."""

from .store import (
    Interaction,
    RecordedRequest,
    RecordedResponse,
    RecordingsFile,
    RecordingsStore,
    StreamChunk,
)

__all__ = [
    "Interaction",
    "RecordedRequest",
    "RecordedResponse",
    "RecordingsFile",
    "RecordingsStore",
    "StreamChunk",
]
