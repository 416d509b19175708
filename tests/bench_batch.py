"""The batch processor against Azure's limits, reported as ratios (``make bench``).

1. Throughput: ``helpers.batch_processing.run_batch`` pushes 600 chat requests through a
   lenient replay server whose deployment enforces 400 requests and 135,000 tokens per
   minute, the way Microsoft Learn describes them ("Manage Azure OpenAI in Microsoft Foundry
   Models quota": requests over 1-second windows, tokens in a count reset each minute);
   each request is charged about a 400th of the TPM, so both limits bind. Server and
   processor share a clock running ``SPEED`` times real time (at 2, real travel-time jitter
   counts double against the 1-s windows, where on Azure it counts once). From the server's
   request log (every arrival the limiter saw, with its charge) the bench computes the
   *limit-bound ideal*: the span from the first arrival to the last that the limits alone
   impose on the same charged attempts, each admitted in the first window and minute with
   room for it. Reported: ideal span over
   actual span, per run and the median of ``RUNS`` runs, without faults and with 10% of
   requests failing (429 with ``retry-after-ms``, 500, 503, connection reset); the 429s, the
   retries, and items lost or duplicated in the output file.
2. Memory: peak traced memory of a run over 1,000 and over 100,000 items (read lazily from
   a generator, answered by an in-process transport so only the processor is measured).

Benchmarks print ratios, never pass/fail.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2
from openai import AsyncOpenAI

from helpers.batch_processing import BatchSummary, run_batch
from helpers.replay import ReplayConfig, ReplayServer
from helpers.replay.behaviours.ratelimit import Arrival, RateLimiter
from helpers.replay.config import Deployment

SPEED = float(os.environ.get("BENCH_SPEED", "2"))  # virtual seconds per real second
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "48"))
ITEMS = 600
RPM = 400
TPM = 135_000
WINDOW = 1.0
MODEL = "gpt-5.4-mini"
MAX_COMPLETION_TOKENS = 320  # with the prompt, ~335 tokens: 403 requests' worth a minute
FAULTS = ("429", "500", "503", "reset")


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
                "max_completion_tokens": MAX_COMPLETION_TOKENS,
            },
        }


def ideal_span(charges: Sequence[int], rpm: int, tpm: int, window: float) -> float:
    """Seconds from the first admission to the last if every charge, in order, went in the
    first window (``rpm * window / 60`` requests, rounded up) and minute (``rpm`` requests,
    ``tpm`` tokens) with room for it, counted from the first: what the limits alone allow."""
    per_window = max(1, math.ceil(rpm * window / 60))
    windows_per_minute = round(60 / window)
    index = in_window = in_minute = tokens = 0
    for charge in charges:
        while in_window >= per_window or in_minute >= rpm or tokens + charge > tpm:
            index += 1
            in_window = 0
            if index % windows_per_minute == 0:
                in_minute = tokens = 0
        in_window += 1
        in_minute += 1
        tokens += charge
    return index * window


def throughput(faults: float, seed: int) -> dict[str, float]:
    deployment = Deployment(  # family and reasoning efforts from the model catalogue
        kind="chat", model="gpt-5.4-mini-2026-03-17",
        requests_per_minute=RPM, tokens_per_minute=TPM,
        faults={"probability": faults, "kinds": FAULTS} if faults else None,
    )  # fmt: skip
    config = ReplayConfig(mode="lenient", recordings=[], deployments={MODEL: deployment}, seed=seed)
    limiter = RateLimiter(clock=clock, enforce=True, window=WINDOW, keep_history=True)
    with ReplayServer(config, limiter=limiter) as server, tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "out.jsonl"

        async def batch() -> BatchSummary:
            async with AsyncOpenAI(
                base_url=f"{server.url}/openai/v1/", api_key=server.api_key, max_retries=0,
                timeout=2.0,
            ) as client:  # fmt: skip
                return await run_batch(
                    client, items(ITEMS), output, requests_per_minute=RPM,
                    tokens_per_minute=TPM, model=deployment.model, concurrency=CONCURRENCY,
                    max_attempts=8, seed=seed, progress=False, clock=clock, sleep=sleep,
                    window=WINDOW,
                )  # fmt: skip

        summary = asyncio.run(batch())
        ids = Counter(json.loads(line)["id"] for line in output.read_text().splitlines())
        log: list[Arrival] = list(limiter.history)
    charged = [a for a in log if a.allowed]
    actual = charged[-1].at - charged[0].at
    ideal = ideal_span([a.tokens for a in charged], RPM, TPM, WINDOW)
    return {
        "ratio": ideal / actual,
        "ideal": ideal,
        "actual": actual,
        "charged": len(charged),
        "quota_429": sum(not a.allowed for a in log),
        "rate_limited": summary.rate_limited,
        "retries": summary.retries,
        "failed": summary.failed,
        "lost": ITEMS - len(ids),
        "duplicated": sum(count - 1 for count in ids.values()),
    }


def report(label: str, faults: float) -> None:
    runs = [throughput(faults, seed=11 + run) for run in range(RUNS)]
    for number, run in enumerate(runs, start=1):
        print(
            f"  run {number}: {run['ratio']:.1%} ({run['actual']:.1f} s vs {run['ideal']:.1f} s "
            f"ideal for {run['charged']:.0f} charged attempts); 429s: {run['rate_limited']:.0f} "
            f"({run['quota_429']:.0f} from the quota), {run['retries']:.0f} retries, "
            f"{run['failed']:.0f} failed, {run['lost']:.0f} lost, "
            f"{run['duplicated']:.0f} duplicated"
        )
    ratios = [run["ratio"] for run in runs]
    print(
        f"batch, {label}: median {statistics.median(ratios):.1%} of the limit-bound ideal "
        f"(min {min(ratios):.1%}, max {max(ratios):.1%}, {RUNS} runs)"
    )


CANNED = json.dumps(
    {
        "choices": [
            {"finish_reason": "stop", "index": 0, "logprobs": None,
             "message": {"content": "Done.", "refusal": None, "role": "assistant"}}
        ],
        "created": 1795478400, "id": "chatcmpl-bench", "model": "gpt-5.4-mini-2026-03-17",
        "object": "chat.completion",
        "usage": {"completion_tokens": 2, "prompt_tokens": 12, "total_tokens": 14},
    }
).encode()  # fmt: skip


def peak_memory(n: int) -> float:
    """Peak traced MiB of a run over ``n`` items with an in-process transport."""
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=CANNED))

    async def batch(output: Path) -> None:
        async with AsyncOpenAI(
            base_url="http://bench.invalid/openai/v1/", api_key="unused", max_retries=0,
            http_client=httpx2.AsyncClient(transport=transport),
        ) as client:  # fmt: skip
            await run_batch(
                client, items(n), output, requests_per_minute=10**9, tokens_per_minute=10**12,
                model="gpt-5.4-mini-2026-03-17", concurrency=16, progress=False,
            )  # fmt: skip

    with tempfile.TemporaryDirectory() as scratch:
        tracemalloc.start()
        asyncio.run(batch(Path(scratch) / "out.jsonl"))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    print(
        f"batch: {ITEMS} requests, {RPM} RPM over {WINDOW:.0f}-s windows and {TPM:,} TPM, "
        f"clock x{SPEED:.0f}"
    )
    report("no faults", 0.0)
    report(f"10% faults ({', '.join(FAULTS)})", 0.1)
    peak_memory(200)  # warm up: tokenizers and SDK types load once, outside the measurement
    small, large = peak_memory(1_000), peak_memory(100_000)
    print(
        f"batch memory: peak {small:.1f} MiB at 1k items, {large:.1f} MiB at 100k items: "
        f"{large / small:.2f}x for 100x the items"
    )


if __name__ == "__main__":
    main()
