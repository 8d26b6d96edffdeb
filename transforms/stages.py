"""Pure batch functions, one per stage, as the flow calls them: plain rows in, plain rows and rejections out.

Rows are dicts keyed by the column names in warehouse/schema.py. Nothing here does Prefect or DuckDB work.
The flow's map tasks (flows/ingest.py, flows/normalize.py) call these on one shard and pack the rows as Arrow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from transforms.boilerplate import load_rules, repeated_lines
from transforms.documents import count_words, doc_id_for
from transforms.language import detect_language, language_sample
from transforms.normalize import clean_unicode, normalize_document, split_lines
from transforms.readers import InputFile, read_file
from transforms.records import RawRecord, Rejection

DEFAULT_MAX_DOC_CHARS = 1_000_000


@dataclass
class IngestBatch:
    records: list[RawRecord] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    n_records_by_file: dict[str, int] = field(default_factory=dict)


def ingest_files(files: Sequence[InputFile], max_doc_chars: int = DEFAULT_MAX_DOC_CHARS) -> IngestBatch:
    """Read every record of `files`. Records longer than `max_doc_chars` are rejected (document_too_large)."""
    out = IngestBatch()
    for f in files:
        n = 0
        for item in read_file(f, max_doc_chars):  # the reader applies the limit, before decoding where it can
            n += 1
            (out.records if isinstance(item, RawRecord) else out.rejections).append(item)
        out.n_records_by_file[f.file_id] = n
    return out


@dataclass
class NormalizeBatch:
    docs: list[dict] = field(default_factory=list)  # one per record (exact dedup happens later)
    boilerplate: list[dict] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def source_of(record: RawRecord, path: str | None) -> str:
    """Where a record comes from, for the repeated-line detector: URL host, else the input file."""
    return source_key(record.url, path or record.file_id)


def source_key(url: str | None, path: str) -> str:
    """`source_of` from a record's stored url and its file's path."""
    if url:
        try:
            host = urlsplit(url).hostname
        except ValueError:  # a malformed URL ("http://[x") names no host
            host = None
        if host:
            return host.lower()
    return path


def find_repeated_lines(records: Sequence[RawRecord], paths: dict[str, str]) -> dict[str, frozenset[str]]:
    """Lines repeated across >= half of one source's records (source_of): computed once over the whole run, so
    that a text normalizes the same whichever batch it lands in (its doc_id depends on it)."""
    return repeated_lines(source_lines(records, paths))


def source_lines(records: Sequence[RawRecord], paths: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """(source, cleaned lines) of each record: what the repeated-line detector counts."""
    return ((source_of(r, paths.get(r.file_id)), split_lines(clean_unicode(r.text))) for r in records)


def normalize_records(
    records: Sequence[RawRecord],
    paths: dict[str, str],
    first_seen: datetime,
    run_id: str,
    repeated: dict[str, frozenset[str]],
) -> NormalizeBatch:
    """Normalize each record into a document row (doc_id = sha256 of normalized text).

    `repeated` (from find_repeated_lines over the run) names each source's lines removed as `repeated_line`.
    A record whose text is empty after normalization is rejected (empty_after_normalize).
    """
    rules = load_rules()
    sources = [source_of(r, paths.get(r.file_id)) for r in records]
    out = NormalizeBatch()
    for rec, source in zip(records, sources, strict=True):
        nd = normalize_document(
            rec.text,
            title=rec.title,
            published_at=rec.published_at,
            rules=rules,
            repeated=repeated.get(source, frozenset()),
        )
        if not nd.text:
            out.rejections.append(
                Rejection(
                    rec.record_id,
                    rec.file_id,
                    rec.record_index,
                    "normalize",
                    "empty_after_normalize",
                    f"nothing left after removing {len(nd.removed)} boilerplate line(s)",
                    rec.text[:10_000],
                )
            )
            continue
        doc_id = doc_id_for(nd.text)
        out.docs.append(
            {
                "doc_id": doc_id,
                "record_id": rec.record_id,
                "source": source,
                "title": nd.title,
                "url": rec.url,
                "published_at": nd.published_at,
                "text": nd.text,
                "n_chars": len(nd.text),
                "n_words": count_words(nd.text),
                "first_seen": first_seen,
                "run_id": run_id,
            }
        )
        out.boilerplate.extend(
            {
                "doc_id": doc_id,
                "record_id": rec.record_id,
                "line_no": r.line_no,
                "text": r.text,
                "rule": r.rule,
                "run_id": run_id,
            }
            for r in nd.removed
        )
    return out


def detect_languages(
    docs: Sequence[dict], labeler: Callable[[list[str]], list[tuple[str, float]]] | None = None
) -> list[dict]:
    """Copy of `docs` with lang and lang_prob set. `labeler` (default: `language_labels`) labels the texts'
    samples: a caller can send them, and only them, to a worker process."""
    labels = (labeler or language_labels)([language_sample(d["text"]) for d in docs])
    return [{**d, "lang": lang, "lang_prob": prob} for d, (lang, prob) in zip(docs, labels, strict=True)]


def language_labels(texts: Sequence[str]) -> list[tuple[str, float]]:
    """(lang, lang_prob) of each text."""
    return [(res.lang, res.prob) for res in map(detect_language, texts)]
