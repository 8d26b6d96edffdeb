"""Through the real flow: runs update the marts for what they add, and `--full-refresh` (a full rebuild of the same
partitions) gives the same tables, after runs whose near-duplicates join older clusters."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import SEEDS, q
from tests.flows.test_dedup_flow import edited_copy
from tests.flows.test_operations import extra_input
from warehouse.query import open_read_only
from warehouse.store import Store

MARTS = ("mart_documents", "mart_entities", "mart_figures", "_checks")


def marts(wh: Path) -> dict[str, list[tuple]]:
    with open_read_only(wh) as con:
        return {m: con.execute(f"SELECT * FROM {m} ORDER BY ALL").fetchall() for m in MARTS}


def test_incremental_runs_and_a_full_refresh_give_the_same_tables(tmp_path, run_etl, monkeypatch):
    builds: list[str] = []
    for name in ("build_catalog", "update_catalog"):
        original = getattr(Store, name)

        def spy(self, run_id, *args, _name=name, _original=original, **kwargs):
            builds.append(_name)
            return _original(self, run_id, *args, **kwargs)

        monkeypatch.setattr(Store, name, spy)
    wh = tmp_path / "wh"
    later = tmp_path / "later"
    later.mkdir()
    t004 = (SEEDS / "004_dd5b4a6056b2a50f.txt").read_text(encoding="utf-8")
    (later / "copy_edited_004.txt").write_text(edited_copy(t004, 0.05, 7), encoding="utf-8")
    t002 = (SEEDS / "002_141b38bf1068f277.txt").read_text(encoding="utf-8")
    (later / "002_updated.txt").write_text(t002 + "\nA new paragraph was added to this article later on.\n")
    for inputs in ([SEEDS], [extra_input(tmp_path)], [later]):
        state, summary = run_etl(inputs, wh)
        assert state.is_completed(), state.message
    assert builds == ["build_catalog", "update_catalog", "update_catalog"]
    assert summary["counts"]["documents_new"] == 2
    # both copies of the last run joined seed clusters of the first run
    sizes = q(wh, "SELECT cluster_size, count(*) FROM mart_documents GROUP BY 1 ORDER BY 1")
    assert sizes == [(1, 4), (2, 2)]
    full = tmp_path / "full"
    shutil.copytree(wh, full)
    state, _ = run_etl([SEEDS], full, full_refresh=True)  # nothing new: only the full rebuild of the same rows
    assert state.is_completed(), state.message
    assert builds[-1] == "build_catalog"
    assert marts(full) == marts(wh)
    assert not [c for c in marts(wh)["_checks"] if c[1]]
    params = q(full, "SELECT params FROM runs ORDER BY run_id DESC LIMIT 1")[0][0]
    assert '"full_refresh": true' in params
