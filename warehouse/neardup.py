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
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

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
        return (
            f"minhash-v1:k{self.k}:p{self.num_perm}:s{self.seed}:b{self.bands}x{self.rows}"
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
def _sketch_table(
    doc_ids: list[str], texts: list[str], params: DedupParams, n_jobs: int
) -> tuple[pa.Table, dedup.Sketch]:
    sk = dedup.sketch(
        texts,
        k=params.k,
        num_perm=params.num_perm,
        seed=params.seed,
        head_words=params.head_words,
        head_perm=params.head_perm,
        n_jobs=n_jobs,
    )
    n = len(doc_ids)
    bands = np.concatenate(
        [
            dedup.band_hashes(sk.sig, params.bands, params.rows, salt=0),
            dedup.band_hashes(sk.head, params.head_bands, params.head_rows, salt=1),
        ],
        axis=1,
    )
    n_bands = np.where(sk.n_shingles > 0, bands.shape[1], 0)
    band_offsets = np.concatenate([[0], np.cumsum(n_bands)]).astype(np.int32)
    band_values = bands[sk.n_shingles > 0].ravel()
    sig_offsets = np.arange(0, (n + 1) * params.num_perm, params.num_perm, dtype=np.int32)

    p_hash: list[int] = []
    p_start: list[int] = []
    p_end: list[int] = []
    p_offsets = [0]
    for text in texts:
        for p in dedup.passages(text):
            p_hash.append(p.passage_hash)
            p_start.append(p.start)
            p_end.append(p.end)
        p_offsets.append(len(p_hash))
    po = pa.array(p_offsets, pa.int32())
    table = pa.table(
        {
            "doc_id": pa.array(doc_ids, pa.string()),
            "scheme": pa.array([params.scheme] * n, pa.string()),
            "n_shingles": pa.array(sk.n_shingles, pa.int32()),
            "minhash": pa.ListArray.from_arrays(pa.array(sig_offsets), pa.array(sk.sig.ravel())),
            "bands": pa.ListArray.from_arrays(pa.array(band_offsets), pa.array(band_values, pa.uint64())),
            "passage_hashes": pa.ListArray.from_arrays(po, pa.array(p_hash, pa.uint64())),
            "passage_starts": pa.ListArray.from_arrays(po, pa.array(p_start, pa.int32())),
            "passage_ends": pa.ListArray.from_arrays(po, pa.array(p_end, pa.int32())),
        },
        schema=DOC_SIGNATURES_SCHEMA,
    )
    return table, sk


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
    """
    t0 = time.perf_counter()
    secs: dict[str, float] = {}
    new_docs = new_docs.sort_by("doc_id")
    doc_ids: list[str] = new_docs.column("doc_id").to_pylist()
    texts: list[str] = [t or "" for t in new_docs.column("text").to_pylist()]
    n_words = [int(x or 0) for x in new_docs.column("n_words").to_pylist()]
    first_seen = new_docs.column("first_seen").to_pylist()
    n = len(doc_ids)
    pos = {d: i for i, d in enumerate(doc_ids)}
    if len(pos) != n:
        raise ValueError("new_docs has duplicate doc_id values")
    _check_scheme(con, params)

    sig_table, sk = _sketch_table(doc_ids, texts, params, n_jobs)
    secs["sketch"] = time.perf_counter() - t0

    # --- candidates: pairs sharing a band hash (band index is mixed into the hash), at least one side new
    t = time.perf_counter()
    con.register("_nd_new", sig_table)
    try:
        cand = con.sql(
            """
            WITH nb AS (SELECT doc_id, unnest(bands) AS h FROM _nd_new),
                 ob AS (SELECT doc_id, unnest(bands) AS h FROM doc_signatures)
            SELECT DISTINCT a.doc_id AS a, b.doc_id AS b, false AS b_old
              FROM nb a JOIN nb b ON a.h = b.h AND a.doc_id < b.doc_id
            UNION ALL
            SELECT DISTINCT a.doc_id, b.doc_id, true FROM nb a JOIN ob b ON a.h = b.h
            """
        ).to_arrow_table()
        secs["candidates"] = time.perf_counter() - t

        # --- earlier documents involved: their signatures, clusters and the canonicals of those clusters
        t = time.perf_counter()
        old_ids = sorted(set(cand.filter(cand.column("b_old")).column("b").to_pylist()))
        con.register("_nd_old_ids", pa.table({"doc_id": pa.array(old_ids, pa.string())}))
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
        need_sig = sorted(set(old_ids) | {v[0] for v in cluster_info.values()})
        con.register("_nd_need", pa.table({"doc_id": pa.array(need_sig, pa.string())}))
        osig = con.sql(
            """
            SELECT s.doc_id, s.n_shingles, s.minhash, d.text
              FROM doc_signatures s JOIN _nd_need USING (doc_id)
              LEFT JOIN documents d USING (doc_id)
             ORDER BY s.doc_id
            """
        ).to_arrow_table()
    finally:
        for name in ("_nd_new", "_nd_old_ids", "_nd_need"):
            with contextlib.suppress(Exception):
                con.unregister(name)
    o_ids: list[str] = osig.column("doc_id").to_pylist()
    o_pos = {d: i for i, d in enumerate(o_ids)}
    o_sig = _minhash_matrix(osig.column("minhash"), params.num_perm) if o_ids else None
    o_nsh = osig.column("n_shingles").to_numpy(zero_copy_only=False)
    o_text = osig.column("text").to_pylist()
    secs["fetch_prior"] = time.perf_counter() - t

    # --- verify candidates
    t = time.perf_counter()

    def side(ids: list[str], is_old: np.ndarray | bool) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(is_old, bool):
            is_old = np.full(len(ids), is_old)
        sig = np.empty((len(ids), params.num_perm), dtype=np.uint32)
        nsh = np.empty(len(ids), dtype=np.int64)
        for i, (d, o) in enumerate(zip(ids, is_old, strict=True)):
            if o and d not in o_pos:  # earlier doc without a signature row: compares as empty
                sig[i], nsh[i] = dedup.MAX_U32, 0
            elif o:
                sig[i], nsh[i] = o_sig[o_pos[d]], o_nsh[o_pos[d]]
            else:
                sig[i], nsh[i] = sk.sig[pos[d]], sk.n_shingles[pos[d]]
        return sig, nsh

    text_of = {**dict(zip(o_ids, o_text, strict=True)), **dict(zip(doc_ids, texts, strict=True))}
    shingle_cache: dict[str, np.ndarray] = {}

    def exact_shingles(d: str) -> np.ndarray:
        if d not in shingle_cache:
            shingle_cache[d] = dedup.shingles(text_of.get(d) or "", params.k)
        return shingle_cache[d]

    def similarity(a_ids: list[str], b_ids: list[str], b_old: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(estimated Jaccard, overlap coefficient or -1 when not plausible) for aligned id lists."""
        jac = np.zeros(len(a_ids))
        ovl = np.full(len(a_ids), -1.0)
        for s in range(0, len(a_ids), 50_000):  # bound the (m, num_perm) gathers
            sa, na = side(a_ids[s : s + 50_000], False)
            sb, nb = side(b_ids[s : s + 50_000], b_old[s : s + 50_000])
            j = dedup.estimated_jaccard(sa, sb)
            jac[s : s + len(j)] = j
            c_est = dedup.containment_from_jaccard(j, na, nb)
            plausible = (j < threshold) & (c_est >= containment_threshold - CONTAINMENT_SLACK)
            plausible &= (na > 0) & (nb > 0)
            for i in np.flatnonzero(plausible):
                ovl[s + i] = dedup.containment(exact_shingles(a_ids[s + i]), exact_shingles(b_ids[s + i]))
        return jac, ovl

    ca: list[str] = cand.column("a").to_pylist()
    cb: list[str] = cand.column("b").to_pylist()
    c_old = cand.column("b_old").to_numpy(zero_copy_only=False).astype(bool)
    # earlier docs without a cluster row or signature cannot be linked (inconsistent prior state): skip them
    keep = [not o or (b in old_cluster and b in o_pos) for b, o in zip(cb, c_old, strict=True)]
    ca = [x for x, k in zip(ca, keep, strict=True) if k]
    cb = [x for x, k in zip(cb, keep, strict=True) if k]
    c_old = c_old[np.array(keep, dtype=bool)] if len(keep) else c_old
    jac, ovl = similarity(ca, cb, c_old)
    linked = (jac >= threshold) | (ovl >= containment_threshold)
    secs["verify"] = time.perf_counter() - t

    # --- components over new docs and earlier clusters (earlier clusters are single nodes)
    t = time.perf_counter()
    edges = []
    for a, b, o in zip(
        np.array(ca, dtype=object)[linked], np.array(cb, dtype=object)[linked], c_old[linked], strict=True
    ):
        edges.append((("n", a), ("o", old_cluster[b]) if o else ("n", b)))
    comp = dedup.connected_components([("n", d) for d in doc_ids], edges)
    members: dict[tuple, list] = {}
    for node, root in comp.items():
        members.setdefault(root, []).append(node)

    canonical: dict[str, tuple[str, str, bool]] = {}  # new doc -> (cluster_id, canonical, canonical is old)
    for nodes in members.values():
        new_in = [d for kind, d in nodes if kind == "n"]
        old_in = [c for kind, c in nodes if kind == "o"]
        if old_in:
            best = min(old_in, key=lambda c: dedup.canonical_key(*cluster_info[c][1:], cluster_info[c][0]))
            target = (best, cluster_info[best][0], True)
        else:
            best_doc = min(new_in, key=lambda d: dedup.canonical_key(n_words[pos[d]], first_seen[pos[d]], d))
            target = (best_doc, best_doc, False)
        for d in new_in:
            canonical[d] = target

    # similarity of every new doc to its canonical
    non_canon = [d for d in doc_ids if canonical[d][1] != d]
    j_c, o_c = similarity(
        non_canon,
        [canonical[d][1] for d in non_canon],
        np.array([canonical[d][2] for d in non_canon], dtype=bool),
    )
    sim_of = {d: (j, o) for d, j, o in zip(non_canon, j_c, o_c, strict=True)}
    methods, sims, cluster_ids, canon_ids = [], [], [], []
    for d in doc_ids:
        cid, can, _ = canonical[d]
        cluster_ids.append(cid)
        canon_ids.append(can)
        if can == d:
            methods.append("exact")
            sims.append(1.0)
            continue
        j, o = sim_of[d]
        if j >= threshold:
            methods.append("near")
            sims.append(float(j))
        elif o >= containment_threshold:
            methods.append("contained")
            sims.append(float(o))
        else:
            methods.append("near")
            sims.append(float(j))
    clusters = pa.table(
        {
            "doc_id": doc_ids,
            "cluster_id": cluster_ids,
            "canonical_doc_id": canon_ids,
            "method": methods,
            "similarity": pa.array(sims, pa.float64()),
        },
        schema=DUP_CLUSTERS_SCHEMA,
    )
    secs["cluster"] = time.perf_counter() - t

    t = time.perf_counter()
    shared = _shared_passages(con, sig_table, dict(zip(doc_ids, cluster_ids, strict=True)), max_passage_docs)
    secs["passages"] = time.perf_counter() - t
    secs["total"] = time.perf_counter() - t0
    stats = {
        "new_docs": n,
        "candidate_pairs": len(linked),
        "verified_pairs": int(linked.sum()),
        "containment_checks": int((ovl >= 0).sum()),
        "contained_pairs": int(((jac < threshold) & (ovl >= containment_threshold)).sum()),
        "new_clusters": sum(1 for d in doc_ids if canonical[d][1] == d),
        "joined_prior_clusters": sum(1 for d in doc_ids if canonical[d][2]),
        "shared_passage_rows": shared.num_rows,
        "threshold": threshold,
        "containment_threshold": containment_threshold,
        "scheme": params.scheme,
        "secs": {k: round(v, 3) for k, v in secs.items()},
    }
    return NearDupResult(dup_clusters=clusters, doc_signatures=sig_table, shared_passages=shared, stats=stats)


def _shared_passages(
    con: duckdb.DuckDBPyConnection, sig_table: pa.Table, new_cluster: dict[str, str], max_docs: int
) -> pa.Table:
    """Rows for paragraphs that a new document shares with another document of a different cluster.

    Both directions are emitted (for a pair with an earlier document the earlier side's row is new too).
    Paragraphs found in more than ``max_docs`` documents are skipped as boilerplate.
    """
    con.register("_nd_new", sig_table)
    try:
        rows = con.execute(
            """
            WITH np AS (SELECT doc_id, unnest(passage_hashes) AS h, unnest(passage_starts) AS s,
                               unnest(passage_ends) AS e FROM _nd_new),
                 op AS (SELECT doc_id, unnest(passage_hashes) AS h, unnest(passage_starts) AS s,
                               unnest(passage_ends) AS e FROM doc_signatures),
                 allp AS (SELECT *, false AS old FROM np UNION ALL SELECT *, true FROM op),
                 hot AS (SELECT h FROM allp WHERE h IN (SELECT h FROM np)
                          GROUP BY h HAVING count(DISTINCT doc_id) BETWEEN 2 AND ?)
            SELECT a.doc_id, b.doc_id AS other, a.h, a.s, a.e, b.s AS os, b.e AS oe, b.old,
                   c.cluster_id AS other_cluster
              FROM np a JOIN hot USING (h) JOIN allp b ON b.h = a.h AND b.doc_id <> a.doc_id
              LEFT JOIN dup_clusters c ON b.old AND c.doc_id = b.doc_id
             ORDER BY a.doc_id, b.doc_id, a.s, b.s
            """,
            [max_docs],
        ).fetchall()
    finally:
        con.unregister("_nd_new")
    out: list[tuple] = []
    for d, other, h, s, e, os_, oe, old, other_cluster in rows:
        oc = other_cluster if old else new_cluster.get(other)
        if oc == new_cluster[d]:
            continue  # duplicates of each other: not a passage shared between different articles
        out.append((d, other, h, s, e, e - s, os_, oe))
        if old:
            out.append((other, d, h, os_, oe, oe - os_, s, e))
    out.sort(key=lambda r: (r[0], r[1], r[3], r[6]))
    cols = list(zip(*out, strict=True)) if out else [[] for _ in SHARED_PASSAGES_SCHEMA]
    return pa.table(
        {f.name: pa.array(list(c), f.type) for f, c in zip(SHARED_PASSAGES_SCHEMA, cols, strict=True)},
        schema=SHARED_PASSAGES_SCHEMA,
    )
