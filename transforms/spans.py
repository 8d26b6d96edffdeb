"""Whether a character span [s, e) overlaps any of a fixed set of spans, asked many times per document."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from itertools import accumulate


class SpanSet:
    """A fixed set of [start, end) spans, sorted once. `overlaps(s, e)` is `any(a < e and s < b for a, b in spans)`
    in O(log n): the spans starting before `e` are a prefix of the sorted starts, and one of them reaches past `s`
    when the largest end of that prefix does. (The linear scan it replaces, run for every entity against every date
    of a document, was ~6 % of the extraction's rule time on bench articles.)"""

    __slots__ = ("_max_end", "_starts")

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        pairs = sorted(spans)
        self._starts = [a for a, _ in pairs]
        self._max_end = list(accumulate((b for _, b in pairs), max))

    def overlaps(self, s: int, e: int) -> bool:
        i = bisect_left(self._starts, e)
        return i > 0 and self._max_end[i - 1] > s
