"""Rules after NER, per document: repair spans, add what NER missed, and relabel by context.

Contract: ``apply_rules(text, cased, spans) -> Ruled`` where ``spans`` are NER (start, end, label) over
``cased`` (``transforms.truecase.truecase(text)``, same length). In order:

1. repair: a name span is cut at " ( ", ")", " - ", " , " and line breaks, and loses leading and trailing
   numbers ("Somerset 83", "64 Bob Estes", "Romania - Cosmin Contra", "Scott Draper ( Australia" are two
   names or one name and a score); a leading demonym before a listed given name is split off ("American
   Dennis Mitchell" -> NORP + PERSON);
   adjacent spans that together form a curated alias are merged ("Islamic" + "State");
2. acronyms defined in the text, "Full Name (ACR)": the long form and the acronym become spans of one label,
   and ``Ruled.acronyms`` holds (acronym span, long-form span) pairs;
3. honorifics: "Mr/Mrs/Ms/Miss/Dr/Sir/Lord/Lady/Dame + Name" makes Name a PERSON span, replacing what NER had;
4. gazetteer: countries, first-level divisions, cities of 100,000+ people (``transforms.places``), demonyms
   (``demonyms.csv``) and curated aliases (``aliases.csv``; rows with context "sport" only in a sports story)
   are added where no span is. A single word is not added when the document also writes it in lower case
   ("reading"), when it is a function word, and a single-word city not when it is a listed given name
   ("Florence") or starts a sentence followed by a lower-case word ("Nice work.");
5. propagation: a name tagged once is tagged at its other occurrences, and so is the surname of a tagged
   full name ("Alexander Lebed" ... "Lebed"); then a one-word PERSON span right after a capitalised listed given
   name takes it in ("Ana" + "Hernandez": another person than the document's "Li Hernandez");
6. sport: in a sports story (``is_sport``) a city or division that is not a dateline nor after "in/at/from"
   names a club and is relabelled ORG ("Leicestershire beat Somerset"). A country keeps its label: whether it
   is the national team is decided by ``team_like`` when the entity is keyed (``transforms.entities``).
"""

from __future__ import annotations

import bisect
import csv
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from transforms.names import acronym_matches, fold, is_acronym, load_aliases
from transforms.places import ADMIN1, CITY, COUNTRY, candidates

Span = tuple[int, int, str]
DEMONYMS_PATH = Path(__file__).with_name("demonyms.csv")
RULER_CITY_POPULATION = 100_000
_CUT = re.compile(r" \( | \(|\) | \)| - | , |\n| \[ | \] ")
_TRAILING_NUMBER = re.compile(r"(?:\s+[\d][\d.,:/\-]*)+$")
_LEADING_NUMBER = re.compile(r"(?:[\d][\d.,:/\-]*\s+)+")
NAME_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
_HONORIFIC = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Dr|Sir|Lord|Lady|Dame)\.?\s+"
    r"((?:[A-Z][\w'’\-]*\.?)(?:\s+(?:[A-Z][\w'’\-]*\.?|van|von|de|al|bin|der|da)){0,3})"
)
# where an honorific may start ("Mrs" starts with "Mr"): a regex that skips to these letters, unlike _HONORIFIC
_HONORIFIC_WORD = re.compile(r"Mr|Ms|Miss|Dr|Sir|Lord|Lady|Dame")
_ACRONYM_DEF = re.compile(r"\(\s*([A-Z][A-Za-z&.]{1,9})\s*\)")
# a capitalised word: r"\b[A-Z][\w'’\-]*[\w]|\b[A-Z]\b", written to start with [A-Z] so that the regex engine skips
# to the next capital letter instead of trying every position (the lookbehind is the leading \b)
_CAP_WORD = re.compile(r"[A-Z](?<!\w[A-Z])(?:[\w'’\-]*\w|\b)")
# a lower-case word: r"\b[a-z][a-z'’\-]+\b", written to start with [a-z] for the same reason
_LOWER_WORD = re.compile(r"[a-z](?<!\w[a-z])[a-z'’\-]+\b")
_SPORT_WORDS_RE = (
    r"\b(?:soccer|football|cricket|tennis|golf|rugby|baseball|basketball|athletics|cycling|boxing|hockey|"
    r"motor racing|formula one|skiing|squash|badminton|innings|wickets?|goals?|striker|midfielder|"
    r"goalkeeper|league|championship|cup|match(?:es)?|tournament|seeded|semifinal|quarter-?final|pitcher|"
    r"homer|inning|touchdown|race|stage|lap|olympics?|champion)\b"
)
_SPORT_WORDS = re.compile(_SPORT_WORDS_RE, re.I)
_SPORT_WORDS_LOWER = re.compile(_SPORT_WORDS_RE)  # the same words over lower-cased ASCII text, ~3x faster
_SPORT_HEAD = re.compile(
    r"^\s*(?:[A-Z ]+ - )?(?:(SOCCER|CRICKET|TENNIS|GOLF|RUGBY|BASEBALL|BASKETBALL|ATHLETICS|CYCLING|BOXING|"
    r"HOCKEY|MOTOR RACING|SKIING|SQUASH|BADMINTON)|NFL|NBA|NHL|SPORTS?)\b",
    re.I,
)
_SENT_START = re.compile(r"(?:^|[.!?:\n\"“]\s*)$")
_NOT_CLUB_BEFORE = re.compile(r"\b(?:in|at|from|near|to|of|into)\s+$")
_DATELINE_AFTER = re.compile(r"^\s+\d{4}-\d\d-\d\d|^\s*\d{1,2}\s+[A-Z][a-z]+")
_LOWER_NEXT = re.compile(r"\s+[a-z]")
_NUMBER_END = ".,:/-\n"  # besides digits, what a trailing number (or the end before a final line break) ends with
GENERIC_PLACE_WORDS = _GENERIC = frozenset(
    [
        "north",
        "south",
        "east",
        "west",
        "central",
        "centre",
        "center",
        "capital",
        "western",
        "eastern",
        "northern",
        "southern",
        "coast",
        "island",
        "islands",
        "river",
        "city",
        "lake",
        "district",
        "region",
        "valley",
        "mountain",
        "delta",
        "north west",
        "south east",
        "union",
        "gulf",
        "republic",
    ]
)


