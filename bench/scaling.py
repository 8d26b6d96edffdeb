"""Scaling of the extract stage with the number of Dask workers, against bare spaCy's own scaling, in one run.

    .venv/bin/python bench/scaling.py --docs 10000            # or: bench/run.py --scaling 10000

On the same generated corpus (bench/make_corpus.py) it runs `newsetl run` on a fresh warehouse with a local Dask
cluster of 1 and of 2 workers (`--n-process`), and reads the extract stage's seconds from the `runs` table; then it
times bare `nlp.pipe` NER (bench/baselines.py) with 1 and 2 processes on a sample of the same texts. Two cores
cannot give 2x, so the target compares speed-ups: (extract seconds with 1 worker / with 2) must be at least 0.95 x
(bare words/s with 2 processes / with 1). Results: bench/results/scaling-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
NEWSETL = str(Path(PY).with_name("newsetl"))
TARGET = 0.95


def corpus_of(n: int, seed: int, workdir: Path) -> Path:
    out = workdir / f"corpus_{n}_s{seed}"
    if not (out / "manifest.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([PY, str(ROOT / "bench" / "make_corpus.py"), "--docs", str(n), "--out", str(out), "--seed",
                        str(seed)], check=True, cwd=ROOT)  # fmt: skip
    return out


def run_with(workers: int, corpus: Path, workdir: Path) -> dict:
    """One cold `newsetl run` with `workers` local Dask workers: wall seconds, stage seconds, extracted words."""
    wh = workdir / f"wh_scaling_{workers}"
    shutil.rmtree(wh, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([NEWSETL, "run", "--input", str(corpus / "docs"), "--warehouse", str(wh), "--n-process",
                    str(workers), "--quiet"], check=True, cwd=ROOT)  # fmt: skip
    wall = time.perf_counter() - t
    counts = json.loads(query(wh, "select counts from runs")[0]["counts"])
    words = query(wh, "select sum(d.n_words) as w, count(*) as n from documents d join extractions e using (doc_id) "
                      "where e.status = 'extracted'")[0]  # fmt: skip
    shutil.rmtree(wh, ignore_errors=True)
    extract = counts["seconds"]["extract"]
    return {
        "workers": workers,
        "wall_s": round(wall, 1),
        "seconds": counts["seconds"],
        "extract_s": extract,
        "extracted_docs": words["n"],
        "extracted_words": words["w"],
        "extract_words_per_s": round(words["w"] / extract, 1),
        "extract_workers": counts["workers"]["extract"],
    }


def query(wh: Path, sql: str) -> list[dict]:
    out = subprocess.run([NEWSETL, "query", sql, "--format", "json", "--warehouse", str(wh)], cwd=ROOT,
                         check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(out.stdout)


def bare_ner(processes: int, corpus: Path, workdir: Path, sample: int) -> dict:
    out = workdir / f"scaling_ner_{processes}.json"
    cmd = [PY, str(ROOT / "bench" / "baselines.py"), "--corpus", str(corpus), "--out", str(out), "--only", "ner"]
    subprocess.run([*cmd, "--n-process", str(processes), "--ner-sample", str(sample)], check=True, cwd=ROOT)
    return json.loads(out.read_text())["ner"]


def measure(n: int, seed: int, workdir: Path, sample: int) -> dict:
    corpus = corpus_of(n, seed, workdir)
    runs = {w: run_with(w, corpus, workdir) for w in (1, 2)}
    bare = {p: bare_ner(p, corpus, workdir, sample) for p in (1, 2)}
    flow_speedup = runs[1]["extract_s"] / runs[2]["extract_s"]
    bare_speedup = bare[2]["words_per_s"] / bare[1]["words_per_s"]
    ratio = flow_speedup / bare_speedup
    return {
        "docs": n,
        "runs": runs,
        "bare_ner": bare,
        "extract_speedup_2_over_1": round(flow_speedup, 3),
        "bare_speedup_2_over_1": round(bare_speedup, 3),
        "ratio": round(ratio, 3),
        "target": f"ratio >= {TARGET}",
        "met": ratio >= TARGET,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ner-sample", type=int, default=1000, help="texts timed for bare NER (0 = all)")
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "newsetl-bench")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    result = {"started_at": started.isoformat(timespec="seconds"), "loadavg_start": os.getloadavg()[0]}
    result |= measure(args.docs, args.seed, args.workdir, args.ner_sample)
    result["loadavg_end"] = os.getloadavg()[0]
    out = args.out or ROOT / "bench" / "results" / f"scaling-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("extract_speedup_2_over_1", "bare_speedup_2_over_1", "ratio", "met")}))


if __name__ == "__main__":
    main()
