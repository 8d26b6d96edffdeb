"""Extract: NER, rules and parsers over a slice of a shard's documents (map), then entity resolution (reduce).

`extract_task` (one per `batch_size` documents of a shard) writes the slice's final `documents` rows (language
filled in) and extracts the canonical document of each duplicate cluster (docs/architecture.md, "Extraction on
canonical documents"): a near-duplicate is skipped with reason `near_duplicate`, as the marts count one per cluster
and NER is most of a run's cost. It writes mentions keyed by their document-local `entity_key`,
quotes with a `speaker_key`, figures and dates, each checked by its suite (figure rows named by a warning go to
quarantine), `extractions` (extracted or skipped, with why) and the slice's `key_stats` for the reduce. The spaCy
pipeline and the gazetteers are loaded once per worker process.

`entities_task` (reduce) resolves every key of the run at once against the published entities
(`transforms.entities.resolve_keys`: one entity across labels, spellings, acronyms and documents, ids stable
across runs): the `mapping` entity_key -> entity_id and the run's entity rows. Load gives mentions and quotes
their entity ids from the mapping. Memory: one merged row per distinct key of the run, plus the published
entities' name indexes; nothing per mention.
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
from transforms.entities import KnownEntities, key_stats, merge_entities, resolve_keys
from transforms.extract import KNOWN_ENTITY_COLUMNS, DocExtract, extract_documents
from warehouse import schema
from warehouse.store import Store

ROW_TABLES = ("mentions", "figures", "dates", "quotes")  # extraction tables with offsets into documents.text
DOC_KEYS = ("doc_id", "text", "lang", "published_at")  # all extraction reads of a document
MENTIONS_KEYED = schema.MENTIONS.append(pa.field("entity_key", pa.string()))  # entity_id filled in at load
QUOTES_KEYED = schema.QUOTES.append(pa.field("speaker_key", pa.string()))  # speaker_entity_id filled in at load
MAPPING = pa.schema([("entity_key", pa.string()), ("entity_id", pa.string())])


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(ctx: RunContext, key: str, start: int, stop: int, files: dict[str, str]) -> Handle:
    """Documents [start, stop) of a shard (`files`: its docs, clusters-<shard> and lang-<shard> outputs)."""
    t0 = time.perf_counter()
    docs, canonical = _documents(files, start, stop)
    todo = docs.select(list(DOC_KEYS)).append_column("is_canonical", canonical).to_pylist()
    with nlp_session() as model:
        extracts = extract_documents(todo, model)
    dq: list[dict] = []
    quarantine: list[dict] = []
    rows = {name: _gate_rows(ctx, name, r, dq, quarantine) for name, r in _rows(ctx, extracts).items()}
    tables = {
        "documents": docs,
        "mentions": pa.Table.from_pylist(rows["mentions"], MENTIONS_KEYED),
        "quotes": pa.Table.from_pylist(rows["quotes"], QUOTES_KEYED),
        "figures": table("figures", rows["figures"]),
        "dates": table("dates", rows["dates"]),
        "key_stats": pa.Table.from_pylist(key_stats(extracts), schema.KEY_STATS),
        "quarantine": table("quarantine", quarantine),
        "dq": table("dq_results", dq),
    }
    tables["extractions"] = table("extractions", _extractions(ctx, extracts, tables))
    out_files, counts = write_outputs(ctx, "extract", key, tables)
    extracted = sum(x.skip is None for x in extracts)
    return ctx.work.finish("extract", key, handle("extract", key, t0, out_files, counts, extracted=extracted))


def _rows(ctx: RunContext, extracts: list[DocExtract]) -> dict[str, list[dict]]:
    """The map's rows of every table (mentions with entity_key, quotes with speaker_key), with run_id."""
    out: dict[str, list[dict]] = {name: [] for name in ROW_TABLES}
    for x in extracts:
        if x.skip is None:
            out["mentions"] += [{"doc_id": x.doc_id, **m, "run_id": ctx.run_id} for m in x.mentions]
            out["quotes"] += [{**q, "run_id": ctx.run_id} for q in x.quotes]
            out["figures"] += [{**r, "run_id": ctx.run_id} for r in x.figures]
            out["dates"] += [{**r, "run_id": ctx.run_id} for r in x.dates]
    return out


def _gated(name: str, row: dict) -> dict:
    """A row as its suite reads it: the row key, and for mentions the entity to be (a key maps to one id)."""
    extra = {"entity_id": row["entity_key"]} if name == "mentions" else {}
    return {**row, **extra, "row_key": f"{row['doc_id']}:{row['start']}:{row['end']}"}


