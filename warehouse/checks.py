"""Cross-table checks computed in DuckDB on a built catalog; the `warehouse` GX suite validates the result.

Each check counts offending rows; a healthy warehouse has 0 everywhere. The record reconciliation is the
stage contract "raw records = documents' records + quarantined records".

Checks whose cost grows with the extraction rows (offsets sliced out of the texts, the co-occurrence model) read
only the rows of the runs in scope, the temp table `_check_runs`: the load stage scopes them to its own run, since
published partitions are immutable and were checked when they were published. Without a scope (the report,
`newsetl validate`, a release) they check every run.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from warehouse.model_checks import MODEL_CHECKS, SCOPE, setup

CHECKS: dict[str, str] = {
    # every record is either mapped to a document or quarantined, never both, never neither
    "records_reconcile": """
        SELECT abs((SELECT count(*) FROM raw_documents)
                   - (SELECT count(*) FROM raw_documents WHERE doc_id IS NOT NULL)
                   - (SELECT count(DISTINCT record_id) FROM quarantine WHERE record_id IS NOT NULL))""",
    "records_unaccounted": """
        SELECT count(*) FROM raw_documents r WHERE r.doc_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.record_id = r.record_id)""",
    "records_double_accounted": """
        SELECT count(*) FROM raw_documents r WHERE r.doc_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM quarantine q WHERE q.record_id = r.record_id)""",
    "record_ids_unique": "SELECT count(*) - count(DISTINCT record_id) FROM raw_documents",
    "records_point_to_documents": """
        SELECT count(*) FROM raw_documents r WHERE r.doc_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = r.doc_id)""",
    "doc_ids_unique": "SELECT count(*) - count(DISTINCT doc_id) FROM documents",
    "documents_have_one_cluster": """
        SELECT (SELECT count(*) FROM documents d WHERE NOT EXISTS
                  (SELECT 1 FROM dup_clusters c WHERE c.doc_id = d.doc_id))
             + (SELECT count(*) - count(DISTINCT doc_id) FROM dup_clusters)
             + (SELECT count(*) FROM dup_clusters c WHERE NOT EXISTS
                  (SELECT 1 FROM documents d WHERE d.doc_id = c.doc_id))""",
    "canonical_in_own_cluster": """
        SELECT count(*) FROM dup_clusters c LEFT JOIN dup_clusters k ON k.doc_id = c.canonical_doc_id
        WHERE k.doc_id IS NULL OR k.cluster_id <> c.cluster_id OR k.canonical_doc_id <> k.doc_id""",
    "boilerplate_points_to_documents": """
        SELECT count(*) FROM boilerplate_lines b
        WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = b.doc_id)""",
}


def _offsets_slice_back(table: str, surface: str) -> str:
    return f"""
        SELECT count(*) FROM {table} x JOIN documents d USING (doc_id)
        WHERE x.run_id IN (SELECT run_id FROM {SCOPE}) AND (x.start < 0 OR x."end" > length(d.text)
           OR substring(d.text, x.start + 1, x."end" - x.start) IS DISTINCT FROM x.{surface})"""


# Extraction rows: offsets index documents.text (`substring(text, start+1, end-start) = surface`), values are
# finite, every mention's entity exists, and extractions are of documents.
SCOPED_TABLES = ("documents", "extractions", "mentions", "figures", "dates", "quotes")
CHECKS |= {
    # the normalize gate checks n_chars >= 1 instead of the texts' lengths (GX copied the texts several times)
    "documents_n_chars_match_text": f"""
        SELECT count(*) FROM documents
        WHERE run_id IN (SELECT run_id FROM {SCOPE}) AND n_chars IS DISTINCT FROM length(text)""",
    "mentions_offsets": _offsets_slice_back("mentions", "surface"),
    "figures_offsets": _offsets_slice_back("figures", "surface"),
    "dates_offsets": _offsets_slice_back("dates", "surface"),
    "quotes_offsets": _offsets_slice_back("quotes", "text"),
    "figures_values_finite": """
        SELECT count(*) FROM figures
        WHERE NOT isfinite(value) OR (value_max IS NOT NULL AND NOT isfinite(value_max))""",
    "mentions_entity_exists": """
        SELECT count(*) FROM mentions m WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.entity_id = m.entity_id)""",
    "extractions_one_per_document": "SELECT count(*) - count(DISTINCT doc_id) FROM extractions",
    "extractions_of_documents": """
        SELECT count(*) FROM extractions x WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = x.doc_id)""",
}


def run_checks(
    con: duckdb.DuckDBPyConnection, extra: dict[str, str] | None = None, runs: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per check: check, failing (offending row count). `runs` scopes the extraction-row checks to these
    runs' rows (default: every run). Creates temp tables only, so a read-only connection works."""
    if runs is None:
        union = " UNION ".join(f"SELECT DISTINCT run_id FROM {t}" for t in SCOPED_TABLES)
        runs = sorted(r for (r,) in con.execute(union).fetchall() if r is not None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SCOPE} (run_id VARCHAR)")
    if runs:  # executemany refuses an empty list
        con.executemany(f"INSERT INTO {SCOPE} VALUES (?)", [(r,) for r in runs])
    for sql in setup(runs):
        con.execute(sql)
    rows = []
    for name, sql in {**CHECKS, **MODEL_CHECKS, **(extra or {})}.items():
        rows.append({"check": name, "failing": int(con.execute(sql).fetchall()[0][0])})
    return pd.DataFrame(rows)
