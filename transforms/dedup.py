"""Near-duplicate primitives: word shingles, MinHash signatures, LSH bands, containment, passages, clusters.

Pure and deterministic across processes and machines: every hash is blake2b or fixed 64-bit arithmetic, never
Python's salted ``hash()``; permutations come from ``numpy.random.default_rng(seed)`` (PCG64 is stable).
The DuckDB part (band join, incremental state) lives in ``warehouse/neardup.py``.

Text model
    Tokens are ``\\w+`` runs of the NFKC-normalized, case-folded text with combining marks and zero-width
    characters removed, so punctuation, case, accents, whitespace and invisible noise do not change shingles.
    A shingle is ``k`` consecutive tokens hashed to uint64 (a text shorter than ``k`` tokens has one shingle).

MinHash
    Permutation ``i`` maps a shingle hash ``x`` to ``((a_i * x + b_i) mod 2**64) >> 32`` (multiply-shift,
    ``a_i`` odd); the signature is the per-permutation minimum, uint32. A text without tokens gets the
    all-ones signature and ``n_shingles == 0``; callers must not band it (see ``is_empty``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import TypeVar, overload

import numpy as np

U64 = np.uint64
MAX_U32 = np.uint32(0xFFFFFFFF)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio constant, combines token hashes into a shingle hash
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)

_TOKEN_RE = re.compile(r"\w+")
# Combining marks, zero-width chars, soft hyphen, BOM: invisible noise that must not split or change words.
_NOISE_RE = re.compile("[\u0300-\u036f\u00ad\u200b-\u200f\u2060\ufeff]")

# Paragraphs shorter than this (stripped) are too generic to be a shared passage ("Read more.", bylines).
MIN_PASSAGE_CHARS = 80


# --- tokens, shingles
def _splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, vectorised (uint64 in, uint64 out, wraps modulo 2**64)."""
    x = x ^ (x >> U64(30))
    x = x * _M1
    x = x ^ (x >> U64(27))
    x = x * _M2
    return x ^ (x >> U64(31))


def hash64(s: str) -> int:
    """Stable 64-bit hash of a string (blake2b, little-endian)."""
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little")


class _TokenHashCache(dict):
    """token -> hash64(token), filled on first use; per process, cleared when it grows past a bound."""

    limit = 2_000_000

    def __missing__(self, token: str) -> int:
        if len(self) >= self.limit:
            self.clear()
        h = self[token] = hash64(token)
        return h


_TOKEN_HASHES = _TokenHashCache()


def tokens(text: str) -> list[str]:
    """Word tokens of ``text``: case-folded, accent-, punctuation- and invisible-noise-insensitive."""
    if not text.isascii():
        text = _NOISE_RE.sub("", unicodedata.normalize("NFKD", text))
        text = unicodedata.normalize("NFKC", text)
    return _TOKEN_RE.findall(text.casefold())


def _shingle_hashes(words: Sequence[str], k: int) -> np.ndarray:
    """uint64 hashes of the k-word windows of ``words`` in text order (duplicates kept)."""
    n = len(words)
    if n == 0:
        return np.empty(0, dtype=U64)
    w = np.fromiter(map(_TOKEN_HASHES.__getitem__, words), dtype=U64, count=n)
    if n < k:
        k = n
    m = n - k + 1
    h = w[:m].copy()
    for j in range(1, k):
        h *= _MIX
        h += w[j : j + m]
    return _splitmix(h ^ U64(k))


def shingles(text: str, k: int = 5) -> np.ndarray:
    """Sorted distinct uint64 hashes of the word ``k``-shingles of ``text`` (empty if it has no words)."""
    return np.unique(_shingle_hashes(tokens(text), k))


# --- minhash
def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) uint64 coefficients of ``num_perm`` multiply-shift permutations; ``a`` is odd."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**64, size=num_perm, dtype=U64, endpoint=False) | U64(1)
    b = rng.integers(0, 2**64, size=num_perm, dtype=U64, endpoint=False)
    return a, b


