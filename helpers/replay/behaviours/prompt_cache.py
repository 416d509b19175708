"""Azure's prompt caching, as ``usage`` reports it, for answers the server makes up.

Azure caches the processed prefix of a prompt per deployment. A later request whose
prompt starts with the same tokens reports the shared part in
``usage.prompt_tokens_details.cached_tokens`` (Responses:
``usage.input_tokens_details.cached_tokens``), under Microsoft Learn's documented rules
("Prompt caching"): only prompts of at least 1,024 tokens; a hit covers the first 1,024
tokens and then grows in steps of 128; caches are cleared after a few minutes of
inactivity. Recorded answers keep their recorded values; every answer's prompt is
remembered, so a recorded call followed by an edited, simulated one still hits.

Routing: Learn's page says a request is routed by a hash of its prompt's start, and that a
``prompt_cache_key``, when sent, "is combined with the prefix hash", so that requests sharing
a prefix *and* a key reach the machines that cached it. The simulator keeps one cache per
deployment and key (no key is a route of its own): a prefix cached under one key is a miss
under another or under none. The overflow Learn describes (beyond about 15 requests per
minute for one prefix and key) is not simulated.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from ..._support.tokenizer import get_encoding

MIN_TOKENS = 1024
STEP = 128
TTL_SECONDS = 300.0
"""Inactivity after which a cached prefix is gone (Azure: typically 5 to 10 minutes)."""
KEEP = 64
"""Prefixes remembered per deployment."""


def prompt_tokens(body: dict[str, Any]) -> list[int]:
    """The prompt as tokens, in the order the model reads it (tools, then messages or input)."""
    parts: list[Any] = []
    if body.get("tools"):
        parts.append(body["tools"])
    if body.get("instructions"):
        parts.append(body["instructions"])
    parts.append(body.get("messages") if "messages" in body else body.get("input"))
    text = "\n".join(p if isinstance(p, str) else json.dumps(p, sort_keys=True) for p in parts)
    if len(text) < MIN_TOKENS:
        return []  # a token is at least one character: too short to ever be cached
    return get_encoding("o200k_base").encode(text, disallowed_special=())


def cache_route(body: dict[str, Any]) -> str | None:
    """The ``prompt_cache_key`` a request is routed with (``None`` when it sends none)."""
    key = body.get("prompt_cache_key")
    return key if isinstance(key, str) and key else None


def cached_share(shared: int, total: int) -> int:
    """What Azure reports cached for a shared prefix of ``shared`` tokens out of ``total``."""
    if total < MIN_TOKENS or shared < MIN_TOKENS:
        return 0
    return MIN_TOKENS + (shared - MIN_TOKENS) // STEP * STEP


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


Route = tuple[str, str | None]
"""A deployment and the ``prompt_cache_key`` its requests were sent with."""


class PromptCache:
    """Recently seen prompts per deployment and ``prompt_cache_key``, with an injected clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[Route, list[tuple[float, list[int]]]] = {}

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()

    def lookup(self, deployment: str, tokens: list[int], key: str | None = None) -> int:
        """``cached_tokens`` for this prompt now, sent with ``prompt_cache_key`` ``key`` (0 on
        the first call of its route)."""
        now = self._clock()
        route = (deployment, key)
        with self._lock:
            fresh = [(t, p) for t, p in self._seen.get(route, []) if now - t < TTL_SECONDS]
            self._seen[route] = fresh
            shared = max((_common_prefix(tokens, p) for _, p in fresh), default=0)
        return cached_share(shared, len(tokens))

    def remember(self, deployment: str, tokens: list[int], key: str | None = None) -> None:
        if len(tokens) < MIN_TOKENS:
            return
        now = self._clock()
        route = (deployment, key)
        with self._lock:
            entries = [(t, p) for t, p in self._seen.get(route, []) if p != tokens]
            # A hit refreshes the prefixes it shares (Azure keeps a used cache warm).
            entries = [
                (now if _common_prefix(p, tokens) >= MIN_TOKENS else t, p) for t, p in entries
            ]
            entries.append((now, tokens))
            self._seen[route] = entries[-KEEP:]
