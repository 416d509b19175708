"""The batch processor under binding limits and faults, reported as ratios (``make bench``).

1. Throughput: ``helpers.batch_processing.run_batch`` pushes 2,000 chat requests through a lenient
   replay server whose deployment enforces requests- and tokens-per-minute limits that
   both bind, with 10% of requests failing with a fault of every kind (500, 503, 408, 429,
   connection reset, hang past the client's timeout, stream cut). Server and processor
   share an accelerated clock. Reported: the limit-bound ideal over the run's time (the
   ideal is the time the limits alone impose on every attempt sent, after the initial full
   bucket), the 429s and retries, and items lost or duplicated in the output file.
2. Memory: peak traced memory of a run over 1,000 and over 100,000 items (read lazily from
   a generator, answered by an in-process transport so only the processor is measured).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
from openai import AsyncOpenAI

from helpers.batch_processing import run_batch
from helpers.replay import ReplayConfig, ReplayServer
from helpers.replay.config import Deployment
from helpers.token_management import quota_charge

SPEED = 10.0  # virtual seconds per real second
ITEMS = 2_000
RPM = 1_200
TPM = 60_000
MODEL = "gpt-5-mini"


def clock() -> float:
    return time.monotonic() * SPEED


async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds / SPEED)


def items(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "custom_id": f"item-{i}",
            "body": {
                "model": MODEL,
                "messages": [{"role": "user", "content": f"Summarise support ticket {i}."}],
                "max_completion_tokens": 40,
            },
        }


def throughput() -> None:
    deployment = Deployment(
        kind="chat", model="gpt-5-mini-2025-08-07", family="reasoning",
        reasoning_efforts=("minimal", "low", "medium", "high"),
        requests_per_minute=RPM, tokens_per_minute=TPM,
        faults={"probability": 0.1},
    )  # fmt: skip
    config = ReplayConfig(
        mode="lenient",
        recordings=[],
        deployments={MODEL: deployment},
        rate_limits={"enforce": True},
        seed=11,
    )
    charges = [quota_charge(item["body"], deployment.model) for item in items(ITEMS)]
    with ReplayServer(config, clock=clock) as server, tempfile.TemporaryDirectory() as scratch:
        client = AsyncOpenAI(
            base_url=f"{server.url}/openai/v1/", api_key=server.api_key,
            max_retries=0, timeout=0.3,
        )  # fmt: skip
        output = Path(scratch) / "out.jsonl"
        started = clock()
        summary = asyncio.run(
            run_batch(
                client, items(ITEMS), output, requests_per_minute=RPM, tokens_per_minute=TPM,
                model=deployment.model, concurrency=16, max_attempts=8, seed=1,
                progress=False, clock=clock, sleep=sleep,
            )
        )  # fmt: skip
        elapsed_minutes = (clock() - started) / 60
        ids = Counter(json.loads(line)["id"] for line in output.read_text().splitlines())
    # Every attempt is charged on arrival, as Azure charges it (failed ones included): the
    # ideal is the time the limits impose on all of them, after the initial full bucket.
    attempts = summary.succeeded + summary.failed + summary.retries
    mean_charge = sum(charges) / len(charges)
    ideal_minutes = max((attempts - RPM) / RPM, (attempts * mean_charge - TPM) / TPM)
    lost = ITEMS - len(ids)
    duplicated = sum(count - 1 for count in ids.values())
    print(
        f"batch: {ITEMS} items, limits {RPM} rpm / {TPM} tpm, 10% faults of every kind: "
        f"{ideal_minutes / elapsed_minutes:.1%} of the limit-bound throughput "
        f"({elapsed_minutes * 60:.0f} s virtual vs {ideal_minutes * 60:.0f} s ideal); "
        f"{summary.rate_limited} 429s, {summary.retries} retries, {summary.failed} failed, "
        f"{lost} lost, {duplicated} duplicated"
    )


CANNED = json.dumps(
    {
        "choices": [
            {"finish_reason": "stop", "index": 0, "logprobs": None,
             "message": {"content": "Done.", "refusal": None, "role": "assistant"}}
        ],
        "created": 1795478400, "id": "chatcmpl-bench", "model": "gpt-5-mini-2025-08-07",
        "object": "chat.completion",
        "usage": {"completion_tokens": 2, "prompt_tokens": 12, "total_tokens": 14},
    }
).encode()  # fmt: skip


def peak_memory(n: int) -> float:
    """Peak traced MiB of a run over ``n`` items with an in-process transport."""
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=CANNED))
    client = AsyncOpenAI(
        base_url="http://bench.invalid/openai/v1/", api_key="unused", max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        tracemalloc.start()
        asyncio.run(
            run_batch(
                client, items(n), Path(scratch) / "out.jsonl", requests_per_minute=10**9,
                tokens_per_minute=10**12, model="gpt-5-mini-2025-08-07", concurrency=16,
                progress=False,
            )
        )  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    throughput()
    peak_memory(200)  # warm up: tokenizers and SDK types load once, outside the measurement
    small, large = peak_memory(1_000), peak_memory(100_000)
    print(
        f"batch memory: peak {small:.1f} MiB at 1k items, {large:.1f} MiB at 100k items: "
        f"{large / small:.2f}x for 100x the items"
    )


if __name__ == "__main__":
    main()
