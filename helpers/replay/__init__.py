"""A local server that speaks the Azure OpenAI REST API from recorded responses.

Start it with ``python -m helpers.replay`` or embed it::

    from helpers.replay import ReplayConfig, ReplayServer
    with ReplayServer(ReplayConfig(recordings=[path])) as server:
        ...

Modules: :mod:`~.app` (routing and pipeline), :mod:`~.operations` (the API
operations), :mod:`~.matching` (what makes requests the same),
:mod:`~.recordings` (the YAML store), :mod:`~.azure` (Azure's envelope),
:mod:`~.validation` (400s), :mod:`~.identity` (keys and tokens),
:mod:`~.simulators` (lenient answers, rate limits), :mod:`~.record` (record mode).
"""

from .config import DEFAULT_API_KEY, DEFAULT_PORT, Deployment, Mode, ReplayConfig
from .identity import ReplayCredential
from .recordings import RecordingsFile, RecordingsStore
from .server import ReplayServer, probe

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_PORT",
    "Deployment",
    "Mode",
    "RecordingsFile",
    "RecordingsStore",
    "ReplayConfig",
    "ReplayCredential",
    "ReplayServer",
    "probe",
]
