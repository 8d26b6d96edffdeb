"""warehouse/neardup.py on an in-memory DuckDB: seeds and their copies, incremental runs, shared passages."""

from __future__ import annotations

import datetime as dt
import hashlib
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


def _run(con: duckdb.DuckDBPyConnection, docs: pa.Table, **kw) -> neardup.NearDupResult:
    """The map step over the documents, then the reduce with the new texts visible in ``documents``."""
    signatures = neardup.sketch_table(docs.select(["text", "doc_id"]), kw.get("params", neardup.DedupParams()))
    with neardup.new_documents(con, docs):
        return neardup.assign_near_duplicates(con, signatures, docs.select(["doc_id", "n_words", "first_seen"]), **kw)


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
    res = _run(con, docs)
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
    res = _run(con, _docs([*seeds, excerpt]))
    row = _by_doc(res)[_doc_id(excerpt)]
    assert row["canonical_doc_id"] == _doc_id(seeds[4])
    assert row["method"] == "contained"
    assert row["similarity"] == pytest.approx(1.0)


def test_incremental_near_copy_joins_old_cluster_and_old_canonical_stays(con, seeds):
    first = _docs(seeds, day=0)
    r1 = _run(con, first)
    assert r1.dup_clusters.column("method").to_pylist() == ["exact"] * 5
    _publish(con, first, r1)

    # a longer near-copy of seed 0 (extra footer) and an unrelated new text
    copy = _edited(seeds[0], 0.03, seed=2, footer="Read more at Another Site. " * 8)
    other = " ".join(f"token{i}" for i in range(300))
    second = _docs([copy, other], day=1)
    r2 = _run(con, second)
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
    a = _run(con, docs)
    b = _run(con, docs.take([2, 0, 1]))
    assert a.dup_clusters.equals(b.dup_clusters)
    assert a.doc_signatures.equals(b.doc_signatures)


def test_shared_passages_between_different_articles_incremental(con, seeds):
    quote = (
        '"We have never discussed any timetable for leaving, and no one in Moscow has ever asked '
        'us to," the spokesman said in a statement carried by the state agency.'
    )
    a = f"{seeds[0]}\n{quote}\n"
    first = _docs([a])
    r1 = _run(con, first)
    assert r1.shared_passages.num_rows == 0
    _publish(con, first, r1)
    b = f"{seeds[2]}\n\n   {quote}\n"
    r2 = _run(con, _docs([b], day=1))
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
    res = _run(con, _docs([seeds[2], copy]))
    assert len(set(res.dup_clusters.column("cluster_id").to_pylist())) == 1
    assert res.shared_passages.num_rows == 0


def test_scheme_mismatch_is_refused(con, seeds):
    docs = _docs(seeds[:1])
    r1 = _run(con, docs)
    _publish(con, docs, r1)
    with pytest.raises(ValueError, match="scheme"):
        _run(con, _docs(seeds[1:2]), params=neardup.DedupParams(k=3))


def test_empty_input_and_empty_texts(con):
    res = _run(con, _docs([]))
    assert res.dup_clusters.num_rows == 0
    assert res.doc_signatures.schema == neardup.DOC_SIGNATURES_SCHEMA
    res = _run(con, _docs(["", "   ", "..."]))
    # texts without words are never banded: each is its own cluster
    assert res.dup_clusters.column("method").to_pylist() == ["exact"] * 3
    assert res.stats["candidate_pairs"] == 0


def test_scheme_names_the_signature_algorithm_and_band_layout():
    # v3: v2's signatures, paragraph hashes over token hashes, 42 x 3 bands; v2 rows are refused (below)
    assert neardup.DedupParams().scheme == "minhash-v3-oph:k5:p128:s1:b42x3:h100:8x2"


def test_a_warehouse_of_the_previous_scheme_is_refused_in_one_line(con, seeds):
    docs = _docs(seeds[:1])
    _publish(con, docs, _run(con, docs))
    con.execute("UPDATE doc_signatures SET scheme = 'minhash-v2-oph:k5:p128:s1:b64x2:h100:8x2'")
    with pytest.raises(ValueError, match="b64x2") as err:
        _run(con, _docs(seeds[1:2]))
    assert "\n" not in str(err.value)
    assert "new warehouse" in str(err.value)
    with pytest.raises(ValueError, match="b64x2"):  # what a flow can call before any work
        neardup.check_scheme(con)


