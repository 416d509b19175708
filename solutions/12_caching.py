"""Solution to notebook 12's exercise: a response-cache key for an embeddings request.

The key is a hash of everything that shapes the answer: the resource (the same deployment name
on two resources can be two models) and every field of the request except the short deny-list
of fields that do not shape the output (``user``, ``metadata``, ...). Dumping with sorted keys
makes the order of a dict's fields irrelevant; lists keep their order, since ``data[i]``
answers ``input[i]``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from helpers.caching import NOT_OUTPUT_SHAPING


def embedding_cache_key(endpoint: str, params: dict[str, Any]) -> str:
    """A SHA-256 over the endpoint and every output-shaping field of ``params``."""
    shaping = {name: value for name, value in params.items() if name not in NOT_OUTPUT_SHAPING}
    text = json.dumps({"endpoint": endpoint, "request": shaping}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
