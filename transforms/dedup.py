"""Near-duplicate primitives: word shingles, MinHash signatures, LSH bands, containment, passages, clusters.

Pure and deterministic across processes and machines: every hash is blake2b or fixed 64-bit arithmetic
(splitmix64, polynomial hashing modulo 2**64), never Python's salted ``hash()``.
The DuckDB part (band join, incremental state) lives in ``warehouse/neardup.py``.

Text model
    Tokens are ``\\w+`` runs of the NFKC-normalized, case-folded text with combining marks and zero-width
    characters removed, so punctuation, case, accents, whitespace and invisible noise do not change shingles.
    A shingle is ``k`` consecutive tokens hashed to uint64 (a text shorter than ``k`` tokens has one shingle).
    Tokenizing and hashing run vectorised over a batch of texts (one code point array per batch, numpy).

MinHash (scheme ``minhash-v2``: one permutation hashing)
    Every shingle hash is re-keyed with the seed (splitmix64) and falls into one of ``num_perm`` bins by its
    high 32 bits; the signature value of a bin is the minimum low 32 bits of its hashes, uint32. Empty bins
    are filled by optimal densification (``_densify``), so the fraction of equal values of two signatures is
    an unbiased estimate of their Jaccard similarity, as with ``num_perm`` independent permutations, at the
    cost of one hash per shingle instead of ``num_perm``. A text without tokens gets the all-ones signature
    and ``n_shingles == 0``; callers must not band it (see ``is_empty``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar, overload

import numpy as np

U64 = np.uint64
MAX_U32 = np.uint32(0xFFFFFFFF)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio constant, combines token hashes into a shingle hash
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_POLY = np.uint64(0xD6E8FEB86659FD93)  # odd multiplier of the polynomial token hash

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


def _normalize(text: str) -> str:
    """The text the tokens are read from: NFKC without marks and invisible noise, case-folded."""
    if not text.isascii():
        text = _NOISE_RE.sub("", unicodedata.normalize("NFKD", text))
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


def tokens(text: str) -> list[str]:
    """Word tokens of ``text``: case-folded, accent-, punctuation- and invisible-noise-insensitive."""
    return _TOKEN_RE.findall(_normalize(text))


# Bytes that are part of a word in the byte stream built by ``_word_hashes``: ASCII ``\\w`` ([0-9a-z_] after
# case folding, A-Z kept for safety) and every byte of a multi-byte UTF-8 sequence (see ``_word_hashes``).
_WORD_BYTE = np.array([chr(c).isalnum() or c == 0x5F if c < 0x80 else True for c in range(256)], dtype=bool)
_MASK64 = (1 << 64) - 1


def _ascii_words(text: str) -> str:
    """``text`` normalized for ``_word_hashes``: as is when ASCII, else its tokens joined by spaces."""
    if text.isascii():
        return text.casefold()
    return " ".join(tokens(text))


@dataclass(frozen=True)
class _Tokens:
    """Word tokens of a batch of texts (``_tokenize``): hashes in text order, count per text, and where each
    token starts in the batch's byte buffer; ``ascii`` texts are in the buffer as they are (case-folded), from
    ``text_start``, so their positions are character offsets into the text."""

    h: np.ndarray
    counts: np.ndarray
    starts: np.ndarray
    text_start: np.ndarray
    ascii: np.ndarray


def _tokenize(texts: Sequence[str]) -> _Tokens:
    """Hashes of the word tokens (``tokens``) of ``texts``, vectorised over the whole batch.

    A token's hash is ``splitmix64(sum(byte_i * P**i) + len)`` over its UTF-8 bytes (i from 0, modulo 2**64):
    a pure function of the token, the same in every process and batch. The batch is one UTF-8 byte array:
    ASCII texts as they are (a token is a run of ASCII word bytes), other texts as their regex tokens joined
    by spaces (so every non-ASCII byte is inside a token); "\\n" separates texts. Per-token sums come from one
    prefix sum: ``S[e] - S[s-1] = P**s * hash``, and P is odd, hence invertible modulo 2**64.
    """
    n = len(texts)
    is_ascii = np.fromiter((t.isascii() for t in texts), dtype=bool, count=n)
    norm = [_ascii_words(t) for t in texts]
    data = "\n".join(norm).encode("utf-8")
    lens = np.fromiter(map(len, norm), dtype=np.int64, count=n)
    if not data.isascii():
        lens = np.fromiter((len(t.encode("utf-8")) for t in norm), dtype=np.int64, count=n)
    del norm
    ends = np.cumsum(lens + 1) - 1  # byte position of the "\n" after each text
    buf = np.frombuffer(data, dtype=np.uint8)
    mask = np.zeros(len(buf) + 2, dtype=np.int8)
    mask[1:-1] = _WORD_BYTE[buf]
    edges = np.diff(mask)
    starts = np.flatnonzero(edges == 1)  # first byte of each token
    stops = np.flatnonzero(edges == -1)  # one past its last byte
    del mask, edges
    empty = _Tokens(np.empty(0, dtype=U64), np.zeros(n, dtype=np.int64), starts, ends - lens, is_ascii)
    if len(starts) == 0:
        return empty
    pw, inv = _powers(len(buf) + 1)
    prefix = np.zeros(len(buf) + 1, dtype=U64)
    np.cumsum(buf * pw[: len(buf)], out=prefix[1:])  # prefix[i] = sum of byte_j * P**j for j < i
    poly = (prefix[stops] - prefix[starts]) * inv[starts]
    del prefix
    h = _splitmix(poly + (stops - starts).astype(U64))
    doc = np.searchsorted(ends, starts)  # text of each token
    return _Tokens(h, np.bincount(doc, minlength=n).astype(np.int64), starts, ends - lens, is_ascii)


def _word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(uint64 hashes of the word tokens of all ``texts`` in order, int64 number of tokens per text)."""
    t = _tokenize(texts)
    return t.h, t.counts


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(``P**i``, ``P**-i``) modulo 2**64 for i < n, uint64. Computed for each batch, not cached: a cache grown to
    the largest batch (16 bytes per byte of its text, doubled as it grew) stayed in every worker that had sketched a
    shard, 42-53 MiB at 10k; computing them costs ~14 ms per MB of text."""
    out = []
    for base in (int(_POLY), pow(int(_POLY), -1, 1 << 64)):
        p = np.full(max(n, 1), base, dtype=U64)
        p[0] = 1
        out.append(np.cumprod(p, out=p)[:n])  # in place: one array of n a base, not two
    return out[0], out[1]


def _shingles_batch(texts: Sequence[str] | _Tokens, k: int) -> tuple[np.ndarray, np.ndarray]:
    """uint64 hashes of the ``k``-word windows of each text, in text order with duplicates kept.

    Returns (values of all texts concatenated, int64 offsets of length len(texts) + 1). A text with fewer than
    ``k`` (but at least one) tokens has one shingle of all its tokens; a text without tokens has none.
    ``texts`` may be given as their ``_tokenize`` result.
    """
    tok = texts if isinstance(texts, _Tokens) else _tokenize(texts)
    w, n_tok = tok.h, tok.counts
    n = len(n_tok)
    tok_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_tok, out=tok_off[1:])
    n_sh = np.where(n_tok >= k, n_tok - k + 1, np.minimum(n_tok, 1))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_sh, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=U64)
    m = len(w) - k + 1
    if m > 0:
        h = w[:m].copy()
        for j in range(1, k):
            h *= _MIX
            h += w[j : j + m]
        full = np.flatnonzero(n_tok >= k)
        # window j of such a text i sits at out[offsets[i] + j] and starts at token tok_off[i] + j
        out_idx = np.flatnonzero(np.repeat(n_tok >= k, n_sh))
        src = out_idx + np.repeat(tok_off[full] - offsets[full], n_sh[full])
        out[out_idx] = _splitmix(h[src] ^ U64(k))
    for i in np.flatnonzero((n_tok > 0) & (n_tok < k)):  # short texts: one shingle of all their tokens
        ws = [int(x) for x in w[tok_off[i] : tok_off[i + 1]]]
        h1 = ws[0]
        for x in ws[1:]:
            h1 = (h1 * int(_MIX) + x) & 0xFFFFFFFFFFFFFFFF
        out[offsets[i]] = _splitmix(np.array([h1 ^ len(ws)], dtype=U64))[0]
    return out, offsets


def shingles(text: str, k: int = 5) -> np.ndarray:
    """Sorted distinct uint64 hashes of the word ``k``-shingles of ``text`` (empty if it has no words)."""
    return np.unique(_shingles_batch([text], k)[0])


def shingle_sets(texts: Sequence[str], k: int = 5, chunk_size: int = 500) -> list[np.ndarray]:
    """``shingles`` of each of ``texts``, tokenized and hashed ``chunk_size`` texts at a time."""
    out: list[np.ndarray] = []
    for c in range(0, len(texts), chunk_size):
        values, offsets = _shingles_batch(texts[c : c + chunk_size], k)
        for i in range(len(offsets) - 1):  # a small sort per text beats one sort of the chunk
            seg = np.sort(values[offsets[i] : offsets[i + 1]])
            out.append(seg[np.concatenate([[True], seg[1:] != seg[:-1]])] if len(seg) else seg)
    return out


# --- minhash (one permutation hashing with optimal densification)
def _bins(h: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each hash among ``n_bins`` (multiply-shift range reduction of the high 32 bits), int64."""
    return (((h >> U64(32)) * U64(n_bins)) >> U64(32)).astype(np.int64)


