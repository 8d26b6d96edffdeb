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


def test_signatures_do_not_depend_on_batching_or_jobs():
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


def test_sketch_streams_batches_uses_a_pool_and_returns_passages():
    texts = [_words(40 + 13 * i, seed=i) + "\n" + "p" * 90 + f" {i % 3}" for i in range(60)] + ["", "a b"]
    one = dedup.sketch(texts, chunk_size=1000, with_passages=True)
    streamed = dedup.sketch(iter([texts[:25], texts[25:]]), chunk_size=10, n_jobs=2, with_passages=True)
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