def test_signatures_of_other_params_and_mismatched_meta_are_refused(con, seeds):
    docs = _docs(seeds[:2])
    other = neardup.sketch_table(docs, neardup.DedupParams(bands=64, rows=2))
    meta = docs.select(["doc_id", "n_words", "first_seen"])
    with pytest.raises(ValueError, match="sketched with scheme"):
        neardup.assign_near_duplicates(con, other, meta)
    with pytest.raises(ValueError, match="same doc_id"):
        neardup.assign_near_duplicates(con, neardup.sketch_table(docs), meta.slice(0, 1))


def test_sketch_table_is_a_map_over_shards(seeds):
    docs = _docs([*seeds, "", "one two"])
    whole = neardup.sketch_table(docs)
    shards = pa.concat_tables([neardup.sketch_table(docs.slice(i, 3)) for i in range(0, docs.num_rows, 3)])
    assert whole.equals(shards)
    assert whole.column("doc_id").equals(docs.column("doc_id"))  # the input's order
    assert whole.schema == neardup.DOC_SIGNATURES_SCHEMA
    assert whole.column("n_shingles").to_pylist()[-2:] == [0, 1]
    assert [len(b) for b in whole.column("bands").to_pylist()[-2:]] == [0, 42 + 8]  # no words: no bands


