"""Which local runner is the default: a Dask LocalCluster or Prefect's ProcessPoolTaskRunner, measured.

    .venv/bin/python bench/runner_choice.py --docs 1500 --reps 2

Runs `newsetl run` cold on the same generated corpus with `--runner dask` and `--runner process` (both with
`--n-process 2`), alternating, `--reps` times each, on fresh warehouses; records wall seconds (start-up
included), each stage's seconds, and the peak RSS of the process tree. Results:
bench/results/runner-choice-<timestamp>.json.
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

import psutil

ROOT = Path(__file__).resolve().parents[1]
NEWSETL = str(Path(sys.executable).with_name("newsetl"))
sys.path.insert(0, str(ROOT / "bench"))

from scaling import corpus_of, query  # noqa: E402


def one_run(runner: str, corpus: Path, wh: Path, n_process: int) -> dict:
    shutil.rmtree(wh, ignore_errors=True)
    cmd = [NEWSETL, "run", "--runner", runner, "--n-process", str(n_process), "--input", str(corpus / "docs"),
           "--warehouse", str(wh), "--quiet"]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"newsetl run --runner {runner} failed ({proc.returncode})")
    counts = json.loads(query(wh, "select counts from runs")[0]["counts"])
    shutil.rmtree(wh, ignore_errors=True)
    return {"runner": runner, "wall_s": round(wall, 1), "seconds": counts["seconds"],
            "sum_of_stages_s": round(sum(counts["seconds"].values()), 1), "peak_rss_tree_mib": peak >> 20,
            "tasks": counts.get("tasks")}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=1500)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--n-process", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "newsetl-bench")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    corpus = corpus_of(args.docs, 0, args.workdir)
    started = datetime.now(UTC)
    runs = []
    for rep in range(args.reps):
        for runner in ("dask", "process") if rep % 2 == 0 else ("process", "dask"):
            runs.append(one_run(runner, corpus, args.workdir / f"wh_runner_{runner}", args.n_process))
            print(json.dumps({k: runs[-1][k] for k in ("runner", "wall_s", "sum_of_stages_s", "peak_rss_tree_mib")}))
    best = {r: min(x["wall_s"] for x in runs if x["runner"] == r) for r in ("dask", "process")}
    out = ROOT / "bench" / "results" / f"runner-choice-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    result = {"started_at": started.isoformat(timespec="seconds"), "docs": args.docs, "n_process": args.n_process,
              "loadavg": os.getloadavg()[0], "runs": runs, "best_wall_s": best}  # fmt: skip
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(best))


if __name__ == "__main__":
    main()
