"""The read-only query path: queries work, anything that writes, attaches, loads or reaches outside is refused with
a WarehouseError and leaves every file of the warehouse byte-identical."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from warehouse.query import check_statements, run_query, table_summaries
from warehouse.schema import to_table
from warehouse.store import Store, WarehouseError


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """Built once (publishing fsyncs): each refusal test checks the files are unchanged by its own query."""
    root = tmp_path_factory.mktemp("query") / "wh"
    store = Store(root)
    parts = [
        store.write_partition(
            "documents",
            "r1",
            to_table(
                "documents",
                [
                    {"doc_id": "a" * 64, "record_id": "f:0", "text": "Council passes budget.", "lang": "en"},
                    {"doc_id": "b" * 64, "record_id": "f:1", "text": "x'); DROP TABLE documents; --", "lang": "en"},
                ],
            ),
        ),
        store.write_partition(
            "source_files", "r1", to_table("source_files", [{"file_id": "f", "path": "/in/quote's.txt"}])
        ),
    ]
    store.publish(store.build_catalog("r1", parts, models=False))
    return root


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".newsetl.lock"
    }


def test_select_works(warehouse):
    cols, rows = run_query(warehouse, "SELECT doc_id, text FROM documents ORDER BY doc_id")
    assert cols == ["doc_id", "text"]
    assert rows == [("a" * 64, "Council passes budget."), ("b" * 64, "x'); DROP TABLE documents; --")]


@pytest.mark.parametrize(
    "sql",
    [
        "DESCRIBE documents",
        "SHOW TABLES",
        "SUMMARIZE documents",
        "EXPLAIN SELECT * FROM documents",
        "EXPLAIN ANALYZE SELECT count(*) FROM documents",
        "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
        "FROM source_files",
    ],
)
def test_read_statements_are_allowed(warehouse, sql):
    cols, rows = run_query(warehouse, sql)
    assert cols and rows


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("DROP VIEW documents", "DROP"),
        ("INSERT INTO _partitions VALUES ('t', 'r', 'p', 1, 1, 's')", "INSERT"),
        ("DELETE FROM _partitions", "DELETE"),
        ("UPDATE _partitions SET n_rows = 0", "UPDATE"),
        ("CREATE TABLE t AS SELECT 1", "CREATE"),
        ("COPY documents TO 'out.csv'", "COPY"),
        ("COPY (SELECT 1) TO '{data}/documents/r1.parquet' (FORMAT parquet)", "COPY"),
        ("ATTACH ':memory:' AS m", "ATTACH"),
        ("DETACH newsetl", "DETACH"),
        ("INSTALL httpfs", "LOAD"),
        ("LOAD httpfs", "LOAD"),
        ("SET enable_external_access = true", "SET"),
        ("PRAGMA enable_profiling", "PRAGMA"),
        ("CALL pragma_version()", "CALL"),
        ("SELECT 1; DROP VIEW documents", "DROP"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{data}/evil.csv'", "COPY"),
        ("EXPLAIN ANALYZE COPY documents TO '{data}/documents/r1.parquet'", "COPY"),
        ("EXPLAIN ANALYZE /* c */ DELETE FROM _partitions", "DELETE"),
    ],
)
def test_writes_are_refused_and_warehouse_unchanged(warehouse, sql, kind):
    before = _snapshot(warehouse)
    sql = sql.replace("{data}", str(warehouse / "data"))
    with pytest.raises(WarehouseError, match=f"refused: .*{kind}.* not allowed; the warehouse is read-only"):
        run_query(warehouse, sql)
    assert _snapshot(warehouse) == before
    assert run_query(warehouse, "SELECT count(*) FROM documents")[1] == [(2,)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_parquet('https://example.com/x.parquet')",
    ],
)
def test_files_outside_the_warehouse_are_not_readable(warehouse, sql):
    with pytest.raises(WarehouseError):
        run_query(warehouse, sql)


def test_errors_are_one_line_warehouse_errors(warehouse):
    with pytest.raises(WarehouseError) as exc:
        run_query(warehouse, "SELEC nonsense")
    assert "\n" not in str(exc.value)
    with pytest.raises(WarehouseError, match="empty query"):
        check_statements("  ;  ")
    with pytest.raises(WarehouseError, match="one statement at a time: the query has 2"):
        run_query(warehouse, "SELECT 1 AS a; SELECT 2 AS b")  # only the last one's rows were printed
    assert run_query(warehouse, "SELECT 1 AS a;")[1] == [(1,)]


def test_missing_warehouse(tmp_path):
    with pytest.raises(WarehouseError, match="no warehouse"):
        run_query(tmp_path / "nowhere", "SELECT 1")


def test_input_values_are_data(warehouse):
    """Values that look like SQL, stored by the writer through parameters, come back verbatim."""
    _, rows = run_query(warehouse, "SELECT path FROM source_files")
    assert rows == [("/in/quote's.txt",)]


def test_table_summaries(warehouse):
    items = {i["table"]: i for i in table_summaries(warehouse)}
    assert items["documents"]["rows"] == 2
    assert items["quarantine"]["rows"] == 0
    assert items["documents"]["description"].startswith("One row per distinct normalized document")
    assert "_partitions" not in items
