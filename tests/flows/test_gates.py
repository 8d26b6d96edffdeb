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
