"""The etl flow on the hostile corpus (make_hostile.py): the run finishes, every record is a document or a
quarantine row with the reason expected for its file, good records among bad ones are loaded, file names with
quotes survive end to end, and peak memory stays under 2 GB."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
from make_hostile import DOC, build

from tests.conftest import q
from warehouse.query import run_query

MAX_RSS_BYTES = 2 * 1024**3


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, prefect_harness):
    """One flow run over the whole corpus (module-scoped: the run is the expensive part, the tests only read).

    Calls etl_flow on the thread runner, as the `run_etl` fixture does (that fixture is function-scoped, this one is
    shared): every stage, NER included, runs in this process, so the peak-memory bound below covers the whole run.
    """
    from flows.runners import configured_flow

    etl_flow = configured_flow("thread")

    corpus = tmp_path_factory.mktemp("hostile") / "corpus"
    expect = build(corpus)
    wh = tmp_path_factory.mktemp("wh")
    t = time.perf_counter()
    state = etl_flow(inputs=[str(corpus)], warehouse=str(wh), return_state=True)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {
        "corpus": corpus,
        "expect": expect,
        "wh": wh,
        "state": state,
        "seconds": seconds,
        "peak_rss": peak,
    }


def _outcomes(wh: Path, corpus: Path) -> dict[str, dict[int, str]]:
    """file (relative path) -> {record_index: 'doc' | reason_code} as the warehouse records it."""
    rows = q(
        wh,
        """SELECT s.path, r.record_index, r.doc_id, list(DISTINCT q.reason_code)
           FROM source_files s JOIN raw_documents r USING (file_id)
           LEFT JOIN quarantine q ON q.record_id = r.record_id
           WHERE s.status = 'ingested'
           GROUP BY ALL""",
    )
    out: dict[str, dict[int, str]] = {}
    for path, index, doc_id, reasons in rows:
        reasons = [x for x in reasons if x is not None]
        assert (doc_id is None) != (not reasons) or (doc_id is None and len(reasons) == 1), (path, index, reasons)
        assert len(reasons) <= 1, (path, index, reasons)
        out.setdefault(str(Path(path).relative_to(corpus)), {})[index] = DOC if doc_id else reasons[0]
    return out


def test_run_succeeds(hostile_run):
    state = hostile_run["state"]
    assert state.is_completed(), state.message
    counts = state.result()["counts"]
    assert counts["documents_new"] > 0
    assert counts["quarantined"] > 0


def test_every_record_accounted_for(hostile_run):
    wh = hostile_run["wh"]
    raw, mapped, quarantined, neither, both = q(
        wh,
        """SELECT (SELECT count(*) FROM raw_documents),
                  (SELECT count(*) FROM raw_documents WHERE doc_id IS NOT NULL),
                  (SELECT count(DISTINCT record_id) FROM quarantine WHERE record_id IS NOT NULL),
                  (SELECT count(*) FROM raw_documents r WHERE doc_id IS NULL
                     AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.record_id = r.record_id)),
                  (SELECT count(*) FROM raw_documents r WHERE doc_id IS NOT NULL
                     AND EXISTS (SELECT 1 FROM quarantine q WHERE q.record_id = r.record_id))""",
    )[0]
    assert raw == mapped + quarantined
    assert (neither, both) == (0, 0)
    n_expected = sum(len(e.records) for e in hostile_run["expect"].values())
    assert raw == n_expected


def test_each_file_has_its_expected_outcome(hostile_run):
    """Per file and record index: a document, or the specific reason code expected for that hostile input."""
    expect, corpus = hostile_run["expect"], hostile_run["corpus"]
    got = _outcomes(hostile_run["wh"], corpus)
    wanted = {name: e.records for name, e in expect.items() if e.records}
    assert got == wanted


def test_files_refused_at_discovery_are_quarantined_by_path(hostile_run):
    expect, corpus, wh = hostile_run["expect"], hostile_run["corpus"], hostile_run["wh"]
    rows = q(wh, "SELECT source_ref, reason_code FROM quarantine WHERE stage = 'discover' AND record_id IS NULL")
    got = {str(Path(ref).relative_to(corpus)): code for ref, code in rows}
    assert got == {name: e.discover for name, e in expect.items() if e.discover}


def test_every_quarantine_row_has_a_reason_and_detail(hostile_run):
    rows = q(hostile_run["wh"], "SELECT stage, reason_code, detail FROM quarantine")
    assert rows
    for stage, code, detail in rows:
        assert stage in {"discover", "ingest", "normalize", "language"}
        assert code and code.replace("_", "").isalnum() and code == code.lower()
        assert detail


def test_good_records_are_loaded_with_clean_text(hostile_run):
    expect, corpus, wh = hostile_run["expect"], hostile_run["corpus"], hostile_run["wh"]
    docs = q(
        wh,
        """SELECT s.path, d.text, d.lang FROM documents d JOIN raw_documents r USING (doc_id)
           JOIN source_files s USING (file_id)""",
    )
    by_file: dict[str, list[tuple[str, str]]] = {}
    for path, text, lang in docs:
        by_file.setdefault(str(Path(path).relative_to(corpus)), []).append((text, lang))
    for name, e in expect.items():
        texts = "\n".join(t for t, _ in by_file.get(name, []))
        for s in e.contains:
            assert s in texts, (name, s)
        for s in e.lacks:
            assert s not in texts, (name, repr(s))
        if e.lang:
            assert {lang for _, lang in by_file[name]} == {e.lang}, name


def test_no_invisible_or_control_characters_in_documents(hostile_run):
    invisible = "[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
    n_docs, bad = q(
        hostile_run["wh"],
        "SELECT count(*), count(*) FILTER (WHERE regexp_matches(text, ?)) FROM documents",
        [invisible],
    )[0]
    assert n_docs > 0 and bad == 0


def test_file_names_with_quotes_round_trip(hostile_run):
    """Paths are bound as parameters and stored verbatim; a name that looks like SQL stays data."""
    corpus, wh = hostile_run["corpus"], hostile_run["wh"]
    for name in ['quote\'s "double" `back`.txt', "x'); DROP TABLE documents; --.md", "ünïcödé ñame – 記事.txt"]:
        path = str(corpus / name)
        rows = q(wh, "SELECT s.status, s.n_records FROM source_files s WHERE s.path = ?", [path])
        assert rows == [("ingested", 1)], name
    # the read-only query path still sees every table afterwards
    cols, rows = run_query(wh, "SELECT count(*) AS n FROM documents")
    assert cols == ["n"] and rows[0][0] == hostile_run["state"].result()["counts"]["documents_total"]


def test_symlinked_directory_is_not_followed(hostile_run):
    rows = q(hostile_run["wh"], "SELECT path FROM source_files WHERE path LIKE '%inside.md'")
    assert [Path(p).relative_to(hostile_run["corpus"]).as_posix() for (p,) in rows] == ["sub dir/inside.md"]


def test_peak_memory_under_2gb(hostile_run):
    # ru_maxrss is the whole test process's peak, so it bounds the flow run's peak from above
    assert hostile_run["peak_rss"] < MAX_RSS_BYTES, f"peak RSS {hostile_run['peak_rss'] / 2**20:.0f} MiB"
    print(f"hostile run: {hostile_run['seconds']:.1f} s, peak RSS {hostile_run['peak_rss'] / 2**20:.0f} MiB")
