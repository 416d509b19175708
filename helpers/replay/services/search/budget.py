"""A time budget for one search request, checked by the work as it goes.

Search work runs off the event loop (:mod:`.operations`), so an expensive request cannot
stop the server's other routes; the budget makes sure it also ends: ranking, filtering and
indexing loops call :meth:`Deadline.check`, which raises :class:`OutOfTime` once the budget
is spent, and the request is answered with Azure's 503 (:func:`.errors.busy`). Azure's
documented request limits (:mod:`.limits`) keep ordinary requests far inside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from ...errors import ReplayError

T = TypeVar("T")

DEFAULT_SECONDS = 10.0


class OutOfTime(ReplayError):
    """The request's time budget is spent."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"search work stopped after {seconds:g} s")
        self.seconds = seconds


class Deadline:
    """``seconds`` of work from now, on ``clock`` (a monotonic clock by default)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def check(self) -> None:
        if self._clock() > self._end:
            raise OutOfTime(self.seconds)

    def every(self, items: Iterable[T], stride: int = 256) -> Iterator[T]:
        """``items``, checking the deadline every ``stride`` of them."""
        for count, item in enumerate(items):
            if count % stride == 0:
                self.check()
            yield item


UNLIMITED = Deadline(float("inf"))
"""For work done outside a request (tests, helpers)."""
