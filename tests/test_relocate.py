"""A warehouse folder can move: the catalog records partitions relative to its root and every reader resolves them
under wherever the root is now. Older catalogs (absolute paths) keep working and are made relative by the next
write. The read-only sandbox stays limited to the warehouse's own data/."""

from __future__ import annotations

import shutil
import subprocess
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mini_warehouse import R1, R2, build_mini_warehouse, run1_tables

from warehouse import schema
from warehouse.fingerprint import table_fingerprints
from warehouse.query import run_query, table_summaries
from warehouse.release import make_release, verify_release
from warehouse.store import CATALOG, Store, WarehouseError, writer_lock

R3 = "20260103T000000-cccccccc"


def _ledger_paths(root) -> list[str]:
    with duckdb.connect(str(root / CATALOG), read_only=True) as con:
        return [p for (p,) in con.execute("SELECT path FROM _partitions ORDER BY path").fetchall()]


def _make_legacy(root) -> None:
    """Rewrite a catalog as the code before this change wrote it: absolute paths in `_partitions` and the views."""
    from warehouse.store import Partition, create_table_views

    with duckdb.connect(str(root / CATALOG)) as con:
        con.execute("UPDATE _partitions SET path = ? || '/' || path", [str(root)])
        rows = con.execute("SELECT table_name, run_id, path, n_rows, bytes, sha256 FROM _partitions").fetchall()
        create_table_views(con, [Partition(*r) for r in rows])  # absolute paths, as recorded now
        con.execute("CHECKPOINT")


def _runs_row(run_id: str) -> list[dict]:
    row = dict(run1_tables()["runs"][0])
    row["run_id"] = run_id
    return [row]


def _add_run(root, run_id: str, tables: dict[str, list[dict]]) -> None:
    with writer_lock(root):
        store = Store(root)
        prior = store.published_partitions()
        parts = [store.write_partition(n, run_id, schema.to_table(n, rows)) for n, rows in tables.items()]
        staged, _ = store.stage_catalog(run_id, prior, parts)
        store.publish(staged)


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """Work from a folder that is neither warehouse (relative paths must not depend on the working directory)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_partitions_are_recorded_relative_to_the_root(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    paths = _ledger_paths(wh)
    assert paths and all(p.startswith("data/") and (wh / p).is_file() for p in paths)
    with duckdb.connect(str(wh / CATALOG), read_only=True) as con:
        sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'documents'").fetchone()[0]
    assert f"'data/documents/{R1}.parquet'" in sql and str(tmp_path) not in sql


@pytest.mark.parametrize("how", ["move", "copy"])
def test_a_moved_or_copied_warehouse_is_read_in_place(tmp_path, elsewhere, how):
    wh = build_mini_warehouse(tmp_path / "wh")
    expected = table_fingerprints(wh)
    tables = table_summaries(wh)
    wh2 = tmp_path / "moved" / "wh2"
    wh2.parent.mkdir()
    (shutil.move if how == "move" else shutil.copytree)(wh, wh2)
    if how == "copy":  # the copy must not read the original's files: make them unreadable by content
        for f in (wh / "data").rglob("*.parquet"):
            f.write_bytes(b"gone")
    assert table_fingerprints(wh2) == expected
    assert table_summaries(wh2) == tables
    assert run_query(wh2, "SELECT count(*) FROM documents")[1] == [(3,)]
    assert run_query(wh2, "SELECT count(*) FROM stg_mentions")[1] == [(4,)]
    # plain DuckDB, as the README shows: one line, the warehouse folder as the file search path
    con = duckdb.connect(str(wh2 / CATALOG), read_only=True, config={"file_search_path": str(wh2)})
    assert con.execute("SELECT count(*) FROM documents").fetchall() == [(3,)]
    con.close()


def test_a_moved_warehouse_takes_a_new_run_and_matches_the_original(tmp_path, elsewhere):
    a = build_mini_warehouse(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    moved = tmp_path / "c"
    shutil.copytree(a, tmp_path / "c0")
    shutil.move(tmp_path / "c0", moved)
    extra = {"runs": _runs_row(R3), "quarantine": []}
    for root in (a, b, moved):
        _add_run(root, R3, extra)
        assert all(p.startswith("data/") for p in _ledger_paths(root))
    assert table_fingerprints(a) == table_fingerprints(b) == table_fingerprints(moved)
    assert Store(moved).recover() == []


def test_an_absolute_path_catalog_still_reads_and_the_next_write_makes_it_relative(tmp_path, elsewhere):
    wh = build_mini_warehouse(tmp_path / "wh")
    expected = table_fingerprints(wh)
    _make_legacy(wh)
    assert all(p.startswith(str(wh)) for p in _ledger_paths(wh))
    moved = tmp_path / "moved"
    shutil.move(wh, moved)
    assert table_fingerprints(moved) == expected  # read through the ledger, not the stale views
    assert Store(moved).recover() == []  # every listed file found by its data/<table>/<file>
    _add_run(moved, R3, {"runs": _runs_row(R3)})  # a bookkeeping-only run: copies the catalog, then migrates
    assert all(p.startswith("data/") for p in _ledger_paths(moved))
    with duckdb.connect(str(moved / CATALOG), read_only=True, config={"file_search_path": str(moved)}) as con:
        assert con.execute("SELECT count(*) FROM documents").fetchall() == [(3,)]
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(3,)]
        views = " ".join(v for (v,) in con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall())
    assert str(tmp_path) not in views


def _plant(folder, table: str, name: str) -> None:
    """A Parquet file of another warehouse under `folder`/data/<table>/ with this warehouse's file name."""
    (folder / "data" / table).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"doc_id": ["impostor"]}), folder / "data" / table / name)