def _variants(seeds: list[str]) -> list[str]:
    """Per seed: edited copies, a truncation and a short excerpt: many candidate pairs, most sharing many bands."""
    out = []
    for s, text in enumerate(seeds):
        out += [_edited(text, rate, seed=10 * s + i, footer=f"Wire {i}.") for i, rate in enumerate((0.02, 0.05, 0.1))]
        out += [text[: len(text) // 2], " ".join(text.split(" ")[:130])]
    return out


def _bucket_mates(sigs: pa.Table) -> int:
    """Pairs of documents sharing at least one band hash, by brute force (what a pairwise join compares)."""
    bands = [set(b) for b in sigs.column("bands").to_pylist()]
    return sum(bool(a & b) for i, a in enumerate(bands) for b in bands[i + 1 :])


EVERY_PAIR = neardup.Limits(anchors=10_000, old_anchors=10_000, max_candidates=10**6, containment_targets=10**6)


def test_anchors_give_the_clusters_of_comparing_every_pair(con, seeds):
    texts = _variants(seeds) + _wire_copies(seeds[2], 20)
    first, second = _docs([*seeds, *texts[::2]]), _docs(texts[1::2], day=1)
    anchored, every = _run(con, first), _run(con, first, limits=EVERY_PAIR)
    assert anchored.dup_clusters.equals(every.dup_clusters)
    assert anchored.shared_passages.equals(every.shared_passages)
    assert len(set(anchored.dup_clusters.column("cluster_id").to_pylist())) == 5
    assert {"exact", "near", "contained"} == set(anchored.dup_clusters.column("method").to_pylist())
    assert anchored.stats["candidate_pairs"] < every.stats["candidate_pairs"]
    assert anchored.stats["contained_pairs"] > 0
    # incremental: every new document joins its seed's earlier cluster
    _publish(con, first, anchored)
    anchored, every = _run(con, second), _run(con, second, limits=EVERY_PAIR)
    assert anchored.dup_clusters.equals(every.dup_clusters)
    assert anchored.stats["joined_prior_clusters"] == second.num_rows


def _wire_copies(text: str, n: int) -> list[str]:
    """``n`` republications of ``text``: 0-2 % of the words replaced, a byline and a footer of their own."""
    rng = np.random.default_rng(5)
    out = []
    for i in range(n):
        words = [w if rng.random() > 0.02 else "replaced" for w in text.split(" ")]
        out.append(f"By Reporter {i} | Wire\n\n" + " ".join(words) + f"\n\nRepublished by outlet {i}.")
    return out


def test_a_wire_story_copied_many_times_is_one_cluster_with_linear_work(con, seeds):
    copies = _wire_copies(seeds[0], 300)
    res = _run(con, _docs([seeds[0], *copies, *seeds[1:]]))
    rows = _by_doc(res)
    assert len({rows[_doc_id(t)]["cluster_id"] for t in [seeds[0], *copies]}) == 1
    assert len({r["cluster_id"] for r in rows.values()}) == 5
    # each copy is compared with the anchors of its buckets, not with every copy in them (45,150 pairs): the
    # best-ranked copies in the buckets its edits left alone, others where an edit changed a band
    assert 300 <= res.stats["candidate_pairs"] <= 301 * 30


def test_template_sentences_fill_buckets_without_making_pairs(con):
    # 400 articles, each 30 of 100 shared sentences in its own order with its own names: Jaccard ~0.1 between
    # two of them (up to ~0.23, which 128-value estimates can put above 0.3). With a permissive LSH (64 x 2) a
    # pairwise join over shared bands compares about half of all pairs; the anchors compare a bounded number per
    # document (at most 2 per bucket, mostly the same best-ranked articles), and nothing is linked.
    rng = np.random.default_rng(3)
    pool = [" ".join(f"w{rng.integers(0, 2000)}" for _ in range(14)) for _ in range(100)]
    texts = []
    for i in range(400):
        sents = [f"Name{i}x{j % 4} said {pool[k]}." for j, k in enumerate(rng.permutation(100)[:30])]
        texts.append(" ".join(sents))
    permissive = neardup.DedupParams(bands=64, rows=2)
    res = _run(con, _docs(texts), params=permissive)
    assert len(set(res.dup_clusters.column("cluster_id").to_pylist())) == 400  # none linked
    mates = _bucket_mates(res.doc_signatures)
    assert mates > 400 * 399 / 2 * 0.4
    assert res.stats["candidate_pairs"] * 3 < mates
    assert res.stats["candidate_pairs"] <= 400 * 40
    assert res.stats["estimates_overruled"] > 0  # estimates >= 0.3 of pairs whose exact Jaccard is lower


def test_a_new_copy_meets_one_member_per_earlier_cluster(con, seeds):
    first = _docs([seeds[0], *_wire_copies(seeds[0], 40)])
    r1 = _run(con, first)
    assert len(set(r1.dup_clusters.column("cluster_id").to_pylist())) == 1
    _publish(con, first, r1)
    late = _docs(_wire_copies(seeds[0], 41)[-1:], day=1)
    r2 = _run(con, late)
    row = r2.dup_clusters.to_pylist()[0]
    assert row["cluster_id"] == r1.dup_clusters.column("cluster_id")[0].as_py()
    assert r2.stats["joined_prior_clusters"] == 1
    # it shares bands with all 41 earlier copies; it meets one member of their cluster per bucket (the
    # canonical where that is in the bucket)
    assert (
        _bucket_mates(pa.concat_tables([r1.doc_signatures, r2.doc_signatures])) - _bucket_mates(r1.doc_signatures) == 41
    )
    assert 1 <= r2.stats["candidate_pairs"] < 41


def test_limits_that_bite_are_counted_in_the_stats(con, seeds):
    copies = _wire_copies(seeds[1], 60)
    tight = neardup.Limits(anchors=3, max_candidates=2, max_bucket=20)
    res = _run(con, _docs([seeds[1], *copies]), limits=tight)
    st = res.stats
    assert st["limits"] == {
        "anchors": 3,
        "old_anchors": 4,
        "max_candidates": 2,
        "max_bucket": 20,
        "containment_targets": 2,
    }
    assert st["buckets_sampled"] > 0 and st["bucket_members_sampled_out"] > 0
    assert st["docs_over_max_candidates"] > 0 and st["pairs_over_max_candidates"] > 0
    assert st["candidate_pairs"] <= 2 * 61
    assert len(set(res.dup_clusters.column("cluster_id").to_pylist())) == 1  # still one story
    loose = _run(con, _docs([seeds[1], *copies]))
    for key in ("buckets_sampled", "docs_over_max_candidates", "buckets_over_old_anchors"):
        assert loose.stats[key] == 0
