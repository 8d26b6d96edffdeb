"""Seeded, labelled corpora for the near-dup evaluation where the old pairwise scheme broke down.

``dense(n, seed)``: topical news piling up. A pool of ~100 English sentence templates; each article stitches
15-40 of them in random order with its own names, places and numbers (names from a cast of the article, so
they repeat in it as in real copy), in paragraphs of 1-4 sentences under a title. Two different articles
share about a quarter of their templates: their 5-shingle Jaccard is ~0.08 (the old LSH of 64 bands x 2
rows made about a third of all pairs candidates, as on the corpus issue 20 reports). About half the
articles get 1-3 planted copies, each with one or two edits: byte-identical ('exact', removed upstream by
exact dedup in the eval, kept in the JSONL file), whitespace and punctuation noise, 1-8 % word
substitutions, 1-3 sentences deleted, truncation to 40-70 %, paragraphs reordered, syndication (a new
byline header and another outlet's footer, paragraphs reordered).

``wire_copies(g, n)``: one wire story copied ``n`` times with small edits (0-2 % substitutions, a byline
and footer of the republishing outlet), to plant into a dense corpus.

``syndication(n, seed)``: about n / 47 stories (``bench/make_corpus.py`` articles), each republished ~47
times (30-64) with its body paragraphs reordered and the republisher's footer.

``write_jsonl(path, corpus)`` writes a corpus as one JSONL file (title, text, url) for ``newsetl run``.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from pathlib import Path

from bench import make_corpus as mc

SLOTS = {"person", "place", "num", "money", "pct", "date", "year"}  # changed per article
POOL_SIZE = 100


@dataclass
class Corpus:
    """Texts with their true cluster label and the edits that made them ('base' for an original)."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    exact_copies: list[int] = field(default_factory=list)  # byte-identical copies: index of the original
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def add(self, text: str, label: int, kind: str) -> None:
        """Add a text; one equal to an earlier text is an exact copy (one document after exact dedup)."""
        if text in self._index:
            self.exact_copies.append(self._index[text])
            return
        self._index[text] = len(self.texts)
        self.texts.append(text)
        self.labels.append(label)
        self.kinds.append(kind)


class Dense:
    """The dense generator: one seeded random.Random, choices in a fixed order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.w = mc.Writer(seed)
        self.w.rng = self.rng
        self.pool = [self._template() for _ in range(POOL_SIZE)]

    def _template(self) -> list[tuple[str, str | None]]:
        """A pool sentence: one of make_corpus's templates with its non-slot words fixed, most with a clause."""
        r = self.rng
        parts: list[tuple[str, str | None]] = []
        for lit, fld in mc._EN[r.randrange(len(mc._EN))]:
            parts.append((lit, None))
            if fld:
                parts.append(("", fld) if fld in SLOTS else (self.w._pick(fld), None))
        if r.random() < 0.9:
            clause = " ".join(r.choice(mc.COMMON) for _ in range(r.randint(8, 14)))
            parts.insert(len(parts) - 1, (f", with {clause}", None))
        return parts

    def _fill(self, tpl: list[tuple[str, str | None]], cast: dict[str, list[str]]) -> str:
        out = []
        for lit, fld in tpl:
            out.append(lit)
            if fld:
                out.append(self.rng.choice(cast[fld]) if fld in cast else self.w._pick(fld))
        s = "".join(out)
        return s[0].upper() + s[1:]

    def article(self) -> str:
        r = self.rng
        cast = {
            "person": [self.w._pick("person") for _ in range(r.randint(3, 6))],
            "place": [self.w._pick("place") for _ in range(r.randint(2, 4))],
        }
        sents = [self._fill(self.pool[i], cast) for i in r.sample(range(POOL_SIZE), r.randint(15, 40))]
        paras, i = [], 0
        while i < len(sents):
            k = r.randint(1, 4)
            paras.append(" ".join(sents[i : i + k]))
            i += k
        what = f"{self.w._pick('vpast')} {self.w._pick('adj')} {self.w._pick('noun')}"
        title = f"{cast['person'][0]} {what} in {cast['place'][0]}"
        return "\n\n".join([title, *paras])

    # --- edits
    def noise(self, text: str) -> str:
        r = self.rng
        out = []
        for ch in text:
            x = r.random()
            if ch == " " and x < 0.05:
                out.append("  ")
            elif ch == "," and x < 0.3:
                out.append(" ,")
            else:
                out.append(ch)
        return "".join(out).replace("'", "\u2019")

    def subs(self, text: str) -> str:
        words = text.split(" ")
        rate = self.rng.uniform(0.01, 0.08)
        return " ".join(self.rng.choice(mc.COMMON) if self.rng.random() < rate else w for w in words)

    def sentence_del(self, text: str) -> str:
        paras = text.split("\n\n")
        for _ in range(self.rng.randint(1, 3)):
            p = self.rng.randrange(1, len(paras)) if len(paras) > 1 else 0
            sents = paras[p].split(". ")
            if len(sents) > 1:
                del sents[self.rng.randrange(len(sents))]
                paras[p] = ". ".join(sents)
        return "\n\n".join(paras)

    def truncate(self, text: str) -> str:
        cut = text[: int(len(text) * self.rng.uniform(0.4, 0.7))]
        return cut[: cut.rfind(" ")]

    def reorder(self, text: str) -> str:
        title, *body = text.split("\n\n")
        self.rng.shuffle(body)
        return "\n\n".join([title, *body])

    def syndicate(self, text: str) -> str:
        r = self.rng
        header = f"By {self.w._pick('person')} | {r.choice(mc.OUTLETS).split('.')[0].title()} Wire"
        footer = mc.FOOTERS[r.choice(mc.OUTLETS)]
        title, *body = self.reorder(text).split("\n\n")
        return "\n\n".join([title, header, *body, footer])

    EDITS = ("noise", "subs", "sentence_del", "truncate", "reorder", "syndicate")

    def copy(self, text: str) -> tuple[str, str]:
        ops = sorted(self.rng.sample(self.EDITS, self.rng.randint(1, 2)))
        for op in ops:
            text = getattr(self, op)(text)
        return text, "+".join(ops)


