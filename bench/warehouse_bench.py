"""Warehouse benchmark (issue 18): runs that cost what they add, and compaction. One command, JSON into bench/results/.

    .venv/bin/python bench/warehouse_bench.py                    # 10k and 100k documents, 5,000 partitions
    .venv/bin/python bench/warehouse_bench.py --sizes 10000 --partitions 500 --base-docs 300   # a quick look

1. Incremental runs. A base warehouse is built by a real `newsetl run` on a generated corpus of `--base-docs`
   records; warehouses of each size are then made by a script, not by NER: every table's rows copied with new ids
   (documents, records, files, clusters; entity ids kept, so entities recur across the copies as across runs), one
   partition per table holding all copies, and the catalog built once. On each: two no-op runs (the base corpus
   again: every file unchanged), a run adding a 100-record corpus, a third no-op; each with the seconds of its
   stages (load included, from the run's `--json-logs` summary). Target: the run adding 100 documents costs at
   most 2x the median no-op run. A copy of the warehouse (taken before that run) takes the same 100 records
   with `--full-refresh`: its tables and marts must equal the incremental ones (less the columns naming or
   timing a run), and its seconds are what every data run cost before incremental models.
2. Compaction. The rows of the first size's warehouse are written as `--partitions` small partitions per table
   (by a script), and once as one partition per table ("fresh"). Three analyst queries are timed (median of
   `--reps`, each opening the warehouse as `newsetl query` does) before and after `newsetl compact`, and on the
   fresh warehouse. Target: after compaction, within 1.2x of fresh.

The machine is shared: every figure comes with the load average before and after it; compare ratios measured in
the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from warehouse.fingerprint import VOLATILE, table_fingerprints  # noqa: E402
from warehouse.query import open_read_only, run_query  # noqa: E402
from warehouse.schema import TABLES  # noqa: E402
from warehouse.store import Store, writer_lock  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET_ADD_RATIO = 2.0
TARGET_COMPACT_RATIO = 1.2
MARTS = ("mart_documents", "mart_entities", "mart_figures")
QUERIES = {
    "languages": "SELECT lang, count(*) AS n FROM documents GROUP BY lang ORDER BY n DESC, lang",
    "top_entities": (
        "SELECT e.name, count(DISTINCT m.doc_id) AS docs FROM mentions m JOIN entities e USING (entity_id) "
        "GROUP BY e.name ORDER BY docs DESC, e.name LIMIT 20"
    ),
    "figures_by_kind_and_month": (
        "SELECT f.kind, date_trunc('month', d.published_at) AS month, count(*) AS n, "
        "sum(CAST(f.value AS DECIMAL(38, 4))) AS total "
        "FROM figures f JOIN documents d USING (doc_id) GROUP BY ALL ORDER BY ALL"
    ),
}
# columns holding ids that a copy renames (entity ids are kept: entities recur across runs)
HASHED = ("doc_id", "canonical_doc_id", "cluster_id", "other_doc_id")
SUFFIXED = ("record_id", "file_id", "sha256", "path")


def load() -> float:
    return round(os.getloadavg()[0], 2)


def cli(*args: str, log: Path | None = None) -> tuple[dict, str]:
    """`newsetl ARGS` in a subprocess: (wall seconds, exit code, load before and after; its stdout)."""
    before, t = load(), time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, capture_output=True, text=True)
    out = {"cmd": "newsetl " + " ".join(args), "wall_s": round(time.perf_counter() - t, 3), "rc": res.returncode,
           "load_before": before, "load_after": load()}  # fmt: skip
    if log is not None:
        log.write_text(res.stdout + res.stderr, encoding="utf-8")
    if res.returncode != 0:
        raise RuntimeError(f"{out['cmd']} failed: {(res.stderr.strip().splitlines() or ['?'])[-1]}")
    return out, res.stdout


def run_summary(res: dict, stdout: str) -> dict:
    """The run's final JSON line (`--json-logs`): documents added and the seconds of every stage, load included."""
    summary = json.loads(stdout.strip().splitlines()[-1])
    return {**res, "documents_new": summary["counts"]["documents_new"], "seconds": summary["seconds"],
            "stages_s": round(sum(summary["seconds"].values()), 3)}  # fmt: skip


def corpus(n: int, seed: int, out: Path) -> Path:
    if not (out / "manifest.json").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_corpus.py"), "--docs", str(n), "--out", str(out),
                        "--seed", str(seed)], check=True, capture_output=True)  # fmt: skip
    return out / "docs"


# --- warehouses made by a script ------------------------------------------------------------------------------
def base_tables(wh: Path) -> dict[str, pa.Table]:
    with open_read_only(wh) as con:
        return {name: con.sql(f'SELECT * FROM "{name}"').to_arrow_table() for name in TABLES}


