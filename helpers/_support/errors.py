"""The exceptions every lesson shares: one root, and the answer that cannot be used.

Every exception the ``helpers`` package raises derives from :class:`CookbookError`, so
``except CookbookError`` catches whatever the cookbook itself refuses, and nothing from
the SDK (``openai.OpenAIError``) or Python. Some also derive from a builtin such as
``ValueError`` where callers already catch that. The replay server has its own root,
``helpers.replay.errors.ReplayError``.

:class:`InvariantError` lives here rather than in a lesson because three sections raise
it: a refusal (section 3's ``RefusalError``), Azure's content filter (section 11's
``ContentFilteredError``) and the response checks of section 19.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion
    from openai.types.responses import Response

__all__ = ["CookbookError", "InvariantError"]


class CookbookError(Exception):
    """The root of every exception the cookbook's helpers raise."""


class InvariantError(CookbookError):
    """The model's answer cannot be used as an answer; ``response`` is the whole object.

    ``response`` is the ``ChatCompletion`` (parsed or not) or the Responses API
    ``Response``, for its ``id``, ``usage`` and Azure's annotations; ``None`` when there
    was no answer at all (a prompt the content filter blocked).
    """

    def __init__(self, message: str, *, response: ChatCompletion | Response | None) -> None:
        super().__init__(message)
        self.response = response
