"""Discover: whether a run has anything new, decided before any worker starts."""

from __future__ import annotations

import json
import os
import shutil

from flows.discover import has_new_input
from tests.conftest import SEEDS
from tests.flows.test_operations import cli
from warehouse.store import CATALOG


def test_has_new_input_compares_file_contents_with_the_published_ones(tmp_path, seeds_copy, run_etl):
    wh = tmp_path / "wh"
    assert has_new_input([str(seeds_copy)], wh)  # no warehouse yet: everything is new
    state, _ = run_etl([seeds_copy], wh)
    assert state.is_completed(), state.message
    assert not has_new_input([str(seeds_copy)], wh)
    copy = tmp_path / "copy"
    shutil.copytree(seeds_copy, copy)  # the same contents at other paths: nothing new either
    assert not has_new_input([str(copy)], wh)
    assert not has_new_input([str(tmp_path / "missing")], wh)  # nothing matched: the run reports it, no workers
    os.mkfifo(copy / "pipe.txt")  # not a regular file: the run records it as a problem, it is no work
    assert not has_new_input([str(copy)], wh)
    seed = sorted(copy.glob("*.txt"))[0]
    seed.write_text(seed.read_text(encoding="utf-8") + "\nOne more paragraph.\n", encoding="utf-8")
    assert has_new_input([str(copy)], wh)  # a changed file is a new version


def test_has_new_input_says_yes_when_the_warehouse_cannot_be_read(tmp_path):
    wh = tmp_path / "wh"
    wh.mkdir()
    (wh / CATALOG).write_bytes(b"not a duckdb file")
    assert has_new_input([str(SEEDS)], wh)  # the run itself reports the broken catalog, in one line


def test_a_no_op_run_of_the_default_runner_starts_no_workers(tmp_path, run_etl, prefect_harness):
    wh = tmp_path / "wh"
    state, _ = run_etl([SEEDS], wh)
    assert state.is_completed(), state.message
    res = cli("run", "--input", str(SEEDS), "--warehouse", str(wh), "--json-logs", api=True)  # default runner: dask
    assert res.returncode == 0, res.stderr[-800:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["counts"]["documents_new"] == 0 and summary["counts"]["files_skipped"] == 5
    assert "nothing_new" in summary["timeline"] and "cluster_closed" not in summary["timeline"], summary["timeline"]
