"""Shards: pieces of large files read back exactly the records of the whole file, at every cut size."""

from __future__ import annotations

import csv
import io
import json
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.readers import hash_file, read_file, read_piece
from transforms.records import RawRecord
from transforms.shards import Piece, plan_shards, record_starts, split_file


def items(f, pieces=None) -> list[tuple]:
    """(record_id, type, text or reason) of every item read, whole or piece by piece."""
    got = read_file(f) if pieces is None else (x for p in pieces for x in read_piece(f, p.start, p.end, p.first_index))
    return [(x.record_id, type(x).__name__, x.text if isinstance(x, RawRecord) else x.reason_code) for x in got]


def jsonl_file(tmp_path: Path, n: int, final_newline: bool = True) -> Path:
    lines = []
    for i in range(n):
        if i % 7 == 3:
            lines.append("")  # a blank line keeps its index
        elif i % 11 == 5:
            lines.append("{not json")
        else:
            lines.append(json.dumps({"text": f"Article {i} " + "word " * (i % 13), "title": f"T{i}"}))
    p = tmp_path / "big.jsonl"
    p.write_text("\n".join(lines) + ("\n" if final_newline else ""), encoding="utf-8")
    return p


@pytest.mark.parametrize("target", [1, 50, 333, 10_000])
@pytest.mark.parametrize("final_newline", [True, False])
def test_jsonl_pieces_read_the_same_records_as_the_whole_file(tmp_path, target, final_newline):
    f = hash_file(str(jsonl_file(tmp_path, 120, final_newline)))
    pieces = list(split_file(f, target))
    if target < f.bytes:
        assert len(pieces) > 1
        assert [p.start for p in pieces] == sorted(p.start for p in pieces)
        assert pieces[-1].end == f.bytes and all(a.end == b.start for a, b in pairwise(pieces))
    assert items(f, pieces) == items(f)


def test_csv_pieces_never_cut_a_quoted_field_and_keep_the_header(tmp_path):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["title", "text"])
    for i in range(80):
        text = f'Line one of {i}\nline "two" of {i}, with a comma' if i % 3 == 0 else f"Plain text number {i}"
        w.writerow([f"T{i}", text])
    p = tmp_path / "big.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    f = hash_file(str(p))
    for target in (1, 64, 500):
        pieces = list(split_file(f, target))
        assert len(pieces) > 1
        assert items(f, pieces) == items(f)
        assert len(items(f, pieces)) == 80


def test_record_starts_count_records_not_lines(tmp_path):
    p = tmp_path / "q.csv"
    p.write_bytes(b'h1,text\n1,"a\nb"\n2,c\n3,"d ""e""\nf"\n')
    starts = record_starts(str(p), 1, quoted=True, skip_first=True)
    assert starts == [(8, 0), (16, 1), (20, 2)]
    assert record_starts(str(p), 1, quoted=False, skip_first=False)[:3] == [(0, 0), (8, 1), (13, 2)]


def test_parquet_pieces_are_row_groups(tmp_path):
    p = tmp_path / "big.parquet"
    table = pa.table(
        {"text": [f"Story {i} " + "x " * 50 for i in range(1000)], "title": [f"T{i}" for i in range(1000)]}
    )
    pq.write_table(table, p, row_group_size=100)
    f = hash_file(str(p))
    pieces = list(split_file(f, f.bytes // 4))
    assert 2 <= len(pieces) <= 10
    assert pieces[0].first_index == 0 and pieces[1].first_index == pieces[0].end * 100
    assert items(f, pieces) == items(f)


def test_utf16_and_unsplittable_formats_stay_whole(tmp_path):
    lines = "\n".join(json.dumps({"text": f"x{i}"}) for i in range(200))
    wide = []
    for enc in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):  # with a BOM, and UTF-16 without
        wide.append(tmp_path / f"{enc}.jsonl")
        wide[-1].write_bytes(lines.encode(enc))
    gz = tmp_path / "a.txt"
    gz.write_text("hello " * 1000, encoding="utf-8")
    for path in (*wide, gz):
        assert list(split_file(hash_file(str(path)), 10)) == [Piece(hash_file(str(path)))], path.name
    for path in wide:  # and read whole: 200 records
        assert [type(i).__name__ for i in read_file(hash_file(str(path)))] == ["RawRecord"] * 200, path.name


def test_plan_packs_small_files_and_cuts_large_ones(tmp_path):
    small = []
    for i in range(5):
        s = tmp_path / f"s{i}.txt"
        s.write_text("short article text " * 5, encoding="utf-8")
        small.append(hash_file(str(s)))
    big = hash_file(str(jsonl_file(tmp_path, 300)))
    shards = plan_shards([*small, big], shard_bytes=big.bytes // 3, shard_files=3)
    assert [s.index for s in shards] == list(range(len(shards)))
    assert [len(s.pieces) for s in shards[:2]] == [3, 2]  # 3 files at most; big's first piece does not fit beside 2
    big_pieces = [p for s in shards for p in s.pieces if p.file == big]
    assert len(big_pieces) >= 3
    assert all(s.bytes <= big.bytes // 3 + 400 for s in shards)  # a piece ends at the record after the cut
    assert plan_shards([*small, big], shard_bytes=big.bytes // 3, shard_files=3) == shards  # deterministic
