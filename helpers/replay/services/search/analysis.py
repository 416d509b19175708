"""Text analysis as Azure AI Search's default analyzer does it, and Lucene's length norms.

**Analyzer.** Searchable fields default to ``standard.lucene``: Lucene's StandardTokenizer
(word boundaries of Unicode UAX #29) followed by a lower-case filter, no stop words and no
stemming (Microsoft Learn, "Analyzers for text processing in Azure AI Search"). :func:`tokens`
follows the UAX #29 rules that matter for text like the cookbook's: letters, digits and ``_``
make words; an apostrophe, period or colon joins two letters (``can't``, ``u.s.a``); a period,
comma, semicolon or apostrophe joins two digits (``3.5``, ``1,000``); each ideograph or
hiragana character is a token of its own; everything else separates. Case is folded with
``str.lower`` (Lucene lower-cases code point by code point). Accents are kept, as Lucene does.

**Norms.** Lucene stores a field's length (its number of tokens) in one byte per document
(``SmallFloat.intToByte4``), exactly up to 23 and with 4 significant bits above, and BM25
reads the decoded length back (``byte4ToInt``). :func:`encoded_length` is that round trip,
written from Lucene's ``org.apache.lucene.util.SmallFloat`` (Apache License 2.0).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_IDEOGRAPH = r"\u3040-\u309f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
WORD = re.compile(
    rf"""
    [{_IDEOGRAPH}]                              # an ideograph or hiragana: one token each
    | (?:(?![{_IDEOGRAPH}])\w)+                 # letters, digits, underscore
      (?:
          (?<=[^\W\d_])['\u2019.:](?=[^\W\d_])  # MidLetter / MidNumLet between two letters
          (?:(?![{_IDEOGRAPH}])\w)+
        | (?<=\d)[.,;'\u2019](?=\d)             # MidNum / MidNumLet between two digits
          (?:(?![{_IDEOGRAPH}])\w)+
      )*
    """,
    re.VERBOSE,
)
MAX_TERM_BYTES = 32_766
"""Lucene's largest term, UTF-8 encoded (Microsoft Learn, "Service limits in Azure AI Search":
"Supported maximum search term size is 32,766 bytes (32 KB minus 2 bytes)")."""


def tokens(text: str) -> list[str]:
    """The terms ``standard.lucene`` makes of ``text``, in order."""
    return [match.group().lower() for match in WORD.finditer(text)]


def iter_tokens(text: str) -> Iterator[str]:
    for match in WORD.finditer(text):
        yield match.group().lower()


# -- Lucene's length norm -------------------------------------------------------------------------


def _long_to_int4(value: int) -> int:
    """``SmallFloat.longToInt4``: 4 significant bits, the top one implicit."""
    bits = value.bit_length()
    if bits < 4:
        return value  # subnormal
    shift = bits - 4
    encoded = (value >> shift) & 0x07
    return encoded | ((shift + 1) << 3)


def _int4_to_long(value: int) -> int:
    """``SmallFloat.int4ToLong``."""
    bits = value & 0x07
    shift = (value >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_MAX_INT4 = _long_to_int4(2**31 - 1)
NUM_FREE_VALUES = 255 - _MAX_INT4
"""Lengths below this (24) are stored exactly."""


def int_to_byte4(value: int) -> int:
    """``SmallFloat.intToByte4``: a field length as Lucene's one-byte norm (0..255)."""
    if value < NUM_FREE_VALUES:
        return value
    return NUM_FREE_VALUES + _long_to_int4(value - NUM_FREE_VALUES)


def byte4_to_int(value: int) -> int:
    """``SmallFloat.byte4ToInt``: the length BM25 sees for a stored norm."""
    if value < NUM_FREE_VALUES:
        return value
    return NUM_FREE_VALUES + _int4_to_long(value - NUM_FREE_VALUES)


def encoded_length(length: int) -> int:
    """The field length after Lucene's norm encoding: exact below 24, rounded down above."""
    return byte4_to_int(int_to_byte4(min(length, 2**31 - 1)))
