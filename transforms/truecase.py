"""Truecasing of upper-case lines (headlines, datelines, shouted captions) before NER.

Contract: ``truecase(text) -> str`` of the same length as ``text``, equal to it outside upper-case lines, so
NER offsets on the result index the original text. A line is upper-case when it has at least 4 letters and
none is lower-case. In such a line each word takes:

1. the form the same document uses most for it outside upper-case lines, not counting sentence-initial
   words (the body says "Japan", "NATO", "get");
2. else lower case for English function words (spaCy's stop-word list);
3. else title case ("LEICESTERSHIRE" -> "Leicestershire"): the words of a headline the body never uses are
   names more often than not, and a title-cased common word costs NER less than an upper-case name.

A character whose case change would change the length (German "ß" upper-cases to "SS") is left as it is.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict

_WORD = re.compile(r"[^\W\d_]+(?:['’.][^\W\d_]+)*\.?")
_SENT_END = re.compile(r"[.!?:;\"“”]\s*$")
_ASCII_LOWER = re.compile("[a-z]")


@functools.lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def upper_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of the upper-case lines of ``text`` (see module docstring)."""
    out, pos = [], 0
    for line in text.split("\n"):
        # an ASCII lower-case letter rules a line out at C speed (most lines); else the check character by character
        no_lower = _ASCII_LOWER.search(line) is None and not any(c.islower() for c in line)
        if no_lower and sum(c.isalpha() for c in line) >= 4:
            out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _body_forms(text: str, upper: list[tuple[int, int]]) -> dict[str, Counter]:
    """Lower-cased word -> Counter of its forms in the lines that are not upper-case, sentence starts aside."""
    forms: dict[str, Counter] = defaultdict(Counter)
    bounds = iter(upper)
    nxt = next(bounds, None)
    for m in _WORD.finditer(text):
        while nxt is not None and m.start() >= nxt[1]:
            nxt = next(bounds, None)
        if nxt is not None and nxt[0] <= m.start() < nxt[1]:
            continue
        before = text[max(0, m.start() - 3) : m.start()]
        if m.start() == 0 or "\n" in before or _SENT_END.search(before):
            continue
        forms[m.group().lower()][m.group()] += 1
    return forms


def _case_word(word: str, forms: dict[str, Counter]) -> str:
    low = word.lower()
    seen = forms.get(low)
    if seen:
        return seen.most_common(1)[0][0]
    if low in _function_words():
        return low
    if "." in word.rstrip("."):  # "U.S.", "N.Y.": initials keep their case
        return word
    return word[0] + word[1:].lower()


def truecase(text: str) -> str:
    """``text`` with its upper-case lines truecased (see module docstring); same length, same elsewhere."""
    upper = upper_lines(text)
    if not upper:
        return text
    forms = _body_forms(text, upper)
    out = list(text)
    for a, b in upper:
        for m in _WORD.finditer(text, a, b):
            word = m.group()
            new = _case_word(word, forms)
            if len(new) == len(word):
                out[m.start() : m.end()] = new
    return "".join(out)
