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


def test_a_copy_in_a_later_run_loses_the_footer_an_earlier_run_learned(tmp_path, run_etl):
    """Run 1 learns a site's footer (on every one of its 5 records) and removes it; run 2 brings a byte-identical
    copy of one record alone, too few to learn anything: the published footer is removed from it too, so it
    normalizes to the same text and maps to the same document (it was a second document, a 'near' duplicate)."""
    import json

    footer = "Example Wire: all rights reserved."
    rows = [
        {"text": (SEEDS / name).read_text(encoding="utf-8") + "\n" + footer, "url": f"https://news.example.com/{i}"}
        for i, name in enumerate(sorted(p.name for p in SEEDS.iterdir()))
    ]
    first, later = tmp_path / "run1", tmp_path / "run2"
    first.mkdir(), later.mkdir()
    (first / "batch.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (later / "late.jsonl").write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    wh = tmp_path / "wh"
    for inputs in ([first], [first, later]):
        state, _ = run_etl(inputs, wh)
        assert state.is_completed(), state.message
    assert q(wh, "SELECT count(*) FROM documents") == [(5,)]
    assert q(
        wh, "SELECT count(DISTINCT doc_id), count(*) FROM raw_documents WHERE raw_text = ?", [rows[0]["text"]]
    ) == [(1, 2)]
    # the footer's rows are run 1's: the copy's document is the published one
    assert q(wh, "SELECT count(*) FROM boilerplate_lines WHERE rule = 'repeated_line' AND text = ?", [footer]) == [(5,)]
