"""Deduplicate: exact dedup and the near-duplicate band join, both reduce tasks over the normalize shards.

`exact_dedup_task`: a text's first record in the run (by shard, then row) owns its document, unless the
document is already published. In DuckDB, which spills past its memory limit: memory is bounded by that limit,
not by the run. Output `owners` (doc_id, record_id, shard).

`near_dup_task`: MinHash LSH against every published signature and each other (warehouse/neardup.py). Outputs
`dup_clusters`, `doc_signatures`, `shared_passages`, and per shard the cluster rows of its documents
(`clusters-<shard>`), which the language and extract tasks read.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.context import Handle, RunContext, gate, handle, table, with_run_id, write_outputs
from warehouse.neardup import DOC_SIGNATURES_SCHEMA, META_SCHEMA, assign_near_duplicates
from warehouse.store import Store, sql_literal

PUBLISHED = ("dup_clusters", "doc_signatures", "shared_passages")


@task(name="exact-dedup", cache_policy=NO_CACHE)
def exact_dedup_task(ctx: RunContext, docs: dict[str, str]) -> Handle:
    """`docs`: shard key → that shard's normalize `docs` file."""
    t0 = time.perf_counter()
    con = Store(Path(ctx.root)).connect_published()
    try:
        con.register("_shard_files", pa.table({"filename": list(docs.values()), "shard": list(docs.keys())}))
        owners = (
            con.sql(
                """
            WITH d AS (SELECT doc_id, record_id, f.shard, file_row_number AS r
                         FROM read_parquet($files, filename = true, file_row_number = true) AS p
                         JOIN _shard_files AS f USING (filename))
            SELECT doc_id, arg_min(record_id, (shard, r)) AS record_id, min(shard) AS shard, min((shard, r)) AS k
              FROM d WHERE doc_id NOT IN (SELECT doc_id FROM documents)
             GROUP BY doc_id ORDER BY k
            """,
                params={"files": list(docs.values())},
            )
            .to_arrow_table()
            .drop_columns(["k"])
            if docs
            else _empty_owners()
        )
    finally:
        con.close()
    per_shard = pc.value_counts(owners.column("shard")).to_pylist() if owners.num_rows else []
    files, rows = write_outputs(ctx, "exact-dedup", "all", {"owners": owners})
    counts = {x["values"]: x["counts"] for x in per_shard}
    return ctx.work.finish("exact-dedup", "all", handle("exact-dedup", "all", t0, files, rows, per_shard=counts))


def _empty_owners() -> pa.Table:
    return pa.table({k: pa.array([], pa.string()) for k in ("doc_id", "record_id", "shard")})


@task(name="near-dup", cache_policy=NO_CACHE)
def near_dup_task(ctx: RunContext, normalized: dict[str, Handle], owners: Handle) -> Handle:
    """Cluster the run's new documents against each other and every published one (the near-dup reduce)."""
    t0 = time.perf_counter()
    docs = [h["files"]["docs"] for h in normalized.values()]
    sigs = [h["files"]["signatures"] for h in normalized.values()]
    store = Store(Path(ctx.root))
    signatures, meta = _new_rows(store, sigs, docs, owners["files"]["owners"])
    con = store.connect_published()
    try:
        con.execute(OWNERS_SQL, {"o": owners["files"]["owners"]})
        db = con.execute("SELECT current_database()").fetchall()[0][0]
        files = "[" + ", ".join(sql_literal(p) for p in docs) + "]"  # a view takes no prepared parameters
        con.execute(NEW_DOCUMENTS_SQL.format(db=db, docs=files))  # texts stay in the files (containment checks)
        result = assign_near_duplicates(con, signatures, meta)
    finally:
        con.close()
    dq: list[dict] = []
    gate(ctx, "dedup", result.dup_clusters, dq)
    clusters = result.dup_clusters
    tables = {
        **{name: with_run_id(ctx, name, getattr(result, name)) for name in PUBLISHED},
        "dq": table("dq_results", dq),
        **_by_shard(clusters, owners),
    }
    files, rows = write_outputs(ctx, "near-dup", "all", tables)
    stats = {
        "near_dup": {k: v for k, v in result.stats.items() if k != "secs"},
        "near_dup_seconds": result.stats.get("secs", {}),
        "near_duplicates": _count(clusters, "method", ["near", "contained"]),
        "new_clusters": _count_canonical(clusters),
    }
    return ctx.work.finish("near-dup", "all", handle("near-dup", "all", t0, files, rows, **stats))


def _new_rows(store: Store, sigs: list[str], docs: list[str], owners: str) -> tuple[pa.Table, pa.Table]:
    """The new documents' signature rows and (doc_id, n_words, first_seen), read on a connection of their own:
    DuckDB keeps the memory of the window and sort over every shard's signatures until its connection closes
    (~230 MiB at 100k documents, measured), and the reduce's connection stays open to its end."""
    con = store.connect()
    try:
        con.execute(OWNERS_SQL, {"o": owners})
        signatures = con.sql(SIGNATURES_SQL, params={"sigs": sigs}).to_arrow_table().cast(DOC_SIGNATURES_SCHEMA)
        meta = con.sql(META_SQL, params={"docs": docs}).to_arrow_table().cast(META_SCHEMA)
    finally:
        con.close()
    return signatures, meta


OWNERS_SQL = "CREATE TEMP TABLE _owners AS SELECT doc_id, record_id FROM read_parquet($o)"
# One signature row per new document (a text in two shards was sketched twice, alike)
SIGNATURES_SQL = """
    SELECT s.* FROM read_parquet($sigs) AS s SEMI JOIN _owners USING (doc_id)
    QUALIFY row_number() OVER (PARTITION BY s.doc_id) = 1 ORDER BY s.doc_id
"""
META_SQL = """
    SELECT d.doc_id, d.n_words, d.first_seen FROM read_parquet($docs) AS d JOIN _owners USING (record_id)
    ORDER BY d.doc_id
"""
NEW_DOCUMENTS_SQL = """
    CREATE OR REPLACE TEMP VIEW documents AS
    SELECT doc_id, text, n_words, first_seen FROM "{db}".main.documents
    UNION ALL
    SELECT d.doc_id, d.text, d.n_words, d.first_seen FROM read_parquet({docs}) AS d JOIN _owners USING (record_id)
"""


def _by_shard(clusters: pa.Table, owners: Handle) -> dict[str, pa.Table]:
    """Cluster rows per shard (`clusters-<shard>`), with whether the document is a new cluster's canonical."""
    import pyarrow.parquet as pq

    own = pq.read_table(owners["files"]["owners"], columns=["doc_id", "shard"])
    joined = clusters.select(["doc_id", "canonical_doc_id"]).join(own, "doc_id")
    canonical = pc.equal(joined.column("doc_id"), joined.column("canonical_doc_id"))
    joined = joined.append_column("is_canonical", canonical)
    out = {}
    for shard in sorted(set(joined.column("shard").to_pylist())):
        out[f"clusters-{shard}"] = joined.filter(pc.equal(joined.column("shard"), shard)).drop_columns(["shard"])
    return out


def _count(t: pa.Table, column: str, values: list[str]) -> int:
    return int(pc.sum(pc.is_in(t.column(column), pa.array(values))).as_py() or 0)


def _count_canonical(t: pa.Table) -> int:
    return int(pc.sum(pc.equal(t.column("doc_id"), t.column("canonical_doc_id"))).as_py() or 0)
