"""Normalize a record's text into a document: Unicode, whitespace, control characters, boilerplate, title and
publication date.

The normalized text is one paragraph per line-block: lines are stripped, runs of whitespace collapse to one space,
and paragraphs are joined by a blank line. All extraction offsets index this text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dateutil import parser as dateparser

from transforms.boilerplate import RemovedLine, RuleSet, load_rules, strip_lines
from transforms.encoding import repair_text

# Zero-width, bidi controls and BOM: invisible, and dangerous in identifiers and display (Trojan Source).
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\x85\x0b\x0c]")
_SPACES = re.compile(r"[^\S\n]+")
TITLE_MAX_WORDS = 20
MAX_FIXPOINT = 10


@dataclass(frozen=True, slots=True)
class NormalizedDoc:
    text: str
    title: str | None
    published_at: datetime | None
    removed: list[RemovedLine] = field(default_factory=list)


def clean_unicode(text: str) -> str:
    """ftfy repair, NFC, unify line breaks, drop invisible and control characters (keeps \\n and \\t).

    Dropping characters can make new mojibake adjacent ('\\x9dÂ€' → 'Â€', which ftfy then reads as '€'), so the
    steps repeat until nothing changes: normalizing normalized text must change nothing.
    """
    for _ in range(MAX_FIXPOINT):
        text = unicodedata.normalize("NFC", repair_text(text))
        text = _LINE_BREAKS.sub("\n", text)
        dropped = _CONTROL.sub(" ", _INVISIBLE.sub("", text))
        if dropped == text:
            break
        text = dropped
    return text


def split_lines(text: str) -> list[str]:
    """Non-empty lines, each stripped and with inner whitespace collapsed to one space."""
    return [s for s in (_SPACES.sub(" ", ln).strip() for ln in text.split("\n")) if s]


def normalize_document(
    raw_text: str,
    *,
    title: str | None = None,
    published_at: str | None = None,
    rules: RuleSet | None = None,
    repeated: frozenset[str] = frozenset(),
) -> NormalizedDoc:
    """Normalize one record. Never raises; an empty result has text == ''.

    Boilerplate removal runs to a fixpoint so that normalizing normalized text changes nothing. A removed
    `dateline` line becomes published_at when the record has none.
    """
    rules = rules or load_rules()
    lines = split_lines(clean_unicode(raw_text))
    for _ in range(MAX_FIXPOINT):  # collapsing whitespace can expose mojibake ('Â\t0' → 'Â 0' → '\xa00')
        again = split_lines(clean_unicode("\n".join(lines)))
        if again == lines:
            break
        lines = again
    removed: list[RemovedLine] = []
    for _ in range(MAX_FIXPOINT):
        kept, gone = strip_lines(lines, rules, repeated)
        if not gone:
            break
        removed.extend(gone)
        lines = kept
    pub = parse_published_at(published_at)
    if pub is None:
        pub = next((parse_published_at(r.text) for r in removed if r.rule == "dateline"), None)
    title = _clean_title(title) or infer_title(lines)
    return NormalizedDoc("\n\n".join(lines), title, pub, removed)


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    t = " ".join(split_lines(clean_unicode(title)))
    return t or None


def infer_title(lines: list[str]) -> str | None:
    """The first line is a title when more lines follow, it is short, and it does not end like a sentence."""
    if len(lines) < 2:
        return None
    first = lines[0]
    if len(first.split()) > TITLE_MAX_WORDS or first[-1] in ".,;:!\"”'’" or len(first) < 10:
        return None
    return first


def parse_published_at(value: str | None) -> datetime | None:
    """Parse a publication date as given (ISO, RFC 2822, 'Sat 26 Feb 2022 | 10:37 AM'); UTC; None if unsure."""
    if not value or len(value) > 100:
        return None
    try:
        dt = dateparser.parse(value.replace("|", " "), fuzzy=False)
    except (ValueError, OverflowError, TypeError):
        return None
    if not 1900 <= dt.year <= 2100:
        return None
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*(.*?)\s*#*\s*$")
_MD_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MD_QUOTE = re.compile(r"^\s*>\s?")
_MD_EMPH = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_HTML_TAG = re.compile(r"<[^>\n]{1,200}>")


def markdown_to_text(md: str) -> tuple[str, str | None]:
    """Plain text of a Markdown article and the first heading as its title."""
    title = None
    out = []
    for line in md.splitlines():
        m = _MD_HEADING.match(line)
        if m:
            line = m.group(1)
        line = _MD_IMAGE.sub("", line)
        line = _MD_LINK.sub(r"\1", line)
        line = _MD_QUOTE.sub("", _MD_LIST.sub("", line))
        line = _MD_EMPH.sub(r"\2", line)
        line = _HTML_TAG.sub("", line)
        if m and title is None:
            title = line.strip() or None  # the heading as plain text, like the body
        out.append(line)
    return "\n".join(out), title
