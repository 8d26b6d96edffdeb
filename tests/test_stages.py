"""Batch-level stage functions: results must not depend on how records are split into batches."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow.parquet as pq

from transforms.boilerplate import flag_repeated, line_counts, merge_line_counts
from transforms.readers import hash_file
from transforms.records import RawRecord
from transforms.stages import find_repeated_lines, ingest_files, ingest_table, normalize_records, normalize_table
from warehouse import schema

FOOTER = "Subscribe to the Daily Wire newsletter for more stories like this one"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _records() -> list[RawRecord]:
    body = "The council met on Tuesday to discuss the budget for the coming year and approved it. "
    recs = [
        RawRecord(f"f:{i}", "f", i, f"Story {i}\n\n{body * 3}{i}\n\n{FOOTER}", url=f"https://wire.example/{i}")
        for i in range(6)
    ]
    # an exact copy of record 0 arriving later, in what would be another batch
    recs.append(RawRecord("f:6", "f", 6, recs[0].text, url="https://wire.example/0-copy"))
    return recs


def test_repeated_line_detected_across_the_whole_run():
    repeated = find_repeated_lines(_records(), {})
    assert repeated == {"wire.example": frozenset({FOOTER})}


def test_normalization_does_not_depend_on_batches():
    recs = _records()
    repeated = find_repeated_lines(recs, {})
    whole = normalize_records(recs, {}, NOW, "r", repeated)
    split = [normalize_records(part, {}, NOW, "r", repeated) for part in (recs[:2], recs[2:5], recs[5:])]
    assert [d["doc_id"] for d in whole.docs] == [d["doc_id"] for b in split for d in b.docs]
    assert whole.docs[0]["doc_id"] == whole.docs[6]["doc_id"]  # the copy is the same document
    assert all(FOOTER not in d["text"] for d in whole.docs)
    assert {b["rule"] for b in whole.boilerplate} == {"repeated_line"}


def test_line_counts_of_parts_add_up_to_the_whole():
    pairs = [("a", ["x", "y", ""]), ("a", ["x", "x"]), ("b", ["x", "z" * 300]), ("a", ["y"])]
    whole = line_counts(pairs)
    merged = line_counts(pairs[:1])
    merge_line_counts(merged, line_counts(pairs[1:3]))
    merge_line_counts(merged, line_counts(pairs[3:]))
    assert merged == whole == ({"a": {"x": 2, "y": 2}, "b": {"x": 1}}, {"a": 3, "b": 1})
    assert flag_repeated(*whole, min_docs=2, min_share=0.6) == {"a": frozenset({"x", "y"})}


def _jsonl_files(tmp_path) -> list:
    recs = _records()
    paths = []
    for k, part in enumerate((recs[:4], recs[4:])):
        path = tmp_path / f"part{k}.jsonl"
        lines = [json.dumps({"text": r.text, "title": f"T{r.record_index}", "url": r.url}) for r in part]
        lines.append("{not json")  # a broken record: rejected at ingest
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return [hash_file(str(p)) for p in paths]


def test_arrow_stages_give_the_rows_of_the_row_stages(tmp_path):
    """What a worker returns as Arrow (ingest_table, then normalize_table reading a spill file in two row
    groups) is what ingest_files and normalize_records give as rows."""
    files = _jsonl_files(tmp_path)
    paths = {f.file_id: f.path for f in files}
    rows = ingest_files(files)
    got = ingest_table(files, 10**6, "r")
    assert got.raw.schema == schema.TABLES["raw_documents"][0]
    assert got.raw.column("record_id").to_pylist() == [r.record_id for r in rows.records + rows.rejections]
    assert got.raw.column("raw_text").to_pylist() == [r.text for r in rows.records] + [
        r.raw_text for r in rows.rejections
    ]
    assert [r.reason_code for r in got.rejections] == [r.reason_code for r in rows.rejections] != []
    assert got.n_records_by_file == rows.n_records_by_file
    repeated = flag_repeated(*got.lines)
    assert repeated == find_repeated_lines(rows.records, paths) != {}

    spill = tmp_path / "spill.parquet"
    with pq.ParquetWriter(spill, got.raw.schema) as writer:
        writer.write_table(got.raw.slice(0, 5))
        writer.write_table(got.raw.slice(5))
    skip = frozenset(r.record_id for r in got.rejections)
    parts = [normalize_table(spill, [g], skip, paths, NOW, "r", repeated) for g in (0, 1)]
    expected = normalize_records(rows.records, paths, NOW, "r", repeated)
    assert [d for p in parts for d in p.docs.to_pylist()] == schema.to_table("documents", expected.docs).to_pylist()
    bp = [b for p in parts for b in p.boilerplate.to_pylist()]
    assert bp == schema.to_table("boilerplate_lines", expected.boilerplate).to_pylist() != []
