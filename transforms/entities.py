"""Entity resolution: NER spans -> mentions linked to one canonical entity across spellings and documents.

Contract: ``resolve(docs_spans, known_entities=()) -> (mentions, entities)`` where ``docs_spans`` is a list of
``(doc_id, text, [(start, end, label), ...])`` from any NER. Mentions keep the NER label (``label``) but their
span is trimmed (leading "the", titles and honorifics for people, possessive 's) so ``text[start:end] ==
surface`` still holds. Entities have entity_id, name, type, country_code, aliases, mention_count.

Before resolution the NER spans are repaired with the curated aliases (``augment_spans``): adjacent spans that
together form an alias are merged ("Islamic" + "State"), and curated ORG aliases of 3+ characters that NER
missed ("RIA") are added as ORG spans.

Rules, in order:
1. curated aliases (``aliases.csv``: alias, canonical, type, ISO alpha-2) - exonyms, abbreviations, demonyms
   (NORP kept as NORP but carrying the country code), news agencies;
2. countries by pycountry name/official/common name (codes only for GPE-labelled 2-3 letter spans);
3. people: key = name tokens, case/accents folded, hyphen and particle variants merged ("al-Assad", "Al Assad",
   "Assad" -> assad); a bare surname links to the unique full name with that surname in the same document,
   else in the batch, else in ``known_entities``; NER label slips (a person tagged ORG/GPE/NORP) are linked the
   same way when the span matches a known person;
4. everything else: type = NER label, key = folded surface.

entity_id = "E" + 16 hex of sha1(type|key): deterministic across runs and processes. Ids of known entities
are reused when a mention links to them.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pycountry

ALIASES_PATH = Path(__file__).with_name("aliases.csv")
ENTITY_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
_TITLES_WORDS = """
president mr mrs ms miss dr prof professor sir dame lord lady king queen prince princess sheikh
emir general gen col colonel lt lieutenant captain capt sgt sergeant senator sen rep representative
governor gov minister secretary chancellor pope ayatollah judge justice mayor premier vice deputy
prime foreign defense defence state of chief leader diplomat ambassador spokesman spokeswoman
commander marshal field supervisor editor former late ex
"""
TITLES = frozenset(_TITLES_WORDS.split())
HONORIFICS = frozenset(
    {"president", "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dame", "sheikh", "supervisor", "editor"}
)
_PARTICLES_WORDS = """
al el ad ar as ash an bin ibn bint abu van von der den de da di du la le
"""
PARTICLES = frozenset(_PARTICLES_WORDS.split())
_POSSESSIVE = re.compile(r"(?:['’]s|s['’]|['’])$")
_EDGE_PUNCT = " \t\n.,;:!?\"“”‘’'()[]"
_SPLIT = re.compile(r"[\s\-‐–]+")
_LEADING_THE = re.compile(r"^the\s+")
_INITIAL_DOT = re.compile(r"(?:^|[\s.])[A-Z]\.$")


@dataclass(frozen=True)
class Alias:
    canonical: str
    type: str
    country_code: str | None


@functools.lru_cache(maxsize=65536)
def fold(s: str) -> str:
    """Case-, accent- and punctuation-folded key: 'the U.S.' -> 'us', 'Türkiye' -> 'turkiye'."""
    s = unicodedata.normalize("NFKD", s.replace("’", "'"))
    s = "".join(c for c in s if not unicodedata.combining(c)).casefold().strip()
    s = _POSSESSIVE.sub("", s)
    s = _LEADING_THE.sub("", s)
    s = s.replace(".", "")
    return " ".join(_SPLIT.split(s)).strip()


@functools.lru_cache(maxsize=1)
def load_aliases(path: str = str(ALIASES_PATH)) -> dict[str, Alias]:
    """Folded alias -> Alias from the committed CSV."""
    table = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            table[fold(row["alias"])] = Alias(row["canonical"], row["type"], row["country_code"] or None)
    return table


@functools.lru_cache(maxsize=4096)
def country_lookup(surface: str, label: str) -> Alias | None:
    """Country for a surface via aliases.csv then pycountry; None if not a country."""
    key = fold(surface)
    hit = load_aliases().get(key)
    if hit is not None and hit.type == "GPE":
        return hit
    name = re.sub(r"^the\s+", "", surface.strip(), flags=re.I)
    if len(name) <= 3 and (label != "GPE" or not name.isupper()):
        return None
    try:
        c = pycountry.countries.lookup(name)
    except LookupError:
        return None
    return Alias(getattr(c, "common_name", None) or c.name, "GPE", c.alpha_2)


@functools.lru_cache(maxsize=65536)
def demonym_lookup(surface: str) -> Alias | None:
    """NORP alias for 'Syrian' / 'Syrians' / 'the Russians'."""
    table = load_aliases()
    key = fold(surface)
    for k in (key, key[:-1] if key.endswith("s") else key):
        hit = table.get(k)
        if hit is not None and hit.type == "NORP":
            return hit
    return None


def trim_span(text: str, start: int, end: int, label: str) -> tuple[int, int]:
    """Shrink an NER span: edge punctuation, leading 'the', possessive 's, and titles for people."""
    while start < end and text[start] in _EDGE_PUNCT:
        start += 1
    m = _POSSESSIVE.search(text, start, end)
    if m and m.start() > start:
        end = m.start()
    while end > start and text[end - 1] in _EDGE_PUNCT:
        if text[end - 1] == "." and _INITIAL_DOT.search(text, start, end):
            break  # "U.S." keeps its final dot
        end -= 1
    m = re.match(r"the\s+", text[start:end], re.I)
    if m and m.end() < end - start:
        start += m.end()
    if label in ("PERSON", "ORG"):
        titles = TITLES if label == "PERSON" else HONORIFICS  # "Defense Ministry" keeps its first word
        while True:
            m = re.match(r"([\w.]+)\s+", text[start:end])
            if not m or m.end() >= end - start:
                break
            tok = m.group(1).rstrip(".").lower()
            nxt = text[start + m.end() : end].split(maxsplit=1)[0].rstrip(".").lower()
            is_demonym_title = demonym_lookup(tok) is not None and nxt in TITLES
            if tok in titles or is_demonym_title:
                start += m.end()
            else:
                break
    return start, end


