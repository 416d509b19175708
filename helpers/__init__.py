"""The Azure OpenAI cookbook's helpers: one module per guide section, plus the replay server.

Notebooks start with ``from helpers import connect`` and call
``connect("NN_topic")``, which prints whether they run live or offline.
"""

from ._support.clients import Connection, connect, recordings_for
from ._support.errors import CookbookError
from ._support.settings import Settings

__all__ = ["Connection", "CookbookError", "Settings", "connect", "recordings_for"]
