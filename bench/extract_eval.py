"""Benchmark of the extract stage: quality against hand-annotated gold and throughput against bare NER.

Usage: ``python bench/extract_eval.py [--n-process 1 2] [--docs 250] [--repeats 3] [--no-speed]``

Quality: the seeds are read here, normalized with ``transforms.normalize.normalize_document`` when that module
exists (else the raw text is used; the gold describes the normalized text, so raw text costs precision on
boilerplate lines), extracted in one batch, and compared per document with the offset-free gold
in ``tests/gold/*.json``:
- entities: set of (canonical name, type); a gold entity matches a system entity of the same type whose name or
  aliases contain the gold name or one of its aliases (case-folded, leading "the" dropped). Duplicated entities
  (one person split in two ids) therefore cost precision.
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
import sys
import time
from collections import Counter
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
    speaker_ok = speaker_n = 0
    for doc_id, g in gold.items():
        # entities: system entities mentioned in this doc
        ids = {m["entity_id"] for m in out["mentions"] if m["doc_id"] == doc_id}
        sys_ents = [ents[i] for i in ids]
        matched_sys = set()
        tp = 0
        for ge in g["entities"]:
            names = {_key(ge["name"]), *(_key(a) for a in ge.get("aliases", []))}
            for se in sys_ents:
                if se["type"] == ge["type"] and se["entity_id"] not in matched_sys:
                    forms = {_key(se["name"]), *(_key(a) for a in se["aliases"])}
                    if names & forms:
                        matched_sys.add(se["entity_id"])
                        tp += 1
                        break
        s = scores["entities"]
        s[0] += tp
        s[1] += len(sys_ents)
        s[2] += len(g["entities"])

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
    result["speaker_accuracy"] = (speaker_ok / speaker_n if speaker_n else 1.0, speaker_ok, speaker_n)
    return result


def throughput(docs: list[dict], nlp, n_process: int, n_docs: int, repeats: int) -> tuple[float, float, int]:
    corpus = []
    for i in range(n_docs):
        d = docs[i % len(docs)]
        corpus.append({**d, "doc_id": f"{d['doc_id']}#{i}", "text": d["text"] + " " * (i // len(docs))})
    texts = [d["text"] for d in corpus]
    n_words = sum(len(t.split()) for t in texts)
    best_ner = best_ext = cpu_ner = cpu_ext = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _doc in nlp.pipe(texts, n_process=n_process, batch_size=64):
            pass
        best_ner, cpu_ner = min(best_ner, time.perf_counter() - t0), min(cpu_ner, time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        extract_batch(corpus, nlp, n_process=n_process, batch_size=64)
        best_ext, cpu_ext = min(best_ext, time.perf_counter() - t0), min(cpu_ext, time.process_time() - c0)
    return best_ner, best_ext, cpu_ner, cpu_ext, n_words


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-process", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--docs", type=int, default=250)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args(argv)

    nlp = load_nlp()
    docs, gold, how = load_docs()
    print(f"text source: {how}; pipeline: {nlp.pipe_names}")
    out = extract_batch(docs, nlp)
    res = evaluate(out, gold)
    print(f"{'table':<10} {'P':>6} {'R':>6} {'F1':>6}   tp/sys/gold")
    for t in ("entities", "figures", "dates", "quotes"):
        p, r, f, tp, n_sys, n_gold = res[t]
        print(f"{t:<10} {p:6.3f} {r:6.3f} {f:6.3f}   {tp}/{n_sys}/{n_gold}")
    acc, ok, n = res["speaker_accuracy"]
    print(f"quote speakers correct: {acc:.3f} ({ok}/{n} found quotes)")
    if args.no_speed:
        return
    for n_process in args.n_process:
        t_ner, t_ext, c_ner, c_ext, n_words = throughput(docs, nlp, n_process, args.docs, args.repeats)
        # CPU time of this process is steadier than wall time on a shared machine, but with n_process > 1
        # the NER runs in workers and is not counted, so it is shown for n_process=1 only.
        cpu = f" | CPU-time ratio {c_ner / c_ext:.3f}" if n_process == 1 else ""
        print(
            f"n_process={n_process}: {args.docs} docs, {n_words} words | bare NER {n_words / t_ner:,.0f} w/s "
            f"| extract_batch {n_words / t_ext:,.0f} w/s | wall ratio {t_ner / t_ext:.3f}{cpu}"
        )


if __name__ == "__main__":
    main()
