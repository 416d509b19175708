"""Benchmarks for the replay server, reported as ratios (run with `make bench`).

1. Overhead: median latency of an SDK chat call answered by the replay server
   (auth, validation, matching, envelope) over the same call answered by a bare
   ASGI endpoint that reads the request and returns the same bytes on the same
   HTTP server.
2. Pacing: how long a recorded stream takes to arrive over the sum of its
   recorded chunk delays (1.00 means chunks arrive exactly as recorded).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from openai import AzureOpenAI
from openai.types.chat import ChatCompletionMessageParam
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from helpers.replay import RecordingsFile, ReplayConfig, ReplayServer

RECORDINGS = Path(__file__).parent / "recordings" / "replay_server.yaml"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello in five words."}]
STORY: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Tell a three-word story."}]
ROUNDS = 300


def _latencies(client: AzureOpenAI, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
        samples.append(time.perf_counter() - start)
    return samples


class _BareServer(ReplayServer):
    """The same uvicorn thread, serving one canned body with no replay logic."""

    def __init__(self, body: bytes) -> None:
        super().__init__(ReplayConfig(recordings=[RECORDINGS]))

        async def answer(request: Request) -> Response:
            await request.body()  # read the request, as any real endpoint must
            return Response(body, media_type="application/json")

        # uvicorn serves this app; self.app (the replay app behind its Boundary) goes unused.
        self._uvicorn.config.app = Starlette(
            routes=[Route("/{path:path}", answer, methods=["POST"])]
        )


def main() -> None:
    recorded = RecordingsFile.load(RECORDINGS).document.interactions
    body = json.dumps(recorded[0].response.body, separators=(",", ":")).encode()
    results = {}
    with ReplayServer(ReplayConfig(recordings=[RECORDINGS])) as replay, _BareServer(body) as bare:
        clients = {
            name: AzureOpenAI(
                azure_endpoint=server.url,
                api_key=server.api_key,
                api_version="2024-10-01-preview",
            )
            for name, server in (("replay", replay), ("bare", bare))
        }
        for client in clients.values():
            _latencies(client, 20)  # warm up
        results = {name: statistics.median(_latencies(c, ROUNDS)) for name, c in clients.items()}
        print(
            f"replay: {results['replay'] * 1000:.2f} ms, bare: {results['bare'] * 1000:.2f} ms; "
            f"replay overhead: {results['replay'] / results['bare']:.2f}x a bare endpoint "
            f"(median of {ROUNDS} SDK calls each)"
        )

        story = next(i for i in recorded if i.name == "story-stream")
        expected = sum(c.delay_ms for c in story.response.stream or []) / 1000
        ratios = []
        for _ in range(10):
            start = time.perf_counter()
            stream = clients["replay"].chat.completions.create(
                model="gpt-5.4-mini",
                messages=STORY,
                stream=True,
                stream_options={"include_usage": True},
            )
            for _chunk in stream:
                pass
            ratios.append((time.perf_counter() - start) / expected)
        print(
            f"stream pacing: {statistics.median(ratios):.2f}x the recorded delays "
            "(median of 10 streams)"
        )


if __name__ == "__main__":
    main()
