"""Replay server configuration: mode, key, deployments and simulator switches.

Everything the server can be told lives in :class:`ReplayConfig`, so a
notebook, a test or a benchmark sets it in one of three equivalent ways: the
constructor, a YAML file (``--config FILE``), or command-line flags. Nothing
needs to reach into a running server. Deployments default to the ones the
cookbook uses; a file can replace them and switch simulators on::

    deployments:
      gpt-5.4-mini:  {kind: chat, model: gpt-5.4-mini-2026-03-17, requests_per_minute: 6}
      my-embeddings: {kind: embeddings, model: text-embedding-3-large, dimensions: 3072}
    rate_limits:
      enforce: true        # exhausted quotas answer 429 (default: headers only)
      window_seconds: 1    # requests per minute evaluated per 1 s (or 10 s) window
    seed: 0                # ids and simulated randomness
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._support.models import catalogue

DEFAULT_API_KEY = "local-replay-key"
"""The key the replay server accepts unless told otherwise; `.env.example` uses it too."""

DEFAULT_PORT = 8765
"""The port `make serve` listens on, and where `helpers.connect` looks for it."""

DEFAULT_REGION = "swedencentral"

DEFAULT_PROJECT = "cookbook"
"""The Foundry project the offline clients name: ``{server}/api/projects/cookbook`` (the server
answers any project name; helpers/replay/behaviours/projects.py)."""

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
    ``record-missing``: answer from recordings; forward only what they do not hold, and append it.
    """

    REPLAY = "replay"
    LENIENT = "lenient"
    RECORD = "record"
    RECORD_MISSING = "record-missing"

    @property
    def records(self) -> bool:
        """Whether this mode forwards to an upstream and appends what it answers."""
        return self in (Mode.RECORD, Mode.RECORD_MISSING)


class Latency(BaseModel):
    """How long answers take: to the first token, then per token (streams and JSON).

    With ``spread`` > 0 the time to first token of each answer is drawn from a log-normal
    distribution (median ``time_to_first_token_ms``), as real latencies have a long right tail;
    the answer's ``x-replay-delay-ms`` header says the delay drawn (the simulator's header).
    """

    model_config = ConfigDict(extra="forbid")

    time_to_first_token_ms: float = Field(default=0, ge=0, le=600_000)
    per_token_ms: float = Field(default=0, ge=0, le=60_000)
    spread: float = Field(
        default=0,
        ge=0,
        le=2,
        description="Log-normal sigma of the time to first token: each answer's is drawn with "
        "median time_to_first_token_ms (a long right tail), seeded; 0 keeps it fixed.",
    )


class Faults(BaseModel):
    """Random failures: each request fails with ``probability``, with one of ``kinds``."""

    model_config = ConfigDict(extra="forbid")

    probability: float = Field(default=0, ge=0, le=1)
    kinds: tuple[Literal["500", "503", "408", "429", "reset", "hang", "cut"], ...] = (
        "500", "503", "408", "429", "reset", "hang", "cut",
    )  # fmt: skip


class FilterRule(BaseModel):
    """A prompt that Azure's content filter would block: a category, a severity, patterns."""

    model_config = ConfigDict(extra="forbid")

    category: Literal["hate", "self_harm", "sexual", "violence", "jailbreak"]
    severity: Literal["low", "medium", "high"] = "high"
    patterns: tuple[str, ...] = Field(description="Case-insensitive regular expressions.")


DEFAULT_FILTER_RULES: tuple[FilterRule, ...] = (
    FilterRule(category="violence", patterns=(r"\b(build|make)\s+(a\s+)?(bomb|explosive)s?\b",)),
    FilterRule(category="self_harm", patterns=(r"\b(kill|hurt)\s+myself\b",)),
    FilterRule(
        category="jailbreak",
        patterns=(r"\bignore\s+(all\s+)?(your\s+|the\s+)?(previous|prior)\s+instructions\b",),
    ),
)
"""A deliberately small, documented stand-in for Azure's classifiers (lenient mode only)."""


