"""The etl flow end to end on seeds/ (plus a corrupt file), with values asserted in the published warehouse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import SEEDS, q

QUOTE = re.compile(r"[\"“]([^\"“”\n]{20,}?)[\"”]")  # quotes within one paragraph


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory, prefect_harness):
    """The seeds plus a corrupt file, once for this module, on the thread runner (no worker processes to start for
    six files; the default runner's own tests are in test_scale_out.py and test_serve.py)."""
    from flows.runners import configured_flow

    inputs = tmp_path_factory.mktemp("inputs")
    for f in SEEDS.iterdir():
        (inputs / f.name).write_bytes(f.read_bytes())
    (inputs / "zz_corrupt.txt").write_bytes(b"\x00\x01\x02\xff\xfe binary junk \x00" * 50)
    wh = tmp_path_factory.mktemp("wh")
    state = configured_flow("thread")(inputs=[str(inputs)], warehouse=str(wh), return_state=True)
    assert state.is_completed(), state.message
    return wh, state.result()


def test_counts(seed_run):
    wh, summary = seed_run
    assert q(wh, "SELECT count(*) FROM source_files")[0][0] == 6
    assert q(wh, "SELECT count(*) FROM documents")[0][0] == 5
    assert summary["counts"]["documents_new"] == 5
    assert q(wh, "SELECT lang, count(*) FROM documents GROUP BY 1") == [("en", 5)]
    assert q(wh, "SELECT count(*) FROM dup_clusters")[0][0] == 5


def test_corrupt_file_quarantined_and_accounted(seed_run):
    wh, _ = seed_run
    rows = q(wh, "SELECT q.stage, q.reason_code FROM quarantine q JOIN raw_documents r USING (record_id)")
    assert rows == [("ingest", "binary_content")]
    raw, mapped, quarantined = q(
        wh,
        "SELECT (SELECT count(*) FROM raw_documents), (SELECT count(*) FROM raw_documents WHERE doc_id IS NOT NULL),"
        " (SELECT count(DISTINCT record_id) FROM quarantine)",
    )[0]
    assert (raw, mapped, quarantined) == (6, 5, 1)


def test_raw_documents_keep_each_records_text_as_read(seed_run):
    """raw_documents.raw_text is what the reader returned for the record (the flow sets it aside during the run
    and puts it back when it writes the table)."""
    from transforms.readers import hash_file
    from transforms.stages import ingest_files

    wh, _ = seed_run
    rows = q(wh, "SELECT s.path, r.record_index, r.raw_text FROM raw_documents r JOIN source_files s USING (file_id)")
    files = [hash_file(p) for p in sorted({r[0] for r in rows})]
    batch = ingest_files(files, 10**7)
    by_file = {f.file_id: f.path for f in files}
    expected = {(by_file[x.file_id], x.record_index, x.text) for x in batch.records}
    expected |= {(by_file[x.file_id], x.record_index, x.raw_text) for x in batch.rejections}
    assert len(rows) == 6 and sum(1 for r in rows if r[2]) == 5  # the binary file's record keeps no text
    assert set(rows) == expected


def _doc_text(wh: Path, seed_prefix: str) -> str:
    rows = q(
        wh,
        "SELECT d.text FROM documents d JOIN raw_documents r ON r.record_id = d.record_id "
        "JOIN source_files s ON s.file_id = r.file_id WHERE s.path LIKE ?",
        [f"%/{seed_prefix}%"],
    )
    assert len(rows) == 1
    return rows[0][0]


def test_boilerplate_removed_from_seeds(seed_run):
    wh, _ = seed_run
    t002 = _doc_text(wh, "002_")
    assert "Submit a Correction" not in t002
    assert "oped@libyanexpress.com" not in t002
    assert "Your suggestion have been successfully submitted" not in t002
    t003 = _doc_text(wh, "003_")
    assert "Supervisor Elham AbolFateh" not in t003 and "Editor in Chief" not in t003
    assert "https://see.news" not in t003
    assert "Share it..." not in _doc_text(wh, "001_")
    assert "Image: AP" not in _doc_text(wh, "000_")
    assert "@YouTube" not in _doc_text(wh, "004_")
    rules = dict(q(wh, "SELECT rule, count(*) FROM boilerplate_lines GROUP BY 1"))
    assert rules["masthead"] == 2
    assert rules["correction_form"] == 1
    assert rules["submission_note"] == 1  # the line carrying the e-mail address


def test_every_quoted_sentence_survives(seed_run):
    wh, _ = seed_run
    for seed in sorted(SEEDS.iterdir()):
        text = _doc_text(wh, seed.name[:4])
        quotes = QUOTE.findall(seed.read_text(encoding="utf-8"))
        assert quotes, seed.name if seed.name[:3] in {"000", "002", "003", "004"} else None
        for quote in quotes:
            assert " ".join(quote.split()) in text, (seed.name, quote[:60])


def test_titles_and_dates(seed_run):
    wh, _ = seed_run
    assert _doc_text(wh, "002_").startswith("Bashar Al-Assad: Russia never talked about me leaving power")
    (pub,) = q(
        wh,
        "SELECT strftime(published_at, '%Y-%m-%d') FROM documents WHERE title = ?",
        ["Report: Why Syria's Assad Supports Russia's Putin?"],
    )[0]
    assert pub == "2022-02-26"


def test_extraction_on_the_seeds(seed_run):
    wh, _ = seed_run
    assert q(wh, "SELECT status, count(*) FROM extractions GROUP BY 1") == [("extracted", 5)]
    (doc_id,) = q(wh, "SELECT doc_id FROM documents WHERE text LIKE 'The office of Syrian President%'")[0]
    assad = q(
        wh,
        "SELECT DISTINCT entity_id FROM mentions WHERE doc_id = ? AND surface IN ('Assad', 'Bashar al-Assad', "
        "'al-Assad', 'Al-Assad')",
        [doc_id],
    )
    assert len(assad) == 1
    assert q(
        wh,
        "SELECT value, kind, qualifier, subject FROM figures WHERE doc_id = ? AND surface LIKE '%580,000%'",
        [doc_id],
    ) == [(580000.0, "count", "at least", "people")]
    assert q(wh, "SELECT name, country_code FROM mart_entities WHERE name IN ('Russia', 'Syria') ORDER BY 1") == [
        ("Russia", "RU"),
        ("Syria", "SY"),
    ]
    # every extracted row slices back to its surface (also a warehouse gate)
    assert (
        q(
            wh,
            "SELECT count(*) FROM mentions m JOIN documents d USING (doc_id) "
            'WHERE substring(d.text, m.start + 1, m."end" - m.start) <> m.surface',
        )[0][0]
        == 0
    )


def test_quality_results_recorded(seed_run):
    wh, _ = seed_run
    stages = {r[0] for r in q(wh, "SELECT DISTINCT stage FROM dq_results")}
    assert {"ingest", "normalize", "language", "dedup", "extract", "warehouse"} <= stages
    assert q(wh, "SELECT count(*) FROM dq_results WHERE NOT success AND severity = 'error'")[0][0] == 0


def test_rerun_same_input_is_a_no_op(seed_run, run_etl):
    wh, _ = seed_run
    before = q(wh, "SELECT count(*) FROM documents")[0][0]
    inputs = q(wh, "SELECT DISTINCT regexp_replace(path, '/[^/]+$', '') FROM source_files")[0][0]
    state, summary = run_etl([inputs], wh)
    assert state.is_completed(), state.message
    assert summary["counts"]["files_new"] == 0 and summary["counts"]["documents_new"] == 0
    assert q(wh, "SELECT count(*) FROM documents")[0][0] == before
    assert q(wh, "SELECT count(*) FROM runs")[0][0] == 2
    assert summary["seconds"]["extract"] < 1  # no NER work: nothing new to extract
    assert q(wh, "SELECT count(*) FROM extractions")[0][0] == 5
    # only the run's own bookkeeping was added to the published catalog: models and checks stand as published
    run_id = summary["run_id"]
    own = q(wh, "SELECT table_name FROM _partitions WHERE run_id = ? ORDER BY 1", [run_id])
    assert [r[0] for r in own] == ["dq_results", "runs", "source_files"]
    assert q(wh, "SELECT count(*) FROM dq_results WHERE run_id = ? AND stage = 'warehouse'", [run_id])[0][0] == 0
    assert q(wh, "SELECT count(*) FROM mart_documents")[0][0] == 5
    assert q(wh, "SELECT count(*) FROM stg_runs")[0][0] == 2
    assert q(wh, "SELECT count(*) FROM source_files WHERE run_id = ? AND status = 'unchanged'", [run_id])[0][0] == 6
