"""warehouse.store: partitions in parts, recovery after a killed run, and the staged catalog (rebuilt or copied)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet
import pytest
from mini_warehouse import build_mini_warehouse, run1_tables

from warehouse import schema
from warehouse.store import CATALOG, CHECKS_TABLE, Store, WarehouseError, writer_lock

R3 = "20260103T000000-cccccccc"


def _runs_row(run_id: str) -> list[dict]:
    row = dict(run1_tables()["runs"][0])
    row["run_id"] = run_id
    return [row]


def _q(path, sql: str, root=None) -> list[tuple]:
    """Plain DuckDB on a catalog: its views name partitions relative to the warehouse folder (`root`)."""
    root = root or path.parent.parent  # a staged catalog: W/.staging/<run>.duckdb
    with duckdb.connect(str(path), read_only=True, config={"file_search_path": str(root)}) as con:
        return con.execute(sql).fetchall()


def test_partitions_in_parts_are_separate_files(tmp_path):
    store = Store(tmp_path)
    table = pa.table({"doc_id": ["a"], "reason": ["x"]})
    p0 = store.write_partition("notes", R3, table, part=0)
    p1 = store.write_partition("notes", R3, table, part=1)
    assert p0.path.endswith(f"{R3}-00000.parquet") and p1.path.endswith(f"{R3}-00001.parquet")


def test_recover_removes_unlisted_partitions_and_staging_files_only(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    store = Store(wh)
    store.staging.mkdir()
    assert store.recover() == []  # an empty staging folder is not a leftover
    (store.staging / "tmp").mkdir(parents=True)
    (store.staging / "x.duckdb").write_bytes(b"half a catalog")
    orphan = store.write_partition("documents", R3, schema.to_table("documents", []))
    removed = store.recover()
    assert removed == [str(store.staging / "x.duckdb"), orphan.path]
    assert not store.staging.exists()


def test_bookkeeping_only_run_copies_the_published_catalog(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    with writer_lock(wh):
        store = Store(wh)
        prior = store.published_partitions()
        with duckdb.connect(str(wh / CATALOG)) as con:  # a marker only a copy of this catalog can have
            con.execute("CREATE TABLE marker AS SELECT 1 AS x")
        new = [store.write_partition("runs", R3, schema.to_table("runs", _runs_row(R3)))]
        staged, rebuilt = store.stage_catalog(R3, prior, new)
        assert not rebuilt
        assert _q(staged, "SELECT count(*) FROM marker") == [(1,)]
        assert _q(staged, "SELECT count(*) FROM runs") == [(3,)]
        assert _q(staged, f"SELECT count(*) FROM _partitions WHERE run_id = '{R3}'") == [(1,)]
        store.publish(staged)
    assert _q(wh / CATALOG, "SELECT count(*) FROM stg_runs", wh) == [(3,)]
    assert not store.staging.exists()


def test_a_data_run_rebuilds_the_catalog_and_stores_its_checks(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    with writer_lock(wh):
        store = Store(wh)
        prior = store.published_partitions()
        new = [store.write_partition("quarantine", R3, schema.to_table("quarantine", []))]
        staged, rebuilt = store.stage_catalog(R3, prior, new)
        assert rebuilt
        checks = store.check_catalog(staged)
        assert checks and all(c["failing"] == 0 for c in checks)
        assert _q(staged, f"SELECT count(*) FROM {CHECKS_TABLE}") == [(len(checks),)]
        own = [store.write_partition("runs", R3, schema.to_table("runs", _runs_row(R3)))]
        store.add_partitions(staged, own)
        assert _q(staged, "SELECT count(*) FROM runs") == [(3,)]


def test_writer_connections_have_a_memory_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSETL_DUCKDB_MEMORY_LIMIT", "300MB")
    con = Store(tmp_path).connect()
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.close()
    assert limit.replace(" ", "") in {"300.0MB", "286.1MiB"}


def test_out_of_duckdb_memory_is_one_line_naming_the_setting(tmp_path, monkeypatch):
    import pytest

    import warehouse.checks
    from warehouse.store import MEMORY_LIMIT_ENV, WarehouseError

    def oom(*args, **kwargs):
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block\n\nPossible solutions: ...")

    wh = build_mini_warehouse(tmp_path / "wh")
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "300MB")
    monkeypatch.setattr(warehouse.checks, "run_checks", oom)
    with writer_lock(wh):
        store = Store(wh)
        staged, _ = store.stage_catalog(R3, store.published_partitions(), [])
        with pytest.raises(WarehouseError) as err:
            store.check_catalog(staged, R3)
    message = str(err.value)
    assert "\n" not in message
    assert "could not allocate block" in message and "300MB" in message and MEMORY_LIMIT_ENV in message


def test_partition_written_piece_by_piece_is_the_same_partition(tmp_path):
    store = Store(tmp_path)
    rows = [{"doc_id": f"d{i}", "text": "t" * i, "n_chars": i, "run_id": R3} for i in range(1, 8)]
    whole = schema.to_table("documents", rows)
    one = store.write_partition("documents", R3, whole)
    pieces = store.write_partition("documents", R3, (whole.slice(i, 3) for i in range(0, 7, 3)), part=0)
    assert pieces.n_rows == one.n_rows == 7
    assert pa.parquet.read_table(pieces.path).equals(pa.parquet.read_table(one.path))
    empty = store.write_partition("documents", R3, iter([]), part=1)
    assert empty.n_rows == 0
    assert pa.parquet.read_table(empty.path).schema.equals(schema.TABLES["documents"][0])


def _files(root) -> dict[str, bytes]:
    """Every file under `root`'s data/ and .staging/work/, by path relative to root, with its bytes."""
    return {
        str(f.relative_to(root)): f.read_bytes()
        for sub in ("data", ".staging/work")
        if (root / sub).exists()
        for f in sorted((root / sub).rglob("*"))
        if f.is_file()
    }


