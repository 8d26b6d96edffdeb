"""warehouse.compact and `newsetl compact`: small partitions merged into larger files, the same tables, marts,
checks and releases; readers see one layout; a crash at any point leaves a valid warehouse."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from mini_warehouse import R1, build_mini_warehouse, run1_tables

from tests.conftest import ROOT
from warehouse import schema
from warehouse.compact import compact, plan_bins
from warehouse.fingerprint import table_fingerprints
from warehouse.query import open_read_only, run_query
from warehouse.release import make_release, verify_release
from warehouse.store import CATALOG, Partition, Store, partition_key, writer_lock

N_RUNS = 12


def _p(table: str, run: str, rows: int, size: int = 100) -> Partition:
    return Partition(table, run, f"data/{table}/{run}.parquet", rows, size, "x")


def test_plan_merges_consecutive_small_files_up_to_the_targets():
    parts = [_p("runs", f"r{i}", 1) for i in range(5)] + [_p("quarantine", "r0", 40), _p("quarantine", "r1", 1)]
    plan = plan_bins(parts, target_rows=3, target_bytes=1_000)
    assert [[p.run_id for p in g] for g in plan["runs"]] == [["r0", "r1", "r2"], ["r3", "r4"]]
    assert "quarantine" not in plan  # one large file and one small: nothing to merge
    big_bytes = [_p("documents", "a", 1, 600), _p("documents", "b", 1, 600), _p("documents", "c", 1, 600)]
    assert plan_bins(big_bytes, target_rows=100, target_bytes=1_000) == {}  # two would pass the byte target
    mixed = [_p("dates", "a", 1), _p("dates", "b", 1), _p("dates", "c", 50), _p("dates", "d", 1), _p("dates", "e", 1)]
    assert [[p.run_id for p in g] for g in plan_bins(mixed, 10, 1_000)["dates"]] == [["a", "b"], ["d", "e"]]
    assert plan_bins([_p("notes", "a", 1), _p("notes", "b", 1)], 10, 1_000) == {}  # not a known table


def many_small_partitions(root: Path, n_runs: int = N_RUNS) -> Path:
    """The mini warehouse plus `n_runs` runs' worth of small runs/quarantine/dq_results partitions, written
    directly and published in one catalog (a script, not n runs)."""
    build_mini_warehouse(root)
    with writer_lock(root):
        store = Store(root)
        parts = store.published_partitions()
        for i in range(n_runs):
            run = f"20260201T{i:06d}-dddddddd"
            runs = [dict(run1_tables()["runs"][0], run_id=run)]
            quarantine = [dict(run1_tables()["quarantine"][0], run_id=run, record_id=None, detail=f"d{i}")]
            dq = [dict(r, run_id=run) for r in run1_tables()["dq_results"]]
            for name, rows in (("runs", runs), ("quarantine", quarantine), ("dq_results", dq)):
                parts.append(store.write_partition(name, run, schema.to_table(name, rows)))
        staged = store.build_catalog("many", parts)
        assert not [c for c in store.check_catalog(staged) if c["failing"]]
        store.publish(staged)
    return root


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "data").rglob("*"))
        if p.is_file() and not p.name.startswith(".superseded-")  # compaction's record of what it replaced
    }


def _listed(root: Path) -> set[str]:
    return {str(Path(p.path).relative_to(root)) for p in Store(root).published_partitions()}


def _state(root: Path) -> tuple:
    """What a reader sees: every table's content, the marts, the stored checks."""
    with open_read_only(root) as con:
        marts = {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("mart_documents", "mart_entities", "mart_figures", "_checks")
        }
    return table_fingerprints(root), marts


def test_compact_merges_small_files_and_changes_no_table(tmp_path):
    wh = many_small_partitions(tmp_path / "wh")
    before = _state(wh)
    release = make_release(wh, tmp_path / "rel", "1.0")
    n_before = len(_listed(wh))
    result = compact(wh, target_rows=5)
    assert result["files_before"] == n_before and result["files_after"] < n_before
    runs = result["tables"]["runs"]
    assert (runs["files_before"], runs["files_after"], runs["rows_moved"]) == (N_RUNS + 2, 3, N_RUNS + 2)
    assert result["tables"]["dq_results"]["files_after"] == 7  # 27 rows, at most 5 a file, runs of 1 or 2 rows
    assert _state(wh) == before
    assert all((wh / f).is_file() for f in _listed(wh))
    assert sum(1 for f in _listed(wh) if f.startswith("data/runs/")) == 3
    # the rows of the small files are gathered into row groups, not one row group per source file
    merged = [wh / f for f in _listed(wh) if f.startswith("data/dq_results/compact-")]
    assert merged and all(pq.ParquetFile(f).metadata.num_row_groups == 1 for f in merged)

    # the release of the compacted warehouse is the same release: it verifies and the version is 'identical'
    assert make_release(wh, tmp_path / "rel", "1.0").status == "identical" == "identical"
    assert verify_release(tmp_path / "rel", "1.0")["version"] == release.manifest["version"]
    # the replaced files wait for the next writer, which removes exactly them
    assert result["superseded_files"] == len(set(_files(wh)) - _listed(wh)) > 0
    Store(wh).recover()
    assert set(_files(wh)) == _listed(wh)
    again = compact(wh, target_rows=5)  # nothing left to merge
    assert again["files_before"] == again["files_after"] == result["files_after"] and again["tables"] == {}


