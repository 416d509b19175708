"""A local server that speaks the Azure OpenAI REST API from recorded responses.

Start it with ``python -m helpers.replay`` or embed it::

    from helpers.replay import ReplayConfig, ReplayServer
    with ReplayServer(ReplayConfig(recordings=[path])) as server:
        ...

Layout: :mod:`~.app` and :mod:`~.pipeline` (routing, and the steps every request takes),
:mod:`~.answer` (the answer step, which batch lines take too: recordings, validation,
limits, quota, simulation or miss), :mod:`~.state` (the typed registry of stateful stores),
:mod:`~.services` (one package per Azure service: inference, responses, files,
vector_stores, batches, search), :mod:`~.behaviours` (what cuts across services: rate
limits, faults, prompt cache, content filter), :mod:`~.recordings` (the YAML store,
matching, record mode), :mod:`~.errors` (Azure's error vocabulary), :mod:`~.validation`
(the checks services share), :mod:`~.identity` (keys and tokens), :mod:`~.limits` (the
guarded JSON reader and request limits), :mod:`~.pytest_plugin` (the ``replay`` fixture and
``--replay-mode`` for any project's tests, entry point ``pytest11``).

Notebooks and tests use what this package exports (``ReplayServer``, ``ReplayConfig``,
``RecordingsFile`` ...), never its submodules; see the README's "In code".
"""

from .config import DEFAULT_API_KEY, DEFAULT_PORT, Deployment, Mode, RateLimitSettings, ReplayConfig
from .errors import ReplayError
from .identity import ReplayCredential
from .recordings import RecordingsFile, RecordingsStore
from .server import ReplayServer, probe

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_PORT",
    "Deployment",
    "Mode",
    "RateLimitSettings",
    "RecordingsFile",
    "RecordingsStore",
    "ReplayConfig",
    "ReplayCredential",
    "ReplayError",
    "ReplayServer",
    "probe",
]