@pytest.mark.parametrize("how", ["move", "copy"])
def test_recover_in_a_moved_or_copied_warehouse_keeps_every_listed_file(tmp_path, how):
    """The catalog of a moved (or copied) warehouse was written under another root: recovery matches its files by
    their path under data/, so it removes the leftovers of a killed run and nothing the catalog lists."""
    wh = build_mini_warehouse(tmp_path / "wh")
    listed = _files(wh)
    assert len(listed) == len(Store(wh).published_partitions()) > 10
    wh2 = tmp_path / "elsewhere" / "wh2"
    wh2.parent.mkdir()
    (shutil.move if how == "move" else shutil.copytree)(wh, wh2)
    store = Store(wh2)
    orphan = store.write_partition("documents", R3, schema.to_table("documents", []))  # a killed run's leftover
    work = wh2 / ".staging" / "work" / "plan1" / "documents-00000.parquet"  # a resumable shard output
    work.parent.mkdir(parents=True)
    work.write_bytes(b"shard")
    removed = store.recover()
    assert removed == [orphan.path]
    assert _files(wh2) == {**listed, ".staging/work/plan1/documents-00000.parquet": b"shard"}
    if how == "copy":
        assert _files(wh) == listed  # the original is untouched


def test_recover_refuses_when_the_catalog_cannot_be_resolved_where_it_stands(tmp_path):
    """Only the catalog was moved (or its data/ is elsewhere): its partitions are not under this root, so
    recovery refuses with one line and removes nothing, not even the files it would otherwise call leftovers."""
    wh = build_mini_warehouse(tmp_path / "wh")
    wh2 = tmp_path / "wh2"
    wh2.mkdir()
    shutil.copyfile(wh / CATALOG, wh2 / CATALOG)
    store = Store(wh2)
    stray = store.write_partition("documents", R3, schema.to_table("documents", []))
    (store.staging / "x.duckdb").parent.mkdir(parents=True, exist_ok=True)
    (store.staging / "x.duckdb").write_bytes(b"half a catalog")
    before = _files(wh2)
    with pytest.raises(WarehouseError) as err:
        store.recover()
    message = str(err.value)
    assert "\n" not in message and str(wh2) in message and "nothing was removed" in message
    assert _files(wh2) == before and Path(stray.path).exists() and (store.staging / "x.duckdb").exists()
    assert _files(wh) and Store(wh).recover() == []  # the original still recovers as before


