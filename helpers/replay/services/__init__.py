"""The Azure services the replay server speaks, one package each, joined here.

Everything about one service lives in its package (operations, validation, simulated
answers, store). To add an operation, write (or extend) a service's ``operations`` module: an
:class:`~.base.Operation` subclass for what is the operation's own, and an
:class:`~.base.Endpoint` per method and path; then list the module's
``SERVICE`` below. The v1 routes of :mod:`.inference` are the example::

    Endpoint("POST", "/openai/v1/chat/completions", CHAT)

Routes are matched in this order; a request no endpoint claims goes to the
recordings (any method, any path) and then gets Azure's 404.
"""

from __future__ import annotations

from .base import Endpoint, Operation, Service
from .batches import operations as batches
from .files import operations as files
from .inference import operations as inference
from .responses import operations as responses
from .search import operations as search
from .vector_stores import operations as vector_stores

SERVICES: tuple[Service, ...] = (
    inference.SERVICE,
    responses.SERVICE,
    files.SERVICE,
    vector_stores.SERVICE,
    batches.SERVICE,
    search.SERVICE,
)

__all__ = ["SERVICES", "Endpoint", "Operation", "Service"]
