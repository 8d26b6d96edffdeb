# ruff: noqa: SIM905  (word lists read best as one string per list)
"""A seeded generator of news-like test corpora for the benchmark, with the expected counts in a manifest.

    .venv/bin/python bench/make_corpus.py --docs 10000 --out /tmp/corpus_10k --seed 7

Writes OUT/docs/ (the input to `newsetl run --input OUT/docs`) and OUT/manifest.json (outside docs/, so the
pipeline never ingests it). Same --docs and --seed give byte-identical files.

Grain: `--docs N` is the number of input *records* (one per article slot, broken ones included), so the
pipeline's `records` count must equal N. The records are:
    unique English articles (300-800 words: people, places, organizations, figures, dates; one outlet footer)
    5 % exact duplicates    byte-identical text of an English article, in another grouped file
    5 % near duplicates     2-5 % of the words substituted, half of them also with another outlet's footer
    ~1 % non-English        French, Spanish and German articles (at least one each from N >= 20)
    ~0.5 % broken           malformed JSONL lines, empty texts (jsonl / csv / parquet), binary .txt files
Formats: about 2 % .txt, 1 % .md, 1 % .html (one article per file, capped so 100k records stay ~4k files);
the rest in grouped files of up to RECORDS_PER_FILE records (fewer for small N) cycling .jsonl, .parquet,
.jsonl.gz, .csv.
Duplicates and their originals live in grouped files only, so no reader (trafilatura, markdown) changes the
text of one copy and not the other. OUT/labels.jsonl.gz has one line per record: file, index, kind, base.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import random
import string
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

RECORDS_PER_FILE = 500
GROUPED_CYCLE = ("jsonl", "parquet", "jsonl.gz", "csv", "jsonl", "parquet")
EXACT_SHARE = 0.05
NEAR_SHARE = 0.05
FOREIGN_SHARE = 0.01
MALFORMED_SHARE = 0.003
EMPTY_SHARE = 0.002
BINARY_SHARE = 0.0005
SINGLE_FILE = {"txt": (0.02, 2000), "md": (0.01, 1000), "html": (0.01, 1000)}  # share of records, cap
WORDS_MIN, WORDS_MAX = 300, 800

# --- vocabulary ----------------------------------------------------------------------------------------
FIRST = (
    "James Maria Ahmed Li Olga Carlos Fatima John Priya Kenji Amara Lucas Sofia Daniel Aisha Mateo Elena Omar Hannah "
    "Wei Ivan Grace Samuel Leila Thomas Chloe Rafael Nadia Peter Yuki Emeka Sara Viktor Ana Michael Zara David "
    "Ingrid Hassan Laura Pablo Mei Joseph Amina Robert Julia Tariq Emma Kwame Rosa"
).split()
LAST = (
    "Smith Okafor Chen Petrova Garcia Haddad Johnson Sharma Tanaka Mensah Silva Rossi Cohen Khan Lopez Novak Fischer "
    "Ibrahim Kowalski Nguyen Andersen Moreau Santos Dubois Yamamoto Adeyemi Muller Hernandez Park Ali Kim Schmidt "
    "Costa Larsen Bianchi Singh Walker Ortiz Kuznetsov Fernandes Brown Osei Wagner Rahman Jensen Martin Sato Ivanova "
    "Oliveira Murphy"
).split()
ROLES = (
    "chief executive|finance minister|spokesperson|senior analyst|mayor|chief economist|director|foreign minister|"
    "head of research|governor|union leader|lead negotiator|professor of economics|police chief|chair"
).split("|")
PLACES = (
    "London|Paris|Berlin|Nairobi|Lagos|Tokyo|Seoul|Jakarta|Mumbai|New Delhi|Sao Paulo|Buenos Aires|Mexico City|"
    "Toronto|Chicago|Houston|Sydney|Cairo|Istanbul|Madrid|Rome|Warsaw|Kyiv|Johannesburg|Accra|Dubai|Singapore|Manila|"
    "Bangkok|Lima|Bogota|Santiago|Oslo|Stockholm|Vienna|Geneva|Brussels|Dublin|Lisbon|Athens|Germany|France|Brazil|"
    "Kenya|Nigeria|Japan|India|Indonesia|Canada|Australia|Egypt|Turkey|Spain|Italy|Poland|Ukraine|South Africa|Ghana|"
    "Mexico|Argentina|Chile|Norway|Sweden|Austria|Belgium|Ireland|Portugal|Greece"
).split("|")
ORGS = (
    "the World Bank|the International Monetary Fund|the United Nations|the European Central Bank|Reuters|"
    "Northwind Holdings|Meridian Energy|Atlas Logistics|Bluewater Capital|Helios Motors|Crescent Telecom|"
    "the Ministry of Finance|the Central Bank|the Port Authority|the National Statistics Office|Greenfield Foods|"
    "Summit Pharmaceuticals|Orion Airlines|Vantage Mining|the Red Cross|Amnesty International|"
    "the World Health Organization|the African Union|the European Commission|Pinecrest University|Silverline Rail|"
    "Harbor Shipping|Keystone Insurance|the Supreme Court|the Electoral Commission|Northstar Bank|"
    "Cobalt Semiconductors|Riverside Hospital|the Transport Workers Union|Apex Retail"
).split("|")
NOUNS = (
    "budget plan deal market project report policy contract strike election vote agreement factory bridge pipeline "
    "harvest tariff loan investment merger inquiry program reform shipment outbreak trial ceasefire license subsidy "
    "forecast index network campaign proposal treaty warehouse terminal hospital school"
).split()
NOUNS_PL = [n + "s" if not n.endswith("s") else n + "es" for n in NOUNS]
VERBS = (
    "approve reject delay expand review cut raise launch suspend finance rebuild audit renegotiate challenge support "
    "block extend announce cancel restore"
).split()
VERBS_PAST = [v + "d" if v.endswith("e") else v + "ed" for v in VERBS]
VERBS_PAST[VERBS.index("cut")] = "cut"
VERBS_PAST[VERBS.index("rebuild")] = "rebuilt"
VERBS_PAST[VERBS.index("block")] = "blocked"
ADJS = (
    "new major regional national local controversial long-awaited modest ambitious temporary costly delayed rival "
    "emergency annual quarterly public private foreign domestic"
).split()
ADVS = "sharply slightly quickly quietly openly again finally already largely recently".split()
TIME_PHRASES = (
    "earlier this week|on Monday|on Tuesday|late on Wednesday|on Thursday|on Friday|over the weekend|last month|"
    "last year|in the coming weeks|before the end of the year|this quarter|since January"
).split("|")
MONTHS = "January February March April May June July August September October November December".split()
COMMON = (
    "the of and to in a that is for on was with as by at from has have are which but not this were they their its "
    "had been who after will would also more than over new two one three some many most other officials people "
    "government country city year years week month percent company market prices workers residents industry economy "
    "plans talks support pressure growth costs demand supply region sector analysts investors lawmakers families "
    "farmers services water energy food power fuel roads data rules"
).split()
OUTLETS = (
    "dailyledger.example metrowire.example globalpost.example thecourier.example northernherald.example "
    "coastaltimes.example capitalreview.example newsdesk.example"
).split()
FOOTERS = {
    "dailyledger.example": "© The Daily Ledger. All rights reserved. Subscribe for unlimited access.",
    "metrowire.example": "Metro Wire reporting; additional reporting by our regional bureaus.",
    "globalpost.example": "Copyright Global Post Media Group. This material may not be redistributed.",
    "thecourier.example": "The Courier newsroom can be reached at tips at thecourier dot example.",
    "northernherald.example": "Northern Herald: independent news since 1887. Support our journalism.",
    "coastaltimes.example": "Coastal Times Ltd. Registered office: 1 Harbour Road. All rights reserved.",
    "capitalreview.example": "Capital Review is published by Capital Media; terms and privacy apply.",
    "newsdesk.example": "Newsdesk staff and wire services contributed to this report.",
}
SHARE_LINES = ("Share this article", "Read more: latest headlines", "Leave a comment")

TEMPLATES = [
    "{person}, {role} at {org}, said {time} that {num} {nouns} had been {vpast} in {place}.",
    "{org} reported revenue of {money} for the quarter, up {pct} from a year earlier, as {common} {common} rose.",
    "According to {org}, about {num} people {vpast} the {adj} {noun} in {place} {time}.",
    "{person} told reporters in {place} that the {adj} {noun} would {verb} {common} {nouns} by {date}.",
    "The {noun} is expected to cost {money} and could affect {num} {common} across {place}.",
    "Talks between {org} and {org} stalled {time} over the {adj} {noun}, {person} said.",
    "In {year}, {place} {vpast} a {adj} {noun} worth {money}, {person} of {org} recalled.",
    "{person} {adv} {vpast} the {noun}, saying {num} {nouns} in {place} were at risk.",
    "Prices of {common} in {place} rose {pct} in {month}, the highest since {year}, {org} said.",
    "On {date}, {org} {vpast} a {noun} of {money} to {place}, its {ordinal} such move this year.",
    "{person}, who leads {org}, warned that the {adj} {noun} could {verb} the {noun} in {place}.",
    "More than {num} {common} {vpast} {place} {time}, while {org} {adv} {vpast} its {noun}.",
    "The {adj} {noun} in {place}, first proposed in {year}, has been {vpast} {num} times, {person} noted.",
    "Analysts at {org} cut their {noun} forecast to {pct}, citing {common} {nouns} and {adj} {common}.",
    '"We will {verb} the {noun} {time}," {person} said in {place}, adding that {org} agreed.',
]
FOREIGN = {
    "fr": {
        "templates": [
            "{person}, porte-parole de {org}, a déclaré {time} que {num} {nouns} avaient été {vpast} à {place}.",
            "Selon {org}, environ {num} personnes ont {vpast} le {noun} {adj} à {place} {time}.",
            "Le {noun} devrait coûter {num} millions d'euros et concerne les {nouns} de toute la région.",
            "Les négociations entre {org} et le gouvernement se sont arrêtées {time} à cause du {noun}.",
            "{person} a expliqué aux journalistes que le {noun} {adj} serait {vpast} avant la fin de l'année.",
            "Les prix ont augmenté de {num} pour cent, ce qui inquiète beaucoup les {nouns} de {place}.",
        ],
        "noun": "projet budget accord marché rapport contrat vote pont hôpital programme".split(),
        "nouns": "habitants travailleurs agriculteurs élèves commerçants salariés électeurs".split(),
        "adj": "nouveau important régional national controversé ambitieux coûteux".split(),
        "vpast": "approuvé rejeté suspendu financé annoncé reporté critiqué".split(),
        "time": "lundi|mardi dernier|mercredi soir|jeudi matin|vendredi|ce week-end|la semaine dernière".split("|"),
        "org": "la mairie|le ministère des Finances|la Banque de France|le syndicat|la région|l'Assemblée".split("|"),
        "place": "Paris Lyon Marseille Toulouse Lille Bordeaux Nantes Strasbourg".split(),
    },
    "es": {
        "templates": [
            "{person}, portavoz de {org}, dijo {time} que {num} {nouns} habían sido {vpast} en {place}.",
            "Según {org}, unas {num} personas han {vpast} el {noun} {adj} en {place} {time}.",
            "El {noun} costará unos {num} millones de euros y afectará a los {nouns} de toda la región.",
            "Las negociaciones entre {org} y el gobierno se detuvieron {time} por el {noun}.",
            "{person} explicó a los periodistas que el {noun} {adj} sería {vpast} antes de fin de año.",
            "Los precios subieron un {num} por ciento, lo que preocupa mucho a los {nouns} de {place}.",
        ],
        "noun": "proyecto presupuesto acuerdo mercado informe contrato puente hospital programa".split(),
        "nouns": "vecinos trabajadores agricultores estudiantes comerciantes votantes".split(),
        "adj": "nuevo importante regional nacional polémico ambicioso costoso".split(),
        "vpast": "aprobado rechazado suspendido financiado anunciado aplazado criticado".split(),
        "time": "el lunes|el martes pasado|el miércoles por la noche|el jueves|este fin de semana".split("|"),
        "org": "el ayuntamiento|el Ministerio de Hacienda|el Banco de España|el sindicato|la Junta".split("|"),
        "place": "Madrid Barcelona Valencia Sevilla Bilbao Zaragoza Málaga".split(),
    },
    "de": {
        "templates": [
            "{person}, Sprecher von {org}, sagte {time}, dass {num} {nouns} in {place} {vpast} worden seien.",
            "Nach Angaben von {org} haben etwa {num} Menschen das {adj} {noun} in {place} {vpast}.",
            "Das {noun} soll rund {num} Millionen Euro kosten und betrifft die {nouns} der ganzen Region.",
            "Die Verhandlungen zwischen {org} und der Regierung wurden {time} wegen des {noun}s unterbrochen.",
            "{person} erklärte den Journalisten, dass das {adj} {noun} noch vor Jahresende {vpast} werde.",
            "Die Preise sind um {num} Prozent gestiegen, was die {nouns} in {place} sehr beunruhigt.",
        ],
        "noun": "Projekt Budget Abkommen Gutachten Programm Verfahren Konzept Krankenhaus".split(),
        "nouns": "Anwohner Arbeitnehmer Landwirte Schüler Händler Wähler Beschäftigten".split(),
        "adj": "neue wichtige regionale nationale umstrittene ehrgeizige teure".split(),
        "vpast": "genehmigt abgelehnt ausgesetzt finanziert angekündigt verschoben kritisiert".split(),
        "time": "am Montag|am vergangenen Dienstag|am Mittwochabend|am Donnerstag|am Wochenende".split("|"),
        "org": "der Stadtverwaltung|dem Finanzministerium|der Bundesbank|der Gewerkschaft|dem Landtag".split("|"),
        "place": "Berlin Hamburg München Köln Frankfurt Stuttgart Leipzig Dresden".split(),
    },
}


def _compile(template: str) -> list[tuple[str, str | None]]:
    return [(lit, fld) for lit, fld, _, _ in string.Formatter().parse(template)]


_EN = [_compile(t) for t in TEMPLATES]
_FOREIGN = {lang: [_compile(t) for t in spec["templates"]] for lang, spec in FOREIGN.items()}


# --- one document --------------------------------------------------------------------------------------
@dataclass
class Doc:
    """An article before it is written: title, paragraphs (the dateline is the first), outlet footer."""

    base: int
    lang: str
    title: str
    paragraphs: list[str]
    outlet: str
    footer: str
    published_at: str
    url: str
    extra_lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n\n".join([*self.paragraphs, *self.extra_lines, self.footer])

    def n_words(self) -> int:
        return len(self.text().split())


class Writer:
    """The article generator: every random choice comes from one seeded random.Random, in a fixed order."""

    def __init__(self, seed: int, words: tuple[int, int] = (WORDS_MIN, WORDS_MAX)) -> None:
        self.rng = random.Random(seed)
        self.words = words

    def _pick(self, name: str, pools: dict | None = None) -> str:
        r = self.rng
        if pools is not None and name in pools:
            return r.choice(pools[name])
        if name == "person":
            return f"{r.choice(FIRST)} {r.choice(LAST)}"
        if name == "num":
            n = r.choice((r.randint(2, 99), r.randint(100, 9999), r.randint(10_000, 900_000)))
            return f"{n:,}"
        if name == "money":
            return f"${r.randint(1, 950)}.{r.randint(0, 9)} {r.choice(('million', 'billion'))}"
        if name == "pct":
            return f"{r.randint(1, 45)}.{r.randint(0, 9)} percent"
        if name == "date":
            return f"{r.choice(MONTHS)} {r.randint(1, 28)}, {r.randint(2019, 2025)}"
        if name == "year":
            return str(r.randint(1990, 2025))
        if name == "ordinal":
            return r.choice(("second", "third", "fourth", "fifth"))
        pool = {
            "role": ROLES,
            "org": ORGS,
            "place": PLACES,
            "noun": NOUNS,
            "nouns": NOUNS_PL,
            "verb": VERBS,
            "vpast": VERBS_PAST,
            "adj": ADJS,
            "adv": ADVS,
            "time": TIME_PHRASES,
            "month": MONTHS,
            "common": COMMON,
        }[name]
        return r.choice(pool)

    def _sentence(self, tpl: list[tuple[str, str | None]], pools: dict | None = None) -> str:
        parts = []
        for lit, fld in tpl:
            parts.append(lit)
            if fld:
                parts.append(self._pick(fld, pools))
        s = "".join(parts)
        return s[0].upper() + s[1:]

    def article(self, base: int, lang: str = "en") -> Doc:
        r = self.rng
        target = r.randint(self.words[0], self.words[1] - 50)  # + dateline, footer, last sentence
        templates = _EN if lang == "en" else _FOREIGN[lang]
        pools = None if lang == "en" else FOREIGN[lang]
        outlet = r.choice(OUTLETS)
        month, day, year = r.randint(1, 12), r.randint(1, 28), r.randint(2023, 2025)
        place = self._pick("place", pools)
        if lang == "en":
            title = f"{self._pick('org')} {self._pick('vpast')} {self._pick('adj')} {self._pick('noun')} in {place}"
            dateline = f"{place.upper()}, {MONTHS[month - 1]} {day}, {year} -"
        else:
            title = f"{place}: {self._pick('noun', pools)} {self._pick('adj', pools)}"
            dateline = f"{place.upper()}, {day:02d}.{month:02d}.{year} -"
        title = title[0].upper() + title[1:]
        paragraphs = [dateline]
        words = 0
        while words < target:  # sentence by sentence, so the length overshoots by at most one sentence
            para = []
            for _ in range(r.randint(2, 5)):
                para.append(self._sentence(r.choice(templates), pools))
                words += para[-1].count(" ") + 1
                if words >= target:
                    break
            paragraphs.append(" ".join(para))
        extra = [r.choice(SHARE_LINES)] if r.random() < 0.3 else []
        slug = "-".join(title.lower().split()[:6]).strip(":,")
        return Doc(
            base=base,
            lang=lang,
            title=title,
            paragraphs=paragraphs,
            outlet=outlet,
            footer=FOOTERS[outlet],
            published_at=f"{year}-{month:02d}-{day:02d}T{r.randint(6, 22):02d}:{r.randint(0, 59):02d}:00Z",
            url=f"https://{outlet}/{year}/{month:02d}/{slug}-{base}",
            extra_lines=extra,
        )

    def near_copy(self, doc: Doc) -> Doc:
        """2-5 % of the body words replaced; half of the copies also get another outlet's footer."""
        r = self.rng
        body = [p.split(" ") for p in doc.paragraphs[1:]]
        slots = [(i, j) for i, words in enumerate(body) for j in range(len(words))]
        for i, j in r.sample(slots, max(1, round(len(slots) * r.uniform(0.02, 0.05)))):
            body[i][j] = r.choice(COMMON)
        footer = doc.footer
        if r.random() < 0.5:
            footer = FOOTERS[r.choice([o for o in OUTLETS if o != doc.outlet])]
        return Doc(
            base=doc.base,
            lang=doc.lang,
            title=doc.title,
            paragraphs=[doc.paragraphs[0], *(" ".join(w) for w in body)],
            outlet=doc.outlet,
            footer=footer,
            published_at=doc.published_at,
            url=doc.url + "?v=2",
            extra_lines=list(doc.extra_lines),
        )


