"""Entity resolution as map and reduce: document-local entity keys, per-shard key statistics, run-wide ids.

Map, per document (``link_document``): the spans after ``transforms.ruler`` become mentions, each with an
``entity_key``, a type-free string naming the entity as far as the document alone can tell:

- ``country:RU`` for a country, its exonyms and demonyms ("Russia", "Russian Federation", "Russians"), or
  ``team:RU`` for its national team in a sports story when the mention reads as a team (``team_like``:
  a score or a result verb next to it, or NER's ORG);
- ``geo:<geonames id>`` / ``admin1:<CC>-<code>`` for a city or division, geocoded with the document's context
  (``transforms.places.geocode``: the qualifier after the name, the divisions and countries it names);
- ``person:<given ... surname>`` for a person (folded name tokens, titles and particles dropped). In the
  document a bare surname, an honorific form ("Mr Blair"), a middle-initial variant and a listed nickname
  ("Bernie Ebbers" beside "Bernard Ebbers") take the key of the unique full name they fit; a surname with no
  full name here stays ``surname:<surname>`` for the reduce;
- ``name:<folded name>`` for the rest, a curated alias's canonical name ("Tories" -> Conservative Party), a
  trailing legal form dropped ("MCI Inc" = "MCI"). An acronym defined here ("... (Gavi)") or matching the
  initials of one name of the document takes that name's key.

The NER label is evidence, not identity: it is in no key. Each mention keeps a label (the document's majority
label for that key and surface).

Reduce: ``key_stats(extracts)`` summarises a shard per key (rows mergeable across shards); ``resolve_keys(stats,
known)`` links keys across documents and runs and returns ``(mapping key -> entity_id, entity rows)``:

- ``surname:x`` -> the one person key with surname x in this run and the known entities (none or several:
  it stays apart; a name key "name:x" with the same word wins when there is no person, as "Labour" tagged
  PERSON once and ORG elsewhere);
- ``person:`` with a nickname as given name -> the one person with that surname whose given name it is a
  nickname of;
- an acronym key -> the one key some document defined it for, else the one multi-word name whose initials
  it is (this run or known entities' aliases).

Types are by majority of the labels, after the key's kind (person, country, place, team) and curated type.
entity_id = "E" + 16 hex of sha1(final key), or the known entity's id for a known key: stable across runs.
Memory of the reduce: one merged stats row per distinct key (its label and surface counters) plus the indexes
of known entities; never per mention.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from transforms.names import (
    HONORIFICS,
    PARTICLES,
    TITLES,
    Alias,
    fold,
    initials,
    is_acronym,
    load_aliases,
    nickname_of,
    org_key,
    person_key,
)
from transforms.places import ADMIN1, COUNTRY, Context, Place, candidates, geocode
from transforms.ruler import GENERIC_PLACE_WORDS, Ruled, _given_names, context_applies, demonyms

__all__ = [
    "ENTITY_LABELS",
    "Alias",
    "EntityTable",
    "KnownEntities",
    "entity_id",
    "fold",
    "key_stats",
    "link_document",
    "load_aliases",
    "merge_entities",
    "person_key",
    "resolve",
    "resolve_keys",
]

ENTITY_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
LABEL_ORDER = ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW", "LANGUAGE")
PLACE_FIELDS = ("country_code", "admin1_code", "latitude", "longitude", "geonames_id")
_POSSESSIVE = re.compile(r"(?:['’]s|s['’]|['’])$")
_EDGE_PUNCT = " \t\n.,;:!?\"“”‘’'()[]"
_INITIAL_DOT = re.compile(r"(?:^|[\s.])[A-Z]\.$")
_POSSESSIVE_END = "s'’\n"  # what a match of _POSSESSIVE ends with (or a final line break it is before)
_THE = re.compile(r"the\s+", re.I)
_FIRST_WORD = re.compile(r"([\w.]+)\s+")
_POSSESSIVE_AFTER = re.compile(r"\s*['’]s\b")
_COUNTRY_BEFORE = re.compile(r"(?:\b(?:of|from|in|for|at)|\()\s*$")
# a score (not a dateline's year) or a result verb after the name; "beat", "against", "v" before it
_TEAM_AFTER = re.compile(
    r"^\s*(?:\d{1,3}(?![\d:]|-\d\d-)|beat\b|beats\b|drew\b|draw\b|lost\b|lose\b|won\b|win\b|v\b|vs\b|"
    r"thrashed\b|edged\b)"
)
_TEAM_BEFORE = re.compile(r"(?:\bbeat|\bbeating|\bagainst|\bv|\bvs\.?)\s+$")
_QUALIFIER = re.compile(r"^\s*,\s*([A-Z][\w.]+(?:\s[A-Z][\w.]+)?)")


def entity_id(key: str) -> str:
    """Deterministic id of a final entity key."""
    return "E" + hashlib.sha1(key.encode()).hexdigest()[:16]


def trim_span(text: str, start: int, end: int, label: str) -> tuple[int, int]:
    """Shrink a span: edge punctuation, leading 'the', possessive 's, and titles for people."""
    while start < end and text[start] in _EDGE_PUNCT:
        start += 1
    m = _POSSESSIVE.search(text, start, end) if end > start and text[end - 1] in _POSSESSIVE_END else None
    if m and m.start() > start:
        end = m.start()
    while end > start and text[end - 1] in _EDGE_PUNCT:
        if text[end - 1] == "." and _INITIAL_DOT.search(text[start:end]):
            break  # "U.S." and "J." keep their final dot, wherever the span starts
        end -= 1
    m = _THE.match(text, start, end)
    if m and m.end() < end:
        start = m.end()
    if label in ("PERSON", "ORG"):
        titles = TITLES if label == "PERSON" else HONORIFICS  # "Defense Ministry" keeps its first word
        while True:
            m = _FIRST_WORD.match(text, start, end)
            if not m or m.end() >= end:
                break
            tok = m.group(1).rstrip(".").lower()
            if tok in titles or (fold(tok) in demonyms() and _next_word(text, m.end(), end) in TITLES):
                start = m.end()
            else:
                break
    return start, end