def _copy_run_id(k: int) -> str:
    """Run ids that sort before any real run: an hour each from 2020."""
    return datetime.fromtimestamp(1577836800 + 3600 * k, UTC).strftime("%Y%m%dT%H%M%S") + f"-{k:08x}"


def renamed(table: pa.Table, k: int) -> pa.Table:
    """Copy `k` of a table's rows: ids hashed or suffixed with k, run_id the copy's own."""
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if name in HASHED:
            col = pa.array([None if v is None else hashlib.sha256(f"{v}:{k}".encode()).hexdigest()
                            for v in col.to_pylist()], col.type)  # fmt: skip
        elif name in SUFFIXED:
            col = pa.array([None if v is None else f"{v}~{k}" for v in col.to_pylist()], col.type)
        elif name == "run_id":
            col = pa.array([_copy_run_id(k)] * table.num_rows, col.type)
        cols[name] = col
    return pa.table(cols, schema=table.schema)


def replicate(base: Path, out: Path, n_docs: int) -> dict:
    """A warehouse of about `n_docs` documents: the base's partitions plus copies of its rows (one partition per
    table holding every copy), the catalog built once with every model and its checks."""
    t0 = time.perf_counter()
    tables = base_tables(base)
    copies = max(0, math.ceil(n_docs / max(1, tables["documents"].num_rows)) - 1)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(base, out, ignore=shutil.ignore_patterns("report", ".staging"))
    with writer_lock(out):
        store = Store(out)
        parts = store.published_partitions()
        for name, table in tables.items():
            if table.num_rows:
                pieces = (renamed(table, k) for k in range(1, copies + 1))
                parts.append(store.write_partition(name, _copy_run_id(copies), pieces))
        staged = store.build_catalog("replicated", parts)
        failing = [c for c in store.check_catalog(staged) if c["failing"]]
        store.publish(staged)
    with open_read_only(out) as con:
        docs = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    return {"copies": copies + 1, "documents": docs, "seconds": round(time.perf_counter() - t0, 1),
            "failing_checks": failing}  # fmt: skip


def split_into(src: Path, out: Path, n_parts: int) -> dict:
    """`src`'s rows written as `n_parts` partitions per table (1 = a fresh warehouse), catalog built once."""
    t0 = time.perf_counter()
    tables = base_tables(src)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with writer_lock(out):
        store = Store(out)
        parts = []
        for name, table in tables.items():
            step = max(1, math.ceil(table.num_rows / n_parts))
            for i in range(n_parts):
                piece = table.slice(i * step, step) if i * step < table.num_rows else table.slice(0, 0)
                run = _copy_run_id(i)
                parts.append(store.write_partition(name, run, piece))
        store.publish(store.build_catalog("split", parts))
    n_files = sum(1 for _ in (out / "data").rglob("*.parquet"))
    return {"partitions_per_table": n_parts, "files": n_files, "seconds": round(time.perf_counter() - t0, 1)}


# --- measurements ------------------------------------------------------------------------------------------------
def marts_digest(wh: Path) -> dict[str, str]:
    """Rows of each mart, less the columns that name or time a run (two runs of the same input differ there)."""
    out = {}
    with open_read_only(wh) as con:
        for m in MARTS:
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND database_name = current_database() "
                "ORDER BY column_index", [m]).fetchall() if c not in VOLATILE | {"last_seen"}]  # fmt: skip
            rows = con.execute(f"SELECT {', '.join(cols)} FROM {m} ORDER BY ALL").fetchall()
            out[m] = f"{len(rows)}:" + hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    return out


def run_costs(size: int, base_corpus: Path, new_corpus: Path, wh: Path, work: Path) -> dict:
    """No-op, +100 records, no-op; the same +100 records with --full-refresh on a copy; tables compared."""
    out: dict = {}
    full = wh.with_name(wh.name + "_full")

    def run(tag: str, inputs: Path, root: Path, *extra: str) -> None:
        res, stdout = cli("run", "--input", str(inputs), "--warehouse", str(root), "--json-logs", *extra,
                          log=work / f"{size}_{tag}.log")  # fmt: skip
        out[tag] = run_summary(res, stdout)

    run("noop_1", base_corpus, wh)
    run("noop_2", base_corpus, wh)
    shutil.rmtree(full, ignore_errors=True)
    shutil.copytree(wh, full)
    run("add_100", new_corpus, wh)
    fp_inc, out["marts"] = table_fingerprints(wh), marts_digest(wh)  # before the next no-op adds source_files rows
    run("noop_3", base_corpus, wh)
    run("add_100_full_refresh", new_corpus, full, "--full-refresh")
    fp_full = table_fingerprints(full)
    out["same_tables"] = fp_inc == fp_full
    out["tables_differing"] = sorted(k for k in fp_inc if fp_inc[k] != fp_full.get(k))
    out["same_marts"] = out["marts"] == marts_digest(full)
    noop = statistics.median(out[f"noop_{i}"]["wall_s"] for i in (1, 2, 3))
    out["noop_median_s"] = noop
    out["add_over_noop"] = round(out["add_100"]["wall_s"] / noop, 3)
    out["full_refresh_over_noop"] = round(out["add_100_full_refresh"]["wall_s"] / noop, 3)
    out["target_add_over_noop"] = TARGET_ADD_RATIO
    out["met"] = out["add_over_noop"] <= TARGET_ADD_RATIO and out["same_tables"] and out["same_marts"]
    shutil.rmtree(full, ignore_errors=True)
    return out


