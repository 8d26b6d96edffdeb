"""Language, once per duplicate cluster: detected on the canonical document of each new cluster (map, one task
per shard), then given to every new document of that cluster (reduce).

Near-copies share a language: a member is a copy of its canonical with at most light edits (estimated Jaccard
>= 0.3 of word 5-shingles) or a truncation of it. A member that joins a published cluster takes the language
its canonical was published with. On the syndication corpus of issue 17 (100,000 records, ~2,000 stories each
republished ~47 times) this detects 2,048 texts instead of 100,000.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.context import Handle, RunContext, gate, handle, table, write_outputs
from transforms.language import language_samples
from transforms.stages import language_labels
from warehouse.store import Store

LANG_SCHEMA = pa.schema([("doc_id", pa.string()), ("lang", pa.string()), ("lang_prob", pa.float64())])


@task(name="language", cache_policy=NO_CACHE)
def language_task(ctx: RunContext, key: str, docs_file: str, clusters_file: str) -> Handle:
    """(lang, lang_prob) of the shard's documents that are canonical of a new cluster."""
    t0 = time.perf_counter()
    clusters = pq.read_table(clusters_file, columns=["doc_id", "is_canonical"])
    canonical = clusters.filter(clusters.column("is_canonical")).column("doc_id")
    docs = pq.read_table(docs_file, columns=["doc_id", "text"])
    docs = docs.filter(pc.is_in(docs.column("doc_id"), canonical))
    labels = language_labels(language_samples(docs.column("text")))
    langs = pa.table(
        [docs.column("doc_id"), pa.array([x[0] for x in labels], pa.string()), pa.array([x[1] for x in labels])],
        schema=LANG_SCHEMA,
    )
    dq: list[dict] = []
    gate(ctx, "language", langs, dq)
    files, rows = write_outputs(ctx, "language", key, {"lang": langs, "dq": table("dq_results", dq)})
    return ctx.work.finish("language", key, handle("language", key, t0, files, rows))


@task(name="cluster-language", cache_policy=NO_CACHE)
def cluster_language_task(ctx: RunContext, clusters: dict[str, str], langs: list[str]) -> Handle:
    """Reduce: every new document's language is its canonical's (new: detected above; published: as published).
    In DuckDB; one output per shard, `lang-<shard>` (doc_id, lang, lang_prob)."""
    t0 = time.perf_counter()
    con = Store(Path(ctx.root)).connect_published()
    out: dict[str, pa.Table] = {}
    try:
        con.execute("CREATE TEMP TABLE new_lang (doc_id VARCHAR, lang VARCHAR, lang_prob DOUBLE)")
        if langs:
            con.execute("INSERT INTO new_lang SELECT doc_id, lang, lang_prob FROM read_parquet($f)", {"f": langs})
        for shard, path in clusters.items():
            got = con.sql(
                """
                SELECT c.doc_id, coalesce(n.lang, p.lang, 'und') AS lang, coalesce(n.lang_prob, p.lang_prob, 0.0)
                       AS lang_prob
                  FROM read_parquet($c) AS c LEFT JOIN new_lang AS n ON n.doc_id = c.canonical_doc_id
                  LEFT JOIN documents AS p ON p.doc_id = c.canonical_doc_id
                """,
                params={"c": path},
            ).to_arrow_table()
            out[f"lang-{shard}"] = got.cast(LANG_SCHEMA)
    finally:
        con.close()
    files, rows = write_outputs(ctx, "cluster-language", "all", out)
    return ctx.work.finish("cluster-language", "all", handle("cluster-language", "all", t0, files, rows))
