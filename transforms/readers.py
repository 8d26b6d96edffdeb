"""Read input files into RawRecords, one function per format; anything unreadable becomes a Rejection.

A reader never raises for bad content: a corrupt file yields a Rejection as its record 0, a bad record inside a
good file yields a Rejection for that record and the good records are kept. Only the path is needed; HTML is
parsed locally and nothing is fetched.

Size limit: a record longer than `max_doc_chars` characters is rejected as document_too_large. Files that are one
record (txt, md, html) are checked by their byte size BEFORE they are read or decoded, so a huge file never goes
through decoding and mojibake repair: no encoding spends more than 4 bytes on a character, so more than
4 x max_doc_chars bytes (plus a BOM) cannot be within the limit. HTML is mostly markup, so its bound is wider.
JSON, CSV and Parquet fields are checked before repair.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.encoding import UndecodableError, decode_bytes, repair_text, wide_encoding
from transforms.records import RawRecord, Rejection

STAGE = "ingest"
RAW_KEEP = 10_000  # characters of an unreadable record kept in raw_documents for inspection
MAX_DOC_CHARS = 1_000_000  # default record size limit (flows/config.py passes the configured one)
MAX_BYTES_PER_CHAR = 4  # UTF-8/16/32 never use more than 4 bytes for one character
HTML_BYTES_PER_CHAR = 16  # an HTML page may be mostly markup; larger pages are not parsed
PARQUET_BATCH_ROWS = 100  # rows materialized at once: bounds memory when every row is a large document
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


OUTPUT_MARKER = ".newsetl-output"  # written into a folder newsetl makes for its output (a report's): not input
Markers = Sequence[tuple[str, ...]]  # a folder holding every file of one of these tuples is skipped


def discover(
    inputs: Iterable[str], skip_marked: Markers = ((OUTPUT_MARKER,),)
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Expand files, directories (recursively, not following symlinked dirs) and globs.

    Returns (sorted unique file paths, problems) where a problem is (path, reason_code, detail) for an input
    that matched nothing or cannot be listed, a file that is not a regular file (a FIFO or device would block or
    never end), or a file name that is not valid UTF-8 (it could not be stored). Hidden files and directories are
    skipped, and so is a directory holding all the files of one tuple of `skip_marked` (a warehouse, a release or
    a report folder inside an input folder: the pipeline's own output is not its input). `**` globs are expanded without
    following symlinked directories, like directories are.
    """
    found: set[str] = set()
    problems: list[tuple[str, str, str]] = []

    def unlistable(err: OSError) -> None:
        problems.append((str(err.filename), "unreadable_directory", f"{type(err).__name__}: {err.strerror or err}"))

    for spec in inputs:
        if "**" in spec:
            matches = sorted(_expand_recursive_glob(spec, unlistable, skip_marked))
        elif any(c in spec for c in "*?["):
            folders: dict[str, bool] = {}  # a glob's matches share few folders: each is listed once
            matches = sorted(m for m in glob(spec) if not _folder_marked(m, skip_marked, folders))
        else:
            matches = [spec]
        if not matches:
            problems.append((spec, "input_not_found", f"no file matches {spec!r}"))
        for m in matches:
            if os.path.isdir(m):
                found.update(_walk_files(m, unlistable, skip_marked))
            elif os.path.lexists(m):
                found.add(m)
            else:
                problems.append((m, "input_not_found", f"no such file: {m}"))
    files = []
    for path in _one_spelling(found):
        problem = _not_a_file(path)
        if problem:
            problems.append(problem)
        else:
            files.append(path)
    return files, problems


def _one_spelling(paths: Iterable[str]) -> list[str]:
    """Sorted paths, one per file: "in/a.txt", "./in/a.txt", "in//a.txt" and the absolute path (or a link to it)
    are one file, which keeps its first spelling in sorted order, normalized ("in/a.txt")."""
    seen: set[str] = set()
    out = []
    for path in sorted(os.path.normpath(p) for p in paths):
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append(path)
    return out


