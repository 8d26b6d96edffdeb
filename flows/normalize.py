"""Normalize (map): one ingest shard's records into documents, checked by the `normalize` suite.

Exact duplicates within the shard collapse here (the first record of a text owns its document); across shards
and runs the `exact-dedup` reduce decides. A document named by a warning-level check goes to quarantine with
every record of the shard that became it, and its boilerplate lines are dropped: the checks read only the
document, so another shard holding the same text warns about it too.

It also sketches the shard's documents for near-dup (the map step of `warehouse.neardup`: MinHash, bands,
paragraph hashes). Outputs: `docs` (documents rows, lang still null), `signatures`, `boilerplate`,
`raw_documents` (the shard's raw_documents rows, final: each with the doc_id it became, null when quarantined),
`quarantine`, `dq`.
"""

from __future__ import annotations

import time
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.context import Handle, RunContext, gate, handle, quarantine_row, table, write_outputs
from flows.ingest import load_repeated
from transforms.records import RawRecord, Rejection
from transforms.shards import Shard
from transforms.stages import normalize_records
from warehouse.neardup import sketch_table

RAW_COLUMNS = ["record_id", "file_id", "record_index", "raw_text", "title", "url", "published_at_raw"]


@task(name="normalize", cache_policy=NO_CACHE)
def normalize_task(ctx: RunContext, shard: Shard, ingested: Handle, repeated: Handle) -> Handle:
    t0, key = time.perf_counter(), ingested["key"]
    paths = {p.file.file_id: p.file.path for p in shard.pieces}
    raw = pq.read_table(ingested["files"]["raw"])
    batch = normalize_records(
        _records(raw, ingested), paths, datetime.fromisoformat(ctx.started_at), ctx.run_id,
        load_repeated(repeated["files"]["repeated"]),
    )  # fmt: skip
    quarantine = [_quarantined(ctx, rej, paths) for rej in batch.rejections]
    docs, doc_of = _first_of_each_text(batch.docs)
    dq: list[dict] = []
    docs_table = table("documents", docs)
    warned = gate(ctx, "normalize", docs_table, dq).warned_rows
    owners = {d["record_id"] for d in docs}  # a document's lines are its first record's
    lines = [r for r in batch.boilerplate if r["record_id"] in owners and r["doc_id"] not in warned]
    for record_id, doc_id in doc_of.items():
        if doc_id in warned:
            detail = f"document {doc_id[:12]} failed a warning check"
            quarantine.append(quarantine_row(ctx, "normalize", doc_id, record_id, warned[doc_id], detail))
    if warned:
        docs_table = docs_table.filter(pc.invert(pc.is_in(docs_table.column("doc_id"), pa.array(list(warned)))))
    t_sketch = time.perf_counter()
    signatures = sketch_table(docs_table.select(["doc_id", "text"]))  # the near-dup map step (its reduce: dedup)
    sketch_s = time.perf_counter() - t_sketch
    kept = {r: d for r, d in doc_of.items() if d not in warned}
    doc_ids = pa.array([kept.get(r) for r in raw.column("record_id").to_pylist()], pa.string())
    tables = {
        "docs": docs_table,
        "signatures": signatures,
        "boilerplate": table("boilerplate_lines", lines),
        "raw_documents": raw.set_column(raw.schema.get_field_index("doc_id"), "doc_id", doc_ids),
        "quarantine": table("quarantine", quarantine),
        "dq": table("dq_results", dq),
    }
    files, rows = write_outputs(ctx, "normalize", key, tables)
    out = handle("normalize", key, t0, files, rows, sketch_seconds=round(sketch_s, 3))
    return ctx.work.finish("normalize", key, out)


def _records(raw: pa.Table, ingested: Handle) -> list[RawRecord]:
    """The shard's records that were read (not rejected at ingest)."""
    rejected = set(pq.read_table(ingested["files"]["quarantine"], columns=["record_id"]).column(0).to_pylist())
    return [
        RawRecord(r["record_id"], r["file_id"], r["record_index"], r["raw_text"], r["title"], r["url"],
                  r["published_at_raw"])
        for r in raw.select(RAW_COLUMNS).to_pylist()
        if r["record_id"] not in rejected
    ]  # fmt: skip


def _first_of_each_text(docs: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """The rows of the first record of each doc_id (in record order), and record_id → doc_id of every record:
    exact duplicates within the shard collapse here."""
    seen: set[str] = set()
    first: list[dict] = []
    doc_of: dict[str, str] = {}
    for d in docs:
        doc_of[d["record_id"]] = d["doc_id"]
        if d["doc_id"] not in seen:
            seen.add(d["doc_id"])
            first.append(d)
    return first, doc_of


def _quarantined(ctx: RunContext, rej: Rejection, paths: dict[str, str]) -> dict:
    ref = paths.get(rej.file_id, rej.file_id)
    return quarantine_row(ctx, rej.stage, ref, rej.record_id, rej.reason_code, rej.detail)