class ContentFilterSettings(BaseModel):
    """Lenient mode's content filter: prompts matching a rule get Azure's 400."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    rules: tuple[FilterRule, ...] = DEFAULT_FILTER_RULES


class Deployment(BaseModel):
    """A model deployment the server pretends to host.

    ``family`` and ``reasoning_efforts`` default to what the model catalogue
    (``helpers/data/models.yaml``) says of ``model``; a model the catalogue does not know is a
    standard model unless the deployment says otherwise.
    """

    kind: Literal["chat", "embeddings"]
    model: str
    family: Literal["standard", "reasoning"] = Field(
        default="standard",
        description="reasoning: GPT-5 / o-series rules (max_completion_tokens, reasoning_effort, "
        "default sampling only).",
    )
    reasoning_efforts: tuple[str, ...] = Field(
        default=(), description="The reasoning_effort values the model accepts (reasoning only)."
    )
    dimensions: int | None = Field(default=None, description="Embedding size (embeddings only).")
    requests_per_minute: int = 60
    tokens_per_minute: int = 10_000
    batch: bool = Field(
        default=False,
        description="A Global-Batch deployment (sku globalbatch): the model a Batch API job's "
        "lines name; jobs may use no other.",
    )
    content_filter_streaming: Literal["default", "asynchronous"] = Field(
        default="default",
        description="How the deployment's content filter releases a stream (Learn, \"Content "
        'streaming"): default buffers the text and annotates every chunk; asynchronous sends '
        "text at once and the verdicts later, in chunks of their own with no delta.",
    )
    latency: Latency | None = Field(default=None, description="Overrides the server's latency.")
    faults: Faults | None = Field(default=None, description="Overrides the server's faults.")
    routes_to: tuple[str, ...] = Field(
        default=(),
        description="A model router deployment (model: model-router-...): the models it answers "
        "with, cheapest first (Learn's 'model subset'); each request is answered by one of them "
        "(helpers/replay/behaviours/router.py). Empty: an ordinary deployment.",
    )
    routed_by: str | None = Field(
        default=None,
        description="Set by the server on the deployment a routed request is answered as: the "
        "router's model. Not for configuration files.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_catalogue(cls, data: object) -> object:
        if not isinstance(data, dict) or not isinstance(data.get("model"), str):
            return data
        entry = catalogue().find(data["model"])
        if entry is None:
            return data
        filled = dict(data)
        if entry.kind == "router":
            return filled
        filled.setdefault("family", entry.family)
        if filled["family"] == entry.family:
            filled.setdefault("reasoning_efforts", entry.efforts)
        if entry.kind == "embeddings":
            filled.setdefault("dimensions", entry.limits.value.dimensions)
        return filled

    @model_validator(mode="after")
    def _routes_are_the_routers(self) -> Deployment:
        entry = catalogue().find(self.model)
        is_router = entry is not None and entry.kind == "router"
        if is_router and not self.routes_to:
            raise ValueError(f"a {self.model} deployment needs routes_to (its model subset)")
        if self.routes_to and not is_router:
            raise ValueError(f"routes_to is for a model router deployment, not {self.model}")
        if entry is not None and entry.routes_to is not None:
            unknown = [m for m in self.routes_to if m not in entry.routes_to.value]
            unlisted = [m for m in self.routes_to if catalogue().find(m) is None]
            if unknown or unlisted:
                raise ValueError(
                    f"{self.model} routes only to models Learn lists for it and the catalogue "
                    f"knows; not: {', '.join(unknown + unlisted)}"
                )
        return self

    @property
    def is_reasoning(self) -> bool:
        return self.family == "reasoning"

    @property
    def is_router(self) -> bool:
        return bool(self.routes_to)


def _default(model: str, **settings: object) -> Deployment:
    """A built-in deployment of a catalogue model (kind, family, efforts and size from there)."""
    entry = catalogue().lookup(model)
    kind = "chat" if entry.kind == "router" else entry.kind
    return Deployment.model_validate({"kind": kind, "model": model, **settings})


DEFAULT_DEPLOYMENTS: dict[str, Deployment] = {
    # The catalogue rule's defaults today (`make models`): reasoning models of the GPT-5.4 family.
    "gpt-5.4-mini": _default("gpt-5.4-mini-2026-03-17", tokens_per_minute=20_000),
    "gpt-5.4-nano": _default("gpt-5.4-nano-2026-03-17", tokens_per_minute=20_000),
    # The Batch API's deployment: same model, Global-Batch SKU (half the price, 24 h window);
    # gpt-5.4-mini is in Learn's Global Batch model list.
    "gpt-5.4-mini-batch": _default("gpt-5.4-mini-2026-03-17", batch=True),
    # The same model behind a content filter configuration with the Asynchronous Filter: the
    # streaming mode is a setting of the filter a deployment uses, so one deployment has one.
    "gpt-5.4-mini-async-filter": _default(
        "gpt-5.4-mini-2026-03-17", tokens_per_minute=20_000, content_filter_streaming="asynchronous"
    ),
    "text-embedding-3-small": _default("text-embedding-3-small"),
    # Model router (notebook 4): one deployment, each answer from one of its model subset, named
    # in the answer's `model`. The subset is two of the models Learn lists for 2025-11-18.
    "model-router": _default(
        "model-router-2025-11-18",
        tokens_per_minute=20_000,
        routes_to=("gpt-5.4-nano-2026-03-17", "gpt-5.4-mini-2026-03-17"),
    ),
}
"""The deployments the server hosts unless told otherwise: the models the catalogue's rule picks
(lifecycle dates: ``make models``). A deployment of any other catalogue model is one line of
``replay.yaml`` (``deployments: {gpt-4.1-mini: {kind: chat, model: gpt-4.1-mini-2025-04-14}}``)."""

NOTEBOOK_DEFAULTS: tuple[str, ...] = (
    "gpt-5.4-mini", "gpt-5.4-nano", "gpt-5.4-mini-batch", "text-embedding-3-small",
)  # fmt: skip
"""The deployments the notebooks use by default: tests/test_models.py fails 30 days before any
of their models stops taking new deployments or retires."""


class RateLimitSettings(BaseModel):
    """Per-deployment quotas (sizes are on each :class:`Deployment`)."""

    model_config = ConfigDict(extra="forbid")

    enforce: bool = Field(
        default=False,
        description="Answer 429 when a quota is exhausted (off: only x-ratelimit-* headers).",
    )
    window_seconds: Literal[1, 10] = Field(
        default=1,
        description="The period over which requests per minute are evaluated: Learn's "
        "'typically 1 or 10 seconds' (Manage Azure OpenAI in Microsoft Foundry Models quota).",
    )


class BatchSettings(BaseModel):
    """How long a Batch API job spends in each status, in seconds of the server's clock.

    Azure takes minutes to hours; the defaults are short so a notebook polling every
    second sees a job through ``validating``, ``in_progress`` and ``finalizing`` to
    ``completed`` in about three seconds.
    """

    model_config = ConfigDict(extra="forbid")

    validating_seconds: float = Field(default=1.0, ge=0)
    in_progress_seconds: float = Field(default=1.0, ge=0)
    finalizing_seconds: float = Field(default=1.0, ge=0)
    cancelling_seconds: float = Field(
        default=1.0, ge=0, description="From cancel to ``cancelled`` (Azure: up to 10 minutes)."
    )
    completion_window_seconds: float = Field(
        default=24 * 3600,
        gt=0,
        description="From creation to ``expires_at``; a job still running then is ``expired``.",
    )


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
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    batches: BatchSettings = Field(default_factory=BatchSettings)
    latency: Latency | None = Field(
        default=None, description="Pace every answer (default: recorded delays, none simulated)."
    )
    faults: Faults | None = Field(default=None, description="Random faults for every deployment.")
    content_filter: ContentFilterSettings = Field(default_factory=ContentFilterSettings)
    seed: int = Field(default=0, description="Seeds ids and every simulator's randomness.")
    room_keys: tuple[str, ...] = Field(
        default=(),
        description="Room mode (helpers/replay/room.py): the learners' keys, learner 1 first; "
        "each key gets a state of its own and api_key is refused. Empty: an ordinary server.",
    )

    @model_validator(mode="after")
    def _room_is_replayed(self) -> ReplayConfig:
        if self.room_keys and self.mode.records:
            raise ValueError("a room replays: record mode forwards every learner to one upstream")
        if len(set(self.room_keys)) != len(self.room_keys) or "" in self.room_keys:
            raise ValueError("room keys must be distinct and not empty")
        return self

    def latency_for(self, deployment: Deployment | None) -> Latency | None:
        return (deployment.latency if deployment else None) or self.latency

    def faults_for(self, deployment: Deployment | None) -> Faults | None:
        return (deployment.faults if deployment else None) or self.faults

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

    def with_file(self, path: Path) -> ReplayConfig:
        """Apply a YAML config file: deployments, simulator switches, seed, region."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        unknown = sorted(set(data) - FILE_KEYS)
        if unknown:
            raise ValueError(
                f"{path}: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(FILE_KEYS))}"
            )
        if "deployments" in data:
            raw = data["deployments"]
            if not isinstance(raw, dict) or not raw:
                raise ValueError(f"{path}: expected a non-empty 'deployments' mapping")
        merged = self.model_dump()
        merged.update(data)
        return ReplayConfig.model_validate(merged)

    @property
    def record_path(self) -> Path:
        if self.record_to is not None:
            return self.record_to
        first = self.recordings[0]
        if first.suffix in {".yaml", ".yml"}:
            return first
        return first / "recorded.yaml"


FILE_KEYS = frozenset(
    {"deployments", "rate_limits", "batches", "latency", "faults", "seed", "region", "mode",
     "content_filter"}
)  # fmt: skip
"""Top-level keys a ``--config`` file may set."""