def _next_word(text: str, start: int, end: int) -> str:
    """The first word of text[start:end], lower-cased, less its final dots."""
    return text[start:end].split(maxsplit=1)[0].rstrip(".").lower()


def _demonym(surface: str) -> str | None:
    return _demonym_of_key(fold(surface))


def _demonym_of_key(key: str) -> str | None:
    """The country code of a folded demonym, singular ("russian") or plural ("russians"), else None."""
    table = demonyms()
    return table.get(key) or (table.get(key[:-1]) if key.endswith("s") else None)


def team_like(text: str, start: int, end: int, label: str) -> bool:
    """A country's name read as its national team: NER said ORG, or a score or result verb is next to it."""
    if _POSSESSIVE_AFTER.match(text[end : end + 4]):  # "India 's Leander Paes": the country
        return False
    before = text[max(0, start - 6) : start]
    if _COUNTRY_BEFORE.search(before):  # "Dinamo of Russia 92-81", "Draper ( Australia )"
        return False
    return (
        label == "ORG"
        or bool(_TEAM_AFTER.match(text[end : end + 20]))
        or bool(_TEAM_BEFORE.search(text[max(0, start - 12) : start]))
    )


@functools.lru_cache(maxsize=1)
def _country_names() -> dict[str, tuple[str, int | None]]:
    """ISO alpha-2 -> (display name, GeoNames id): the curated canonical name ("Syria", "Russia") else
    pycountry's common or short name."""
    import pycountry

    out = {}
    for c in pycountry.countries:
        place = next((p for p in candidates(c.name) if p.kind == COUNTRY), None)
        out[c.alpha_2] = (getattr(c, "common_name", None) or c.name, place.geonames_id if place else None)
    for a in load_aliases().values():
        if a.type == "GPE" and a.country_code in out:
            out[a.country_code] = (a.canonical, out[a.country_code][1])
    return out


def _country_info(cc: str, sport_team: bool) -> tuple[str, dict]:
    name, gid = _country_names().get(cc, (cc, None))
    if sport_team:
        return f"team:{cc}", {"kind": "team", "name": f"{name} national team", "type": "ORG", "country_code": cc}
    return f"country:{cc}", {"kind": "country", "name": name, "type": "GPE", "country_code": cc, "geonames_id": gid}


def _place_info(place: Place) -> tuple[str, dict]:
    info = {"kind": "place", "name": place.name, "type": "GPE", **{f: getattr(place, f) for f in PLACE_FIELDS}}
    return place.key, info