def test_a_working_directory_with_its_own_data_folder_is_never_read(tmp_path, elsewhere):
    """DuckDB resolves a relative path in the working directory before file_search_path: a data/ folder there with
    the same file names (another copy of the warehouse) must not be read by the writer, newsetl's readers or the
    query sandbox."""
    wh = build_mini_warehouse(tmp_path / "wh")
    expected = table_fingerprints(wh)
    marts = "SELECT doc_id, cluster_size, n_mentions FROM mart_documents ORDER BY doc_id"
    before = run_query(wh, marts)[1]
    _plant(elsewhere, "documents", f"{R1}.parquet")
    _plant(elsewhere, "dup_clusters", f"{R2}.parquet")
    (elsewhere / "data" / "secret.txt").write_text("secret", encoding="utf-8")
    assert table_fingerprints(wh) == expected
    _add_run(wh, R3, {"runs": _runs_row(R3), "quarantine": []})  # rebuilds the models and marts
    assert run_query(wh, marts)[1] == before == [("d1", 2, 3), ("d3", 1, 1)]
    assert run_query(wh, "SELECT count(*) FROM documents")[1] == [(3,)]
    for sql in ("SELECT * FROM read_text('data/secret.txt')", f"SELECT * FROM 'data/documents/{R1}.parquet'"):
        with pytest.raises(WarehouseError):
            run_query(wh, sql)


def test_readers_refuse_a_catalog_that_is_not_a_warehouse_in_one_line(tmp_path):
    wh = tmp_path / "wh"
    wh.mkdir()
    (wh / CATALOG).write_bytes(b"garbage" * 1000)
    with pytest.raises(WarehouseError) as err:
        run_query(wh, "SELECT 1")
    assert "\n" not in str(err.value)
    (wh / CATALOG).unlink()
    duckdb.connect(str(wh / CATALOG)).close()  # a DuckDB file without the ledger
    with pytest.raises(WarehouseError) as err:
        run_query(wh, "SELECT 1")
    assert "\n" not in str(err.value) and "newsetl catalog" in str(err.value)


def test_a_release_of_a_moved_warehouse_is_identical_and_verifies(tmp_path, elsewhere):
    wh = build_mini_warehouse(tmp_path / "wh")
    first = make_release(wh, tmp_path / "rel", "1.0.0")
    moved = tmp_path / "moved"
    shutil.move(wh, moved)
    again = make_release(moved, tmp_path / "rel", "1.0.0")
    assert (first.status, again.status) == ("created", "identical")
    assert verify_release(tmp_path / "rel", "1.0.0")["version"] == "1.0.0"


def test_the_readme_one_liner_opens_a_moved_warehouse_with_plain_duckdb(tmp_path):
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in readme.splitlines() if ln.startswith(".venv/bin/python -c") and "file_search_path" in ln)
    code = line.split('-c "', 1)[1].rsplit('"', 1)[0]
    build_mini_warehouse(tmp_path / "built")
    shutil.move(tmp_path / "built", tmp_path / "warehouse")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "title d1" in res.stdout and "title d3" in res.stdout


def test_a_root_with_a_comma_cannot_be_a_search_path_and_still_moves(tmp_path, elsewhere):
    wh = build_mini_warehouse(tmp_path / "a,b" / "wh")
    assert all(p.startswith("data/") for p in _ledger_paths(wh))  # the ledger is relative all the same
    moved = tmp_path / "moved"
    shutil.move(wh, moved)
    assert run_query(moved, "SELECT count(*) FROM stg_documents")[1] == [(3,)]
    _add_run(moved, R3, {"runs": _runs_row(R3), "quarantine": []})
    assert run_query(moved, "SELECT count(*) FROM runs")[1] == [(3,)]
