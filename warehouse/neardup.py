"""Near-duplicate stage, incremental, as a map step per shard and a reduce step per run.

Grain of the outputs (see the schemas below): ``dup_clusters`` one row per new document; ``doc_signatures``
one row per new document (its sketch, band hashes and paragraph hashes, persisted so later runs compare only
their new documents against everything earlier); ``shared_passages`` one row per (document, other document,
shared paragraph occurrence) between documents in different clusters.

Map, ``sketch_table(docs)``: a shard's documents to their ``doc_signatures`` rows: MinHash of the word
5-shingles (``transforms.dedup``), the LSH band hashes of it (full text) and of a sketch of the first 100 words
(head), and the paragraph hashes with their offsets. Pure numpy, in the calling process (no pool).

Reduce, ``assign_near_duplicates(con, signatures, meta)``: the run's new documents against each other and
against every published one, with bounded work per document:
  * Buckets: documents sharing a full-text band hash, a head band hash, or a paragraph (one found in at
    most ``max_passage_docs`` documents: more is boilerplate). Earlier documents come from ``doc_signatures``
    by their band and paragraph hashes, one member per earlier cluster and at most ``Limits.old_anchors``
    clusters per bucket.
  * Anchors (``transforms.dedup.anchor_pairs``, after NeMo Curator's LSH): in a bucket each new document is
    compared with the bucket's earlier clusters and with its first ``Limits.anchors`` new documents by the
    canonical rule, never with every member; a document is compared with at most ``Limits.max_candidates``
    others (best ranked first) and a bucket over ``Limits.max_bucket`` members is sampled. The work is linear
    in the bucket sizes; template text (many documents sharing sentences) fills buckets without making pairs.
  * Decision rule for a compared pair:
        link if estimated Jaccard >= ``threshold``                                   -> 'near'
        else, for at most ``Limits.containment_targets`` longer documents per document, those that the
        head bands or paragraphs point to (shared head bands + shared paragraphs, most first) and whose
        signature estimate makes containment plausible (within ``CONTAINMENT_SLACK``): link if the exact
        overlap coefficient |A∩B| / min(|A|, |B|) of the shingle sets >= ``containment_threshold``
        (shingles recomputed from ``documents.text``)                                 -> 'contained'
    Truncated copies and excerpts are found through the head sketch and the paragraphs, not a permissive
    main LSH.

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

Defaults come from ``bench/dedup_eval.py`` (see ``DEFAULT_THRESHOLD`` and ``DedupParams``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
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
# Containment is verified exactly for pairs whose estimated overlap is within this of the threshold. 0.15: on the
# dense corpus (20k) 0.25 checked 2,894 pairs and 0.15 445, finding the same 112 containments (eval 10k: 150
# and 145 checks, the same 105).
CONTAINMENT_SLACK = 0.15
# An estimated Jaccard in [threshold, threshold + EXACT_MARGIN) is checked on the exact shingle sets: with 128
# values the estimate's noise is ~0.04 at 0.3, and template text (articles sharing sentences) has many pairs
# at 0.2, a few of which an estimate would link (the dense corpus at 10k: 2 false links of 7,455).
EXACT_MARGIN = 0.1
# Shared head bands + shared paragraphs that make a longer document a containment target. 2 checked 11x fewer
# pairs on the dense corpus but lost recall on truncated copies with edits (10k: dense 0.9997 -> 0.9983,
# eval 0.9960 -> 0.9939).
MIN_POINTED = 1
# A paragraph occurring in more documents than this is boilerplate (footer, disclaimer), not a shared passage,
# and no evidence of containment.
MAX_PASSAGE_DOCS = 50
# New documents whose bucket pairs are made at a time (bounds the pairs held before they are made distinct).
MEMBER_CHUNK = 5_000
# Pairs checked on their exact shingle sets at a time: their texts and shingle sets (~8 bytes per shingle) are
# made in one batch.
EXACT_BATCH = 2_048
# Pairs whose signature rows are gathered at a time: bounds the (pairs, num_perm) temporaries.
ROW_CHUNK = 50_000
# Texts converted from Arrow to Python strings at a time by the map step.
SKETCH_BATCH = 5_000
# Bucket families, as the evidence columns of a compared pair.
FULL, HEAD, PARAGRAPH = 0, 1, 2
_PARAGRAPH_SALT = np.uint64(0x5A5A_0D0C_0B0A_0908)  # paragraph hashes as bucket keys: apart from band hashes


@dataclass(frozen=True)
class DedupParams:
    """Sketch and LSH parameters; ``scheme`` is stored with every signature row and must match across runs."""

    k: int = 5
    num_perm: int = 128
    seed: int = 1
    # 42 bands x 3 rows (126 of the 128 values): one shared band at Jaccard 0.5 with P 0.996, 0.4: 0.94,
    # 0.3: 0.68, 0.1: 0.04. Chosen on bench/dedup_eval.py --lsh-grid (README, Deduplication): against 64 x 2 it
    # keeps recall on the evaluation corpus (0.996 vs 0.997 at 10k; copies near the threshold are found
    # through the other copies, the head sketch and the paragraphs) and compares 3x fewer pairs on the dense
    # corpus, where two different articles have Jaccard ~0.08 and 64 x 2 made a third of all pairs candidates.
    bands: int = 42
    rows: int = 3
    head_words: int = 100  # extra sketch of the first 100 words: truncated copies collide on it for sure
    head_bands: int = 8
    head_rows: int = 2

    @property
    def head_perm(self) -> int:
        return self.head_bands * self.head_rows

    @property
    def scheme(self) -> str:
        """v3: v2's signatures (one permutation hashing with densification over vectorised token hashes,
        ``transforms.dedup``), paragraph hashes over the token hashes (v2: blake2b of the joined tokens), and
        the band layout. Rows of another scheme are not comparable and are refused (``check_scheme``)."""
        return (
            f"minhash-v3-oph:k{self.k}:p{self.num_perm}:s{self.seed}:b{self.bands}x{self.rows}"
            f":h{self.head_words}:{self.head_bands}x{self.head_rows}"
        )


@dataclass(frozen=True)
class Limits:
    """Bounds on the reduce's work per document. Not part of the scheme: they change no stored row."""

    anchors: int = 2  # new documents per bucket that its other new members are compared with
    old_anchors: int = 4  # earlier clusters per bucket (one member each) that its new members are compared with
    max_candidates: int = 200  # documents one document is compared with (those ranked first)
    max_bucket: int = 5_000  # members of a bucket; a larger bucket is sampled
    containment_targets: int = 2  # longer documents one document is checked for containment in


