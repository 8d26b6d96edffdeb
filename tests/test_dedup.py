"""Unit tests for transforms/dedup.py: shingles, signatures, bands, similarity, clusters, passages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from transforms import dedup

ROOT = Path(__file__).resolve().parents[1]

BASE = (
    "The central bank raised its benchmark interest rate by half a point on Tuesday, citing persistent "
    "inflation in housing and services, and signalled that further increases were likely before the end "
    "of the year as officials weighed slowing growth against prices that have refused to cool."
)


def _words(n: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(f"w{x}" for x in rng.integers(0, 5000, size=n))


def test_shingles_ignore_case_punctuation_whitespace_and_invisible_noise():
    noisy = BASE.upper().replace(",", " ;").replace(" ", "  \n ").replace("rate", "ra\u200bte")
    assert np.array_equal(dedup.shingles(BASE), dedup.shingles(noisy))
    assert np.array_equal(dedup.shingles("Café au lait served"), dedup.shingles("cafe AU lait, served!"))


def test_shingles_count_dtype_and_short_texts():
    sh = dedup.shingles("a b c d e f g", k=5)
    assert sh.dtype == np.uint64
    assert len(sh) == 3  # windows starting at a, b, c
    assert len(dedup.shingles("a b c", k=5)) == 1  # shorter than k: one shingle of all words
    assert len(dedup.shingles("  ...  ", k=5)) == 0
    assert len(dedup.shingles("a b a b a b a b", k=2)) == 2  # distinct: "a b", "b a"


def test_signatures_shape_dtype_and_empty_text():
    sig = dedup.signatures([BASE, ""], num_perm=64)
    assert sig.shape == (2, 64)
    assert sig.dtype == np.uint32
    assert dedup.is_empty(sig).tolist() == [False, True]


def test_signatures_do_not_depend_on_batching():
    texts = [_words(50 + i, seed=i) for i in range(30)]
    one = dedup.sketch(texts, chunk_size=1000)
    small = dedup.sketch(texts, chunk_size=7)
    assert np.array_equal(one.sig, small.sig)
    assert np.array_equal(one.head, small.head)
    assert np.array_equal(dedup.signatures(texts[3:4]), one.sig[3:4])


def test_signatures_are_deterministic_across_processes():
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from transforms import dedup; "
        "print(json.dumps(dedup.signatures([sys.argv[2]], num_perm=32)[0].tolist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), BASE],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert json.loads(out.stdout) == dedup.signatures([BASE], num_perm=32)[0].tolist()


def test_estimated_jaccard_tracks_exact_jaccard():
    rng = np.random.default_rng(3)
    base = _words(600, seed=1).split()
    for rate in (0.02, 0.05, 0.1):
        edited = " ".join(w if rng.random() > rate else "zz" for w in base)
        sig = dedup.signatures([" ".join(base), edited], num_perm=256)
        exact = dedup.jaccard(dedup.shingles(" ".join(base)), dedup.shingles(edited))
        assert abs(dedup.estimated_jaccard(sig[0], sig[1]) - exact) < 0.1
    unrelated = dedup.signatures([_words(500, 1), _words(500, 2)])
    assert dedup.estimated_jaccard(unrelated[0], unrelated[1]) < 0.03
    assert dedup.estimated_jaccard(unrelated, unrelated[::-1]).shape == (2,)


def test_band_hashes_equal_bands_collide_and_band_index_is_mixed_in():
    sigs = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [3, 4, 1, 2]], dtype=np.uint32)
    bh = dedup.band_hashes(sigs, bands=2, rows=2)
    assert bh.shape == (3, 2)
    assert bh.dtype == np.uint64
    assert bh[0, 0] == bh[1, 0]
    assert bh[0, 1] != bh[1, 1]
    # same values in a different band must not give the same hash (joins are on the hash alone)
    assert bh[2, 1] != bh[0, 0]
    assert not np.array_equal(dedup.band_hashes(sigs, 2, 2, salt=1), bh)
    with pytest.raises(ValueError):
        dedup.band_hashes(sigs, bands=3, rows=2)


def test_candidate_probability_s_curve():
    assert dedup.candidate_probability(0.3, 64, 2) > 0.99
    assert dedup.candidate_probability(0.01, 64, 2) < 0.01


def test_containment_of_a_truncated_copy():
    long = _words(400, seed=5)
    half = " ".join(long.split()[:200])
    a, b = dedup.shingles(half), dedup.shingles(long)
    assert dedup.containment(a, b) == 1.0
    assert 0.45 < dedup.jaccard(a, b) < 0.55
    est = dedup.containment_from_jaccard(dedup.jaccard(a, b), len(a), len(b))
    assert est == pytest.approx(1.0, abs=1e-9)
    assert dedup.containment(a, dedup.shingles(_words(400, seed=6))) < 0.05
    assert dedup.containment(a, np.empty(0, dtype=np.uint64)) == 0.0


def test_connected_components_with_ints_and_ids():
    labels = dedup.connected_components(6, [(4, 5), (1, 0), (5, 3)])
    assert labels.tolist() == [0, 0, 2, 3, 3, 3]
    comp = dedup.connected_components(["c", "a", "b", "d"], [("d", "b"), ("x", "a")])
    assert comp == {"a": "a", "b": "b", "c": "c", "d": "b", "x": "a"}


def test_canonical_rule_most_words_then_earliest_then_doc_id():
    docs = [(100, 2, "b"), (120, 3, "z"), (120, 1, "y"), (120, 1, "x")]
    assert min(docs, key=lambda d: dedup.canonical_key(*d)) == (120, 1, "x")
    assert dedup.canonical_key(10, None, "a") > dedup.canonical_key(10, 5, "b")


def test_passages_offsets_and_hash():
    quote = (
        '"We will not accept any agreement that leaves our farmers worse off than they were '
        'a decade ago," the minister told reporters.'
    )
    text = f"Short title\n\n  {quote}  \nAnother line that is short.\n"
    ps = dedup.passages(text)
    assert len(ps) == 1
    p = ps[0]
    assert text[p.start : p.end] == quote
    assert p.n_chars == len(quote)
    other = dedup.passages(f"Different intro paragraph.\n{quote.upper()}\n")
    assert other[0].passage_hash == p.passage_hash
    assert dedup.passages("x" * 79) == []


def test_vectorised_token_hashes_match_the_regex_tokenizer():
    rng = np.random.default_rng(11)
    alphabet = [*"abc XYZ_09 .,\n\t-'", *"\u00e9\u0301\u200b\u00adßİ𝒜𝟘中文١ﬁⅫ²\ufeff\u2019«"]
    texts = ["".join(rng.choice(alphabet, size=int(rng.integers(0, 60)))) for _ in range(400)]
    texts += ["", "  ", "one", BASE, "Café CAFE café"]
    h, counts = dedup._word_hashes(texts)
    assert counts.tolist() == [len(dedup.tokens(t)) for t in texts]
    seen: dict[str, int] = {}
    for tok, x in zip([w for t in texts for w in dedup.tokens(t)], h.tolist(), strict=True):
        assert seen.setdefault(tok, x) == x  # a token hashes the same wherever it occurs
    assert len(set(seen.values())) == len(seen)  # and distinct tokens differently


def test_sketch_streams_batches_and_returns_passages():
    texts = [_words(40 + 13 * i, seed=i) + "\n" + "p" * 90 + f" {i % 3}" for i in range(60)] + ["", "a b"]
    one = dedup.sketch(texts, chunk_size=1000, with_passages=True)
    streamed = dedup.sketch(iter([texts[:25], texts[25:]]), chunk_size=10, with_passages=True)
    for field in ("sig", "head", "n_shingles", "passage_hash", "passage_start", "passage_end", "passage_offsets"):
        assert np.array_equal(getattr(one, field), getattr(streamed, field)), field
    for i, text in enumerate(texts):
        lo, hi = one.passage_offsets[i : i + 2]
        got = zip(one.passage_hash[lo:hi], one.passage_start[lo:hi], one.passage_end[lo:hi], strict=True)
        assert [(p.passage_hash, p.start, p.end) for p in dedup.passages(text)] == [tuple(map(int, g)) for g in got]
    assert one.n_shingles.tolist()[-2:] == [0, 1]
    assert [len(dedup.shingles(t)) for t in texts] == one.n_shingles.tolist()


def test_one_permutation_estimate_is_unbiased_on_many_pairs():
    # pairs of texts with known exact Jaccard from 0.1 to 0.9, short (densified bins) and long
    rng = np.random.default_rng(5)
    errors = []
    for i in range(120):
        n = int(rng.choice([30, 120, 600]))
        base = _words(n, seed=100 + i).split()
        rate = rng.uniform(0.02, 0.4)
        edited = " ".join(w if rng.random() > rate else f"x{j}" for j, w in enumerate(base))
        sig = dedup.signatures([" ".join(base), edited])
        exact = dedup.jaccard(dedup.shingles(" ".join(base)), dedup.shingles(edited))
        errors.append(dedup.estimated_jaccard(sig[0], sig[1]) - exact)
    errors = np.array(errors)
    assert abs(errors.mean()) < 0.01  # unbiased
    assert errors.std() < 0.05  # about sqrt(J (1 - J) / 128)
    # the seed changes the sketch
    assert not np.array_equal(dedup.signatures([BASE], seed=1), dedup.signatures([BASE], seed=2))


def _reference_components(n: int, edges: list[tuple[int, int]]) -> list[int]:
    comp = {i: {i} for i in range(n)}
    for u, v in edges:
        if comp[u] is not comp[v]:
            merged = comp[u] | comp[v]
            for x in merged:
                comp[x] = merged
    return [min(comp[i]) for i in range(n)]


@pytest.mark.parametrize("seed", range(4))
def test_components_are_the_smallest_node_of_each_component(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    edges = [tuple(map(int, e)) for e in rng.integers(0, n, (int(rng.integers(0, 2 * n)), 2))]
    a, b = np.array([e[0] for e in edges], np.int64), np.array([e[1] for e in edges], np.int64)
    assert dedup.components(n, a, b).tolist() == _reference_components(n, edges)
    assert dedup.components(n, b[::-1], a[::-1]).tolist() == _reference_components(n, edges)  # order-free
    chain = np.arange(n - 1, dtype=np.int64)  # a path n-1 .. 0: one component, the longest pointer chains
    assert dedup.components(n, chain[::-1] + 1, chain[::-1]).tolist() == [0] * n


def test_anchor_pairs_compare_each_member_with_earlier_members_and_the_first_anchors():
    # bucket 5: earlier-run node 0, new nodes 1 2 3 4 (by rank); bucket 7: new 1 and 4; bucket 9: one member
    keys = np.array([5, 5, 5, 5, 5, 7, 7, 9], dtype=np.uint64)
    nodes = np.array([3, 0, 4, 2, 1, 4, 1, 2])
    ap = dedup.anchor_pairs(keys, nodes, n_old=1, anchors=2)
    got = sorted(zip(ap.a.tolist(), ap.b.tolist(), keys[ap.row].tolist(), strict=True))
    assert got == [(1, 0, 5), (2, 0, 5), (2, 1, 5), (3, 0, 5), (3, 1, 5), (3, 2, 5), (4, 0, 5), (4, 1, 5), (4, 1, 7),
                   (4, 2, 5)]  # fmt: skip
    assert (ap.buckets, ap.sampled_buckets, ap.sampled_out) == (2, 0, 0)
    assert all(nodes[ap.row] == ap.a)  # the row of each pair is its member's


@pytest.mark.parametrize("seed", range(4))
def test_only_rows_of_shared_keys_are_sorted_and_pairs_keep_their_input_rows(seed):
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 60, int(rng.integers(0, 300)), dtype=np.uint64) * np.uint64(2**40 + 7)  # large keys
    count = {k: keys.tolist().count(k) for k in set(keys.tolist())}
    assert dedup.shared_rows(keys).tolist() == [i for i, k in enumerate(keys.tolist()) if count[k] > 1]
    nodes = rng.permutation(len(keys))  # one row per node, in no order
    ap = dedup.anchor_pairs(keys, nodes, n_old=int(rng.integers(0, 5)), anchors=2)
    members = set(zip(keys.tolist(), nodes.tolist(), strict=True))
    assert np.array_equal(nodes[ap.row], ap.a)  # each pair's row is its member's row of the input
    assert all((k, b) in members for k, b in zip(keys[ap.row].tolist(), ap.b.tolist(), strict=True))
    assert ap.buckets == sum(c > 1 for c in count.values())
    assert len(dedup.shared_rows(np.arange(5, dtype=np.uint64))) == 0
    cut = len(keys) // 3  # in parts: indices into their concatenation, a key shared across parts counts
    assert np.array_equal(dedup.shared_rows(keys[:cut], keys[cut:]), dedup.shared_rows(keys))
    seven, none = np.array([7], np.uint64), np.array([], np.uint64)
    assert dedup.shared_rows(seven, none, seven).tolist() == [0, 1]


def test_anchor_pairs_grow_linearly_with_a_bucket_and_sample_an_oversized_one():
    m = 3_000
    keys, nodes = np.full(m, 42, dtype=np.uint64), np.arange(m)
    ap = dedup.anchor_pairs(keys, nodes, anchors=2, max_bucket=10_000)
    assert len(ap.a) == 2 * m - 3  # not m (m - 1) / 2 = 4.5 M
    assert set(ap.b.tolist()) == {0, 1}
    sampled = dedup.anchor_pairs(keys, nodes, n_old=3, anchors=2, max_bucket=500)
    assert sampled.sampled_buckets == 1
    kept = m - sampled.sampled_out
    assert 400 < kept < 600
    assert {0, 1, 2, 3, 4} <= set(sampled.b.tolist()) | set(sampled.a.tolist())  # earlier members and anchors stay
    again = dedup.anchor_pairs(keys, nodes, n_old=3, anchors=2, max_bucket=500)
    assert np.array_equal(again.a, sampled.a)  # a deterministic sample
    empty = dedup.anchor_pairs(np.empty(0, np.uint64), np.empty(0, np.int64))
    assert len(empty.a) == 0 and empty.buckets == 0


def test_distinct_pairs_count_the_evidence_per_family_and_first_per_node_caps():
    a = np.array([5, 3, 5, 5, 3, 7])
    b = np.array([1, 2, 1, 0, 2, 1])
    kind = np.array([0, 0, 1, 2, 0, 2])
    da, db, ev = dedup.distinct_pairs(a, b, kind, 3)
    assert list(zip(da.tolist(), db.tolist(), strict=True)) == [(3, 2), (5, 0), (5, 1), (7, 1)]
    assert ev.tolist() == [[2, 0, 0], [0, 0, 1], [1, 1, 0], [0, 0, 1]]
    assert dedup.first_per_node(da, 1).tolist() == [True, True, False, True]
    assert len(dedup.distinct_pairs(a[:0], b[:0], kind[:0], 3)[0]) == 0


def test_paragraph_hashes_are_the_same_from_ascii_and_other_texts():
    para = "The minister said the deal, worth 4 billion, would be signed on Friday in the capital city."
    ascii_text = f"Title\n\n{para}\n"
    other = f"Título ’quoted’\n\n{para.upper()}\n"
    sk = dedup.sketch([ascii_text, other], with_passages=True)
    assert sk.passage_offsets.tolist() == [0, 1, 2]
    assert sk.passage_hash[0] == sk.passage_hash[1]
    assert other[sk.passage_start[1] : sk.passage_end[1]] == para.upper()
    assert dedup.passages(ascii_text)[0].passage_hash == int(sk.passage_hash[0])


def test_shingle_sets_are_shingles_of_each_text_in_chunks():
    texts = [_words(40 + 7 * i, seed=i) for i in range(12)] + ["", "a b", "a b c d e f g a b c d e f g h"]
    for chunk in (3, 500):
        sets = dedup.shingle_sets(texts, chunk_size=chunk)
        assert len(sets) == len(texts)
        for got, text in zip(sets, texts, strict=True):
            assert np.array_equal(got, dedup.shingles(text))
    assert dedup.shingle_sets([]) == []


def _module_arrays(module) -> dict[str, int]:
    """Bytes of the numpy arrays a module holds at its top level (in a tuple or list too), by name."""
    out: dict[str, int] = {}
    for name, value in vars(module).items():
        items = value if isinstance(value, tuple | list) else (value,)
        size = sum(v.nbytes for v in items if isinstance(v, np.ndarray))
        if size:
            out[name] = size
    return out


def test_sketching_a_large_batch_leaves_no_array_behind():
    """A worker sketches every shard it normalizes: nothing sized by a batch may stay in the module after it (a cache
    of P**i grown to the largest batch held 42-53 MiB in each worker of a 10k run until the worker restarted)."""
    texts = [" ".join(f"word{i}x{j}" for j in range(400)) for i in range(600)]  # ~3 MB of text
    dedup.signatures(texts)
    held = {name: size for name, size in _module_arrays(dedup).items() if size > 1 << 20}
    assert held == {}
