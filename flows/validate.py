"""`newsetl validate`: re-run every stage's suite and the cross-table checks on the published warehouse."""

from __future__ import annotations

from pathlib import Path

from flows.gates import run_gate, suite_spec
from warehouse.checks import run_checks
from warehouse.query import open_read_only

STAGE_TABLES = [
    "source_files",
    "ingest",
    "normalize",
    "language",
    "dedup",
    "extract_mentions",
    "extract_entities",
    "extract_figures",
    "extract_dates",
    "extract_quotes",
]


def _frame_sql(stage: str) -> str:
    """What a suite sees: its table as published (entities merged over runs; extraction rows keyed)."""
    table = suite_spec(stage)["meta"]["table"]
    if table == "entities":
        return (
            "SELECT entity_id, min(name) AS name, min(type) AS type, min(country_code) AS country_code, "
            "sum(mention_count) AS mention_count FROM entities GROUP BY entity_id"
        )
    if stage.startswith("extract_"):
        return f"SELECT *, doc_id || ':' || start || ':' || \"end\" AS row_key FROM \"{table}\""
    return f'SELECT * FROM "{table}"'


def validate_warehouse(root: Path) -> tuple[list[dict], list[str]]:
    """(dq result rows, error lines). Reads only; nothing is written."""
    con = open_read_only(root)
    try:
        results: list[dict] = []
        errors: list[str] = []
        frames = {stage: con.execute(_frame_sql(stage)).df() for stage in STAGE_TABLES}
        frames["warehouse"] = run_checks(con)
    finally:
        con.close()
    for stage, df in frames.items():
        res = run_gate(stage, df)
        results += res.results
        errors += res.errors
    return results, errors
