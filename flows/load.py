"""Load (reduce): the run's shard outputs become partitions, the next catalog is built and checked in staging.

Each table's partitions are written or linked one shard at a time (`raw_documents` gets the doc_id each record
became; `boilerplate_lines` keeps the lines of the record that owns each new document), so memory is one
shard's rows, plus DuckDB's capped memory while the catalog's models are built and checked. The flow publishes
the checked catalog with one atomic rename; nothing is visible to readers before that.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.context import Handle, RunContext, gate, kill_point, paths, table
from flows.extract import with_entity_ids
from flows.gates import GateFailed
from warehouse.store import Partition, Store


@task(name="load", retries=0, cache_policy=NO_CACHE)
def load_task(ctx: RunContext, stages: dict[str, dict[str, Handle]], books: dict[str, Any]) -> dict[str, Any]:
    """Write every partition of the run and build + check the next catalog in staging; returns its path, the
    run's counts and the dq_results file. `books`: the source_files and discover quarantine rows, the runs row
    (less its counts) and the counts the flow knows, made by the flow."""
    store = Store(Path(ctx.root))
    prior = store.published_partitions()
    dq = [r for path in _dq_files(stages) for r in pq.read_table(path).to_pylist()]
    gate(ctx, "source_files", books["source_files"], dq)
    parts = _write_data(ctx, store, stages)
    quarantine = _quarantine(stages, books["quarantine"])
    if quarantine.num_rows:
        parts.append(store.write_partition("quarantine", ctx.run_id, quarantine))
    parts.append(store.write_partition("source_files", ctx.run_id, table("source_files", books["source_files"])))
    counts = {**books["counts"], "quarantined": quarantine.num_rows}
    counts["boilerplate_lines"] = sum(p.n_rows for p in parts if p.table_name == "boilerplate_lines")
    kill_point("load")
    staged, rebuilt = store.stage_catalog(ctx.run_id, prior, parts, full_refresh=ctx.full_refresh)
    if rebuilt:  # models changed: check the run's rows and the global counts (every row on a full refresh)
        scope = None if ctx.full_refresh else ctx.run_id
        try:
            gate(ctx, "warehouse", store.check_catalog(staged, scope), dq)
        except GateFailed:
            store.discard(parts, staged)
            raise
    dq_part = store.write_partition("dq_results", ctx.run_id, table("dq_results", dq))
    runs = store.write_partition("runs", ctx.run_id, table("runs", [_runs_row(books["runs"], counts)]))
    store.add_partitions(staged, [dq_part, runs])
    public = {k: v for k, v in counts.items() if not isinstance(v, dict) and k not in ("flow_worker", "task_children")}
    return {"staged": str(staged), "rebuilt": rebuilt, "counts": public, "dq_file": dq_part.path}


def _runs_row(row: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    extra = {"seconds": row["seconds"], "peak_rss_mib": row["peak_rss_mib"]}
    return {
        **{k: v for k, v in row.items() if k not in extra},
        "finished_at": datetime.now(UTC),
        "params": json.dumps(row["params"]),
        "counts": json.dumps({**counts, **extra}, default=str),
        "n_files": counts["files"],
        "n_files_skipped": counts["files_skipped"],
        "n_records": counts["records"],
        "n_quarantined": counts["quarantined"],
        "n_documents_new": counts["documents_new"],
        "n_documents_total": counts["documents_total"],
    }


def _dq_files(stages: dict[str, dict[str, Handle]]) -> list[str]:
    return [p for hs in stages.values() for p in paths(hs, "dq")]


def _write_data(ctx: RunContext, store: Store, stages: dict[str, dict[str, Handle]]) -> list[Partition]:
    """The data tables' partitions: one per shard (or per extract slice), in key order."""
    parts: list[Partition] = []
    owners = stages["exact-dedup"]["all"]["files"]["owners"] if stages.get("exact-dedup") else None
    owner_records = pq.read_table(owners, columns=["record_id"]).column(0) if owners else pa.array([], pa.string())
    for i, norm in enumerate(stages.get("normalize", {}).values()):
        parts.append(store.adopt_partition("raw_documents", ctx.run_id, Path(norm["files"]["raw_documents"]), i))
        lines = pq.read_table(norm["files"]["boilerplate"])
        lines = lines.filter(pc.is_in(lines.column("record_id"), owner_records))
        if lines.num_rows:
            parts.append(store.write_partition("boilerplate_lines", ctx.run_id, lines, i))
    for name in ("dup_clusters", "doc_signatures", "shared_passages"):
        for h in stages.get("near-dup", {}).values():
            if h["rows"].get(name):
                parts.append(store.adopt_partition(name, ctx.run_id, Path(h["files"][name]), None))
    resolved = stages.get("entities", {}).get("all")
    mapping = pq.read_table(resolved["files"]["mapping"]) if resolved else None
    for i, h in enumerate(stages.get("extract", {}).values()):
        for name in ("documents", "figures", "dates", "extractions"):
            if h["rows"].get(name):
                parts.append(store.adopt_partition(name, ctx.run_id, Path(h["files"][name]), i))
        for name in ("mentions", "quotes"):  # keyed by the map: entity ids from the reduce's mapping
            if h["rows"].get(name):
                rows = with_entity_ids(name, pq.read_table(h["files"][name]), mapping)
                parts.append(store.write_partition(name, ctx.run_id, rows, i))
    if resolved and resolved["rows"].get("entities"):
        parts.append(store.adopt_partition("entities", ctx.run_id, Path(resolved["files"]["entities"]), None))
    return parts


def _quarantine(stages: dict[str, dict[str, Handle]], discovered: list[dict]) -> pa.Table:
    tables = [pq.read_table(p) for hs in stages.values() for p in paths(hs, "quarantine")]
    return pa.concat_tables([table("quarantine", discovered), *tables])
