"""The guard against drift: the notebooks and the SDK-level checks run against the real
resource in ``.env``.

    python -m helpers._support.live [--checks all|notebooks|sdk] [NN_topic ...]
                                                        (make test-live)
    python -m helpers._support.live --record tests/live/test_live_chat.py
                                                        (make record TEST=tests/live/...)

The SDK-level checks are the tests in ``tests/live/``: through the official SDK and the replay
plugin's ``replay`` fixture, they replay ``tests/live/recordings/`` offline (``make test``) and
here run with ``--replay-mode=live``, their clients on the resource itself. Each notebook and
each check gets a verdict from the exception that stopped it, if any:

- ``pass``: it ran top to bottom on Azure;
- ``infra-error``: it stopped on something that is not the cookbook's fault: quota (429),
  a model or deployment the resource does not have (404 ``DeploymentNotFound``), credentials
  Azure refuses (401, 403, Entra ID), or a network that never reached Azure (a bad endpoint,
  a timeout);
- ``fail``: anything else. The recordings no longer match what Azure does: the report names
  the recordings file and the ``make record NOTEBOOK=...`` (or ``make record TEST=...``)
  that refreshes it.

The report is ``live-report-YYYY-MM-DD.md`` in the project's root (git-ignored). Without
``AZURE_OPENAI_ENDPOINT`` there is nothing to check: it says so and exits 0. It exits 1 when a
check failed, 0 otherwise (infra errors are reported, not failed on).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import openai
import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from nbclient.exceptions import CellExecutionError

from ..replay.config import project_root
from ..replay.pytest_plugin import module_recordings
from .notebooks import _select, execute
from .settings import Settings

Verdict = Literal["pass", "fail", "infra-error"]
Kind = Literal["notebook", "sdk"]

LIVE_TESTS = Path("tests") / "live"
"""The SDK-level live checks, relative to the project's root."""

PLUGIN = "helpers._support.live"
"""This module, as the pytest plugin that judges each SDK-level check (``-p``)."""

VERDICTS_ENV = "COOKBOOK_LIVE_VERDICTS"
"""The file this module, as a pytest plugin, appends each check's verdict to (JSON lines)."""

NOT_DEPLOYED_CODES = frozenset({"DeploymentNotFound", "ModelNotFound"})
"""Azure's 404 codes for a deployment or model the resource does not have (region, quota)."""

INFRA_ERRORS: dict[str, str] = {
    "RateLimitError": "quota exhausted (429)",
    "AuthenticationError": "credentials refused (401)",
    "PermissionDeniedError": "access denied (403)",
    "APIConnectionError": "network: Azure could not be reached",
    "APITimeoutError": "network: the request timed out",
    "ServiceRequestError": "network: Azure could not be reached (azure-core)",
    "ClientAuthenticationError": "Entra ID sign-in failed",
    "CredentialUnavailableError": "no Entra ID credential available",
}
"""Exception class names (the SDK's and azure-core's) that say nothing about the cookbook.
By name, because a notebook's exception reaches this process only as its name and message."""


@dataclass(frozen=True)
class Outcome:
    """One check's verdict and its reason (for a fail, the exception that stopped it): a
    notebook (``name`` is its stem) or an SDK-level check (``name`` is its pytest node id)."""

    name: str
    verdict: Verdict
    reason: str
    seconds: float = 0.0
    kind: Kind = "notebook"

    @property
    def recordings(self) -> str:
        """The recordings file the check replays offline (relative to the project)."""
        if self.kind == "notebook":
            return f"notebooks/recordings/{self.name}.yaml"
        return module_recordings(Path(self.module)).as_posix()

    @property
    def module(self) -> str:
        return self.name.split("::", 1)[0]

    @property
    def rerecord(self) -> str:
        """The command that replaces those recordings with the resource's answers."""
        if self.kind == "notebook":
            return f"make record NOTEBOOK={self.name}"
        return f"make record TEST={self.module}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify_error(name: str, message: str) -> tuple[Verdict, str]:
    """The verdict for an exception known by its class name and message (a notebook's)."""
    if name in INFRA_ERRORS:
        return "infra-error", INFRA_ERRORS[name]
    if name == "NotFoundError":
        code = next((c for c in NOT_DEPLOYED_CODES if c in message), None)
        if code:
            return "infra-error", f"not deployed on this resource (404 {code})"
    return "fail", f"{name}: {message}".strip()[:300]