def _walk_files(root: str, onerror: Callable[[OSError], None], skip_marked: Markers = ()) -> Iterator[str]:
    for dirpath, dirs, files in os.walk(root, followlinks=False, onerror=onerror):
        if _marked(files, skip_marked):
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield from (os.path.join(dirpath, f) for f in files if not f.startswith("."))


def _marked(names: Iterable[str], skip_marked: Markers) -> bool:
    """Whether a folder holding the files `names` is one `skip_marked` names (see `discover`)."""
    present = set(names)
    return any(present.issuperset(marker) for marker in skip_marked)


def _folder_marked(path: str, skip_marked: Markers, seen: dict[str, bool]) -> bool:
    """Whether ``path`` is, or is a file directly in, a folder `skip_marked` names; `seen` caches folders. A folder
    that cannot be listed is not marked (reading it reports the problem)."""
    folder = path if os.path.isdir(path) else os.path.dirname(path) or "."
    if folder not in seen:
        try:
            seen[folder] = bool(skip_marked) and _marked(os.listdir(folder), skip_marked)
        except OSError:
            seen[folder] = False
    return seen[folder]


def _expand_recursive_glob(spec: str, onerror: Callable[[OSError], None], skip_marked: Markers = ()) -> Iterator[str]:
    """Files matching a `**` glob. glob() follows symlinked directories, so a link loop repeats every file below
    it up to 40 times (and two loops multiply): walk from the pattern's fixed prefix without following links."""
    parts = spec.split("/")
    first_magic = next(k for k, part in enumerate(parts) if any(c in part for c in "*?["))
    root = "/".join(parts[:first_magic]) or ("/" if spec.startswith("/") else ".")
    pattern = re.compile(_glob_regex(parts[first_magic:]))
    prefix = "" if parts[:first_magic] else "./"
    for path in _walk_files(root, onerror, skip_marked):
        rel = path[len(root) :].lstrip("/") if root != "." else path.removeprefix(prefix)
        if pattern.fullmatch(rel):
            yield path if root != "." else rel


def _glob_regex(parts: list[str]) -> str:
    """Regex for the path below the fixed prefix: `**` spans directories, `*` and `?` stay within one name."""
    out = []
    for k, part in enumerate(parts):
        last = k == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        out.append(_name_regex(part) + ("" if last else "/"))
    return "".join(out)


