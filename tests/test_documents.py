"""doc ids, word counts and exact-duplicate collapsing."""

from __future__ import annotations

from transforms.documents import ExactDeduper, count_words, doc_id_for, exact_dedup


def test_doc_id_is_sha256_of_utf8_text():
    assert doc_id_for("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert doc_id_for("é") != doc_id_for("e\u0301")


def test_count_words_whitespace():
    assert count_words("The council  met,\n\non Tuesday.") == 5
    assert count_words("") == 0


def test_count_words_cjk_counts_characters_not_punctuation():
    assert count_words("市议会周二开会。") == 7
    assert count_words("東京、大阪 and Kyoto") == 6
    assert count_words("シリアの大統領") == 7


def test_exact_dedup_first_record_owns():
    res = exact_dedup([("r1", "d1"), ("r2", "d2"), ("r3", "d1"), ("r4", "d3")], known={"d3"})
    assert res.doc_of_record == {"r1": "d1", "r2": "d2", "r3": "d1", "r4": "d3"}
    assert res.owners == ["r1", "r2"]


def test_exact_dedup_empty():
    res = exact_dedup([])
    assert (res.doc_of_record, res.owners) == ({}, [])


def test_exact_dedup_in_parts_is_one_call_over_all():
    records = [("r1", "d1"), ("r2", "d2"), ("r3", "d1"), ("r4", "d3"), ("r5", "d2"), ("r6", "d4")]
    whole = exact_dedup(records, known={"d3"})
    dedup = ExactDeduper({"d3"})
    parts = [dedup.add(records[:2]), dedup.add(records[2:2]), dedup.add(records[2:5]), dedup.add(records[5:])]
    assert parts == [["r1", "r2"], [], [], ["r6"]]
    assert [r for p in parts for r in p] == whole.owners
    assert dedup.doc_of_record == whole.doc_of_record
