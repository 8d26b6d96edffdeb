"""Ingest: each shard's records read into raw_documents rows (map), and the run's repeated lines (reduce).

Map `ingest_task`, one per shard: the records of its pieces, with their raw texts, go to `raw`; rejected records
are in `raw` too (their kept text) and in `quarantine` with the reason; `lines` counts the short lines per
source for the repeated-line detector. Reduce `repeated_lines_task`: the lines repeated across at least half of
one source's documents in the whole run (a text must normalize the same in whichever shard it is), plus those
earlier runs removed as repeated from the same sources (and in whichever run it comes).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.context import Handle, RunContext, gate, handle, key_of, quarantine_row, table, write_outputs
from transforms.boilerplate import MIN_LINE_DOCS, MIN_LINE_SHARE, REPEATED_RULE, line_counts
from transforms.readers import read_piece
from transforms.records import RawRecord, Rejection
from transforms.shards import Shard
from transforms.stages import source_key, source_lines
from warehouse.store import Store

LINES_SCHEMA = pa.schema([("source", pa.string()), ("line", pa.string()), ("n", pa.int64())])


@task(name="ingest", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def ingest_task(ctx: RunContext, shard: Shard) -> Handle:
    t0, key = time.perf_counter(), key_of(shard.index)
    records: list[RawRecord] = []
    rejections: list[Rejection] = []
    n_by_file: Counter[str] = Counter()
    paths = {p.file.file_id: p.file.path for p in shard.pieces}
    for p in shard.pieces:
        for item in read_piece(p.file, p.start, p.end, p.first_index, ctx.max_doc_chars):
            (records if isinstance(item, RawRecord) else rejections).append(item)
            n_by_file[p.file.file_id] += 1
    raw = table("raw_documents", [_raw_row(ctx, r) for r in records] + [_rejected_row(ctx, r) for r in rejections])
    dq: list[dict] = []
    gate(ctx, "ingest", raw, dq)
    per_source, n_docs = line_counts(source_lines(records, paths))
    quarantine = [
        quarantine_row(ctx, r.stage, paths.get(r.file_id, r.file_id), r.record_id, r.reason_code, r.detail)
        for r in rejections
    ]
    tables = {"raw": raw, "quarantine": table("quarantine", quarantine), "lines": _lines(per_source, n_docs)}
    files, rows = write_outputs(ctx, "ingest", key, {**tables, "dq": table("dq_results", dq)})
    out = handle("ingest", key, t0, files, rows, n_records_by_file=dict(n_by_file))
    return ctx.work.finish("ingest", key, out)


def _raw_row(ctx: RunContext, r: RawRecord) -> dict:
    return {
        "record_id": r.record_id,
        "file_id": r.file_id,
        "record_index": r.record_index,
        "raw_text": r.text,
        "title": r.title,
        "url": r.url,
        "published_at_raw": r.published_at,
        "encoding": r.encoding,
        "run_id": ctx.run_id,
    }


def _rejected_row(ctx: RunContext, r: Rejection) -> dict:
    return {
        "record_id": r.record_id,
        "file_id": r.file_id,
        "record_index": r.record_index,
        "raw_text": r.raw_text,
        "run_id": ctx.run_id,
    }


def _lines(per_source: dict[str, Counter[str]], n_docs: Counter[str]) -> pa.Table:
    """Line counts as rows: (source, line, documents with it), and (source, null, documents of the source)."""
    rows = [(s, line, n) for s, counts in per_source.items() for line, n in counts.items()]
    rows += [(s, None, n) for s, n in n_docs.items()]
    cols = list(zip(*rows, strict=True)) if rows else [[], [], []]
    return pa.table([pa.array(c, f.type) for c, f in zip(cols, LINES_SCHEMA, strict=True)], schema=LINES_SCHEMA)


@task(name="repeated-lines", cache_policy=NO_CACHE)
def repeated_lines_task(ctx: RunContext, line_files: list[str]) -> Handle:
    """Reduce: the run's repeated lines per source, summed over every shard's counts in DuckDB (which spills
    past its memory limit: the counts never need to fit in memory). Output `repeated` (source, line)."""
    t0 = time.perf_counter()
    repeated = pa.table({"source": pa.array([], pa.string()), "line": pa.array([], pa.string())})
    if line_files:
        con = duckdb.connect()
        try:
            con.execute("SET memory_limit = '512MB'")
            repeated = con.sql(
                """
                WITH c AS (SELECT source, line, sum(n) AS n FROM read_parquet($files) GROUP BY ALL)
                SELECT l.source, l.line FROM c AS l JOIN c AS d ON d.source = l.source AND d.line IS NULL
                 WHERE l.line IS NOT NULL AND l.n >= $min_docs AND d.n >= $min_docs AND l.n >= $share * d.n
                 ORDER BY 1, 2
                """,
                params={"files": line_files, "min_docs": MIN_LINE_DOCS, "share": MIN_LINE_SHARE},
            ).to_arrow_table()
        finally:
            con.close()
        repeated = _with_published(repeated, Path(ctx.root))
    files, rows = write_outputs(ctx, "repeated", "all", {"repeated": repeated})
    return ctx.work.finish("repeated", "all", handle("repeated", "all", t0, files, rows))


def _with_published(repeated: pa.Table, root: Path) -> pa.Table:
    """`repeated` plus the lines earlier runs removed as repeated (per source): a footer learned from a site's
    first 100 articles is removed from its 101st, which a later run brings alone (its text, and so its doc_id,
    would else differ from a copy published before). Read from the published boilerplate_lines; a normalize task
    looks up only its records' sources."""
    con = Store(root).connect_published()
    try:
        rows = con.execute(
            "SELECT DISTINCT b.text, r.url, s.path FROM boilerplate_lines b JOIN raw_documents r USING (record_id) "
            "JOIN source_files s ON s.file_id = r.file_id AND s.status = 'ingested' WHERE b.rule = $rule",
            {"rule": REPEATED_RULE},
        ).fetchall()
    finally:
        con.close()
    known = set(zip(repeated.column("source").to_pylist(), repeated.column("line").to_pylist(), strict=True))
    known.update((source_key(url, path), line) for line, url, path in rows)
    pairs = sorted(known)
    return pa.table({"source": pa.array([p[0] for p in pairs], pa.string()),
                     "line": pa.array([p[1] for p in pairs], pa.string())})  # fmt: skip


def load_repeated(path: str) -> dict[str, frozenset[str]]:
    """`repeated_lines_task`'s output as source → lines."""
    import pyarrow.parquet as pq

    out: dict[str, set[str]] = {}
    t = pq.read_table(path)
    for source, line in zip(t.column("source").to_pylist(), t.column("line").to_pylist(), strict=True):
        out.setdefault(source, set()).add(line)
    return {s: frozenset(lines) for s, lines in out.items()}