# --- record slots and files ----------------------------------------------------------------------------
@dataclass
class Slot:
    """One input record: a document with its kind, or a broken record."""

    kind: str  # base | exact | near | foreign | malformed_json | empty_text | binary_txt
    doc: Doc | None = None


def _share(n: int, share: float, minimum: int = 1) -> int:
    return max(minimum, round(n * share)) if n >= 20 else 0


def plan(n: int, seed: int, words: tuple[int, int] = (WORDS_MIN, WORDS_MAX)) -> list[Slot]:
    """The record slots for N records, in a seeded shuffled order (broken and per-file kinds included)."""
    n_exact, n_near = _share(n, EXACT_SHARE), _share(n, NEAR_SHARE)
    n_foreign = _share(n, FOREIGN_SHARE, 3)
    n_bad = {
        "malformed_json": _share(n, MALFORMED_SHARE),
        "empty_text": _share(n, EMPTY_SHARE),
        "binary_txt": _share(n, BINARY_SHARE),
    }
    n_base = n - n_exact - n_near - n_foreign - sum(n_bad.values())
    if n_base < max(1, n_exact, n_near):
        raise SystemExit(f"--docs {n} is too small: need at least 20 records")
    w = Writer(seed, words)
    bases = [Slot("base", w.article(i)) for i in range(n_base)]
    langs = list(FOREIGN)
    foreign = [Slot("foreign", w.article(n_base + i, langs[i % len(langs)])) for i in range(n_foreign)]
    originals = w.rng.sample(range(n_base), min(n_base, n_exact + n_near))
    exact = [Slot("exact", bases[i].doc) for i in originals[:n_exact]]
    near = [Slot("near", w.near_copy(bases[i].doc)) for i in originals[n_exact : n_exact + n_near]]
    broken = [Slot(kind) for kind, k in n_bad.items() for _ in range(k)]
    slots = bases + foreign + exact + near + broken
    w.rng.shuffle(slots)
    return slots


