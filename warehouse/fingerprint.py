"""Content fingerprints of published tables, to compare two warehouses (re-runs, crash recovery, runners).

Columns that name or time a particular run (run_id, first_seen, timestamps, code version) are left out; row
order does not matter. Two warehouses built from the same inputs have equal fingerprints.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from warehouse.query import open_read_only
from warehouse.schema import TABLES

VOLATILE = {"run_id", "first_seen", "started_at", "finished_at", "params", "code_version", "counts"}
SKIP_TABLES = {"runs", "dq_results"}  # one row per run / per check run: differ by design across runs


def table_fingerprints(root: Path) -> dict[str, str]:
    """table → sha256 over its sorted rows (volatile columns excluded)."""
    con = open_read_only(root)
    try:
        out = {}
        for name, (schema, _) in TABLES.items():
            if name in SKIP_TABLES:
                continue
            cols = [f'"{c}"' for c in schema.names if c not in VOLATILE]
            rows = con.execute(f'SELECT {", ".join(cols)} FROM "{name}"').fetchall()
            h = hashlib.sha256()
            for line in sorted(repr(r) for r in rows):
                h.update(line.encode())
                h.update(b"\n")
            out[name] = f"{len(rows)}:{h.hexdigest()[:16]}"
        return out
    finally:
        con.close()
