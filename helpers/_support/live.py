"""The guard against drift: every notebook run against the real resource in ``.env``.

    python -m helpers._support.live [NN_topic ...]      (make test-live)

Each notebook gets a verdict from the exception that stopped it, if any:

- ``pass``: it ran top to bottom on Azure;
- ``infra-error``: it stopped on something that is not the cookbook's fault: quota (429),
  a model or deployment the resource does not have (404 ``DeploymentNotFound``), credentials
  Azure refuses (401, 403, Entra ID), or a network that never reached Azure (a bad endpoint,
  a timeout);
- ``fail``: anything else. The recordings no longer match what Azure does: the report names
  the ``make record NOTEBOOK=...`` that refreshes them.

The report is ``live-report-YYYY-MM-DD.md`` in the project's root (git-ignored). Without
``AZURE_OPENAI_ENDPOINT`` there is nothing to check: it says so and exits 0. It exits 1 when a
notebook failed, 0 otherwise (infra errors are reported, not failed on).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import openai
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from nbclient.exceptions import CellExecutionError

from ..replay.config import project_root
from .notebooks import _select, execute
from .settings import Settings

Verdict = Literal["pass", "fail", "infra-error"]

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
    """One notebook's verdict and its reason (for a fail, the exception that stopped it)."""

    name: str
    verdict: Verdict
    reason: str
    seconds: float = 0.0


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


def report_markdown(outcomes: Sequence[Outcome], endpoint: str, day: dt.date) -> str:
    """The dated report: a table of verdicts, then what to do about each failure."""
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("pass", "fail", "infra-error")}
    lines = [
        f"# Live check, {day.isoformat()}",
        "",
        f"Resource: `{_host(endpoint)}`. {counts['pass']} pass, {counts['fail']} fail, "
        f"{counts['infra-error']} infra-error.",
        "",
        "| notebook | verdict | reason | seconds |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        reason = o.reason.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {o.name} | {o.verdict} | {reason} | {o.seconds:.1f} |")
    failed = [o for o in outcomes if o.verdict == "fail"]
    if failed:
        lines += ["", "## To re-record", ""]
        lines += [
            f"- `{o.name}`: its recordings `notebooks/recordings/{o.name}.yaml` no longer match "
            f"Azure; re-record with `make record NOTEBOOK={o.name}`"
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
    parser.add_argument("names", nargs="*", help="NN or NN_topic (default: all)")
    parser.add_argument("--report-dir", type=Path, default=project_root())
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if settings.offline or settings.endpoint is None:
        print(
            "make test-live: skipped: AZURE_OPENAI_ENDPOINT is not set (in .env or the "
            "environment), so there is no Azure resource to check the notebooks against."
        )
        return 0
    outcomes = []
    for entry in _select(args.names):
        outcome = check_notebook(entry.path)
        outcomes.append(outcome)
        print(f"{outcome.verdict:<11} {entry.name:<32} {outcome.reason}", flush=True)
    day = dt.datetime.now(dt.UTC).date()
    report = args.report_dir / f"live-report-{day.isoformat()}.md"
    report.write_text(report_markdown(outcomes, settings.endpoint, day), encoding="utf-8")
    print(f"report: {report}")
    return 1 if any(o.verdict == "fail" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