def classify(text: str, s: int, e: int, label: str, sport: str | None, ctx: Context) -> tuple[str, dict]:
    """(entity_key, key info) of one trimmed span, before the document-level links (see module docstring)."""
    surface = text[s:e]
    key = fold(surface)
    alias = load_aliases().get(key)
    if alias is not None and not context_applies(alias.context, sport):
        alias = None
    is_team = sport is not None and team_like(text, s, e, label)
    if alias is not None and alias.type == "GPE" and alias.country_code:
        return _country_info(alias.country_code, is_team)
    cc = _demonym_of_key(key)
    if cc is not None and label in ("NORP", "GPE", "LOC", "ORG", "PERSON"):
        return _country_info(cc, False)
    if alias is not None and alias.type != "PERSON":
        return f"name:{fold(alias.canonical)}", {"kind": "name", "name": alias.canonical, "type": alias.type,
                                                 "country_code": alias.country_code}  # fmt: skip
    cands = candidates(surface)
    is_country = cands and cands[0].kind == COUNTRY and (label != "PERSON" or key not in _given_names())
    if is_country and (label != "ORG" or not is_acronym(surface) or len(surface) > 3):
        return _country_info(cands[0].country_code, is_team)
    if label == "PERSON":
        toks = person_key(surface)
        if len(toks) >= 2:
            return "person:" + " ".join(toks), {"kind": "person"}
        return f"surname:{toks[0]}", {"kind": "surname"}
    if sport and label == "ORG":
        team = _team_of_city(key, sport)
        if team is not None:
            return f"name:{fold(team.canonical)}", {"kind": "name", "name": team.canonical, "type": "ORG",
                                                    "country_code": team.country_code}  # fmt: skip
    if cands and label in ("NORP", "ORG") and not sport and _large_place(cands[0]):
        label = "GPE"  # "east of Aleppo" tagged NORP, "the Tartus naval facility" ORG: the place
    if cands and label in ("GPE", "LOC", "FAC") and key not in GENERIC_PLACE_WORDS:
        m = _QUALIFIER.match(text[e : e + 40])
        place = geocode(surface, ctx, m.group(1) if m else None)
        if place is not None:
            return _place_info(place)
    return f"name:{org_key(surface)}", {"kind": "name"}


@functools.lru_cache(maxsize=16)
def _teams_by_city(sport: str) -> dict[str, Alias | None]:
    """Folded city -> the one curated team of this sport whose canonical name starts with it (None: several)."""
    out: dict[str, Alias | None] = {}
    teams = {a.canonical: a for a in load_aliases().values() if a.context and context_applies(a.context, sport)}
    for a in teams.values():
        words = a.canonical.split(" ")
        for n in range(1, len(words)):
            city = fold(" ".join(words[:n]))
            out[city] = a if city not in out else None
    return out


def _team_of_city(key: str, sport: str) -> Alias | None:
    """The curated team a city's name stands for in a story of this sport ("Milwaukee" -> Milwaukee Brewers in
    baseball), when the aliases list one team of that sport for the city."""
    return _teams_by_city(sport).get(key)


def _large_place(place: Place) -> bool:
    """A city of 100,000+ people or a US state: NER's NORP or ORG on its name is a slip outside sport."""
    return (place.kind == "city" and place.population >= 100_000) or (
        place.kind == ADMIN1 and place.geonames_id is not None
    )


def _context(text: str, spans: Sequence[tuple[int, int, str]]) -> Context:
    """Countries and US-style first-level divisions the document names (for geocoding its cities)."""
    countries, admin1 = set(), set()
    for surface in dict.fromkeys(text[s:e] for s, e, _label in spans):  # each surface once
        cc = _demonym(surface)
        if cc:
            countries.add(cc)
        for p in candidates(surface)[:1]:
            if p.kind == COUNTRY:
                countries.add(p.country_code)
            elif p.kind == ADMIN1:
                admin1.add((p.country_code, p.admin1_code))
                countries.add(p.country_code)
    return Context(frozenset(countries), frozenset(admin1))


def _variant_of(toks: list[str], other: list[str]) -> bool:
    """A person's name tokens are a variant of another's with the same surname: fewer middle names ("George
    Bush" of "George W. Bush"), an initial ("A. Stewart" of "Alec Stewart"), a listed nickname ("Bernie")."""
    if toks[0] == other[0]:
        return len(toks) < len(other)
    if len(toks) != len(other):
        return False
    return (len(toks[0]) == 1 and other[0].startswith(toks[0]) and len(other[0]) > 1) or nickname_of(toks[0], other[0])


