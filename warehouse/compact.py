"""Compaction: merge each table's small partitions into files of a target size, atomically under the writer lock.

Every run writes a Parquet file per table it touches (a no-op run still writes `runs`, `source_files` and
`dq_results`), so a year of hourly runs leaves tens of thousands of small files behind the views, and every query
(and every catalog open, see `warehouse.store.shadow_views`) pays per file. `compact` rewrites runs of consecutive
small partitions of a table (in ledger order) into files of up to `target_rows` rows and `target_bytes` bytes:

1. recover (as every writer does), then write the merged files as new partitions (`data/<table>/compact-...`),
   each checked to hold exactly the rows of the files it replaces;
2. stage a copy of the published catalog whose ledger and views list the merged files instead
   (`Store.replace_partitions`): models, marts and checks stand, since no row changed;
3. publish it with one atomic rename.

Readers see the old catalog with the old files or the new catalog with the new files, never a mix. The replaced
files are not deleted here: a reader that opened the old catalog may still be reading them. They are unlisted
now, so the next writer (a run, or the next compaction) removes them in its recovery. A crash at any point leaves
the published catalog and its files as they were, or the new ones; the files of an unfinished compaction are
unlisted leftovers for the next writer, like a killed run's.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.schema import TABLES
from warehouse.store import (
    ROW_GROUP_ROWS,
    Partition,
    Store,
    WarehouseError,
    catalog_path,
    partition_key,
    writer_lock,
)

DEFAULT_TARGET_ROWS = 1_000_000
DEFAULT_TARGET_BYTES = 128 << 20
READ_BATCH_ROWS = ROW_GROUP_ROWS  # rows gathered per row group of a merged file: what the merge holds in memory
KILL_AT_ENV = "NEWSETL_TEST_KILL_AT"  # test-only fault injection, as in flows/etl.py


def _kill_point(name: str) -> None:
    if os.environ.get(KILL_AT_ENV) == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)


def plan_bins(partitions: list[Partition], target_rows: int, target_bytes: int) -> dict[str, list[list[Partition]]]:
    """Per table, the groups of partitions to merge: consecutive partitions (ledger order) below both targets,
    gathered until the next would take the group over either; only groups of two or more files. Tables outside
    the schema (none are written today) are left alone."""
    plan: dict[str, list[list[Partition]]] = {}
    by_table: dict[str, list[Partition]] = {}
    for p in partitions:
        by_table.setdefault(p.table_name, []).append(p)
    for table, parts in by_table.items():
        if table not in TABLES:
            continue
        bins: list[list[Partition]] = [[]]
        rows = size = 0
        for p in parts:
            if p.n_rows >= target_rows or p.bytes >= target_bytes:  # already large: closes the current group
                bins.append([])
                rows = size = 0
                continue
            if bins[-1] and (rows + p.n_rows > target_rows or size + p.bytes > target_bytes):
                bins.append([])
                rows = size = 0
            bins[-1].append(p)
            rows, size = rows + p.n_rows, size + p.bytes
        groups = [b for b in bins if len(b) > 1]
        if groups:
            plan[table] = groups
    return plan


def _aligned(table_name: str, group: list[Partition]) -> Iterator[pa.Table]:
    """The rows of `group`'s files in order, in pieces of READ_BATCH_ROWS rows (the Parquet writer makes a row group
    of every piece it is given, so the small files' rows are gathered first), each with exactly the table's columns
    (a column an older partition lacks is null, as union_by_name reads it)."""
    schema = TABLES[table_name][0]
    pending: list[pa.Table] = []
    n_pending = 0
    for p in group:
        for batch in pq.ParquetFile(p.path).iter_batches(READ_BATCH_ROWS):
            piece = pa.Table.from_batches([batch])
            for f in schema:
                if f.name not in piece.column_names:
                    piece = piece.append_column(f.name, pa.nulls(piece.num_rows, f.type))
            pending.append(piece.select(schema.names).cast(schema))
            n_pending += piece.num_rows
            if n_pending >= READ_BATCH_ROWS:  # exactly a row group's rows; the rest waits for the next
                rows = pa.concat_tables(pending).combine_chunks()
                yield rows.slice(0, READ_BATCH_ROWS)
                pending, n_pending = [rows.slice(READ_BATCH_ROWS)], rows.num_rows - READ_BATCH_ROWS
    if n_pending:
        yield pa.concat_tables(pending).combine_chunks()


def _merge(store: Store, table_name: str, group: list[Partition], name: str, part: int) -> Partition:
    merged = store.write_partition(table_name, name, _aligned(table_name, group), part)
    expected = sum(p.n_rows for p in group)
    if merged.n_rows != expected or pq.ParquetFile(merged.path).metadata.num_rows != expected:
        Path(merged.path).unlink(missing_ok=True)
        raise WarehouseError(f"compaction of {table_name} wrote {merged.n_rows} rows for {expected}; nothing published")
    # the ledger orders partitions by run_id: a merged file keeps the place of the last run it holds
    return Partition(table_name, max(p.run_id for p in group), merged.path, merged.n_rows, merged.bytes, merged.sha256)


def compact(root: Path, target_rows: int = DEFAULT_TARGET_ROWS, *, target_bytes: int = DEFAULT_TARGET_BYTES) -> dict:
    """Merge each table's small partitions of the warehouse at `root` (see the module docstring). Takes the writer
    lock (WarehouseBusy when a run holds it); WarehouseError when there is no warehouse. Returns a summary:
    files before and after per table, rows moved, superseded files left for the next writer, seconds."""
    root = Path(root).resolve()
    if target_rows < 1 or target_bytes < 1:
        raise WarehouseError(f"target rows and bytes must be positive, got {target_rows} and {target_bytes}")
    if not catalog_path(root).exists():
        raise WarehouseError(f"no warehouse at {root} (run `newsetl run` first)")
    t0 = time.perf_counter()
    with writer_lock(root):
        store = Store(root)
        leftovers = store.recover()
        prior = store.published_partitions()
        plan = plan_bins(prior, target_rows, target_bytes)
        name = "compact-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        old: list[Partition] = []
        new: list[Partition] = []
        staged = None
        try:
            for table, groups in plan.items():
                for i, group in enumerate(groups):
                    new.append(_merge(store, table, group, name, i))
                    old += group
                    _kill_point("compact-merge")
            if new:
                staged = store.replace_partitions(name, old, new)
                _kill_point("compact-publish")
                store.publish(staged)
                store.record_superseded(name, [partition_key(p.path) for p in old])
        except BaseException:
            store.discard(new, staged)
            raise
    _kill_point("compact-done")
    tables = {
        t: {
            "files_before": sum(1 for p in prior if p.table_name == t),
            "files_after": sum(1 for p in prior if p.table_name == t) - sum(len(g) for g in groups) + len(groups),
            "rows_moved": sum(p.n_rows for g in groups for p in g),
        }
        for t, groups in plan.items()
    }
    return {
        "warehouse": str(root),
        "target_rows": target_rows,
        "target_bytes": target_bytes,
        "files_before": len(prior),
        "files_after": len(prior) - len(old) + len(new),
        "tables": tables,
        "superseded_files": len(old),  # unlisted now; the next writer's recovery removes them
        "leftovers_removed": len(leftovers),
        "seconds": round(time.perf_counter() - t0, 3),
    }