def test_recover_refuses_an_unreadable_catalog_and_keeps_every_file(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    before = _files(wh)
    (wh / CATALOG).write_bytes(b"not a duckdb file" * 100)
    with pytest.raises(WarehouseError) as err:
        Store(wh).recover()
    assert "\n" not in str(err.value) and "nothing was removed" in str(err.value)
    assert _files(wh) == before


def test_recover_and_discard_keep_the_staging_work_folder(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    store = Store(wh)
    shard = store.staging / "work" / "k1" / "normalize" / "00000.parquet"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(b"shard")
    (store.staging / "r.duckdb").write_bytes(b"x")
    assert store.recover() == [str(store.staging / "r.duckdb")]
    store.discard([], store.staging / "r.duckdb")
    assert shard.read_bytes() == b"shard"


def _shard(root, name: str, table: pa.Table):
    path = root / ".staging" / "work" / "plan1" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pyarrow.parquet.write_table(table, path)
    return path


def test_adopt_partition_links_a_finished_shard_into_data_and_publishes_it(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    rows = [{"doc_id": f"d{i}", "run_id": R3, "stage": "normalize", "reason_code": "x"} for i in range(3)]
    src = _shard(wh, "quarantine-00000.parquet", schema.to_table("quarantine", rows))
    with writer_lock(wh):
        store = Store(wh)
        prior = store.published_partitions()
        p = store.adopt_partition("quarantine", R3, src, part=0)
        assert p.path == str(wh / "data" / "quarantine" / f"{R3}-00000.parquet")
        assert (p.table_name, p.run_id, p.n_rows, p.bytes) == ("quarantine", R3, 3, src.stat().st_size)
        assert p.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
        assert os.stat(p.path).st_ino == src.stat().st_ino  # a hard link: no bytes copied
        staged, _ = store.stage_catalog(R3, prior, [p])
        store.publish(staged)
    assert _q(wh / CATALOG, f"SELECT count(*) FROM quarantine WHERE run_id = '{R3}'", wh) == [(3,)]
    assert _q(wh / CATALOG, f"SELECT path FROM _partitions WHERE run_id = '{R3}'", wh) == [
        (f"data/quarantine/{R3}-00000.parquet",)
    ]
    assert src.exists() and Store(wh).recover() == []  # the shard stays; publish and recover keep .staging/work
    shutil.rmtree(wh / ".staging" / "work")  # the flow removes its shards: the partition keeps its bytes
    assert _q(wh / CATALOG, "SELECT count(*) FROM quarantine", wh) == [(4,)]


def test_adopt_partition_copies_where_a_link_is_refused_and_an_unpublished_one_is_a_leftover(tmp_path, monkeypatch):
    import errno

    wh = build_mini_warehouse(tmp_path / "wh")
    src = _shard(wh, "q.parquet", schema.to_table("quarantine", [{"run_id": R3, "reason_code": "x"}]))

    def no_link(*args):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    p = Store(wh).adopt_partition("quarantine", R3, src, part=None)
    assert Path(p.path).name == f"{R3}.parquet" and os.stat(p.path).st_ino != src.stat().st_ino
    assert Path(p.path).read_bytes() == src.read_bytes()
    assert Store(wh).recover() == [p.path]  # never published: a killed run's leftover; the shard stays
    assert src.exists()


def test_adopt_partition_refuses_bad_sources_in_one_line(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    store = Store(wh)
    outside = tmp_path / "outside.parquet"
    pyarrow.parquet.write_table(schema.to_table("quarantine", []), outside)
    wrong = _shard(wh, "wrong.parquet", pa.table({"doc_id": [1], "extra": ["x"]}))
    broken = wh / ".staging" / "work" / "plan1" / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    listed = Store(wh).published_partitions()[0].path
    cases = {
        outside: "not a file under",
        wrong: "extra, reason_code",
        broken: "not a readable Parquet",
        listed: "outside its data/",
    }
    for src, words in cases.items():
        with pytest.raises(WarehouseError) as err:
            store.adopt_partition("quarantine", R3, src)
        assert "\n" not in str(err.value) and words in str(err.value), str(err.value)
    assert not (wh / "data" / "quarantine" / f"{R3}.parquet").exists()


def test_empty_tables_have_duckdbs_own_types_for_their_arrow_schemas_without_pandas():
    from warehouse.store import empty_select

    con = duckdb.connect()
    for name, (arrow_schema, _) in schema.TABLES.items():
        empty = arrow_schema.empty_table()  # noqa: F841 (read by DuckDB's replacement scan)
        theirs = con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM empty)").fetchall()
        mine = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {empty_select(arrow_schema)})").fetchall()
        assert mine == theirs, name
    other = pa.schema([("d", pa.date32()), ("m", pa.map_(pa.string(), pa.int8()))])  # not mapped: DuckDB says
    assert "DATE" in empty_select(other) and "MAP(VARCHAR, TINYINT)" in empty_select(other)
    code = (
        "import sys\nfrom warehouse.schema import TABLES\nfrom warehouse.store import empty_select\n"
        "[empty_select(s) for s, _ in TABLES.values()]\nprint('pandas' in sys.modules)"
    )
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # the flow's process builds these views and need not load pandas