def _documents(files: dict[str, str], start: int, stop: int) -> tuple[pa.Table, pa.ChunkedArray]:
    """The shard's new documents [start, stop) (in record order) with their language, and whether each is its
    cluster's canonical document."""
    clusters = pq.read_table(files["clusters"], columns=["doc_id", "is_canonical"])
    docs = pq.read_table(files["docs"])
    docs = docs.filter(pc.is_in(docs.column("doc_id"), clusters.column("doc_id"))).slice(start, stop - start)
    langs = pq.read_table(files["lang"])
    at = pc.index_in(docs.column("doc_id"), langs.column("doc_id"))
    for name in ("lang", "lang_prob"):
        docs = docs.set_column(docs.schema.get_field_index(name), name, langs.column(name).take(at))
    row = pc.index_in(docs.column("doc_id"), clusters.column("doc_id"))
    return docs, clusters.column("is_canonical").take(row)


def _gate_rows(ctx: RunContext, name: str, rows: list[dict], dq: list[dict], quarantine: list[dict]) -> list[dict]:
    """Check a table's rows with its suite; rows named by a warning go to quarantine (row key doc_id:start:end)."""
    suite = f"extract_{name}"
    warned = gate(ctx, suite, [_gated(name, r) for r in rows], dq).warned_rows
    kept = []
    for r in rows:
        reason = warned.get(f"{r['doc_id']}:{r['start']}:{r['end']}")
        if reason is None:
            kept.append(r)
        else:
            ref, detail = f"{suite}:{r['doc_id']}:{r['start']}", f"{suite} row failed a warning check"
            quarantine.append(quarantine_row(ctx, "extract", ref, None, reason, detail))
    return kept


def _extractions(ctx: RunContext, extracts: list[DocExtract], tables: dict[str, pa.Table]) -> list[dict]:
    """One row per document: extracted (rows per table) or skipped with why."""
    counts = {name: pc.value_counts(tables[name].column("doc_id")).to_pylist() for name in ROW_TABLES}
    per_doc = {name: {c["values"]: c["counts"] for c in counts[name]} for name in ROW_TABLES}
    return [
        {
            "doc_id": x.doc_id,
            "status": "skipped" if x.skip else "extracted",
            "reason": x.skip,
            "run_id": ctx.run_id,
            **{f"n_{name}": per_doc[name].get(x.doc_id, 0) for name in ROW_TABLES},
        }
        for x in extracts
    ]


@task(name="entities", cache_policy=NO_CACHE)
def entities_task(ctx: RunContext, stats_files: list[str]) -> Handle:
    """Reduce: every entity_key of the run resolved at once against the published entities; outputs `mapping`
    (entity_key -> entity_id) and the run's `entities` rows (checked by their suite)."""
    t0 = time.perf_counter()
    stats = (r for path in stats_files for r in pq.read_table(path).to_pylist())  # merged as they stream in
    mapping, rows = resolve_keys(stats, KnownEntities(merge_entities(_published_entities(Path(ctx.root)))))
    dq: list[dict] = []
    entities = table("entities", [{**r, "run_id": ctx.run_id} for r in rows])
    gate(ctx, "extract_entities", entities, dq)
    keys = sorted(mapping)
    ids = pa.array([mapping[k] for k in keys], pa.string())
    tables = {
        "mapping": pa.table([pa.array(keys, pa.string()), ids], schema=MAPPING),
        "entities": entities,
        "dq": table("dq_results", dq),
    }
    files, counts = write_outputs(ctx, "entities", "all", tables)
    return ctx.work.finish("entities", "all", handle("entities", "all", t0, files, counts))


def _published_entities(root: Path) -> list[dict]:
    con = Store(root).connect_published()
    try:
        cols = ", ".join(f'"{c}"' for c in KNOWN_ENTITY_COLUMNS)
        return con.sql(f"SELECT {cols} FROM entities").to_arrow_table().to_pylist()
    finally:
        con.close()


def with_entity_ids(name: str, keyed: pa.Table, mapping: pa.Table) -> pa.Table:
    """A slice's mentions (or quotes) with entity_id (speaker_entity_id) from the run's `mapping`, in the table's
    schema."""
    key, target = ("entity_key", "entity_id") if name == "mentions" else ("speaker_key", "speaker_entity_id")
    ids = mapping.column("entity_id").take(pc.index_in(keyed.column(key), mapping.column("entity_key")))
    out = keyed.set_column(keyed.schema.get_field_index(target), target, ids).drop_columns([key])
    return out.cast(schema.TABLES[name][0])