def _html(doc: Doc) -> str:
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731
    paras = "\n".join(f"<p>{esc(p)}</p>" for p in doc.paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="{doc.lang}"><head><meta charset="utf-8"><title>{esc(doc.title)}</title>\n'
        f'<meta property="article:published_time" content="{doc.published_at}">\n'
        f'<link rel="canonical" href="{doc.url}"></head>\n<body><nav><a href="/">Home</a> | <a href="/world">World</a>'
        f"</nav>\n<article><h1>{esc(doc.title)}</h1>\n{paras}\n</article>\n"
        f"<footer><p>{esc(doc.footer)}</p></footer></body></html>\n"
    )


def _markdown(doc: Doc) -> str:
    return f"# {doc.title}\n\n" + "\n\n".join(doc.paragraphs) + f"\n\n---\n\n*{doc.footer}*\n"


def _row(slot: Slot, malformed: str | None = None) -> dict:
    if slot.kind == "empty_text":
        return {"title": "Untitled", "url": None, "published_at": None, "text": ""}
    d = slot.doc
    assert d is not None
    return {"title": d.title, "url": d.url, "published_at": d.published_at, "text": d.text()}


def _jsonl_bytes(rows: list[dict | str]) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_corpus(n: int, out: Path, seed: int, words: tuple[int, int] = (WORDS_MIN, WORDS_MAX)) -> dict:
    """Write N records under out/docs and return the manifest (also written to out/manifest.json). `words`: the
    range of an article's length (shorter articles make a quick corpus for tests)."""
    t0 = time.perf_counter()
    slots = plan(n, seed, words)
    rng = random.Random(seed + 1)  # layout choices, independent of the text generator's stream
    docs_dir = out / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    if any(docs_dir.iterdir()):
        raise SystemExit(f"{docs_dir} is not empty: choose a new --out")
    files: Counter[str] = Counter()
    records_by_format: Counter[str] = Counter()
    labels: list[dict] = []

    def label(path: str, index: int, slot: Slot) -> None:
        d = slot.doc
        labels.append(
            {
                "file": path,
                "index": index,
                "kind": slot.kind,
                "base": d.base if d else None,
                "lang": d.lang if d else None,
                "n_words": d.n_words() if d else 0,
            }
        )

    # one-article files: only plain unique articles (never a duplicate or its original) and binary blobs
    originals = {s.doc.base for s in slots if s.kind in ("exact", "near")}
    single_ok = [i for i, s in enumerate(slots) if s.kind in ("base", "foreign") and s.doc.base not in originals]
    single: dict[int, str] = {}
    pos = 0
    for fmt, (share, cap) in SINGLE_FILE.items():
        k = min(cap, _share(n, share)) if n >= 50 else (1 if n >= 20 else 0)
        for i in single_ok[pos : pos + k]:
            single[i] = fmt
        pos += k
    for i, s in enumerate(slots):
        if s.kind == "binary_txt":
            single[i] = "binary"
    for k, (i, fmt) in enumerate(sorted(single.items())):
        slot = slots[i]
        if fmt == "binary":
            name = f"single/blob_{k:05d}.txt"
            data = b"\x00\x01PK\x03\x04" + rng.randbytes(2048)
        else:
            name = f"single/article_{k:05d}.{fmt}"
            doc = slot.doc
            body = {"txt": lambda d: f"{d.title}\n\n{d.text()}\n", "md": _markdown, "html": _html}[fmt](doc)
            data = body.encode("utf-8")
        (docs_dir / name).parent.mkdir(exist_ok=True)
        (docs_dir / name).write_bytes(data)
        files["txt" if fmt == "binary" else fmt] += 1
        records_by_format["txt" if fmt == "binary" else fmt] += 1
        label(name, 0, slot)

    # grouped files: malformed lines only go to the JSON-lines formats
    grouped = [s for i, s in enumerate(slots) if i not in single and s.kind != "malformed_json"]
    malformed = [s for s in slots if s.kind == "malformed_json"]
    per_file = min(RECORDS_PER_FILE, max(20, len(grouped) // 12))  # small corpora still get every format
    chunks = [grouped[i : i + per_file] for i in range(0, len(grouped), per_file)]
    fmts = [GROUPED_CYCLE[i % len(GROUPED_CYCLE)] for i in range(len(chunks))]
    json_chunks = [i for i, f in enumerate(fmts) if f.startswith("jsonl")]
    if malformed and not json_chunks:
        fmts[0] = "jsonl"
        json_chunks = [0]
    extra: dict[int, list[Slot]] = {}
    for k, s in enumerate(malformed):
        extra.setdefault(json_chunks[k % len(json_chunks)], []).append(s)
    for ci, (chunk, fmt) in enumerate(zip(chunks, fmts, strict=True)):
        chunk = list(chunk)
        for s in extra.get(ci, []):
            chunk.insert(rng.randrange(len(chunk) + 1), s)
        name = f"grouped/part_{ci:05d}.{fmt}"
        path = docs_dir / name
        path.parent.mkdir(exist_ok=True)
        rows: list[dict | str] = []
        for idx, s in enumerate(chunk):
            label(name, idx, s)
            if s.kind == "malformed_json":
                rows.append('{"title": "Broken record", "text": "the line ends mid-string')
            else:
                rows.append(_row(s))
        if fmt == "jsonl":
            path.write_bytes(_jsonl_bytes(rows))
        elif fmt == "jsonl.gz":
            buf = io.BytesIO()
            with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
                gz.write(_jsonl_bytes(rows))
            path.write_bytes(buf.getvalue())
        elif fmt == "csv":
            sio = io.StringIO(newline="")
            wr = csv.DictWriter(sio, fieldnames=["title", "url", "published_at", "text"], lineterminator="\n")
            wr.writeheader()
            wr.writerows(rows)  # type: ignore[arg-type]
            path.write_bytes(sio.getvalue().encode("utf-8"))
        else:
            pq.write_table(pa.Table.from_pylist(rows), path, compression="zstd")  # type: ignore[arg-type]
        files[fmt] += 1
        records_by_format[fmt] += len(chunk)

    kinds = Counter(s.kind for s in slots)
    foreign_langs = Counter(s.doc.lang for s in slots if s.kind == "foreign")
    good = [s for s in slots if s.doc is not None]
    manifest = {
        "generator": "bench/make_corpus.py",
        "seed": seed,
        "docs": n,
        "input": "docs",
        "records": len(labels),
        "files": dict(sorted(files.items())),
        "files_total": sum(files.values()),
        "records_by_format": dict(sorted(records_by_format.items())),
        "broken": {k: kinds[k] for k in ("malformed_json", "empty_text", "binary_txt")},
        "broken_total": sum(kinds[k] for k in ("malformed_json", "empty_text", "binary_txt")),
        "exact_dups": kinds["exact"],
        "near_dups": kinds["near"],
        "non_english": dict(sorted(foreign_langs.items())),
        "non_english_total": kinds["foreign"],
        "unique_english": kinds["base"],
        "expected_documents": len(good) - kinds["exact"],
        "words": sum(s.doc.n_words() for s in good),
        "bytes": sum(p.stat().st_size for p in docs_dir.rglob("*") if p.is_file()),
    }
    assert manifest["records"] == n, (manifest["records"], n)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(_jsonl_bytes(labels))  # type: ignore[arg-type]
    (out / "labels.jsonl.gz").write_bytes(buf.getvalue())
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    manifest["_seconds"] = round(time.perf_counter() - t0, 2)
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, required=True, help="number of input records (>= 20)")
    ap.add_argument("--out", type=Path, required=True, help="output directory (docs/ must be new or empty)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--words", type=int, nargs=2, default=(WORDS_MIN, WORDS_MAX), metavar=("MIN", "MAX"))
    args = ap.parse_args(argv)
    m = write_corpus(args.docs, args.out, args.seed, tuple(args.words))
    print(
        f"wrote {m['records']} records in {m['files_total']} files ({m['bytes'] / 1e6:.1f} MB, {m['words']:,} words) "
        f"to {args.out / 'docs'} in {m['_seconds']} s: {m['exact_dups']} exact dups, {m['near_dups']} near dups, "
        f"{m['non_english_total']} non-English, {m['broken_total']} broken"
    )


if __name__ == "__main__":
    main()
