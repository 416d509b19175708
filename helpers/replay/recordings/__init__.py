"""Recordings: the YAML store (:mod:`.store`), what makes two requests the same
(:mod:`.matching`) and record mode (:mod:`.record`)."""

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
