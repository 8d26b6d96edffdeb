"""Cross-table checks computed in DuckDB on a built catalog; the `warehouse` GX suite validates the result.

Each check counts offending rows; a healthy warehouse has 0 everywhere. The record reconciliation is the
stage contract "raw records = documents' records + quarantined records".

A run checks its own rows plus global invariants that stay cheap as the warehouse grows. `$scope(x.run_id)` in a
check is true for the rows of the runs in scope: the load stage scopes the checks to its own run (published
partitions are immutable and were checked when they were published); without a scope (the report, `newsetl
validate`, a release, `--full-refresh`) every row is checked. Scoped, a key's uniqueness is checked by counts: the
run's keys are distinct and none is already published. What stays global is counts: records reconcile, one mart
row per cluster, entity and figure, and the sums of the marts against their sources.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb
import pandas as pd

from warehouse.model_checks import MODEL_CHECKS, sample_sql, setup
from warehouse.store import sql_literal

_SCOPE = re.compile(r"\$scope\(([^()]*)\)")


def unique_key(table: str, key: str) -> str:
    """Rows in scope whose `key` repeats: within the scope, or against a row outside it (by counts, one pass over
    the key column); with every row in scope, count(*) - count(DISTINCT key)."""
    return f"""
        SELECT (SELECT count(*) - count(DISTINCT {key}) FROM {table} WHERE $scope(run_id))
             + (SELECT count(*) FROM {table} n WHERE $scope(n.run_id)
                  AND n.{key} IN (SELECT {key} FROM {table} WHERE NOT $scope(run_id)))"""


CHECKS: dict[str, str] = {
    # every record is either mapped to a document or quarantined, never both, never neither (global counts)
    "records_reconcile": """
        SELECT abs((SELECT count(*) FROM raw_documents)
                   - (SELECT count(*) FROM raw_documents WHERE doc_id IS NOT NULL)
                   - (SELECT count(DISTINCT record_id) FROM quarantine WHERE record_id IS NOT NULL))""",
    "records_unaccounted": """
        SELECT count(*) FROM raw_documents r WHERE $scope(r.run_id) AND r.doc_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.record_id = r.record_id)""",
    "records_double_accounted": """
        SELECT count(*) FROM raw_documents r WHERE r.doc_id IS NOT NULL
          AND ($scope(r.run_id) OR r.record_id IN (SELECT record_id FROM quarantine WHERE $scope(run_id)))
          AND EXISTS (SELECT 1 FROM quarantine q WHERE q.record_id = r.record_id)""",
    "record_ids_unique": unique_key("raw_documents", "record_id"),
    "records_point_to_documents": """
        SELECT count(*) FROM raw_documents r WHERE $scope(r.run_id) AND r.doc_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = r.doc_id)""",
    "doc_ids_unique": unique_key("documents", "doc_id"),
    "documents_have_one_cluster": f"""
        SELECT (SELECT count(*) FROM documents d WHERE $scope(d.run_id) AND NOT EXISTS
                  (SELECT 1 FROM dup_clusters c WHERE c.doc_id = d.doc_id))
             + ({unique_key("dup_clusters", "doc_id")})
             + (SELECT count(*) FROM dup_clusters c WHERE $scope(c.run_id) AND NOT EXISTS
                  (SELECT 1 FROM documents d WHERE d.doc_id = c.doc_id))""",
    "canonical_in_own_cluster": """
        SELECT count(*) FROM dup_clusters c LEFT JOIN dup_clusters k ON k.doc_id = c.canonical_doc_id
        WHERE $scope(c.run_id)
          AND (k.doc_id IS NULL OR k.cluster_id <> c.cluster_id OR k.canonical_doc_id <> k.doc_id)""",
    "boilerplate_points_to_documents": """
        SELECT count(*) FROM boilerplate_lines b
        WHERE $scope(b.run_id) AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = b.doc_id)""",
}


def _offsets_slice_back(table: str, surface: str) -> str:
    # the documents are read within the scope too (a run extracts only documents it added, checked below), so
    # a run's check reads its own documents' texts, not every text of the warehouse
    return f"""
        SELECT count(*) FROM {table} x JOIN documents d ON d.doc_id = x.doc_id AND $scope(d.run_id)
        WHERE $scope(x.run_id) AND (x.start < 0 OR x."end" > length(d.text)
           OR substring(d.text, x.start + 1, x."end" - x.start) IS DISTINCT FROM x.{surface})"""


# Extraction rows: offsets index documents.text (`substring(text, start+1, end-start) = surface`), values are
# finite, every mention's entity exists, and a run's extraction rows are on documents it added.
CHECKS |= {
    # the normalize gate checks n_chars >= 1 instead of the texts' lengths (GX copied the texts several times)
    "documents_n_chars_match_text": """
        SELECT count(*) FROM documents WHERE $scope(run_id) AND n_chars IS DISTINCT FROM length(text)""",
    "mentions_offsets": _offsets_slice_back("mentions", "surface"),
    "figures_offsets": _offsets_slice_back("figures", "surface"),
    "dates_offsets": _offsets_slice_back("dates", "surface"),
    "quotes_offsets": _offsets_slice_back("quotes", "text"),
    "figures_values_finite": """
        SELECT count(*) FROM figures
        WHERE $scope(run_id) AND (NOT isfinite(value) OR (value_max IS NOT NULL AND NOT isfinite(value_max)))""",
    "mentions_entity_exists": """
        SELECT count(*) FROM mentions m
        WHERE $scope(m.run_id) AND NOT EXISTS (SELECT 1 FROM entities e WHERE e.entity_id = m.entity_id)""",
    "extractions_one_per_document": unique_key("extractions", "doc_id"),
    # a run extracts only documents it added: what the incremental marts and the scoped offset checks rely on
    "extracted_rows_on_their_runs_documents": """
        SELECT count(*) FROM (
            SELECT doc_id, run_id FROM extractions UNION ALL SELECT doc_id, run_id FROM mentions
            UNION ALL SELECT doc_id, run_id FROM figures UNION ALL SELECT doc_id, run_id FROM dates
            UNION ALL SELECT doc_id, run_id FROM quotes) x
        WHERE $scope(x.run_id) AND NOT EXISTS
            (SELECT 1 FROM documents d WHERE $scope(d.run_id) AND d.doc_id = x.doc_id AND d.run_id = x.run_id)""",
}


def scoped(sql: str, runs: Sequence[str] | None) -> str:
    """`sql` with each `$scope(expr)` made `expr IN (<runs>)`, inlined as literals so DuckDB can push the filter
    into the Parquet scans (true for every row when `runs` is None)."""
    if runs is None:
        return _SCOPE.sub("(true)", sql)
    if len(runs) == 1:  # `run_id = 'r'` reaches both sides of the co-occurrence view's self-join; `IN ('r')` did
        # not (7.2 s against 0.2 s for one run at 100k documents)
        return _SCOPE.sub(lambda m: f"({m.group(1)} = {sql_literal(runs[0])})", sql)
    listed = ", ".join(sql_literal(r) for r in runs)
    return _SCOPE.sub(lambda m: f"({m.group(1)} IN ({listed}))" if runs else "(false)", sql)


def run_checks(
    con: duckdb.DuckDBPyConnection, extra: dict[str, str] | None = None, runs: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per check: check, failing (offending row count). `runs` scopes the checks to these runs' rows
    (default: every row). Creates temp tables only, so a read-only connection works."""
    sample = [d for (d,) in con.execute(scoped(sample_sql(), runs)).fetchall()]
    for sql in setup(runs, sample):
        con.execute(scoped(sql, runs))
    rows = []
    for name, sql in {**CHECKS, **MODEL_CHECKS, **(extra or {})}.items():
        rows.append({"check": name, "failing": int(con.execute(scoped(sql, runs)).fetchall()[0][0])})
    return pd.DataFrame(rows)
