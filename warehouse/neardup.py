"""Near-duplicate stage, incremental: MinHash LSH with the band join in DuckDB.

Grain of the outputs (see the schemas below): ``dup_clusters`` one row per new document; ``doc_signatures``
one row per new document (its sketch, band hashes and paragraph hashes, persisted so later runs compare only
their new documents against everything earlier); ``shared_passages`` one row per (document, other document,
shared paragraph occurrence) between documents in different clusters.

Decision rule for a candidate pair (a pair sharing at least one LSH band):
    link if estimated Jaccard >= ``threshold``                                      -> 'near'
    or if the exact overlap coefficient |A∩B| / min(|A|, |B|) of the shingle sets
       >= ``containment_threshold``                                                 -> 'contained'
The containment check runs only for pairs whose signature estimate makes it plausible (within
``CONTAINMENT_SLACK``), on the shingles recomputed from the texts, since the estimate is noisy when one
text is much shorter than the other.

Clusters are connected components of linked pairs. Canonical rule (``transforms.dedup.canonical_key``): most
words, then earliest ``first_seen``, then smallest ``doc_id``; ``cluster_id`` is the canonical's doc_id when the
cluster is created. Rows already published are never rewritten, so:
  * a new document linked to an earlier cluster joins it and the earlier canonical stays canonical, even if
    the new document is longer (stability wins over completeness);
  * if new documents link several earlier clusters, they join the one whose canonical ranks first by the
    canonical rule; the earlier clusters are not merged (their rows are immutable).
``method``: 'exact' for the canonical (similarity 1.0) and for a document alone in its cluster; for a member,
'near' with similarity = estimated Jaccard to the canonical when that is >= threshold, else 'contained' with
similarity = overlap coefficient with the canonical when that is >= containment_threshold, else 'near'
with the estimated Jaccard (a member linked to the canonical only through other members).

Defaults come from ``bench/dedup_eval.py`` (see ``DEFAULT_THRESHOLD``).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms import dedup
from warehouse import schema

# Chosen from bench/dedup_eval.py: copies with <= 10 % word substitutions have 5-shingle Jaccard >= ~0.35
# (each substitution breaks up to 5 shingles), while different articles on the same story stay < 0.05
# (the three seeds on the same Moscow visit: <= 0.02). 0.3 keeps recall on 10 % edits with the
# ~0.04 estimation noise of 128 permutations, and a wide margin to different articles. Sweep (2,000 docs,
# bench/results/dedup_eval_sweep.json): thresholds 0.2-0.3 with containment 0.5-0.6 score the same (P 1.0,
# R 0.998); 0.15 reaches R 1.0 on this synthetic corpus but leaves less margin on real same-story articles;
# 0.4, or containment 0.8, loses recall on 6-10 % substitutions and truncations. So: the highest safe value.
DEFAULT_THRESHOLD = 0.3
# A truncated copy or excerpt shares nearly all its shingles with the longer text (overlap ~1.0); light edits
# on top lower it. 0.6 accepts a 50 % truncation with ~5 % substitutions, far above unrelated texts (< 0.05).
DEFAULT_CONTAINMENT_THRESHOLD = 0.6
# Containment is verified exactly for pairs whose estimated overlap is within this of the threshold.
CONTAINMENT_SLACK = 0.25
# A paragraph occurring in more documents than this is boilerplate (footer, disclaimer), not a shared passage.
MAX_PASSAGE_DOCS = 50
# Rows of the band join streamed from DuckDB and verified at a time. Template text makes the number of candidate
# pairs grow about quadratically (24 M at 100k synthetic documents), so they are never all in memory, in Python
# or in DuckDB (no DISTINCT): only the linked pairs and the few pairs needing an exact containment check are kept.
PAIR_BATCH = 250_000
# Exact shingle sets (~8 bytes per distinct shingle) kept between containment checks, least recently used out.
SHINGLE_CACHE = 1_024
# Pairs whose signature or band rows are gathered at a time: bounds the (pairs, num_perm) temporaries.
ROW_CHUNK = 50_000


@dataclass(frozen=True)
class DedupParams:
    """Sketch and LSH parameters; ``scheme`` is stored with every signature row and must match across runs."""

    k: int = 5
    num_perm: int = 128
    seed: int = 1
    bands: int = 64  # 64 bands x 2 rows: P(candidate) >= 0.98 at Jaccard 0.25, 0.47 at 0.1, 0.006 at 0.01
    rows: int = 2
    head_words: int = 100  # extra sketch of the first 100 words: truncated copies collide on it for sure
    head_bands: int = 8
    head_rows: int = 2

    @property
    def head_perm(self) -> int:
        return self.head_bands * self.head_rows

    @property
    def scheme(self) -> str:
        """v2: one permutation hashing with densification over vectorised token hashes (``transforms.dedup``);
        v1 signatures (128 multiply-shift permutations) are not comparable and are refused."""
        return (
            f"minhash-v2-oph:k{self.k}:p{self.num_perm}:s{self.seed}:b{self.bands}x{self.rows}"
            f":h{self.head_words}:{self.head_bands}x{self.head_rows}"
        )


DUP_CLUSTERS_SCHEMA = schema.without_run_id(schema.DUP_CLUSTERS)
DOC_SIGNATURES_SCHEMA = schema.without_run_id(schema.DOC_SIGNATURES)
SHARED_PASSAGES_SCHEMA = schema.without_run_id(schema.SHARED_PASSAGES)

DOCUMENTS_INPUT_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("text", pa.string()),
        ("n_words", pa.int64()),
        ("first_seen", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass
class NearDupResult:
    """Rows to append for the new documents of one run, and run statistics."""

    dup_clusters: pa.Table
    doc_signatures: pa.Table
    shared_passages: pa.Table
    stats: dict[str, Any] = field(default_factory=dict)


def empty_state(con: duckdb.DuckDBPyConnection) -> None:
    """Create empty ``documents``, ``dup_clusters``, ``doc_signatures`` and ``shared_passages`` tables if absent.

    For a first run or tests; the store may instead expose views with (at least) these columns.
    """
    for name, table_schema in (
        ("documents", DOCUMENTS_INPUT_SCHEMA),
        ("dup_clusters", DUP_CLUSTERS_SCHEMA),
        ("doc_signatures", DOC_SIGNATURES_SCHEMA),
        ("shared_passages", SHARED_PASSAGES_SCHEMA),
    ):
        empty = table_schema.empty_table()  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} AS SELECT * FROM empty")


# --- sketches of the new documents
SKETCH_BATCH = 5_000  # texts converted from Arrow to Python strings at a time (streamed to the sketch workers)


def _text_batches(texts: pa.ChunkedArray | pa.Array, order: np.ndarray) -> Iterator[list[str]]:
    """The texts in ``order``, a batch of Python strings at a time (never the whole corpus at once)."""
    for i in range(0, len(order), SKETCH_BATCH):
        yield [t or "" for t in _take_pylist(texts, order[i : i + SKETCH_BATCH])]


def _take_pylist(col: pa.ChunkedArray | pa.Array, idx: np.ndarray) -> list[Any]:
    """``col.take(idx).to_pylist()``, taken chunk by chunk: Arrow's take on a chunked string column first
    concatenates all its chunks (a copy of every text: ~340 MB for 94k documents in 315 chunks)."""
    if not isinstance(col, pa.ChunkedArray) or col.num_chunks <= 1:
        return col.take(pa.array(idx)).to_pylist()
    idx = np.asarray(idx, dtype=np.int64)  # sort_indices gives uint64: uint64 - int64 would be float64
    starts = np.cumsum([0] + [len(c) for c in col.chunks], dtype=np.int64)
    chunk_of = np.searchsorted(starts, idx, side="right") - 1
    out: list[Any] = [None] * len(idx)
    for c in np.unique(chunk_of):
        at = np.flatnonzero(chunk_of == c)
        values = col.chunk(int(c)).take(pa.array(idx[at] - starts[c])).to_pylist()
        for j, value in zip(at.tolist(), values, strict=True):
            out[j] = value
    return out


def _list_array(offsets: np.ndarray, values: np.ndarray, value_type: pa.DataType) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values, value_type))


def _sketch_table(
    doc_ids: pa.Array, texts: pa.ChunkedArray | pa.Array, order: np.ndarray, params: DedupParams, n_jobs: int
) -> tuple[pa.Table, dedup.Sketch, np.ndarray]:
    """``doc_signatures`` rows of the new documents (in ``order``), their sketch and (n, bands) band hashes."""
    sk = dedup.sketch(
        _text_batches(texts, order),
        k=params.k,
        num_perm=params.num_perm,
        seed=params.seed,
        head_words=params.head_words,
        head_perm=params.head_perm,
        n_jobs=n_jobs,
        with_passages=True,
    )
    n = len(order)
    bands = np.concatenate(
        [
            dedup.band_hashes(sk.sig, params.bands, params.rows, salt=0),
            dedup.band_hashes(sk.head, params.head_bands, params.head_rows, salt=1),
        ],
        axis=1,
    )
    has = sk.n_shingles > 0
    band_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.where(has, bands.shape[1], 0), out=band_offsets[1:])
    sig_offsets = np.arange(0, (n + 1) * params.num_perm, params.num_perm, dtype=np.int64)
    po = sk.passage_offsets
    table = pa.table(
        {
            "doc_id": doc_ids,
            "scheme": pa.array([params.scheme] * n, pa.string()),
            "n_shingles": pa.array(sk.n_shingles, pa.int32()),
            "minhash": _list_array(sig_offsets, sk.sig.ravel(), pa.uint32()),
            "bands": _list_array(band_offsets, bands[has].ravel(), pa.uint64()),
            "passage_hashes": _list_array(po, sk.passage_hash, pa.uint64()),
            "passage_starts": _list_array(po, sk.passage_start, pa.int32()),
            "passage_ends": _list_array(po, sk.passage_end, pa.int32()),
        },
        schema=DOC_SIGNATURES_SCHEMA,
    )
    return table, sk, bands


def _check_scheme(con: duckdb.DuckDBPyConnection, params: DedupParams) -> None:
    other = con.execute(
        "SELECT DISTINCT scheme FROM doc_signatures WHERE scheme <> ? LIMIT 3", [params.scheme]
    ).fetchall()
    if other:
        raise ValueError(
            f"doc_signatures holds sketches of scheme {other[0][0]!r}, this run uses {params.scheme!r}: "
            "re-sketch the warehouse or keep the earlier DedupParams"
        )


def _minhash_matrix(col: pa.ChunkedArray | pa.Array, num_perm: int) -> np.ndarray:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return arr.flatten().to_numpy(zero_copy_only=False).astype(np.uint32).reshape(-1, num_perm)


def _np(col: pa.ChunkedArray | pa.Array, dtype: type, fill: int = 0) -> np.ndarray:
    return pc.fill_null(col, fill).to_numpy(zero_copy_only=False).astype(dtype)


def _union_find(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Labels (smallest node of the component) of nodes 0..n-1 linked by the edges ``a[i] - b[i]``."""
    return dedup.connected_components(n, zip(a.tolist(), b.tolist(), strict=True))


