"""Date expressions: find, normalize to ISO with a precision, resolve against the publication date.

Contract: ``parse_dates(text, published_at=None, sent_starts=None) -> list[dict]`` with one row per date
expression, keys start, end, surface, iso, precision, resolved, sentence; ``text[start:end] == surface``.

- precision is one of day / week / month / year.
- iso is ``YYYY-MM-DD`` (day), ``YYYY-Www`` (ISO week), ``YYYY-MM`` (month) or ``YYYY`` (year).
- Absolute expressions ("26 Feb 2022", "September 2021", "2011") are always resolved. Relative or partial ones
  ("February 6", "Tuesday", "last week", "January") are resolved only when ``published_at`` is known; otherwise
  iso is None and resolved False (surface and precision are kept).
- Relative weekdays and bare months resolve to the most recent one on or before the publication date, as news
  mostly reports the past ("on Thursday" in a Saturday paper is two days earlier).

This module also owns the rule-based sentence splitter shared by the regex parsers (figures, quotes) so that
sentence indices agree across every extracted table.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

# ---------------------------------------------------------------------------------------------- sentences

_ABBREV = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "jr",
        "sr",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "prof",
        "rep",
        "sen",
        "gov",
        "u.s",
        "u.k",
        "u.n",
        "no",
        "vs",
        "etc",
        "inc",
        "co",
        "corp",
        "ltd",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "e.g",
        "i.e",
        "al",
        "fig",
        "approx",
        "est",
    ]
)
# A sentence end ([.!?], closing quotes or brackets, blanks or no blank before a capitalised word, then a capital or
# digit) or a line break and the blanks after it. One leading character class, so the scan skips to those in C.
_SENT_BOUNDARY = re.compile(r"[.!?\n](?:(?<=[.!?])[\"”’')\]]*(?:\s+|(?=[A-Z][a-z]))(?=[\"“‘(\[]?[A-Z0-9])|(?<=\n)\s*)")
_WORD_BEFORE = re.compile(r"([\w.]+)[.!?]?$")


def sentence_starts(text: str) -> list[int]:
    """Character offsets where sentences start: after . ! ? followed by a capital (abbreviations and
    initials excepted) and after every line break (headlines and paragraphs are their own sentences)."""
    starts = [0]
    for m in _SENT_BOUNDARY.finditer(text):
        if m.group().strip() and m.group()[0] == ".":
            w = _WORD_BEFORE.search(text, max(0, m.start() - 12), m.start() + 1)
            word = w.group(1).lower().rstrip(".") if w else ""
            if word in _ABBREV or (len(word) == 1 and word.isalpha()):
                continue
        if m.end() < len(text) and m.end() > starts[-1]:
            starts.append(m.end())
    return starts


def sentence_of(starts: Sequence[int], offset: int) -> int:
    """Index of the sentence containing character ``offset`` given sorted sentence starts."""
    return max(0, bisect.bisect_right(starts, offset) - 1)


# ---------------------------------------------------------------------------------------------- patterns

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip

_MON = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)"
)
_MON_FULL = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_WD_ANY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Mon|Tues|Tue|Wed|Thurs|Thur|Thu|Fri|Sat|Sun)"
_WD_FULL = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_WD_PRE = rf"(?:{_WD_ANY},?\s+)?"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
# the number of an "ago" date, lower-case or capitalised as at a sentence's start ("Two weeks ago, ...")
_NUMW = "(?:\\d+|" + "|".join(f"[{w[0]}{w[0].upper()}]{w[1:]}" for w in
                              ("a few", "an", "a", "one", "two", "three", "four", "five", "six", "seven", "eight",
                               "nine", "ten", "several")) + ")"  # fmt: skip

_DATE_RE = re.compile(
    "|".join(
        [
            rf"(?P<iso>\b{_YEAR}-(?:0[1-9]|1[0-2])-(?:[12]\d|3[01]|0[1-9])\b)",
            rf"(?P<dmy>\b{_WD_PRE}(?P<dmy_d>{_DAY})\s+(?:of\s+)?(?P<dmy_m>{_MON}),?\s+(?P<dmy_y>{_YEAR})\b)",
            rf"(?P<mdy>\b{_WD_PRE}(?P<mdy_m>{_MON})\s+(?P<mdy_d>{_DAY}),?\s+(?P<mdy_y>{_YEAR})\b)",
            rf"(?P<dm>\b{_WD_PRE}(?P<dm_d>{_DAY})(?:\s*[-–]\s*{_DAY})?\s+(?:of\s+)?(?P<dm_m>{_MON})(?!\w))",
            rf"(?P<md>\b{_WD_PRE}(?P<md_m>{_MON})\s+(?P<md_d>{_DAY})(?:\s*[-–]\s*{_DAY})?\b(?![.,]?\d|:))",
            r"(?P<num>(?<![\d/.])(?P<num_a>[0-3]?\d)[/.](?P<num_b>[0-3]?\d)[/.](?P<num_y>(?:19|20)\d\d)(?![\d/]|\.\d))",
            rf"(?P<my>\b(?P<my_m>{_MON}),?\s+(?P<my_y>{_YEAR})\b)",
            rf"(?P<rel_wd>\b(?P<rel_wd_mod>(?:[Ll]ast|[Nn]ext|[Tt]his)\s+)?(?P<rel_wd_d>{_WD_FULL})\b)",
            rf"(?P<mon>\b(?P<mon_m>{_MON_FULL})\b)",
            r"(?P<rel_unit>\b(?P<ru_mod>[Ll]ast|[Nn]ext|[Tt]his|[Pp]ast)\s+(?P<ru_unit>week|month|year)\b)",
            rf"(?P<ago>\b(?P<ago_n>{_NUMW})\s+(?P<ago_unit>day|week|month|year)s?\s+ago\b)",
            r"(?P<rel_day>\b(?:[Tt]oday|[Yy]esterday|[Tt]omorrow)\b)",
            rf"(?P<year>(?<![\d,.$€£#/-])(?P<year_y>{_YEAR})(?![\d%]|,\d|\.\d|s\b|-(?:year|month|day)"
            r"|\s*(?:percent|per cent|million|billion|thousand)\b))",
        ]
    )
)
_MAY_WORDS = ("in", "since", "until", "till", "by", "early", "late", "mid", "of", "from", "through", "during")
_MAY_CONTEXT = re.compile(rf"(?:\b(?:{'|'.join(_MAY_WORDS)})[\s-]+)$", re.I)
_LEADING_DIGITS = re.compile(r"\d+")
_SMALL_NUMS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
               "eight": 8, "nine": 9, "ten": 10, "a few": 3, "several": 3}  # fmt: skip


_ANCHORS = frozenset(
    [*(k.capitalize() for k in MONTHS), *(k.capitalize() for k in WEEKDAYS)]
    + [w for k in ("today", "yesterday", "tomorrow", "last", "next", "this", "past") for w in (k, k.capitalize())]
)
_AGO_ANCHORS = frozenset(w for k in _SMALL_NUMS for w in (k.split()[0], k.split()[0].capitalize()))


def alternation(words: Iterable[str], fold_case: bool = False) -> str:
    """A regex alternation of ``words`` with common prefixes factored out ("f(?:i(?:ft(?:h|y)|rst)|our)"), so a
    failing attempt costs a test per letter instead of one per word. Where several of the words match at a position
    they are prefixes of one another and the longer is tried first: the same match, and the same order on
    backtracking, as ``"|".join(sorted(words, key=len, reverse=True))``.

    ``fold_case`` (for lowercase ASCII words, without ``re.I``): match exactly the strings whose ``str.lower()`` is
    one of the words, i.e. each letter in either case, and "k" also as the Kelvin sign (U+212A), the one non-ASCII
    character that lowercases to an ASCII letter. (``re.I`` would also take the long s "ſ" for an "s".)"""
    trie: dict = {}
    for w in words:
        node = trie
        for c in w:
            node = node.setdefault(c, {})
        node[""] = {}

    def letter(c: str) -> str:
        if not (fold_case and "a" <= c <= "z"):
            return re.escape(c)
        return "[kK\u212a]" if c == "k" else f"[{c}{c.upper()}]"

    def emit(node: dict) -> str:
        branches = [letter(c) + emit(node[c]) for c in sorted(node) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return f"(?:{emit(trie)})"


def token_start_patterns(words: Iterable[str], fold_case: bool = False) -> tuple[re.Pattern, re.Pattern]:
    """Patterns for ``token_starts``: a token (a maximal run of letters and digits) that starts with a digit or is
    one of ``words`` (see ``alternation`` for ``fold_case``), at a position, and after a separator (any other
    character, which the match consumes)."""
    token = rf"(?:\d|{alternation(words, fold_case)}(?![^\W_]))"
    return re.compile(token), re.compile(rf"[\W_](?={token})")


def token_starts(text: str, patterns: tuple[re.Pattern, re.Pattern]) -> list[int]:
    """Offsets of the tokens that ``patterns`` (from ``token_start_patterns``) take, in order. The scan for a
    separator skips letters and digits in C: faster than a Python loop over every token (2x for the dates' words).
    A token starting with a digit that is not a decimal digit ("²") is not taken: no date or figure starts with one."""
    at, after_sep = patterns
    starts = [m.end() for m in after_sep.finditer(text)]
    if at.match(text):
        starts.insert(0, 0)
    return starts


_STARTS = token_start_patterns(_ANCHORS)
_STARTS_AGO = token_start_patterns(_ANCHORS | _AGO_ANCHORS)


def _anchored(text: str):
    """``_DATE_RE`` matches, tried only where a date can start (a token that is a month, weekday or relative word
    or starts with a digit): anchored matches at those few offsets are ~10x faster than ``finditer`` over a big
    alternation."""
    cursor = 0
    for p in token_starts(text, _STARTS_AGO if "ago" in text else _STARTS):
        if p < cursor:
            continue
        m = _DATE_RE.match(text, p)
        if m is not None and m.end() > p:
            cursor = m.end()
            yield m


def _after_temporal_word(text: str, pos: int) -> bool:
    """Whether ``_MAY_CONTEXT`` matches ``text[:pos]``: it must end in blanks (or hyphens) after one of the words,
    so it is searched only from the longest word's length before those blanks, not from the start of the text."""
    blanks = pos
    while blanks > 0 and (text[blanks - 1].isspace() or text[blanks - 1] == "-"):
        blanks -= 1
    return _MAY_CONTEXT.search(text, max(0, blanks - max(map(len, _MAY_WORDS))), pos) is not None


def parse_published(published_at: str | dt.date | None) -> dt.date | None:
    """Publication date from an ISO string ('YYYY-MM-DD...'), a date, or None; None when unparseable."""
    if published_at is None:
        return None
    if isinstance(published_at, dt.datetime):
        return published_at.date()
    if isinstance(published_at, dt.date):
        return published_at
    try:
        return dt.date.fromisoformat(str(published_at)[:10])
    except ValueError:
        return None


def _day(s: str) -> int:
    return int(_LEADING_DIGITS.match(s).group())


def _safe_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _week_iso(d: dt.date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y:04d}-W{w:02d}"


def _shift_months(d: dt.date, months: int) -> tuple[int, int]:
    idx = d.year * 12 + d.month - 1 + months
    return idx // 12, idx % 12 + 1


_RELATIVE_KINDS = frozenset({"mon", "rel_wd", "rel_day", "rel_unit", "ago"})


def _resolve(m: re.Match, pub: dt.date | None) -> tuple[str | None, str] | None:
    """(iso, precision) for one match, or None when the match is not a valid date."""
    kind = m.lastgroup
    if kind in _RELATIVE_KINDS:
        return _resolve_relative(kind, m.groupdict(), pub)
    return _resolve_absolute(kind, m.groupdict(), pub)


def _resolve_absolute(kind: str | None, g: dict[str, Any], pub: dt.date | None) -> tuple[str | None, str] | None:
    """A date written with its month or year (ISO, "3 March 2024", "March 3", 12/03/2023, "March 2024", 2024)."""
    if kind == "iso":
        d = dt.date.fromisoformat(g["iso"]) if _safe_date(*map(int, g["iso"].split("-"))) else None
        return (d.isoformat(), "day") if d else None
    if kind in ("dmy", "mdy"):
        d = _safe_date(int(g[f"{kind}_y"]), MONTHS[g[f"{kind}_m"].rstrip(".").lower()], _day(g[f"{kind}_d"]))
        return (d.isoformat(), "day") if d else None
    if kind in ("dm", "md"):
        month, day = MONTHS[g[f"{kind}_m"].rstrip(".").lower()], _day(g[f"{kind}_d"])
        if _safe_date(2000, month, day) is None:  # 2000 is a leap year: accepts Feb 29
            return None
        if pub is None:
            return None, "day"
        d = _safe_date(pub.year, month, day)
        if d is None or d > pub + dt.timedelta(days=31):  # a date well after publication is last year's
            d = _safe_date(pub.year - 1, month, day)
        return (d.isoformat() if d else None), "day"
    if kind == "num":  # 12/03/2023: day-first or month-first is only clear when one part is > 12
        a, b, y = int(g["num_a"]), int(g["num_b"]), int(g["num_y"])
        if _safe_date(y, b, a) is None and _safe_date(y, a, b) is None:
            return None
        if a == b or (a <= 12 and b <= 12):
            return (_safe_date(y, a, a).isoformat() if a == b else None), "day"
        d = _safe_date(y, b, a) if a > 12 else _safe_date(y, a, b)
        return (d.isoformat() if d else None), "day"
    if kind == "my":
        return f"{int(g['my_y']):04d}-{MONTHS[g['my_m'].rstrip('.').lower()]:02d}", "month"
    if kind == "year":
        return g["year_y"], "year"
    return None


def _resolve_relative(kind: str, g: dict[str, Any], pub: dt.date | None) -> tuple[str | None, str] | None:
    """A date relative to publication ("in May", "last Tuesday", "yesterday", "next week", "three days ago")."""
    if kind == "mon":
        month = MONTHS[g["mon_m"].lower()]
        if pub is None:
            return None, "month"
        year = pub.year if month <= pub.month else pub.year - 1
        return f"{year:04d}-{month:02d}", "month"
    if kind == "rel_wd":
        if pub is None:
            return None, "day"
        wd = WEEKDAYS[g["rel_wd_d"].lower()]
        mod = (g["rel_wd_mod"] or "").strip().lower()
        back = (pub.weekday() - wd) % 7
        if mod == "next":
            d = pub + dt.timedelta(days=(wd - pub.weekday()) % 7 or 7)
        elif mod == "last":
            d = pub - dt.timedelta(days=back or 7)
        else:
            d = pub - dt.timedelta(days=back)
        return d.isoformat(), "day"
    if kind == "rel_day":
        if pub is None:
            return None, "day"
        off = {"today": 0, "yesterday": -1, "tomorrow": 1}[g["rel_day"].lower()]
        return (pub + dt.timedelta(days=off)).isoformat(), "day"
    if kind == "rel_unit":
        unit, mod = g["ru_unit"], g["ru_mod"].lower()
        step = {"last": -1, "past": -1, "next": 1, "this": 0}[mod]
        if pub is None:
            return None, unit
        if unit == "week":
            return _week_iso(pub + dt.timedelta(weeks=step)), "week"
        if unit == "month":
            y, mo = _shift_months(pub, step)
            return f"{y:04d}-{mo:02d}", "month"
        return f"{pub.year + step:04d}", "year"
    if kind == "ago":
        n_raw, unit = g["ago_n"].lower(), g["ago_unit"]
        n = int(n_raw) if n_raw.isdigit() else _SMALL_NUMS[n_raw]
        if pub is None or n > 10_000:
            return None, unit
        if unit == "day":
            return (pub - dt.timedelta(days=n)).isoformat(), "day"
        if unit == "week":
            return _week_iso(pub - dt.timedelta(weeks=n)), "week"
        if unit == "month":
            y, mo = _shift_months(pub, -n)
            return f"{y:04d}-{mo:02d}", "month"
        return f"{pub.year - n:04d}", "year"
    return None


def parse_dates(
    text: str, published_at: str | dt.date | None = None, sent_starts: Sequence[int] | None = None
) -> list[dict]:
    """All date expressions in ``text`` (see module docstring for the row contract)."""
    pub = parse_published(published_at)
    starts = sentence_starts(text) if sent_starts is None else sent_starts
    rows = []
    for m in _anchored(text):
        # "May" alone is mostly the modal verb: keep it only after a temporal preposition.
        if m.lastgroup == "mon" and m.group() == "May" and not _after_temporal_word(text, m.start()):
            continue
        try:
            res = _resolve(m, pub)
        except OverflowError:  # publication date at the edge of the calendar: keep the date, unresolved
            res = _resolve(m, None)
        if res is None:
            continue
        iso, precision = res
        if iso is not None and not (1 <= int(iso[:4]) <= 9999):
            iso = None
        rows.append(
            {
                "start": m.start(),
                "end": m.end(),
                "surface": m.group(),
                "iso": iso,
                "precision": precision,
                "resolved": iso is not None,
                "sentence": sentence_of(starts, m.start()),
            }
        )
    return rows