def _oph(values: np.ndarray, row: np.ndarray, n_rows: int, n_bins: int) -> np.ndarray:
    """(n_rows, n_bins) uint32: per row and bin the minimum low 32 bits of the hashes falling in that bin."""
    out = np.full(n_rows * n_bins, MAX_U32, dtype=np.uint32)
    if len(values):
        np.minimum.at(out, row * n_bins + _bins(values, n_bins), (values & U64(0xFFFFFFFF)).astype(np.uint32))
    return out.reshape(n_rows, n_bins)


def _densify(sig: np.ndarray, seed: int) -> np.ndarray:
    """Fill empty bins (all ones) of rows that have at least one value, in place (optimal densification).

    An empty bin ``j`` takes the value of bin ``probe(j, t)`` for the first ``t = 1, 2, ...`` whose bin was
    filled by the row's own hashes. The probe sequence depends only on (seed, j, t), so two rows agree on a
    densified bin exactly as often as on a real one: the estimator stays unbiased (Shrivastava, ICML 2017).
    """
    n_bins = sig.shape[1]
    filled = sig != MAX_U32
    rows, cols = np.nonzero(~filled & filled.any(axis=1)[:, None])
    salt = _splitmix(np.array([seed + 0x5EED], dtype=U64))[0]
    t = 0
    while len(rows):
        t += 1
        probe = _bins(_splitmix((cols.astype(U64) + U64(1)) * _MIX + (U64(t) ^ salt)), n_bins)
        ok = filled[rows, probe]
        sig[rows[ok], cols[ok]] = sig[rows[ok], probe[ok]]
        rows, cols = rows[~ok], cols[~ok]
    return sig


