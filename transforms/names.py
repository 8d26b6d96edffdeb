"""Name forms: folding, person name tokens, nicknames, corporate suffixes, initials and acronyms.

Data: English given names and their nicknames from the ``nicknames`` package (Carlton Northern's hand-curated
``names.csv``, Apache-2.0): "Bernie" and "Bernard" are related when one is a listed nickname of the other.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

_TITLES_WORDS = """
president mr mrs ms miss dr prof professor sir dame lord lady king queen prince princess sheikh
emir general gen col colonel lt lieutenant captain capt sgt sergeant senator sen rep representative
governor gov minister secretary chancellor pope ayatollah judge justice mayor premier vice deputy
prime foreign defense defence state of chief leader diplomat ambassador spokesman spokeswoman
commander marshal field supervisor editor former late ex
champion coach manager skipper chairman striker midfielder defender goalkeeper veteran
"""
TITLES = frozenset(_TITLES_WORDS.split())
HONORIFICS = frozenset(
    {"president", "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dame", "sheikh", "supervisor", "editor"}
)
PARTICLES = frozenset(
    [
        "al",
        "el",
        "ad",
        "ar",
        "as",
        "ash",
        "an",
        "bin",
        "ibn",
        "bint",
        "abu",
        "van",
        "von",
        "der",
        "den",
        "de",
        "da",
        "di",
        "du",
        "la",
        "le",
    ]
)
# legal-form words dropped from the end of an organisation's key: "MCI Inc" = "MCI", "Carlyle Group" = "Carlyle"
CORPORATE_SUFFIXES = frozenset(
    [
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "plc",
        "ltd",
        "limited",
        "llc",
        "lp",
        "group",
        "holdings",
        "ag",
        "sa",
        "nv",
        "bv",
        "gmbh",
        "spa",
    ]
)
_INITIALS_SKIP = frozenset(
    ["of", "for", "and", "the", "de", "la", "du", "des", "del", "der", "on", "in", "to", "at", "&", "y"]
)
_POSSESSIVE = re.compile(r"(?:['’]s|s['’]|['’])$")
_SPLIT = re.compile(r"[\s\-‐–]+")
_LEADING_THE = re.compile(r"^the\s+")
_WORD_BREAK = re.compile(r"[\s\-]+")

# Entries per string-key cache here and in transforms.places. Documents keep adding strings they alone use (~10 a
# document in the bench corpus), so a larger cache only grows a worker: on 1,000 bench articles the hits of `fold`
# fell 0.3 % from 65,536 entries to this, at the same speed. Full, the old sizes (65,536 for `fold`, 200,000 for
# `place_fold`) held 63 MiB of one- to three-word names; a 100k run's workers filled them as extract went on.
KEY_CACHE = 8192


def strip_marks(s: str) -> str:
    """``s`` with ’ as ' and without combining marks (NFKD): 'Türkiye' -> 'Turkiye'. ASCII is returned as it is (it
    has no ’, no decomposition and no combining marks), without the cost of normalizing it."""
    if s.isascii():
        return s
    s = unicodedata.normalize("NFKD", s.replace("’", "'"))
    return "".join(c for c in s if not unicodedata.combining(c))


@functools.lru_cache(maxsize=KEY_CACHE)
def fold(s: str) -> str:
    """Case-, accent- and punctuation-folded key: 'the U.S.' -> 'us', 'Türkiye' -> 'turkiye'."""
    s = strip_marks(s).casefold().strip()
    s = _POSSESSIVE.sub("", s)
    s = _LEADING_THE.sub("", s)
    s = s.replace(".", "").replace(",", " ")
    return " ".join(_SPLIT.split(s)).strip()


@functools.lru_cache(maxsize=KEY_CACHE)
def person_key(surface: str) -> tuple[str, ...]:
    """Name tokens without titles or particles: 'President Bashar al-Assad' -> ('bashar', 'assad')."""
    toks = [t for t in fold(surface).split(" ") if t]
    while len(toks) > 1 and toks[0] in TITLES:
        toks = toks[1:]
    core = tuple(t for t in toks if t not in PARTICLES)
    return core or tuple(toks)


@functools.lru_cache(maxsize=KEY_CACHE)
def org_key(surface: str) -> str:
    """Folded name less a trailing legal form: 'MCI Inc.' -> 'mci', 'Johnson Controls Inc' -> 'johnson controls'."""
    toks = fold(surface).split(" ")
    while len(toks) > 1 and toks[-1] in CORPORATE_SUFFIXES:
        toks = toks[:-1]
    return " ".join(toks)


def initials(name: str) -> str:
    """Upper-case initials of a name's content words: 'International Monetary Fund' -> 'IMF'."""
    words = [w for w in _WORD_BREAK.split(name) if w and w[0].isalpha()]
    return "".join(w[0].upper() for w in words if w.lower() not in _INITIALS_SKIP)


def is_acronym(surface: str) -> bool:
    """'IMF', 'U.N.', 'Gavi' as written in '(Gavi)' is not: 2-8 letters, all upper-case, dots allowed."""
    letters = surface.replace(".", "").replace("&", "")
    return 2 <= len(letters) <= 8 and letters.isalpha() and letters.isupper()


def acronym_matches(acronym: str, long_form: str) -> bool:
    """True when the letters of ``acronym`` are the long form's initials, or a subsequence of them starting with
    the first ('Gavi' for 'Global Alliance for Vaccines and Immunisation'; 'OIC' for 'Organisation of the
    Islamic Conference')."""
    acr = acronym.replace(".", "").upper()
    init = initials(long_form)
    if len(acr) < 2 or len(init) < 2 or acr[0] != init[0]:
        return False
    if acr == init:
        return True
    it = iter(init)
    return len(acr) >= len(init) - 1 and all(c in it for c in acr)


@functools.lru_cache(maxsize=1)
def _nicknamer():
    from nicknames import NickNamer

    return NickNamer()


@functools.lru_cache(maxsize=KEY_CACHE)
def formal_names(given: str) -> frozenset[str]:
    """The formal given names a (folded) given name is a listed nickname of: 'bernie' -> {'bernard', ...}."""
    return frozenset(_nicknamer().canonicals_of(given))


def nickname_of(nick: str, formal: str) -> bool:
    """True when folded given name ``nick`` is a listed nickname of ``formal`` ('bernie', 'bernard') and reads as
    its short form: shorter ('bill', 'william'), by two letters or more when the first letters differ ('ted',
    'edward'; not 'ian', 'john'), or ``formal`` with an ending ('johnny', 'john'). The list also pairs names of the
    same length that are given names in their own right, often across languages ('john' of 'ivan', 'jack' of
    'john'): two people, not one."""
    if nick == formal or formal not in formal_names(nick):
        return False
    if nick.startswith(formal):
        return True
    return len(nick) < len(formal) and (nick[0] == formal[0] or len(formal) - len(nick) >= 2)


ALIASES_PATH = Path(__file__).with_name("aliases.csv")


@dataclass(frozen=True)
class Alias:
    canonical: str
    type: str
    country_code: str | None
    context: str = ""  # "" = everywhere; "sport" = in sports stories only ("Milan" -> AC Milan)


@functools.lru_cache(maxsize=1)
def load_aliases(path: str = str(ALIASES_PATH)) -> dict[str, Alias]:
    """Folded alias -> Alias from the committed CSV (columns alias, canonical, type, country_code, context)."""
    table = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            table[fold(row["alias"])] = Alias(
                row["canonical"], row["type"], row["country_code"] or None, row.get("context") or ""
            )
    return table
