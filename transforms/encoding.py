"""Decode bytes of unknown encoding to text and repair mojibake.

Order: BOM (UTF-8/16/32) → strict UTF-8 → BOM-less UTF-16 (by NUL pattern) → binary check → cp1252 →
latin-1. Then ftfy repairs mojibake (UTF-8 read as cp1252 and the like) without touching quotes or width.
"""

from __future__ import annotations

import codecs
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


def _utf16_without_bom(data: bytes) -> str | None:
    """Guess BOM-less UTF-16 from NUL bytes sitting on one parity (ASCII-heavy text)."""
    if len(data) < 4 or len(data) % 2:
        return None
    sample = data[:4096]
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) // 2
    if odd > 0.3 * half and even < 0.05 * half:
        enc = "utf-16-le"
    elif even > 0.3 * half and odd < 0.05 * half:
        enc = "utf-16-be"
    else:
        return None
    try:
        return data.decode(enc)
    except UnicodeDecodeError:
        return None


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
    try:
        return _repair(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return _repair(utf16, "utf-16")
    if _looks_binary(data):
        raise UndecodableError("binary_content", "content is binary (NUL or control bytes), not text")
    try:
        return _repair(data.decode("cp1252"), "cp1252")
    except UnicodeDecodeError:
        return _repair(data.decode("latin-1"), "latin-1")


def _repair(text: str, encoding: str) -> Decoded:
    fixed = ftfy.fix_text(text, _FTFY)
    return Decoded(fixed, encoding, fixed != text)


def repair_text(text: str) -> str:
    """Repair mojibake in already-decoded text (JSON, CSV and Parquet fields)."""
    return ftfy.fix_text(text, _FTFY)
