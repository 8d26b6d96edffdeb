"""Read input files into RawRecords, one function per format; anything unreadable becomes a Rejection.

A reader never raises for bad content: a corrupt file yields a Rejection as its record 0, a bad record inside a
good file yields a Rejection for that record and the good records are kept. Only the path is needed; HTML is
parsed locally and nothing is fetched.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import pyarrow.parquet as pq

from transforms.encoding import UndecodableError, decode_bytes, repair_text
from transforms.records import RawRecord, Rejection

STAGE = "ingest"
RAW_KEEP = 10_000  # characters of an unreadable record kept in raw_documents for inspection
TEXT_FIELDS = ("text", "body", "content")
FORMATS = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonl.gz": "jsonl.gz",
    ".ndjson.gz": "jsonl.gz",
    ".csv": "csv",
    ".parquet": "parquet",
}

Item = RawRecord | Rejection


@dataclass(frozen=True, slots=True)
class InputFile:
    """A file found on disk, identified by the hash of its bytes."""

    path: str
    sha256: str
    bytes: int
    format: str | None

    @property
    def file_id(self) -> str:
        return self.sha256[:16]


def detect_format(path: str | Path) -> str | None:
    name = str(path).lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    return None


def discover(inputs: Iterable[str]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Expand files, directories (recursively, not following symlinked dirs) and globs.

    Returns (sorted unique file paths, problems) where a problem is (path, reason_code, detail) for an input
    that matched nothing or cannot be listed. Hidden files and directories are skipped.
    """
    found: set[str] = set()
    problems: list[tuple[str, str, str]] = []
    for spec in inputs:
        matches = sorted(glob(spec, recursive=True)) if any(c in spec for c in "*?[") else [spec]
        if not matches:
            problems.append((spec, "input_not_found", f"no file matches {spec!r}"))
        for m in matches:
            if os.path.isdir(m):
                for root, dirs, files in os.walk(m, followlinks=False, onerror=None):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    found.update(os.path.join(root, f) for f in files if not f.startswith("."))
            elif os.path.lexists(m):
                found.add(m)
            else:
                problems.append((m, "input_not_found", f"no such file: {m}"))
    return sorted(found), problems


