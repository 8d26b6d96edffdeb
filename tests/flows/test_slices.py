"""Extract slices: `--batch-size` documents each, fewer for a small run so that every worker gets work."""

from __future__ import annotations

import types

import pytest

from flows.run import (
    MIN_SHARD_BYTES,
    MIN_SHARDS,
    MIN_SLICE,
    extract_slices,
    pending_documents,
    shard_size,
    slice_documents,
    slice_size,
)
from warehouse.staging import WorkArea


@pytest.mark.parametrize(
    ("batch", "docs", "workers", "size"),
    [
        (250, 10_000, 2, 250),  # a large run: the batch size
        (250, 92, 2, 23),  # 100 new records on 2 workers: 4 slices, not 1
        (250, 944, 2, 236),
        (250, 20, 2, MIN_SLICE),  # never below one nlp.pipe batch...
        (2, 5, 2, 2),  # ...unless the batch size is
        (250, 92, 16, MIN_SLICE),
    ],
)
def test_slice_size(batch, docs, workers, size):
    assert slice_size(batch, docs, workers) == size


def test_slices_cover_each_shards_documents_once_in_order():
    ctx = types.SimpleNamespace(batch_size=250)
    per_shard = {"00000": 60, "00001": 0, "00002": 32}
    docs = {k: f"/w/normalize/{k}.docs.parquet" for k in per_shard}
    langs = {"files": {f"lang-{k}": f"/w/language/{k}.lang.parquet" for k in per_shard}}
    slices = extract_slices(ctx, per_shard, docs, {k: f"/w/c-{k}" for k in per_shard}, langs, workers=2)
    assert [(key, args[1], args[2]) for key, args in slices] == [
        ("00000-0000000-0000023", 0, 23), ("00000-0000023-0000046", 23, 46), ("00000-0000046-0000060", 46, 60),
        ("00002-0000000-0000023", 0, 23), ("00002-0000023-0000032", 23, 32),
    ]  # fmt: skip
    assert all(args[0] == key and args[3]["docs"] == docs[key[:5]] for key, args in slices)
    # other settings, other ranges, other keys: a resumed run never takes a slice of another size for its own
    other = extract_slices(types.SimpleNamespace(batch_size=20), per_shard, docs, {}, langs, workers=2)
    assert {key for key, _ in other}.isdisjoint(key for key, _ in slices)


def test_a_resumed_run_counts_only_the_documents_of_slices_not_yet_done(tmp_path):
    """`pending_documents` decides whether a run restarts its workers before extract (flows.runners.fresh_workers):
    a resumed run whose earlier attempt extracted some slices counts only the others, and none when all are done."""
    ctx = types.SimpleNamespace(batch_size=250, work=WorkArea(str(tmp_path / "work")))
    per_shard = {"00000": 60, "00002": 32}
    docs = {k: f"/w/normalize/{k}.docs.parquet" for k in per_shard}
    langs = {"files": {}}
    slices = extract_slices(ctx, per_shard, docs, {}, langs, workers=2)  # 23 + 23 + 14 and 23 + 9 documents
    assert pending_documents(ctx, slices) == slice_documents(slices) == 92
    ctx.work.finish("extract", "00000-0000023-0000046", {"rows": {}})
    ctx.work.finish("extract", "00002-0000023-0000032", {"rows": {}})
    assert pending_documents(ctx, slices) == 92 - 23 - 9
    for key, _ in slices:
        ctx.work.finish("extract", key, {"rows": {}})
    assert pending_documents(ctx, slices) == 0
    assert slice_documents(slices) == 92  # keep_one_worker's count: every slice, done or not


@pytest.mark.parametrize(
    ("total", "size"),
    [
        (300 << 20, 4 << 20),  # a large input: shards of NEWSETL_SHARD_BYTES
        (24 << 20, (24 << 20) // MIN_SHARDS),  # the 10k bench corpus (23.8 MB): MIN_SHARDS shards
        (1 << 20, MIN_SHARD_BYTES),  # a small one: never below 256 KiB
    ],
)
def test_shard_size(total, size):
    files = [types.SimpleNamespace(bytes=total // 2), types.SimpleNamespace(bytes=total - total // 2)]
    assert shard_size(files, 4 << 20) == size


def test_a_small_input_in_few_shards_still_gives_each_of_16_workers_two_extract_slices():
    """The shards are planned from the input alone (MIN_SHARDS of them for 1,416 documents), the extract slices
    from the documents and the workers: a cluster larger than MIN_SHARDS still extracts on every worker."""
    ctx = types.SimpleNamespace(batch_size=250)
    per_shard = {f"{i:05d}": 1416 // MIN_SHARDS for i in range(MIN_SHARDS)}
    docs = {k: f"/w/normalize/{k}.docs.parquet" for k in per_shard}
    slices = extract_slices(ctx, per_shard, docs, {}, {"files": {}}, workers=16)
    assert len(slices) >= 2 * 16
    assert slice_documents(slices) == sum(per_shard.values())


def test_each_slice_reads_its_documents_language_and_canonical_mark_in_record_order(tmp_path):
    """`_documents` over slices of a shard: the documents of [start, stop) among the shard's new ones, each with its
    language and whether it is its cluster's canonical (the clusters and languages files list other orders)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from flows.extract import _documents

    ids = [f"d{i:02d}" for i in range(40)]
    new = [d for i, d in enumerate(ids) if i % 5 != 4]  # every fifth document was published before: not new
    members = set(new[1::3])  # near-duplicates of some canonical
    files = {"docs": str(tmp_path / "docs.parquet"), "clusters": str(tmp_path / "c.parquet"),
             "lang": str(tmp_path / "l.parquet")}  # fmt: skip
    pq.write_table(pa.table({"doc_id": ids, "text": ids, "lang": [None] * 40, "lang_prob": [None] * 40}), files["docs"])
    rev = new[::-1]
    pq.write_table(pa.table({"doc_id": rev, "is_canonical": [d not in members for d in rev]}), files["clusters"])
    pq.write_table(
        pa.table({"doc_id": rev, "lang": [f"l{d}" for d in rev], "lang_prob": [0.9] * len(rev)}), files["lang"]
    )
    seen = []
    for start in range(0, len(new), 7):
        docs, canonical = _documents(files, start, min(len(new), start + 7))
        got = docs.column("doc_id").to_pylist()
        assert docs.column("lang").to_pylist() == [f"l{d}" for d in got]
        assert canonical.to_pylist() == [d not in members for d in got]
        seen += got
    assert seen == new and 0 < len(members) < len(new)
