"""Boilerplate line removal: named rules kept as data, plus a detector of lines repeated across a source.

Rules live in boilerplate_rules.yaml (one name per rule). `where` limits a rule to the head of the document, its
tail (the lines after the last long article line) or anywhere; `max_words` keeps rules off article sentences.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

RULES_PATH = Path(__file__).with_name("boilerplate_rules.yaml")
TAIL_MIN_WORDS = 25  # a line this long is article text: the tail starts after the last one
REPEATED_RULE = "repeated_line"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    where: str
    max_words: int


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]
    head_lines: int


@dataclass(frozen=True, slots=True)
class RemovedLine:
    line_no: int
    text: str
    rule: str


@lru_cache(maxsize=4)
def load_rules(path: str | Path = RULES_PATH) -> RuleSet:
    """Parse and compile the rule file. Raises ValueError naming the rule whose pattern is invalid."""
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    rules = []
    for r in spec["rules"]:
        try:
            pat = re.compile(r["pattern"], re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"boilerplate rule {r['name']!r}: bad pattern: {exc}") from exc
        if r["where"] not in ("anywhere", "head", "tail"):
            raise ValueError(f"boilerplate rule {r['name']!r}: where must be anywhere|head|tail")
        rules.append(Rule(r["name"], pat, r["where"], int(r["max_words"])))
    return RuleSet(tuple(rules), int(spec.get("head_lines", 6)))


def match_rule(line: str, line_no: int, tail_start: int, rules: RuleSet) -> str | None:
    """Name of the first rule that removes `line`, or None. `line` is whitespace-normalized."""
    n_words = len(line.split())
    for rule in rules.rules:
        if n_words > rule.max_words:
            continue
        if rule.where == "head" and line_no >= rules.head_lines:
            continue
        if rule.where == "tail" and line_no < tail_start:
            continue
        if rule.pattern.fullmatch(line):
            return rule.name
    return None


def tail_start(lines: Sequence[str]) -> int:
    """Index of the first line after the last long (article) line; len(lines) if the last line is long."""
    for i in range(len(lines) - 1, -1, -1):
        if len(lines[i].split()) >= TAIL_MIN_WORDS and not _is_disclaimer(lines[i]):
            return i + 1
    return 0


def _is_disclaimer(line: str) -> bool:
    rules = load_rules()
    return any(r.pattern.fullmatch(line) for r in rules.rules if r.name in ("opinion_disclaimer", "submission_note"))


def strip_lines(
    lines: Sequence[str], rules: RuleSet, repeated: frozenset[str] = frozenset()
) -> tuple[list[str], list[RemovedLine]]:
    """Split lines into (kept, removed). `repeated` holds lines the source-level detector flagged."""
    tail = tail_start(lines)
    kept: list[str] = []
    removed: list[RemovedLine] = []
    for i, line in enumerate(lines):
        rule = REPEATED_RULE if line in repeated else match_rule(line, i, tail, rules)
        if rule is None:
            kept.append(line)
        else:
            removed.append(RemovedLine(i, line, rule))
    return kept, removed


def line_counts(
    docs: Iterable[tuple[str, Sequence[str]]], *, max_chars: int = 200
) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """Per source: in how many documents each short line (<= max_chars) appears, and how many documents it has.

    docs: (source, lines) pairs. Counts of disjoint parts of a run add up (`merge_line_counts`), so workers can
    count their batches and the run flags lines over the sum."""
    per_source: dict[str, Counter[str]] = defaultdict(Counter)
    n_docs: Counter[str] = Counter()
    for source, lines in docs:
        n_docs[source] += 1
        per_source[source].update({ln for ln in lines if ln and len(ln) <= max_chars})
    return dict(per_source), n_docs


def merge_line_counts(
    into: tuple[dict[str, Counter[str]], Counter[str]], part: tuple[dict[str, Counter[str]], Counter[str]]
) -> None:
    """Add `part`'s counts (from `line_counts`) to `into`, in place."""
    for source, counts in part[0].items():
        into[0].setdefault(source, Counter()).update(counts)
    into[1].update(part[1])


MIN_LINE_DOCS = 5  # a line is repeated boilerplate when in at least this many documents of its source
MIN_LINE_SHARE = 0.5  # ... and in at least this share of them


def flag_repeated(
    per_source: dict[str, Counter[str]],
    n_docs: Counter[str],
    *,
    min_docs: int = MIN_LINE_DOCS,
    min_share: float = MIN_LINE_SHARE,
) -> dict[str, frozenset[str]]:
    """Lines that appear in at least `min_share` of one source's documents (and in >= `min_docs`)."""
    out: dict[str, frozenset[str]] = {}
    for source, counts in per_source.items():
        n = n_docs[source]
        if n < min_docs:
            continue
        flagged = frozenset(ln for ln, c in counts.items() if c >= min_docs and c >= min_share * n)
        if flagged:
            out[source] = flagged
    return out


def repeated_lines(
    docs: Iterable[tuple[str, Sequence[str]]],
    *,
    min_docs: int = 5,
    min_share: float = 0.5,
    max_chars: int = 200,
) -> dict[str, frozenset[str]]:
    """Lines that appear in at least `min_share` of the documents of one source (and in >= `min_docs`).

    docs: (source, lines) pairs. Only short lines qualify (<= max_chars), so a syndicated article paragraph is
    not mistaken for a footer. Returns source -> set of lines to remove.
    """
    return flag_repeated(*line_counts(docs, max_chars=max_chars), min_docs=min_docs, min_share=min_share)
