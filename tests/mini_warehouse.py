"""A tiny published warehouse built from inline rows (no Prefect, no NER), for model, release and report tests.

Two runs. Documents d1 (canonical of cluster c1, with duplicate d2) and d3 (alone). Entities E1 (PERSON, seen in
both runs with different aliases) and E2 (GPE, run 1 only). Mentions: d1 has E1 in sentences 0 and 1 and E2 in
sentence 0; d3 has E1 in sentence 0. Figures: d1 sentence 0 (with E1 and E2) and d1 sentence 2 (no entity).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from warehouse import schema
from warehouse.store import Store, writer_lock

R1, R2 = "20260101T000000-aaaaaaaa", "20260102T000000-bbbbbbbb"
T1, T2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
TEXT1 = "Assad met Putin in Moscow with 5 million dollars. Assad spoke. It took 3 days."


def _doc(doc_id: str, run_id: str, seen: datetime, lang: str = "en", text: str = TEXT1) -> dict:
    return {
        "doc_id": doc_id,
        "record_id": f"rec-{doc_id}",
        "source": f"/in/{doc_id}.txt",
        "title": f"title {doc_id}",
        "published_at": seen,
        "text": text,
        "lang": lang,
        "lang_prob": 0.99,
        "n_chars": len(text),
        "n_words": len(text.split()),
        "first_seen": seen,
        "run_id": run_id,
    }


def _mention(doc_id: str, start: int, end: int, surface: str, sentence: int, eid: str, run_id: str) -> dict:
    return {
        "doc_id": doc_id,
        "start": start,
        "end": end,
        "surface": surface,
        "label": "PERSON",
        "sentence": sentence,
        "entity_id": eid,
        "run_id": run_id,
    }


def run1_tables() -> dict[str, list[dict]]:
    return {
        "runs": [
            {
                "run_id": R1,
                "started_at": T1,
                "finished_at": T1,
                "status": "success",
                "params": "{}",
                "code_version": "test",
                "n_files": 2,
                "n_files_skipped": 0,
                "n_records": 3,
                "n_quarantined": 1,
                "n_documents_new": 2,
                "n_documents_total": 2,
                "counts": "{}",
            }
        ],
        "raw_documents": [
            {"record_id": "rec-d1", "file_id": "f1", "record_index": 0, "raw_text": "x", "doc_id": "d1", "run_id": R1},
            {"record_id": "rec-d2", "file_id": "f1", "record_index": 1, "raw_text": "y", "doc_id": "d2", "run_id": R1},
            {"record_id": "rec-bad", "file_id": "f1", "record_index": 2, "raw_text": "", "doc_id": None, "run_id": R1},
        ],
        "quarantine": [
            {
                "run_id": R1,
                "stage": "normalize",
                "source_ref": "/in/f1",
                "record_id": "rec-bad",
                "reason_code": "empty_text",
                "detail": "no text",
            }
        ],
        "documents": [_doc("d1", R1, T1), _doc("d2", R1, T1, text=TEXT1 + " Copy.")],
        "dup_clusters": [
            {
                "doc_id": "d1",
                "cluster_id": "c1",
                "canonical_doc_id": "d1",
                "method": "exact",
                "similarity": 1.0,
                "run_id": R1,
            },
            {
                "doc_id": "d2",
                "cluster_id": "c1",
                "canonical_doc_id": "d1",
                "method": "near",
                "similarity": 0.9,
                "run_id": R1,
            },
        ],
        "entities": [
            {
                "entity_id": "E1",
                "name": "Bashar Assad",
                "type": "PERSON",
                "country_code": None,
                "aliases": ["Assad"],
                "mention_count": 2,
                "run_id": R1,
            },
            {
                "entity_id": "E2",
                "name": "Moscow",
                "type": "GPE",
                "country_code": None,
                "aliases": ["Moscow"],
                "mention_count": 1,
                "run_id": R1,
            },
        ],
        "mentions": [
            _mention("d1", 0, 5, "Assad", 0, "E1", R1),
            _mention("d1", 19, 25, "Moscow", 0, "E2", R1),
            _mention("d1", 50, 55, "Assad", 1, "E1", R1),
        ],
        "extractions": [_extraction("d1", R1, n_mentions=3, n_figures=2)],
        "figures": [
            {
                "doc_id": "d1",
                "start": 31,
                "end": 48,
                "surface": "5 million dollars",
                "value": 5e6,
                "unit": "USD",
                "kind": "money",
                "sentence": 0,
                "run_id": R1,
            },
            {
                "doc_id": "d1",
                "start": 71,
                "end": 77,
                "surface": "3 days",
                "value": 3.0,
                "unit": "day",
                "kind": "duration",
                "sentence": 2,
                "run_id": R1,
            },
        ],
        "dq_results": [
            {
                "run_id": R1,
                "stage": "normalize",
                "suite": "newsetl_normalize",
                "expectation": "expect_x",
                "column_name": "title",
                "success": True,
                "unexpected_count": 0,
                "severity": "error",
            },
            {
                "run_id": R1,
                "stage": "language",
                "suite": "newsetl_language",
                "expectation": "expect_y",
                "column_name": "lang",
                "success": False,
                "unexpected_count": 1,
                "severity": "warning",
            },
        ],
    }


def _extraction(doc_id: str, run_id: str, **counts: int) -> dict:
    zero = {"n_mentions": 0, "n_figures": 0, "n_dates": 0, "n_quotes": 0}
    return {"doc_id": doc_id, "status": "extracted", "reason": None, "run_id": run_id, **zero, **counts}


def run2_tables() -> dict[str, list[dict]]:
    return {
        "runs": [
            {
                "run_id": R2,
                "started_at": T2,
                "finished_at": T2,
                "status": "success",
                "params": "{}",
                "code_version": "test",
                "n_files": 1,
                "n_files_skipped": 0,
                "n_records": 1,
                "n_quarantined": 0,
                "n_documents_new": 1,
                "n_documents_total": 3,
                "counts": "{}",
            }
        ],
        "raw_documents": [
            {"record_id": "rec-d3", "file_id": "f2", "record_index": 0, "raw_text": "z", "doc_id": "d3", "run_id": R2}
        ],
        "documents": [_doc("d3", R2, T2, lang="de", text="Assad in Berlin.")],
        "dup_clusters": [
            {
                "doc_id": "d3",
                "cluster_id": "d3",
                "canonical_doc_id": "d3",
                "method": "exact",
                "similarity": 1.0,
                "run_id": R2,
            }
        ],
        "entities": [
            {
                "entity_id": "E1",
                "name": "Bashar al-Assad",
                "type": "PERSON",
                "country_code": None,
                "aliases": ["Bashar al-Assad", "Assad"],
                "mention_count": 1,
                "run_id": R2,
            }
        ],
        "mentions": [_mention("d3", 0, 5, "Assad", 0, "E1", R2)],
        "extractions": [_extraction("d3", R2, n_mentions=1)],
        "dq_results": [
            {
                "run_id": R2,
                "stage": "normalize",
                "suite": "newsetl_normalize",
                "expectation": "expect_x",
                "column_name": "title",
                "success": True,
                "unexpected_count": 0,
                "severity": "error",
            }
        ],
    }


def publish_run(root: Path, run_id: str, tables: dict[str, list[dict]]) -> None:
    """Append one run's partitions and publish a new catalog (models included), as the flow's load stage does."""
    with writer_lock(root):
        store = Store(root)
        prior = store.published_partitions()
        parts = [store.write_partition(name, run_id, schema.to_table(name, rows)) for name, rows in tables.items()]
        store.publish(store.build_catalog(run_id, prior + parts))


def build_mini_warehouse(root: Path) -> Path:
    publish_run(root, R1, run1_tables())
    publish_run(root, R2, run2_tables())
    return root
