"""Batch-level stage functions: results must not depend on how records are split into batches."""

from __future__ import annotations

from datetime import UTC, datetime

from transforms.boilerplate import flag_repeated, line_counts, merge_line_counts
from transforms.records import RawRecord
from transforms.stages import find_repeated_lines, normalize_records

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


def test_a_records_source_is_its_url_host_else_its_file_and_a_malformed_url_names_none():
    from transforms.stages import source_key

    assert source_key("https://News.Example.com:8080/a?b", "f.jsonl") == "news.example.com"
    assert source_key(None, "f.jsonl") == source_key("", "f.jsonl") == source_key("no-scheme", "f.jsonl") == "f.jsonl"
    assert source_key("http://[x", "f.jsonl") == "f.jsonl"  # urlsplit raises ValueError: it ended the ingest task