def _minhash_segments(values: np.ndarray, starts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-segment MinHash: ``values`` concatenated shingle hashes, segment i begins at ``starts[i]``.

    Segments must be non-empty. Works in blocks of shingles to bound memory (num_perm x block uint64).
    """
    n_seg, num_perm = len(starts), len(a)
    out = np.empty((n_seg, num_perm), dtype=U64)
    block = max(1, (1 << 22) // num_perm)  # ~32 MB of uint64 per block
    bounds = np.append(starts, len(values))
    seg = 0
    while seg < n_seg:
        # take whole segments until the block is full (at least one segment)
        stop = int(np.searchsorted(bounds, bounds[seg] + block, side="right")) - 1
        stop = min(max(stop, seg + 1), n_seg)
        lo, hi = int(bounds[seg]), int(bounds[stop])
        # (num_perm, block) layout: reduceat along contiguous rows is ~3x faster than along axis 0
        m = np.multiply.outer(a, values[lo:hi])
        m += b[:, None]
        out[seg:stop] = np.minimum.reduceat(m, bounds[seg:stop] - lo, axis=1).T
        seg = stop
    return (out >> U64(32)).astype(np.uint32)


@dataclass(frozen=True)
class Sketch:
    """MinHash sketches of a batch of texts, one row per text.

    sig: (n, num_perm) uint32 over all shingles; head: (n, head_perm) uint32 over the shingles of the first
    ``head_words`` words (the first ``head_perm`` permutations), for finding truncated copies and excerpts of
    the beginning; n_shingles: distinct shingles per text (0 = no words, never banded).
    """

    sig: np.ndarray
    head: np.ndarray
    n_shingles: np.ndarray


def _gather_minhash(
    values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """MinHash of the segments ``values[starts[i] : starts[i] + lengths[i]]`` (all lengths > 0)."""
    offsets = np.cumsum(lengths) - lengths
    sel = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    return _minhash_segments(values[sel], offsets, a, b)


def _sketch_chunk(args: tuple[Sequence[str], int, int, int, int, int]) -> Sketch:
    texts, k, num_perm, seed, head_words, head_perm = args
    a, b = permutations(num_perm, seed)
    n = len(texts)
    parts: list[np.ndarray] = []
    starts = np.zeros(n, dtype=np.int64)
    head_len = np.zeros(n, dtype=np.int64)
    tail_len = np.zeros(n, dtype=np.int64)
    n_sh = np.zeros(n, dtype=np.int32)
    pos = 0
    for i, text in enumerate(texts):
        h = _shingle_hashes(tokens(text), k)
        n_sh[i] = len(np.unique(h))
        nh = min(len(h), max(1, head_words - k + 1))
        starts[i], head_len[i], tail_len[i] = pos, nh, len(h) - nh
        parts.append(h)
        pos += len(h)
    values = np.concatenate(parts) if parts else np.empty(0, dtype=U64)
    sig = np.full((n, num_perm), MAX_U32, dtype=np.uint32)
    head = np.full((n, head_perm), MAX_U32, dtype=np.uint32)
    idx = np.flatnonzero(head_len > 0)
    if len(idx):
        head_sig = _gather_minhash(values, starts[idx], head_len[idx], a, b)
        head[idx] = head_sig[:, :head_perm]
        sig[idx] = head_sig
        t_idx = np.flatnonzero(tail_len > 0)
        if len(t_idx):
            tail_sig = _gather_minhash(values, starts[t_idx] + head_len[t_idx], tail_len[t_idx], a, b)
            sig[t_idx] = np.minimum(sig[t_idx], tail_sig)
    return Sketch(sig=sig, head=head, n_shingles=n_sh)


def sketch(
    texts: Sequence[str],
    *,
    k: int = 5,
    num_perm: int = 128,
    seed: int = 1,
    head_words: int = 100,
    head_perm: int = 16,
    n_jobs: int = 1,
    chunk_size: int = 2000,
) -> Sketch:
    """Full and head MinHash sketches of ``texts`` (see ``Sketch``); ``n_jobs > 1`` uses a process pool.

    The result does not depend on ``n_jobs`` or ``chunk_size``.
    """
    if head_perm > num_perm:
        raise ValueError("head_perm must be <= num_perm")
    texts = list(texts)
    jobs = [
        (texts[i : i + chunk_size], k, num_perm, seed, head_words, head_perm) for i in range(0, len(texts), chunk_size)
    ]
    if not jobs:
        jobs = [([], k, num_perm, seed, head_words, head_perm)]
    if n_jobs > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_sketch_chunk, jobs))
    else:
        results = [_sketch_chunk(j) for j in jobs]
    return Sketch(
        sig=np.concatenate([r.sig for r in results]),
        head=np.concatenate([r.head for r in results]),
        n_shingles=np.concatenate([r.n_shingles for r in results]),
    )


def signatures(texts: Sequence[str], num_perm: int = 128, seed: int = 1, *, k: int = 5) -> np.ndarray:
    """(n, num_perm) uint32 MinHash signatures of the word ``k``-shingles of ``texts``."""
    return sketch(texts, k=k, num_perm=num_perm, seed=seed, head_perm=1).sig


def is_empty(sig: np.ndarray) -> np.ndarray:
    """True for rows that are the signature of a text without words (all ones)."""
    return (np.atleast_2d(sig) == MAX_U32).all(axis=1)


# --- LSH
def band_hashes(sigs: np.ndarray, bands: int, rows: int, *, salt: int = 0) -> np.ndarray:
    """(n, bands) uint64: band ``j`` hashes ``sigs[:, j*rows:(j+1)*rows]`` together with ``j`` and ``salt``.

    The band index is mixed in, so equal hashes in different bands never meet in a join on the hash alone;
    use a different ``salt`` for each signature family (full text, head) banded into the same table.
    """
    sigs = np.atleast_2d(sigs)
    if bands * rows > sigs.shape[1]:
        raise ValueError(f"bands*rows={bands * rows} exceeds signature length {sigs.shape[1]}")
    n = sigs.shape[0]
    out = np.empty((n, bands), dtype=U64)
    s = sigs.astype(U64)
    for j in range(bands):
        h = np.full(n, _splitmix(np.array([(salt << 16) + j + 1], dtype=U64))[0], dtype=U64)
        for c in range(j * rows, (j + 1) * rows):
            h = _splitmix(h * _MIX + s[:, c])
        out[:, j] = h
    return out


def candidate_probability(s: float, bands: int, rows: int) -> float:
    """Probability that two texts of Jaccard ``s`` share at least one band: ``1 - (1 - s**rows)**bands``."""
    return 1.0 - (1.0 - s**rows) ** bands


# --- similarity
def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
    """Fraction of equal MinHash values: a float for two signatures, an array for two (m, P) row stacks."""
    eq = np.asarray(a) == np.asarray(b)
    if eq.ndim == 1:
        return float(eq.mean())
    return eq.mean(axis=1)


def containment_from_jaccard(j: np.ndarray | float, n_a: np.ndarray | int, n_b: np.ndarray | int):
    """Overlap coefficient ``|A∩B| / min(|A|, |B|)`` implied by Jaccard ``j`` and the set sizes, in [0, 1].

    From ``|A∩B| = j (|A| + |B|) / (1 + j)``. Noisy when one set is much smaller than the other (j small),
    so callers verify low-Jaccard containment exactly with ``containment``.
    """
    j = np.asarray(j, dtype=np.float64)
    n_a = np.asarray(n_a, dtype=np.float64)
    n_b = np.asarray(n_b, dtype=np.float64)
    small = np.minimum(n_a, n_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(small > 0, j * (n_a + n_b) / ((1.0 + j) * small), 0.0)
    return np.clip(c, 0.0, 1.0)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted distinct shingle arrays (``shingles`` output); 0.0 if both are empty."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """Exact overlap coefficient ``|A∩B| / min(|A|, |B|)`` of two shingle arrays: 1.0 when the smaller text
    is wholly contained in the larger one; 0.0 if either is empty."""
    small = min(len(a), len(b))
    if small == 0:
        return 0.0
    return len(np.intersect1d(a, b, assume_unique=True)) / small


# --- clusters
T = TypeVar("T", bound=Hashable)


@overload
def connected_components(n_or_ids: int, pairs: Iterable[tuple[int, int]]) -> np.ndarray: ...
@overload
def connected_components(n_or_ids: Iterable[T], pairs: Iterable[tuple[T, T]]) -> dict[T, T]: ...
def connected_components(n_or_ids, pairs):
    """Connected components by union-find (path halving, union by smaller root).

    With an int ``n``: nodes are 0..n-1 and the result is an int64 array of labels, each the smallest node of
    its component. With ids: the result maps every id (and every id seen in ``pairs``) to the smallest id of
    its component (ids must be mutually orderable). Deterministic for any pair order.
    """
    if isinstance(n_or_ids, int | np.integer):
        parent = list(range(int(n_or_ids)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for u, v in pairs:
            ru, rv = find(int(u)), find(int(v))
            if ru != rv:
                if ru < rv:
                    parent[rv] = ru
                else:
                    parent[ru] = rv
        return np.array([find(i) for i in range(len(parent))], dtype=np.int64)

    pair_list = list(pairs)
    ids = set(n_or_ids)
    for u, v in pair_list:
        ids.add(u)
        ids.add(v)
    ordered = sorted(ids)
    index = {x: i for i, x in enumerate(ordered)}
    labels = connected_components(len(ordered), ((index[u], index[v]) for u, v in pair_list))
    return {x: ordered[labels[i]] for i, x in enumerate(ordered)}


def canonical_key(n_words: int | None, first_seen: object, doc_id: str) -> tuple:
    """Sort key of the canonical rule: most words first, then earliest ``first_seen`` (missing last), then
    smallest ``doc_id``. The canonical of a cluster is ``min(members, key=canonical_key)``."""
    return (-(n_words or 0), first_seen is None, first_seen if first_seen is not None else 0, doc_id)


# --- passages
@dataclass(frozen=True)
class Passage:
    """A paragraph of a text: ``text[start:end]`` (stripped), its normalized hash and length in chars."""

    passage_hash: int
    start: int
    end: int

    @property
    def n_chars(self) -> int:
        return self.end - self.start


_LINE_RE = re.compile(r"[^\n]+")


def passages(text: str, min_chars: int = MIN_PASSAGE_CHARS) -> list[Passage]:
    """Paragraphs of ``text`` (non-blank lines: blocks separated by newlines) of at least ``min_chars`` chars.

    ``start``/``end`` are character offsets into ``text`` with surrounding whitespace excluded, so
    ``text[start:end]`` is the paragraph. The hash is over the paragraph's tokens (``tokens``), so case,
    punctuation and whitespace differences do not matter. Paragraphs without tokens are skipped.
    """
    out: list[Passage] = []
    for m in _LINE_RE.finditer(text):
        line = m.group()
        stripped = line.strip()
        if len(stripped) < min_chars:
            continue
        words = tokens(stripped)
        if not words:
            continue
        start = m.start() + (len(line) - len(line.lstrip()))
        out.append(Passage(hash64(" ".join(words)), start, start + len(stripped)))
    return out
