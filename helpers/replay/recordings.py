"""The recordings store: YAML files of request/response interactions.

One file per notebook (and per test module that needs one). A file reads top
to bottom like a transcript::

    # Curated recordings for notebooks/02_function_calling.ipynb ...
    format: cookbook-recordings/1
    provenance: curated
    description: What these interactions show.
    interactions:
    - name: first-turn
      request:
        method: POST
        path: /openai/deployments/gpt-4o-mini/chat/completions
        api_version: 2024-10-01-preview
        body: {messages: [...], model: gpt-4o-mini}
      response:
        status: 200
        headers: {x-ms-region: swedencentral}
        body: {...}                         # a JSON response, or:
        stream:                             # SSE `data:` payloads, one per chunk
        - {data: '{"choices":[],...}', delay_ms: 0}

Identical requests recorded several times replay in recorded order, then
start again from the first. Embedding vectors are stored as floats whatever
encoding was asked for; the server encodes them on the way out.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .matching import canonical_key

FORMAT = "cookbook-recordings/1"

CURATED_HEADER = """\
Curated recordings: written by hand to Azure OpenAI's documented wire shapes
(REST specs and observed SDK traffic), NOT captured from a live Azure resource.
Ids, timestamps, token counts, content-filter annotations and embedding vectors
are illustrative. Record mode (`make record`) replaces them with real traffic.
"""

RECORDED_HEADER = """\
Recorded by the replay server in record mode from a live upstream resource.
Secrets (api-key, Authorization, cookies) and the upstream host name were
scrubbed before writing.
"""


class StreamChunk(BaseModel):
    """One server-sent event: the text after ``data:`` and the pause before it."""

    model_config = ConfigDict(extra="forbid")

    data: str
    delay_ms: float = 0


class RecordedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str = "POST"
    path: str
    api_version: str | None = Field(
        default=None, description="Must equal the request's api-version; omitted matches any."
    )
    body: Any = None


class RecordedResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: int = 200
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    stream: list[StreamChunk] | None = None

    @model_validator(mode="after")
    def _body_or_stream(self) -> RecordedResponse:
        if self.body is not None and self.stream is not None:
            raise ValueError("a response has a body or a stream, not both")
        return self


class Interaction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    request: RecordedRequest
    response: RecordedResponse


class MatchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ignore_fields: list[str] = Field(
        default_factory=list,
        description="Body fields (dotted paths) left out when comparing requests.",
    )


class RecordingsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["cookbook-recordings/1"] = FORMAT
    provenance: Literal["curated", "recorded"]
    description: str = ""
    match: MatchOptions = Field(default_factory=MatchOptions)
    interactions: list[Interaction] = Field(default_factory=list)


class RecordingsError(ValueError):
    """A recordings file that cannot be read."""


def display_path(path: Path) -> str:
    """A path as users should see it: relative to the project, never machine-specific."""
    from .config import project_root

    try:
        return path.resolve().relative_to(project_root()).as_posix()
    except ValueError:
        return path.name


class RecordingsFile:
    """One YAML file of interactions, with its header comment kept on save."""

    def __init__(self, path: Path, document: RecordingsDocument, header: str = "") -> None:
        self.path = path
        self.document = document
        self.header = header

    @classmethod
    def load(cls, path: Path) -> RecordingsFile:
        text = path.read_text(encoding="utf-8")
        header_lines = []
        for line in text.splitlines():
            if line.startswith("#"):
                header_lines.append(line[1:].removeprefix(" "))
            else:
                break
        try:
            raw = yaml.safe_load(text) or {}
            document = RecordingsDocument.model_validate(raw)
        except (yaml.YAMLError, ValueError) as exc:
            raise RecordingsError(
                f"{display_path(path)}: not a valid recordings file: {exc}"
            ) from exc
        header = "\n".join(header_lines) + ("\n" if header_lines else "")
        return cls(path, document, header)

    @classmethod
    def new(cls, path: Path, provenance: Literal["curated", "recorded"]) -> RecordingsFile:
        header = CURATED_HEADER if provenance == "curated" else RECORDED_HEADER
        return cls(path, RecordingsDocument(provenance=provenance), header)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.document.model_dump(mode="json", exclude_defaults=False)
        for interaction in data["interactions"]:
            _drop_empty(interaction)
        comment = "".join(f"# {line}".rstrip() + "\n" for line in self.header.splitlines())
        body = yaml.dump(
            data, Dumper=_RecordingsDumper, sort_keys=False, allow_unicode=True, width=100
        )
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(comment + body, encoding="utf-8")
        tmp.replace(self.path)

    @property
    def display_name(self) -> str:
        return display_path(self.path)


def _drop_empty(interaction: dict[str, Any]) -> None:
    if interaction.get("name") is None:
        interaction.pop("name", None)
    request = interaction["request"]
    if request.get("api_version") is None:
        request.pop("api_version")
    response = interaction["response"]
    for key in ("body", "stream"):
        if response.get(key) is None:
            response.pop(key, None)
    if not response.get("headers"):
        response.pop("headers", None)


class _RecordingsDumper(yaml.SafeDumper):
    """Block scalars for multi-line text, so message contents read as prose."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_RecordingsDumper.add_representer(str, _str_representer)