def _person_candidates(surface: str, full: Mapping[str, set[str]], persons: set[str]) -> set[str]:
    """The document's person keys a non-person mention may name: its surname, its full name, a nickname form,
    or a listed given name that only one person of the document has ("Monica" beside "Monica Seles")."""
    pk = person_key(surface)
    if len(pk) >= 2:
        people = {"person:" + " ".join(pk)} & persons
        return people or {p for p in full.get(pk[-1], ()) if _variant_of(list(pk), p[7:].split(" "))}
    people = set(full.get(pk[0], ()))
    if not people and pk[0] in _given_names():
        people = {p for p in persons if p[7:].split(" ")[0] == pk[0]}
    return people


def _link_people(staged: list[list], infos: dict[str, dict]) -> None:
    """Document-level person links, in place: variants of a full name, then other mentions that fit exactly one
    full name: bare surnames, label slips (ORG, GPE), a place word that is a person's surname here."""
    full: dict[str, set[str]] = defaultdict(set)  # surname -> person keys of the document
    for row in staged:
        if row[4].startswith("person:"):
            full[row[4].split(" ")[-1]].add(row[4])
    alias: dict[str, str] = {}
    for keys in full.values():
        for k in keys:
            others = [o for o in keys - {k} if _variant_of(k[7:].split(" "), o[7:].split(" "))]
            if len(others) == 1:
                alias[k] = others[0]
    persons = {k for keys in full.values() for k in keys}
    for row in staged:
        key, info = row[4], infos[row[4]]
        if key in alias:
            row[4] = alias[key]
            continue
        linkable = key.startswith(("surname:", "name:")) and info.get("type") is None
        if key.startswith(("geo:", "admin1:")) and " " not in row[2]:
            linkable = person_key(row[2])[0] in full  # "Washington" beside "MaliVai Washington"
        people = _person_candidates(row[2], full, persons) if linkable else set()
        if len(people) == 1:
            person = next(iter(people))
            row[4] = alias.get(person, person)
    _same_surface_same_person(staged, infos)
    for row in staged:
        if row[4].startswith("person:"):
            infos.setdefault(row[4], {"kind": "person"})


def _same_surface_same_person(staged: list[list], infos: Mapping[str, dict]) -> None:
    """One surface naming a person in one place of the document names that person everywhere in it, unless it
    is a country or a curated name ("Marc Degryse" tagged PERSON once and ORG once)."""
    person_of: dict[str, set[str]] = defaultdict(set)
    for row in staged:
        if row[4].startswith("person:"):
            person_of[fold(row[2])].add(row[4])
    for row in staged:
        people = person_of.get(fold(row[2]), set())
        curated = infos.get(row[4], {}).get("type") is not None
        if len(people) == 1 and row[4].startswith(("surname:", "name:", "geo:")) and not curated:
            row[4] = next(iter(people))


def _link_acronyms(text: str, staged: list[list], infos: dict[str, dict], ruled: Ruled) -> None:
    """Acronyms defined in the document ("... (Gavi)") or the initials of one of its names take that name's key."""
    at = {(row[0], row[1]): row for row in staged}
    defined: dict[str, str] = {}
    for (a, b), (ls, le) in ruled.acronyms:
        long_row = at.get((ls, le)) or next((r for r in staged if r[0] >= ls and r[1] <= le), None)
        if long_row is not None and (a, b) in at:
            defined[fold(text[a:b])] = long_row[4]
    keys = [row[4] for row in staged]  # as they are before this links any
    by_initials: dict[str, set[str]] | None = None  # initials -> multi-word name keys, made when first asked
    for row in staged:
        surface = text[row[0] : row[1]]
        target = defined.get(fold(surface)) if defined else None
        if target is None and row[4].startswith("name:") and is_acronym(surface):
            if by_initials is None:
                by_initials = _keys_by_initials(text, staged, keys, infos)
            cands = by_initials.get(surface.replace(".", "").upper(), set()) - {row[4]}
            target = next(iter(cands)) if len(cands) == 1 else None
        if target is not None and target != row[4]:
            infos[target].setdefault("acronyms", set()).add(surface.replace(".", "").upper())
            row[4] = target