def classify(exc: BaseException) -> tuple[Verdict, str]:
    """The verdict for the exception that stopped a check; its causes count too (a retry
    wrapper that gave up on a 429 is still a 429)."""
    for link in _chain(exc):
        if isinstance(link, CellExecutionError):
            return classify_error(link.ename, link.evalue)
        if isinstance(link, openai.NotFoundError):
            code = link.code or ""
            if code in NOT_DEPLOYED_CODES:
                return "infra-error", f"not deployed on this resource (404 {code})"
        if isinstance(
            link, openai.APIConnectionError | ClientAuthenticationError | ServiceRequestError
        ):
            return classify_error(type(link).__name__, str(link))
        for klass in type(link).__mro__:
            if klass.__name__ in INFRA_ERRORS:
                return "infra-error", INFRA_ERRORS[klass.__name__]
    return "fail", f"{type(exc).__name__}: {exc}".strip()[:300]


def check_notebook(path: Path, *, env: dict[str, str] | None = None) -> Outcome:
    """Run one notebook on the configured resource and judge it."""
    started = time.perf_counter()
    try:
        execute(path, env=env)
    except Exception as exc:
        verdict, reason = classify(exc)
        return Outcome(path.stem, verdict, reason, time.perf_counter() - started)
    return Outcome(path.stem, "pass", "ran on Azure", time.perf_counter() - started)


def resource_env(settings: Settings) -> dict[str, str]:
    """The variables that point the SDK-level checks (and the replay plugin) at the resource."""
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    return {
        "AZURE_OPENAI_ENDPOINT": settings.endpoint or "",
        "AZURE_OPENAI_API_KEY": key,
        "AZURE_OPENAI_CHAT_DEPLOYMENT": settings.chat_deployment,
    }


def _pytest(args: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=project_root(),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=1800,
    )


def check_sdk_tests(env: dict[str, str], tests: Path = LIVE_TESTS) -> list[Outcome]:
    """Run the SDK-level checks with ``--replay-mode=live`` and judge each (this module is
    their pytest plugin: it classifies the exception each one raised, in their process)."""
    with tempfile.TemporaryDirectory() as folder:
        verdicts = Path(folder) / "verdicts.jsonl"
        done = _pytest(
            [str(tests), "--replay-mode=live", "-p", PLUGIN],
            {**env, VERDICTS_ENV: str(verdicts)},
        )
        lines = verdicts.read_text(encoding="utf-8").splitlines() if verdicts.exists() else []
    judged: dict[str, Outcome] = {}
    for line in lines:
        seen = json.loads(line)
        outcome = Outcome(
            seen["name"], seen["verdict"], seen["reason"], seen["seconds"], kind="sdk"
        )
        if seen["name"] not in judged or judged[seen["name"]].verdict == "pass":
            judged[seen["name"]] = outcome  # a teardown's error outranks the call's pass
    if not judged:  # nothing ran: pytest itself stopped (a collection error, say)
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        return [Outcome(tests.as_posix(), "fail", " / ".join(tail)[:300], kind="sdk")]
    return list(judged.values())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """As a pytest plugin (``-p helpers._support.live``): each check's verdict, to the file
    named by ``COOKBOOK_LIVE_VERDICTS``."""
    report = yield
    target = os.environ.get(VERDICTS_ENV)
    if target and not report.skipped and (report.when == "call" or report.failed):
        if report.passed:
            verdict, reason = "pass", "ran on Azure"
        elif call.excinfo is not None:
            verdict, reason = classify(call.excinfo.value)
        else:
            verdict, reason = "fail", str(report.longrepr)[:300]
        seen = {"name": item.nodeid, "verdict": verdict, "reason": reason}
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps({**seen, "seconds": report.duration}) + "\n")
    return report


