"""The replay server's only hooks into code that is not a public API, checked so that an
upgrade that moves them fails here instead of silently changing what clients receive.

uvicorn is pinned to the range these checks were made on (``pyproject.toml`` and
``environment.yml``); widen the pin only after this module passes on the new version.

1. ``helpers/replay/protocol.py`` overrides ``HttpToolsProtocol.send_400_response(msg)``:
   uvicorn answers a request its HTTP parser rejects (an unknown method such as ``BREW``,
   bytes that are not HTTP) with a plain-text 400 before the application sees it, and offers
   no public hook to change that answer. The override sends Azure's JSON error shape instead.
2. ``helpers/replay/app.py`` (``Boundary``) finds the connection's transport through uvicorn's
   ``send`` callable (a bound method of the request cycle, which keeps ``transport``): ASGI has
   no extension that exposes the socket, and a fault-injected reset needs it (TCP RST).

tiktoken and Starlette are used through public APIs only (tiktoken.load.load_tiktoken_bpe,
tiktoken.Encoding, tiktoken.model; Starlette's applications, routing and responses).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from helpers.replay.protocol import AzureHttpToolsProtocol

ROOT = Path(__file__).resolve().parent.parent


def _pin(name: str) -> Requirement:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, dependencies) if r.name == name)


def test_uvicorn_is_pinned_below_the_next_minor_and_installed_inside_the_pin() -> None:
    pin = _pin("uvicorn")
    installed = Version(importlib.metadata.version("uvicorn"))
    assert installed in pin.specifier, f"uvicorn {installed} is outside {pin}"
    assert any(spec.operator == "<" for spec in pin.specifier), f"{pin} has no upper bound"


def test_uvicorn_still_answers_unparseable_requests_through_send_400_response() -> None:
    theirs = inspect.signature(HttpToolsProtocol.send_400_response)
    assert list(theirs.parameters) == ["self", "msg"]
    assert theirs.parameters["msg"].annotation in (str, "str")
    assert "self.send_400_response(" in inspect.getsource(HttpToolsProtocol.data_received)
    ours = inspect.signature(AzureHttpToolsProtocol.send_400_response)
    assert list(ours.parameters) == list(theirs.parameters)
    # The override writes to the transport the protocol keeps from connection_made.
    assert "self.transport = transport" in inspect.getsource(HttpToolsProtocol.connection_made)


def test_uvicorns_send_is_a_method_of_the_cycle_that_keeps_the_transport() -> None:
    assert inspect.iscoroutinefunction(RequestResponseCycle.send)
    assert "transport" in inspect.signature(RequestResponseCycle.__init__).parameters
    assert "self.transport = transport" in inspect.getsource(RequestResponseCycle.__init__)