def _name_regex(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        c = name[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in name[i + 2 :]:
            end = name.index("]", i + 2)
            body = name[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _not_a_file(path: str) -> tuple[str, str, str] | None:
    """A problem for paths that must not be opened or stored as they are; None for a regular file."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return shown, "bad_file_name", "file name is not valid UTF-8; rename the file"
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # dangling link, link loop or no permission: hash_file reports it as unreadable_file
    if not stat.S_ISREG(mode):
        return path, "not_a_regular_file", "not a regular file (FIFO, socket or device): not read"
    return None


def hash_file(path: str) -> InputFile:
    """sha256 and size of a file, read in chunks. Raises OSError when unreadable."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return InputFile(path=path, sha256=h.hexdigest(), bytes=size, format=detect_format(path))


def read_file(f: InputFile, max_doc_chars: int = MAX_DOC_CHARS) -> Iterator[Item]:
    """Records of one file. Never raises: unreadable content is yielded as Rejections.

    A failure part-way through a file keeps the records already read and adds one Rejection after them (its
    record_index follows the last one yielded, so record ids stay unique).
    """
    reader = _READERS.get(f.format or "")
    if reader is None:
        yield _reject(f, 0, "unsupported_format", f"no reader for file extension of {Path(f.path).name!r}")
        return
    next_index = 0
    try:
        for item in reader(f, max_doc_chars=max_doc_chars):
            next_index = max(next_index, item.record_index + 1)
            yield item
    except OSError as exc:
        yield _reject(f, next_index, "unreadable_file", f"{type(exc).__name__}: {exc.strerror or exc}")
    except Exception as exc:  # a reader bug or a library choking on hostile content must not end the run
        yield _reject(f, next_index, "read_error", f"{type(exc).__name__}: {exc}"[:300])


def read_piece(
    f: InputFile, start: int, end: int | None, first_index: int, max_doc_chars: int = MAX_DOC_CHARS
) -> Iterator[Item]:
    """Records of a piece of a file (see transforms.shards): all of it when `end` is None, else the bytes
    [start, end) of a JSONL or CSV file or the row groups [start, end) of a Parquet file, whose first record has
    index `first_index` in the whole file. Never raises, as `read_file`."""
    if end is None:
        yield from read_file(f, max_doc_chars)
        return
    reader = _PIECE_READERS[f.format or ""]
    next_index = first_index
    try:
        for item in reader(f, start, end, first_index, max_doc_chars):
            next_index = max(next_index, item.record_index + 1)
            yield item
    except OSError as exc:
        yield _reject(f, next_index, "unreadable_file", f"{type(exc).__name__}: {exc.strerror or exc}")
    except Exception as exc:  # as in read_file: a library choking on hostile content must not end the run
        yield _reject(f, next_index, "read_error", f"{type(exc).__name__}: {exc}"[:300])


def _read_range(path: str, start: int, end: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(start)
        return fh.read(end - start)


def _jsonl_piece(f: InputFile, start: int, end: int, first: int, max_doc_chars: int) -> Iterator[Item]:
    lines = _read_range(f.path, start, end).splitlines(keepends=True)
    yield from _json_records(f, lines, max_doc_chars, first=first)


def _csv_piece(f: InputFile, start: int, end: int, first: int, max_doc_chars: int) -> Iterator[Item]:
    with open(f.path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        fields = next(csv.reader(fh), [])
    got = _decode_range(f, start, end, first)
    if isinstance(got, Rejection):
        yield got
        return
    data, enc = got
    reader = csv.DictReader(io.StringIO(data, newline=""), fieldnames=fields)
    yield from _csv_records(f, reader, enc, max_doc_chars, first)


def _decode_range(f: InputFile, start: int, end: int, first: int) -> tuple[str, str] | Rejection:
    try:
        d = decode_bytes(_read_range(f.path, start, end))
    except UndecodableError as exc:
        return _reject(f, first, exc.reason_code, str(exc))
    return d.text, d.encoding


def _parquet_piece(f: InputFile, start: int, end: int, first: int, max_doc_chars: int) -> Iterator[Item]:
    yield from read_parquet(f, max_doc_chars, row_groups=range(start, end), first=first)


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


def _too_large(f: InputFile, index: int, n_chars: int, max_doc_chars: int, raw: str | None = None) -> Rejection:
    return _reject(f, index, "document_too_large", f"{n_chars:,} characters > limit {max_doc_chars:,}", raw)


def _record(f: InputFile, index: int, text: str, encoding: str | None, max_doc_chars: int, **meta: str | None) -> Item:
    if len(text) > max_doc_chars:
        return _too_large(f, index, len(text), max_doc_chars, text)
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


def _decode_file(f: InputFile, max_bytes: int | None = None) -> tuple[str, str] | Rejection:
    """Decoded text and encoding of a whole file, or a Rejection. A file over `max_bytes` is not read at all."""
    size = os.path.getsize(f.path)
    if max_bytes is not None and size > max_bytes:
        return _reject(
            f, 0, "document_too_large", f"{size:,} bytes > {max_bytes:,}: cannot fit the character limit; not read"
        )
    data = Path(f.path).read_bytes()
    if not data:
        return _reject(f, 0, "empty_file", "file is empty (0 bytes)")
    try:
        d = decode_bytes(data)
    except UndecodableError as exc:
        return _reject(f, 0, exc.reason_code, str(exc))
    return d.text, d.encoding


def _single_record_bytes(max_doc_chars: int) -> int:
    return MAX_BYTES_PER_CHAR * max_doc_chars + 4  # + a UTF-32 BOM


def read_text(f: InputFile, max_doc_chars: int = MAX_DOC_CHARS) -> Iterator[Item]:
    """.txt: the whole file is one record."""
    got = _decode_file(f, _single_record_bytes(max_doc_chars))
    if isinstance(got, Rejection):
        yield got
        return
    text, enc = got
    yield _record(f, 0, text, enc, max_doc_chars)


def read_markdown(f: InputFile, max_doc_chars: int = MAX_DOC_CHARS) -> Iterator[Item]:
    """.md: one record; the first `# heading` becomes the title, markup is reduced to plain text."""
    from transforms.normalize import markdown_to_text

    got = _decode_file(f, _single_record_bytes(max_doc_chars))
    if isinstance(got, Rejection):
        yield got
        return
    text, enc = got
    plain, title = markdown_to_text(text)
    yield _record(f, 0, plain, enc, max_doc_chars, title=title)


def read_html(f: InputFile, max_doc_chars: int = MAX_DOC_CHARS) -> Iterator[Item]:
    """.html: main text extracted locally by trafilatura (no fetching), with title, url and date."""
    import trafilatura

    got = _decode_file(f, HTML_BYTES_PER_CHAR * max_doc_chars)
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
    yield _record(f, 0, text, enc, max_doc_chars, title=doc.title, url=doc.url, published_at=doc.date)


def _json_records(
    f: InputFile, lines: Iterable[bytes], max_doc_chars: int, first: int = 0, encoding: str = "utf-8"
) -> Iterator[Item]:
    for i, line in enumerate(lines, start=first):
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
        if len(text) > max_doc_chars:  # before repair: ftfy on a huge field is the expensive part
            yield _too_large(f, i, len(text), max_doc_chars, text)
            continue
        yield _record(
            f,
            i,
            repair_text(text),
            encoding,
            max_doc_chars,
            title=obj.get("title"),
            url=obj.get("url"),
            published_at=obj.get("published_at") or obj.get("date"),
        )


def read_jsonl(f: InputFile, max_doc_chars: int = MAX_DOC_CHARS) -> Iterator[Item]:
    """.jsonl: one JSON object per line with text, title, url, published_at. UTF-16 or UTF-32 (`wide_encoding`)
    is decoded whole before it is split into lines."""
    with open(f.path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        if not wide_encoding(head):
            yield from _json_records(f, fh, max_doc_chars)
            return
        data = fh.read()
    try:
        d = decode_bytes(data)
    except UndecodableError as exc:
        yield _reject(f, 0, exc.reason_code, str(exc))
        return
    lines = (line.encode("utf-8") for line in d.text.split("\n"))
    yield from _json_records(f, lines, max_doc_chars, encoding=d.encoding)


def read_jsonl_gz(f: InputFile, max_doc_chars: int = MAX_DOC_CHARS) -> Iterator[Item]:
    """.jsonl.gz: as .jsonl; a stream truncated (truncated_gzip) or corrupt (corrupt_gzip) mid-way keeps the
    lines read before it."""
    n = 0
    try:
        with gzip.open(f.path, "rb") as fh:
            for item in _json_records(f, fh, max_doc_chars):
                n = item.record_index + 1
                yield item
    except EOFError as exc:
        yield _reject(f, n, "truncated_gzip", f"gzip stream ends early, after {n} lines: {exc}"[:300])
    except (gzip.BadGzipFile, zlib.error) as exc:
        yield _reject(f, n, "corrupt_gzip", f"not gzip, or corrupt gzip data after {n} lines: {exc}"[:300])


def read_csv(f: InputFile, max_doc_chars: int = MAX_DOC_CHARS) -> Iterator[Item]:
    """.csv with a header row; needs a text column (text/body/content). Embedded newlines are fine."""
    got = _decode_file(f)
    if isinstance(got, Rejection):
        yield got
        return
    data, enc = got
    csv.field_size_limit(1 << 30)
    try:
        reader = csv.DictReader(io.StringIO(data, newline=""))
        reader.fieldnames  # noqa: B018 (reads the header row now, where a parse error is the file's)
    except csv.Error as exc:
        yield _reject(f, 0, "malformed_csv", str(exc)[:300], data)
        return
    yield from _csv_records(f, reader, enc, max_doc_chars, 0, raw=data)


def _csv_records(
    f: InputFile, reader: csv.DictReader, enc: str, max_doc_chars: int, first: int, raw: str | None = None
) -> Iterator[Item]:
    """The rows of `reader` (header known) as records numbered from `first`."""
    csv.field_size_limit(1 << 30)
    fields = reader.fieldnames or []
    col = next((c for c in TEXT_FIELDS if c in fields), None)
    if col is None:
        yield _reject(f, first, "missing_text_column", f"CSV header {fields[:10]} has no text column", raw)
        return
    i = first
    try:
        for i, row in enumerate(reader, start=first):
            text = row.get(col)
            if text is None or None in row.values():  # fewer fields than the header (an extra one is kept)
                n = sum(v is not None for k, v in row.items() if k is not None)
                detail = f"row {i + 1} has {n} of the header's {len(fields)} fields"
                yield _reject(f, i, "malformed_csv", detail, str(row))
                continue
            yield _record(
                f,
                i,
                text,
                enc,
                max_doc_chars,
                title=row.get("title"),
                url=row.get("url"),
                published_at=row.get("published_at"),
            )
    except csv.Error as exc:
        yield _reject(f, i + 1, "malformed_csv", f"row {i + 2}: {exc}"[:300])


def read_parquet(
    f: InputFile, max_doc_chars: int = MAX_DOC_CHARS, *, row_groups: Iterable[int] | None = None, first: int = 0
) -> Iterator[Item]:
    """.parquet with a string `text` column (and optional title, url, published_at); `row_groups` (default all)
    whose first row has index `first` in the file."""
    try:
        pf = pq.ParquetFile(f.path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError variants on corrupt files
        yield _reject(f, first, "corrupt_parquet", f"{type(exc).__name__}: {exc}"[:300])
        return
    names = pf.schema_arrow.names
    col = next((c for c in TEXT_FIELDS if c in names and _is_text_type(pf.schema_arrow.field(c).type)), None)
    if col is None:
        yield _reject(f, first, "wrong_schema", f"parquet schema {names[:10]} has no string text column")
        return
    meta_cols = [c for c in ("title", "url", "published_at") if c in names]
    i = first
    groups = list(range(pf.metadata.num_row_groups)) if row_groups is None else list(row_groups)
    try:
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=groups, columns=[col, *meta_cols]):
            for row in batch.to_pylist():
                text = row[col]
                if text is None:
                    yield _reject(f, i, "empty_text", "null text")
                elif len(text) > max_doc_chars:
                    yield _too_large(f, i, len(text), max_doc_chars, text)
                else:
                    meta = {c: row.get(c) for c in meta_cols}
                    yield _record(f, i, repair_text(text), "utf-8", max_doc_chars, **meta)
                i += 1
    except Exception as exc:  # corrupt pages after a readable footer: keep the rows read so far
        yield _reject(f, i, "corrupt_parquet", f"row {i}: {type(exc).__name__}: {exc}"[:300])


def _is_text_type(t: pa.DataType) -> bool:
    """A string column, in any of Arrow's layouts: string, large_string, string_view, or dictionary-encoded (what
    pandas writes for a `category` column)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


_READERS: dict[str, Callable[[InputFile], Iterator[Item]]] = {
    "txt": read_text,
    "md": read_markdown,
    "html": read_html,
    "jsonl": read_jsonl,
    "jsonl.gz": read_jsonl_gz,
    "csv": read_csv,
    "parquet": read_parquet,
}
_PIECE_READERS: dict[str, Callable[..., Iterator[Item]]] = {
    "jsonl": _jsonl_piece,
    "csv": _csv_piece,
    "parquet": _parquet_piece,
}