@dataclass
class Ruled:
    spans: list[Span]
    acronyms: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    sport: str | None = None  # sport_kind: None, or "baseball", "soccer", ... or "sport"


def is_sport(text: str) -> bool:
    """A sports story: its first line starts with a sport, or sport words make 1 % of its first 400 words."""
    head = text[:120].lstrip().split("\n", 1)[0]
    if _SPORT_HEAD.match(head):
        return True
    words = text.split(maxsplit=400)[:400]
    return bool(words) and _sport_words(" ".join(words)) >= max(3, len(words) // 100)


def _sport_words(s: str) -> int:
    """How many sport words ``s`` has (``_SPORT_WORDS``). ASCII text is lower-cased and searched case-sensitively,
    which finds the same words faster; other text as it is (re.I also folds "ſ" and the Kelvin sign)."""
    if s.isascii():
        return len(_SPORT_WORDS_LOWER.findall(s.lower()))
    return len(_SPORT_WORDS.findall(s))


_KIND_WORDS = {
    "baseball": re.compile(r"\b(?:baseball|innings? pitched|pitcher|homers?|home runs?|RBIs?|bullpen|shortstop|"
                           r"major league|American League|National League)\b", re.I),
    "soccer": re.compile(r"\b(?:soccer|striker|midfielder|goalkeeper|penalty|first division|premier league)\b", re.I),
    "cricket": re.compile(r"\b(?:cricket|wickets?|bowler|batsman|test match|one-day)\b", re.I),
}  # fmt: skip


def sport_kind(text: str) -> str | None:
    """None for a story that is not about sport; else its sport when its headline or words tell ('baseball',
    'soccer', 'cricket'...), else 'sport'. Curated aliases with context 'baseball' apply in baseball stories,
    those with context 'sport' in any."""
    if not is_sport(text):
        return None
    m = _SPORT_HEAD.match(text[:120].lstrip().split("\n", 1)[0])
    if m and m.group(1):
        return m.group(1).lower()
    head = text[:3000]
    counts = {kind: len(p.findall(head)) for kind, p in _KIND_WORDS.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] >= 2 else "sport"


def context_applies(context: str, sport: str | None) -> bool:
    """Whether an alias of this context applies in a story of this sport kind (see ``sport_kind``)."""
    return not context or (sport is not None and context in ("sport", sport))


def repair(text: str, spans: Sequence[Span]) -> list[Span]:
    """Cut spans at brackets, spaced dashes and commas and line breaks; drop leading and trailing numbers; split
    a leading demonym off a name (see module doc)."""
    out = []
    for s, e, label in spans:
        if label not in NAME_LABELS:
            out.append((s, e, label))
            continue
        pos = s
        for m in [*_CUT.finditer(text, s, e), None]:
            a, b = pos, (m.start() if m else e)
            pos = m.end() if m else e
            # the regexes only when the segment ends with what a number ends with, or starts with a digit
            tail = _TRAILING_NUMBER.search(text, a, b) if b > a and _number_end(text[b - 1]) else None
            if tail:
                b = tail.start()
            head = _LEADING_NUMBER.match(text, a, b) if a < b and text[a].isdecimal() else None
            if head:
                a = head.end()
            while b > a and text[b - 1] in " ,;:(-":
                b -= 1
            while a < b and text[a] in " ,;:)-":
                a += 1
            if b > a and (text[a].isalpha() or any(c.isalpha() for c in text[a:b])):
                out.extend(_split_demonym(text, a, b, label))
    return sorted(set(out))


def _number_end(c: str) -> bool:
    """Whether a match of ``_TRAILING_NUMBER`` may end at character ``c`` (\\d is a Unicode decimal digit)."""
    return c.isdecimal() or c in _NUMBER_END


def _split_demonym(text: str, a: int, b: int, label: str) -> list[Span]:
    """'American Dennis Mitchell' (one ORG span) -> 'American' NORP + 'Dennis Mitchell', PERSON when its first
    word is a listed given name; other spans unchanged ('American Express', 'French Open' stay whole)."""
    words = text[a:b].split(" ")
    for n in (2, 1):
        if len(words) >= n + 2 and fold(" ".join(words[:n])) in demonyms() and words[n][:1].isupper():
            cut = a + len(" ".join(words[:n]))
            rest = cut + 1
            if words[n].lower() in _given_names():
                return [(a, cut, "NORP"), (rest, b, "PERSON")]
    return [(a, b, label)]


def merge_aliases(text: str, spans: list[Span]) -> list[Span]:
    """Adjacent spans that together form a curated alias become one ("Islamic" + "State" -> "Islamic State")."""
    table = load_aliases()
    merged: list[Span] = []
    for s, e, label in sorted(spans):
        if merged:
            ps, pe, _ = merged[-1]
            gap = text[pe:s]
            hit = table.get(fold(text[ps:e])) if len(gap) <= 1 and not gap.strip() else None
            if hit is not None:
                merged[-1] = (ps, e, hit.type)
                continue
        merged.append((s, e, label))
    return merged


def acronyms(text: str, spans: list[Span]) -> tuple[list[Span], list]:
    """'Full Name (ACR)' pairs: the acronym becomes a span with the long form's label (see module doc)."""
    pairs = []
    by_end = {e: (s, e, lab) for s, e, lab in spans}
    for m in _ACRONYM_DEF.finditer(text):
        acr = m.group(1)
        k = m.start()
        while k > 0 and text[k - 1] == " ":
            k -= 1
        long_span = by_end.get(k)
        if long_span is None or not acronym_matches(acr, text[long_span[0] : long_span[1]]):
            continue
        a, b = m.start(1), m.end(1)
        spans = [x for x in spans if not (x[0] < b and a < x[1])] + [(a, b, long_span[2])]
        pairs.append(((a, b), (long_span[0], long_span[1])))
    return sorted(spans), pairs


def honorifics(cased: str, spans: list[Span]) -> list[Span]:
    """'Mr Blair' -> a PERSON span 'Blair', replacing overlapping spans of other labels."""
    first = _HONORIFIC_WORD.search(cased)  # most texts have none; else the matches start there or after
    for m in _HONORIFIC.finditer(cased, first.start()) if first else ():
        a, b = m.span(1)
        while b > a and cased[b - 1] in ".'’":
            b -= 1
        if b <= a:
            continue
        spans = [x for x in spans if not (x[0] < b and a < x[1])] + [(a, b, "PERSON")]
    return sorted(spans)


@functools.lru_cache(maxsize=1)
def demonyms() -> dict[str, str]:
    """Folded demonym -> ISO alpha-2 country code, from ``demonyms.csv``."""
    with open(DEMONYMS_PATH, encoding="utf-8", newline="") as fh:
        return {fold(r["demonym"]): r["country_code"] for r in csv.DictReader(fh)}


@functools.lru_cache(maxsize=1)
def _given_names() -> frozenset[str]:
    from nicknames import name_triplets

    return frozenset(n for t in name_triplets() for n in (t.name1, t.name2))


def _gazetteer_label(phrase: str, sport: str | None) -> str | None:
    """Label for a phrase the gazetteers know, or None."""
    key = fold(phrase)
    alias = load_aliases().get(key)
    if alias is not None and context_applies(alias.context, sport):
        return alias.type
    if key in demonyms():
        return "NORP"
    cands = candidates(phrase)
    if not cands:
        return None
    top = cands[0]
    if top.kind in (COUNTRY, ADMIN1) or (top.kind == CITY and top.population >= RULER_CITY_POPULATION):
        return "GPE"
    return None


@functools.lru_cache(maxsize=1)
def _first_words() -> frozenset[str]:
    """First words (folded) of every gazetteer name: a capitalised word not among them starts none."""
    from transforms.places import index

    names = [*index(), *load_aliases(), *demonyms()]
    return frozenset(n.split(" ", 1)[0] for n in names)


def _covered(length: int, spans: Sequence[Span]) -> bytearray:
    """Characters covered by name spans (a MONEY span "21.8 million French francs" leaves "French" free)."""
    cov = bytearray(length)
    for a, b, label in spans:
        if label not in NAME_LABELS:
            continue
        cov[a:b] = b"\x01" * (b - a)
    return cov


def gazetteer(text: str, cased: str, spans: list[Span], sport: str | None) -> list[Span]:
    """Add gazetteer names where no span is (see module docstring, rule 4). A name of several words also
    replaces NER spans lying inside it ("Islamic" NORP in "Islamic State")."""
    lower_words = set(_LOWER_WORD.findall(text))
    cov = _covered(len(cased), spans)
    # the name spans by start, and the longest one's length: those overlapping a phrase are found by bisection
    names = sorted(x for x in spans if x[2] in NAME_LABELS)
    name_starts = [x[0] for x in names]
    longest = max((e - s for s, e, _ in names), default=0)
    words = list(_CAP_WORD.finditer(cased))
    # run[j]: how many capitalised words from words[j] on follow each other with one space between them
    run = [1] * len(words)
    for j in range(len(words) - 2, -1, -1):
        if cased[words[j].end() : words[j + 1].start()] == " ":
            run[j] = run[j + 1] + 1
    starts = _first_words()
    added: list[Span] = []
    inside: set[Span] = set()
    i = 0
    while i < len(words):
        if fold(words[i].group()) not in starts:
            i += 1
            continue
        for n in (4, 3, 2, 1):
            if run[i] < n:  # fewer than n words left, or not one space apart
                continue
            a, b = words[i].start(), words[i + n - 1].end()
            covered = []
            if cov.find(1, a, b) != -1:
                if n == 1:
                    continue
                lo, hi = bisect.bisect_right(name_starts, a - longest), bisect.bisect_left(name_starts, b)
                covered = [x for x in names[lo:hi] if a < x[1]]
                if any(x[0] < a or x[1] > b for x in covered):
                    continue
            label = _phrase_label(cased, a, b, n, lower_words, sport)
            if label is not None:
                added.append((a, b, label))
                inside.update(covered)
                i += n - 1
                break
        i += 1
    return sorted([x for x in spans if x not in inside] + added)


def _phrase_label(cased: str, a: int, b: int, n: int, lower_words: set[str], sport: str | None) -> str | None:
    """The gazetteer label of the capitalised phrase cased[a:b] of n words, or None (rule 4's exclusions)."""
    phrase = cased[a:b]
    low = phrase.lower()
    if n == 1 and (low in _stop_words() or low in lower_words or low in _GENERIC or len(phrase) < 3):
        return None
    label = _gazetteer_label(phrase, sport)
    places = candidates(phrase) if label == "GPE" and n == 1 else ()
    if places and places[0].kind == CITY:
        at_start = a == 0 or bool(_SENT_START.search(cased[max(0, a - 3) : a]))
        at_start = at_start and bool(_LOWER_NEXT.match(cased, b, b + 3))  # "Nice work", not "LONDON 1996"
        if low in _given_names() or at_start:  # "Florence"; "Nice work." / "Reading it,"
            return None
    return label


@functools.lru_cache(maxsize=1)
def _stop_words() -> set[str]:
    """spaCy's English stop words (imported on first use: importing spaCy is slow)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return STOP_WORDS


def _find_all(text: str, form: str) -> list[int]:
    """Starts of ``form`` in ``text`` as a whole word."""
    out, pos = [], text.find(form)
    while pos != -1:
        end = pos + len(form)
        before = text[pos - 1] if pos else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before in "'’-_") and not (after.isalnum() or after in "-_"):
            out.append(pos)
        pos = text.find(form, pos + 1)
    return out


def propagate(cased: str, spans: list[Span]) -> list[Span]:
    """Tag the other occurrences of tagged names and of the surnames of tagged full names."""
    forms: dict[str, str] = {}
    for s, e, label in spans:
        surface = cased[s:e]
        if is_acronym(surface) or (len(surface) >= 3 and surface[0].isupper()):
            forms.setdefault(surface, label)
        toks = surface.split()
        if label == "PERSON" and len(toks) >= 2 and len(toks[-1]) >= 3 and toks[-1][0].isupper():
            forms.setdefault(toks[-1], "PERSON")
    cov = _covered(len(cased), spans)
    added = []
    for form in sorted(forms, key=len, reverse=True):  # longest first: "New York" before "York"
        for a in _find_all(cased, form):
            b = a + len(form)
            if cov.find(1, a, b) == -1:
                added.append((a, b, forms[form]))
                cov[a:b] = b"\x01" * (b - a)
    return sorted(spans + added)


def _club_like(text: str, s: int, e: int) -> bool:
    line_start = text.rfind("\n", 0, s) + 1
    if s == line_start and _DATELINE_AFTER.match(text[e : e + 20]):
        return False
    return not _NOT_CLUB_BEFORE.search(text[max(0, s - 8) : s])


def sport_labels(text: str, spans: list[Span]) -> list[Span]:
    """In a sports story, cities and divisions used as team names become ORG (rule 6)."""
    people = {w for s, e, lab in spans if lab == "PERSON" and " " in text[s:e] for w in text[s:e].split()}
    out = []
    for s, e, label in spans:
        if label in ("GPE", "LOC", "PERSON") and text[s:e] not in people:
            cands = candidates(text[s:e])
            single = label != "PERSON" or len(text[s:e].split()) == 1
            if cands and cands[0].kind != COUNTRY and single and _club_like(text, s, e):
                label = "ORG"
        out.append((s, e, label))
    return out


_GIVEN_BEFORE = re.compile(r"(?<![\w'’.-])[A-Z][^\W\d_]+ $")


def given_name_before(cased: str, spans: list[Span]) -> list[Span]:
    """A one-word PERSON span right after a capitalised listed given name takes it in: "Ana Hernandez", of which
    NER or propagation tagged "Hernandez" only, is not the document's "Li Hernandez". A span of the given name
    alone ("Julia" tagged GPE) is replaced; a longer span over it stops the rule."""
    out = set(spans)
    starts = {s: (s, e, lab) for s, e, lab in spans}
    ends = {e: (s, e, lab) for s, e, lab in spans if lab in NAME_LABELS}
    for s, e, label in spans:
        if label != "PERSON" or s < 3 or " " in cased[s:e] or cased[s - 1] != " ":
            continue
        m = _GIVEN_BEFORE.search(cased, max(0, s - 24), s)
        if m is None or fold(m.group()[:-1]) not in _given_names():
            continue
        a = m.start()
        before = ends.get(s - 1)
        if (before is not None and before[0] != a) or any(a <= x < s - 1 for x in starts if starts[x] != before):
            continue
        out.discard(before)
        out.discard((s, e, label))
        out.add((a, e, "PERSON"))
    return sorted(out)


def apply_rules(text: str, cased: str, spans: Sequence[Span]) -> Ruled:
    """The rules of the module docstring, in order, over one document."""
    sport = sport_kind(text)
    fixed = merge_aliases(cased, repair(cased, spans))
    fixed, pairs = acronyms(cased, fixed)
    fixed = honorifics(cased, fixed)
    fixed = gazetteer(text, cased, fixed, sport)
    fixed = given_name_before(cased, propagate(cased, fixed))
    if sport:
        fixed = sport_labels(cased, fixed)
    return Ruled(fixed, pairs, sport)