def _keys_by_initials(text: str, staged: list[list], keys: list[str], infos: Mapping[str, dict]) -> dict[str, set[str]]:
    """Initials of the multi-word name keys among ``keys`` (those of ``staged``'s rows) -> those keys: the initials of
    the key's display name, else of the surface of its last row."""
    multi = {
        k: text[row[0] : row[1]] for row, k in zip(staged, keys, strict=True) if k.startswith("name:") and " " in k
    }
    by_initials: dict[str, set[str]] = defaultdict(set)
    for key, surface in multi.items():
        by_initials[initials(infos[key].get("name") or surface)].add(key)
    return by_initials


def link_document(text: str, ruled: Ruled) -> tuple[list[dict], dict[str, dict]]:
    """Mentions (start, end, surface, label, entity_key) of one document and the info of each key: kind,
    display name, curated type, place fields, acronyms defined for it (see module docstring)."""
    ctx = _context(text, ruled.spans)
    staged: list[list] = []  # [start, end, surface, label, key]
    infos: dict[str, dict] = {}
    for s0, e0, label in ruled.spans:
        if label not in ENTITY_LABELS:
            continue
        s, e = trim_span(text, s0, e0, label)
        surface = text[s:e]
        if not (surface[:1].isalpha() or any(c.isalpha() for c in surface)):  # no letter (the first, mostly)
            continue
        key, info = classify(text, s, e, label, ruled.sport, ctx)
        infos.setdefault(key, info)
        staged.append([s, e, surface, label, key])
    _link_people(staged, infos)
    _link_acronyms(text, staged, infos, ruled)
    votes: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for _s, _e, surface, label, key in staged:
        votes[(key, fold(surface))][label] += 1
    majority = {kf: _majority(labels) for kf, labels in votes.items()}
    mentions = []
    for s, e, surface, _label, key in staged:
        label = majority[(key, fold(surface))]
        if key.startswith("person:"):
            label = "PERSON"
        mentions.append({"start": s, "end": e, "surface": surface, "label": label, "entity_key": key})
    used = {m["entity_key"] for m in mentions}
    return mentions, {k: v for k, v in infos.items() if k in used}


def _majority(labels: Counter) -> str:
    if len(labels) == 1:  # the one label (most keys of a document)
        return next(iter(labels))
    return min(labels, key=lambda lab: (-labels[lab], LABEL_ORDER.index(lab) if lab in LABEL_ORDER else 99))


def key_stats(extracts: Iterable) -> list[dict]:
    """One row per distinct entity_key of ``extracts`` (DocExtract: ``mentions`` with entity_key, label and
    surface; ``keys`` the key infos of ``link_document``). Rows: entity_key, kind, name, type, the place
    fields, labels and surfaces (value -> count), mentions, documents, acronyms (sorted). Rows of several
    shards merge with ``merge_key_stats``."""
    rows: dict[str, dict] = {}
    for x in extracts:
        if getattr(x, "skip", None):
            continue
        for key in {m["entity_key"] for m in x.mentions}:
            _stats_row(rows, key, x.keys.get(key, {}))["documents"] += 1
        for m in x.mentions:
            row = rows[m["entity_key"]]
            row["mentions"] += 1
            row["labels"][m["label"]] = row["labels"].get(m["label"], 0) + 1
            row["surfaces"][m["surface"]] = row["surfaces"].get(m["surface"], 0) + 1
    return [{**r, "acronyms": sorted(r["acronyms"])} for _, r in sorted(rows.items())]


def _stats_row(rows: dict[str, dict], key: str, info: Mapping) -> dict:
    row = rows.get(key)
    if row is None:
        row = rows[key] = {"entity_key": key, "kind": info.get("kind", key.split(":", 1)[0]),
                           "name": info.get("name"), "type": info.get("type"),
                           **{f: info.get(f) for f in PLACE_FIELDS}, "labels": {}, "surfaces": {},
                           "mentions": 0, "documents": 0, "acronyms": set()}  # fmt: skip
    row["acronyms"] = set(row["acronyms"]) | set(info.get("acronyms") or ())
    return row