@dataclass(frozen=True)
class Sketch:
    """MinHash sketches of a batch of texts, one row per text.

    sig: (n, num_perm) uint32 over all shingles; head: (n, head_perm) uint32 over the shingles of the first
    ``head_words`` words, for finding truncated copies and excerpts of the beginning; n_shingles: distinct
    shingles per text (0 = no words, never banded). With ``passages=True`` also the paragraphs of every text
    (``passages``): hashes, starts and ends concatenated, text ``i`` owning ``passage_offsets[i]:[i+1]``.
    """

    sig: np.ndarray
    head: np.ndarray
    n_shingles: np.ndarray
    passage_hash: np.ndarray | None = None
    passage_start: np.ndarray | None = None
    passage_end: np.ndarray | None = None
    passage_offsets: np.ndarray | None = None


def _sketch_chunk(args: tuple) -> Sketch:
    texts, k, num_perm, seed, head_words, head_perm, with_passages = args
    n = len(texts)
    tok = _tokenize(texts)
    values, offsets = _shingles_batch(tok, k)
    counts = np.diff(offsets)
    n_sh = np.zeros(n, dtype=np.int32)
    for i in np.flatnonzero(counts):  # distinct count: a small sort per text beats any global unique
        seg = np.sort(values[offsets[i] : offsets[i + 1]])
        n_sh[i] = 1 + np.count_nonzero(seg[1:] != seg[:-1])
    # the seed re-keys every shingle hash, so different seeds give independent sketches
    values = _splitmix(values ^ _splitmix(np.array([seed], dtype=U64))[0])
    row = np.repeat(np.arange(n, dtype=np.int64), counts)
    sig = _densify(_oph(values, row, n, num_perm), seed)
    n_head = np.minimum(counts, max(1, head_words - k + 1))
    in_head = np.arange(len(values), dtype=np.int64) - np.repeat(offsets[:-1], counts) < np.repeat(n_head, counts)
    head = _densify(_oph(values[in_head], row[in_head], n, head_perm), seed + 1)
    if not with_passages:
        return Sketch(sig=sig, head=head, n_shingles=n_sh)
    p_text, p_start, p_end, p_hash = _passages_batch(texts, tok, MIN_PASSAGE_CHARS)
    p_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(p_text, minlength=n), out=p_off[1:])
    return Sketch(
        sig=sig,
        head=head,
        n_shingles=n_sh,
        passage_hash=p_hash,
        passage_start=p_start.astype(np.int32),
        passage_end=p_end.astype(np.int32),
        passage_offsets=p_off,
    )