def dense(n: int, seed: int) -> Corpus:
    """About ``n`` texts (exact copies not counted): dense articles and their planted copies."""
    g = Dense(seed)
    c = Corpus()
    label = 0
    while len(c.texts) < n:
        base, at = g.article(), len(c.texts)
        c.add(base, label, "base")
        if g.rng.random() < 0.5:
            for _ in range(g.rng.randint(1, 3)):
                if g.rng.random() < 0.1:
                    c.exact_copies.append(at)  # byte-identical: one document after exact dedup
                    continue
                text, kind = g.copy(base)
                c.add(text, label, kind)
        label += 1
    return c


def wire_copies(seed: int, n: int, label: int) -> Corpus:
    """One wire story and ``n`` republished copies with small edits (0-2 % substitutions, byline, footer)."""
    g = Dense(seed + 1_000)
    story = g.article()
    c = Corpus()
    c.add(story, label, "wire")
    while len(c.texts) < n + 1:
        text = story
        if g.rng.random() < 0.7:
            words = text.split(" ")
            rate = g.rng.uniform(0.0, 0.02)
            text = " ".join(g.rng.choice(mc.COMMON) if g.rng.random() < rate else w for w in words)
        title, *body = text.split("\n\n")
        header = f"By {g.w._pick('person')} | {g.rng.choice(mc.OUTLETS).split('.')[0].title()} Wire"
        text = "\n\n".join([title, header, *body, mc.FOOTERS[g.rng.choice(mc.OUTLETS)]])
        c.add(text, label, "wire_copy")
    return c


def syndication(n: int, seed: int) -> Corpus:
    """``n`` texts: stories republished ~47 times each with body paragraphs reordered and another footer."""
    w = mc.Writer(seed)
    r = w.rng
    c = Corpus()
    label = 0
    while len(c.texts) < n:
        doc = w.article(label)
        for _ in range(r.randint(30, 64)):
            body = list(doc.paragraphs[1:])
            r.shuffle(body)
            outlet = r.choice(mc.OUTLETS)
            text = "\n\n".join([doc.title, doc.paragraphs[0], *body, mc.FOOTERS[outlet]])
            c.add(text, label, "syndicated")
            if len(c.texts) >= n:
                break
        label += 1
    return c


def write_jsonl(path: Path, corpus: Corpus, seed: int) -> int:
    """Write ``corpus`` (exact copies included, shuffled) as one JSONL file; returns the number of records."""
    order = list(range(len(corpus.texts))) + corpus.exact_copies
    random.Random(seed).shuffle(order)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for k, i in enumerate(order):
            text = corpus.texts[i]
            title = text.split("\n", 1)[0][:120]
            slug = "".join(ch for ch in title.lower() if ch in string.ascii_lowercase + " ").split()[:6]
            url = f"https://dense.example/{corpus.labels[i]}/{'-'.join(slug)}-{k}"
            f.write(json.dumps({"title": title, "url": url, "text": text}, ensure_ascii=False) + "\n")
    return len(order)
