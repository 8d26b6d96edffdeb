"""flows.discover.nothing_new and threads_suffice: the guess that picks no workers for a run on an unchanged input."""

from __future__ import annotations

import json
import os
import shutil

from flows.discover import nothing_new, threads_suffice
from tests.conftest import SEEDS
from tests.flows.test_operations import cli
from warehouse.store import catalog_path


def test_no_published_warehouse_is_never_nothing_new(tmp_path):
    assert not nothing_new([str(SEEDS)], tmp_path / "wh")
    assert not nothing_new([str(tmp_path / "missing")], tmp_path / "wh")


def test_nothing_new_only_while_every_file_keeps_its_path_size_and_age(tmp_path, seeds_copy, run_etl):
    wh = tmp_path / "wh"
    state, _ = run_etl([seeds_copy], wh)
    assert state.is_completed()
    inputs = [str(seeds_copy)]
    assert nothing_new(inputs, wh)
    assert threads_suffice(inputs, wh, full_refresh=False)
    assert not threads_suffice(inputs, wh, full_refresh=True)  # a full refresh's load is a reduce for a worker
    published = catalog_path(wh).stat().st_mtime_ns
    one = sorted(seeds_copy.iterdir())[0]
    st = one.stat()

    os.utime(one, ns=(st.st_atime_ns, published + 1))  # modified after the publish (same size)
    assert not nothing_new(inputs, wh)
    os.utime(one, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert nothing_new(inputs, wh)

    extra = seeds_copy / "extra.txt"  # a file the warehouse has not seen, older than the catalog
    extra.write_text("A new article.\n", encoding="utf-8")
    os.utime(extra, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not nothing_new(inputs, wh)
    extra.unlink()

    moved = tmp_path / "elsewhere"  # the same files under another path: not known by path
    shutil.copytree(seeds_copy, moved, copy_function=shutil.copy2)
    assert not nothing_new([str(moved)], wh)

    original = one.read_bytes()
    one.write_bytes(original + b" ")  # another size
    os.utime(one, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not nothing_new(inputs, wh)
    one.write_bytes(original)
    os.utime(one, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert nothing_new(inputs, wh)

    assert not nothing_new([*inputs, str(tmp_path / "missing")], wh)  # an input problem: the run reports it
    catalog_path(wh).write_bytes(b"not a duckdb file")
    os.utime(catalog_path(wh), ns=(published, published))
    assert not nothing_new(inputs, wh)  # unreadable: no guess, no exception


def test_a_run_on_an_unchanged_input_starts_no_workers(tmp_path, seeds_copy, run_etl):
    wh = tmp_path / "wh"
    state, _ = run_etl([seeds_copy], wh)
    assert state.is_completed()
    # the default runner (a local Dask cluster): nothing new, so the run is on threads and no cluster starts
    res = cli("run", "--input", str(seeds_copy), "--warehouse", str(wh), "--json-logs", api=True)
    assert res.returncode == 0, res.stderr[-800:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["counts"]["files_skipped"] == 5 and summary["counts"]["documents_new"] == 0
    assert "probed" in summary["timeline"] and "cluster" not in summary["timeline"], summary["timeline"]
    assert "Dask" not in res.stderr and "distributed" not in res.stderr


def test_an_input_walk_skips_the_pipelines_own_output_folders(tmp_path):
    """A warehouse (its lock or catalog), a release version (manifest and Croissant file) and a folder a report
    made are not input; a folder with only a manifest.json is."""
    from flows.discover import OUTPUT_FOLDERS
    from transforms.readers import OUTPUT_MARKER, discover

    def put(rel: str, text: str = "x") -> None:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)

    put("a.txt"), put("wh/.newsetl.lock"), put("wh/data/documents/p.parquet"), put("wh2/newsetl.duckdb")
    put("rel/1/manifest.json"), put("rel/1/croissant.json"), put("rel/1/documents.parquet")
    put(f"report/{OUTPUT_MARKER}", ""), put("report/index.html"), put("other/manifest.json"), put("other/b.txt")
    found, problems = discover([str(tmp_path)], OUTPUT_FOLDERS)
    assert problems == []
    assert sorted(os.path.relpath(p, tmp_path) for p in found) == ["a.txt", "other/b.txt", "other/manifest.json"]
    globbed, _ = discover([str(tmp_path / "**" / "*.parquet"), str(tmp_path / "report" / "*")], OUTPUT_FOLDERS)
    assert globbed == []
    everything, _ = discover([str(tmp_path)], ())  # without markers every file is found
    assert len(everything) == 9


def test_a_warehouse_inside_its_input_folder_is_not_read_back(tmp_path, run_etl):
    """`newsetl run --input proj --warehouse proj/wh` twice: the second run finds nothing new (it ingested the
    warehouse's own Parquet, catalog and report before)."""
    proj = tmp_path / "proj"
    shutil.copytree(SEEDS, proj)
    state, first = run_etl([proj], proj / "wh")
    assert state.is_completed() and first["counts"]["documents_new"] == 5
    state, second = run_etl([proj], proj / "wh")
    assert state.is_completed()
    assert (second["counts"]["documents_new"], second["counts"]["quarantined"]) == (0, 0)


def test_a_copy_adds_no_records_and_ingested_rows_key_the_files(tmp_path, seeds_copy, run_etl):
    """A byte-identical copy in the same run is `duplicate_in_run` with 0 records (it had its original's count), a
    later run's `unchanged` rows too; the `ingested` row of a file_id is the one its records came from."""
    from warehouse.query import open_read_only

    one = sorted(seeds_copy.iterdir())[0]
    shutil.copy(one, seeds_copy / "copy_of_first.txt")
    wh = tmp_path / "wh"
    for _ in range(2):
        state, _ = run_etl([seeds_copy], wh)
        assert state.is_completed()
    with open_read_only(wh) as con:
        by_status = dict(con.execute("SELECT status, sum(n_records) FROM source_files GROUP BY 1").fetchall())
        n_raw = con.execute("SELECT count(*) FROM raw_documents").fetchone()[0]
        joined = con.execute(
            "SELECT count(*) FROM raw_documents r "
            "JOIN source_files s ON s.file_id = r.file_id AND s.status = 'ingested'"
        ).fetchone()[0]
    assert by_status == {"ingested": 5, "duplicate_in_run": 0, "unchanged": 0}
    assert n_raw == joined == 5