def record_sdk_tests(module: str, settings: Settings) -> int:
    """Re-record one module of SDK-level checks on the resource (``--replay-mode=record``):
    its recordings file is replaced by what the resource answers, scrubbed."""
    if settings.endpoint is None or settings.api_key is None:
        print("make record TEST=...: needs AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY")
        return 2
    done = _pytest([module, "--replay-mode=record"], resource_env(settings))
    print(done.stdout + done.stderr, end="")
    if done.returncode == 0:
        print(f"recorded {module_recordings(Path(module)).as_posix()}")
    return done.returncode


def report_markdown(outcomes: Sequence[Outcome], endpoint: str, day: dt.date) -> str:
    """The dated report: a table of verdicts, then what to do about each failure."""
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("pass", "fail", "infra-error")}
    lines = [
        f"# Live check, {day.isoformat()}",
        "",
        f"Resource: `{_host(endpoint)}`. {counts['pass']} pass, {counts['fail']} fail, "
        f"{counts['infra-error']} infra-error.",
        "",
        "| check | kind | verdict | reason | seconds |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        reason = o.reason.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {o.name} | {o.kind} | {o.verdict} | {reason} | {o.seconds:.1f} |")
    failed = [o for o in outcomes if o.verdict == "fail"]
    if failed:
        lines += ["", "## To re-record", ""]
        lines += [
            f"- `{o.name}`: its recordings `{o.recordings}` no longer match Azure; "
            f"re-record with `{o.rerecord}`"
            if o.kind == "notebook" or o.module.endswith(".py")
            else f"- `{o.name}`: pytest stopped before any check ran (the reason above)"
            for o in failed
        ]
    infra = [o for o in outcomes if o.verdict == "infra-error"]
    if infra:
        lines += ["", "## Not the cookbook's fault", ""]
        lines += [f"- `{o.name}`: {o.reason}" for o in infra]
    return "\n".join(lines) + "\n"


def _host(endpoint: str) -> str:
    """The endpoint without path or query (a report may be shared; it names no key)."""
    found = re.match(r"^[a-z]+://[^/?#]+", endpoint.strip())
    return found.group(0) if found else endpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers._support.live")
    parser.add_argument("names", nargs="*", help="NN or NN_topic (default: all notebooks)")
    parser.add_argument("--checks", choices=("all", "notebooks", "sdk"), default="all")
    parser.add_argument("--record", metavar="TEST", help="re-record tests/live/<module>.py")
    parser.add_argument("--report-dir", type=Path, default=project_root())
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.record:
        return record_sdk_tests(args.record, settings)
    if settings.offline or settings.endpoint is None:
        print(
            "make test-live: skipped: AZURE_OPENAI_ENDPOINT is not set (in .env or the "
            "environment), so there is no Azure resource to check the notebooks and the "
            "SDK-level checks against."
        )
        return 0
    outcomes: list[Outcome] = []
    if args.checks in ("all", "notebooks"):
        for entry in _select(args.names):
            outcome = check_notebook(entry.path)
            outcomes.append(outcome)
            print(f"{outcome.verdict:<11} {entry.name:<32} {outcome.reason}", flush=True)
    if args.checks in ("all", "sdk"):
        for outcome in check_sdk_tests(resource_env(settings)):
            outcomes.append(outcome)
            print(f"{outcome.verdict:<11} {outcome.name} {outcome.reason}", flush=True)
    day = dt.datetime.now(dt.UTC).date()
    report = args.report_dir / f"live-report-{day.isoformat()}.md"
    report.write_text(report_markdown(outcomes, settings.endpoint, day), encoding="utf-8")
    print(f"report: {report}")
    return 1 if any(o.verdict == "fail" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
