"""flows.etl's streaming helpers: extraction chunks read back from the documents file, raw texts from the spill."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from flows.etl import _chunks, _spill_raw_texts, _with_raw_texts
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


def test_raw_texts_come_back_in_pieces_with_their_rows(tmp_path):
    rows = _raw_rows(23)
    expected = schema.to_table("raw_documents", rows)
    path = tmp_path / "spill.parquet"
    table = _spill_raw_texts(rows, path, step=4)
    assert rows == []  # emptied: the texts are in the file, the rest in the table
    assert table.column("raw_text").null_count == 23
    assert table.drop_columns("raw_text").equals(expected.drop_columns("raw_text"))
    pieces = list(_with_raw_texts(table, path, step=5))
    assert [p.num_rows for p in pieces] == [5, 5, 5, 5, 3]
    assert pa.concat_tables(pieces).combine_chunks().equals(expected)


def test_raw_texts_refuse_rows_out_of_spill_order_or_missing(tmp_path):
    path = tmp_path / "spill.parquet"
    table = _spill_raw_texts(_raw_rows(6), path)
    with pytest.raises(RuntimeError, match="order"):
        list(_with_raw_texts(table.take([1, 0, 2, 3, 4, 5]), path))
    longer = pa.concat_tables([table, table.slice(0, 1)])
    with pytest.raises(RuntimeError, match="no spilled text"):
        list(_with_raw_texts(longer, path))
