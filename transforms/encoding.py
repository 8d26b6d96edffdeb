"""Decode bytes of unknown encoding to text and repair mojibake.

Order: BOM (UTF-8/16/32) → BOM-less UTF-16 (by NUL pattern) → binary check → strict UTF-8 → cp1252 →
latin-1. Then ftfy repairs mojibake (UTF-8 read as cp1252 and the like) without touching quotes or width.
UTF-16 and the binary check come before UTF-8 because NUL and other control bytes are valid UTF-8: ASCII-range
UTF-16 (Latin, Cyrillic: 0x041F is the bytes 1F 04) and many binary files would otherwise "decode" as UTF-8.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import ftfy

_BOMS: list[tuple[bytes, str]] = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]

_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,
    uncurl_quotes=False,
    fix_character_width=False,
    fix_latin_ligatures=False,
    normalization=None,
    explain=False,
)


class UndecodableError(ValueError):
    """Raised when bytes look binary rather than text. `reason_code` says which check failed."""

    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(detail)
        self.reason_code = reason_code


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    repaired: bool


def wide_encoding(head: bytes) -> bool:
    """Whether a file starting with ``head`` (its first 4 bytes or more) is UTF-16 or UTF-32: a BOM, or a NUL byte
    beside a non-NUL one in its first two (text in UTF-8 or an 8-bit code has no NUL there). A newline byte in
    such a file is half a character: it is decoded whole before it is split into lines or records."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return True
    return len(head) >= 2 and (head[0] == 0) != (head[1] == 0)


def _utf16_without_bom(data: bytes) -> str | None:
    """Guess BOM-less UTF-16 from its high bytes: in text of one alphabetic script they sit on one parity and take
    almost only two values, 0x00 (spaces, digits, punctuation, Latin) and the script's block (0x04 Cyrillic,
    0x06 Arabic...), while the low bytes vary. 8-bit text and UTF-8 vary on both parities. Scripts spread over
    many blocks (CJK) are not recognised."""
    if len(data) < 4 or len(data) % 2:
        return None
    sample = data[:4096]
    even, odd = _high_byte_share(sample[0::2]), _high_byte_share(sample[1::2])
    if odd > 0.9 and even < 0.6:
        enc = "utf-16-le"
    elif even > 0.9 and odd < 0.6:
        enc = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(enc)
    except UnicodeDecodeError:
        return None
    return text if _mostly_text(text[:2048]) else None


def _mostly_text(sample: str) -> bool:
    """No more than 5% control, unassigned, private-use or surrogate characters (tab and line breaks allowed)."""
    bad = sum(1 for ch in sample if ch not in "\t\n\r\f" and unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs"))
    return bad <= 0.05 * len(sample)


def _high_byte_share(column: bytes) -> float:
    """Share of `column` taken by NUL plus its most common other byte; 0 when NUL is rare (< 10%)."""
    counts = Counter(column)
    nul = counts.pop(0, 0)
    if nul < 0.1 * len(column):
        return 0.0
    top = counts.most_common(1)[0][1] if counts else 0
    return (nul + top) / len(column)


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls > 0.05 * max(len(sample), 1)


def decode_bytes(data: bytes) -> Decoded:
    """Decode `data` to str, naming the encoding used. Raises UndecodableError for binary content."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError as exc:
                raise UndecodableError("invalid_encoding", f"bad {enc} after BOM: {exc.reason}") from exc
            return _repair(text, enc)
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return _repair(utf16, "utf-16")
    if _looks_binary(data):
        raise UndecodableError("binary_content", "content is binary (NUL or control bytes), not text")
    try:
        return _repair(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return _repair(data.decode("cp1252"), "cp1252")
    except UnicodeDecodeError:
        return _repair(data.decode("latin-1"), "latin-1")


def _repair(text: str, encoding: str) -> Decoded:
    fixed = repair_text(text)
    return Decoded(fixed, encoding, fixed != text)


# Mojibake of UTF-8 read as cp1252/latin-1 always contains a character of U+0080-U+00FF (the lead bytes read as
# Latin-1); ftfy is slow (~1 MB/s), so text without one (or a surrogate, or a terminal escape) skips it.
_SUSPECT = re.compile("[\u0080-\u00ff\ud800-\udfff\x1b]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def repair_text(text: str) -> str:
    """Repair mojibake; lone surrogates (from JSON escapes) that cannot be paired become U+FFFD."""
    if not _SUSPECT.search(text):
        return text
    return _SURROGATE.sub("\ufffd", ftfy.fix_text(text, _FTFY))
