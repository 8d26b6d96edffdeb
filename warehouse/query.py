"""Read-only SQL against a published warehouse: the path `newsetl query` and `newsetl tables` use.

The catalog is opened read_only, file access is limited to the warehouse's data directory and then locked,
extensions cannot be installed or loaded, and only query statements (SELECT, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE)
are accepted, so a DROP, INSERT, COPY, ATTACH or INSTALL is refused before it runs. EXPLAIN is checked on the
statement it explains, because EXPLAIN ANALYZE executes it (an EXPLAIN ANALYZE COPY ... TO would write a file).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from warehouse.schema import TABLES
from warehouse.store import CATALOG, DATA, WarehouseError, shadow_views

ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
# The EXPLAIN prefix of a statement: EXPLAIN [ANALYZE|ANALYSE] [(options)]. What follows must itself be allowed.
_EXPLAIN_PREFIX = re.compile(r"\s*explain\s+(?:analy[sz]e\b\s*)?(?:\([^)]*\)\s*)?", re.IGNORECASE)


def open_read_only(root: Path) -> duckdb.DuckDBPyConnection:
    """The catalog opened read-only, its tables resolved under `root` wherever the catalog was written (temp views
    over root/data, see warehouse.store.shadow_views), file access then limited to root/data/ and locked."""
    cat = root / CATALOG
    if not cat.exists():
        raise WarehouseError(f"no warehouse at {root} (run `newsetl run` first)")
    try:
        con = duckdb.connect(
            str(cat),
            read_only=True,
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open {cat}: {str(exc).splitlines()[0]}") from None
    data = str((root / DATA).resolve()) + "/"
    try:
        con.execute("SET TimeZone = 'UTC'")  # timestamps print in UTC, as they are stored
        shadow_views(con, root.resolve())
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(f"{cat} is not a readable newsetl catalog: {str(exc).splitlines()[0]}") from None
    con.execute("SET allowed_directories = [?]", [data])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def check_statements(sql: str) -> None:
    """Refuse anything but read-only query statements. Raises WarehouseError with one clear line."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise WarehouseError(str(exc).splitlines()[0]) from None
    if not statements:
        raise WarehouseError("empty query")
    for st in statements:
        if st.type not in ALLOWED:
            kind = st.type.name
            raise WarehouseError(f"refused: {kind} statements are not allowed; the warehouse is read-only")
        if st.type == duckdb.StatementType.EXPLAIN:
            _check_explained(st.query)
    if len(statements) > 1:  # only the last one's rows would be printed
        raise WarehouseError(f"one statement at a time: the query has {len(statements)}")


def _check_explained(query: str) -> None:
    """EXPLAIN ANALYZE runs the statement it explains, so that statement must be a read-only query too."""
    m = _EXPLAIN_PREFIX.match(query)
    inner = query[m.end() :] if m else ""
    try:
        statements = duckdb.extract_statements(inner) if inner.strip() else []
    except duckdb.Error:
        statements = []
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name if len(statements) == 1 else "unrecognized"
        raise WarehouseError(f"refused: EXPLAIN of {kind} statements is not allowed; the warehouse is read-only")


def run_query(root: Path, sql: str) -> tuple[list[str], list[tuple]]:
    """Run read-only `sql`; returns (column names, rows) of the last statement."""
    check_statements(sql)
    con = open_read_only(root)
    try:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall() if cur.description else []
    except duckdb.Error as exc:
        raise WarehouseError(str(exc).splitlines()[0]) from None
    finally:
        con.close()
    return cols, rows


def table_summaries(root: Path, columns: bool = False) -> list[dict]:
    """Each table/view with its row count and description (and columns with comments if asked)."""
    con = open_read_only(root)
    try:
        objs = con.execute(
            "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
            "AND database_name = current_database() "
            "UNION ALL SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main' "
            "AND database_name = current_database() AND table_name NOT LIKE '\\_%' ESCAPE '\\'"
        ).fetchall()
        order = {name: i for i, name in enumerate(TABLES)}
        out = []
        for name, comment in sorted(objs, key=lambda o: (order.get(o[0], 99), o[0])):
            ident = '"' + name.replace('"', '""') + '"'
            n = con.execute(f"SELECT count(*) FROM {ident}").fetchone()[0]
            item = {"table": name, "rows": n, "description": comment or ""}
            if columns:
                item["columns"] = con.execute(
                    "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = ? "
                    "AND database_name = current_database() ORDER BY column_index",
                    [name],
                ).fetchall()
            out.append(item)
        return out
    finally:
        con.close()
