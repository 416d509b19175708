"""Batch API jobs: what a job is, how its status moves on the server's clock, its files.

A job is planned when it is created: every input line is answered then (from the
recordings, or by simulation) and kept in order. What a client sees is derived from
the clock each time it looks (:meth:`BatchJob.view`): ``validating`` for
``validating_seconds``, then ``in_progress`` (``request_counts`` growing line by
line), ``finalizing`` and ``completed``. The output and error files are written to
the files store the first time a look finds the job finished, so they hold exactly
the lines done by then (all of them, or those done before a cancel or expiry).

Shapes follow Microsoft Learn, "Getting started with Azure OpenAI batch deployments"
(how-to/batch: the batch object, status table, error codes, the output line
``{"custom_id", "response": {"body", "request_id", "status_code"}, "error"}``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...config import BatchSettings
from ...state import ObjectsById

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass
class LineResult:
    """One input line's fate: an output line (answered) or an error line."""

    custom_id: str | None
    line: dict[str, Any]
    ok: bool


@dataclass
class BatchJob:
    """One job: its request, its planned results and the times it changes status."""

    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    created: float
    settings: BatchSettings
    results: list[LineResult] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    """Why the job failed validation (the batch's ``errors.data``); empty when it did not."""
    cancel_requested: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    _written: bool = False

    # --- the timeline ---------------------------------------------------------------------

    @property
    def in_progress_at(self) -> float:
        return self.created + self.settings.validating_seconds

    @property
    def finalizing_at(self) -> float:
        return self.in_progress_at + self.settings.in_progress_seconds

    @property
    def completed_at(self) -> float:
        return self.finalizing_at + self.settings.finalizing_seconds

    @property
    def expires_at(self) -> float:
        return self.created + self.settings.completion_window_seconds

    def status_at(self, now: float) -> str:
        """The status a look at ``now`` finds."""
        if self.errors:
            return "validating" if now < self.in_progress_at else "failed"
        if self.cancel_requested is not None:
            done = self.cancel_requested + self.settings.cancelling_seconds
            return "cancelling" if now < done else "cancelled"
        if now >= self.expires_at and self.expires_at < self.completed_at:
            return "expired"
        if now < self.in_progress_at:
            return "validating"
        if now < self.finalizing_at:
            return "in_progress"
        if now < self.completed_at:
            return "finalizing"
        return "completed"

    def lines_done(self, at: float) -> int:
        """Input lines processed by time ``at`` (lines finish evenly across in_progress)."""
        if at < self.in_progress_at:
            return 0
        total = len(self.results)
        span = self.settings.in_progress_seconds
        if span <= 0 or at >= self.finalizing_at:
            return total
        return min(total, int(total * (at - self.in_progress_at) / span))

    def work_stopped_at(self, now: float) -> float:
        """When processing stopped (or ``now`` if it is still going)."""
        stops = [now, self.expires_at]
        if self.cancel_requested is not None:
            stops.append(self.cancel_requested)
        return min(stops)

    # --- what a client sees ---------------------------------------------------------------

    def view(
        self, now: float, write_files: Callable[[BatchJob, list[LineResult]], None]
    ) -> dict[str, Any]:
        """The batch object at ``now``; writes the output files once the job is finished."""
        status = self.status_at(now)
        done = self.results[: self.lines_done(self.work_stopped_at(now))]
        if status in {"completed", "cancelled", "expired"} and not self._written:
            write_files(self, done)
            self._written = True
        counts = (
            {"total": 0, "completed": 0, "failed": 0}
            if self.errors or status == "validating"
            else {
                "total": len(self.results),
                "completed": sum(1 for r in done if r.ok),
                "failed": sum(1 for r in done if not r.ok),
            }
        )

        def stamp(when: float | None, reached: bool) -> int | None:
            return int(when) if when is not None and reached else None

        started = not self.errors and status != "validating"
        cancelled_at = (
            self.cancel_requested + self.settings.cancelling_seconds
            if self.cancel_requested is not None
            else None
        )
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": ({"object": "list", "data": list(self.errors)} if self.errors else None),
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": int(self.created),
            "in_progress_at": stamp(self.in_progress_at, started),
            "expires_at": int(self.expires_at),
            "finalizing_at": stamp(self.finalizing_at, status in {"finalizing", "completed"}),
            "completed_at": stamp(self.completed_at, status == "completed"),
            "failed_at": stamp(self.in_progress_at, status == "failed"),
            "expired_at": stamp(self.expires_at, status == "expired"),
            "cancelling_at": stamp(self.cancel_requested, self.cancel_requested is not None),
            "cancelled_at": stamp(cancelled_at, status == "cancelled"),
            "request_counts": counts,
            "metadata": self.metadata,
        }


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    """Lines as JSONL (one compact JSON object per line, a newline after each)."""
    return b"".join(
        json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        for line in lines
    )


class BatchesStore(ObjectsById[BatchJob]):
    """Batch jobs by id, in creation order; reset with the server."""
