"""Near-duplicate clustering through the real flow: copies join their original's cluster, across runs too."""

from __future__ import annotations

import random
from pathlib import Path

from tests.conftest import SEEDS, q


def edited_copy(text: str, share: float, seed: int) -> str:
    """Substitute `share` of the words and swap the footer, as a re-post would."""
    rng = random.Random(seed)
    words = text.split(" ")
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = rng.choice(["reportedly", "officials", "region", "meeting", "statement"])
    return " ".join(words) + "\n\nFollow our live coverage for more updates on this story today.\n"


def cluster_of(wh: Path, needle: str) -> tuple[str, str, str]:
    rows = q(
        wh,
        "SELECT c.cluster_id, c.canonical_doc_id, c.method FROM dup_clusters c JOIN documents d USING (doc_id) "
        "JOIN raw_documents r ON r.record_id = d.record_id JOIN source_files s ON s.file_id = r.file_id "
        "WHERE s.path LIKE ?",
        [f"%{needle}%"],
    )
    assert len(rows) == 1, rows
    return rows[0]


def extraction_status(wh: Path) -> dict[str, tuple[bool, str, str | None, int]]:
    """doc_id -> (is its cluster's canonical, extraction status, reason, rows in mentions/figures/dates/quotes)."""
    rows = q(
        wh,
        "SELECT e.doc_id, c.canonical_doc_id = e.doc_id, e.status, e.reason, "
        "(SELECT count(*) FROM (SELECT doc_id FROM mentions UNION ALL SELECT doc_id FROM figures UNION ALL "
        "SELECT doc_id FROM dates UNION ALL SELECT doc_id FROM quotes) x WHERE x.doc_id = e.doc_id) "
        "FROM extractions e JOIN dup_clusters c USING (doc_id)",
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def assert_only_canonicals_extracted(wh: Path, members: int) -> None:
    status = extraction_status(wh)
    skipped = {d: s for d, s in status.items() if not s[0]}
    assert len(skipped) == members, status
    assert all(s[1:] == ("skipped", "near_duplicate", 0) for s in skipped.values()), skipped
    extracted = [s for s in status.values() if s[0]]
    assert extracted and all(s[1] == "extracted" and s[3] > 0 for s in extracted), status


def test_edited_and_truncated_copies_join_their_originals(tmp_path, seeds_copy, run_etl):
    t004 = (SEEDS / "004_dd5b4a6056b2a50f.txt").read_text(encoding="utf-8")
    t001 = (SEEDS / "001_d6b9f48a18224955.txt").read_text(encoding="utf-8")
    (seeds_copy / "copy_edited_004.txt").write_text(edited_copy(t004, 0.05, 1), encoding="utf-8")
    (seeds_copy / "copy_truncated_001.txt").write_text(t001[: len(t001) // 2], encoding="utf-8")
    wh = tmp_path / "wh"
    state, summary = run_etl([seeds_copy], wh)
    assert state.is_completed(), state.message
    assert q(wh, "SELECT count(*), count(DISTINCT cluster_id) FROM dup_clusters") == [(7, 5)]
    c004, canon004, _ = cluster_of(wh, "/004_")
    assert cluster_of(wh, "copy_edited_004")[:2] == (c004, canon004)
    assert {cluster_of(wh, "/004_")[2], cluster_of(wh, "copy_edited_004")[2]} == {"exact", "near"}
    # canonical rule: most words wins (the copy carries an extra footer line, so it is the longer one)
    longest = q(
        wh,
        "SELECT doc_id FROM documents WHERE doc_id IN (SELECT doc_id FROM dup_clusters WHERE "
        "cluster_id = ?) ORDER BY n_words DESC LIMIT 1",
        [c004],
    )[0][0]
    assert canon004 == longest
    c001, canon001, _ = cluster_of(wh, "/001_")
    assert cluster_of(wh, "copy_truncated_001")[:2] == (c001, canon001)
    assert cluster_of(wh, "copy_truncated_001")[2] in {"near", "contained"}
    assert summary["counts"]["canonical_new"] == 5
    # NER and the rules run on each cluster's canonical document only; the two copies are skipped, with why
    assert_only_canonicals_extracted(wh, members=2)


def test_near_copy_in_a_later_run_joins_the_old_cluster(tmp_path, seeds_copy, run_etl):
    wh = tmp_path / "wh"
    state, _ = run_etl([seeds_copy], wh)
    assert state.is_completed(), state.message
    old = cluster_of(wh, "/000_")
    later = tmp_path / "later"
    later.mkdir()
    t000 = (SEEDS / "000_594bfe9a84f64134.txt").read_text(encoding="utf-8")
    (later / "repost_000.txt").write_text(edited_copy(t000, 0.03, 7), encoding="utf-8")
    state, summary = run_etl([later], wh)
    assert state.is_completed(), state.message
    assert summary["counts"]["documents_new"] == 1 and summary["counts"]["canonical_new"] == 0
    assert cluster_of(wh, "repost_000")[:2] == old[:2]
    assert cluster_of(wh, "/000_") == old  # the old canonical's row is untouched
    assert_only_canonicals_extracted(wh, members=1)  # the repost is not extracted: the old canonical was
