"""warehouse/neardup.py on an in-memory DuckDB: seeds and their copies, incremental runs, shared passages."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from warehouse import neardup

SEEDS = sorted((Path(__file__).resolve().parents[1] / "seeds").glob("*.txt"))
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _docs(texts: list[str], day: int = 0) -> pa.Table:
    return pa.table(
        {
            "doc_id": [hashlib.sha256(t.encode()).hexdigest() for t in texts],
            "text": texts,
            "n_words": pa.array([len(t.split()) for t in texts], pa.int64()),
            "first_seen": pa.array([T0 + dt.timedelta(days=day)] * len(texts), pa.timestamp("us", tz="UTC")),
        }
    )


def _doc_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _edited(text: str, rate: float, seed: int, footer: str) -> str:
    rng = np.random.default_rng(seed)
    words = text.split(" ")
    return " ".join(w if rng.random() > rate else "replaced" for w in words) + "\n\n" + footer


def _publish(con: duckdb.DuckDBPyConnection, docs: pa.Table, result: neardup.NearDupResult) -> None:
    """What the store does: append the run's rows to the prior relations."""
    for name, table in (
        ("documents", docs.select(["doc_id", "text", "n_words", "first_seen"])),
        ("dup_clusters", result.dup_clusters),
        ("doc_signatures", result.doc_signatures),
        ("shared_passages", result.shared_passages),
    ):
        con.register("_rows", table)
        con.execute(f"INSERT INTO {name} SELECT * FROM _rows")
        con.unregister("_rows")


@pytest.fixture
def con():
    c = duckdb.connect()
    neardup.empty_state(c)
    yield c
    c.close()


@pytest.fixture(scope="module")
def seeds() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in SEEDS]


def _by_doc(result: neardup.NearDupResult) -> dict[str, dict]:
    return {r["doc_id"]: r for r in result.dup_clusters.to_pylist()}