def sketch(
    texts: Sequence[str] | Iterable[Sequence[str]],
    *,
    k: int = 5,
    num_perm: int = 128,
    seed: int = 1,
    head_words: int = 100,
    head_perm: int = 16,
    chunk_size: int = 500,
    with_passages: bool = False,
) -> Sketch:
    """Full and head MinHash sketches of ``texts`` (see ``Sketch``), in this process.

    ``texts`` is a sequence of strings, or an iterable of batches (sequences of strings) so that a caller can
    stream a large corpus without holding it as Python strings at once. Work is done ``chunk_size`` texts at a
    time (bounds the token and shingle arrays); the result does not depend on ``chunk_size`` or the batching.
    Parallelism is the caller's: one call per shard, on the task runner (no pool here).
    """
    if head_perm > num_perm:
        raise ValueError("head_perm must be <= num_perm")
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not a string")
    batches = [texts] if isinstance(texts, Sequence) and (not texts or isinstance(texts[0], str)) else texts

    def chunks() -> Iterator[tuple]:
        for batch in batches:
            for i in range(0, len(batch), chunk_size):
                yield (list(batch[i : i + chunk_size]), k, num_perm, seed, head_words, head_perm, with_passages)

    results = [_sketch_chunk(job) for job in chunks()]
    if not results:
        results = [_sketch_chunk(([], k, num_perm, seed, head_words, head_perm, with_passages))]
    return _concat(results, with_passages)