def hash_file(path: str) -> InputFile:
    """sha256 and size of a file, read in chunks. Raises OSError when unreadable."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return InputFile(path=path, sha256=h.hexdigest(), bytes=size, format=detect_format(path))


def read_file(f: InputFile) -> Iterator[Item]:
    """Records of one file. Never raises: unreadable content is yielded as Rejections."""
    reader = _READERS.get(f.format or "")
    if reader is None:
        yield _reject(f, 0, "unsupported_format", f"no reader for file extension of {Path(f.path).name!r}")
        return
    try:
        yield from reader(f)
    except OSError as exc:
        yield _reject(f, 0, "unreadable_file", f"{type(exc).__name__}: {exc.strerror or exc}")


def _reject(f: InputFile, index: int, code: str, detail: str, raw: str | None = None) -> Rejection:
    return Rejection(
        record_id=f"{f.file_id}:{index}",
        file_id=f.file_id,
        record_index=index,
        stage=STAGE,
        reason_code=code,
        detail=detail,
        raw_text=raw[:RAW_KEEP] if raw else None,
    )


def _record(f: InputFile, index: int, text: str, encoding: str | None, **meta: str | None) -> Item:
    if not text.strip():
        return _reject(f, index, "empty_text", "record has no text", text)
    return RawRecord(
        record_id=f"{f.file_id}:{index}",
        file_id=f.file_id,
        record_index=index,
        text=text,
        encoding=encoding,
        title=_clean_meta(meta.get("title")),
        url=_clean_meta(meta.get("url")),
        published_at=_clean_meta(meta.get("published_at")),
    )


def _clean_meta(value: object) -> str | None:
    if value is None:
        return None
    s = repair_text(str(value)).strip()
    return s[:2000] or None


def _decode_file(f: InputFile) -> tuple[str, str] | Rejection:
    data = Path(f.path).read_bytes()
    if not data:
        return _reject(f, 0, "empty_file", "file is empty (0 bytes)")
    try:
        d = decode_bytes(data)
    except UndecodableError as exc:
        return _reject(f, 0, exc.reason_code, str(exc))
    return d.text, d.encoding


def read_text(f: InputFile) -> Iterator[Item]:
    """.txt: the whole file is one record."""
    got = _decode_file(f)
    if isinstance(got, Rejection):
        yield got
        return
    text, enc = got
    yield _record(f, 0, text, enc)


def read_markdown(f: InputFile) -> Iterator[Item]:
    """.md: one record; the first `# heading` becomes the title, markup is reduced to plain text."""
    from transforms.normalize import markdown_to_text

    got = _decode_file(f)
    if isinstance(got, Rejection):
        yield got
        return
    text, enc = got
    plain, title = markdown_to_text(text)
    yield _record(f, 0, plain, enc, title=title)


def read_html(f: InputFile) -> Iterator[Item]:
    """.html: main text extracted locally by trafilatura (no fetching), with title, url and date."""
    import trafilatura

    got = _decode_file(f)
    if isinstance(got, Rejection):
        yield got
        return
    html, enc = got
    try:
        doc = trafilatura.bare_extraction(
            html, include_comments=False, include_tables=False, with_metadata=True, favor_precision=True
        )
    except Exception as exc:  # trafilatura/lxml raise many types on hostile markup
        yield _reject(f, 0, "html_parse_error", f"{type(exc).__name__}: {exc}"[:300], html)
        return
    text = getattr(doc, "text", None) if doc is not None else None
    if not text or not text.strip():
        yield _reject(f, 0, "html_no_main_text", "no main text found in HTML", html)
        return
    yield _record(f, 0, text, enc, title=doc.title, url=doc.url, published_at=doc.date)


def _json_records(f: InputFile, lines: Iterable[bytes]) -> Iterator[Item]:
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield _reject(f, i, "malformed_json", f"line {i + 1}: {exc}"[:300], line.decode("utf-8", "replace"))
            continue
        if not isinstance(obj, dict):
            yield _reject(f, i, "malformed_json", f"line {i + 1}: not a JSON object", line.decode("utf-8", "replace"))
            continue
        text = next((obj[k] for k in TEXT_FIELDS if isinstance(obj.get(k), str)), None)
        if text is None:
            yield _reject(f, i, "missing_text_field", f"line {i + 1}: no string 'text' field", str(obj))
            continue
        yield _record(
            f,
            i,
            repair_text(text),
            "utf-8",
            title=obj.get("title"),
            url=obj.get("url"),
            published_at=obj.get("published_at") or obj.get("date"),
        )


def read_jsonl(f: InputFile) -> Iterator[Item]:
    """.jsonl: one JSON object per line with text, title, url, published_at."""
    with open(f.path, "rb") as fh:
        yield from _json_records(f, fh)


def read_jsonl_gz(f: InputFile) -> Iterator[Item]:
    """.jsonl.gz: as .jsonl; a stream truncated or corrupt mid-way keeps the lines read before it."""
    n = 0
    try:
        with gzip.open(f.path, "rb") as fh:
            for item in _json_records(f, fh):
                n = item.record_index + 1
                yield item
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        yield _reject(f, n, "truncated_gzip", f"gzip stream ends or breaks after {n} lines: {exc}"[:300])


def read_csv(f: InputFile) -> Iterator[Item]:
    """.csv with a header row; needs a text column (text/body/content). Embedded newlines are fine."""
    got = _decode_file(f)
    if isinstance(got, Rejection):
        yield got
        return
    data, enc = got
    csv.field_size_limit(1 << 30)
    try:
        reader = csv.DictReader(io.StringIO(data, newline=""))
        fields = reader.fieldnames or []
    except csv.Error as exc:
        yield _reject(f, 0, "malformed_csv", str(exc)[:300], data)
        return
    col = next((c for c in TEXT_FIELDS if c in fields), None)
    if col is None:
        yield _reject(f, 0, "missing_text_column", f"CSV header {fields[:10]} has no text column", data)
        return
    i = 0
    try:
        for i, row in enumerate(reader):
            text = row.get(col)
            if text is None:
                yield _reject(f, i, "malformed_csv", f"row {i + 1} is missing fields", str(row))
                continue
            yield _record(
                f,
                i,
                text,
                enc,
                title=row.get("title"),
                url=row.get("url"),
                published_at=row.get("published_at"),
            )
    except csv.Error as exc:
        yield _reject(f, i + 1, "malformed_csv", f"row {i + 2}: {exc}"[:300])


def read_parquet(f: InputFile) -> Iterator[Item]:
    """.parquet with a string `text` column (and optional title, url, published_at)."""
    try:
        pf = pq.ParquetFile(f.path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError variants on corrupt files
        yield _reject(f, 0, "corrupt_parquet", f"{type(exc).__name__}: {exc}"[:300])
        return
    names = pf.schema_arrow.names
    col = next((c for c in TEXT_FIELDS if c in names), None)
    if col is None or not str(pf.schema_arrow.field(col).type).endswith("string"):
        yield _reject(f, 0, "wrong_schema", f"parquet schema {names[:10]} has no string text column")
        return
    meta_cols = [c for c in ("title", "url", "published_at") if c in names]
    i = 0
    for batch in pf.iter_batches(batch_size=1000, columns=[col, *meta_cols]):
        for row in batch.to_pylist():
            text = row[col]
            if text is None:
                yield _reject(f, i, "empty_text", "null text")
            else:
                yield _record(f, i, repair_text(text), "utf-8", **{c: row.get(c) for c in meta_cols})
            i += 1


_READERS: dict[str, Callable[[InputFile], Iterator[Item]]] = {
    "txt": read_text,
    "md": read_markdown,
    "html": read_html,
    "jsonl": read_jsonl,
    "jsonl.gz": read_jsonl_gz,
    "csv": read_csv,
    "parquet": read_parquet,
}
