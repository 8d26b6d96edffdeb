"""Extract: NER and the rule parsers over a slice of a shard's documents (map), then entity merging (reduce).

`extract_task` (one per `batch_size` documents of a shard) writes the slice's final `documents` rows (language
filled in) and extracts its canonical documents: mentions, figures, dates and quotes, checked by their suites
(rows named by a warning go to quarantine), `extractions` (extracted or skipped, with why) and the entity rows
its mentions resolved to. The spaCy model is loaded once per worker process.

`entities_task` (reduce) merges the entity rows of every slice by entity_id, with the published name of an
entity already published, and checks them. Memory: the run's distinct entities.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.context import Handle, RunContext, gate, handle, nlp_session, quarantine_row, table, write_outputs
from transforms.entities import EntityTable
from transforms.extract import extract_documents, resolve_documents
from warehouse.store import Store

ROW_TABLES = ("mentions", "figures", "dates", "quotes")  # extraction tables with offsets into documents.text
DOC_KEYS = ("doc_id", "text", "lang", "published_at")  # all extraction reads of a document


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(ctx: RunContext, key: str, start: int, stop: int, files: dict[str, str]) -> Handle:
    """Documents [start, stop) of a shard (`files`: its docs, clusters-<shard> and lang-<shard> outputs)."""
    t0 = time.perf_counter()
    docs, canonical = _documents(files, start, stop)
    todo = docs.filter(canonical).select(list(DOC_KEYS)).to_pylist()
    with nlp_session() as model:
        found = resolve_documents(todo, extract_documents(todo, model))
    dq: list[dict] = []
    quarantine: list[dict] = []
    tables = {"documents": docs}
    for name in ROW_TABLES:
        rows = [{**r, "run_id": ctx.run_id} for r in found[name]]
        tables[name] = table(name, _gate_rows(ctx, f"extract_{name}", rows, dq, quarantine))
    tables["entities"] = table("entities", [{**e, "run_id": ctx.run_id} for e in found["entities"]])
    tables["extractions"] = table("extractions", _extractions(ctx, todo, found, tables))
    tables["quarantine"] = table("quarantine", quarantine)
    tables["dq"] = table("dq_results", dq)
    out_files, rows = write_outputs(ctx, "extract", key, tables)
    return ctx.work.finish("extract", key, handle("extract", key, t0, out_files, rows, extracted=len(todo)))


def _documents(files: dict[str, str], start: int, stop: int) -> tuple[pa.Table, pa.Array]:
    """The shard's new documents [start, stop) (in record order) with their language, and which are canonical."""
    clusters = pq.read_table(files["clusters"], columns=["doc_id", "is_canonical"])
    docs = pq.read_table(files["docs"])
    docs = docs.filter(pc.is_in(docs.column("doc_id"), clusters.column("doc_id"))).slice(start, stop - start)
    langs = pq.read_table(files["lang"])
    at = pc.index_in(docs.column("doc_id"), langs.column("doc_id"))
    for name in ("lang", "lang_prob"):
        docs = docs.set_column(docs.schema.get_field_index(name), name, langs.column(name).take(at))
    canonical = clusters.column("is_canonical").take(pc.index_in(docs.column("doc_id"), clusters.column("doc_id")))
    return docs, pc.fill_null(canonical, False)


def _gate_rows(ctx: RunContext, suite: str, rows: list[dict], dq: list[dict], quarantine: list[dict]) -> list[dict]:
    """Check extraction rows; rows named by a warning go to quarantine (row key doc_id:start:end)."""
    for r in rows:
        r["row_key"] = f"{r['doc_id']}:{r['start']}:{r['end']}"
    warned = gate(ctx, suite, rows, dq).warned_rows
    kept = []
    for r in rows:
        reason = warned.get(r.pop("row_key"))
        if reason is None:
            kept.append(r)
        else:
            ref, detail = f"{suite}:{r['doc_id']}:{r['start']}", f"{suite} row failed a warning check"
            quarantine.append(quarantine_row(ctx, "extract", ref, None, reason, detail))
    return kept


def _extractions(ctx: RunContext, todo: list[dict], found: dict, tables: dict[str, pa.Table]) -> list[dict]:
    skipped = {x["doc_id"]: x["reason"] for x in found["skipped"]}
    counts = {name: pc.value_counts(tables[name].column("doc_id")).to_pylist() for name in ROW_TABLES}
    per_doc = {name: {c["values"]: c["counts"] for c in counts[name]} for name in ROW_TABLES}
    return [
        {
            "doc_id": d["doc_id"],
            "status": "skipped" if d["doc_id"] in skipped else "extracted",
            "reason": skipped.get(d["doc_id"]),
            "run_id": ctx.run_id,
            **{f"n_{name}": per_doc[name].get(d["doc_id"], 0) for name in ROW_TABLES},
        }
        for d in todo
    ]


@task(name="entities", cache_policy=NO_CACHE)
def entities_task(ctx: RunContext, entity_files: list[str]) -> Handle:
    """Reduce: the run's entity rows merged by entity_id (aliases united, mentions summed); an entity already
    published keeps its published name."""
    t0 = time.perf_counter()
    merged = EntityTable()
    for path in entity_files:
        merged.add(pq.read_table(path).to_pylist())
    rows = merged.rows()
    known = _published_names([r["entity_id"] for r in rows], Path(ctx.root))
    for r in rows:
        r["name"] = known.get(r["entity_id"], r["name"])
    dq: list[dict] = []
    entities = table("entities", [{**r, "run_id": ctx.run_id} for r in rows])
    gate(ctx, "extract_entities", entities, dq)
    files, counts = write_outputs(ctx, "entities", "all", {"entities": entities, "dq": table("dq_results", dq)})
    return ctx.work.finish("entities", "all", handle("entities", "all", t0, files, counts))


def _published_names(ids: list[str], root: Path) -> dict[str, str]:
    con = Store(root).connect_published()
    try:
        con.register("_ids", pa.table({"entity_id": pa.array(ids, pa.string())}))
        got = con.execute(
            "SELECT entity_id, first(name ORDER BY run_id) FROM entities JOIN _ids USING (entity_id) GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    return dict(got)