DEFAULT_PARAMS = DedupParams()
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
META_SCHEMA = pa.schema([DOCUMENTS_INPUT_SCHEMA.field(c) for c in ("doc_id", "n_words", "first_seen")])


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


# --- map: sketches of one shard
def _text_batches(texts: pa.ChunkedArray | pa.Array) -> Iterator[list[str]]:
    """The texts in order, a batch of Python strings at a time (slices: no copy of the Arrow column)."""
    for i in range(0, len(texts), SKETCH_BATCH):
        yield [t or "" for t in texts.slice(i, SKETCH_BATCH).to_pylist()]


def _list_array(offsets: np.ndarray, values: np.ndarray, value_type: pa.DataType) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values, value_type))


def sketch_table(docs: pa.Table, params: DedupParams = DedupParams()) -> pa.Table:
    """The map step: ``doc_signatures`` rows (``DOC_SIGNATURES_SCHEMA``, no run_id) of ``docs`` (columns doc_id
    and text, in any order; others ignored), in the order of ``docs``.

    Runs in the calling process (a task runner's worker, one shard per call). Memory: the shard's texts as
    Python strings ``SKETCH_BATCH`` at a time, plus per document 4 x num_perm bytes of signature, 8 bytes per
    band and 16 bytes per paragraph.
    """
    texts = docs.column("text").cast(pa.string())
    sk = dedup.sketch(
        _text_batches(texts),
        k=params.k,
        num_perm=params.num_perm,
        seed=params.seed,
        head_words=params.head_words,
        head_perm=params.head_perm,
        with_passages=True,
    )
    n = docs.num_rows
    bands = np.concatenate(
        [
            dedup.band_hashes(sk.sig, params.bands, params.rows, salt=0),
            dedup.band_hashes(sk.head, params.head_bands, params.head_rows, salt=1),
        ],
        axis=1,
    )
    has = sk.n_shingles > 0  # a text without words is never banded
    band_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.where(has, bands.shape[1], 0), out=band_offsets[1:])
    sig_offsets = np.arange(0, (n + 1) * params.num_perm, params.num_perm, dtype=np.int64)
    po = sk.passage_offsets
    return pa.table(
        {
            "doc_id": docs.column("doc_id").cast(pa.string()),
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


# --- reduce: the new documents
def _one_array(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``col`` as one array: its only chunk as is (``combine_chunks`` copies even a single chunk)."""
    if isinstance(col, pa.Array):
        return col
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def _np(col: pa.ChunkedArray | pa.Array, dtype: type, fill: int = 0) -> np.ndarray:
    """A numpy array of ``col`` (nulls as ``fill``): a read-only view of its Arrow buffer when it has no nulls
    and the dtype already (the reduce holds the signatures once, not once per form)."""
    arr = _one_array(col)
    if arr.null_count:
        arr = pc.fill_null(arr, fill)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=dtype)


def _flat(col: pa.ChunkedArray | pa.Array, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """(values, int64 offsets) of a list column (a null list is empty); the values a view where ``_np`` can."""
    arr = _one_array(col)
    lengths = _np(pc.list_value_length(arr), np.int64)
    offsets = np.zeros(len(arr) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return _np(arr.flatten(), dtype), offsets  # ListArray.flatten: a slice of the values, no copy


@dataclass
class _New:
    """The run's new documents, sorted by doc_id (index i), as arrays; ``rank``: indices best first by the
    canonical rule (most words, earliest first_seen with missing last, smallest doc_id)."""

    doc_ids: pa.Array
    sig: np.ndarray  # (n, num_perm) uint32
    n_shingles: np.ndarray  # int64
    bands: np.ndarray  # (n, bands + head_bands) uint64; rows of unbanded documents are 0
    banded: np.ndarray  # bool
    p_hash: np.ndarray  # paragraphs of document i: [p_off[i], p_off[i + 1])
    p_start: np.ndarray
    p_end: np.ndarray
    p_off: np.ndarray
    n_words: np.ndarray
    first_seen: np.ndarray
    fs_null: np.ndarray
    rank: np.ndarray

    def __len__(self) -> int:
        return len(self.doc_ids)


def _new_docs(sigs: pa.Table, meta: pa.Table, params: DedupParams) -> _New:
    """Arrays of the new documents from the map's rows (sorted by doc_id) and their doc_id, n_words,
    first_seen."""
    meta = meta.select(META_SCHEMA.names).cast(META_SCHEMA)
    meta = meta.take(pc.sort_indices(meta.column("doc_id")))
    doc_ids = sigs.column("doc_id").combine_chunks()
    n = len(doc_ids)
    if n and pc.count_distinct(doc_ids).as_py() != n:
        raise ValueError("signatures has duplicate doc_id values")
    if not meta.column("doc_id").combine_chunks().equals(doc_ids):
        raise ValueError("meta and signatures must have the same doc_id values")
    other = pc.unique(pc.filter(sigs.column("scheme"), pc.not_equal(sigs.column("scheme"), params.scheme)))
    if len(other):
        raise ValueError(f"signatures were sketched with scheme {other[0].as_py()!r}, not {params.scheme!r}")
    mh, _ = _flat(sigs.column("minhash"), np.uint32)
    width = params.bands + params.head_bands
    bvals, boff = _flat(sigs.column("bands"), np.uint64)
    banded = np.diff(boff) == width
    if banded.all():
        bands = bvals.reshape(n, width)
    else:
        bands = np.zeros((n, width), dtype=np.uint64)
        bands[banded] = bvals.reshape(-1, width)
    p_hash, p_off = _flat(sigs.column("passage_hashes"), np.uint64)
    fs_col = meta.column("first_seen")
    n_words = _np(meta.column("n_words"), np.int64)
    first_seen = _np(fs_col.cast(pa.int64()), np.int64)
    fs_null = fs_col.is_null().to_numpy(zero_copy_only=False).astype(bool)
    return _New(
        doc_ids=doc_ids,
        sig=mh.reshape(n, params.num_perm),
        n_shingles=_np(sigs.column("n_shingles"), np.int64),
        bands=bands,
        banded=banded,
        p_hash=p_hash,
        p_start=_flat(sigs.column("passage_starts"), np.int32)[0],
        p_end=_flat(sigs.column("passage_ends"), np.int32)[0],
        p_off=p_off,
        n_words=n_words,
        first_seen=first_seen,
        fs_null=fs_null,
        rank=np.lexsort((np.arange(n), first_seen, fs_null, -n_words)),
    )


def _paragraph_keys(h: np.ndarray) -> np.ndarray:
    return dedup._splitmix(h ^ _PARAGRAPH_SALT) if len(h) else h


@contextlib.contextmanager
def new_documents(con: duckdb.DuckDBPyConnection, docs: pa.Table) -> Iterator[None]:
    """Within the block, ``documents`` in ``con`` covers the published documents and ``docs`` (doc_id, text,
    n_words, first_seen of the run's new documents; not copied), as ``assign_near_duplicates`` needs: a temporary
    view over the connection's own ``documents`` and ``docs``."""
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    cols = ", ".join(DOCUMENTS_INPUT_SCHEMA.names)
    con.register("_nd_new_documents", docs.select(DOCUMENTS_INPUT_SCHEMA.names))
    try:
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW documents AS SELECT {cols} FROM "{db}".main.documents'
            f" UNION ALL SELECT {cols} FROM _nd_new_documents"
        )
        yield
    finally:
        con.execute("DROP VIEW IF EXISTS temp.main.documents")
        con.unregister("_nd_new_documents")


def check_scheme(con: duckdb.DuckDBPyConnection, params: DedupParams = DEFAULT_PARAMS) -> None:
    """Refuse, in one line (ValueError), published ``doc_signatures`` of another scheme than ``params``'.
    ``assign_near_duplicates`` calls it; a flow may call it at the start of a run to fail before any work."""
    other = con.execute(
        "SELECT DISTINCT scheme FROM doc_signatures WHERE scheme <> ? LIMIT 3", [params.scheme]
    ).fetchall()
    if other:
        raise ValueError(
            f"near-dup: the warehouse's doc_signatures use scheme {other[0][0]!r} and this code uses "
            f"{params.scheme!r}; their LSH buckets cannot be compared: load the input into a new warehouse"
        )


# --- reduce: earlier documents in the new documents' buckets
# Earlier documents sharing a band or paragraph hash with a new one: per bucket (kind, h) one member per
# earlier cluster (its canonical when that is in the bucket) and at most $cap clusters; n_docs counts every
# earlier member of the bucket and n_clusters its clusters, before the caps.
_PRIOR_SQL = """
WITH hits AS (
    SELECT doc_id, h, kind FROM (
        SELECT doc_id, unnest(bands) AS h, 0 AS kind FROM doc_signatures
        UNION ALL
        SELECT doc_id, unnest(passage_hashes) AS h, 2 AS kind FROM doc_signatures
    ) WHERE h IN (SELECT h FROM _nd_keys)
),
per_cluster AS (
    SELECT hits.kind, hits.h, hits.doc_id, c.cluster_id, c.canonical_doc_id,
           count(*) OVER (PARTITION BY hits.kind, hits.h) AS n_docs
      FROM hits JOIN dup_clusters c USING (doc_id)
    QUALIFY row_number() OVER (PARTITION BY hits.kind, hits.h, c.cluster_id
                               ORDER BY hits.doc_id = c.canonical_doc_id DESC, hits.doc_id) = 1
)
SELECT kind, h, doc_id, cluster_id, canonical_doc_id, n_docs,
       count(*) OVER (PARTITION BY kind, h) AS n_clusters
  FROM per_cluster
QUALIFY row_number() OVER (PARTITION BY kind, h ORDER BY cluster_id) <= $cap
 ORDER BY kind, h, cluster_id
"""


@dataclass
class _Prior:
    """Earlier documents involved in this run: node ``n + j`` is ``ids[j]`` (sorted), with its signature.

    ``hit_key`` / ``hit_node``: the bucket rows of the earlier members picked for the buckets (``hit_node`` = j);
    ``paragraph_docs``: earlier documents per paragraph hash (bucket key) that a new document has."""

    ids: list[str]
    sig: np.ndarray
    n_shingles: np.ndarray
    cluster_of: dict[str, str]
    cluster_info: dict[str, tuple[str, Any, Any]]  # cluster -> (canonical, its n_words, its first_seen)
    hit_key: np.ndarray
    hit_node: np.ndarray
    paragraph_keys: np.ndarray
    paragraph_docs: np.ndarray
    capped_buckets: int  # buckets with more earlier clusters than Limits.old_anchors

    def __len__(self) -> int:
        return len(self.ids)


def _fetch_prior(con: duckdb.DuckDBPyConnection, new: _New, params: DedupParams, limits: Limits) -> _Prior:
    """The earlier members picked for the new documents' buckets, their clusters and signatures."""
    keys = np.concatenate([new.bands[new.banded].ravel(), new.p_hash])  # the semi join ignores repeats
    con.register("_nd_keys", pa.table({"h": pa.array(keys, pa.uint64())}))
    try:
        hits = con.sql(_PRIOR_SQL.replace("$cap", str(int(limits.old_anchors)))).to_arrow_table()
    finally:
        con.unregister("_nd_keys")
    doc = hits.column("doc_id").to_pylist()
    cluster = hits.column("cluster_id").to_pylist()
    canon = hits.column("canonical_doc_id").to_pylist()
    cluster_of = dict(zip(doc, cluster, strict=True))
    need = sorted(set(doc) | set(canon))
    con.register("_nd_need", pa.table({"doc_id": pa.array(need, pa.string())}))
    try:
        osig = con.sql(
            "SELECT doc_id, n_shingles, minhash FROM doc_signatures JOIN _nd_need USING (doc_id) ORDER BY doc_id"
        ).to_arrow_table()
        info = con.sql("SELECT doc_id, n_words, first_seen FROM documents JOIN _nd_need USING (doc_id)").fetchall()
    finally:
        con.unregister("_nd_need")
    words = {d: (w, f) for d, w, f in info}
    cluster_info = {c: (k, *words.get(k, (None, None))) for c, k in zip(cluster, canon, strict=True)}
    ids = osig.column("doc_id").to_pylist()
    pos = {d: j for j, d in enumerate(ids)}
    kind = _np(hits.column("kind"), np.int64)
    h = _np(hits.column("h"), np.uint64).copy()  # written below; _np may return a read-only view
    is_par = kind == PARAGRAPH
    h[is_par] = _paragraph_keys(h[is_par])
    first = np.ones(len(h), dtype=bool)  # one row per bucket for the bucket-level counts
    first[1:] = (h[1:] != h[:-1]) | (kind[1:] != kind[:-1])
    n_clusters = _np(hits.column("n_clusters"), np.int64)
    return _Prior(
        ids=ids,
        sig=_flat(osig.column("minhash"), np.uint32)[0].reshape(len(ids), params.num_perm),
        n_shingles=_np(osig.column("n_shingles"), np.int64),
        cluster_of=cluster_of,
        cluster_info=cluster_info,
        hit_key=h,
        hit_node=np.array([pos[d] for d in doc], dtype=np.int64),
        paragraph_keys=h[first & is_par],
        paragraph_docs=_np(hits.column("n_docs"), np.int64)[first & is_par],
        capped_buckets=int((first & (n_clusters > limits.old_anchors)).sum()),
    )


# --- reduce: candidates
def _bucket_rows(new: _New, prior: _Prior, params: DedupParams, max_passage_docs: int) -> tuple[np.ndarray, ...]:
    """(bucket key, rank node, family) rows of the new documents, then the earlier members picked; only the rows
    of buckets with two or more rows (the others make no pair).

    Rank nodes: earlier document j is node j, new document ``rank[r]`` is node ``len(prior) + r``, so that in
    every bucket the earlier members come first, then the new ones best first (``dedup.anchor_pairs``)."""
    m, n = len(prior), len(new)
    node = np.empty(n, dtype=np.int64)
    node[new.rank] = m + np.arange(n, dtype=np.int64)
    width = params.bands + params.head_bands
    has = np.flatnonzero(new.banded)
    b_family = np.where(np.arange(width) < params.bands, FULL, HEAD)
    # paragraphs: one row per (document, paragraph), only those in at most max_passage_docs documents
    p_key = _paragraph_keys(new.p_hash)
    p_node = np.repeat(node, np.diff(new.p_off))
    if len(p_key):
        o = np.lexsort((p_node, p_key))
        p_key, p_node = p_key[o], p_node[o]
        once = np.ones(len(p_key), dtype=bool)
        once[1:] = (p_key[1:] != p_key[:-1]) | (p_node[1:] != p_node[:-1])
        p_key, p_node = p_key[once], p_node[once]
        uniq, n_docs = np.unique(p_key, return_counts=True)
        earlier = np.zeros(len(uniq), dtype=np.int64)
        at = np.minimum(np.searchsorted(uniq, prior.paragraph_keys), len(uniq) - 1)
        ok = uniq[at] == prior.paragraph_keys
        earlier[at[ok]] = prior.paragraph_docs[ok]
        common = uniq[n_docs + earlier > max_passage_docs]
        keep = ~np.isin(p_key, common)
        p_key, p_node = p_key[keep], p_node[keep]
    band_keys = new.bands.ravel() if len(has) == n else new.bands[has].ravel()  # a view when every row has bands
    # Only rows whose key is in another row make pairs: most band rows are alone. Keep those before making the
    # key, node and family of every row (a band row r is document has[r // width], band r % width).
    rows = dedup.shared_rows(band_keys, p_key, prior.hit_key)
    n_band, n_par = len(band_keys), len(p_key)
    band, par, old = np.split(rows, np.searchsorted(rows, [n_band, n_band + n_par]))  # rows ascend: one per part
    par, old = par - n_band, old - n_band - n_par
    keys = np.concatenate([band_keys[band], p_key[par], prior.hit_key[old]])
    nodes = np.concatenate([node[has[band // width]], p_node[par], prior.hit_node[old]])
    family = np.concatenate(
        [
            b_family.astype(np.int8)[band % width],
            np.full(len(par), PARAGRAPH, dtype=np.int8),
            np.full(len(old), FULL, dtype=np.int8),
        ]
    )
    return keys, nodes, family


def _candidates(
    new: _New, prior: _Prior, params: DedupParams, limits: Limits, max_passage_docs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Distinct pairs to compare (node indices: new i < n, earlier n + j) with the number of buckets of each
    family they share, (pairs, 3); and the counts of how often the limits bit. The pairs are made
    ``MEMBER_CHUNK`` members at a time: only the distinct, capped ones are kept."""
    m, n = len(prior), len(new)
    keys, nodes, family = _bucket_rows(new, prior, params, max_passage_docs)
    buckets = dedup.Buckets(keys, nodes, n_old=m, anchors=limits.anchors, max_bucket=limits.max_bucket)
    del keys, nodes
    parts, bucket_pairs, over, dropped = [], 0, 0, 0
    for lo in range(m, m + n, MEMBER_CHUNK):
        ap = buckets.pairs(lo, lo + MEMBER_CHUNK)
        a, b, evidence = dedup.distinct_pairs(ap.a, ap.b, family[ap.row], 3)
        keep = dedup.first_per_node(a, limits.max_candidates)  # b ascending: the best-ranked first
        bucket_pairs += len(ap.a)
        over += len(np.unique(a[~keep]))
        dropped += int((~keep).sum())
        parts.append((a[keep], b[keep], evidence[keep]))
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 3), np.int64))
    a, b, evidence = (np.concatenate([empty[k], *(p[k] for p in parts)]) for k in range(3))
    to_index = np.concatenate([n + np.arange(m, dtype=np.int64), new.rank.astype(np.int64)])
    stats = {
        "bucket_pairs": bucket_pairs,
        "buckets": buckets.buckets,
        "buckets_sampled": buckets.sampled_buckets,
        "bucket_members_sampled_out": buckets.sampled_out,
        "buckets_over_old_anchors": prior.capped_buckets,
        "docs_over_max_candidates": over,
        "pairs_over_max_candidates": dropped,
    }
    return to_index[a], to_index[b], evidence, stats


# --- reduce: verification
class _Nodes:
    """Signatures, sizes and texts of nodes: new document i < n, earlier document n + j."""

    def __init__(self, con: duckdb.DuckDBPyConnection, new: _New, prior: _Prior, k: int):
        self.con, self.new, self.prior, self.k = con, new, prior, k
        self.n = len(new)
        self.n_shingles = np.concatenate([new.n_shingles, prior.n_shingles])

    def sig(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), self.new.sig.shape[1]), dtype=np.uint32)
        old = idx >= self.n
        out[~old] = self.new.sig[idx[~old]]
        out[old] = self.prior.sig[idx[old] - self.n]
        return out

    def doc_id(self, i: int) -> str:
        return self.new.doc_ids[i].as_py() if i < self.n else self.prior.ids[i - self.n]

    def shingle_sets(self, idx: np.ndarray) -> dict[int, np.ndarray]:
        """Exact shingle sets of the nodes ``idx``, from their texts in ``documents`` (new and earlier alike)."""
        ids = {self.doc_id(int(i)): int(i) for i in np.unique(idx).tolist()}
        self.con.register("_nd_texts", pa.table({"doc_id": pa.array(sorted(ids), pa.string())}))
        try:
            rows = self.con.sql("SELECT doc_id, text FROM documents JOIN _nd_texts USING (doc_id)").fetchall()
        finally:
            self.con.unregister("_nd_texts")
        texts = dict(rows)
        order = sorted(ids)
        sets = dedup.shingle_sets([texts.get(d) or "" for d in order], self.k)
        return {ids[d]: x for d, x in zip(order, sets, strict=True)}

    def exact(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Jaccard, overlap coefficient) of the exact shingle sets of aligned node pairs, ``EXACT_BATCH`` pairs
        at a time."""
        jac, ovl = np.empty(len(a)), np.empty(len(a))
        for s in range(0, len(a), EXACT_BATCH):
            sa, sb = a[s : s + EXACT_BATCH], b[s : s + EXACT_BATCH]
            sets = self.shingle_sets(np.concatenate([sa, sb]))
            for j, (x, y) in enumerate(zip(sa.tolist(), sb.tolist(), strict=True)):
                inter = len(np.intersect1d(sets[x], sets[y], assume_unique=True))
                union, small = len(sets[x]) + len(sets[y]) - inter, min(len(sets[x]), len(sets[y]))
                jac[s + j], ovl[s + j] = (inter / union if union else 0.0), (inter / small if small else 0.0)
        return jac, ovl


def _estimate(
    nodes: _Nodes, a: np.ndarray, b: np.ndarray, threshold: float, containment_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Estimated Jaccard of the aligned node pairs ``a[i] - b[i]`` and whether their exact containment is worth
    checking: below ``threshold``, and the estimated overlap within ``CONTAINMENT_SLACK``."""
    jac = np.zeros(len(a))
    plausible = np.zeros(len(a), dtype=bool)
    for s in range(0, len(a), ROW_CHUNK):
        sa, sb = a[s : s + ROW_CHUNK], b[s : s + ROW_CHUNK]
        j = dedup.estimated_jaccard(nodes.sig(sa), nodes.sig(sb))
        na, nb = nodes.n_shingles[sa], nodes.n_shingles[sb]
        c_est = dedup.containment_from_jaccard(j, na, nb)
        jac[s : s + len(j)] = j
        plausible[s : s + len(j)] = (
            (j < threshold) & (c_est >= containment_threshold - CONTAINMENT_SLACK) & (na > 0) & (nb > 0)
        )
    return jac, plausible


def _verify(
    nodes: _Nodes,
    a: np.ndarray,
    b: np.ndarray,
    evidence: np.ndarray,
    threshold: float,
    containment_threshold: float,
    limits: Limits,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Linked pairs (a, b) among the compared ones: by estimated Jaccard (checked exactly when the estimate
    is within ``EXACT_MARGIN`` above the threshold), or by exact containment for those checked exactly and for at
    most ``limits.containment_targets`` longer documents per document that its head bands or paragraphs point
    to."""
    jac, plausible = _estimate(nodes, a, b, threshold, containment_threshold)
    near = jac >= threshold
    unsure = np.flatnonzero(near & (jac < threshold + EXACT_MARGIN))
    pointed = evidence[:, HEAD] + evidence[:, PARAGRAPH]
    check = np.flatnonzero(plausible & (pointed >= MIN_POINTED))
    shorter = np.where(nodes.n_shingles[a] <= nodes.n_shingles[b], a, b)[check]
    order = np.lexsort((-jac[check], -pointed[check], shorter))  # per document: most pointed-to first
    first = dedup.first_per_node(shorter[order], limits.containment_targets)
    check = np.sort(check[order][first])
    both = np.concatenate([unsure, check])
    exact_jac, overlap = nodes.exact(a[both], b[both])
    near[unsure] = exact_jac[: len(unsure)] >= threshold
    contained = np.zeros(len(a), dtype=bool)
    contained[both] = overlap >= containment_threshold  # an overruled estimate may still be a containment
    contained &= ~near
    link = near | contained
    stats = {
        "linked_near": int(near.sum()),
        "exact_jaccard_checks": len(unsure),
        "estimates_overruled": int((exact_jac[: len(unsure)] < threshold).sum()),
        "containment_checks": len(check),
        "containment_targets_dropped": int((~first).sum()),
        "contained_pairs": int(contained.sum()),
    }
    return a[link], b[link], stats


# --- reduce: clusters
def _components(new: _New, prior: _Prior, la: np.ndarray, lb: np.ndarray) -> tuple[np.ndarray, dict[int, list[str]]]:
    """Component label of each new document (its smallest node) over the links, each earlier cluster one
    node (n + its index), and the earlier clusters in each component."""
    n = len(new)
    old_clusters = sorted(set(prior.cluster_of.values()))
    cluster_node = {c: n + i for i, c in enumerate(old_clusters)}
    node_of_old = np.array([cluster_node[prior.cluster_of[d]] for d in prior.ids if d in prior.cluster_of])
    has_cluster = np.array([d in prior.cluster_of for d in prior.ids], dtype=bool)
    to_cluster = np.full(len(prior), -1, dtype=np.int64)
    to_cluster[has_cluster] = node_of_old
    lb = np.where(lb < n, lb, to_cluster[np.maximum(lb - n, 0)] if len(prior) else lb)
    labels = dedup.components(n + len(old_clusters), la, lb)  # the smallest node of each component
    comp_old: dict[int, list[str]] = {}
    for c in old_clusters:
        comp_old.setdefault(int(labels[cluster_node[c]]), []).append(c)
    return labels[:n], comp_old


def _canonicals(
    new: _New, prior: _Prior, labels: np.ndarray, comp_old: dict[int, list[str]]
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Per new document: the node of its canonical (-1: an earlier canonical without a signature row), whether
    that canonical is earlier, and the cluster_id and canonical_doc_id strings."""
    n = len(new)
    # canonical of each component of new docs only: most words, earliest first_seen (missing last), doc_id
    order = np.lexsort((np.arange(n), new.first_seen, new.fs_null, -new.n_words, labels))  # by label, best first
    lab_sorted = labels[order]
    head = np.ones(n, dtype=bool)
    head[1:] = lab_sorted[1:] != lab_sorted[:-1]
    best_of_label = np.zeros(int(labels.max()) + 1 if n else 0, dtype=np.int64)
    best_of_label[lab_sorted[head]] = order[head]
    canon = best_of_label[labels]  # new-doc index; replaced below for components with earlier clusters
    canon_old = np.zeros(n, dtype=bool)
    cluster_str = new.doc_ids.take(pa.array(canon)).to_pylist()
    canon_str = list(cluster_str)
    o_pos = {d: n + j for j, d in enumerate(prior.ids)}
    info = prior.cluster_info
    for i in np.flatnonzero(np.isin(labels, list(comp_old))).tolist():
        best = min(comp_old[int(labels[i])], key=lambda c: dedup.canonical_key(*info[c][1:], info[c][0]))
        cluster_str[i], canon_str[i] = best, info[best][0]
        canon_old[i] = True
        canon[i] = o_pos.get(info[best][0], -1)
    return canon, canon_old, cluster_str, canon_str


def _to_canonical(
    nodes: _Nodes, canon: np.ndarray, canon_old: np.ndarray, threshold: float, containment_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(is canonical, method, similarity) of each new document against its cluster's canonical."""
    n = len(canon)
    is_canon = ~canon_old & (canon == np.arange(n))
    nc = np.flatnonzero(~is_canon)
    target = canon[nc]
    ok = np.flatnonzero(target >= 0)  # an earlier canonical without a signature row compares as empty
    j_c = np.zeros(len(nc))
    o_c = np.full(len(nc), -1.0)
    if len(ok):
        j_ok, plausible = _estimate(nodes, nc[ok], target[ok], threshold, containment_threshold)
        o_ok = np.full(len(ok), -1.0)
        o_ok[plausible] = nodes.exact(nc[ok][plausible], target[ok][plausible])[1]
        j_c[ok], o_c[ok] = j_ok, o_ok
    method = np.full(n, "exact", dtype=object)
    sims = np.ones(n)
    near = j_c >= threshold
    cont = ~near & (o_c >= containment_threshold)
    method[nc] = np.where(cont, "contained", "near")
    sims[nc] = np.where(cont, o_c, j_c)
    return is_canon, method, sims


def _clusters(
    nodes: _Nodes, la: np.ndarray, lb: np.ndarray, threshold: float, containment_threshold: float
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """``dup_clusters`` rows of the new documents from the linked pairs, which are canonicals, and which joined
    an earlier cluster."""
    new, prior = nodes.new, nodes.prior
    labels, comp_old = _components(new, prior, la, lb)
    canon, canon_old, cluster_str, canon_str = _canonicals(new, prior, labels, comp_old)
    is_canon, method, sims = _to_canonical(nodes, canon, canon_old, threshold, containment_threshold)
    table = pa.table(
        {
            "doc_id": new.doc_ids,
            "cluster_id": pa.array(cluster_str, pa.string()),
            "canonical_doc_id": pa.array(canon_str, pa.string()),
            "method": pa.array(method.tolist(), pa.string()),
            "similarity": pa.array(sims, pa.float64()),
        },
        schema=DUP_CLUSTERS_SCHEMA,
    )
    return table, is_canon, canon_old


# --- reduce: shared passages
_HOT_SQL = """
CREATE OR REPLACE TEMP TABLE _nd_hot AS
WITH nh AS (SELECT h, count(DISTINCT i) AS k FROM _nd_np GROUP BY h),
     oh AS (SELECT h, count(DISTINCT doc_id) AS k
              FROM (SELECT doc_id, unnest(passage_hashes) AS h FROM doc_signatures)
             WHERE h IN (SELECT h FROM nh) GROUP BY h)
SELECT h FROM nh LEFT JOIN oh USING (h) WHERE nh.k + coalesce(oh.k, 0) BETWEEN 2 AND $max_docs
"""
# pairs within one cluster (duplicates of each other) are left out in the join: a story republished 47 times
# would otherwise make 47 x 46 rows per paragraph
_NEW_NEW_SQL = """
SELECT a.i, b.i AS j, a.h, a.s, a.e, b.s AS os, b.e AS oe
  FROM _nd_np a JOIN _nd_hot USING (h) JOIN _nd_np b ON b.h = a.h AND b.c <> a.c
"""
_NEW_OLD_SQL = """
WITH op AS (SELECT doc_id, unnest(passage_hashes) AS h, unnest(passage_starts) AS s,
                   unnest(passage_ends) AS e FROM doc_signatures)
SELECT a.i, o.doc_id AS other, a.h, a.s, a.e, o.s AS os, o.e AS oe, c.cluster_id AS other_cluster
  FROM _nd_np a JOIN _nd_hot USING (h) JOIN op o ON o.h = a.h
  LEFT JOIN dup_clusters c ON c.doc_id = o.doc_id
"""


def _shared_passages(
    con: duckdb.DuckDBPyConnection, new: _New, cluster_ids: pa.ChunkedArray, max_docs: int
) -> pa.Table:
    """Rows for paragraphs that a new document shares with another document of a different cluster.

    Both directions are emitted (for a pair with an earlier document the earlier side's row is new too).
    Paragraphs found in more than ``max_docs`` documents are skipped as boilerplate. New documents are
    integers (their rank by doc_id) in the joins; doc_id strings are attached to the final rows only.
    """
    counts = np.diff(new.p_off)
    codes = pc.dictionary_encode(cluster_ids).combine_chunks().indices.to_numpy()
    new_p = pa.table(
        {
            "i": pa.array(np.repeat(np.arange(len(new), dtype=np.int32), counts)),
            "c": pa.array(np.repeat(codes.astype(np.int32), counts)),
            "h": pa.array(new.p_hash, pa.uint64()),
            "s": pa.array(new.p_start, pa.int32()),
            "e": pa.array(new.p_end, pa.int32()),
        }
    )
    con.register("_nd_np", new_p)
    try:
        con.execute(_HOT_SQL.replace("$max_docs", str(int(max_docs))))
        nn = con.sql(_NEW_NEW_SQL).to_arrow_table()
        no = con.sql(_NEW_OLD_SQL).to_arrow_table()
    finally:
        con.unregister("_nd_np")
        con.execute("DROP TABLE IF EXISTS _nd_hot")
    out = _new_new_rows(nn, new.doc_ids)
    if no.num_rows == 0:
        return out
    keys = ["doc_id", "other_doc_id", "start", "other_start", "passage_hash", "end", "other_end"]
    parts = [out, *_new_old_rows(no, new.doc_ids, cluster_ids)]
    return pa.concat_tables(parts).sort_by([(k, "ascending") for k in keys]).combine_chunks()


def _new_new_rows(nn: pa.Table, doc_ids: pa.Array) -> pa.Table:
    """Rows between two new documents of different clusters: both directions come out of the join. Sorted by
    doc_id, other_doc_id, start, other_start."""
    i, j = _np(nn.column("i"), np.int64), _np(nn.column("j"), np.int64)
    cols = {k: _np(nn.column(k), t) for k, t in (("h", np.uint64), ("s", np.int32), ("e", np.int32))}
    cols |= {k: _np(nn.column(k), np.int32) for k in ("os", "oe")}
    # ranks order like the doc_id strings
    o = np.lexsort((cols["oe"], cols["e"], cols["h"], cols["os"], cols["s"], j, i))
    return pa.table(
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


def _new_old_rows(no: pa.Table, doc_ids: pa.Array, cluster_ids: pa.ChunkedArray) -> tuple[pa.Table, pa.Table]:
    """Rows between a new and an earlier document in different clusters: the row of each side."""
    a = no.column("i").combine_chunks()
    a_ids, a_cluster = doc_ids.take(a), cluster_ids.take(a)
    keep = pc.fill_null(pc.not_equal(a_cluster, no.column("other_cluster")), True)
    no, a_ids = no.filter(keep), a_ids.filter(keep)
    sides = []
    for mine, other, s, e, os_, oe in (("a", "o", "s", "e", "os", "oe"), ("o", "a", "os", "oe", "s", "e")):
        ids = {"a": a_ids, "o": no.column("other")}
        sides.append(
            pa.table(
                {
                    "doc_id": ids[mine],
                    "other_doc_id": ids[other],
                    "passage_hash": no.column("h"),
                    "start": no.column(s),
                    "end": no.column(e),
                    "n_chars": pc.subtract(no.column(e), no.column(s)),
                    "other_start": no.column(os_),
                    "other_end": no.column(oe),
                }
            ).cast(SHARED_PASSAGES_SCHEMA)
        )
    return sides[0], sides[1]


# --- the reduce step
def _sorted_by_doc_id(t: pa.Table) -> pa.Table:
    """``t`` sorted by doc_id; ``t`` itself when it already is (a sorted copy would double the signatures)."""
    order = pc.sort_indices(t.column("doc_id"))
    if np.array_equal(order.to_numpy(), np.arange(t.num_rows)):
        return t
    return t.take(order)


@contextlib.contextmanager
def _phase(secs: dict[str, float], name: str) -> Iterator[None]:
    """Record the seconds of the block in ``secs[name]``."""
    t = time.perf_counter()
    yield
    secs[name] = time.perf_counter() - t


def assign_near_duplicates(
    con: duckdb.DuckDBPyConnection,
    signatures: pa.Table,
    meta: pa.Table,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    containment_threshold: float = DEFAULT_CONTAINMENT_THRESHOLD,
    params: DedupParams = DedupParams(),
    limits: Limits = Limits(),
    max_passage_docs: int = MAX_PASSAGE_DOCS,
) -> NearDupResult:
    """The reduce step: cluster the new documents against each other and every earlier document in ``con``.

    ``signatures``: the new documents' rows from ``sketch_table`` (all shards concatenated; sketched with
    ``params``). ``meta``: doc_id, n_words, first_seen of the same documents. ``con`` exposes
    ``documents(doc_id, text, n_words, first_seen)`` over the published AND the new documents (texts for the
    containment checks come from it), and ``doc_signatures``, ``dup_clusters``, ``shared_passages`` of the
    published state (possibly empty; ``empty_state`` creates them). No new doc_id is in the published state.
    Nothing is re-sketched. Returns rows for the new documents only, sorted by doc_id; the same inputs give the
    same rows.

    Memory, for n new documents with B = bands + head_bands band hashes and P paragraphs each on average:
      * per new document: its signature (4 x num_perm bytes), bands (8 B bytes) and paragraphs (16 P bytes),
        once: the numpy arrays are views of ``signatures``' Arrow buffers, which is returned (copied only when it
        is not sorted by doc_id already);
      * bucket rows: n (B + P) + earlier rows (the band rows a view of the bands), and for a moment a sorted
        copy of their keys (8 bytes a row) to drop the rows of one-member buckets (most band rows,
        ``transforms.dedup.shared_rows``); the rest 17 bytes each, 16 once sorted (``transforms.dedup.Buckets``);
        the pairs from the buckets before they are made distinct:
        at most (B + P) (anchors + old_anchors) per new document, ``MEMBER_CHUNK`` documents at a time;
      * per candidate: the distinct compared pairs, at most ``max_candidates`` per new document, ~40 bytes
        each, with (pairs, num_perm) temporaries ``ROW_CHUNK`` pairs at a time. Measured on the 100k bench
        corpus (94,450 new documents, 0.87 candidate pairs each): the whole near-dup task (``flows/dedup.py``:
        reading the rows, this reduce, the gate, writing) peaked 408 MiB above its start, 1,034 before the
        views, the early drop of one-member buckets and the input read on a connection of its own;
      * earlier documents: at most ``old_anchors`` members per distinct new band or paragraph hash, with their
        signatures; DuckDB scans the published band and paragraph hashes (it spills past its memory limit);
      * texts: only those of the pairs checked exactly (estimates within ``EXACT_MARGIN`` above the threshold,
        at most ``containment_targets`` containment targets per new document, then one per member against its
        canonical), ``EXACT_BATCH`` pairs' texts and shingle sets at a time.
    """
    t0 = time.perf_counter()
    secs: dict[str, float] = {}
    with _phase(secs, "fetch_prior"):
        signatures = _sorted_by_doc_id(signatures)
        new = _new_docs(signatures, meta, params)
        n = len(new)
        check_scheme(con, params)
        prior = _fetch_prior(con, new, params, limits)
    with _phase(secs, "candidates"):
        a, b, evidence, cand_stats = _candidates(new, prior, params, limits, max_passage_docs)
    with _phase(secs, "verify"):
        nodes = _Nodes(con, new, prior, params.k)
        la, lb, verify_stats = _verify(nodes, a, b, evidence, threshold, containment_threshold, limits)
    with _phase(secs, "cluster"):
        clusters, is_canon, canon_old = _clusters(nodes, la, lb, threshold, containment_threshold)
    with _phase(secs, "passages"):
        shared = _shared_passages(con, new, clusters.column("cluster_id"), max_passage_docs)
    secs["total"] = time.perf_counter() - t0
    stats = {
        "new_docs": n,
        "candidate_pairs": len(a),
        "candidate_pairs_per_doc": round(len(a) / n, 3) if n else 0.0,
        "verified_pairs": len(la),
        **verify_stats,
        "new_clusters": int(is_canon.sum()),
        "joined_prior_clusters": int(canon_old.sum()),
        "shared_passage_rows": shared.num_rows,
        "threshold": threshold,
        "containment_threshold": containment_threshold,
        "scheme": params.scheme,
        "limits": asdict(limits),
        **cand_stats,
        "secs": {k: round(v, 3) for k, v in secs.items()},
    }
    return NearDupResult(dup_clusters=clusters, doc_signatures=signatures, shared_passages=shared, stats=stats)
