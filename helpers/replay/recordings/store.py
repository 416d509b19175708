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

Format 2 (``cookbook-recordings/2``) adds, all optional, so that every Azure
API can be written down by hand:

* ``request.content_type`` / ``response.content_type``: non-JSON content. A
  multipart upload is matched on its normalised form (``{purpose: batch,
  file: {filename: x.jsonl, sha256: ...}}``, see :mod:`.matching`); a JSONL or
  other text answer is ``response.text``.
* ``response.stream_end``: how a stream ends: ``done`` (a last ``data: [DONE]``),
  ``eof`` (the body ends after the last event), ``cut`` (the connection drops
  mid-body, as when a proxy times out) or ``reset`` (a TCP reset). Omitted, a
  stream ends the way its API ends one: a Chat Completions stream with
  ``data: [DONE]``, a Responses API stream after its terminal event
  (``response.completed``, ``response.incomplete``, ``response.failed`` or
  ``error``), with no ``[DONE]``: Azure never sends one there, so a Responses
  stream that says ``done`` is refused.
* ``response.fault``: ``reset`` (the connection is reset before any answer) or
  ``hang`` (no answer until the client gives up).
* ``repeat``: what happens once every identical recorded request has been
  served: ``cycle`` (start again from the first, the default) or ``last``
  (keep answering with the last one: a poll that sticks on ``completed``).
* References: ``{{ name.body.id }}`` in a request's path or body stands for a
  value of the response of the earlier interaction called ``name`` in the same
  file, so a hand-written poll can name the id a create call returned.

