"""Quotes: text between quotation marks, with the speaker resolved to an entity when the text says so.

Contract: ``parse_quotes(text, sent_starts=None, mentions=None, min_words=3) -> list[dict]``, keys start, end,
text, speaker_entity_id, speaker, sentence; ``text[start:end] == row["text"]`` (the span excludes the quote
marks and a trailing comma).

- Straight (") and curly (“ ”) double quotes; quotes may span sentences and lines. Single quotes (‘ ’) are not
  read: they collide with apostrophes and mark headline scare-quotes more often than speech.
- Threshold: at least ``min_words`` = 3 words. Shorter quoted strings (“not serious”, “terrorism”) are scare
  quotes or fragments; they are not rows but still bound the attribution windows of their neighbours.
- Speaker: a speech cue (said, told, added, stated, noted, according to, wrote...) after the quote up to the end
  of the sentence where it closes (this covers "...regard," Assad told Sputnik and the adjacent sentence), else
  before it back to the sentence start or the previous quote, else anywhere in the sentence. The speaker is
  the entity mention nearest to the cue (PERSON before ORG; a name of two or more capitalised words right beside
  the cue counts as a PERSON whatever NER labelled it, "…,” Priya Costa said"); with a pronoun or a nominal ("he", "the
  president") it is the previous quote's speaker, else the latest PERSON mentioned before the quote.
- ``mentions``: dicts with start, end, surface, entity_id and type (the resolved entity type). Without them,
  a capitalised name next to the cue gives ``speaker`` with ``speaker_entity_id`` None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from transforms.dates import sentence_of, sentence_starts

_QUOTE_RE = re.compile(r"“([^“”]{1,4000}?)”|(?<![\w])\"([^\"]{1,4000}?)\"(?!\w)")
_CUE = re.compile(
    r"\b(?:said|says|say|saying|told|tells|telling|added|adds|adding|stated|states|stating|noted|notes|"
    r"noting|wrote|writes|explained|explains|declared|announced|insisted|argued|warned|continued|replied|"
    r"remarked|commented|stressed|emphasi[sz]ed|claimed|mentioned|affirmed|confirmed|concluded|observed|"
    r"asked|according to)\b",
    re.I,
)
_PRONOUN = re.compile(
    r"\b(?:he|she|they|the\s+(?:\w+\s+)?(?:president|leader|minister|official|spokesman|spokeswoman|"
    r"spokesperson|prime minister|secretary|king|chancellor|premier|envoy|ambassador))\b",
    re.I,
)
_NAME = re.compile(r"\b[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*")
_WORD = re.compile(r"\w+(?:[’'-]\w+)*")
_TYPE_RANK = {"PERSON": 0, "ORG": 1}


def _pick(window: tuple[int, int], cues: list[re.Match], mentions: Sequence[Mapping]) -> Mapping | None:
    """Mention inside ``window`` nearest to a speech cue, PERSON first, then ORG; a name of two or more capitalised
    words next to the cue (`_beside_cue`) counts as a PERSON whatever its type."""
    ws, we = window
    best = None
    for m in mentions:
        if m["start"] < ws or m["end"] > we:
            continue
        dist = min(min(abs(c.start() - m["end"]), abs(m["start"] - c.end())) for c in cues)
        kind = m.get("type", "PERSON")
        if kind not in _TYPE_RANK and _beside_cue(m["surface"], dist):
            kind = "PERSON"
        if dist > 80 or kind not in _TYPE_RANK:
            continue
        rank = (_TYPE_RANK[kind], dist, m["start"])
        if best is None or rank < best[0]:
            best = (rank, m)
    return best[1] if best else None


def _beside_cue(surface: str, dist: int) -> bool:
    """A name of two or more capitalised words one space from a speech cue ('..." Priya Costa said'): the speaker,
    though NER may call it a work of art, a building or a place; a one-word name ("Tokyo said") is not taken."""
    words = surface.split()
    return dist <= 1 and len(words) >= 2 and all(w[:1].isupper() for w in words)


def _fallback_name(text: str, ws: int, we: int, cues: list[re.Match]) -> str | None:
    """Capitalised name next to a cue when no mentions are available."""
    for c in cues:
        for m in _NAME.finditer(text, ws, we):
            near = abs(c.start() - m.end()) <= 2 or abs(m.start() - c.end()) <= 2
            if near and not _PRONOUN.fullmatch(m.group()) and m.group().lower() not in ("it", "this", "that"):
                return m.group()
    return None


def parse_quotes(
    text: str,
    sent_starts: Sequence[int] | None = None,
    mentions: Sequence[Mapping] | None = None,
    min_words: int = 3,
) -> list[dict]:
    """All quotes of at least ``min_words`` words with their speakers (see module docstring)."""
    starts = list(sentence_starts(text) if sent_starts is None else sent_starts)
    mentions = sorted(mentions or (), key=lambda m: m["start"])
    spans = []  # (outer_start, outer_end, inner_start, inner_end)
    for m in _QUOTE_RE.finditer(text):
        g = 1 if m.group(1) is not None else 2
        spans.append((m.start(), m.end(), m.start(g), m.end(g)))

    def sent_bounds(offset: int) -> tuple[int, int]:
        i = sentence_of(starts, offset)
        return starts[i], starts[i + 1] if i + 1 < len(starts) else len(text)

    rows = []
    prev_speaker: tuple[str | None, str | None] | None = None
    for qi, (os_, oe, is_, ie) in enumerate(spans):
        # trim whitespace and the trailing comma that belongs to the attribution, not the statement
        while is_ < ie and text[is_].isspace():
            is_ += 1
        while ie > is_ and (text[ie - 1].isspace() or text[ie - 1] == ","):
            ie -= 1
        if len(_WORD.findall(text, is_, ie)) < min_words:
            continue
        prev_end = spans[qi - 1][1] if qi > 0 else 0
        next_start = spans[qi + 1][0] if qi + 1 < len(spans) else len(text)
        s_start, _ = sent_bounds(os_)
        _, e_end = sent_bounds(max(oe - 1, 0))
        if e_end <= oe:  # the quote closes its sentence: the next sentence is the adjacent one
            _, e_end = sent_bounds(oe)
        after = (oe, min(e_end, next_start))
        before = (max(s_start, prev_end), os_)
        whole = (s_start, e_end)  # the whole sentence, across neighbouring quotes ("He said “…” and “…”")
        speaker = None
        for ws, we, limit in ((after[0], after[1], 80), (before[0], before[1], None), (*whole, None)):
            cues = list(_CUE.finditer(text, ws, we))
            if limit is not None:
                cues = [c for c in cues if c.start() - ws <= limit]
            if not cues:
                continue
            hit = _pick((ws, we), cues, mentions) if mentions else None
            if hit is not None:
                speaker = (hit["entity_id"], hit["surface"])
                break
            pron = [p for p in _PRONOUN.finditer(text, ws, we) if any(abs(p.start() - c.start()) < 40 for c in cues)]
            if pron and (prev_speaker is not None or mentions):
                inherited = prev_speaker
                if inherited is None:
                    people = [m for m in mentions if m.get("type") == "PERSON" and m["end"] <= os_]
                    inherited = (people[-1]["entity_id"], people[-1]["surface"]) if people else (None, None)
                speaker = (inherited[0], pron[0].group())
                break
            if not mentions:
                name = _fallback_name(text, ws, we, cues)
                if name:
                    speaker = (None, name)
                    break
        if speaker is not None:
            prev_speaker = (speaker[0], speaker[1])
        rows.append(
            {
                "start": is_,
                "end": ie,
                "text": text[is_:ie],
                "speaker_entity_id": speaker[0] if speaker else None,
                "speaker": speaker[1] if speaker else None,
                "sentence": sentence_of(starts, is_),
            }
        )
    return rows