def _band_matrix(col: pa.ChunkedArray | pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) uint64 band hashes from a ``bands`` list column (0 for a document without bands: no shingles),
    and which rows have bands."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    banded = pc.fill_null(pc.equal(pc.list_value_length(arr), width), False).to_numpy(zero_copy_only=False)
    out = np.zeros((len(arr), width), dtype=np.uint64)
    out[banded] = arr.filter(pa.array(banded)).flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
    return out, banded


def _fingerprints(bands: np.ndarray) -> np.ndarray:
    """16-bit fingerprints of band hashes: equal hashes have equal fingerprints."""
    u = np.uint64
    return (bands ^ (bands >> u(16)) ^ (bands >> u(32)) ^ (bands >> u(48))).astype(np.uint16)


def _first_shared_band(bands: np.ndarray, fp: np.ndarray, a: np.ndarray, b: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Whether band position ``k[i]`` is the first where nodes ``a[i]`` and ``b[i]`` have equal band hashes.

    The band join yields a pair once per band it shares; keeping only the row of its first shared band keeps
    each pair once, as DISTINCT would, without anything holding every pair (the band index is mixed into the
    hashes, so a join match at position ``k`` is equality at ``k``). ``fp`` (16-bit fingerprints of ``bands``)
    rules out earlier bands cheaply; the few rows with an earlier fingerprint match are checked on the hashes.
    """
    keep = np.ones(len(a), dtype=bool)
    pos = np.arange(bands.shape[1])
    for s in range(0, len(a), ROW_CHUNK):
        sa, sb = a[s : s + ROW_CHUNK], b[s : s + ROW_CHUNK]
        earlier = pos < k[s : s + ROW_CHUNK, None]
        maybe = np.flatnonzero(((fp[sa] == fp[sb]) & earlier).any(axis=1))
        if len(maybe):
            same = bands[sa[maybe]] == bands[sb[maybe]]
            keep[s + maybe] = ~(same & earlier[maybe]).any(axis=1)
    return keep


def _estimate(
    sig: np.ndarray,
    n_shingles: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    threshold: float,
    containment_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Estimated Jaccard of the aligned node pairs ``a[i] - b[i]`` (rows of ``sig``) and whether their exact
    containment is worth checking: below ``threshold``, and the estimated overlap within ``CONTAINMENT_SLACK``."""
    jac = np.zeros(len(a))
    plausible = np.zeros(len(a), dtype=bool)
    for s in range(0, len(a), ROW_CHUNK):
        sa, sb = a[s : s + ROW_CHUNK], b[s : s + ROW_CHUNK]
        j = dedup.estimated_jaccard(sig[sa], sig[sb])
        na, nb = n_shingles[sa], n_shingles[sb]
        c_est = dedup.containment_from_jaccard(j, na, nb)
        jac[s : s + len(j)] = j
        plausible[s : s + len(j)] = (
            (j < threshold) & (c_est >= containment_threshold - CONTAINMENT_SLACK) & (na > 0) & (nb > 0)
        )
    return jac, plausible


def _texts_of(con: duckdb.DuckDBPyConnection, doc_ids: list[str]) -> dict[str, str | None]:
    """Texts of earlier documents by doc_id (missing or NULL: None)."""
    if not doc_ids:
        return {}
    con.register("_nd_texts", pa.table({"doc_id": pa.array(doc_ids, pa.string())}))
    try:
        return dict(con.sql("SELECT d.doc_id, d.text FROM documents d JOIN _nd_texts USING (doc_id)").fetchall())
    finally:
        con.unregister("_nd_texts")


# --- the stage
def assign_near_duplicates(
    con: duckdb.DuckDBPyConnection,
    new_docs: pa.Table,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    containment_threshold: float = DEFAULT_CONTAINMENT_THRESHOLD,
    params: DedupParams = DedupParams(),
    max_passage_docs: int = MAX_PASSAGE_DOCS,
    n_jobs: int = 1,
) -> NearDupResult:
    """Cluster ``new_docs`` against each other and against every earlier document in ``con``.

    ``con`` must expose ``documents(doc_id, text, n_words, first_seen)``, ``dup_clusters`` and
    ``doc_signatures`` for the prior published state (possibly empty; ``empty_state`` creates them).
    ``new_docs`` has doc_id, text, n_words, first_seen; none of its doc_ids is in the prior state.
    Returns rows for the new documents only, sorted by doc_id; the same inputs give the same rows.

    Memory: the texts are never all converted to Python strings at once (``SKETCH_BATCH`` at a time) and the
    table is not copied; documents are integers (their rank by doc_id) in the band join and verification. The
    candidate pairs (which grow about quadratically with template text) are streamed from the band join
    ``PAIR_BATCH`` rows at a time and only the linked ones are kept, so memory grows with the documents, not the
    candidates; earlier documents' texts are fetched only for the few pairs checked for containment.
    """
    t0 = time.perf_counter()
    secs: dict[str, float] = {}
    n = new_docs.num_rows
    order = pc.sort_indices(new_docs.column("doc_id")).to_numpy()
    doc_ids = new_docs.column("doc_id").take(pa.array(order)).combine_chunks()
    if n and pc.count_distinct(doc_ids).as_py() != n:
        raise ValueError("new_docs has duplicate doc_id values")
    text_col = new_docs.column("text")
    n_words = _np(new_docs.column("n_words").take(pa.array(order)), np.int64)
    fs_col = new_docs.column("first_seen").take(pa.array(order))
    fs_null = fs_col.is_null().to_numpy(zero_copy_only=False).astype(bool)
    first_seen = _np(fs_col.cast(pa.int64()), np.int64)
    _check_scheme(con, params)

    sig_table, sk, bands = _sketch_table(doc_ids, text_col, order, params, n_jobs)
    secs["sketch"] = time.perf_counter() - t0

    # --- earlier documents sharing a band with a new one (a semi join; the pairs themselves are streamed below)
    t = time.perf_counter()
    has = np.flatnonzero(sk.n_shingles > 0)
    width = bands.shape[1]
    band_rows = pa.table(
        {
            "i": np.repeat(has.astype(np.int32), width),
            "k": np.tile(np.arange(width, dtype=np.int16), len(has)),
            "h": bands[has].ravel(),
        }
    )
    con.register("_nd_nb", band_rows)
    try:
        old_ids = con.sql(
            """
            SELECT DISTINCT doc_id FROM (SELECT doc_id, unnest(bands) AS h FROM doc_signatures)
             WHERE h IN (SELECT h FROM _nd_nb)
            """
        ).to_arrow_table()
        # --- their signatures, clusters and the canonicals of those clusters
        con.register("_nd_old_ids", old_ids)
        old = con.execute(
            """
            SELECT o.doc_id, c.cluster_id, c.canonical_doc_id, k.n_words AS canon_words,
                   k.first_seen AS canon_first_seen
              FROM _nd_old_ids o
              JOIN dup_clusters c USING (doc_id)
              LEFT JOIN documents k ON k.doc_id = c.canonical_doc_id
             ORDER BY o.doc_id
            """
        ).fetchall()
        old_cluster = {r[0]: r[1] for r in old}
        cluster_info = {r[1]: (r[2], r[3], r[4]) for r in old}  # cluster -> (canonical, words, first_seen)
        need_sig = sorted(set(old_cluster) | {v[0] for v in cluster_info.values()})
        con.register("_nd_need", pa.table({"doc_id": pa.array(need_sig, pa.string())}))
        osig = con.sql(
            """
            SELECT s.doc_id, s.n_shingles, s.minhash, s.bands
              FROM doc_signatures s JOIN _nd_need USING (doc_id)
             ORDER BY s.doc_id
            """
        ).to_arrow_table()
        o_ids: list[str] = osig.column("doc_id").to_pylist()
        o_pos = {d: n + i for i, d in enumerate(o_ids)}  # earlier documents are nodes n, n+1, ... below
        # one signature and one band matrix for new (rows 0..n-1) and the earlier documents involved (rows n..)
        o_sig = _minhash_matrix(osig.column("minhash"), params.num_perm) if o_ids else None
        all_sig = sk.sig if o_sig is None else np.concatenate([sk.sig, o_sig])
        all_nsh = np.concatenate([sk.n_shingles.astype(np.int64), _np(osig.column("n_shingles"), np.int64)])
        o_bands, o_banded = _band_matrix(osig.column("bands"), width)
        del osig, o_sig
        # band rows of the earlier documents that can be linked (not those without a cluster row or signature:
        # inconsistent prior state), as node numbers
        link = np.array(sorted({o_pos[d] - n for d in old_cluster if d in o_pos}), dtype=np.int64)
        link = link[o_banded[link]]
        ob_rows = pa.table(
            {
                "p": np.repeat((link + n).astype(np.int32), width),
                "k": np.tile(np.arange(width, dtype=np.int16), len(link)),
                "h": o_bands[link].ravel(),
            }
        )
        con.register("_nd_ob", ob_rows)
        all_bands = bands if not o_ids else np.concatenate([bands, o_bands])
        del o_bands
        fp = _fingerprints(all_bands)
        secs["fetch_prior"] = time.perf_counter() - t

        # --- candidates: pairs sharing a band hash (band index is mixed into the hash), at least one side new;
        # streamed in batches, each pair once (its first shared band) and verified by its estimated Jaccard.
        # DuckDB's join time is counted here.
        t = time.perf_counter()
        counts = {"candidate_pairs": 0, "containment_checks": 0}
        linked_parts: list[tuple[np.ndarray, np.ndarray]] = []
        check_parts: list[tuple[np.ndarray, np.ndarray]] = []
        # One join per band: its hash table holds one band's rows, not all of them (2.3 M rows for 94k new
        # documents took ~250 MB); a band's hash differs from every other band's, so no pair is lost.
        queries = (
            "SELECT a.i AS a, b.i AS b, a.k FROM (SELECT i, k, h FROM _nd_nb WHERE k = $k) a"
            " JOIN (SELECT i, h FROM _nd_nb WHERE k = $k) b ON a.h = b.h AND a.i < b.i",
            "SELECT n.i AS a, o.p AS b, n.k FROM (SELECT i, k, h FROM _nd_nb WHERE k = $k) n"
            " JOIN (SELECT p, h FROM _nd_ob WHERE k = $k) o ON o.h = n.h",
        )
        for sql, band in itertools.product(queries, range(width)):
            with con.sql(sql, params={"k": band}).to_arrow_reader(PAIR_BATCH) as reader:
                for batch in reader:
                    a, b, k = (_np(c, np.int64) for c in batch.columns)
                    first = _first_shared_band(all_bands, fp, a, b, k)
                    a, b = a[first], b[first]
                    jac, plausible = _estimate(all_sig, all_nsh, a, b, threshold, containment_threshold)
                    near = jac >= threshold
                    linked_parts.append((a[near], b[near]))
                    check_parts.append((a[plausible], b[plausible]))
                    counts["candidate_pairs"] += len(a)
                    counts["containment_checks"] += int(plausible.sum())
        secs["candidates"] = time.perf_counter() - t
    finally:
        for name in ("_nd_nb", "_nd_old_ids", "_nd_need", "_nd_ob"):
            with contextlib.suppress(Exception):
                con.unregister(name)
    del band_rows, ob_rows, all_bands, fp

    # --- exact containment for the pairs whose estimate makes it plausible (few: texts are re-shingled)
    t = time.perf_counter()
    o_texts: dict[str, str | None] = {}  # texts of the earlier documents in the pairs being checked

    @functools.lru_cache(maxsize=SHINGLE_CACHE)
    def exact_shingles(i: int) -> np.ndarray:
        text = text_col[int(order[i])].as_py() if i < n else o_texts.get(o_ids[i - n])
        return dedup.shingles(text or "", params.k)

    def containment(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Exact overlap coefficient of aligned node pairs, checked in (a, b) order so the cache is reused."""
        o_texts.clear()
        o_texts.update(_texts_of(con, sorted({o_ids[i - n] for i in np.concatenate([a, b]).tolist() if i >= n})))
        ovl = np.empty(len(a))
        for j in np.lexsort((b, a)).tolist():
            ovl[j] = dedup.containment(exact_shingles(int(a[j])), exact_shingles(int(b[j])))
        return ovl

    def similarity(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(estimated Jaccard, overlap coefficient or -1 when not plausible) of aligned node index arrays."""
        jac, plausible = _estimate(all_sig, all_nsh, a, b, threshold, containment_threshold)
        ovl = np.full(len(a), -1.0)
        ovl[plausible] = containment(a[plausible], b[plausible])
        return jac, ovl

    ca = np.concatenate([np.empty(0, np.int64), *(p[0] for p in check_parts)])
    cb = np.concatenate([np.empty(0, np.int64), *(p[1] for p in check_parts)])
    contained = containment(ca, cb) >= containment_threshold  # plausible pairs are below the Jaccard threshold
    linked_parts.append((ca[contained], cb[contained]))
    la = np.concatenate([np.empty(0, np.int64), *(p[0] for p in linked_parts)])
    lb = np.concatenate([np.empty(0, np.int64), *(p[1] for p in linked_parts)])
    del linked_parts, check_parts
    # batches arrive in no fixed order and components do not depend on it; sort for reproducible debugging
    srt = np.lexsort((lb, la))
    la, lb = la[srt], lb[srt]
    secs["verify"] = time.perf_counter() - t

    # --- components over new docs and earlier clusters (each earlier cluster is one node: n + its index)
    t = time.perf_counter()
    old_clusters = sorted(cluster_info)
    o_cluster_node = {c: n + i for i, c in enumerate(old_clusters)}
    node_of_old = np.full(len(o_ids), -1, dtype=np.int64)
    for i, d in enumerate(o_ids):
        if d in old_cluster:
            node_of_old[i] = o_cluster_node[old_cluster[d]]
    lb = np.where(lb < n, lb, node_of_old[np.maximum(lb - n, 0)] if len(o_ids) else lb)
    full_labels = _union_find(n + len(old_clusters), la, lb)  # a label is the smallest node of its component
    labels = full_labels[:n]

    # canonical of each component of new docs only: most words, earliest first_seen (missing last), doc_id
    rank = np.lexsort((np.arange(n), first_seen, fs_null, -n_words, labels))  # grouped by label, best first
    best_new = np.empty(n + len(old_clusters), dtype=np.int64)
    lab_sorted = labels[rank]
    head = np.ones(n, dtype=bool)
    head[1:] = lab_sorted[1:] != lab_sorted[:-1]
    best_new[lab_sorted[head]] = rank[head]
    canon = best_new[labels]  # new-doc index of the canonical; replaced below for components with earlier clusters
    canon_old = np.zeros(n, dtype=bool)
    cluster_str = doc_ids.take(pa.array(canon)).to_pylist()
    canon_str = list(cluster_str)
    if old_clusters:
        comp_old: dict[int, list[str]] = {}  # component label -> earlier clusters in it
        for c in old_clusters:
            comp_old.setdefault(int(full_labels[o_cluster_node[c]]), []).append(c)
        for i in range(n):
            cl = comp_old.get(int(labels[i]))
            if cl:
                best = min(cl, key=lambda c: dedup.canonical_key(*cluster_info[c][1:], cluster_info[c][0]))
                cluster_str[i], canon_str[i] = best, cluster_info[best][0]
                canon_old[i] = True
                canon[i] = o_pos.get(cluster_info[best][0], -1)

    # similarity of every new doc to its canonical
    idx = np.arange(n)
    is_canon = ~canon_old & (canon == idx)
    nc = np.flatnonzero(~is_canon)
    target = canon[nc]
    missing = target < 0  # earlier canonical without a signature row: compares as empty
    j_c = np.zeros(len(nc))
    o_c = np.full(len(nc), -1.0)
    if len(nc):
        ok = np.flatnonzero(~missing)
        j_ok, o_ok = similarity(nc[ok], target[ok])
        j_c[ok], o_c[ok] = j_ok, o_ok
    method = np.full(n, "exact", dtype=object)
    sims = np.ones(n)
    near = j_c >= threshold
    cont = ~near & (o_c >= containment_threshold)
    method[nc] = np.where(cont, "contained", "near")
    sims[nc] = np.where(cont, o_c, j_c)
    clusters = pa.table(
        {
            "doc_id": doc_ids,
            "cluster_id": pa.array(cluster_str, pa.string()),
            "canonical_doc_id": pa.array(canon_str, pa.string()),
            "method": pa.array(method.tolist(), pa.string()),
            "similarity": pa.array(sims, pa.float64()),
        },
        schema=DUP_CLUSTERS_SCHEMA,
    )
    secs["cluster"] = time.perf_counter() - t

    t = time.perf_counter()
    shared = _shared_passages(con, doc_ids, clusters.column("cluster_id"), sk, max_passage_docs)
    secs["passages"] = time.perf_counter() - t
    secs["total"] = time.perf_counter() - t0
    stats = {
        "new_docs": n,
        "candidate_pairs": counts["candidate_pairs"],
        "verified_pairs": len(la),
        "containment_checks": counts["containment_checks"],
        "contained_pairs": int(contained.sum()),
        "new_clusters": int(is_canon.sum()),
        "joined_prior_clusters": int(canon_old.sum()),
        "shared_passage_rows": shared.num_rows,
        "threshold": threshold,
        "containment_threshold": containment_threshold,
        "scheme": params.scheme,
        "secs": {k: round(v, 3) for k, v in secs.items()},
    }
    return NearDupResult(dup_clusters=clusters, doc_signatures=sig_table, shared_passages=shared, stats=stats)


def _shared_passages(
    con: duckdb.DuckDBPyConnection,
    doc_ids: pa.Array,
    cluster_ids: pa.ChunkedArray,
    sk: dedup.Sketch,
    max_docs: int,
) -> pa.Table:
    """Rows for paragraphs that a new document shares with another document of a different cluster.

    Both directions are emitted (for a pair with an earlier document the earlier side's row is new too).
    Paragraphs found in more than ``max_docs`` documents are skipped as boilerplate. New documents are
    integers (their rank by doc_id) in the joins; doc_id strings are attached to the final rows only.
    """
    n = len(doc_ids)
    counts = np.diff(sk.passage_offsets)
    new_p = pa.table(
        {
            "i": pa.array(np.repeat(np.arange(n, dtype=np.int32), counts)),
            "h": pa.array(sk.passage_hash, pa.uint64()),
            "s": pa.array(sk.passage_start, pa.int32()),
            "e": pa.array(sk.passage_end, pa.int32()),
        }
    )
    con.register("_nd_np", new_p)
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _nd_hot AS
            WITH nh AS (SELECT h, count(DISTINCT i) AS k FROM _nd_np GROUP BY h),
                 oh AS (SELECT h, count(DISTINCT doc_id) AS k
                          FROM (SELECT doc_id, unnest(passage_hashes) AS h FROM doc_signatures)
                         WHERE h IN (SELECT h FROM nh) GROUP BY h)
            SELECT h FROM nh LEFT JOIN oh USING (h) WHERE nh.k + coalesce(oh.k, 0) BETWEEN 2 AND {int(max_docs)}
            """
        )
        nn = con.sql(
            """
            SELECT a.i, b.i AS j, a.h, a.s, a.e, b.s AS os, b.e AS oe
              FROM _nd_np a JOIN _nd_hot USING (h) JOIN _nd_np b ON b.h = a.h AND b.i <> a.i
            """
        ).to_arrow_table()
        no = con.sql(
            """
            WITH op AS (SELECT doc_id, unnest(passage_hashes) AS h, unnest(passage_starts) AS s,
                               unnest(passage_ends) AS e FROM doc_signatures)
            SELECT a.i, o.doc_id AS other, a.h, a.s, a.e, o.s AS os, o.e AS oe, c.cluster_id AS other_cluster
              FROM _nd_np a JOIN _nd_hot USING (h) JOIN op o ON o.h = a.h
              LEFT JOIN dup_clusters c ON c.doc_id = o.doc_id
            """
        ).to_arrow_table()
    finally:
        con.unregister("_nd_np")
        con.execute("DROP TABLE IF EXISTS _nd_hot")

    # new-new: both directions come out of the join; drop pairs within one cluster (duplicates of each other)
    codes = pc.dictionary_encode(cluster_ids).combine_chunks().indices.to_numpy()
    i, j = _np(nn.column("i"), np.int64), _np(nn.column("j"), np.int64)
    cols = {k: _np(nn.column(k), t) for k, t in (("h", np.uint64), ("s", np.int32), ("e", np.int32))}
    cols |= {k: _np(nn.column(k), np.int32) for k in ("os", "oe")}
    keep = codes[i] != codes[j]
    i, j = i[keep], j[keep]
    cols = {k: v[keep] for k, v in cols.items()}
    # order of the rows: doc_id, other_doc_id, start, other_start (ranks order like the doc_id strings)
    o = np.lexsort((cols["oe"], cols["e"], cols["h"], cols["os"], cols["s"], j, i))
    out = pa.table(
        {
            "doc_id": doc_ids.take(pa.array(i[o])),
            "other_doc_id": doc_ids.take(pa.array(j[o])),
            "passage_hash": pa.array(cols["h"][o], pa.uint64()),
            "start": pa.array(cols["s"][o], pa.int32()),
            "end": pa.array(cols["e"][o], pa.int32()),
            "n_chars": pa.array((cols["e"] - cols["s"])[o], pa.int32()),
            "other_start": pa.array(cols["os"][o], pa.int32()),
            "other_end": pa.array(cols["oe"][o], pa.int32()),
        },
        schema=SHARED_PASSAGES_SCHEMA,
    )
    if no.num_rows == 0:
        return out
    # new-earlier: keep pairs in different clusters, emit the row of each side
    a = no.column("i").combine_chunks()
    a_ids, a_cluster = doc_ids.take(a), cluster_ids.take(a)
    keep = pc.fill_null(pc.not_equal(a_cluster, no.column("other_cluster")), True)
    no, a_ids = no.filter(keep), a_ids.filter(keep)
    fwd = pa.table(
        {
            "doc_id": a_ids,
            "other_doc_id": no.column("other"),
            "passage_hash": no.column("h"),
            "start": no.column("s"),
            "end": no.column("e"),
            "n_chars": pc.subtract(no.column("e"), no.column("s")),
            "other_start": no.column("os"),
            "other_end": no.column("oe"),
        }
    ).cast(SHARED_PASSAGES_SCHEMA)
    back = pa.table(
        {
            "doc_id": no.column("other"),
            "other_doc_id": a_ids,
            "passage_hash": no.column("h"),
            "start": no.column("os"),
            "end": no.column("oe"),
            "n_chars": pc.subtract(no.column("oe"), no.column("os")),
            "other_start": no.column("s"),
            "other_end": no.column("e"),
        }
    ).cast(SHARED_PASSAGES_SCHEMA)
    keys = ["doc_id", "other_doc_id", "start", "other_start", "passage_hash", "end", "other_end"]
    return pa.concat_tables([out, fwd, back]).sort_by([(k, "ascending") for k in keys]).combine_chunks()
