"""Plain data passed between stages: a record read from input, and a rejection with its reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One input record as read. `text` is decoded (and mojibake-repaired) but not normalized."""

    record_id: str
    file_id: str
    record_index: int
    text: str
    title: str | None = None
    url: str | None = None
    published_at: str | None = None
    encoding: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record (or a whole file, as its record 0) that cannot become a document, and why.

    `reason_code` is a short stable code listed in the README; `detail` is one human line.
    `raw_text` keeps what was read, truncated, so nothing disappears without a trace.
    """

    record_id: str
    file_id: str
    record_index: int
    stage: str
    reason_code: str
    detail: str
    raw_text: str | None = None
