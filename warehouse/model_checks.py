"""Model tests for warehouse/models (unique, not null, relationships), as cross-table checks.

Same contract as `warehouse.checks.CHECKS`: name → SQL returning one number, the count of offending rows; a
healthy warehouse has 0 everywhere. `run_checks(con, extra=MODEL_CHECKS)` runs them in the load stage's
quality gate (the `warehouse` GX suite requires failing = 0), after `build_models` has built the models.
"""

from __future__ import annotations


def _unique(relation: str, key: str) -> str:
    return f"SELECT count(*) - count(DISTINCT ({key})) FROM {relation}"


def _not_null(relation: str, *columns: str) -> str:
    cond = " OR ".join(f"{c} IS NULL" for c in columns)
    return f"SELECT count(*) FROM {relation} WHERE {cond}"


def _relationship(child: str, column: str, parent: str, parent_key: str) -> str:
    """Rows of `child` whose non-null `column` has no row in `parent`."""
    return (
        f"SELECT count(*) FROM {child} c WHERE c.{column} IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_key} = c.{column})"
    )


MODEL_CHECKS: dict[str, str] = {
    # staging -------------------------------------------------------------------------------------------
    "stg_entities_entity_id_unique": _unique("stg_entities", "entity_id"),
    "stg_entities_not_null": _not_null("stg_entities", "entity_id", "name", "entity_type"),
    "stg_mentions_entity_exists": _relationship("stg_mentions", "entity_id", "stg_entities", "entity_id"),
    "stg_quotes_speaker_exists": _relationship("stg_quotes", "speaker_entity_id", "stg_entities", "entity_id"),
    # extraction runs on canonical documents only: a row on a duplicate (or unknown) document is a bug
    "extracted_rows_on_canonical_documents": """
        SELECT count(*) FROM (
            SELECT doc_id FROM mentions UNION ALL SELECT doc_id FROM figures
            UNION ALL SELECT doc_id FROM dates UNION ALL SELECT doc_id FROM quotes) x
        WHERE NOT EXISTS (SELECT 1 FROM dup_clusters c WHERE c.canonical_doc_id = x.doc_id)""",
    "shared_passages_documents_exist": """
        SELECT count(*) FROM shared_passages s
        WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = s.doc_id)
           OR NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = s.other_doc_id)""",
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
    "mart_entity_cooccurrence_key_unique": _unique("mart_entity_cooccurrence", "doc_id, entity_id_a, entity_id_b"),
    "mart_entity_cooccurrence_pair_ordered": _not_null(
        "mart_entity_cooccurrence", "doc_id", "entity_id_a", "entity_id_b"
    )
    + " OR entity_id_a >= entity_id_b",
    "mart_entity_cooccurrence_entity_a_exists": _relationship(
        "mart_entity_cooccurrence", "entity_id_a", "mart_entities", "entity_id"
    ),
    "mart_entity_cooccurrence_entity_b_exists": _relationship(
        "mart_entity_cooccurrence", "entity_id_b", "mart_entities", "entity_id"
    ),
    "mart_entity_cooccurrence_document_exists": _relationship(
        "mart_entity_cooccurrence", "doc_id", "mart_documents", "doc_id"
    ),
    # mart_figures -----------------------------------------------------------------------------------------------
    "mart_figures_figure_id_unique": _unique("mart_figures", "figure_id"),
    "mart_figures_not_null": _not_null("mart_figures", "figure_id", "doc_id", "surface", "kind"),
    "mart_figures_one_per_figure": """
        SELECT abs((SELECT count(*) FROM stg_figures) - (SELECT count(*) FROM mart_figures))""",
    "mart_figures_document_exists": _relationship("mart_figures", "doc_id", "mart_documents", "doc_id"),
}
