"""Incremental models and run-scoped checks: a run updates the marts for what it added, and the result is the
full rebuild's, also when a run's near-duplicates join older clusters and its entities were seen by earlier runs."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from mini_warehouse import TEXT1, _doc, _mention, build_mini_warehouse, run1_tables

from warehouse import schema
from warehouse.incremental import MODELS_TABLE, load_models
from warehouse.query import open_read_only
from warehouse.store import CATALOG, Store, writer_lock

R3, R4, R5 = "20260103T000000-cccccccc", "20260104T000000-dddddddd", "20260105T000000-eeeeeeee"
MARTS = ("mart_documents", "mart_entities", "mart_figures")
TEXT5 = "Putin met Assad in Moscow. Nobody spoke for 2 hours."


def _cluster(doc: str, cluster: str, canonical: str, run: str, method: str = "near") -> dict:
    return {"doc_id": doc, "cluster_id": cluster, "canonical_doc_id": canonical, "method": method,
            "similarity": 1.0 if doc == canonical else 0.8, "run_id": run}  # fmt: skip


def _entity(eid: str, name: str, kind: str, aliases: list[str], n: int, run: str) -> dict:
    geo = {"country_code": "SY", "latitude": 33.5, "longitude": 36.3, "geonames_id": 170654} if kind == "GPE" else {}
    return {"entity_id": eid, "name": name, "type": kind, "entity_key": f"name:{name.lower()}", "country_code": None,
            "aliases": aliases, "mention_count": n, "run_id": run, **geo}  # fmt: skip


def _bookkeeping(run: str, n_docs: int) -> dict[str, list[dict]]:
    row = dict(run1_tables()["runs"][0], run_id=run, n_documents_new=n_docs)
    return {"runs": [row], "dq_results": [dict(r, run_id=run) for r in run1_tables()["dq_results"]]}


def _raw(doc: str, run: str) -> dict:
    return {"record_id": f"rec-{doc}", "file_id": f"f-{run}", "record_index": 0, "raw_text": "t", "doc_id": doc,
            "run_id": run}  # fmt: skip


def later_runs() -> list[tuple[str, dict[str, list[dict]]]]:
    """Run 3: d4, a near-copy joining d1's cluster of run 1, and d5, a new document mentioning E1 (seen by runs 1 and
    2, now with a new alias), E2 and a new entity E3, with a figure. Run 4: d6 joins d3's cluster (run 2) and
    mentions nothing; d7 is a new cluster mentioning E3 again. Run 5: nothing new but bookkeeping."""
    t3, t4 = datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC)
    run3 = {
        "raw_documents": [_raw("d4", R3), _raw("d5", R3)],
        "documents": [_doc("d4", R3, t3, text=TEXT1 + " Again."), _doc("d5", R3, t3, text=TEXT5)],
        "dup_clusters": [_cluster("d4", "c1", "d1", R3), _cluster("d5", "d5", "d5", R3, "exact")],
        "entities": [
            _entity("E1", "Assad (later name)", "PERSON", ["al-Assad", "Assad"], 1, R3),
            _entity("E2", "Moscow", "GPE", ["Moscow"], 1, R3),
            _entity("E3", "Putin", "PERSON", ["Putin"], 1, R3),
        ],
        "mentions": [
            _mention("d5", 0, 5, "Putin", 0, "E3", R3),
            _mention("d5", 10, 15, "Assad", 0, "E1", R3),
            _mention("d5", 19, 25, "Moscow", 0, "E2", R3),
        ],
        "figures": [
            {
                "doc_id": "d5",
                "start": 44,
                "end": 51,
                "surface": "2 hours",
                "value": 2.0,
                "unit": "hour",
                "kind": "duration",
                "sentence": 1,
                "run_id": R3,
            }
        ],
        "extractions": [{"doc_id": "d5", "status": "extracted", "n_mentions": 3, "n_figures": 1, "run_id": R3}],
        **_bookkeeping(R3, 2),
    }
    run4 = {
        "raw_documents": [_raw("d6", R4), _raw("d7", R4)],
        "documents": [_doc("d6", R4, t4, lang="de", text="Assad in Berlin!"), _doc("d7", R4, t4, text=TEXT5 + " X")],
        "dup_clusters": [_cluster("d6", "d3", "d3", R4), _cluster("d7", "d7", "d7", R4, "exact")],
        "entities": [_entity("E3", "Putin", "PERSON", ["Vladimir Putin"], 1, R4)],
        "mentions": [_mention("d7", 0, 5, "Putin", 0, "E3", R4)],
        "extractions": [{"doc_id": "d7", "status": "extracted", "n_mentions": 1, "run_id": R4}],
        **_bookkeeping(R4, 2),
    }
    return [(R3, run3), (R4, run4), (R5, _bookkeeping(R5, 0))]


def apply_run(root: Path, run: str, tables: dict[str, list[dict]], *, full_refresh: bool) -> tuple[bool, list[dict]]:
    """A load stage: write the run's partitions, stage (incrementally or in full), check with the run's scope, publish.
    Returns (rebuilt, failing checks)."""
    with writer_lock(root):
        store = Store(root)
        assert store.recover() == []
        prior = store.published_partitions()
        new = [store.write_partition(n, run, schema.to_table(n, rows)) for n, rows in tables.items()]
        staged, rebuilt = store.stage_catalog(run, prior, new, full_refresh=full_refresh)
        failing = []
        if rebuilt:
            checks = store.check_catalog(staged, None if full_refresh else run)
            failing = [c for c in checks if c["failing"]]
        store.publish(staged)
    return rebuilt, failing


def marts(root: Path) -> dict[str, list[tuple]]:
    with open_read_only(root) as con:
        return {m: con.execute(f"SELECT * FROM {m} ORDER BY ALL").fetchall() for m in MARTS}


def test_incremental_runs_give_the_full_refresh_tables(tmp_path):
    inc, full = build_mini_warehouse(tmp_path / "inc"), tmp_path / "full"
    shutil.copytree(inc, full)
    for run, tables in later_runs():
        rebuilt_inc, failing_inc = apply_run(inc, run, tables, full_refresh=False)
        rebuilt_full, failing_full = apply_run(full, run, tables, full_refresh=True)
        assert failing_inc == failing_full == []
        assert rebuilt_full and rebuilt_inc == (run != R5)
        assert marts(inc) == marts(full), run
    got = marts(inc)
    # the near-copies joined the clusters of runs 1 and 2: their sizes grew, no new row for them
    sizes = {r[0]: r[2] for r in got["mart_documents"]}
    assert sizes == {"d1": 3, "d3": 2, "d5": 1, "d7": 1}
    # E1 merged over runs 1-3: every alias, the first run's name, mentions in canonical documents only
    e1 = next(r for r in got["mart_entities"] if r[0] == "E1")
    # columns: entity_id, name, entity_type, entity_key, country_code, admin1_code, latitude, longitude,
    # geonames_id, aliases, n_mentions, n_documents, ...
    assert (e1[1], e1[9], e1[10], e1[11]) == ("Bashar Assad", ["Assad", "Bashar al-Assad", "al-Assad"], 4, 3)
    e3 = next(r for r in got["mart_entities"] if r[0] == "E3")
    assert (e3[9], e3[10], e3[11]) == (["Putin", "Vladimir Putin"], 2, 2)
    assert [r[0] for r in got["mart_figures"]] == ["d1:31-48", "d1:71-77", "d5:44-51"]


def test_a_run_rebuilds_only_the_rows_it_touched(tmp_path):
    """The rows of documents and entities the run did not touch are the published ones, not recomputed: a marker
    put in an untouched row survives an incremental run and is gone after a full refresh. An older document whose
    cluster grew keeps its row with the new size; an entity mentioned again is merged (its name from stg_entities)."""
    wh = build_mini_warehouse(tmp_path / "wh")
    apply_run(wh, R3, later_runs()[0][1], full_refresh=True)  # published with models from the current files
    with duckdb.connect(str(wh / CATALOG), config={"file_search_path": str(wh)}) as con:
        con.execute("UPDATE mart_documents SET title = 'untouched' WHERE doc_id = 'd5'")
        con.execute("UPDATE mart_documents SET title = 'touched' WHERE doc_id = 'd3'")
        con.execute("UPDATE mart_entities SET name = 'untouched' WHERE entity_id = 'E2'")
        con.execute("UPDATE mart_entities SET name = 'touched' WHERE entity_id = 'E1'")
    apply_run(wh, R4, later_runs()[1][1], full_refresh=False)  # d6 joins d3's cluster; d3 mentions E1
    rows = {r[0]: r for r in marts(wh)["mart_documents"]}
    # d5: not touched; d3: its published row kept, with the new cluster size; d7: new
    assert (rows["d5"][3], rows["d3"][3], rows["d3"][2], rows["d7"][3]) == ("untouched", "touched", 2, "title d7")
    names = dict((r[0], r[1]) for r in marts(wh)["mart_entities"])
    assert names["E2"] == "untouched" and names["E1"] == "Bashar Assad"
    apply_run(wh, R5, _bookkeeping(R5, 0), full_refresh=True)
    assert dict((r[0], r[3]) for r in marts(wh)["mart_documents"])["d5"] == "title d5"


def test_other_model_files_or_an_older_catalog_are_rebuilt_in_full(tmp_path, monkeypatch):
    wh = build_mini_warehouse(tmp_path / "wh")
    with duckdb.connect(str(wh / CATALOG)) as con:
        con.execute(f"DROP TABLE {MODELS_TABLE}")  # a catalog from before incremental models
        con.execute("UPDATE mart_documents SET title = 'stale'")
    apply_run(wh, R3, later_runs()[0][1], full_refresh=False)
    assert {r[3] for r in marts(wh)["mart_documents"]} == {"title d1", "title d3", "title d5"}
    import warehouse.incremental as inc

    monkeypatch.setattr(inc, "models_digest", lambda folder=inc.MODELS_DIR: "other files")
    with duckdb.connect(str(wh / CATALOG), config={"file_search_path": str(wh)}) as con:
        con.execute("UPDATE mart_documents SET title = 'stale'")
    apply_run(wh, R4, later_runs()[1][1], full_refresh=False)
    assert "stale" not in {r[3] for r in marts(wh)["mart_documents"]}


def test_every_mart_table_is_incremental_and_declares_its_delta():
    models = {m.name: m for m in load_models()}
    for name in MARTS:
        m = models[name]
        assert m.incremental and m.unique_key and m.delta, name
        prior, delete, insert = m.update_sql()
        assert prior.startswith(f"CREATE OR REPLACE TEMP TABLE _prior_{name} AS")
        assert delete.startswith(f"DELETE FROM {name} WHERE") and insert.startswith(f"INSERT INTO {name} BY NAME")
        assert "_delta_" in insert and "/*incremental" not in insert


def test_a_scoped_check_sees_the_run_s_bad_rows_and_not_the_published_ones(tmp_path):
    """Checks scoped to the run read its rows plus global counts: a run adding a document id that already exists,
    or a mention of an unknown entity, fails; the same run-scoped checks on a clean run pass."""
    wh = build_mini_warehouse(tmp_path / "wh")
    run3 = later_runs()[0][1]
    run3["documents"].append(_doc("d1", R3, datetime(2026, 1, 3, tzinfo=UTC)))  # d1 was published by run 1
    run3["mentions"].append(_mention("d5", 0, 5, "Putin", 0, "E404", R3))
    _, failing = apply_run(wh, R3, run3, full_refresh=False)
    names = {c["check"]: c["failing"] for c in failing}
    assert names["doc_ids_unique"] == 1 and names["mentions_entity_exists"] == 1, names
    assert names["stg_mentions_entity_exists"] == 1


@pytest.mark.parametrize("full_refresh", [False, True])
def test_a_bookkeeping_only_run_copies_or_rebuilds(tmp_path, full_refresh):
    wh = build_mini_warehouse(tmp_path / "wh")
    rebuilt, failing = apply_run(wh, R5, _bookkeeping(R5, 0), full_refresh=full_refresh)
    assert (rebuilt, failing) == (full_refresh, [])


def test_published_rows_are_not_checked_again_by_a_later_run(tmp_path):
    from warehouse.checks import run_checks

    wh = build_mini_warehouse(tmp_path / "wh")
    run3 = later_runs()[0][1]
    run3["figures"][0]["value"] = float("inf")
    run3["boilerplate_lines"] = [{"doc_id": "d404", "line_no": 0, "text": "x", "rule": "r", "run_id": R3}]
    _, failing = apply_run(wh, R3, run3, full_refresh=False)  # published anyway by this helper
    assert {c["check"] for c in failing} == {"figures_values_finite", "boilerplate_points_to_documents"}
    _, failing = apply_run(wh, R4, later_runs()[1][1], full_refresh=False)
    assert failing == []  # run 4's rows and the global counts are fine
    with open_read_only(wh) as con:
        every_row = {r.check: r.failing for r in run_checks(con).itertuples() if r.failing}
    assert every_row == {"figures_values_finite": 1, "boilerplate_points_to_documents": 1}
