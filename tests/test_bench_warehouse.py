"""bench/warehouse_bench.py: the warehouses it makes by script are valid and hold what they should."""

from __future__ import annotations

import sys

from mini_warehouse import build_mini_warehouse

from tests.conftest import ROOT
from warehouse.query import run_query
from warehouse.schema import TABLES

sys.path.insert(0, str(ROOT / "bench"))
import warehouse_bench as wb


def test_replicated_copies_rename_documents_and_keep_entities(tmp_path):
    base = build_mini_warehouse(tmp_path / "base")
    made = wb.replicate(base, tmp_path / "wh", n_docs=9)
    assert (made["copies"], made["documents"], made["failing_checks"]) == (3, 9, [])
    wh = tmp_path / "wh"
    assert run_query(wh, "SELECT count(DISTINCT doc_id), count(DISTINCT cluster_id) FROM dup_clusters")[1] == [(9, 6)]
    assert run_query(wh, "SELECT count(DISTINCT entity_id), count(*) FROM entities")[1] == [(2, 9)]
    assert run_query(wh, "SELECT sum(cluster_size) FROM mart_documents")[1] == [(9,)]
    runs = [r for (r,) in run_query(wh, "SELECT DISTINCT run_id FROM documents ORDER BY 1")[1]]
    assert len(runs) == 4 and runs[:2] == [wb._copy_run_id(1), wb._copy_run_id(2)]  # copies sort before real runs


def test_split_warehouse_has_the_rows_in_n_partitions_per_table(tmp_path):
    base = build_mini_warehouse(tmp_path / "base")
    small, fresh = wb.split_into(base, tmp_path / "small", 5), wb.split_into(base, tmp_path / "fresh", 1)
    assert (small["files"], fresh["files"]) == (5 * len(TABLES), len(TABLES))
    for sql in wb.QUERIES.values():
        assert run_query(tmp_path / "small", sql) == run_query(tmp_path / "fresh", sql) == run_query(base, sql)
