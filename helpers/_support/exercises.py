"""What every exercise checker returns: a :class:`Feedback` that prints itself.

A checker (``check_…`` in a lesson module) never raises for a wrong or unfinished answer: it
returns ``Feedback``, whose text says what passed or what is wrong. :func:`attempt` calls the
learner's function and turns "not written yet" (``NotImplementedError``) or any other exception
into that feedback. Notebooks never import this module; they only see what checkers return.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Feedback:
    """One checker's verdict: ``passed`` or not, and a message that says why."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "not yet"
        return f"Exercise {self.exercise!r}: {verdict}. {self.message}"

    __repr__ = __str__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's display hook
        printer.text(str(self))


def passed(exercise: str, message: str) -> Feedback:
    return Feedback(exercise, True, message)


def failed(exercise: str, message: str) -> Feedback:
    return Feedback(exercise, False, message)


def attempt(exercise: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T | Feedback:
    """``function(*args, **kwargs)``, or the feedback for a stub or a function that raised."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        return failed(exercise, "still a stub: replace `raise NotImplementedError` with your code.")
    except Exception as error:
        return failed(exercise, f"your function raised {type(error).__name__}: {error}")
