"""The limits Azure OpenAI enforces on a request, and a JSON reader that cannot be made to crash.

Every limit here answers with Azure's 400 (``invalid_request_error``). Size, nesting and
number syntax are checked when the body is read, before any other step; the per-operation
limits (:func:`check_request`) after validation, before quota, token counting and
simulation, so those never see a body Azure would not have accepted. Sources:

* Embeddings: at most 2,048 inputs per request, each at most 8,192 tokens. REST spec
  ``azure-openai-inference-2024-10-01-preview.json`` (``createEmbeddingRequest.input``:
  ``maxItems: 2048``, "8192 tokens"), and Microsoft Learn, "Azure OpenAI quotas and
  limits" ("Max number of inputs in array with /embeddings: 2048"). Azure's wording for
  too many inputs is its own ("Too many inputs. The max number of inputs is ...").
* Chat: at most 2,048 messages and 128 tools or functions per request (Microsoft Learn,
  "Azure OpenAI quotas and limits"); at most 10 images of at most 20 MB each per request
  (Microsoft Learn, "Vision-enabled chat model concepts", input limitations).
* Body size: a JSON body can legitimately hold those 10 images base64-encoded
  (10 x 20 MB x 4/3, about 267 MB) plus text, so JSON bodies are capped at 280 MB; a
  multipart upload at 512 MB plus form overhead (Microsoft Learn, "Azure OpenAI quotas and
  limits": "Max file size for Assistants & fine-tuning: 512 MB").
* Nesting depth: 64 levels, the default maximum depth of .NET's JSON reader that Azure's
  services parse requests with (Microsoft Learn, ``JsonReaderOptions.MaxDepth``: "the
  default ... indicating a maximum depth of 64"); a strict structured-outputs schema (10
  levels of nesting at most) stays well inside it.
* Numbers: Python's ``json`` accepts ``NaN``/``Infinity`` and turns ``1e309`` into
  ``inf``; JSON (RFC 8259) has no such values, so the first two are parse errors and
  non-finite or out-of-range numbers are the validator's 400. Integers longer than Python's
  4,300-digit conversion guard are parse errors too, never a ``ValueError``.

Wording: "Too many inputs ..." is Azure's answer as clients have quoted it (e.g. the
Azure/azure-search-vector-samples issue 190 thread), "max_tokens is too large ..." is OpenAI's
as clients have quoted it (e.g. ChatGPTNextWeb/NextChat issue 3195), its max_completion_tokens
form the curated recording of tests/recordings/replay_core.yaml; the other messages (array too long,
body too large, nesting, context length of an embeddings input) follow the shape of Azure's
validation messages but were not captured from a live resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from .._support.models import max_output_tokens
from .._support.tokenizer import count_tokens
from .context import RequestContext
from .errors import AzureError, invalid_request

MAX_JSON_BODY_BYTES = 280 * 1024 * 1024
MAX_MULTIPART_BODY_BYTES = 520 * 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_EMBEDDING_INPUTS = 2048
MAX_EMBEDDING_INPUT_TOKENS = 8192
MAX_CHAT_MESSAGES = 2048
MAX_CHAT_TOOLS = 128
MAX_CHAT_FUNCTIONS = 128
MAX_STOP_SEQUENCES = 4
"""``stop`` takes at most 4 sequences (REST spec: ``stop`` ``maxItems: 4``)."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""``seed``'s range in the REST spec; Azure parses integer parameters into 64-bit ints."""
INT32_MAX = 2**31 - 1
"""Upper bound of counts such as ``max_tokens`` and ``dimensions`` (32-bit on Azure)."""

MAX_OUTPUT_TOKENS: tuple[tuple[str, int], ...] = (
    ("gpt-4o-2024-05-13", 4096),
    ("gpt-4o", 16384),
    ("gpt-4.1", 32768),
    ("gpt-35-turbo", 4096),
    ("o1", 100000),
    ("o3", 100000),
    ("o4-mini", 100000),
)
"""Most completion tokens of models the catalogue does not list (Microsoft Learn, "Azure OpenAI
in Foundry Models": "Max output tokens"), by model-name prefix, first match wins (``gpt-4o``
covers ``gpt-4o-mini``). A catalogue model's own limit wins (:func:`output_limit`); a model in
neither is bounded by :data:`INT32_MAX` only."""


def output_limit(model: str) -> int | None:
    """Most completion tokens ``model`` returns: the catalogue's ``max_output`` (its models page),
    else :data:`MAX_OUTPUT_TOKENS` by prefix, else None (no limit below INT32_MAX)."""
    return max_output_tokens(model) or next(
        (n for prefix, n in MAX_OUTPUT_TOKENS if model.startswith(prefix)), None
    )


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_error(detail: str) -> AzureError:
    """Azure's 400 for a body that is not JSON it can read."""
    return invalid_request(
        "We could not parse the JSON body of your request. The API expects a JSON payload, "
        f"but what was sent was not valid JSON ({detail}).",
        param=None,
        code=None,
    )