def time_queries(warehouses: list[Path], reps: int) -> list[dict]:
    """Median seconds per query on each warehouse, each run opening the catalog as `newsetl query` does (open +
    query + close); the warehouses take turns, so a change in the machine's load falls on all of them."""
    times: list[dict[str, list[float]]] = [{n: [] for n in [*QUERIES, "open_only"]} for _ in warehouses]
    for _ in range(reps):
        for name, sql in QUERIES.items():
            for i, wh in enumerate(warehouses):
                t = time.perf_counter()
                run_query(wh, sql)
                times[i][name].append(time.perf_counter() - t)
        for i, wh in enumerate(warehouses):
            t = time.perf_counter()
            open_read_only(wh).close()
            times[i]["open_only"].append(time.perf_counter() - t)
    return [{n: round(statistics.median(v), 4) for n, v in per.items()} | {"load": load()} for per in times]


def compaction(src: Path, work: Path, n_parts: int, reps: int) -> dict:
    small, fresh = work / "small", work / "fresh"
    out = {"small": split_into(src, small, n_parts), "fresh": split_into(src, fresh, 1)}
    answers = {n: run_query(fresh, sql)[1] for n, sql in QUERIES.items()}
    out["before"] = time_queries([small], reps)[0]
    out["compact"] = cli("compact", "--warehouse", str(small), log=work / "compact.log")[0]
    out["after"], out["fresh_queries"] = time_queries([small, fresh], 3 * reps)
    out["same_answers"] = all(run_query(small, sql)[1] == answers[n] for n, sql in QUERIES.items())
    out["files_after"] = sum(1 for _ in (small / "data").rglob("*.parquet"))
    out["after_over_fresh"] = {n: round(out["after"][n] / out["fresh_queries"][n], 3) for n in QUERIES}
    out["before_over_fresh"] = {n: round(out["before"][n] / out["fresh_queries"][n], 3) for n in QUERIES}
    out["target_after_over_fresh"] = TARGET_COMPACT_RATIO
    out["met"] = out["same_answers"] and all(r <= TARGET_COMPACT_RATIO for r in out["after_over_fresh"].values())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="warehouse sizes in documents, comma-separated")
    ap.add_argument("--base-docs", type=int, default=1000, help="records of the real base run (NER runs on these)")
    ap.add_argument("--partitions", type=int, default=5000, help="small partitions per table for compaction")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per query (median)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/newsetl-warehouse-bench"))
    ap.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/warehouse_<ts>.json)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    out_path = args.out or RESULTS / f"warehouse_{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    result: dict = {"started_at": started.isoformat(), "args": {k: str(v) for k, v in vars(args).items()},
                    "cpus": os.cpu_count(), "load_start": load(), "commit": _commit(), "sizes": {}}  # fmt: skip

    def save() -> None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")

    base_corpus = corpus(args.base_docs, 11, work / "corpus_base")
    new_corpus = corpus(100, 12, work / "corpus_new100")
    base = work / "base"
    if not (base / "newsetl.duckdb").exists():
        result["base_run"] = cli("run", "--input", str(base_corpus), "--warehouse", str(base), "--quiet",
                                 log=work / "base.log")[0]  # fmt: skip
    for size in sizes:
        wh = work / f"wh_{size}"
        entry = {"replicate": replicate(base, wh, size)}
        result["sizes"][str(size)] = entry
        save()
        entry["runs"] = run_costs(size, base_corpus, new_corpus, wh, work)
        save()
    result["compaction"] = compaction(work / f"wh_{sizes[0]}", work, args.partitions, args.reps)
    result["load_end"] = load()
    result["met"] = all(e["runs"]["met"] for e in result["sizes"].values()) and result["compaction"]["met"]
    save()
    print(json.dumps({"results": str(out_path), "met": result["met"]}))
    return 0 if result["met"] else 1


def _commit() -> str:
    res = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return res.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