def test_merged_files_have_full_row_groups(tmp_path, monkeypatch):
    """Row groups of exactly READ_BATCH_ROWS rows (the last one shorter), however the source files are cut."""
    import warehouse.compact

    monkeypatch.setattr(warehouse.compact, "READ_BATCH_ROWS", 4)
    monkeypatch.setattr("warehouse.store.ROW_GROUP_ROWS", 4)
    wh = many_small_partitions(tmp_path / "wh")  # dq_results: 2 rows a run, 3 for the mini's first run
    compact(wh, target_rows=1_000)
    (merged,) = [wh / f for f in _listed(wh) if f.startswith("data/dq_results/compact-")]
    groups = pq.ParquetFile(merged).metadata
    sizes = [groups.row_group(i).num_rows for i in range(groups.num_row_groups)]
    assert sum(sizes) == 2 * N_RUNS + 3 and sizes[:-1] == [4] * (len(sizes) - 1) and 0 < sizes[-1] <= 4


def test_a_reader_opened_before_compaction_keeps_the_old_layout(tmp_path):
    wh = many_small_partitions(tmp_path / "wh")
    con = open_read_only(wh)
    try:
        old = con.execute("SELECT count(*), count(DISTINCT run_id) FROM runs").fetchall()
        compact(wh, target_rows=1_000)
        assert con.execute("SELECT count(*), count(DISTINCT run_id) FROM runs").fetchall() == old
    finally:
        con.close()
    assert run_query(wh, "SELECT count(*), count(DISTINCT run_id) FROM runs")[1] == old == [(N_RUNS + 2, N_RUNS + 2)]
    with duckdb.connect(str(wh / CATALOG), read_only=True) as c:  # the new catalog lists one runs file
        assert c.execute("SELECT count(*) FROM _partitions WHERE table_name = 'runs'").fetchall() == [(1,)]


def test_a_run_after_compaction_and_a_compacted_moved_warehouse(tmp_path):
    import shutil

    wh = many_small_partitions(tmp_path / "wh")
    superseded = compact(wh, target_rows=1_000)["superseded_files"]
    moved = tmp_path / "moved"
    shutil.move(wh, moved)
    with writer_lock(moved):
        store = Store(moved)
        assert len(store.recover()) == superseded > N_RUNS * 3  # the replaced files, as a run's recovery finds them
        prior = store.published_partitions()
        run = "20260301T000000-eeeeeeee"
        new = [
            store.write_partition("runs", run, schema.to_table("runs", [dict(run1_tables()["runs"][0], run_id=run)]))
        ]
        staged, _ = store.stage_catalog(run, prior, new)
        store.publish(staged)
    assert run_query(moved, "SELECT count(*) FROM runs")[1] == [(N_RUNS + 3,)]
    assert set(_files(moved)) == _listed(moved)  # the run's recovery removed the replaced files


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


@pytest.mark.parametrize("point", ["compact-merge", "compact-publish", "compact-done"])
def test_a_crash_during_compaction_leaves_a_valid_warehouse_and_the_next_writer_cleans_up(tmp_path, point):
    wh = many_small_partitions(tmp_path / "wh")
    before = _state(wh)
    catalog = (wh / CATALOG).read_bytes()
    res = cli("compact", "--warehouse", str(wh), "--target-rows", "5", env={"NEWSETL_TEST_KILL_AT": point})
    assert res.returncode == -signal.SIGKILL, res.stderr[-500:]
    assert _state(wh) == before  # the old layout, or (after publish) the new one: the same tables either way
    assert all((wh / f).is_file() for f in _listed(wh))
    assert ((wh / CATALOG).read_bytes() == catalog) == (point != "compact-done")
    assert set(_files(wh)) != _listed(wh)  # leftovers: merged files not yet listed, or replaced ones
    res = cli("compact", "--warehouse", str(wh), "--target-rows", "5")
    assert res.returncode == 0, res.stderr
    assert "compacted" in res.stdout.splitlines()[-1]
    Store(wh).recover()
    assert set(_files(wh)) == _listed(wh)
    assert _state(wh) == before
    assert sum(1 for f in _listed(wh) if f.startswith("data/runs/")) == 3


def test_compact_cli_errors_are_one_line(tmp_path):
    res = cli("compact", "--warehouse", str(tmp_path / "none"))
    assert (res.returncode, res.stderr.count("\n")) == (1, 1) and "no warehouse at" in res.stderr
    res = cli("compact", "--warehouse", str(tmp_path / "none"), "--target-rows", "0")
    assert (res.returncode, res.stderr.strip()) == (2, "newsetl: error: target_rows must be a positive integer, got 0")
    wh = build_mini_warehouse(tmp_path / "wh")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from warehouse.store import writer_lock\n"
         f"with writer_lock(Path({str(wh)!r})):\n    print('held', flush=True); time.sleep(60)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        res = cli("compact", "--warehouse", str(wh))
        assert res.returncode == 1 and res.stderr.strip().startswith("newsetl: error: another newsetl run")
    finally:
        holder.kill()
        holder.wait()
    assert run_query(wh, f"SELECT count(*) FROM runs WHERE run_id = '{R1}'")[1] == [(1,)]


def test_the_files_a_compaction_replaced_are_known_as_such_until_recovery_removes_them(tmp_path):
    """The next writer's recovery removes them, as it removes a killed run's leftovers; the run logs them apart
    (info, not the warning of an unfinished run), from the record compaction leaves under data/."""
    wh = many_small_partitions(tmp_path / "wh")
    superseded = compact(wh, target_rows=1_000)["superseded_files"]
    store = Store(wh)
    replaced = store.superseded()
    assert len(replaced) == superseded > 0 and all(k.startswith("data/") for k in replaced)
    with writer_lock(wh):
        removed = store.recover()
    assert {partition_key(f) for f in removed} == replaced
    assert store.superseded() == set() and not list((wh / "data").glob(".superseded-*"))
    assert set(_files(wh)) == _listed(wh)
