"""Replay server configuration: mode, key, deployments.

Deployments default to the three the cookbook uses. A YAML file can replace
them::

    deployments:
      gpt-4o:        {kind: chat, model: gpt-4o-2024-08-06}
      my-embeddings: {kind: embeddings, model: text-embedding-3-large, dimensions: 3072}
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

DEFAULT_API_KEY = "local-replay-key"
"""The key the replay server accepts unless told otherwise; `.env.example` uses it too."""

DEFAULT_PORT = 8765
"""The port `make serve` listens on, and where `helpers.connect` looks for it."""

DEFAULT_REGION = "swedencentral"

API_VERSION_PATTERN = re.compile(r"20\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(-preview)?")
"""A dated api-version (``2024-10-21``, ``2024-10-01-preview``); Azure answers 404 to others."""


def project_root() -> Path:
    """The checkout this package lives in."""
    return Path(__file__).resolve().parents[2]


def default_recordings_dir() -> Path:
    return project_root() / "notebooks" / "recordings"


class Mode(StrEnum):
    """How the server answers a request.

    ``replay``: from recordings only; a miss is an error (tests, CI).
    ``lenient``: from recordings, and a clearly marked simulated answer on a miss (workshops).
    ``record``: forward to the upstream resource and append what it answers.
    """

    REPLAY = "replay"
    LENIENT = "lenient"
    RECORD = "record"


class Deployment(BaseModel):
    """A model deployment the server pretends to host."""

    kind: Literal["chat", "embeddings"]
    model: str
    dimensions: int | None = Field(default=None, description="Embedding size (embeddings only).")
    requests_per_minute: int = 60
    tokens_per_minute: int = 10_000


DEFAULT_DEPLOYMENTS: dict[str, Deployment] = {
    "gpt-4o": Deployment(kind="chat", model="gpt-4o-2024-08-06"),
    "gpt-4o-mini": Deployment(kind="chat", model="gpt-4o-mini-2024-07-18"),
    "text-embedding-3-small": Deployment(
        kind="embeddings", model="text-embedding-3-small", dimensions=1536
    ),
}


class ReplayConfig(BaseModel):
    """Everything the server needs to start."""

    mode: Mode = Mode.REPLAY
    api_key: str = DEFAULT_API_KEY
    recordings: list[Path] = Field(default_factory=lambda: [default_recordings_dir()])
    record_to: Path | None = Field(
        default=None,
        description="File that record mode appends to (default: first recordings path).",
    )
    upstream: str | None = None
    draft: bool = Field(
        default=False,
        description="Lenient mode: append each miss to record_path as a draft for a curator.",
    )
    region: str = DEFAULT_REGION
    deployments: dict[str, Deployment] = Field(default_factory=lambda: dict(DEFAULT_DEPLOYMENTS))

    @classmethod
    def from_env(cls, **overrides: object) -> ReplayConfig:
        """Defaults, then ``REPLAY_*`` environment variables, then explicit overrides."""
        values: dict[str, object] = {}
        if key := os.environ.get("REPLAY_API_KEY"):
            values["api_key"] = key
        if mode := os.environ.get("REPLAY_MODE"):
            values["mode"] = mode
        if os.environ.get("REPLAY_DRAFT", "").strip() in {"1", "true", "yes"}:
            values["draft"] = True
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    def with_deployments_file(self, path: Path) -> ReplayConfig:
        """Replace the deployments with those listed in a YAML file."""
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        raw = data.get("deployments")
        if not isinstance(raw, dict) or not raw:
            raise ValueError(f"{path}: expected a non-empty 'deployments' mapping")
        deployments = {name: Deployment.model_validate(spec) for name, spec in raw.items()}
        return self.model_copy(update={"deployments": deployments})

    @property
    def record_path(self) -> Path:
        if self.record_to is not None:
            return self.record_to
        first = self.recordings[0]
        if first.suffix in {".yaml", ".yml"}:
            return first
        return first / "recorded.yaml"
