"""Model tests for warehouse/models (unique, not null, relationships), as cross-table checks.

Same contract as `warehouse.checks.CHECKS`: name → SQL returning one number, the count of offending rows; a
healthy warehouse has 0 everywhere. `run_checks(con, extra=MODEL_CHECKS)` runs them in the load stage's
quality gate (the `warehouse` GX suite requires failing = 0), after `build_models` has built the models.
"""

from __future__ import annotations

from collections.abc import Sequence

COOCCURRENCE = "_check_cooccurrence"


COOCCURRENCE_DOCS = "_check_cooccurrence_docs"
COOCCURRENCE_SAMPLE = 200  # documents


# Run by `run_checks` before the checks. mart_entity_cooccurrence is a view of ~1,500 rows per document (130 M at
# 100k documents), computed on read from stg_mentions and mart_entities. Its checks read one aggregate per document,
# computed in one pass here, over a sample: the COOCCURRENCE_SAMPLE documents of the runs in scope with the smallest
# doc_id (a text hash, so no document kind is favoured). What they catch is the view's definition (a fan-out join,
# a missing GROUP BY, missing or unordered pairs), which any document shows; whether every mention's entity exists
# is checked over every row (`stg_mentions_entity_exists`, `mentions_entity_exists`). Over every document this
# pass grew with the run: 33-37 s at 100k documents, 1.3 s of a 2.5 s load on the 1k bench corpus, where the
# sample takes 0.3 s. A count(DISTINCT) over the view's key took 143 s at 100k (on it as a table), and
# joining its rows to mart_entities spilled 16 GB. The pair count per document catches what a key check would.
def sample_sql() -> str:
    """The query (through `checks.scoped`) choosing the sample: COOCCURRENCE_SAMPLE as it is when called."""
    return f"""
        SELECT DISTINCT doc_id FROM stg_mentions WHERE entity_id IS NOT NULL AND $scope(run_id)
         ORDER BY doc_id LIMIT {COOCCURRENCE_SAMPLE}"""


def setup(runs: Sequence[str] | None, sample: Sequence[str]) -> list[str]:
    """SQL that `run_checks` runs (through `checks.scoped`) before the checks; `sample`: the doc_ids `sample_sql()`
    chose. The runs and doc_ids are inlined as literals: constant filters reach the view's Parquet scans (3.6 s for
    a run with no rows at 100k documents), where an IN (subquery) on a table of runs was applied after the
    self-join (195 s), and an IN (subquery) of doc_ids ran out of the writer's 512 MB on a 1,000-document run. The
    pairs are read without the view's name columns: with them, DuckDB's joins to mart_entities took the writer's
    whole 512 MB on a 1,000-document run (1.3 M pairs) and the run failed; an entity is known when mart_entities
    has its id."""
    from warehouse.store import sql_literal

    listed = ", ".join(sql_literal(d) for d in sample)
    in_sample = f"doc_id IN ({listed})" if sample else "false"
    return [
        f"CREATE OR REPLACE TEMP TABLE {COOCCURRENCE_DOCS} AS SELECT unnest([{listed}]::VARCHAR[]) AS doc_id",
        f"""
        CREATE OR REPLACE TEMP TABLE {COOCCURRENCE} AS
        WITH pairs AS (
            SELECT doc_id, entity_id_a, entity_id_b FROM mart_entity_cooccurrence
             WHERE $scope(run_id) AND {in_sample}
        ),
        unknown AS (  -- entity ids of the pairs with no mart_entities row
            (SELECT entity_id_a AS entity_id FROM pairs UNION SELECT entity_id_b FROM pairs)
            EXCEPT SELECT entity_id FROM mart_entities
        )
        SELECT doc_id,
               count(*) AS n_rows,
               count(*) FILTER (WHERE entity_id_a IS NULL OR entity_id_b IS NULL
                                      OR entity_id_a >= entity_id_b) AS n_unordered,
               count(*) FILTER (WHERE entity_id_a IN (SELECT entity_id FROM unknown)) AS n_unknown_a,
               count(*) FILTER (WHERE entity_id_b IN (SELECT entity_id FROM unknown)) AS n_unknown_b
          FROM pairs
         GROUP BY doc_id""",
    ]


# stg_entities rows of the entities the runs in scope wrote
_RUN_ENTITIES = "(SELECT * FROM stg_entities WHERE entity_id IN (SELECT entity_id FROM entities WHERE $scope(run_id)))"


# mart_figures rows of the documents of the runs' figures
_RUN_FIGURES = "(SELECT * FROM mart_figures WHERE doc_id IN (SELECT doc_id FROM figures WHERE $scope(run_id)))"


def _unique(relation: str, key: str) -> str:
    return f"SELECT count(*) - count(DISTINCT ({key})) FROM {relation}"


def _not_null(relation: str, *columns: str) -> str:
    cond = " OR ".join(f"{c} IS NULL" for c in columns)
    return f"SELECT count(*) FROM {relation} WHERE {cond}"


def _relationship(child: str, column: str, parent: str, parent_key: str, scoped: bool = True) -> str:
    """Rows of `child` (in scope, when it has run_id) whose non-null `column` has no row in `parent`."""
    return (
        f"SELECT count(*) FROM {child} c WHERE {'$scope(c.run_id) AND ' if scoped else ''}c.{column} IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_key} = c.{column})"
    )