def too_large(size: int, limit: int) -> AzureError:
    return invalid_request(
        f"The request body is too large: {size} bytes or more, where at most {limit} bytes "
        "are accepted.",
        param=None,
        code=None,
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _scan(value: Any) -> str | None:
    """Why a parsed body is unacceptable (too deep, a lone surrogate), or None; no recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone UTF-16 surrogate escape"
            continue
        if not isinstance(node, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            return f"nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(node, dict):
            stack.extend((key, depth) for key in node)
            stack.extend((item, depth + 1) for item in node.values())
        else:
            stack.extend((item, depth + 1) for item in node)
    return None


def parse_json_body(raw: bytes, error: Callable[[str], AzureError] = parse_error) -> Any:
    """Parse a request body as Azure would accept it, or raise Azure's 400. Never anything else.

    Beyond ``json.loads``: ``NaN``/``Infinity`` are refused, nesting is capped at
    :data:`MAX_JSON_DEPTH` (Python's parser would hit ``RecursionError`` far deeper, and
    every later deep copy sooner), lone surrogate escapes (``"\\ud800"``) are refused, and
    over-long integers are a parse error rather than a ``ValueError``. ``error`` makes the
    400 from what went wrong, in the shape of the service that reads the body (Azure
    OpenAI's by default).
    """
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise error(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, the int-digits guard
        raise error(str(exc)[:200]) from None
    # Cheap pre-checks: most bodies have few brackets and no surrogate escapes at all.
    deep = raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH
    if deep or _SURROGATE_ESCAPE.search(raw):
        problem = _scan(value)
        if problem is not None:
            raise error(problem)
    return value


def declared_length(headers: Any) -> int | None:
    """The request's ``Content-Length``, or None when absent or not a number."""
    text = headers.get("content-length")
    if text is None or not text.strip().isdigit() or len(text.strip()) > 20:
        return None
    return int(text.strip())


async def read_capped(
    chunks: AsyncIterator[bytes],
    limit: int,
    error: Callable[[int, int], AzureError] = too_large,
) -> bytes:
    """Read a body from its chunks, raising Azure's 400 as soon as it passes ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise error(size, limit)
        parts.append(chunk)
    return b"".join(parts)


def too_many_embedding_inputs(count: int) -> AzureError:
    """Azure's own 400 for more inputs than an embeddings request takes."""
    return invalid_request(
        f"Too many inputs. The max number of inputs is {MAX_EMBEDDING_INPUTS}.  We hope to "
        "increase the number of inputs per request soon. Please contact us through an Azure "
        "support request at: https://go.microsoft.com/fwlink/?linkid=2213926 for further "
        "questions.",
        param=None,
        code=None,
    )


def embedding_input_too_long(tokens: int) -> AzureError:
    """Azure's 400 for an embeddings input longer than the model's context."""
    return invalid_request(
        f"This model's maximum context length is {MAX_EMBEDDING_INPUT_TOKENS} tokens, however "
        f"you requested {tokens} tokens ({tokens} in your prompt; 0 for the completion). "
        "Please reduce your prompt; or completion length.",
        param=None,
        code=None,
    )


def _embedding_input_tokens(item: Any) -> int:
    """Tokens of one embeddings input (a string or a token array); 0 for other types."""
    if isinstance(item, list):
        return len(item)
    if not isinstance(item, str):
        return 0
    if len(item.encode("utf-8")) <= MAX_EMBEDDING_INPUT_TOKENS:
        return 0  # every token is at least one byte: cannot be over the limit
    return count_tokens(item, "text-embedding-3-small")


def check_request(ctx: RequestContext, operation: str) -> None:
    """The limits step of the pipeline: Azure's 400 for a request over one of its limits.

    Runs on requests no recording covers, after validation (so types are right) and before
    quota, token counting and simulation; a recorded answer (a recorded 400 included) is
    served as recorded. It measures only what has the expected type.
    """
    body = ctx.body
    if not isinstance(body, dict):
        return
    if operation == "Embeddings_Create":
        value = body.get("input")
        items: list[Any] = value if isinstance(value, list) else [value]
        if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
            items = [value]  # one token array
        if len(items) > MAX_EMBEDDING_INPUTS:
            raise too_many_embedding_inputs(len(items))
        for item in items:
            tokens = _embedding_input_tokens(item)
            if tokens > MAX_EMBEDDING_INPUT_TOKENS:
                raise embedding_input_too_long(tokens)
    elif operation == "ChatCompletions_Create":
        model = ctx.deployment.model if ctx.deployment is not None else ""
        most = output_limit(model)
        for name in ("max_tokens", "max_completion_tokens"):
            value = body.get(name)
            if most is not None and isinstance(value, int) and value > most:
                raise invalid_request(
                    f"{name} is too large: {value}. This model supports at most {most} "
                    f"completion tokens, whereas you provided {value}.",
                    param=name,
                    code=None,
                )
        for name, limit in (
            ("messages", MAX_CHAT_MESSAGES),
            ("tools", MAX_CHAT_TOOLS),
            ("functions", MAX_CHAT_FUNCTIONS),
        ):
            value = body.get(name)
            if isinstance(value, list) and len(value) > limit:
                raise invalid_request(
                    f"Invalid '{name}': array too long. Expected an array with maximum length "
                    f"{limit}, but got an array with length {len(value)} instead.",
                    param=name,
                    code="array_above_max_length",
                )