def _vector_representer(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    # Embedding vectors (long lists of numbers) go on one line; everything else in blocks.
    flow = len(value) > 8 and all(isinstance(v, (int, float)) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_RecordingsDumper.add_representer(list, _vector_representer)


def _mapping_representer(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.MappingNode:
    # Small all-scalar mappings ({filtered: false, severity: safe}) on one line.
    flow = 0 < len(value) <= 3 and all(
        isinstance(v, (bool, int, float, type(None))) or (isinstance(v, str) and len(v) < 30)
        for v in value.values()
    )
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=flow)


_RecordingsDumper.add_representer(dict, _mapping_representer)


class Match(BaseModel):
    """A recorded interaction chosen for a request."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    interaction: Interaction
    source: str
    index: int


class RecordingsStore:
    """All loaded recordings files, indexed for lookup."""

    def __init__(self, files: list[RecordingsFile]) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._served: dict[tuple[int, str], int] = defaultdict(int)
        self._index: list[dict[str, list[int]]] = []
        self._reindex()

    @classmethod
    def from_paths(cls, paths: list[Path]) -> RecordingsStore:
        """Load every ``*.yaml`` file named, or found directly inside a named folder."""
        files: list[RecordingsFile] = []
        for path in paths:
            if path.is_dir():
                files.extend(RecordingsFile.load(p) for p in sorted(path.glob("*.y*ml")))
            elif path.exists():
                files.append(RecordingsFile.load(path))
        return cls(files)

    def _reindex(self) -> None:
        self._index = []
        for recordings in self.files:
            keys: dict[str, list[int]] = defaultdict(list)
            ignore = recordings.document.match.ignore_fields
            for i, interaction in enumerate(recordings.document.interactions):
                req = interaction.request
                keys[canonical_key(req.method, req.path, req.api_version, req.body, ignore)].append(
                    i
                )
            self._index.append(keys)

    @property
    def source_names(self) -> list[str]:
        return [f.display_name for f in self.files]

    def lookup(self, method: str, path: str, api_version: str | None, body: Any) -> Match | None:
        """The next recorded interaction for this request, or ``None``."""
        with self._lock:
            for file_no, recordings in enumerate(self.files):
                ignore = recordings.document.match.ignore_fields
                for version in (api_version, None):
                    key = canonical_key(method, path, version, body, ignore)
                    positions = self._index[file_no].get(key)
                    if positions:
                        served = self._served[(file_no, key)]
                        self._served[(file_no, key)] = served + 1
                        index = positions[served % len(positions)]
                        return Match(
                            interaction=recordings.document.interactions[index],
                            source=recordings.display_name,
                            index=index,
                        )
        return None

    def candidates(self) -> list[tuple[RecordingsFile, int, Interaction]]:
        return [
            (f, i, interaction)
            for f in self.files
            for i, interaction in enumerate(f.document.interactions)
        ]

    def append(self, target: Path, interaction: Interaction) -> RecordingsFile:
        """Add an interaction to ``target`` (created as a recorded file if new) and save it."""
        with self._lock:
            for recordings in self.files:
                if recordings.path.resolve() == target.resolve():
                    break
            else:
                recordings = (
                    RecordingsFile.load(target)
                    if target.exists()
                    else RecordingsFile.new(target, "recorded")
                )
                self.files.append(recordings)
            recordings.document.interactions.append(interaction)
            recordings.save()
            self._reindex()
            return recordings

    def reset(self) -> None:
        """Forget how often each interaction was served (replay starts from the top)."""
        with self._lock:
            self._served.clear()