Embedding vectors are stored as floats whatever encoding was asked for; the
server encodes them on the way out. Files in format 1 load unchanged.
"""

from __future__ import annotations

import copy
import datetime
import re
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import project_root
from ..errors import ReplayError
from .matching import canonical_key, versions_match

FORMAT: Literal["cookbook-recordings/2"] = "cookbook-recordings/2"

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
    """One server-sent event: the text after ``data:``, the pause before it, its ``event:``."""

    model_config = ConfigDict(extra="forbid")

    data: str
    delay_ms: float = 0
    event: str | None = Field(default=None, description="The SSE event name (Responses API).")


class RecordedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str = "POST"
    path: str
    api_version: str | None = Field(
        default=None, description="Must equal the request's api-version; omitted matches any."
    )
    content_type: str | None = Field(
        default=None, description="Omitted for JSON; e.g. multipart/form-data (body normalised)."
    )
    body: Any = None

    @field_validator("api_version", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        # YAML reads an unquoted 2024-10-21 as a date; hand-written files should just work.
        return value.isoformat() if isinstance(value, datetime.date) else value


StreamEnd = Literal["done", "eof", "cut", "reset"]
Fault = Literal["reset", "hang"]


class RecordedResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: int = 200
    headers: dict[str, str] = Field(default_factory=dict)
    content_type: str | None = Field(
        default=None, description="Omitted for JSON and streams; set for `text` answers."
    )
    body: Any = None
    text: str | None = Field(default=None, description="A non-JSON answer (JSONL, plain text).")
    stream: list[StreamChunk] | None = None
    stream_end: StreamEnd | None = Field(
        default=None, description="Default: the API's own end (see normal_stream_end)."
    )
    fault: Fault | None = None

    @model_validator(mode="after")
    def _one_kind_of_content(self) -> RecordedResponse:
        given = [k for k in ("body", "text", "stream") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"a response has one of body, text or stream, not {given}")
        if self.stream_end is not None and self.stream is None:
            raise ValueError("stream_end needs a stream")
        return self


def is_responses_api(path: str) -> bool:
    """Whether ``path`` creates a Responses API response (``/openai/v1/responses`` and
    ``/openai/responses``), whose streams end without ``[DONE]``."""
    return path.split("?", 1)[0].rstrip("/").endswith("/responses")


def normal_stream_end(path: str) -> StreamEnd:
    """How a stream of the API at ``path`` ends when nothing goes wrong.

    Chat Completions (and the legacy Completions) send ``data: [DONE]`` last: the Azure
    OpenAI inference REST spec (2024-10-21, ``stream``) says "with the stream terminated
    by a ``data: [DONE]`` message". A Responses API stream is typed events that end with
    ``response.completed``, ``response.incomplete`` or ``response.failed`` (OpenAI's
    guide "Streaming API responses" and its API reference "Streaming events", which
    Microsoft Learn's "Use the Azure OpenAI Responses API" follows); no ``[DONE]``
    sentinel comes after them.
    """
    return "eof" if is_responses_api(path) else "done"


class Interaction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    request: RecordedRequest
    response: RecordedResponse
    repeat: Literal["cycle", "last"] | None = Field(
        default=None, description="After the last identical request: cycle (default) or last."
    )

    @model_validator(mode="after")
    def _stream_ends_as_its_api_does(self) -> Interaction:
        response = self.response
        if response.stream is None:
            return self
        if response.stream_end is None:
            response.stream_end = normal_stream_end(self.request.path)
        elif response.stream_end == "done" and is_responses_api(self.request.path):
            raise ValueError(
                "stream_end: done sends data: [DONE], which a Responses API stream never "
                "ends with: omit stream_end (the stream ends after its terminal event)"
            )
        return self


class MatchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ignore_fields: list[str] = Field(
        default_factory=list,
        description="Body fields (dotted paths) left out when comparing requests.",
    )


class RecordingsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["cookbook-recordings/1", "cookbook-recordings/2"] = FORMAT
    provenance: Literal["curated", "recorded"]
    description: str = ""
    match: MatchOptions = Field(default_factory=MatchOptions)
    interactions: list[Interaction] = Field(default_factory=list)


class RecordingsError(ReplayError, ValueError):
    """A recordings file that cannot be read."""


def display_path(path: Path) -> str:
    """A path as users should see it: relative to the project, never machine-specific."""
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
            resolve_references(document)
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

    def find(
        self, *, method: str | None = None, path: str | None = None, **fields: Any
    ) -> Interaction | None:
        """The first interaction whose request has this method and path (when given) and a
        JSON body holding each of ``fields`` with that value, e.g. ``find(messages=[...])``."""
        for interaction in self.document.interactions:
            request = interaction.request
            if method is not None and request.method.upper() != method.upper():
                continue
            if path is not None and request.path != path:
                continue
            body = request.body if isinstance(request.body, dict) else {}
            if all(name in body and body[name] == value for name, value in fields.items()):
                return interaction
        return None


_REFERENCE = re.compile(r"\{\{\s*([\w.-]+)\s*\}\}")


def resolve_references(document: RecordingsDocument) -> None:
    """Replace ``{{ name.body.id }}`` in request paths and bodies by the named response's value."""
    earlier: dict[str, dict[str, Any]] = {}

    def lookup(match: re.Match[str]) -> str:
        name, _, dotted = match.group(1).partition(".")
        if name not in earlier:
            raise ValueError(f"reference {match.group(0)!r} names no earlier interaction")
        value: Any = earlier[name]
        for part in dotted.split(".") if dotted else []:
            if not isinstance(value, dict) or part not in value:
                raise ValueError(f"reference {match.group(0)!r}: no {part!r} there")
            value = value[part]
        if isinstance(value, (dict, list)):
            raise ValueError(f"reference {match.group(0)!r} is not a single value")
        return str(value)

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and "{{" in value:
            return _REFERENCE.sub(lookup, value)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    for interaction in document.interactions:
        request = interaction.request
        request.path = resolve(request.path)
        request.body = resolve(request.body)
        if interaction.name:
            earlier[interaction.name] = {
                "body": interaction.response.body,
                "headers": interaction.response.headers,
                "status": interaction.response.status,
            }


def _drop_empty(interaction: dict[str, Any]) -> None:
    for key in ("name", "repeat"):
        if interaction.get(key) is None:
            interaction.pop(key, None)
    request = interaction["request"]
    for key in ("api_version", "content_type"):
        if request.get(key) is None:
            request.pop(key, None)
    response = interaction["response"]
    if response.get("stream_end") == normal_stream_end(request["path"]):
        response["stream_end"] = None  # the API's own ending goes without saying
    for chunk in response.get("stream") or ():
        if chunk.get("event") is None:
            chunk.pop("event", None)
    for key in ("body", "text", "stream", "stream_end", "fault", "content_type"):
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
        self._served: dict[tuple[int, str, str | None], int] = defaultdict(int)
        self._used: set[tuple[int, int]] = set()
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
                keys[canonical_key(req.method, req.path, req.body, ignore)].append(i)
            self._index.append(keys)
        self._names = [f.display_name for f in self.files]

    @property
    def source_names(self) -> list[str]:
        return list(self._names)

    def lookup(self, method: str, path: str, api_version: str | None, body: Any) -> Match | None:
        """The next recorded interaction for this request, or ``None``."""
        keys: dict[tuple[str, ...], str] = {}
        with self._lock:
            for file_no, recordings in enumerate(self.files):
                ignore = tuple(recordings.document.match.ignore_fields)
                if ignore not in keys:
                    keys[ignore] = canonical_key(method, path, body, ignore)
                key = keys[ignore]
                interactions = recordings.document.interactions
                positions = [
                    i
                    for i in self._index[file_no].get(key, ())
                    if versions_match(interactions[i].request.api_version, api_version)
                ]
                if not positions:
                    continue
                counter = (file_no, key, api_version)
                served = self._served[counter]
                self._served[counter] = served + 1
                if served < len(positions):
                    index = positions[served]
                elif interactions[positions[-1]].repeat == "last":
                    index = positions[-1]
                else:
                    index = positions[served % len(positions)]
                self._used.add((file_no, index))
                return Match(
                    interaction=interactions[index], source=self._names[file_no], index=index
                )
        return None

    def holds(self, method: str, path: str, api_version: str | None, body: Any) -> bool:
        """Whether a recorded interaction matches this request (nothing counted as served)."""
        with self._lock:
            for file_no, recordings in enumerate(self.files):
                key = canonical_key(method, path, body, recordings.document.match.ignore_fields)
                interactions = recordings.document.interactions
                if any(
                    versions_match(interactions[i].request.api_version, api_version)
                    for i in self._index[file_no].get(key, ())
                ):
                    return True
        return False

    def fork(self) -> RecordingsStore:
        """The same recordings, with a count of its own of what was served (a room's learner
        replays from the top whatever the others did)."""
        twin = copy.copy(self)
        twin._lock = threading.Lock()
        twin._served = defaultdict(int)
        return twin

    def candidates(self) -> list[tuple[RecordingsFile, int, Interaction]]:
        return [
            (f, i, interaction)
            for f in self.files
            for i, interaction in enumerate(f.document.interactions)
        ]

    def unused(self) -> list[tuple[RecordingsFile, int, Interaction]]:
        """The interactions never served since the server started (``reset()`` keeps this);
        the pytest plugin's unused-recordings report."""
        with self._lock:
            used = set(self._used)
        return [
            (f, i, interaction)
            for file_no, f in enumerate(self.files)
            for i, interaction in enumerate(f.document.interactions)
            if (file_no, i) not in used
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
