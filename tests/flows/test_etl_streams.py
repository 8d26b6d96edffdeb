"""flows.etl's streaming helpers: extraction chunks read back from the documents file, raw texts from the spill."""

from __future__ import annotations

import itertools
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.etl import _apply_warnings, _chunks, _RawSpill, _Run, _with_raw_texts
from flows.gates import GateResult
from warehouse import schema


@pytest.mark.parametrize("seed", range(6))
def test_chunks_are_the_masked_rows_in_order_in_fixed_sizes(seed):
    rnd = random.Random(seed)
    n, size = rnd.randint(0, 120), rnd.randint(1, 17)
    table = pa.table({"doc_id": [f"d{i}" for i in range(n)], "text": [f"text {i}" for i in range(n)]})
    keep, k = [rnd.random() < 0.7 for _ in range(n)], rnd.randint(0, n)
    mask = pa.chunked_array([pa.array(keep[:k], pa.bool_()), pa.array(keep[k:], pa.bool_())])  # as is_in gives
    batch_size = rnd.randint(1, 30)
    chunks = list(_chunks(iter(table.to_batches(max_chunksize=batch_size)), mask, size))
    assert all(c.num_rows == size for c in chunks[:-1])
    assert not chunks or 0 < chunks[-1].num_rows <= size
    got = pa.concat_tables(chunks).combine_chunks() if chunks else table.slice(0, 0)
    assert got.equals(table.filter(mask))


def _raw_rows(n: int) -> list[dict]:
    return [
        {"record_id": f"r{i}", "file_id": "f", "record_index": i, "raw_text": f"raw {i} é", "run_id": "x"}
        for i in range(n)
    ]


def _spill(path, rows: list[dict], group_rows: int = 500, splits: tuple[int, ...] = ()) -> tuple[pa.Table, _RawSpill]:
    table, spill = schema.to_table("raw_documents", rows), _RawSpill(path, group_rows)
    for a, b in zip((0, *splits), (*splits, len(rows)), strict=True):
        spill.add(table.slice(a, b - a))
    return spill.close(), spill


def test_raw_texts_come_back_in_pieces_with_their_rows(tmp_path):
    rows = _raw_rows(23)
    expected = schema.to_table("raw_documents", rows)
    path = tmp_path / "spill.parquet"
    table, spill = _spill(path, rows, group_rows=4, splits=(10,))  # two ingest batches of 10 and 13 rows
    assert spill.group_sizes == [4, 4, 2, 4, 4, 4, 1]  # a row group never spans two batches
    assert pq.ParquetFile(path).metadata.num_row_groups == 7
    assert pq.read_table(path).equals(expected)  # the file holds the whole rows, texts included
    assert table.column("raw_text").null_count == 23
    assert table.drop_columns("raw_text").equals(expected.drop_columns("raw_text"))
    pieces = list(_with_raw_texts(table, path, step=5))
    assert [p.num_rows for p in pieces] == [8, 6, 8, 1]  # whole row groups, gathered up to at least 5 rows
    assert pa.concat_tables(pieces).combine_chunks().equals(expected)


def test_raw_texts_refuse_rows_out_of_spill_order_or_missing(tmp_path):
    path = tmp_path / "spill.parquet"
    table, _ = _spill(path, _raw_rows(6))
    with pytest.raises(RuntimeError, match="order"):
        list(_with_raw_texts(table.take([1, 0, 2, 3, 4, 5]), path))
    longer = pa.concat_tables([table, table.slice(0, 1)])
    with pytest.raises(RuntimeError, match="no spilled text"):
        list(_with_raw_texts(longer, path))


def test_an_empty_spill_is_an_empty_table(tmp_path):
    table, spill = _spill(tmp_path / "spill.parquet", [])
    assert table.num_rows == 0 and spill.group_sizes == []
    assert list(_with_raw_texts(table, spill.path)) == []


@pytest.mark.parametrize("seed", range(6))
def test_file_batches_keep_order_and_bounds(seed):
    from flows.etl import _file_batches
    from transforms.readers import InputFile

    rnd = random.Random(seed)
    files = [
        InputFile(f"/in/{i}.txt", f"{i:064x}", rnd.choice([10, 100, 700, 3000]), "txt")
        for i in range(rnd.randint(0, 40))
    ]
    max_files, max_bytes = rnd.randint(1, 6), 1000
    batches = _file_batches(files, max_files, max_bytes)
    assert [f for b in batches for f in b] == files
    for b in batches:
        assert 0 < len(b) <= max_files
        assert len(b) == 1 or sum(f.bytes for f in b) <= max_bytes  # only a file over the budget stands alone
    for b, nxt in itertools.pairwise(batches):  # a batch is cut only when the next file would not fit
        assert len(b) == max_files or sum(f.bytes for f in b) + nxt[0].bytes > max_bytes


@pytest.mark.parametrize("packed", [True, False])
def test_warned_documents_go_to_quarantine_with_their_records_and_lines(packed):
    run = _Run("run1", store=None)
    lines = [{"doc_id": d, "line_no": i, "text": f"line of {d}", "rule": "share_footer"} for i, d in enumerate("abbc")]
    run.tables["boilerplate_lines"] = schema.to_table("boilerplate_lines", lines) if packed else lines
    docs = pa.table({"doc_id": ["a", "b", "c"], "text": ["x", "y", "z"]})
    doc_of = {"r1": "a", "r2": "b", "r3": "b", "r4": "c"}
    res = GateResult("language", [], warned_rows={"b": "dq_bad"})
    kept = _apply_warnings(run, res, docs, doc_of, "language")
    assert kept.column("doc_id").to_pylist() == ["a", "c"]
    assert run.tables["boilerplate_lines"].column("doc_id").to_pylist() == ["a", "c"]
    assert doc_of == {"r1": "a", "r2": None, "r3": None, "r4": "c"}
    q = run.tables["quarantine"]
    assert [(r["record_id"], r["reason_code"], r["stage"]) for r in q] == [
        ("r2", "dq_bad", "language"),
        ("r3", "dq_bad", "language"),
    ]