def _concat(results: list[Sketch], with_passages: bool) -> Sketch:
    cat = np.concatenate
    if not with_passages:
        return Sketch(
            sig=cat([r.sig for r in results]),
            head=cat([r.head for r in results]),
            n_shingles=cat([r.n_shingles for r in results]),
        )
    p_counts = cat([np.diff(r.passage_offsets) for r in results])
    p_off = np.zeros(len(p_counts) + 1, dtype=np.int64)
    np.cumsum(p_counts, out=p_off[1:])
    return Sketch(
        sig=cat([r.sig for r in results]),
        head=cat([r.head for r in results]),
        n_shingles=cat([r.n_shingles for r in results]),
        passage_hash=cat([r.passage_hash for r in results]),
        passage_start=cat([r.passage_start for r in results]),
        passage_end=cat([r.passage_end for r in results]),
        passage_offsets=p_off,
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
        edges = np.array(list(pairs), dtype=np.int64).reshape(-1, 2)
        return components(int(n_or_ids), edges[:, 0], edges[:, 1])

    pair_list = list(pairs)
    ids = set(n_or_ids)
    for u, v in pair_list:
        ids.add(u)
        ids.add(v)
    ordered = sorted(ids)
    index = {x: i for i, x in enumerate(ordered)}
    labels = connected_components(len(ordered), ((index[u], index[v]) for u, v in pair_list))
    return {x: ordered[labels[i]] for i, x in enumerate(ordered)}


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Labels of nodes 0..n-1 linked by the edges ``a[i] - b[i]``: each the smallest node of its component.

    Vectorised union-find (hooking and pointer jumping): every round hooks the root of each edge's larger end
    onto the smaller root, then compresses every path; it ends when each edge's ends share a root. A root is
    the smallest node of its tree at every step, so the result does not depend on the order of the edges.
    """
    labels = np.arange(n, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    while len(a):
        la, lb = labels[a], labels[b]
        differ = la != lb
        if not differ.any():
            break
        la, lb = la[differ], lb[differ]
        np.minimum.at(labels, np.maximum(la, lb), np.minimum(la, lb))
        while True:  # pointer jumping until every node points at its root
            up = labels[labels]
            if np.array_equal(up, labels):
                break
            labels = up
        a, b = a[differ], b[differ]
    return labels


# --- bounded candidate pairs
@dataclass(frozen=True)
class AnchorPairs:
    """Pairs to compare, from LSH buckets (see ``anchor_pairs``): member node ``a[i]`` against node ``b[i]``,
    found in the bucket of input row ``row[i]``; with counts of buckets that were sampled."""

    a: np.ndarray
    b: np.ndarray
    row: np.ndarray
    buckets: int  # buckets with at least two members
    sampled_buckets: int  # buckets larger than max_bucket, sampled
    sampled_out: int  # member rows left out of sampled buckets


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For sorted ``keys``: (group index of each row, first row of each group, size of each group)."""
    start = np.ones(len(keys), dtype=bool)
    start[1:] = keys[1:] != keys[:-1]
    first = np.flatnonzero(start)
    size = np.diff(np.append(first, len(keys)))
    return np.cumsum(start) - 1, first, size


def _sample_buckets(
    keys: np.ndarray, nodes: np.ndarray, n_old: int, anchors: int, max_bucket: int
) -> tuple[np.ndarray, int]:
    """Rows kept (bool) when buckets larger than ``max_bucket`` are sampled (rows sorted by key, then node): a
    sampled bucket keeps its earlier-run members and first ``anchors`` new members, and of the others a
    deterministic pseudo-random share (hash of key and node), about ``max_bucket`` members in all."""
    gid, first, size = _groups(keys)
    big = np.flatnonzero(size > max_bucket)
    keep = np.ones(len(keys), dtype=bool)
    if not len(big):
        return keep, 0
    rows = np.concatenate([np.arange(first[g], first[g] + size[g]) for g in big.tolist()])
    n_old_g = np.add.reduceat((nodes < n_old).astype(np.int64), first)[gid[rows]]
    pos = rows - first[gid[rows]]
    budget = np.maximum(max_bucket - n_old_g - anchors, 0).astype(np.uint64)
    draw = _splitmix(keys[rows] ^ (nodes[rows].astype(U64) * _MIX)) % size[gid[rows]].astype(U64)
    keep[rows] = (pos < n_old_g + anchors) | (draw < budget)
    return keep, len(big)


class Buckets:
    """LSH buckets ready for anchored pairing (``pairs``), with bounded work per document (after NeMo Curator).

    Input: one row per (bucket key, node); nodes ``< n_old`` are earlier-run documents (already clustered; a
    caller passes at most a few per bucket), the others new documents numbered by rank, best first (the
    canonical rule). Within a bucket, members are ordered by node. Each new member is paired with every
    earlier-run member of the bucket and with the bucket's first ``anchors`` new members before it (the first is
    the bucket's canonical by the rule), never with all the others: a bucket of m members gives at most
    ``m * (anchors + earlier-run members)`` pairs, not m²/2. Because anchors are the best-ranked members and the
    rank is global, a document meets the same few anchors in most of its buckets, so its distinct pairs stay
    few. A bucket larger than ``max_bucket`` is sampled (``_sample_buckets``). Pairs may repeat across buckets.

    Memory: the rows of buckets with at least two members, sorted, 16 bytes each (``shared_rows`` drops the
    others before the sort); ``pairs`` makes the pairs of the members in a node range only, so a caller bounds
    them by asking range by range.
    """

    def __init__(
        self, keys: np.ndarray, nodes: np.ndarray, *, n_old: int = 0, anchors: int = 2, max_bucket: int = 5_000
    ):
        keys = np.asarray(keys, dtype=U64)
        nodes = np.asarray(nodes, dtype=np.int64)
        shared = shared_rows(keys)  # a bucket of one member makes no pair: most band rows, dropped before the sort
        keys, nodes = keys[shared], nodes[shared]
        order = np.argsort(nodes, kind="stable")
        order = order[np.argsort(keys[order], kind="stable")]  # by key, then node
        keys, nodes = keys[order], nodes[order]
        order = shared[order]  # input rows
        keep, self.sampled_buckets = _sample_buckets(keys, nodes, n_old, anchors, max_bucket)
        self.sampled_out = int(len(keep) - keep.sum())
        _, first, size = _groups(keys[keep])
        self.buckets = int((size > 1).sum())
        keep[keep] = np.repeat(size > 1, size)  # a bucket of one member makes no pair
        keys, nodes, order = keys[keep], nodes[keep], order[keep]
        gid, first, _ = _groups(keys)
        del keys
        old = nodes < n_old
        n_old_g = np.add.reduceat(old.astype(np.int64), first)[gid] if len(gid) else gid
        pos = np.arange(len(nodes), dtype=np.int64) - first[gid]
        self.count = np.where(old, 0, n_old_g + np.minimum(pos - n_old_g, anchors)).astype(np.int32)
        small = np.int32 if max(len(order), int(nodes.max(initial=0))) < 2**31 else np.int64
        self.first = first[gid].astype(small)
        self.nodes, self.row = nodes.astype(small), order.astype(small)

    def pairs(self, lo: int = 0, hi: int | None = None) -> AnchorPairs:
        """The pairs of the member nodes in [lo, hi): member ``a`` against ``b``, from the bucket of input row
        ``row`` (each distinct pair of such members is made in no other range)."""
        at = np.flatnonzero((self.nodes >= lo) & (self.nodes < (hi if hi is not None else np.iinfo(np.int64).max)))
        count = self.count[at]
        rep = np.repeat(at, count)
        offset = np.arange(len(rep), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
        return AnchorPairs(
            a=self.nodes[rep],
            b=self.nodes[self.first[rep] + offset],
            row=self.row[rep],
            buckets=self.buckets,
            sampled_buckets=self.sampled_buckets,
            sampled_out=self.sampled_out,
        )


SHARED_ROWS_CHUNK = 1 << 20  # rows looked up at a time: temporaries of 8 MiB, not 8 bytes per row


def shared_rows(*parts: np.ndarray) -> np.ndarray:
    """Indices, ascending, of the rows of ``parts`` (their concatenation; one array or several) whose key occurs
    in more than one row. Memory: one sorted copy of the keys (freed before the lookup) and the result, against the
    two argsorts of every row that a sort of all the bucket rows takes (measured on the 100k bench corpus, by
    tracemalloc: 5.6 million bucket rows of which 0.29 million shared; `Buckets` peaked 348 MiB above its start
    sorting them all, 91 MiB dropping the unshared rows first, and the near-dup reduce's bucket rows 93 MiB
    instead of 438 with the lookup over its parts)."""
    s = np.concatenate([np.asarray(p, dtype=U64) for p in parts]) if parts else np.empty(0, U64)
    s.sort()
    same = s[1:] == s[:-1]
    multi = np.unique(s[1:][same])
    del s, same
    if not len(multi):
        return np.empty(0, dtype=np.int64)
    found, offset = [], 0
    for keys in parts:
        for lo in range(0, len(keys), SHARED_ROWS_CHUNK):
            part = np.asarray(keys[lo : lo + SHARED_ROWS_CHUNK], dtype=U64)
            at = np.minimum(np.searchsorted(multi, part), len(multi) - 1)
            found.append(np.flatnonzero(multi[at] == part) + offset + lo)
        offset += len(keys)
    return np.concatenate(found)


def anchor_pairs(
    keys: np.ndarray, nodes: np.ndarray, *, n_old: int = 0, anchors: int = 2, max_bucket: int = 5_000
) -> AnchorPairs:
    """All the pairs of ``Buckets(keys, nodes, ...)`` at once."""
    return Buckets(keys, nodes, n_old=n_old, anchors=anchors, max_bucket=max_bucket).pairs()


def distinct_pairs(a: np.ndarray, b: np.ndarray, kind: np.ndarray, n_kinds: int) -> tuple[np.ndarray, ...]:
    """Distinct (a, b) pairs, sorted by a then b, with (pairs, n_kinds) counts of the rows of each kind.

    ``kind`` says which family of buckets (full-text bands, head bands, paragraphs...) a pair row came from,
    so the counts are the evidence per family: how many buckets of that family the two documents share.
    """
    if not len(a):
        return np.empty(0, np.int64), np.empty(0, np.int64), np.zeros((0, n_kinds), np.int64)
    width = np.int64(max(int(a.max()), int(b.max())) + 1)
    key, inverse = np.unique(a.astype(np.int64) * width + b, return_inverse=True)
    counts = np.bincount(inverse * n_kinds + kind, minlength=len(key) * n_kinds).reshape(-1, n_kinds)
    return key // width, key % width, counts


def first_per_node(a: np.ndarray, cap: int) -> np.ndarray:
    """For ``a`` sorted ascending: whether each row is among the first ``cap`` rows of its value of ``a``."""
    if not len(a):
        return np.ones(0, dtype=bool)
    gid, first, _ = _groups(a)
    return np.arange(len(a)) - first[gid] < cap


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
_PASSAGE_SALT = np.uint64(0x7061737361676532)


def _paragraph_spans(texts: Sequence[str], min_chars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text index, start, end) of the non-blank lines of ``texts`` with at least ``min_chars`` characters once
    stripped of surrounding whitespace; ``text[start:end]`` is the stripped line."""
    p_text: list[int] = []
    p_start: list[int] = []
    p_end: list[int] = []
    for i, text in enumerate(texts):
        for m in _LINE_RE.finditer(text):
            line = m.group()
            stripped = line.strip()
            if len(stripped) >= min_chars:
                start = m.start() + (len(line) - len(line.lstrip()))
                p_text.append(i)
                p_start.append(start)
                p_end.append(start + len(stripped))
    as_array = lambda x: np.array(x, dtype=np.int64)  # noqa: E731
    return as_array(p_text), as_array(p_start), as_array(p_end)


def _sequence_hashes(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """uint64 hash of each run ``w[lo[i]:hi[i]]`` of token hashes: a pure function of the token sequence."""
    pw, inv = _powers(len(w) + 1)
    prefix = np.zeros(len(w) + 1, dtype=U64)
    np.cumsum(w * pw[: len(w)], out=prefix[1:])
    value = (prefix[hi] - prefix[lo]) * inv[lo]
    return _splitmix(value ^ _splitmix((hi - lo).astype(U64) + _PASSAGE_SALT))


def _passages_batch(
    texts: Sequence[str], tok: _Tokens, min_chars: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Paragraphs of a batch (see ``passages``): (text index, start, end, hash), in text order.

    The hash is over the paragraph's word tokens. For an ASCII text they are the text's own tokens from
    ``tok`` (positions in the batch buffer are its character offsets); the paragraphs of other texts are
    tokenized again on their own.
    """
    p_text, p_start, p_end = _paragraph_spans(texts, min_chars)
    lo = np.zeros(len(p_text), dtype=np.int64)
    hi = np.zeros(len(p_text), dtype=np.int64)
    h = np.zeros(len(p_text), dtype=U64)
    plain = tok.ascii[p_text] if len(p_text) else np.zeros(0, dtype=bool)
    base = tok.text_start[p_text[plain]]
    lo[plain] = np.searchsorted(tok.starts, base + p_start[plain])
    hi[plain] = np.searchsorted(tok.starts, base + p_end[plain])
    if plain.any():
        h[plain] = _sequence_hashes(tok.h, lo[plain], hi[plain])
    other = np.flatnonzero(~plain)
    if len(other):
        sub = _tokenize([texts[p_text[j]][p_start[j] : p_end[j]] for j in other.tolist()])
        ends = np.cumsum(sub.counts)
        lo[other], hi[other] = ends - sub.counts, ends
        h[other] = _sequence_hashes(sub.h, lo[other], hi[other])
    keep = hi > lo  # a paragraph without words is no passage
    return p_text[keep], p_start[keep], p_end[keep], h[keep]


def passages(text: str, min_chars: int = MIN_PASSAGE_CHARS) -> list[Passage]:
    """Paragraphs of ``text`` (non-blank lines: blocks separated by newlines) of at least ``min_chars`` chars.

    ``start``/``end`` are character offsets into ``text`` with surrounding whitespace excluded, so
    ``text[start:end]`` is the paragraph. The hash is over the paragraph's word tokens (``tokens``), so case,
    punctuation and whitespace differences do not matter. Paragraphs without tokens are skipped.
    """
    _, start, end, h = _passages_batch([text], _tokenize([text]), min_chars)
    return [Passage(int(x), int(s), int(e)) for x, s, e in zip(h.tolist(), start.tolist(), end.tolist(), strict=True)]
