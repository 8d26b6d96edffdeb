"""Split a run's input files into shards: the unit of work of every map task.

A shard is a list of `Piece`s: a whole file, or a range of one large file (a byte range of whole lines for JSONL,
of whole records for CSV, a run of row groups for Parquet). Small files are packed into a shard up to
`shard_bytes` bytes and `shard_files` files; a file larger than `shard_bytes` is cut into pieces of about
`shard_bytes` where its format allows it (.jsonl.gz, txt, md and html are read whole). The plan depends only on
the files' bytes and the two bounds, so the same input always gives the same shards, which is what lets a
killed run resume.

Record indexes stay those of the whole file: a piece knows the index of its first record (the line number for
JSONL, the row number for CSV and Parquet), so record ids never depend on the shard size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from transforms.encoding import wide_encoding
from transforms.readers import InputFile

SHARD_BYTES = 4 << 20  # input bytes per shard: ~1,000 news articles, a few seconds of ingest and normalize
SHARD_FILES = 256  # files per shard at most (a shard of tiny files is still a bounded task argument)
SCAN_BLOCK = 16 << 20  # bytes read at a time when looking for record boundaries in a large file
QUOTE, NEWLINE = 0x22, 0x0A


@dataclass(frozen=True, slots=True)
class Piece:
    """All of a file (`start` 0, `end` None), or its bytes [start, end) / row groups [start, end) for Parquet.

    `first_index` is the record index of the piece's first record in the whole file."""

    file: InputFile
    start: int = 0
    end: int | None = None
    first_index: int = 0
    nbytes: int = -1  # bytes of input the piece stands for (-1: the whole file's)

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None

    @property
    def size(self) -> int:
        return self.file.bytes if self.nbytes < 0 else self.nbytes


@dataclass(frozen=True, slots=True)
class Shard:
    index: int
    pieces: tuple[Piece, ...]

    @property
    def bytes(self) -> int:
        return sum(p.size for p in self.pieces)


def plan_shards(files: list[InputFile], shard_bytes: int = SHARD_BYTES, shard_files: int = SHARD_FILES) -> list[Shard]:
    """`files` (in order) as shards: small files packed together, large splittable files cut into pieces."""
    groups: list[list[Piece]] = []
    size = 0
    for f in files:
        pieces = list(split_file(f, shard_bytes)) if f.bytes > shard_bytes else [Piece(f)]
        for p in pieces:
            if not groups or len(groups[-1]) >= shard_files or (groups[-1] and size + p.size > shard_bytes):
                groups.append([])
                size = 0
            groups[-1].append(p)
            size += p.size
    return [Shard(i, tuple(g)) for i, g in enumerate(groups)]


def split_file(f: InputFile, target: int) -> Iterator[Piece]:
    """Pieces of about `target` bytes of a large file, or the whole file where its format cannot be cut."""
    try:
        if f.format == "jsonl":
            yield from _byte_pieces(f, target, quoted=False, header=False)
        elif f.format == "csv":
            yield from _byte_pieces(f, target, quoted=True, header=True)
        elif f.format == "parquet":
            yield from _parquet_pieces(f, target)
        else:
            yield Piece(f)
    except (OSError, ValueError):  # unreadable or not what its name says: the reader reports it, whole
        yield Piece(f)


def _byte_pieces(f: InputFile, target: int, *, quoted: bool, header: bool) -> Iterator[Piece]:
    with open(f.path, "rb") as fh:
        if wide_encoding(fh.read(4)):  # UTF-16 or UTF-32: never cut at byte offsets
            yield Piece(f)
            return
    starts = record_starts(f.path, target, quoted=quoted, skip_first=header)
    if len(starts) <= 1:  # one piece (or a header alone): read it whole
        yield Piece(f)
        return
    bounds = [*starts, (f.bytes, -1)]
    for (a, index), (b, _) in pairwise(bounds):
        if b > a:
            yield Piece(f, a, b, index, b - a)


def record_starts(path: str, target: int, *, quoted: bool, skip_first: bool) -> list[tuple[int, int]]:
    """(byte offset, record index) of the records that start a piece: the first record, then the first record
    starting at or after every further `target` bytes. A record ends at a newline; with `quoted`, only at a
    newline outside double quotes (CSV, where a field may hold newlines and a quote inside a field is doubled).
    With `skip_first` the first record is a header: it belongs to no piece and indexes count the records after
    it. An empty last line is not a record (JSONL counts blank lines as indexes, as its reader does)."""
    out: list[tuple[int, int]] = []
    next_cut = 0
    index = -1 if skip_first else 0  # index of the record starting at `pos`
    pos = 0  # offset of the next record's first byte
    inside = False  # within a quoted field at the start of the block
    with open(path, "rb") as fh:
        offset = 0
        while block := fh.read(SCAN_BLOCK):
            ends = _record_ends(np.frombuffer(block, dtype=np.uint8), inside, quoted)
            if quoted:
                inside = bool((np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == QUOTE) + inside) % 2)
            for end in (offset + ends + 1).tolist():  # each end is the offset after a record's newline
                if pos >= next_cut and index >= 0:
                    out.append((pos, index))
                    next_cut = pos + target
                pos, index = end, index + 1
            offset += len(block)
    if pos < offset and pos >= next_cut and index >= 0:  # a last record without a final newline
        out.append((pos, index))
    return out


def _record_ends(block: np.ndarray, inside: bool, quoted: bool) -> np.ndarray:
    """Positions in `block` of the newlines that end a record."""
    newlines = np.flatnonzero(block == NEWLINE)
    if not quoted:
        return newlines
    quotes_before = np.cumsum(block == QUOTE, dtype=np.int64)[newlines] + int(inside)
    return newlines[quotes_before % 2 == 0]


def _parquet_pieces(f: InputFile, target: int) -> Iterator[Piece]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(f.path).metadata
    first_group, rows_before, size, index = 0, 0, 0, 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        if g > first_group and size + group.total_byte_size > target:
            yield Piece(f, first_group, g, index, size)
            first_group, index, size = g, rows_before, 0
        size += group.total_byte_size
        rows_before += group.num_rows
    if first_group == 0:
        yield Piece(f)  # one piece: read it whole
    else:
        yield Piece(f, first_group, meta.num_row_groups, index, size)
