"""The replay server as a pytest plugin, for any project that installs this package.

Installed with the package (entry point ``pytest11``), it adds a fixture and two options::

    def test_answer(replay):
        reply = replay.azure.chat.completions.create(model="gpt-5.4-mini", messages=[...])

``replay`` is a server started (in this process) once per test module, serving
``<test dir>/recordings/<module name>.yaml``, and replayed from the top for each test.
It exposes ``endpoint``, ``api_key``, and ready clients: ``openai`` (v1 ``OpenAI`` on
``<endpoint>/openai/v1/``), ``azure`` (``AzureOpenAI`` with an api-version) and their async
twins ``async_openai`` and ``async_azure``.

``--replay-mode=replay|lenient|record|record-missing|live``: replay answers from the
recordings only (a miss is an error); lenient answers a miss with a marked simulated answer;
record forwards every request to ``AZURE_OPENAI_ENDPOINT`` (with ``AZURE_OPENAI_API_KEY``)
and writes the answers, scrubbed, as the module's new file (it replaces the old one when the
module is done); record-missing forwards only the requests the recordings do not hold,
appends them, and replays the others; live starts no server: the clients talk to
``AZURE_OPENAI_ENDPOINT`` itself (with the key, or Microsoft Entra ID without one) and nothing
is written, which is how ``make test-live`` checks the recordings still describe Azure.

A test that fails on a replay miss shows the server's explanation (the nearest recorded
request and the differences) first. At the end of the run, the report lists the recorded
interactions no test used; ``--replay-fail-on-unused`` makes the run fail on them. Under
``pytest-xdist`` each worker sends the controller what its servers served, and an
interaction is unused only if no worker served it.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI

from .._support.settings import DEFAULT_API_VERSION
from .config import Mode, ReplayConfig
from .identity import COGNITIVE_SERVICES_SCOPE, openai_api_key
from .recordings.store import display_path
from .server import ReplayServer

API_VERSION = DEFAULT_API_VERSION
"""The api-version of the ``azure`` clients: the cookbook's, which knows reasoning models
(``max_completion_tokens``, ``reasoning_effort``); the GA ``2024-10-21`` predates them."""

MODES = ("replay", "lenient", "record", "record-missing", "live")
LIVE = "live"
"""The plugin's own mode (no server): the clients talk to ``AZURE_OPENAI_ENDPOINT``."""
WORKER_KEY = "replay_recordings"
"""Where an xdist worker puts what its servers served (``config.workeroutput``)."""
MISS_CODE = "RecordingNotFound"
PYTEST_HINT = (
    "Under pytest: --replay-mode=lenient answers it with a simulated answer, "
    "--replay-mode=record-missing records it from AZURE_OPENAI_ENDPOINT."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("replay", "Azure OpenAI replay server")
    group.addoption(
        "--replay-mode",
        choices=MODES,
        default="replay",
        help="replay (recordings only, a miss fails), lenient (a miss gets a simulated answer), "
        "record (forward everything to AZURE_OPENAI_ENDPOINT and append), record-missing "
        "(forward and append only what the recordings do not hold), live (no server: the "
        "clients talk to AZURE_OPENAI_ENDPOINT, nothing is written); default replay",
    )
    group.addoption(
        "--replay-fail-on-unused",
        action="store_true",
        default=False,
        help="fail the run when a recorded interaction was served to no test",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SESSION] = _Session()


_SESSION = pytest.StashKey["_Session"]()


Entries = list[tuple[int, str]]
"""A recordings file's interactions as ``(index, one line describing it)``."""


@dataclass
class _Session:
    """What the run's servers served, per recordings file (as the report shows its path): every
    interaction, and those no server served. Merged across modules and xdist workers: an
    interaction is unused only if every server that loaded its file left it unused."""

    entries: dict[str, Entries] = field(default_factory=dict)
    unused_by_file: dict[str, set[int]] = field(default_factory=dict)

    def add(self, shown: str, entries: Entries, unused: Iterable[int]) -> None:
        self.entries.setdefault(shown, entries)
        left = set(unused)
        self.unused_by_file[shown] = self.unused_by_file.get(shown, left) & left

    def to_wire(self) -> dict[str, Any]:
        """Plain lists and dicts, as execnet carries them from a worker to the controller."""
        return {
            shown: {
                "entries": [list(entry) for entry in entries],
                "unused": sorted(self.unused_by_file[shown]),
            }
            for shown, entries in self.entries.items()
        }

    def merge_wire(self, wire: dict[str, Any]) -> None:
        for shown, sent in wire.items():
            self.add(shown, [(int(i), str(line)) for i, line in sent["entries"]], sent["unused"])

    @property
    def unused(self) -> list[str]:
        return [
            f"{shown} {line}"
            for shown in sorted(self.entries)
            for i, line in self.entries[shown]
            if i in self.unused_by_file[shown]
        ]


@dataclass
class Replay:
    """A running replay server and clients pointed at it (or, in live mode, at Azure)."""

    server: ReplayServer | None
    recordings: Path
    api_version: str = API_VERSION
    live_endpoint: str = ""
    live_key: str = ""

    @property
    def live(self) -> bool:
        """Whether the clients talk to Azure itself (``--replay-mode=live``), not a server."""
        return self.server is None

    @property
    def endpoint(self) -> str:
        """The ``azure_endpoint`` to give a client (``http://127.0.0.1:PORT``, or the
        resource's endpoint in live mode)."""
        return self.server.url if self.server is not None else self.live_endpoint.rstrip("/")

    @property
    def api_key(self) -> str:
        return self.server.api_key if self.server is not None else self.live_key

    def _auth(self, azure: bool, is_async: bool = False) -> dict[str, Any]:
        """A key; in live mode without one, a Microsoft Entra ID token (after ``az login``):
        ``azure_ad_token_provider`` for the Azure clients, ``api_key`` for the v1 ones (the
        openai SDK calls a callable key before each request, and awaits it in async clients)."""
        if self.api_key:
            return {"api_key": self.api_key}
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider

        provider = get_bearer_token_provider(DefaultAzureCredential(), COGNITIVE_SERVICES_SCOPE)
        if azure:
            return {"azure_ad_token_provider": provider}
        return {"api_key": openai_api_key(provider, is_async=is_async)}

    @property
    def v1_url(self) -> str:
        """The v1 API's base URL: ``<endpoint>/openai/v1/``."""
        return f"{self.endpoint}/openai/v1/"

    @cached_property
    def openai(self) -> OpenAI:
        """The v1 surface: ``OpenAI(base_url=<endpoint>/openai/v1/)``."""
        return OpenAI(base_url=self.v1_url, max_retries=0, **self._auth(azure=False))

    @cached_property
    def async_openai(self) -> AsyncOpenAI:
        return AsyncOpenAI(
            base_url=self.v1_url, max_retries=0, **self._auth(azure=False, is_async=True)
        )

    @cached_property
    def azure(self) -> AzureOpenAI:
        """The api-version surface: ``AzureOpenAI(azure_endpoint=..., api_version=...)``."""
        return AzureOpenAI(
            azure_endpoint=self.endpoint,
            api_version=self.api_version,
            max_retries=0,
            **self._auth(azure=True),
        )

    @cached_property
    def async_azure(self) -> AsyncAzureOpenAI:
        return AsyncAzureOpenAI(
            azure_endpoint=self.endpoint,
            api_version=self.api_version,
            max_retries=0,
            **self._auth(azure=True),
        )


def module_recordings(path: Path) -> Path:
    """``<test dir>/recordings/<module name>.yaml`` for the test module at ``path``."""
    return path.parent / "recordings" / f"{path.stem}.yaml"


def _shown(path: Path, config: pytest.Config) -> str:
    """A recordings file as the report shows it: relative to the run's root directory."""
    try:
        return path.resolve().relative_to(config.rootpath.resolve()).as_posix()
    except ValueError:
        return display_path(path)


def _describe(index: int, interaction: Any) -> str:
    name = f" ({interaction.name})" if interaction.name else ""
    return f"#{index}{name}: {interaction.request.method} {interaction.request.path}"


def _upstream(mode: str) -> tuple[str, str]:
    """``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY``, for the modes that reach Azure."""
    upstream = os.environ.get("AZURE_OPENAI_ENDPOINT", "")
    if not upstream:
        pytest.fail(f"--replay-mode={mode} needs AZURE_OPENAI_ENDPOINT", pytrace=False)
    return upstream, os.environ.get("AZURE_OPENAI_API_KEY", "")


@pytest.fixture(scope="module")
def _replay_server(request: pytest.FixtureRequest) -> Iterator[Replay]:
    recordings = module_recordings(Path(str(request.path)))
    mode = request.config.getoption("replay_mode")
    if mode == LIVE:
        endpoint, key = _upstream(mode)
        yield Replay(server=None, recordings=recordings, live_endpoint=endpoint, live_key=key)
        return
    overrides: dict[str, Any] = {"mode": Mode(mode), "recordings": [recordings]}
    # record writes a new file beside the module's and puts it in place when the module is
    # done: what the resource answers now, nothing left over from before.
    fresh = recordings.with_name(f"{recordings.stem}.recording.yaml")
    if Mode(mode).records:
        upstream, key = _upstream(mode)
        overrides.update(upstream=upstream, record_to=recordings)
        if mode == Mode.RECORD:
            fresh.unlink(missing_ok=True)
            overrides.update(recordings=[], record_to=fresh)
        # The caller's key travels upstream (record mode never writes it down).
        if key:
            overrides["api_key"] = key
    server = ReplayServer(ReplayConfig(**overrides)).start()
    session = request.config.stash[_SESSION]
    try:
        yield Replay(server=server, recordings=recordings)
    finally:
        server.stop()
        if mode == Mode.RECORD:  # everything was forwarded: nothing to report
            if fresh.exists():
                fresh.replace(recordings)
        else:
            served = server.state.store
            for number, recorded in enumerate(served.files):
                interactions = recorded.document.interactions
                session.add(
                    _shown(recorded.path, request.config),
                    [(i, _describe(i, it)) for i, it in enumerate(interactions)],
                    (i for f, i, _ in served.unused() if f is served.files[number]),
                )


@pytest.fixture
def replay(_replay_server: Replay) -> Replay:
    """The module's replay server, replayed from the top for this test."""
    if _replay_server.server is not None:
        _replay_server.server.reset()
    return _replay_server


def miss_of(exc: BaseException | None) -> str | None:
    """The server's explanation of a replay miss, if ``exc`` (or what it came from) is one."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        body = getattr(exc, "body", None)
        error = body.get("error", body) if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("code") == MISS_CODE:
            return str(error.get("message", ""))
        exc = exc.__cause__ or exc.__context__
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and call.excinfo is not None and "replay" in getattr(item, "fixturenames", ()):
        message = miss_of(call.excinfo.value)
        if message is not None:
            report.longrepr = f"Replay miss\n{message}\n{PYTEST_HINT}\n\n{report.longrepr}"
    return report


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist, on the controller: a worker is done; merge what its servers served."""
    wire = getattr(node, "workeroutput", {}).get(WORKER_KEY)
    if wire:
        node.config.stash[_SESSION].merge_wire(wire)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is None or not session.unused:
        return
    terminalreporter.write_sep("=", "replay: recordings no test used")
    for line in session.unused:
        terminalreporter.write_line(line)
    if config.getoption("replay_fail_on_unused"):
        terminalreporter.write_line("--replay-fail-on-unused: the run fails on them")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_SESSION, None)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports and decides
        if state is not None:
            workeroutput[WORKER_KEY] = state.to_wire()
        return
    fail = state is not None and state.unused and session.config.getoption("replay_fail_on_unused")
    if fail and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
