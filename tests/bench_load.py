"""Replay server under load, against a baseline git ref, reported as ratios (``make bench``).

    python tests/bench_load.py [--baseline REF] [--requests N]

Each server runs in its own process (``python -m helpers.replay``-equivalent) on a free
loopback port, serving ``tests/recordings/replay_server.yaml`` with recorded delays set
to zero; this process is the client (httpx2, one connection per concurrent worker). For
each of 1, 16 and 64 concurrent connections it reports non-streamed replays per second
and p50/p99 latency, then streamed replays per second at 16 connections, and finally the
ratio current/baseline for each figure. A baseline ref is checked out into a temporary
git worktree and run with the HTTP stack it had (h11 on the asyncio loop); the current
server runs as it does in notebooks (httptools and uvloop). The client is ``wrk`` when it
is installed (``apt-get install wrk``; ``make bench`` installs it), else a Python client,
which saturates before the server and so understates every ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
import yaml

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "tests" / "recordings" / "replay_server.yaml"
KEY = "local-replay-key"
CHAT = "/openai/deployments/gpt-5.4-mini/chat/completions?api-version=2024-10-01-preview"
HELLO: dict[str, object] = {
    "messages": [{"role": "user", "content": "Say hello in five words."}],
    "model": "gpt-5.4-mini",
}
STORY: dict[str, object] = {
    "messages": [{"role": "user", "content": "Tell a three-word story."}],
    "model": "gpt-5.4-mini",
    "stream": True,
    "stream_options": {"include_usage": True},
}
SERVE = """
import sys, uvicorn
from pathlib import Path
from helpers.replay.config import ReplayConfig
from helpers.replay import app as app_module
config = ReplayConfig(recordings=[Path(sys.argv[2])])
if "gpt-5.4-mini" not in config.deployments:  # a ref older than the gpt-5.4 defaults
    from helpers.replay.config import Deployment
    config.deployments["gpt-5.4-mini"] = Deployment(kind="chat", model="gpt-5.4-mini-2026-03-17")
factory = getattr(app_module, "create_asgi_app", None) or app_module.create_app
if sys.argv[3] == "baseline":  # as it ran then: h11 on the asyncio loop
    options = {"loop": "asyncio", "http": "h11"}
else:  # as ReplayServer and `python -m helpers.replay` run it now
    from helpers.replay.server import HTTP_PROTOCOL
    options = {"http": HTTP_PROTOCOL}
uvicorn.run(factory(config), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, server_header=False, **options)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _undelayed_recordings(folder: Path) -> Path:
    data = yaml.safe_load(RECORDINGS.read_text())
    for interaction in data["interactions"]:
        for chunk in interaction["response"].get("stream") or []:
            chunk["delay_ms"] = 0
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Server:
    """A replay server from ``tree`` in a subprocess."""

    def __init__(self, tree: Path, recordings: Path, kind: str) -> None:
        self.port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(tree)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(self.port), str(recordings), kind],
            cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{self.url}/_replay/health", timeout=0.5)
                return
            except httpx2.HTTPError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server from {tree} did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def _load(
    url: str, body: dict[str, object], connections: int, total: int
) -> dict[str, float]:
    latencies: list[float] = []
    content = json.dumps(body).encode()
    headers = {"api-key": KEY, "content-type": "application/json"}
    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        remaining = total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                response = await client.post(CHAT, content=content, headers=headers)
                await response.aread()
                assert response.status_code == 200, response.text[:300]
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, body: dict[str, object], connections: int, seconds: int) -> dict[str, float]:
    """wrk (C, one thread) as the client: a Python client saturates before the server does."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(json.dumps(body))}\n"
            f'wrk.headers["api-key"] = "{KEY}"\n'
            'wrk.headers["content-type"] = "application/json"\n'
        )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
         url + CHAT],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    os.unlink(script.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"the server answered errors under load:\n{out}")
    figures: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            figures["rps"] = float(parts[1])
        elif len(parts) == 2 and parts[0] in ("50%", "99%"):
            value, unit = (
                parts[1][:-2] if parts[1][-2:] in _UNITS else parts[1][:-1],
                (parts[1][-2:] if parts[1][-2:] in _UNITS else parts[1][-1:]),
            )
            figures["p50_ms" if parts[0] == "50%" else "p99_ms"] = float(value) * _UNITS[unit]
    return figures


def measure(url: str, total: int) -> dict[str, dict[str, float]]:
    if shutil.which("wrk"):
        seconds = max(2, total // 1000)
        results = {}
        for connections in (1, 16, 64):
            _wrk(url, HELLO, connections, 1)  # warm up
            results[f"json x{connections}"] = _wrk(url, HELLO, connections, seconds)
        results["stream x16"] = _wrk(url, STORY, 16, seconds)
        return results
    print("(wrk not found: measuring with a Python client, which saturates first)")
    results = {}
    for connections in (1, 16, 64):
        asyncio.run(_load(url, HELLO, connections, total // 4))  # warm up
        results[f"json x{connections}"] = asyncio.run(_load(url, HELLO, connections, total))
    results["stream x16"] = asyncio.run(_load(url, STORY, 16, total // 2))
    return results


def _worktree(ref: str, folder: Path) -> Path:
    tree = folder / "baseline"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), ref],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return tree


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", help="git ref to compare with (e.g. 00c29aa)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        recordings = _undelayed_recordings(folder)
        runs = {"current": (ROOT, "current")}
        if args.baseline:
            runs["baseline"] = (_worktree(args.baseline, folder), "baseline")
        results = {}
        try:
            for name, (tree, kind) in runs.items():
                server = Server(tree, recordings, kind)
                try:
                    results[name] = measure(server.url, args.requests)
                finally:
                    server.stop()
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(folder / "baseline")],
                    cwd=ROOT, check=False, capture_output=True,
                )  # fmt: skip
    for figure, current in results["current"].items():
        line = (
            f"{figure:<11} {current['rps']:8.0f} replays/s  p50 {current['p50_ms']:6.2f} ms  "
            f"p99 {current['p99_ms']:6.2f} ms"
        )
        if "baseline" in results:
            base = results["baseline"][figure]
            line += (
                f"  | baseline {base['rps']:8.0f}/s p99 {base['p99_ms']:6.2f} ms"
                f"  -> {current['rps'] / base['rps']:.2f}x throughput"
            )
        print(line)


if __name__ == "__main__":
    main()