@functools.lru_cache(maxsize=65536)
def person_key(surface: str) -> tuple[str, ...]:
    """Name tokens without titles or particles: 'President Bashar al-Assad' -> ('bashar', 'assad')."""
    toks = [t for t in fold(surface).split(" ") if t]
    while len(toks) > 1 and toks[0] in TITLES:
        toks = toks[1:]
    core = tuple(t for t in toks if t not in PARTICLES)
    return core or tuple(toks)


def entity_id(etype: str, key: str) -> str:
    """Deterministic id of a canonical entity."""
    return "E" + hashlib.sha1(f"{etype}|{key}".encode()).hexdigest()[:16]


def _display_person(surface: str) -> str:
    """Lower-case particles inside a name ('Bashar Al-Assad' -> 'Bashar al-Assad') for a stable display."""
    parts = re.split(r"([\s\-]+)", surface)
    out = []
    for i, p in enumerate(parts):
        out.append(p.lower() if i > 0 and p.lower() in PARTICLES else p)
    return "".join(out)


def _country_alias_type(label: str) -> bool:
    return label in ("GPE", "LOC", "ORG", "NORP")


@functools.lru_cache(maxsize=1)
def _gazetteer() -> re.Pattern | None:
    """Case-sensitive whole-word pattern of curated ORG aliases (>= 3 chars): agencies NER often misses."""
    names = sorted(
        {row["alias"] for row in _alias_rows() if row["type"] == "ORG" and len(row["alias"]) >= 3},
        key=len,
        reverse=True,
    )
    return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, names)) + r")(?![\w-])") if names else None


@functools.lru_cache(maxsize=1)
def _alias_rows() -> tuple[dict, ...]:
    with open(ALIASES_PATH, encoding="utf-8", newline="") as fh:
        return tuple(csv.DictReader(fh))


