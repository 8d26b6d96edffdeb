"""`newsetl validate`: re-run every stage's suite and the cross-table checks on the published warehouse."""

from __future__ import annotations

from pathlib import Path

from flows.gates import run_gate, suite_spec
from warehouse.checks import run_checks
from warehouse.query import open_read_only

STAGE_TABLES = ["source_files", "ingest", "normalize", "language", "dedup"]


def validate_warehouse(root: Path) -> tuple[list[dict], list[str]]:
    """(dq result rows, error lines). Reads only; nothing is written."""
    con = open_read_only(root)
    try:
        results: list[dict] = []
        errors: list[str] = []
        frames = {
            stage: con.execute(f'SELECT * FROM "{suite_spec(stage)["meta"]["table"]}"').df() for stage in STAGE_TABLES
        }
        frames["warehouse"] = run_checks(con)
    finally:
        con.close()
    for stage, df in frames.items():
        res = run_gate(stage, df)
        results += res.results
        errors += res.errors
    return results, errors