def merge_key_stats(stats: Iterable[Mapping]) -> dict[str, dict]:
    """Key statistics of several shards merged by entity_key (counts summed, acronyms united)."""
    rows: dict[str, dict] = {}
    for r in stats:
        row = _stats_row(rows, r["entity_key"], r)
        row["acronyms"] |= set(r.get("acronyms") or ())
        row["mentions"] += r["mentions"]
        row["documents"] += r["documents"]
        for field in ("labels", "surfaces"):
            for k, n in dict(r[field]).items():  # a dict, or (key, count) pairs as Arrow maps read back
                row[field][k] = row[field].get(k, 0) + n
    return rows


def _surname(key: str) -> str:
    return key.split(":", 1)[1].split(" ")[-1]


def derived_key(row: Mapping) -> str:
    """The entity_key of an entity row, derived from its name and type when the row has none (rows written
    before keys existed)."""
    if row.get("entity_key"):
        return row["entity_key"]
    if row.get("type") == "PERSON":
        return "person:" + " ".join(person_key(row["name"]))
    places = candidates(row["name"]) if row.get("type") == "GPE" and row.get("country_code") else ()
    if places and places[0].kind == COUNTRY:
        return f"country:{row['country_code']}"
    return f"name:{org_key(row['name'])}"


class EntityTable:
    """Entity rows merged by entity_id as they arrive: union of aliases, sum of mention counts, the first
    name wins, missing place fields are filled. ``add`` costs the rows added, not the rows held."""

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
            for f in ("entity_key", *PLACE_FIELDS):
                if cur.get(f) is None:
                    cur[f] = r.get(f)
        return new

    def get(self, entity_id: str) -> dict | None:
        """The merged row of ``entity_id`` (aliases a set: do not modify), or None."""
        return self._rows.get(entity_id)

    def rows(self) -> list[dict]:
        """Copies of the merged rows, by entity_id, aliases sorted."""
        return [{**self._rows[eid], "aliases": sorted(self._rows[eid]["aliases"])} for eid in sorted(self._rows)]


class KnownEntities(EntityTable):
    """Entities of earlier runs (and earlier chunks of this run) with the indexes ``resolve_keys`` links
    against: key -> id, surname -> person keys, acronym -> keys, initials -> multi-word name keys. A key
    indexes the first entity added with it. Memory: the rows plus four dicts over their keys and aliases."""

    def __init__(self, rows: Iterable[Mapping] = ()) -> None:
        self.key_ids: dict[str, str] = {}
        self.surname_keys: dict[str, set[str]] = defaultdict(set)
        self.acronym_keys: dict[str, set[str]] = defaultdict(set)
        self.initials_keys: dict[str, set[str]] = defaultdict(set)
        super().__init__(rows)

    def add(self, rows: Iterable[Mapping]) -> list[dict]:
        new = []
        for r in rows:
            new += super().add((r,))
            key = derived_key(r)
            self.key_ids.setdefault(key, r["entity_id"])
            if key.startswith("person:"):
                self.surname_keys[_surname(key)].add(key)
                for form in r.get("aliases") or ():
                    toks = person_key(form)
                    if len(toks) >= 2:
                        self.key_ids.setdefault("person:" + " ".join(toks), r["entity_id"])
                continue
            for form in r.get("aliases") or ():
                if is_acronym(form):
                    self.acronym_keys[form.replace(".", "").upper()].add(key)
            if key.startswith("name:") and " " in key:
                self.initials_keys[initials(r["name"])].add(key)
        return new


def merge_entities(rows: Iterable[Mapping]) -> list[dict]:
    """Merge entity rows sharing an entity_id: union of aliases, sum of mention counts; first name wins."""
    return EntityTable(rows).rows()


