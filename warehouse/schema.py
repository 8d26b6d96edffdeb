"""Arrow schemas of every published table: the one source of column names and types.

Each table is written as Parquet partitions (one file per table per run) and exposed in DuckDB as a view of the
same name. `TABLES` maps table name to (schema, one-line description); descriptions are shown by
`newsetl tables` and written as DuckDB comments.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("started_at", TS),
        ("finished_at", TS),
        ("status", pa.string()),
        ("params", pa.string()),
        ("code_version", pa.string()),
        ("n_files", pa.int64()),
        ("n_files_skipped", pa.int64()),
        ("n_records", pa.int64()),
        ("n_quarantined", pa.int64()),
        ("n_documents_new", pa.int64()),
        ("n_documents_total", pa.int64()),
        ("counts", pa.string()),
    ]
)

SOURCE_FILES = pa.schema(
    [
        ("file_id", pa.string()),
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("bytes", pa.int64()),
        ("format", pa.string()),
        ("status", pa.string()),
        ("n_records", pa.int64()),
        ("run_id", pa.string()),
    ]
)

RAW_DOCUMENTS = pa.schema(
    [
        ("record_id", pa.string()),
        ("file_id", pa.string()),
        ("record_index", pa.int64()),
        ("raw_text", pa.string()),
        ("title", pa.string()),
        ("url", pa.string()),
        ("published_at_raw", pa.string()),
        ("encoding", pa.string()),
        ("doc_id", pa.string()),
        ("run_id", pa.string()),
    ]
)

DOCUMENTS = pa.schema(
    [
        ("doc_id", pa.string()),
        ("record_id", pa.string()),
        ("source", pa.string()),
        ("title", pa.string()),
        ("url", pa.string()),
        ("published_at", TS),
        ("text", pa.string()),
        ("lang", pa.string()),
        ("lang_prob", pa.float64()),
        ("n_chars", pa.int64()),
        ("n_words", pa.int64()),
        ("first_seen", TS),
        ("run_id", pa.string()),
    ]
)

BOILERPLATE_LINES = pa.schema(
    [
        ("doc_id", pa.string()),
        ("record_id", pa.string()),
        ("line_no", pa.int64()),
        ("text", pa.string()),
        ("rule", pa.string()),
        ("run_id", pa.string()),
    ]
)

DUP_CLUSTERS = pa.schema(
    [
        ("doc_id", pa.string()),
        ("cluster_id", pa.string()),
        ("canonical_doc_id", pa.string()),
        ("method", pa.string()),
        ("similarity", pa.float64()),
        ("run_id", pa.string()),
    ]
)

QUARANTINE = pa.schema(
    [
        ("run_id", pa.string()),
        ("stage", pa.string()),
        ("source_ref", pa.string()),
        ("record_id", pa.string()),
        ("reason_code", pa.string()),
        ("detail", pa.string()),
    ]
)

DQ_RESULTS = pa.schema(
    [
        ("run_id", pa.string()),
        ("stage", pa.string()),
        ("suite", pa.string()),
        ("expectation", pa.string()),
        ("column_name", pa.string()),
        ("success", pa.bool_()),
        ("observed_value", pa.string()),
        ("unexpected_count", pa.int64()),
        ("severity", pa.string()),
    ]
)

MENTIONS = pa.schema(
    [
        ("doc_id", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("surface", pa.string()),
        ("label", pa.string()),
        ("sentence", pa.int64()),
        ("entity_id", pa.string()),
        ("run_id", pa.string()),
    ]
)

ENTITIES = pa.schema(
    [
        ("entity_id", pa.string()),
        ("entity_key", pa.string()),  # the resolved, type-free key the id is made from (country:RU, person:...)
        ("name", pa.string()),
        ("type", pa.string()),
        ("country_code", pa.string()),
        ("admin1_code", pa.string()),  # GeoNames admin1 (US: state code); ISO 3166-2 suffix for other divisions
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("geonames_id", pa.int64()),
        ("aliases", pa.list_(pa.string())),
        ("mention_count", pa.int64()),
        ("run_id", pa.string()),
    ]
)

FIGURES = pa.schema(
    [
        ("doc_id", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("surface", pa.string()),
        ("value", pa.float64()),
        ("value_max", pa.float64()),
        ("unit", pa.string()),
        ("kind", pa.string()),
        ("qualifier", pa.string()),
        ("subject", pa.string()),
        ("sentence", pa.int64()),
        ("run_id", pa.string()),
    ]
)

DATES = pa.schema(
    [
        ("doc_id", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("surface", pa.string()),
        ("iso", pa.string()),
        ("precision", pa.string()),
        ("resolved", pa.bool_()),
        ("sentence", pa.int64()),
        ("run_id", pa.string()),
    ]
)

QUOTES = pa.schema(
    [
        ("doc_id", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("text", pa.string()),
        ("speaker_entity_id", pa.string()),
        ("speaker", pa.string()),
        ("sentence", pa.int64()),
        ("run_id", pa.string()),
    ]
)

EXTRACTIONS = pa.schema(
    [
        ("doc_id", pa.string()),
        ("status", pa.string()),  # extracted | skipped
        ("reason", pa.string()),  # why skipped (near_duplicate, non_english, empty_text, extract_error: ...)
        ("n_mentions", pa.int64()),
        ("n_figures", pa.int64()),
        ("n_dates", pa.int64()),
        ("n_quotes", pa.int64()),
        ("run_id", pa.string()),
    ]
)

SHARED_PASSAGES = pa.schema(
    [
        ("doc_id", pa.string()),
        ("other_doc_id", pa.string()),
        ("passage_hash", pa.uint64()),
        ("start", pa.int32()),  # substring(text, start + 1, end - start) of doc_id is the paragraph
        ("end", pa.int32()),
        ("n_chars", pa.int32()),
        ("other_start", pa.int32()),  # the same paragraph in other_doc_id
        ("other_end", pa.int32()),
        ("run_id", pa.string()),
    ]
)

DOC_SIGNATURES = pa.schema(
    [
        ("doc_id", pa.string()),
        ("scheme", pa.string()),  # sketch parameters; must match across runs
        ("n_shingles", pa.int32()),  # distinct word shingles; 0 = no words (never banded)
        ("minhash", pa.list_(pa.uint32())),
        ("bands", pa.list_(pa.uint64())),  # LSH band hashes (full text, then head)
        ("passage_hashes", pa.list_(pa.uint64())),
        ("passage_starts", pa.list_(pa.int32())),
        ("passage_ends", pa.list_(pa.int32())),
        ("run_id", pa.string()),
    ]
)


# Not a published table: the per-shard summary of entity keys (transforms.entities.key_stats rows), for a flow
# that stages it as Parquet between the extract map tasks and the entity-merging reduce (resolve_keys reads
# the rows back as they come from to_pylist: maps as lists of pairs).
KEY_STATS = pa.schema(
    [
        ("entity_key", pa.string()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("type", pa.string()),
        ("country_code", pa.string()),
        ("admin1_code", pa.string()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("geonames_id", pa.int64()),
        ("labels", pa.map_(pa.string(), pa.int64())),
        ("surfaces", pa.map_(pa.string(), pa.int64())),
        ("mentions", pa.int64()),
        ("documents", pa.int64()),
        ("acronyms", pa.list_(pa.string())),
    ]
)


TABLES: dict[str, tuple[pa.Schema, str]] = {
    "runs": (RUNS, "One row per flow run: status, parameters, code version and counts per stage."),
    "source_files": (SOURCE_FILES, "One row per input file per run: path, sha256, bytes, format, status."),
    "raw_documents": (
        RAW_DOCUMENTS,
        "One row per input record as read, with the doc_id it became (null if quarantined).",
    ),
    "documents": (DOCUMENTS, "One row per distinct normalized document: text, title, language, sizes."),
    "boilerplate_lines": (
        BOILERPLATE_LINES,
        "One row per line removed by normalization, with the rule that removed it.",
    ),
    "dup_clusters": (
        DUP_CLUSTERS,
        "One row per document: its duplicate cluster and the cluster's canonical document.",
    ),
    "shared_passages": (
        SHARED_PASSAGES,
        "One row per paragraph a document shares verbatim with another, otherwise different, document.",
    ),
    "doc_signatures": (DOC_SIGNATURES, "One row per document: MinHash signature, LSH bands, paragraph hashes."),
    "extractions": (
        EXTRACTIONS,
        "One row per new distinct document: extracted (a cluster's canonical document) or skipped with the reason "
        "(near_duplicate, non_english, ...), and its row counts.",
    ),
    "entities": (ENTITIES, "One row per canonical entity per run that mentioned it (the entities view merges runs)."),
    "mentions": (MENTIONS, "One row per entity mention: offsets into documents.text, label, sentence, entity."),
    "figures": (FIGURES, "One row per number expression: value, range, unit, kind, qualifier, what it counts."),
    "dates": (DATES, "One row per date expression: ISO value when resolvable, precision."),
    "quotes": (QUOTES, "One row per quoted statement with its speaker entity when the sentence names one."),
    "quarantine": (QUARANTINE, "One row per rejected record or row: stage, reason code and detail."),
    "dq_results": (DQ_RESULTS, "One row per data-quality expectation evaluated: stage, success, severity."),
}


def empty(name: str) -> pa.Table:
    """An empty table with the schema of `name`."""
    return TABLES[name][0].empty_table()


def to_table(name: str, rows: list[dict]) -> pa.Table:
    """Build table `name` from row dicts, in schema column order; missing keys become nulls."""
    schema = TABLES[name][0]
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.table(cols, schema=schema)


def without_run_id(schema: pa.Schema) -> pa.Schema:
    """The schema a transform returns: the table's columns less the run_id the flow stamps on."""
    return schema.remove(schema.get_field_index("run_id"))
