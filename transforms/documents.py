"""Turn normalized records into documents: ids, sizes, and exact-duplicate collapsing.

doc_id is the sha256 of the normalized text, so the same text gives the same id in every run and every
process. The first record seen for a text owns the document; later records with the same text map to it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass


def doc_id_for(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Han ideographs, kana and bopomofo: written without spaces, so each character counts as one word (the usual
# convention for CJK word counts). CJK and full-width punctuation separates words and is not counted.
_CJK = (
    "\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK_PUNCT = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_WORD = re.compile(f"[{_CJK}]|[^\\s{_CJK}{_CJK_PUNCT}]+")


def count_words(text: str) -> int:
    """Whitespace-separated tokens; in CJK text each ideograph or kana is one word.

    Equals len(text.split()) for text without CJK characters. (Thai, Lao, Khmer and Burmese also omit
    spaces; they are not segmented and count low.)
    """
    return len(_WORD.findall(text))


@dataclass(frozen=True, slots=True)
class ExactDedup:
    """record_id → doc_id for every record, and the record_ids that own a new document."""

    doc_of_record: dict[str, str]
    owners: list[str]


class ExactDeduper:
    """`exact_dedup` over records that arrive in parts, in input order: the parts' owners, and the map of every
    record so far, are those one call over all the records gives."""

    def __init__(self, known: set[str] | frozenset[str] = frozenset()) -> None:
        self._seen = set(known)
        self.doc_of_record: dict[str, str] = {}

    def add(self, records: Iterable[tuple[str, str]]) -> list[str]:
        """Map each record to its doc_id; the record_ids among `records` that own a new document."""
        owners: list[str] = []
        for record_id, doc_id in records:
            self.doc_of_record[record_id] = doc_id
            if doc_id not in self._seen:
                self._seen.add(doc_id)
                owners.append(record_id)
        return owners


def exact_dedup(records: Iterable[tuple[str, str]], known: set[str] | frozenset[str] = frozenset()) -> ExactDedup:
    """records: (record_id, doc_id) in input order; known: doc_ids already in the warehouse.

    Each record maps to its doc_id; the first record of a doc_id not in `known` becomes its owner.
    """
    dedup = ExactDeduper(known)
    owners = dedup.add(records)
    return ExactDedup(dedup.doc_of_record, owners)
