"""SQL models built in full or updated for what a run added, in the manner of dbt's incremental models.

A model file in warehouse/models/ is plain DuckDB SQL that builds the model from scratch (what `--full-refresh`
and a first run do). A mart table can also declare how a run updates it, in comments the full build ignores:

    -- config: materialized=incremental, unique_key=doc_id
    /*delta:
    SELECT canonical_doc_id AS doc_id FROM _new_dup_clusters ...
    */
    CREATE OR REPLACE TABLE mart_documents AS
    WITH clusters AS (SELECT ... FROM stg_dup_clusters
                      /*incremental: WHERE canonical_doc_id IN (SELECT doc_id FROM _delta_mart_documents) */
                      GROUP BY ...)
    ...

A run's update (`update_models`) then:
1. computes every incremental model's delta, the `unique_key` values whose rows may change, into a temp table
   `_delta_<model>` (all deltas first, against the published marts: a delta may compare new data with them);
   `_new_<table>` views hold exactly the run's new partitions of each table;
2. for each incremental model in file order: saves the published rows of its delta keys in `_prior_<model>`,
   deletes them, and inserts the rows its query gives with the `/*incremental: ...*/` fragments switched on
   (they restrict the query to the delta), or, when the file has one, the rows of its
   `/*incremental_query: ...*/`, which may merge `_prior_<model>` with the run's rows instead of re-reading every
   row of the keys (mart_entities: a country is mentioned in most documents).
Views (stg_*, mart_entity_cooccurrence) need nothing: they read the tables on every query.

`models_digest` names the model files' content; a catalog built by other model files is rebuilt in full.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

MODELS_DIR = Path(__file__).with_name("models")
MODELS_TABLE = "_models"  # (digest): the models_digest of the files the catalog's models were built with
_CONFIG = re.compile(r"^--\s*config:\s*(.+)$", re.MULTILINE)
_DELTA = re.compile(r"/\*delta:(.*?)\*/", re.DOTALL)
_FRAGMENT = re.compile(r"/\*incremental:(.*?)\*/", re.DOTALL)
_QUERY = re.compile(r"/\*incremental_query:(.*?)\*/", re.DOTALL)
_CREATE = re.compile(r"^\s*CREATE\s+OR\s+REPLACE\s+TABLE\s+(\w+)\s+AS\s", re.IGNORECASE)


@dataclass(frozen=True)
class Model:
    name: str
    sql: str  # the file: the full build
    incremental: bool = False
    unique_key: str = ""
    delta: str = ""
    query: str = ""  # the /*incremental_query: ...*/ that rebuilds the delta's rows, when the file gives one

    def update_sql(self) -> tuple[str, str, str]:
        """(snapshot of the delta's published rows into `_prior_<model>`, DELETE of those rows, INSERT of the
        rebuilt rows) for a run's update. The INSERT runs the file's `/*incremental_query: */` when it has one,
        else the full build's query with its `/*incremental: */` fragments switched on."""
        query = duckdb.extract_statements(self.sql.replace(_QUERY.search(self.sql).group(0), "") if self.query
                                          else self.sql)[0].query  # fmt: skip
        m = _CREATE.match(query)
        if not m or m.group(1) != self.name:
            raise ValueError(f"model {self.name}: an incremental model must start with CREATE OR REPLACE TABLE")
        select = self.query or _FRAGMENT.sub(lambda f: f.group(1), query[m.end() :])
        key, delta = self.unique_key, delta_table(self.name)
        keys = f"{key} IN (SELECT {key} FROM {delta})"
        prior = f"CREATE OR REPLACE TEMP TABLE {prior_table(self.name)} AS SELECT * FROM {self.name} WHERE {keys}"
        return prior, f"DELETE FROM {self.name} WHERE {keys}", f"INSERT INTO {self.name} BY NAME {select}"


def delta_table(model: str) -> str:
    return f"_delta_{model}"


def prior_table(model: str) -> str:
    """The published rows of a model's delta keys, saved before they are deleted (dbt's `{{ this }}`)."""
    return f"_prior_{model}"


def load_models(folder: Path = MODELS_DIR) -> list[Model]:
    """The model files in build order: stg_* (views over the tables) before mart_*, then by name."""
    models = []
    for f in sorted(folder.glob("*.sql"), key=lambda p: (not p.name.startswith("stg_"), p.name)):
        sql = f.read_text(encoding="utf-8")
        config = dict(kv.strip().split("=", 1) for m in _CONFIG.finditer(sql) for kv in m.group(1).split(","))
        delta, query = _DELTA.search(sql), _QUERY.search(sql)
        incremental = config.get("materialized") == "incremental"
        if incremental and (not delta or not config.get("unique_key")):
            raise ValueError(f"model {f.stem}: an incremental model needs a unique_key and a /*delta: ... */ query")
        models.append(
            Model(
                f.stem,
                sql,
                incremental,
                config.get("unique_key", ""),
                delta.group(1).strip() if delta else "",
                query.group(1).strip() if query else "",
            )
        )
    return models


def models_digest(folder: Path = MODELS_DIR) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.glob("*.sql")):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def build_models(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Build every model from scratch (the files as they are) and record the models' digest. Returns names."""
    done = []
    for model in load_models():
        con.execute(model.sql)
        done.append(model.name)
    con.execute(f"CREATE OR REPLACE TABLE {MODELS_TABLE} AS SELECT ? AS digest", [models_digest()])
    return done


def built_with_these_models(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the catalog's models were built by the current model files (else a run rebuilds them in full)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND database_name = current_database()",
        [MODELS_TABLE],
    ).fetchone()[0]
    return bool(found) and con.execute(f"SELECT digest FROM {MODELS_TABLE}").fetchone()[0] == models_digest()


def update_models(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Update the incremental models for the rows of the `_new_<table>` views (see the module docstring).
    Returns the number of keys rebuilt per model."""
    models = [m for m in load_models() if m.incremental]
    keys = {}
    for m in models:  # every delta before any update: deltas read the marts as published
        con.execute(f"CREATE OR REPLACE TEMP TABLE {delta_table(m.name)} AS SELECT DISTINCT * FROM ({m.delta})")
        keys[m.name] = con.execute(f"SELECT count(*) FROM {delta_table(m.name)}").fetchone()[0]
    for m in models:
        for sql in m.update_sql():
            con.execute(sql)
    return keys
