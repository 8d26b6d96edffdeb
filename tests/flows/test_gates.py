"""flows.gates: the frames the GX gates validate (GX on pandas; no Prefect)."""

from __future__ import annotations

import hashlib

import pandas as pd

from flows.gates import gate_frame, run_gate, suite_columns


def _doc(text: str, **extra) -> dict:
    doc_id = hashlib.sha256(text.encode()).hexdigest()
    return {"doc_id": doc_id, "record_id": "r-" + doc_id[:6], "text": text, "n_words": len(text.split()),
            "n_chars": len(text), "title": "t", "raw_text": text * 3, **extra}  # fmt: skip


def test_suite_columns_are_the_row_key_and_the_expectations_columns():
    assert suite_columns("ingest") == ("record_id", "file_id", "record_index")
    assert suite_columns("normalize") == ("doc_id", "record_id", "n_chars", "n_words")
    assert suite_columns("extract_mentions")[:4] == ("row_key", "doc_id", "start", "end")


def test_gate_frame_keeps_only_what_the_suite_reads_and_validates_the_same():
    rows = [_doc("Three words here."), _doc("Two words"), _doc("A longer text of six words.")]
    frame = gate_frame("normalize", rows)
    assert list(frame.columns) == ["doc_id", "record_id", "n_chars", "n_words"]  # not the texts
    assert frame["n_words"].tolist() == [3, 2, 6]
    projected, full = run_gate("normalize", frame), run_gate("normalize", pd.DataFrame(rows))
    assert projected.results == full.results
    assert projected.warned_rows == full.warned_rows == {rows[1]["doc_id"]: "dq_out_of_range_n_words"}
    assert not projected.errors


def test_gate_frame_leaves_a_column_no_row_has_absent():
    rows = [{"record_id": "a", "record_index": 0}, {"record_id": "b", "record_index": 1, "raw_text": "x"}]
    assert list(gate_frame("ingest", rows).columns) == ["record_id", "record_index"]


def _mention(i: int) -> dict:
    return {"row_key": f"k{i}", "doc_id": f"d{i // 10}", "start": i, "end": i + 5, "sentence": 0, "label": "PERSON",
            "entity_id": f"e{i}", "surface": "John Smith"}  # fmt: skip


def test_the_basic_first_pass_gives_the_complete_formats_results_and_warned_rows(monkeypatch):
    """A gate validates in GX's BASIC format and again in COMPLETE only when an expectation failed: its dq_results
    rows, errors and warned rows are those of validating in COMPLETE every time, passing or not."""
    import flows.gates as gates

    passing = [_doc("Three words here."), _doc("A longer text of six words.")]
    warned = [*passing, _doc("Two words")]  # n_words below the suite's minimum: a warning
    cases = [("normalize", passing), ("normalize", warned), ("extract_mentions", [_mention(i) for i in range(300)]),
             ("extract_mentions", [_mention(i) for i in range(30)] + [{**_mention(99), "start": None}]),
             ("ingest", [{"record_id": "a", "file_id": "f", "record_index": 0}])]  # fmt: skip
    basic = [gates.run_gate(stage, gate_frame(stage, rows)) for stage, rows in cases]
    monkeypatch.setattr(gates, "FIRST_PASS", {"result_format": "COMPLETE", "unexpected_index_column_names": []})
    complete = [gates.run_gate(stage, gate_frame(stage, rows)) for stage, rows in cases]
    for (stage, _), b, c in zip(cases, basic, complete, strict=True):
        assert (b.results, b.errors, b.warned_rows) == (c.results, c.errors, c.warned_rows), stage
    assert [bool(b.warned_rows or b.errors) for b in basic] == [False, True, False, True, False]
    assert all(r["success"] for r in basic[0].results) and basic[1].warned_rows == {
        warned[2]["doc_id"]: "dq_out_of_range_n_words"
    }
