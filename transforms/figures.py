"""Figures: every number expression in a text, in digits or words, with value, unit, kind and qualifier.

Contract: ``parse_figures(text, sent_starts=None, exclude=None) -> list[dict]``, one row per expression, keys
start, end, surface, value, value_max, unit, kind, qualifier, subject, sentence; ``text[start:end] == surface``.

- surface spans qualifier + number(s) + unit ("at least 580,000", "13 million", "$5 billion", "12%",
  "a 12-year" is reported as "12-year"); the counted noun is reported separately as ``subject``.
- kind: count / money / percent / duration / fraction / ordinal. unit: None for counts, fractions and
  ordinals; "percent"; an ISO 4217 code for money; the singular time unit for durations (year, decade...).
- value_max is set for ranges ("10 to 20", "between 5 and 7") and for vague amounts, which are read as a
  decade of magnitude: "thousands" = [1,000, 10,000], "tens of thousands" = [10,000, 100,000], "dozens" =
  [24, 120], "for decades" = [2, 10] decades.
- qualifier is canonical: at least / at most / more than / less than / about / nearly / up to.
- Years and calendar dates are not figures: spans found by ``transforms.dates.parse_dates`` (or given in
  ``exclude``) are skipped, as are clock times and a bare four-digit 1800-2099 number.
- subject is a light token heuristic (no tagger): the first content word after the number, skipping "of" and
  one adjective-looking word ("two allied countries" -> countries); None when a function word follows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from transforms.dates import alternation, parse_dates, sentence_of, sentence_starts, token_start_patterns, token_starts
from transforms.spans import SpanSet

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
           "k": 1e3, "m": 1e6, "mn": 1e6, "bn": 1e9, "tn": 1e12, "dozen": 12}  # fmt: skip
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "twentieth": 20, "thirtieth": 30, "fiftieth": 50, "hundredth": 100,
}  # fmt: skip
_DENOMS = {"half": 2, "halves": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6,
           "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}  # fmt: skip
_VAGUE = {"dozens": 12, "tens": 10, "hundreds": 100, "thousands": 1e3, "millions": 1e6, "billions": 1e9}
_QUALIFIERS = {
    "at least": "at least", "no fewer than": "at least", "no less than": "at least", "or more": "at least",
    "at most": "at most", "no more than": "at most",
    "more than": "more than", "over": "more than", "upwards of": "more than", "just over": "more than",
    "well over": "more than", "in excess of": "more than",
    "less than": "less than", "fewer than": "less than", "under": "less than", "just under": "less than",
    "about": "about", "around": "about", "approximately": "about", "roughly": "about", "some": "about",
    "an estimated": "about", "estimated": "about", "circa": "about", "close to": "nearly",
    "nearly": "nearly", "almost": "nearly", "up to": "up to", "as many as": "up to", "as much as": "up to",
}  # fmt: skip
_CURRENCY = {
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "€": "EUR", "eur": "EUR",
    "euro": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "¥": "JPY",
    "yen": "JPY", "₹": "INR", "rupees": "INR", "rubles": "RUB", "roubles": "RUB", "ruble": "RUB",
    "rouble": "RUB", "rub": "RUB", "lira": "TRY", "liras": "TRY", "yuan": "CNY", "riyals": "SAR",
}  # fmt: skip
_DURATION_UNITS = {"second": "second", "minute": "minute", "hour": "hour", "day": "day", "week": "week",
                   "month": "month", "year": "year", "decade": "decade", "century": "century",
                   "centuries": "century"}  # fmt: skip


_W = alternation([*_UNITS, *_TENS])
# a second number word only after a tens word ("twenty-five"): "one three" and "two two" are two figures, not 4
_TENS_UNIT = rf"(?:{alternation(_TENS)}(?:[- ]{alternation([w for w, v in _UNITS.items() if 1 <= v <= 9])})?)"
_NUMWORD = rf"(?:{_TENS_UNIT}|{_W})"
_WORDNUM = rf"(?:{_NUMWORD}(?:\s+(?:hundred|thousand|million|billion|trillion)(?:\s+(?:and\s+)?{_NUMWORD})?)*)"
_A_SCALE = r"(?:an?\s+(?:hundred|thousand|million|billion|trillion|dozen)(?:\s+(?:thousand|million|billion))*)"
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_SCALE_SFX = r"(?:\s*(?:hundred|thousand|million|billion|trillion)\b|(?:bn|mn|tn|m|k)\b)"
_NUM = rf"(?:{_DIGITS}{_SCALE_SFX}?|{_A_SCALE}|{_WORDNUM}\b(?:\s+dozen)?)"
_CUR_PRE = r"(?:US\$|\$|€|£|¥|₹|(?:USD|EUR|GBP)\s?)"
_QUAL = alternation(q for q in _QUALIFIERS if q != "or more")
# Each is followed by \b, so at most one of them matches at a position and their order does not matter.
_CUR_WORDS = alternation(["dollars", "dollar", "euros", "euro", "pounds", "pound", "yen", "rupees", "rubles", "roubles",
                   "ruble", "rouble", "lira", "liras", "yuan", "riyals"])  # fmt: skip
_DUR_WORDS = alternation([*(u + s for u in ("second", "minute", "hour", "day", "week", "month", "year", "decade")
                      for s in ("", "s")), "century", "centuries"])  # fmt: skip
_DEN_WORDS = alternation(["half", "halves", *(d + s for d in ("third", "quarter", "fourth", "fifth", "sixth", "seventh",
                                                      "eighth", "ninth", "tenth") for s in ("", "s"))])  # fmt: skip
_ORD_WORDS = alternation(_ORDINALS)
_LETTER = r"(?=[^\W\d_])"  # every word alternative starts with a letter: one test rules them all out at a digit

# Matched only at a token that can start a figure (see ``parse_figures``). ``*+``/``++`` (possessive) where what
# follows cannot start with what backtracking would give back (blanks before a word, digits before "th"), so they
# change no match, only the time a failing attempt takes.
_FIG_RE = re.compile(
    rf"(?:{_LETTER}(?P<qual>\b{_QUAL})\s++)?"
    r"(?:"
    # vague amounts: "tens of thousands", "millions", "dozens"
    rf"(?P<vague>\b{_LETTER}(?P<vague_a>dozens|tens|hundreds|thousands|millions|billions)"
    r"(?:\s+of\s+(?P<vague_b>thousands|millions|billions))?\b)"
    # fractions: "one-fifth", "two thirds", "a quarter", "half"
    rf"|(?P<frac>\b{_LETTER}(?:(?P<frac_n>a|one|two|three|four|five|six|seven|eight|nine)[- ])?"
    rf"(?P<frac_d>{_DEN_WORDS})\b)"
    # ordinals: "first", "12th"
    rf"|(?P<ord>\b{_LETTER}{_ORD_WORDS}\b|\b\d++(?:st|nd|rd|th)\b)"
    # numbers with optional range, currency and unit
    rf"|(?P<num>(?P<rng_pre>\b(?:between|from)\s+)?(?P<cur1>{_CUR_PRE})?(?P<n1>(?<![\w.,]){_NUM})"
    rf"(?:(?P<rng_sep>\s*+(?:-|–|—)\s*+|\s++(?:to|and)\s++)(?P<cur2>{_CUR_PRE})?(?P<n2>{_NUM}))?"
    rf"(?P<unit>\s*+(?:%|percent\b|per\s?cent\b|percentage\s+points?\b)"
    rf"|\s*+{_CUR_WORDS}\b|\s?+(?:USD|EUR|GBP)\b|[- ]{_DUR_WORDS}\b(?:-old\b)?)?)"
    r")",
    re.I,
)
# Clock times, r"\b\d{1,2}:\d{2}\b" written to start with a digit (the look-behind is the \b) so that the scan
# skips to digits in C.
_TIME_RE = re.compile(r"\d(?<!\w\d)\d?:\d{2}\b")
_YEAR_LIKE = re.compile(r"^(?:1[89]\d\d|20\d\d)$")
_ONE_STOP = frozenset(
    [
        "of",
        "another",
        "or",
        "and",
        "who",
        "that",
        "which",
        "is",
        "was",
        "has",
        "had",
        "have",
        "can",
        "could",
        "would",
        "should",
        "will",
        "must",
        "may",
        "might",
        "day",
        "time",
        "way",
        "another's",
    ]
)
_ONE_BEFORE_STOP = re.compile(r"\b(?:no|any|every|some|the|this|that|each|which|no-|someone|everyone)\s+$", re.I)
_SUBJECT_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "than",
        "that",
        "which",
        "who",
        "whom",
        "whose",
        "this",
        "these",
        "those",
        "more",
        "less",
        "most",
        "least",
        "other",
        "others",
        "times",
        "per",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "must",
        "not",
        "no",
        "since",
        "after",
        "before",
        "ago",
        "during",
        "until",
        "while",
        "when",
        "where",
        "than",
        "into",
        "onto",
        "over",
        "under",
        "about",
        "around",
        "its",
        "their",
        "his",
        "her",
        "our",
        "your",
        "my",
        "it",
        "they",
        "them",
        "he",
        "she",
        "we",
        "you",
        "i",
        "percent",
        "per",
        "cent",
        "more",
    ]
)
_ADJ_SUFFIX = re.compile(r"(?:ed|al|ic|ive|ous|ian|ese|ish|ary|ful|ern|less|ble|ant|ent)$")
_WORD_AFTER = re.compile(r"\s*([A-Za-z][\w'’-]*)")
# Up to four words after a figure, each after blanks on the same line (a line break ends the run).
_WORDS_AFTER = re.compile(r"[^\S\n]*+([A-Za-z][\w'’-]*+)" + r"(?:[^\S\n]*+([A-Za-z][\w'’-]*+)" * 3 + ")?" * 3)
_HYPHEN_WORD = re.compile(r"-(?=[a-z])")
_DIGITS_SCALE = re.compile(r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*([a-z]+)?")
_WORD_SEP = re.compile(r"[\s-]+")
_HALF_OF = re.compile(r"\b(first|second|the|other|latter|last)\s+$")
_LEADING_DIGITS = re.compile(r"\d+")
_ENDS_IN_SCALE = re.compile(_SCALE_SFX + "$")


def words_to_number(s: str) -> float | None:
    """Parse '580,000', '13 million', '3.5bn', 'twenty-five', 'three hundred thousand', 'a dozen'."""
    s = s.lower().strip()
    m = _DIGITS_SCALE.fullmatch(s)
    if m:
        v = float(m.group(1).replace(",", ""))
        if m.group(2):
            if m.group(2) not in _SCALES:
                return None
            v *= _SCALES[m.group(2)]
        return v
    total, current, seen = 0.0, 0.0, False
    for tok in _WORD_SEP.split(s):
        if tok in ("and", ""):
            continue
        if tok in ("a", "an"):
            current, seen = 1.0, True
        elif tok in _UNITS:
            current += _UNITS[tok]
            seen = True
        elif tok in _TENS:
            current += _TENS[tok]
            seen = True
        elif tok == "hundred":
            current = (current or 1) * 100
            seen = True
        elif tok in _SCALES:
            total += (current or 1) * _SCALES[tok]
            current, seen = 0.0, True
        else:
            return None
    return total + current if seen else None


def _subject(text: str, pos: int) -> str | None:
    """First content word after ``pos``: skip 'of' and one adjective-looking word; None on a function word."""
    m = _WORDS_AFTER.match(text, pos)
    if m is None:
        return None
    words = [w for w in m.groups() if w is not None]
    if words[0].lower() == "of" and len(words) > 1:
        words = words[1:]
        if words[0].lower() in ("the", "a", "an", "its", "their") and len(words) > 1:
            words = words[1:]
    head = words[0]
    if head.lower() in _SUBJECT_STOP or head.isdigit():
        return None
    parts = _HYPHEN_WORD.split(head, 1)
    hyphenated = len(parts) > 1
    head = parts[0].rstrip("’'")
    if (
        not hyphenated
        and len(words) > 1
        and _ADJ_SUFFIX.search(head.lower())
        and words[1].lower() not in _SUBJECT_STOP
        and words[1][0].islower()
    ):
        head = words[1].rstrip("’'")
    return head or None


def _row(m: re.Match, text: str) -> dict | None:
    """Interpret one regex match; None when it is not a figure (year, pronoun 'one', bad number)."""
    g = m.groupdict()
    qual = _QUALIFIERS[g["qual"].lower()] if g["qual"] else None
    value_max: float | None = None
    unit: str | None = None
    if g["vague"]:
        base = _VAGUE[g["vague_a"].lower()]
        if g["vague_b"]:
            base *= _VAGUE[g["vague_b"].lower()]
        value, value_max = base * (2 if g["vague_a"].lower() == "dozens" else 1), base * 10
        kind = "count"
    elif g["frac"]:
        num_w, den_w = (g["frac_n"] or "").lower(), g["frac_d"].lower()
        if not num_w and not qual and den_w != "half":
            if den_w not in _ORDINALS:  # a bare "quarter" or "thirds" is a noun
                return None
            # a bare "third", "fifth": the fraction alternative comes first in _FIG_RE, but this is the ordinal
            value, kind = float(_ORDINALS[den_w]), "ordinal"
        else:
            if den_w == "half" and not num_w and not qual:
                before = text[max(0, m.start() - 12) : m.start()].lower()
                if _HALF_OF.search(before):
                    return None
            den = _DENOMS[den_w.rstrip("s") if den_w.rstrip("s") in _DENOMS else den_w]
            value = (1 if num_w in ("", "a", "one") else _UNITS[num_w]) / den
            kind = "fraction"
    elif g["ord"]:
        tok = g["ord"].lower()
        value = float(_ORDINALS[tok]) if tok in _ORDINALS else float(_LEADING_DIGITS.match(tok).group())
        kind = "ordinal"
    else:
        parsed = _number_figure(m, g, text)
        if parsed is None:
            return None
        value, value_max, unit, kind = parsed
    if not (math.isfinite(value) and (value_max is None or math.isfinite(value_max))):
        return None
    return {"value": float(value), "value_max": None if value_max is None else float(value_max), "unit": unit,
            "kind": kind, "qualifier": qual}  # fmt: skip


def _number_figure(m: re.Match, g: dict[str, Any], text: str) -> tuple[float, float | None, str | None, str] | None:
    """(value, value_max, unit, kind) of a number or a range, with its currency or unit; None when not a figure."""
    n1, n2 = g["n1"], g["n2"]
    v1 = words_to_number(n1)
    v2 = words_to_number(n2) if n2 else None
    if v1 is None or (n2 and v2 is None):
        return None
    if n2 and g["rng_sep"].strip().lower() == "and" and not g["rng_pre"]:
        return None  # "two and three" lists, not a range: let the regex retry on the parts
    if n1.lower() == "one" and not n2 and not g["unit"]:
        after = _WORD_AFTER.match(text, m.end())
        nxt = after.group(1).lower() if after else ""
        if (
            not nxt
            or nxt in _ONE_STOP
            or _ONE_BEFORE_STOP.search(text, max(0, m.start() - 12), m.start())
            or text[m.end() : m.end() + 1] in ",.;:"
        ):
            return None
    unit_raw = (g["unit"] or "").strip(" -").lower()
    cur = g["cur1"] or g["cur2"]
    bare_year = (
        _YEAR_LIKE.match(n1) and not n2 and not cur and not (unit_raw and not unit_raw.startswith(("year", "-year")))
    )
    if bare_year and not unit_raw:
        return None
    if n2:
        scale2 = _ENDS_IN_SCALE.search(n2)
        if scale2 and not _ENDS_IN_SCALE.search(n1):  # "5 to 7 million": the scale is shared
            factor = words_to_number("1" + scale2.group().strip()) or 1
            if v1 <= v2 / factor:
                v1 *= factor
        if v2 is not None and v2 < v1:
            return None  # "2-1" scores or codes, not ranges
    if cur or unit_raw in _CURRENCY or unit_raw.upper() in ("USD", "EUR", "GBP"):
        return v1, v2, _CURRENCY.get((cur or unit_raw).strip().lower(), (cur or unit_raw).strip().upper()), "money"
    if unit_raw.startswith(("%", "percent", "per")):
        return v1, v2, "percent", "percent"
    if unit_raw:
        base = unit_raw.removesuffix("-old").rstrip("s") if unit_raw != "centuries" else "century"
        unit = _DURATION_UNITS.get(base, _DURATION_UNITS.get(unit_raw))
        return None if unit is None else (v1, v2, unit, "duration")
    return v1, v2, None, "count"


# A figure starts only at a digit, a currency sign or one of these words (in any case).
_ANCHORS = frozenset(
    [*_UNITS, *_TENS, *_ORDINALS, *_DENOMS, *_VAGUE, "a", "an", "between", "from", "us", "usd", "eur", "gbp",
     *(q.split()[0] for q in _QUALIFIERS)]
)  # fmt: skip
_STARTS = token_start_patterns(_ANCHORS, fold_case=True)
_SIGN = re.compile(r"[$€£¥₹]")
_OR_MORE = re.compile(r"\s+or\s+more\b", re.I)
_FOR_DECADES = re.compile(r"\b(?:for|over|in recent|several|many)\s+(decades|centuries)\b", re.I)


def parse_figures(
    text: str, sent_starts: Sequence[int] | None = None, exclude: Sequence[tuple[int, int]] | None = None
) -> list[dict]:
    """All number expressions in ``text`` except dates and times (see module docstring)."""
    starts = sentence_starts(text) if sent_starts is None else sent_starts
    if exclude is None:
        exclude = [(d["start"], d["end"]) for d in parse_dates(text, None, starts)]
    blocked = SpanSet([*exclude, *((t.start(), t.end()) for t in _TIME_RE.finditer(text))])
    rows = []
    cursor = 0
    # Match only where a figure can start (a digit, currency sign, number/qualifier word): anchored matches at
    # those few offsets are ~10x faster than ``search`` over this large alternation.
    offsets = token_starts(text, _STARTS)
    signs = [m.start() for m in _SIGN.finditer(text)]
    for p in sorted(offsets + signs) if signs else offsets:
        if p < cursor:
            continue
        m = _FIG_RE.match(text, p)
        if m is None or m.end() == m.start():
            continue
        start, end = m.span()
        if blocked.overlaps(start, end) or (row := _row(m, text)) is None:
            continue  # a shorter reading may still start at a later token
        if m.group("rng_pre") and not m.group("n2"):
            start = m.start("cur1") if m.group("cur1") else m.start("n1")
            if m.group("qual"):
                start = m.start("qual")
        om = _OR_MORE.match(text, end)
        if om and row["qualifier"] is None:
            row["qualifier"] = "at least"
            end = om.end()
        row = {"start": start, "end": end, "surface": text[start:end], **row,
               "subject": _subject(text, end), "sentence": sentence_of(starts, start)}  # fmt: skip
        rows.append(row)
        cursor = end
    decades = "decades" in text or "centuries" in text
    for m in _FOR_DECADES.finditer(text) if decades else ():
        s, e = m.start(1), m.end(1)
        if not SpanSet((r["start"], r["end"]) for r in rows).overlaps(s, e):
            unit = "decade" if m.group(1).lower() == "decades" else "century"
            rows.append({"start": s, "end": e, "surface": text[s:e], "value": 2.0, "value_max": 10.0, "unit": unit,
                         "kind": "duration", "qualifier": None, "subject": None,
                         "sentence": sentence_of(starts, s)})  # fmt: skip
    rows.sort(key=lambda r: r["start"])
    return rows
