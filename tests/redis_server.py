"""A real ``redis-server`` (Debian's package) on a free loopback port, for the cache tests.

Locally the Redis tests skip, saying why, when no ``redis-server`` is installed.
With ``REQUIRE_REDIS=1`` (set by ``.ci/run``) a missing server is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class RedisServer:
    """One running ``redis-server`` process; ``url`` is what ``redis.asyncio`` connects to."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    """The path of ``redis-server``, or skip (fail under ``REQUIRE_REDIS=1``) when there is none."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = (
            "redis-server is not installed (Debian: apt-get install redis-server); "
            "the Redis cache tests need a real server"
        )
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"REQUIRE_REDIS=1 but {reason}")
        pytest.skip(reason)
    return binary


def start_redis(workdir: Path, port: int | None = None) -> RedisServer:
    """Start an ephemeral, persistence-free ``redis-server`` and wait until it answers.

    ``port`` restarts a server where a stopped one was; by default a free port is chosen.
    """
    binary = redis_server_binary()
    port = port or _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = RedisServer(process, port)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"redis-server did not answer on port {port} within 10 s")
