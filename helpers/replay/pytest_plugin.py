"""The replay server as a pytest plugin, for any project that installs this package.

Installed with the package (entry point ``pytest11``), it adds a fixture and two options::

    def test_answer(replay):
        reply = replay.azure.chat.completions.create(model="gpt-5.4-mini", messages=[...])

``replay`` is a server started (in this process) once per test module, serving
``<test dir>/recordings/<module name>.yaml``, and replayed from the top for each test.
It exposes ``endpoint``, ``api_key``, and ready clients: ``openai`` (v1 ``OpenAI`` on
``<endpoint>/openai/v1/``), ``azure`` (``AzureOpenAI`` with an api-version) and their async
twins ``async_openai`` and ``async_azure``.

``--replay-mode=replay|lenient|record|record-missing``: replay answers from the recordings
only (a miss is an error); lenient answers a miss with a marked simulated answer; record
forwards every request to ``AZURE_OPENAI_ENDPOINT`` (with ``AZURE_OPENAI_API_KEY``) and
appends the answers, scrubbed, to the module's file; record-missing does so only for the
requests the recordings do not hold, and replays the others.

A test that fails on a replay miss shows the server's explanation (the nearest recorded
request and the differences) first. At the end of the run, the report lists the recorded
interactions no test used; ``--replay-fail-on-unused`` makes the run fail on them.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI

from .config import Mode, ReplayConfig
from .recordings.store import display_path
from .server import ReplayServer

API_VERSION = "2024-10-21"
"""The api-version of the ``azure`` clients (Azure OpenAI's GA data-plane version)."""

MODES = ("replay", "lenient", "record", "record-missing")
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
        "(forward and append only what the recordings do not hold); default replay",
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


@dataclass
class _Session:
    unused: list[str] = field(default_factory=list)


@dataclass
class Replay:
    """A running replay server and clients pointed at it."""

    server: ReplayServer
    recordings: Path
    api_version: str = API_VERSION

    @property
    def endpoint(self) -> str:
        """The ``azure_endpoint`` to give a client (``http://127.0.0.1:PORT``)."""
        return self.server.url

    @property
    def api_key(self) -> str:
        return self.server.api_key

    @property
    def v1_url(self) -> str:
        """The v1 API's base URL: ``<endpoint>/openai/v1/``."""
        return f"{self.endpoint}/openai/v1/"

    @cached_property
    def openai(self) -> OpenAI:
        """The v1 surface: ``OpenAI(base_url=<endpoint>/openai/v1/)``."""
        return OpenAI(base_url=self.v1_url, api_key=self.api_key, max_retries=0)

    @cached_property
    def async_openai(self) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=self.v1_url, api_key=self.api_key, max_retries=0)

    @cached_property
    def azure(self) -> AzureOpenAI:
        """The api-version surface: ``AzureOpenAI(azure_endpoint=..., api_version=...)``."""
        return AzureOpenAI(
            azure_endpoint=self.endpoint,
            api_key=self.api_key,
            api_version=self.api_version,
            max_retries=0,
        )

    @cached_property
    def async_azure(self) -> AsyncAzureOpenAI:
        return AsyncAzureOpenAI(
            azure_endpoint=self.endpoint,
            api_key=self.api_key,
            api_version=self.api_version,
            max_retries=0,
        )


def module_recordings(path: Path) -> Path:
    """``<test dir>/recordings/<module name>.yaml`` for the test module at ``path``."""
    return path.parent / "recordings" / f"{path.stem}.yaml"


@pytest.fixture(scope="module")
def _replay_server(request: pytest.FixtureRequest) -> Iterator[Replay]:
    recordings = module_recordings(Path(str(request.path)))
    mode = request.config.getoption("replay_mode")
    overrides: dict[str, Any] = {"mode": Mode(mode), "recordings": [recordings]}
    if Mode(mode).records:
        upstream = os.environ.get("AZURE_OPENAI_ENDPOINT", "")
        if not upstream:
            pytest.fail(f"--replay-mode={mode} needs AZURE_OPENAI_ENDPOINT", pytrace=False)
        # The caller's key travels upstream (record mode never writes it down).
        key = os.environ.get("AZURE_OPENAI_API_KEY", "")
        overrides.update(upstream=upstream, record_to=recordings)
        if key:
            overrides["api_key"] = key
    server = ReplayServer(ReplayConfig(**overrides)).start()
    session = request.config.stash[_SESSION]
    try:
        yield Replay(server=server, recordings=recordings)
    finally:
        server.stop()
        if mode != "record":  # in record mode everything was forwarded: nothing to report
            session.unused.extend(
                f"{display_path(f.path)} #{i}" + (f" ({it.name})" if it.name else "")
                + f": {it.request.method} {it.request.path}"
                for f, i, it in server.state.store.unused()
            )  # fmt: skip


@pytest.fixture
def replay(_replay_server: Replay) -> Replay:
    """The module's replay server, replayed from the top for this test."""
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
    fail = state is not None and state.unused and session.config.getoption("replay_fail_on_unused")
    if fail and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
