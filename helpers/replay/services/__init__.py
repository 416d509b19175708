"""The Azure services the replay server speaks, one module each, joined here.

To add an operation, write (or extend) a service module: an
:class:`~.base.Operation` subclass for what is the operation's own, and an
:class:`~.base.Endpoint` per method and path; then list the module's
``SERVICE`` below. The v1 routes of :mod:`.inference` are the example::

    Endpoint("POST", "/openai/v1/chat/completions", CHAT)

Routes are matched in this order; a request no endpoint claims goes to the
recordings (any method, any path) and then gets Azure's 404.
"""

from __future__ import annotations

from . import batches, files, inference, responses, search
from .base import Endpoint, Operation, Service

SERVICES: tuple[Service, ...] = (
    inference.SERVICE,
    responses.SERVICE,
    files.SERVICE,
    batches.SERVICE,
    search.SERVICE,
)

__all__ = ["SERVICES", "Endpoint", "Operation", "Service"]