def test_seeds_with_edited_and_truncated_copies_make_five_clusters(con, seeds):
    edited = _edited(seeds[1], 0.05, seed=1, footer="© 2024 Other Wire. All rights reserved.")
    truncated = seeds[3][: len(seeds[3]) // 2]
    docs = _docs([*seeds, edited, truncated])
    res = neardup.assign_near_duplicates(con, docs)
    rows = _by_doc(res)

    assert res.dup_clusters.schema == neardup.DUP_CLUSTERS_SCHEMA
    assert len(rows) == 7
    assert len({r["cluster_id"] for r in rows.values()}) == 5
    seed_ids = [_doc_id(t) for t in seeds]
    assert len({rows[d]["cluster_id"] for d in seed_ids}) == 5  # the three Moscow reports stay apart
    assert rows[_doc_id(edited)]["cluster_id"] == rows[seed_ids[1]]["cluster_id"]
    assert rows[_doc_id(truncated)]["cluster_id"] == rows[seed_ids[3]]["cluster_id"]
    # the truncated copy has fewer words: the full seed stays canonical
    t = rows[_doc_id(truncated)]
    assert t["canonical_doc_id"] == seed_ids[3]
    assert t["method"] in ("near", "contained")
    assert 0.3 < t["similarity"] <= 1.0
    assert rows[seed_ids[3]]["method"] == "exact"
    assert rows[seed_ids[3]]["similarity"] == 1.0
    # edited copy gained a footer: more words, so it is canonical by the rule and the seed is 'near'
    assert rows[seed_ids[1]]["canonical_doc_id"] == _doc_id(edited)
    assert rows[seed_ids[1]]["method"] == "near"
    assert 0.4 < rows[seed_ids[1]]["similarity"] < 1.0
    for r in rows.values():  # every doc: one row, its canonical is in its own cluster
        assert rows[r["canonical_doc_id"]]["cluster_id"] == r["cluster_id"]
    assert res.stats["verified_pairs"] == 2
    assert res.doc_signatures.num_rows == 7


def test_short_excerpt_joins_by_containment(con, seeds):
    # the first ~18 % of a seed: Jaccard ~0.18 is below the threshold, containment is 1.0
    excerpt = " ".join(seeds[4].split(" ")[:130])
    res = neardup.assign_near_duplicates(con, _docs([*seeds, excerpt]))
    row = _by_doc(res)[_doc_id(excerpt)]
    assert row["canonical_doc_id"] == _doc_id(seeds[4])
    assert row["method"] == "contained"
    assert row["similarity"] == pytest.approx(1.0)


def test_incremental_near_copy_joins_old_cluster_and_old_canonical_stays(con, seeds):
    first = _docs(seeds, day=0)
    r1 = neardup.assign_near_duplicates(con, first)
    assert r1.dup_clusters.column("method").to_pylist() == ["exact"] * 5
    _publish(con, first, r1)

    # a longer near-copy of seed 0 (extra footer) and an unrelated new text
    copy = _edited(seeds[0], 0.03, seed=2, footer="Read more at Another Site. " * 8)
    other = " ".join(f"token{i}" for i in range(300))
    second = _docs([copy, other], day=1)
    r2 = neardup.assign_near_duplicates(con, second)
    rows = _by_doc(r2)
    assert set(rows) == {_doc_id(copy), _doc_id(other)}  # rows for the new docs only
    old = con.execute(
        "SELECT cluster_id, canonical_doc_id FROM dup_clusters WHERE doc_id = ?", [_doc_id(seeds[0])]
    ).fetchall()[0]
    c = rows[_doc_id(copy)]
    assert (c["cluster_id"], c["canonical_doc_id"]) == old
    assert c["canonical_doc_id"] == _doc_id(seeds[0])  # stability wins over "most words"
    assert c["method"] == "near"
    assert r2.stats["joined_prior_clusters"] == 1
    o = rows[_doc_id(other)]
    assert (o["cluster_id"], o["canonical_doc_id"], o["method"]) == (_doc_id(other), _doc_id(other), "exact")
    _publish(con, second, r2)
    n = con.execute("SELECT count(DISTINCT cluster_id), count(*) FROM dup_clusters").fetchall()[0]
    assert n == (6, 7)


def test_rerun_is_deterministic(con, seeds):
    docs = _docs(seeds[:3])
    a = neardup.assign_near_duplicates(con, docs)
    b = neardup.assign_near_duplicates(con, docs.take([2, 0, 1]))
    assert a.dup_clusters.equals(b.dup_clusters)
    assert a.doc_signatures.equals(b.doc_signatures)


def test_shared_passages_between_different_articles_incremental(con, seeds):
    quote = (
        '"We have never discussed any timetable for leaving, and no one in Moscow has ever asked '
        'us to," the spokesman said in a statement carried by the state agency.'
    )
    a = f"{seeds[0]}\n{quote}\n"
    first = _docs([a])
    r1 = neardup.assign_near_duplicates(con, first)
    assert r1.shared_passages.num_rows == 0
    _publish(con, first, r1)
    b = f"{seeds[2]}\n\n   {quote}\n"
    r2 = neardup.assign_near_duplicates(con, _docs([b], day=1))
    assert r2.dup_clusters.column("cluster_id").to_pylist() != r1.dup_clusters.column("cluster_id").to_pylist()
    sp = r2.shared_passages.to_pylist()
    assert r2.shared_passages.schema == neardup.SHARED_PASSAGES_SCHEMA
    assert [(r["doc_id"], r["other_doc_id"]) for r in sp] == sorted(
        [(_doc_id(a), _doc_id(b)), (_doc_id(b), _doc_id(a))]
    )
    for r in sp:
        text = a if r["doc_id"] == _doc_id(a) else b
        other = b if r["doc_id"] == _doc_id(a) else a
        assert text[r["start"] : r["end"]] == quote
        assert other[r["other_start"] : r["other_end"]] == quote
        assert r["n_chars"] == len(quote)


def test_passages_shared_by_duplicates_are_not_reported(con, seeds):
    copy = _edited(seeds[2], 0.02, seed=3, footer="Syndicated.")
    res = neardup.assign_near_duplicates(con, _docs([seeds[2], copy]))
    assert len(set(res.dup_clusters.column("cluster_id").to_pylist())) == 1
    assert res.shared_passages.num_rows == 0


def test_scheme_mismatch_is_refused(con, seeds):
    docs = _docs(seeds[:1])
    r1 = neardup.assign_near_duplicates(con, docs)
    _publish(con, docs, r1)
    with pytest.raises(ValueError, match="scheme"):
        neardup.assign_near_duplicates(con, _docs(seeds[1:2]), params=neardup.DedupParams(k=3))


def test_empty_input_and_empty_texts(con):
    res = neardup.assign_near_duplicates(con, _docs([]))
    assert res.dup_clusters.num_rows == 0
    assert res.doc_signatures.schema == neardup.DOC_SIGNATURES_SCHEMA
    res = neardup.assign_near_duplicates(con, _docs(["", "   ", "..."]))
    # texts without words are never banded: each is its own cluster
    assert res.dup_clusters.column("method").to_pylist() == ["exact"] * 3
    assert res.stats["candidate_pairs"] == 0


def test_scheme_names_the_signature_algorithm():
    # v2 (one permutation hashing) signatures are not comparable with v1: the scheme check refuses mixing
    assert neardup.DedupParams().scheme.startswith("minhash-v2-oph:")


def _variants(seeds: list[str]) -> list[str]:
    """Per seed: edited copies, a truncation and a short excerpt: many candidate pairs, most sharing many bands."""
    out = []
    for s, text in enumerate(seeds):
        out += [_edited(text, rate, seed=10 * s + i, footer=f"Wire {i}.") for i, rate in enumerate((0.02, 0.05, 0.1))]
        out += [text[: len(text) // 2], " ".join(text.split(" ")[:130])]
    return out


def _candidate_pairs(sigs: pa.Table, earlier: pa.Table | None = None) -> tuple[int, int]:
    """Pairs of documents sharing a band hash, at least one of them in ``sigs``, and the rows of the band join
    (one per shared band), counted by brute force."""
    new = [set(b) for b in sigs.column("bands").to_pylist()]
    old = [set(b) for b in earlier.column("bands").to_pylist()] if earlier is not None else []
    shared = [len(a & b) for i, a in enumerate(new) for b in new[i + 1 :]] + [len(a & b) for a in new for b in old]
    return sum(k > 0 for k in shared), sum(shared)


def _run_both(con, docs: pa.Table, monkeypatch) -> tuple[neardup.NearDupResult, neardup.NearDupResult]:
    whole = neardup.assign_near_duplicates(con, docs)
    with monkeypatch.context() as m:  # many tiny batches and chunks, and no shingle reuse
        m.setattr(neardup, "PAIR_BATCH", 3)
        m.setattr(neardup, "ROW_CHUNK", 2)
        m.setattr(neardup, "SHINGLE_CACHE", 1)
        batched = neardup.assign_near_duplicates(con, docs)
    return whole, batched


def _assert_same(a: neardup.NearDupResult, b: neardup.NearDupResult) -> None:
    assert a.dup_clusters.equals(b.dup_clusters)
    assert a.shared_passages.equals(b.shared_passages)
    assert a.doc_signatures.equals(b.doc_signatures)
    assert {k: v for k, v in a.stats.items() if k != "secs"} == {k: v for k, v in b.stats.items() if k != "secs"}


def test_streamed_candidate_batches_give_the_same_result_as_one_batch(con, seeds, monkeypatch):
    texts = _variants(seeds)
    first, second = _docs([*seeds, *texts[::2]]), _docs(texts[1::2], day=1)
    whole, batched = _run_both(con, first, monkeypatch)
    _assert_same(whole, batched)
    # each pair counted once, however many bands it shares and however the join rows fall into batches
    pairs, join_rows = _candidate_pairs(whole.doc_signatures)
    assert whole.stats["candidate_pairs"] == pairs > 5 * 3
    assert join_rows > 10 * pairs  # copies share most bands: the join repeats them
    assert whole.stats["contained_pairs"] > 0
    assert {"exact", "near", "contained"} == set(whole.dup_clusters.column("method").to_pylist())

    # incremental: pairs with earlier documents come from a second stream
    _publish(con, first, whole)
    whole, batched = _run_both(con, second, monkeypatch)
    _assert_same(whole, batched)
    pairs, join_rows = _candidate_pairs(
        whole.doc_signatures, con.sql("SELECT bands FROM doc_signatures").to_arrow_table()
    )
    assert whole.stats["candidate_pairs"] == pairs > 5 * 3
    assert join_rows > 10 * pairs
    assert whole.stats["joined_prior_clusters"] == second.num_rows
    assert whole.stats["contained_pairs"] > 0


@pytest.mark.parametrize("seed", range(5))
def test_take_from_chunks_is_take(seed):
    rng = np.random.default_rng(seed)
    values = [None if rng.random() < 0.1 else f"text {i} é" for i in range(int(rng.integers(1, 200)))]
    cuts = sorted({0, len(values), *rng.integers(0, len(values), 6).tolist()})
    col = pa.chunked_array([pa.array(values[a:b], pa.string()) for a, b in itertools.pairwise(cuts)])
    idx = rng.integers(0, len(values), int(rng.integers(0, 50))).astype(np.uint64)  # as sort_indices gives
    assert neardup._take_pylist(col, idx) == [values[i] for i in idx]
    assert neardup._take_pylist(col.combine_chunks(), idx) == [values[i] for i in idx]