def augment_spans(text: str, spans: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """NER spans, with two curated-alias repairs: adjacent spans that together form a curated alias are
    merged ("Islamic" + "State" -> "Islamic State"), and curated ORG aliases that NER missed are added."""
    table = load_aliases()
    spans = sorted(spans)
    merged: list[tuple[int, int, str]] = []
    for s, e, label in spans:
        if merged:
            ps, pe, _ = merged[-1]
            gap = text[pe:s]
            hit = table.get(fold(text[ps:e])) if len(gap) <= 1 and not gap.strip() else None
            if hit is not None:
                merged[-1] = (ps, e, hit.type)
                continue
        merged.append((s, e, label))
    gaz = _gazetteer()
    if gaz is not None:
        extra = [(m.start(), m.end(), "ORG") for m in gaz.finditer(text)]
        taken = [(s, e) for s, e, _ in merged]
        merged.extend(x for x in extra if not any(a < x[1] and x[0] < b for a, b in taken))
        merged.sort()
    return merged


def resolve(
    docs_spans: Sequence[tuple[str, str, Sequence[tuple[int, int, str]]]],
    known_entities: KnownEntities | Iterable[Mapping] = (),
) -> tuple[list[dict], list[dict]]:
    """Link NER spans of a batch of documents to canonical entities (see module docstring).

    ``known_entities`` is entity rows, or a ``KnownEntities`` that a caller resolving many batches in turn
    keeps up to date (indexing all known rows again for every batch would make a run quadratic).
    """
    # pass 1: classify every span
    staged = []  # (doc_id, start, end, surface, label, etype, key, name, country_code)
    for doc_id, text, spans in docs_spans:
        for s0, e0, label in augment_spans(text, spans):
            if label not in ENTITY_LABELS:
                continue
            s, e = trim_span(text, s0, e0, label)
            surface = text[s:e]
            if not surface or not any(c.isalpha() for c in surface):
                continue
            country = country_lookup(surface, label) if _country_alias_type(label) else None
            alias = load_aliases().get(fold(surface))
            demonym = demonym_lookup(surface) if label in ("NORP", "GPE", "LOC") else None
            if country is not None:
                etype, key, name, cc = "GPE", f"country:{country.country_code}", country.canonical, country.country_code
            elif demonym is not None:
                etype, key, name, cc = "NORP", fold(demonym.canonical), demonym.canonical, demonym.country_code
            elif alias is not None and alias.type != "PERSON":
                etype, key, name, cc = alias.type, fold(alias.canonical), alias.canonical, alias.country_code
            elif label == "PERSON":
                etype, key, name, cc = "PERSON", " ".join(person_key(surface)), surface, None
            else:
                etype, key, name, cc = label, fold(surface), surface, None
            staged.append([doc_id, s, e, surface, label, etype, key, name, cc])

    # pass 2: people. Full names (>= 2 tokens) anchor surnames per doc, per batch and from known entities.
    doc_full: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    doc_full_keys: dict[str, set[str]] = defaultdict(set)
    batch_full: dict[str, set[str]] = defaultdict(set)
    for doc_id, _s, _e, _surf, _label, etype, key, *_ in staged:
        toks = key.split(" ")
        if etype == "PERSON" and len(toks) >= 2:
            doc_full[doc_id][toks[-1]].add(key)
            doc_full_keys[doc_id].add(key)
            batch_full[toks[-1]].add(key)
    if not isinstance(known_entities, KnownEntities):
        known_entities = KnownEntities(known_entities)
    known_by_key, known_surname = known_entities.person_key_ids, known_entities.surname_ids

    def person_id(full_key: str) -> str:
        return known_by_key.get(full_key) or entity_id("PERSON", full_key)

    resolved_ids: list[str] = []
    for row in staged:
        doc_id, _s, _e, surface, label, etype, key, _name, _cc = row
        eid = None
        if etype == "PERSON" or (etype == label and label in ("ORG", "GPE", "NORP", "LOC")):
            pk = person_key(surface)
            pkey = " ".join(pk)
            if len(pk) >= 2 and (etype == "PERSON" or pkey in doc_full_keys[doc_id]):
                eid = person_id(pkey)
            elif len(pk) == 1:
                cands = doc_full[doc_id].get(pk[0], set())
                if len(cands) == 1:
                    eid = person_id(next(iter(cands)))
                elif etype == "PERSON":  # NER label slips are only re-linked within their own document
                    ids = {person_id(k) for k in batch_full.get(pk[0], ())} | known_surname.get(pk[0], set())
                    own = known_by_key.get(pkey) or entity_id("PERSON", pkey)
                    eid = next(iter(ids)) if len(ids) == 1 else own
            if eid is not None:
                row[5] = "PERSON"
        resolved_ids.append(eid or entity_id(row[5], row[6]))

    # pass 3: rows
    mentions = []
    by_id: dict[str, dict] = {}
    surfaces: dict[str, Counter] = defaultdict(Counter)
    for row, eid in zip(staged, resolved_ids, strict=True):
        doc_id, s, e, surface, label, etype, _key, name, cc = row
        mentions.append({"doc_id": doc_id, "start": s, "end": e, "surface": surface, "label": label,
                         "entity_id": eid})  # fmt: skip
        ent = by_id.setdefault(eid, {"entity_id": eid, "name": name, "type": etype, "country_code": cc,
                                     "aliases": set(), "mention_count": 0})  # fmt: skip
        ent["aliases"].add(surface)
        ent["mention_count"] += 1
        if etype == "PERSON":
            surfaces[eid][(len(person_key(surface)), _display_person(surface))] += 1
    entities = []
    for eid, ent in sorted(by_id.items()):
        known = known_entities.get(eid)
        if known is not None:
            ent["name"] = known["name"]
            ent["aliases"] |= known["aliases"]
        elif eid in surfaces:
            # longest form (most name tokens), then most frequent, then alphabetical
            (_n, best), _c = min(surfaces[eid].items(), key=lambda kv: (-kv[0][0], -kv[1], kv[0][1]))
            ent["name"] = best
        ent["aliases"] = sorted(ent["aliases"])
        entities.append(ent)
    return mentions, entities


class EntityTable:
    """Entity rows merged by entity_id as they arrive: union of aliases, sum of mention counts, the first
    name wins, a missing country code is filled. ``add`` costs the rows added, not the rows held."""

    def __init__(self, rows: Iterable[Mapping] = ()) -> None:
        self._rows: dict[str, dict] = {}
        self.add(rows)

    def add(self, rows: Iterable[Mapping]) -> list[dict]:
        """Merge ``rows`` in; returns the rows of entity ids not held before (as held: aliases a set)."""
        new = []
        for r in rows:
            cur = self._rows.get(r["entity_id"])
            if cur is None:
                cur = self._rows[r["entity_id"]] = {**r, "aliases": set(r.get("aliases") or []),
                                                    "mention_count": int(r.get("mention_count") or 0)}  # fmt: skip
                new.append(cur)
                continue
            cur["aliases"].update(r.get("aliases") or [])
            cur["mention_count"] += int(r.get("mention_count") or 0)
            if cur.get("country_code") is None:
                cur["country_code"] = r.get("country_code")
        return new

    def get(self, entity_id: str) -> dict | None:
        """The merged row of ``entity_id`` (aliases a set: do not modify), or None."""
        return self._rows.get(entity_id)

    def rows(self) -> list[dict]:
        """Copies of the merged rows, by entity_id, aliases sorted."""
        return [{**self._rows[eid], "aliases": sorted(self._rows[eid]["aliases"])} for eid in sorted(self._rows)]


class KnownEntities(EntityTable):
    """Known entities (earlier runs, then earlier batches of this run) with the person-name index ``resolve``
    links surnames and full names against, both kept up to date by ``add``.

    A full-name form indexes the first entity added with it, so ``KnownEntities(rows)`` indexes as
    ``resolve(..., rows)`` always did. Added chunk by chunk, a form two chunks' entities share keeps the
    earlier chunk's entity (re-merging all of them for each chunk kept the smaller entity_id); the flow's
    chunk-size test checks that ids do not depend on chunking.
    """

    def __init__(self, rows: Iterable[Mapping] = ()) -> None:
        self.person_key_ids: dict[str, str] = {}  # "bashar assad" -> entity_id
        self.surname_ids: dict[str, set[str]] = defaultdict(set)  # "assad" -> entity_ids
        super().__init__(rows)

    def add(self, rows: Iterable[Mapping]) -> list[dict]:
        new = []
        for r in rows:  # one by one: a row's name, then its aliases, are indexed before the next row's
            added = super().add((r,))
            new += added
            if r.get("type") == "PERSON":
                self._index(r["entity_id"], [r["name"], *(r.get("aliases") or [])] if added else r.get("aliases") or [])
        return new

    def _index(self, entity_id: str, forms: Iterable[str]) -> None:
        for form in forms:
            k = person_key(form)
            if len(k) >= 2:
                self.person_key_ids.setdefault(" ".join(k), entity_id)
                self.surname_ids[k[-1]].add(entity_id)


def merge_entities(rows: Iterable[Mapping]) -> list[dict]:
    """Merge entity rows sharing an entity_id: union of aliases, sum of mention counts; first name wins."""
    return EntityTable(rows).rows()
