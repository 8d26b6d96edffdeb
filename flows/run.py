"""One run's bookkeeping in the flow process: its plan and work area, stage timings, counts, load and publish.

Holds only handles (paths, row counts, stats), never rows: the flow process's memory does not grow with the run.
"""

from __future__ import annotations

import hashlib
import resource
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from prefect import get_run_logger

from flows.config import Settings
from flows.context import Handle, RunContext, key_of, kill_point, total, worker_id, workers_of
from flows.discover import Discovered, discover_task, plan_key, plan_task
from flows.load import load_task
from flows.runners import keep_one_worker
from transforms.shards import SHARD_FILES, Shard
from warehouse.neardup import check_scheme
from warehouse.staging import WorkArea, drop_other_work
from warehouse.store import Store, WarehouseError, partition_key
from warehouse.version import code_version

STAGES = ("ingest", "normalize", "dedup", "language", "extract", "load")


class NoInput(RuntimeError):
    """No input file matched."""


@dataclass
class Summary:
    counts: dict[str, Any]
    seconds: dict[str, float]


@dataclass
class Run:
    ctx: RunContext
    store: Store
    settings: Settings
    found: Discovered
    shards: dict[str, Shard]
    known_docs: int
    stages: dict[str, dict[str, Handle]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, int] = field(default_factory=dict)
    attempt_started: float = field(default_factory=time.time)  # tasks finished before it: an earlier attempt's
    t_start: float = field(default_factory=time.perf_counter)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage (wall seconds, and this process's peak RSS at its end)."""
        t = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t
        self.peak_mb[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    def counts(self) -> dict[str, Any]:
        s = self.stages
        nd = s.get("near-dup", {}).get("all", {}).get("stats", {})
        new_files = self.found.new
        return {
            "files": len(self.found.files),
            "files_new": len(new_files),
            "files_skipped": len(self.found.files) - len(new_files),
            "shards": len(self.shards),
            "records": total(s.get("ingest", {}), "raw"),
            "documents_new": total(s.get("extract", {}), "documents"),
            "documents_total": self.known_docs + total(s.get("extract", {}), "documents"),
            "near_duplicates": nd.get("near_duplicates", 0),
            "canonical_new": nd.get("new_clusters", 0),
            "near_dup": nd.get("near_dup", {}),  # the near-dup reduce's work and limits (the report shows them)
        }


def start_run(settings: Settings) -> Run:
    """Recover from a killed run, read the published state, discover the input and plan its shards, and open the
    work area (resuming the run that made the same plan, if it was killed)."""
    log = get_run_logger()
    t0 = time.perf_counter()
    store = Store(settings.warehouse)
    replaced = store.superseded()
    leftovers = store.recover()
    n_replaced = sum(1 for f in leftovers if partition_key(f) in replaced)
    if n_replaced:
        log.info(f"removed {n_replaced} file(s) a compaction replaced")
    if len(leftovers) > n_replaced:
        log.warning(f"recovered from an unfinished run: removed {len(leftovers) - n_replaced} leftover file(s)")
    prior = store.published_partitions()
    con = store.connect_published(prior)
    try:
        try:
            check_scheme(con)  # signatures of another near-dup scheme: refused before any work
        except ValueError as exc:
            raise WarehouseError(str(exc)) from None
        shas = con.execute("SELECT DISTINCT sha256 FROM source_files WHERE status = 'ingested'").fetchall()
        known_docs = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    finally:
        con.close()
    found = discover_task(settings.inputs, frozenset(r[0] for r in shas))
    _check_inputs(found, settings)
    spec = {"max_doc_chars": settings.max_doc_chars, "shard_bytes": settings.shard_bytes}
    published = hashlib.sha256(repr(sorted((p.path, p.sha256) for p in prior)).encode()).hexdigest()
    key = plan_key(found.new, spec, published, code_version())
    work = WorkArea.of(store.root, key)
    for gone in drop_other_work(store.root, key):
        log.info(f"removed the work of an earlier unfinished run on other input ({gone})")
    now = datetime.now(UTC)
    run_id, started, resumed = work.open(now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8], now.isoformat())
    if resumed:
        log.info(f"resuming run {run_id}: its completed tasks are reused")
    shards = plan_task(found.new, shard_size(found.new, settings.shard_bytes), SHARD_FILES) if found.new else []
    ctx = RunContext(
        run_id, str(store.root), work, started, settings.max_doc_chars, settings.batch_size, settings.full_refresh
    )
    run = Run(ctx, store, settings, found, {key_of(s.index): s for s in shards}, known_docs)
    run.t_start = t0
    log.info(f"run {run_id}: {len(found.new)} new file(s) of {len(found.files)} in {len(shards)} shard(s)")
    return run


MIN_SHARDS = 8  # a small input is still cut into this many shards (if they keep MIN_SHARD_BYTES)
MIN_SHARD_BYTES = 256 << 10


def shard_size(files: list, largest: int) -> int:
    """Input bytes per shard: `largest` (NEWSETL_SHARD_BYTES, 4 MiB), or less for a small input, so that its
    stages still spread over the workers (1,500 articles, 3.5 MB, were one shard: ingest, normalize and language
    then ran on one worker while the other waited). A function of the input only, so a resumed run plans alike."""
    return min(largest, max(MIN_SHARD_BYTES, sum(f.bytes for f in files) // MIN_SHARDS))


def _check_inputs(found: Discovered, settings: Settings) -> None:
    if not found.files and not found.problems:
        raise NoInput(f"no input files found in {', '.join(settings.inputs)}")
    for _path, code, detail in found.problems:
        if code == "input_not_found" and not found.files:
            raise NoInput(detail)


MIN_SLICE = 16  # documents: one nlp.pipe batch


def slice_size(batch_size: int, n_docs: int, workers: int) -> int:
    """Documents per extract task: `batch_size`, or fewer for a small run, so that each of the `workers` gets about
    two slices (a 92-document run was one slice: one worker extracted while the other waited), never below
    MIN_SLICE unless `batch_size` is."""
    return min(batch_size, max(MIN_SLICE, -(-n_docs // (2 * max(1, workers)))))


def extract_slices(
    ctx: RunContext,
    per_shard: dict[str, int],
    docs: dict[str, str],
    clusters: dict[str, str],
    langs: Handle,
    workers: int = 1,
) -> list[tuple[str, tuple]]:
    """The extract tasks: `slice_size` new documents of a shard each, as (key, task arguments). A key names its
    shard and document range, so a resumed run started with other settings (--batch-size, --n-process) reuses only
    the slices that cover the same documents."""
    size = slice_size(ctx.batch_size, sum(per_shard.values()), workers)
    out = []
    for k in docs:
        n = per_shard.get(k, 0)
        files = {"docs": docs[k], "clusters": clusters.get(k, ""), "lang": langs["files"].get(f"lang-{k}", "")}
        for start in range(0, n, size):
            stop = min(n, start + size)
            key = f"{k}-{start:07d}-{stop:07d}"
            out.append((key, (key, start, stop, files)))
    return out


def slice_length(args: tuple) -> int:
    """The documents of one extract slice, from its task arguments (key, start, stop, files)."""
    return args[2] - args[1]


def slice_documents(slices: list[tuple[str, tuple]]) -> int:
    """The documents of the extract `slices` (as `extract_slices` makes them)."""
    return sum(slice_length(args) for _, args in slices)


def pending_documents(ctx: RunContext, slices: list[tuple[str, tuple]]) -> int:
    """The documents of the extract `slices` not yet done in the run's work area: a resumed run has only these left
    to extract."""
    return slice_documents([s for s in slices if ctx.work.done("extract", s[0]) is None])


def publish(run: Run) -> Summary:
    """Load (a reduce task: partitions, catalog, checks) and publish with one atomic rename."""
    log = get_run_logger()
    for name in STAGES[:-1]:
        run.seconds.setdefault(name, 0.0)
    with run.stage("load"):
        counts = run.counts()
        counts["workers"] = {k: workers_of(v) for k, v in run.stages.items()}
        counts["flow_worker"] = worker_id()
        counts["task_children"] = max((h["children"] for hs in run.stages.values() for h in hs.values()), default=0)
        handles = [h for hs in run.stages.values() for h in hs.values()]
        counts["reused_tasks"] = sum(h["finished_at"] < run.attempt_started for h in handles)
        counts["tasks"] = {  # per task stage: how many, and the seconds they took in all (map: summed over workers)
            stage: {
                "n": len(hs),
                "seconds": round(sum(h["seconds"] for h in hs.values()), 3),
                "max_worker_rss_mib": max((h.get("rss_mib", 0) for h in hs.values()), default=0),
                "max_worker_rss_kept_mib": max((h.get("rss_kept_mib", 0) for h in hs.values()), default=0),
            }
            for stage, hs in run.stages.items()
        }
        books = _bookkeeping(run, counts)
        if run.settings.full_refresh:  # load rebuilds and checks every model: its one task runs alone
            keep_one_worker()
        loaded = load_task.submit(run.ctx, run.stages, books).result()
        kill_point("publish")
        run.store.publish(Path(loaded["staged"]))
        run.ctx.work.remove()
    counts = loaded["counts"]
    seconds = {k: round(v, 3) for k, v in run.seconds.items()}
    log.info(f"published run {run.ctx.run_id} to {run.store.root}: {counts}; peak RSS MiB by stage {run.peak_mb}")
    _publish_artifact(run, counts, seconds, loaded.get("dq_file"))
    return Summary(counts, seconds)


def _bookkeeping(run: Run, counts: dict[str, Any]) -> dict[str, Any]:
    ctx, found = run.ctx, run.found
    n_records: dict[str, int] = {}
    for h in run.stages.get("ingest", {}).values():
        for file_id, n in h["stats"]["n_records_by_file"].items():
            n_records[file_id] = n_records.get(file_id, 0) + n
    files = [
        {"file_id": f.file_id, "path": f.path, "sha256": f.sha256, "bytes": f.bytes, "format": f.format,
         "status": found.status[f.path], "run_id": ctx.run_id,
         # a byte-identical copy shares the file_id of the file it copies, whose records it did not add
         "n_records": n_records.get(f.file_id, 0) if found.status[f.path] == "ingested" else 0}
        for f in found.files
    ]  # fmt: skip
    problems = [
        {"run_id": ctx.run_id, "stage": "discover", "source_ref": path, "record_id": None, "reason_code": code,
         "detail": detail}
        for path, code, detail in found.problems
    ]  # fmt: skip
    keys = ("inputs", "batch_size", "max_doc_chars", "n_process", "full_refresh")
    params = {k: getattr(run.settings, k) for k in keys}
    runs_row = {
        "run_id": ctx.run_id,
        "started_at": datetime.fromisoformat(ctx.started_at),
        "status": "success",
        "params": params,
        "code_version": code_version(),
        "seconds": {k: round(v, 3) for k, v in run.seconds.items()},
        "peak_rss_mib": run.peak_mb,
    }
    return {"source_files": files, "quarantine": problems, "runs": runs_row, "counts": counts}


def _publish_artifact(run: Run, counts: dict, seconds: dict, dq_file: str | None) -> None:
    """Refresh the HTML run report (W/report/index.html) and publish a markdown summary linking it in Prefect.

    Both are conveniences on top of a published run: a failure here is logged, never fails the run."""
    from prefect.artifacts import create_markdown_artifact

    from warehouse.report import run_summary_markdown, write_report

    log, root = get_run_logger(), run.store.root
    try:
        page, _ = write_report(root, root / "report", gx_docs=False)
        report_url: str | None = page.resolve().as_uri()
    except Exception as exc:  # the report reads the published warehouse; any failure is only a warning
        log.warning(f"run report not written: {exc}")
        report_url = None
    dq = pq.read_table(dq_file).to_pylist() if dq_file and Path(dq_file).exists() else []
    summary = {"run_id": run.ctx.run_id, "status": "success", "warehouse": str(root), "counts": counts}
    create_markdown_artifact(
        key="newsetl-run-summary",
        markdown=run_summary_markdown({**summary, "seconds": seconds}, dq, report_url=report_url),
        description=f"newsetl run {run.ctx.run_id}",
    )