class _Linker:
    """Cross-document links of one reduce: the run's keys and the known entities' indexes."""

    def __init__(self, merged: dict[str, dict], known: KnownEntities) -> None:
        self.merged, self.known = merged, known
        self.surname: dict[str, set[str]] = defaultdict(set)
        self.acronym: dict[str, set[str]] = defaultdict(set)
        self.initials: dict[str, set[str]] = defaultdict(set)
        self.given: dict[str, set[str]] = defaultdict(set)  # first name token -> person keys of this run
        for key, row in merged.items():
            if key.startswith("person:"):
                self.surname[_surname(key)].add(key)
                self.given[key[7:].split(" ")[0]].add(key)
            for a in row["acronyms"]:
                self.acronym[a].add(key)
            if key.startswith("name:") and " " in key:
                self.initials[initials(row["name"] or _best_surface(row["surfaces"]))].add(key)

    def people(self, surname: str) -> set[str]:
        return self.surname.get(surname, set()) | self.known.surname_keys.get(surname, set())

    def known_key(self, key: str) -> bool:
        return key in self.merged or key in self.known.key_ids

    def votes(self, *keys: str) -> Counter:
        out: Counter = Counter()
        for k in keys:
            out.update(self.merged.get(k, {}).get("labels", {}))
        return out

    def target(self, key: str, row: Mapping) -> str:
        """The key ``key`` resolves to across documents (itself when nothing links it)."""
        if key.startswith("surname:"):
            word = key.split(":", 1)[1]
            people = self.people(word) or self.distinctive_given(word)
            if len(people) == 1:
                return next(iter(people))
            return f"name:{word}" if self.known_key(f"name:{word}") else key  # "Labour" tagged PERSON
        if key.startswith("person:"):
            return self._person_target(key, row)
        if not key.startswith("name:") or row.get("type") is not None:
            return key
        if row["surfaces"] and all(is_acronym(s) for s in row["surfaces"]):
            return self._acronym_target(key, row)
        return self._name_target(key, row)

    def _person_target(self, key: str, row: Mapping) -> str:
        """A nickname or initial form -> the one full name it fits; a person key that is also an organisation's
        name ("Johnson Controls" tagged PERSON once, "Johnson Controls Inc" elsewhere) -> the organisation when
        its labels outvote PERSON or it was written with a legal form."""
        toks = key[7:].split(" ")
        formal = [p for p in self.people(toks[-1]) - {key} if len(p[7:].split(" ")) == len(toks)
                  and _variant_of(toks, p[7:].split(" ")) and p[7:].split(" ")[1:] == toks[1:]]  # fmt: skip
        if len(formal) == 1:
            return formal[0]
        org = f"name:{org_key(_best_surface(row['surfaces']))}"
        if org in self.merged and self.merged[org].get("type") is None:
            votes = self.votes(key, org)
            if _has_legal_form(self.merged[org]["surfaces"]) or votes["ORG"] > votes["PERSON"]:
                return org
        return key

    def _acronym_target(self, key: str, row: Mapping) -> str:
        acr = next(iter(row["surfaces"])).replace(".", "").upper()
        for index in ((self.acronym, self.known.acronym_keys), (self.initials, self.known.initials_keys)):
            cands = (index[0].get(acr, set()) | index[1].get(acr, set())) - {key}
            if len(cands) == 1:
                return next(iter(cands))
        return key

    def _name_target(self, key: str, row: Mapping) -> str:
        """A name NER once or more called a person: a full name -> that person's key when PERSON outvotes ORG
        over both ("Marc Degryse" tagged ORG in one story); a single word -> the one person of that surname
        when it was tagged PERSON somewhere, or tagged a place the gazetteers do not know ("Townsend" as GPE)."""
        surface = _best_surface(row["surfaces"])
        pk = person_key(surface)
        if len(pk) >= 2:
            person = "person:" + " ".join(pk)
            if self.known_key(person) and not _has_legal_form(row["surfaces"]):
                votes = self.votes(key, person)
                return person if votes["PERSON"] >= votes["ORG"] else key
            return key
        labels = Counter(row["labels"])
        slip = _majority(labels) in ("GPE", "LOC", "NORP", "FAC") and not candidates(surface)
        if "PERSON" in labels or slip:
            people = self.people(pk[0]) or self.distinctive_given(pk[0])
            if len(people) == 1:
                return next(iter(people))
        return key

    def distinctive_given(self, word: str) -> set[str]:
        """The run's people whose given name is ``word``, when it is nobody's surname and not a common English
        given name (the nicknames list): "Saddam", "Megawati" alone name one person; "John" names nobody."""
        if word in _given_names() or self.people(word):
            return set()
        return self.given.get(word, set())