MODEL_CHECKS: dict[str, str] = {
    # staging -------------------------------------------------------------------------------------------
    # (scoped: the entities a run wrote; the rows of the mentions and quotes it wrote)
    "stg_entities_entity_id_unique": _unique(_RUN_ENTITIES, "entity_id"),
    "stg_entities_not_null": _not_null(_RUN_ENTITIES, "entity_id", "name", "entity_type"),
    "stg_mentions_entity_exists": _relationship("stg_mentions", "entity_id", "stg_entities", "entity_id"),
    "stg_quotes_speaker_exists": _relationship("stg_quotes", "speaker_entity_id", "stg_entities", "entity_id"),
    # extraction rows belong to a document the extractions table says was extracted (a cluster's canonical
    # document; runs before 2026-12-04 extracted near-duplicates too): a row on any other document is a bug
    "extracted_rows_on_extracted_documents": """
        SELECT count(*) FROM (
            SELECT doc_id, run_id FROM mentions UNION ALL SELECT doc_id, run_id FROM figures
            UNION ALL SELECT doc_id, run_id FROM dates UNION ALL SELECT doc_id, run_id FROM quotes) x
        WHERE $scope(x.run_id)
            AND NOT EXISTS (SELECT 1 FROM extractions e WHERE e.doc_id = x.doc_id AND e.status = 'extracted')""",
    "shared_passages_documents_exist": """
        SELECT count(*) FROM shared_passages s
        WHERE $scope(s.run_id) AND (NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = s.doc_id)
           OR NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = s.other_doc_id))""",
    # mart_documents --------------------------------------------------------------------------------------
    "mart_documents_doc_id_unique": _unique("mart_documents", "doc_id"),
    "mart_documents_not_null": _not_null("mart_documents", "doc_id", "cluster_id", "cluster_size", "lang"),
    "mart_documents_one_per_cluster": """
        SELECT abs((SELECT count(DISTINCT cluster_id) FROM stg_dup_clusters)
                   - (SELECT count(*) FROM mart_documents))""",
    "mart_documents_cluster_sizes_cover_documents": """
        SELECT abs((SELECT count(*) FROM stg_documents)
                   - (SELECT coalesce(sum(cluster_size), 0) FROM mart_documents))""",
    # mart_entities -----------------------------------------------------------------------------------------
    "mart_entities_entity_id_unique": _unique("mart_entities", "entity_id"),
    "mart_entities_not_null": _not_null("mart_entities", "entity_id", "name", "n_mentions", "n_documents"),
    "mart_entities_one_per_entity": """
        SELECT abs((SELECT count(DISTINCT entity_id) FROM entities) - (SELECT count(*) FROM mart_entities))""",
    "mart_entities_mentions_add_up": """
        SELECT abs((SELECT count(*) FROM stg_mentions) - (SELECT coalesce(sum(n_mentions), 0) FROM mart_entities))""",
    # mart_entity_cooccurrence ------------------------------------------------------------------------------
    # every sampled canonical document of the runs in scope has one row per unordered pair of its k distinct entities
    "mart_entity_cooccurrence_pairs_per_document": f"""
        WITH k AS (
            SELECT doc_id, count(DISTINCT entity_id) AS k FROM stg_mentions
             WHERE entity_id IS NOT NULL AND $scope(run_id) AND doc_id IN (SELECT doc_id FROM {COOCCURRENCE_DOCS})
             GROUP BY doc_id)
        SELECT coalesce(sum(abs(coalesce(c.n_rows, 0) - coalesce(k.k * (k.k - 1) // 2, 0))), 0)
          FROM k FULL JOIN {COOCCURRENCE} c USING (doc_id)""",
    "mart_entity_cooccurrence_pair_ordered": f"SELECT coalesce(sum(n_unordered), 0) FROM {COOCCURRENCE}",
    "mart_entity_cooccurrence_entity_a_exists": f"SELECT coalesce(sum(n_unknown_a), 0) FROM {COOCCURRENCE}",
    "mart_entity_cooccurrence_entity_b_exists": f"SELECT coalesce(sum(n_unknown_b), 0) FROM {COOCCURRENCE}",
    "mart_entity_cooccurrence_document_exists": f"""
        SELECT coalesce(sum(n_rows), 0) FROM {COOCCURRENCE} c
         WHERE NOT EXISTS (SELECT 1 FROM mart_documents d WHERE d.doc_id = c.doc_id)""",
    # mart_figures -----------------------------------------------------------------------------------------------
    # (scoped: the figures of the documents whose figures the runs wrote; a figure_id starts with its doc_id)
    "mart_figures_figure_id_unique": _unique(_RUN_FIGURES, "figure_id"),
    "mart_figures_not_null": _not_null(_RUN_FIGURES, "figure_id", "doc_id", "surface", "kind"),
    "mart_figures_one_per_figure": """
        SELECT abs((SELECT count(*) FROM stg_figures) - (SELECT count(*) FROM mart_figures))""",
    "mart_figures_document_exists": _relationship(_RUN_FIGURES, "doc_id", "mart_documents", "doc_id", scoped=False),
}
