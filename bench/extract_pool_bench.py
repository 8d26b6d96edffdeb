"""Throughput of the extract stage: bare NER (the floor) vs ``extract_batch`` per chunk vs ``ExtractPool``.

Usage: ``python bench/extract_pool_bench.py [--docs 2000] [--chunk 2000] [--n-process 2] [--repeats 2]``

Texts: ``--docs`` distinct English articles (300-800 words) from ``bench/make_corpus.py``'s seeded generator,
normalized with ``transforms.normalize.normalize_document`` as the flow does. Each repeat times, interleaved:
- floor: ``nlp.pipe(texts, n_process=N, batch_size=32)`` with tok2vec + ner over all texts (workers start once);
- old:   ``extract_batch(chunk, nlp, n_process=N, known_entities=known + entities)`` per ``--chunk`` documents,
         entities merged after each chunk, as flows/etl.py does;
- new:   ``ExtractPool(N)`` over the same chunks with the same accumulation (worker start and model loads
         included).
Reported: best seconds of the repeats, words per second, speed relative to the floor (floor s / mode s), the
CPU seconds of the process tree (steadier than wall time on a shared machine; floor CPU / mode CPU) and the
peak RSS of this process tree (this process plus all children, sampled every 0.1 s). The new rows are
checked to equal the old ones.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from make_corpus import Writer  # noqa: E402

from transforms.extract import extract_batch, load_nlp, merge_entities  # noqa: E402
from transforms.extract_pool import ExtractPool  # noqa: E402
from transforms.normalize import normalize_document  # noqa: E402


def make_docs(n: int, seed: int) -> list[dict]:
    """``n`` distinct normalized English articles as extract input rows."""
    w, docs = Writer(seed), []
    for i in range(n):
        a = w.article(i)
        norm = normalize_document(a.text(), title=a.title, published_at=a.published_at)
        pub = norm.published_at.date().isoformat() if norm.published_at else None
        docs.append({"doc_id": f"d{i:06d}", "text": norm.text, "lang": "en", "published_at": pub})
    return docs


class PeakRss:
    """Peak resident memory of this process and all its children while the block runs (sampled)."""

    def __init__(self, every: float = 0.1) -> None:
        self.every, self.peak, self._stop = every, 0, threading.Event()

    def _tree_rss(self) -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for p in me.children(recursive=True):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_floor(texts: list[str], nlp, n_process: int) -> None:
    for _doc in nlp.pipe(texts, n_process=n_process, batch_size=32):
        pass


def run_old(chunks: list[list[dict]], nlp, n_process: int) -> list[dict]:
    entities: list[dict] = []
    out = []
    for chunk in chunks:
        res = extract_batch(chunk, nlp, n_process=n_process, known_entities=entities)
        entities = merge_entities(entities + res["entities"])
        out.append(res)
    return out


def run_new(chunks: list[list[dict]], n_process: int) -> list[dict]:
    entities: list[dict] = []
    out = []

    def known_entities() -> list[dict]:
        return entities

    with ExtractPool(n_process) as pool:
        for res in pool.extract_chunks(chunks, known_entities):
            entities = merge_entities(entities + res["entities"])
            out.append(res)
    return out


def _tree_cpu() -> float:
    """CPU seconds of this process and of its children that have ended (all workers end within a mode)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(fn: Callable[[], object]) -> tuple[float, float, int, object]:
    """Wall seconds, CPU seconds of the process tree, peak tree RSS and the result of ``fn()``."""
    with PeakRss() as rss:
        t0, c0 = time.perf_counter(), _tree_cpu()
        result = fn()
        seconds, cpu = time.perf_counter() - t0, _tree_cpu() - c0
    return seconds, cpu, rss.peak, result


def machine_load() -> str:
    others = subprocess.run(["pgrep", "-f", "newsetl run"], capture_output=True, text=True).stdout.split()
    la = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"load average {la}; {len(others)} 'newsetl run' process(es)"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--chunk", type=int, default=2000)
    ap.add_argument("--n-process", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", nargs="+", default=["floor", "old", "new"], choices=["floor", "old", "new"])
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    docs = make_docs(args.docs, args.seed)
    texts = [d["text"] for d in docs]
    n_words = sum(len(t.split()) for t in texts)
    chunks = [docs[i : i + args.chunk] for i in range(0, len(docs), args.chunk)]
    nlp = load_nlp()
    print(f"{len(docs)} docs, {n_words} words, {len(chunks)} chunk(s) of {args.chunk}, n_process={args.n_process}")
    print(f"before: {machine_load()}")
    runs = {
        "floor": lambda: run_floor(texts, nlp, args.n_process),
        "old": lambda: run_old(chunks, nlp, args.n_process),
        "new": lambda: run_new(chunks, args.n_process),
    }
    best: dict[str, tuple[float, float, int]] = {}
    results: dict[str, object] = {}
    for r in range(args.repeats):
        for mode in args.modes:
            seconds, cpu, peak, out = timed(runs[mode])
            print(f"  repeat {r + 1} {mode:<5} {seconds:7.1f} s  CPU {cpu:7.1f} s  peak RSS {peak / 2**20:,.0f} MiB "
                  f"| {machine_load()}", flush=True)  # fmt: skip
            prev = best.get(mode, (float("inf"), float("inf"), 0))
            best[mode] = (min(prev[0], seconds), min(prev[1], cpu), max(prev[2], peak))
            results[mode] = out
    print(f"after: {machine_load()}")
    if "old" in results and "new" in results:
        print(f"new rows == old rows: {results['new'] == results['old']}")
    figures = {}
    for mode, (seconds, cpu, peak) in best.items():
        rel = best["floor"][0] / seconds if "floor" in best else float("nan")
        rel_cpu = best["floor"][1] / cpu if "floor" in best else float("nan")
        figures[mode] = {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                         "words_per_s": round(n_words / seconds), "speed_vs_floor": round(rel, 3),
                         "cpu_vs_floor": round(rel_cpu, 3), "peak_rss_mib": round(peak / 2**20)}  # fmt: skip
        print(f"{mode:<5} best {seconds:7.1f} s  {n_words / seconds:9,.0f} words/s  x{rel:.3f} of floor  "
              f"(CPU {cpu:.1f} s, x{rel_cpu:.3f})  peak RSS {peak / 2**20:,.0f} MiB")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