def resolve_keys(
    stats: Iterable[Mapping], known: KnownEntities | Iterable[Mapping] = ()
) -> tuple[dict[str, str], list[dict]]:
    """The reduce: ``(entity_key -> entity_id, this run's entity rows)`` for the key statistics of every shard
    (``key_stats`` rows, any number per key) against the known entities (see module docstring)."""
    merged = merge_key_stats(stats)
    known = known if isinstance(known, KnownEntities) else KnownEntities(known)
    linker = _Linker(merged, known)
    step = {key: linker.target(key, row) for key, row in merged.items()}
    final = {}
    for key in merged:
        k, seen = key, {key}
        while step.get(k, k) not in seen:
            k = step.get(k, k)
            seen.add(k)
        final[key] = k
    mapping = {key: known.key_ids.get(k) or entity_id(k) for key, k in final.items()}
    groups: dict[str, list[str]] = defaultdict(list)
    for key in sorted(merged):
        groups[mapping[key]].append(key)
    rows = [_entity_row(eid, final[keys[0]], [merged[k] for k in keys], merged, known) for eid, keys in groups.items()]
    return mapping, sorted(rows, key=lambda r: r["entity_id"])


def _best_surface(surfaces: Mapping[str, int], person: bool = False) -> str:
    """Display form: most name tokens for a person, then mixed case over upper case, then most frequent."""
    return min(surfaces, key=lambda s: (-len(person_key(s)) if person else 0, s.isupper(), -surfaces[s], s))


def _entity_row(eid: str, key: str, rows: list[dict], merged: Mapping, known: KnownEntities) -> dict:
    head = merged.get(key) or rows[0]
    labels, surfaces = Counter(), Counter()
    for r in rows:
        labels.update(r["labels"])
        surfaces.update(r["surfaces"])
    kind = key.split(":", 1)[0]
    if kind in ("person", "surname"):
        etype = "PERSON"
    elif kind == "country":
        etype = "GPE"
    elif kind == "team":
        etype = "ORG"
    elif kind in ("geo", "admin1"):
        etype = "LOC" if _majority(labels) == "LOC" else "GPE"
    elif head.get("type"):
        etype = head["type"]
    else:
        etype = "ORG" if _has_legal_form(surfaces) else _majority(labels)
    prior = known.get(eid)
    if prior is not None:
        name = prior["name"]
    elif head.get("name"):
        name = head["name"]
    else:
        name = _best_surface(surfaces, person=etype == "PERSON")
        name = _display_person(name) if etype == "PERSON" else name
    place = {f: head.get(f) for f in PLACE_FIELDS}
    if prior is not None:
        place = {f: place[f] if place[f] is not None else prior.get(f) for f in PLACE_FIELDS}
        etype = prior.get("type") or etype
    return {"entity_id": eid, "entity_key": key, "name": name, "type": etype, **place,
            "aliases": sorted(surfaces), "mention_count": sum(r["mentions"] for r in rows)}  # fmt: skip


def _has_legal_form(surfaces: Iterable[str]) -> bool:
    """Some surface ends in a legal form ("Johnson Controls Inc"): an organisation whatever NER said."""
    return any(org_key(s) != fold(s) for s in surfaces)


def _display_person(surface: str) -> str:
    """Lower-case particles inside a name ('Bashar Al-Assad' -> 'Bashar al-Assad') for a stable display."""
    parts = re.split(r"([\s\-]+)", surface)
    return "".join(p.lower() if i > 0 and p.lower() in PARTICLES else p for i, p in enumerate(parts))


@dataclass
class _Linked:
    mentions: list[dict]
    keys: dict[str, dict]
    skip: str | None = None


def resolve(
    docs_spans: Sequence[tuple[str, str, Sequence[tuple[int, int, str]]]],
    known_entities: KnownEntities | Iterable[Mapping] = (),
) -> tuple[list[dict], list[dict]]:
    """Map and reduce in one call over NER spans of any source: ``(doc_id, text, spans)`` per document ->
    ``(mentions with entity_id, entity rows)``. Rules run on ``text`` as it is (no truecasing)."""
    from transforms.ruler import apply_rules

    linked = [
        (doc_id, _Linked(*link_document(text, apply_rules(text, text, spans)))) for doc_id, text, spans in docs_spans
    ]
    mapping, entities = resolve_keys(key_stats(x for _, x in linked), known_entities)
    mentions = [
        {"doc_id": doc_id, **{k: v for k, v in m.items() if k != "entity_key"}, "entity_id": mapping[m["entity_key"]]}
        for doc_id, x in linked
        for m in x.mentions
    ]
    return mentions, entities
