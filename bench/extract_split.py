"""Where extract's per-document time goes, in one process: bare ``nlp.pipe`` against the extract transform's own
pieces (truecase, ``run_ner``, the rules of ``parse_document``, and ``extract_documents`` whole) on the same texts.

    python bench/extract_split.py --corpus /tmp/newsetl-bench/corpus_10000_s0 --texts 500

Bare NER runs first and last so that a drift of the machine shows. No Prefect, no Dask, no Parquet: what this
does not see (tasks, staging reads and writes, two workers) is the stage's remainder against ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines import load_texts, sample

from transforms.extract import NER_BATCH, extract_documents, load_nlp, parse_document, run_ner
from transforms.truecase import truecase


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="a bench corpus folder (its docs/ is read)")
    ap.add_argument("--texts", type=int, default=500, help="distinct texts, spread over the corpus")
    args = ap.parse_args(argv)
    texts = sample(load_texts(args.corpus / "docs"), args.texts)
    words = sum(len(t.split()) for t in texts)
    nlp = load_nlp()
    list(nlp.pipe(texts[:4]))  # weights loaded before timing

    def timed(name: str, fn: Callable[[], object]) -> object:
        t = time.perf_counter()
        out = fn()
        sec = max(time.perf_counter() - t, 1e-9)
        print(f"{name:32s} {sec:8.2f} s {words / sec:11,.0f} words/s", flush=True)
        return out

    def bare() -> list:
        return [doc.ents for doc in nlp.pipe(texts, batch_size=32)]

    print(f"{len(texts)} texts, {words:,} words, one process")
    timed("bare nlp.pipe (batch 32)", bare)
    cased = timed("truecase", lambda: [truecase(t) for t in texts])
    ents = timed(f"run_ner (batch {NER_BATCH})", lambda: run_ner(cased, nlp))
    docs = [{"doc_id": str(i), "text": t, "lang": "en", "published_at": None} for i, t in enumerate(texts)]
    timed("parse_document (rules)", lambda: [parse_document(*a) for a in zip(docs, ents, cased, strict=True)])
    timed("extract_documents (whole map)", lambda: extract_documents(docs, nlp))
    timed("bare nlp.pipe (batch 32) again", bare)


if __name__ == "__main__":
    main()
