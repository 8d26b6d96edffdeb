"""SQL models (warehouse/models) and their model checks, on the seed warehouse and on a tiny inline warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import SEEDS
from mini_warehouse import R1, R2, T1, T2, build_mini_warehouse

from warehouse.checks import run_checks
from warehouse.model_checks import MODEL_CHECKS
from warehouse.query import table_summaries
from warehouse.schema import TABLES
from warehouse.store import MODELS_DIR, catalog_path

MARTS = ["mart_documents", "mart_entities", "mart_entity_cooccurrence", "mart_figures"]
# internal state, not for analysts: no staging model on purpose
INTERNAL = {"doc_signatures"}
SOURCES = [t for t in TABLES if t not in INTERNAL]  # fmt: skip


@pytest.fixture(scope="module")
def seed_wh(prefect_harness, tmp_path_factory) -> Path:
    """The seeds run through the real flow once for this module, on the thread runner: the models do not depend on
    the runner (tests/flows/test_etl.py runs the seeds on the default one, tests/flows/test_scale_out.py compares
    the runners' tables), and no worker processes start."""
    from flows.runners import configured_flow

    root = tmp_path_factory.mktemp("seed") / "wh"
    state = configured_flow("thread")(inputs=[str(SEEDS)], warehouse=str(root), return_state=True)
    assert state.is_completed(), state.message
    return root


@pytest.fixture(scope="module")
def mini_wh(tmp_path_factory) -> Path:
    return build_mini_warehouse(tmp_path_factory.mktemp("mini") / "wh")


def _con(root: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(catalog_path(root)), read_only=True, config={"file_search_path": str(root)})


def _one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


# --- the model files ------------------------------------------------------------------------------------------------
def test_one_staging_model_per_source_table_and_marts_state_their_grain():
    names = {p.stem for p in MODELS_DIR.glob("*.sql")}
    assert {f"stg_{t}" for t in SOURCES} <= names
    assert set(MARTS) <= names
    for mart in MARTS:
        head = (MODELS_DIR / f"{mart}.sql").read_text(encoding="utf-8").splitlines()[:3]
        assert any(line.startswith("-- Grain: one row per") for line in head), mart


def test_every_model_column_is_documented_in_tables_columns(mini_wh):
    items = {i["table"]: i for i in table_summaries(mini_wh, columns=True)}
    models = sorted(p.stem for p in MODELS_DIR.glob("*.sql"))
    for name in models:
        assert name in items, name
        assert items[name]["description"], name
        undocumented = [c for c, _type, comment in items[name]["columns"] if not comment]
        assert undocumented == [], name


# --- exact values on the inline warehouse ---------------------------------------------------------------------------
def test_stg_entities_merges_runs(mini_wh):
    con = _con(mini_wh)
    rows = con.execute(
        "SELECT entity_id, name, entity_type, aliases, mention_count, first_run_id, last_run_id, n_runs "
        "FROM stg_entities ORDER BY entity_id"
    ).fetchall()
    assert rows == [
        ("E1", "Bashar Assad", "PERSON", ["Assad", "Bashar al-Assad"], 3, R1, R2, 2),
        ("E2", "Moscow", "GPE", ["Moscow"], 1, R1, R1, 1),
    ]


def test_mart_documents_one_row_per_canonical_document(mini_wh):
    con = _con(mini_wh)
    rows = con.execute(
        "SELECT doc_id, cluster_id, cluster_size, lang, n_mentions, n_entities, n_figures FROM mart_documents "
        "ORDER BY doc_id"
    ).fetchall()
    assert rows == [("d1", "c1", 2, "en", 3, 2, 2), ("d3", "d3", 1, "de", 1, 1, 0)]


def test_mart_entities_counts_and_first_last_seen(mini_wh):
    con = _con(mini_wh)
    rows = con.execute(
        "SELECT entity_id, n_mentions, n_documents, first_seen, last_seen FROM mart_entities ORDER BY entity_id"
    ).fetchall()
    assert rows == [("E1", 3, 2, T1, T2), ("E2", 1, 1, T1, T1)]


def test_mart_entity_cooccurrence_one_row_per_pair_and_document(mini_wh):
    con = _con(mini_wh)
    rows = con.execute(
        "SELECT doc_id, entity_id_a, entity_id_b, n_mentions_a, n_mentions_b, n_shared_sentences "
        "FROM mart_entity_cooccurrence"
    ).fetchall()
    assert rows == [("d1", "E1", "E2", 2, 1, 1)]


def test_mart_figures_carry_the_entities_of_their_sentence(mini_wh):
    con = _con(mini_wh)
    rows = con.execute(
        "SELECT figure_id, kind, entity_ids, entity_names FROM mart_figures ORDER BY figure_id"
    ).fetchall()
    assert rows == [
        ("d1:31-48", "money", ["E1", "E2"], ["Bashar Assad", "Moscow"]),
        ("d1:71-77", "duration", [], []),
    ]


def test_model_checks_pass_on_consistent_data(mini_wh):
    con = _con(mini_wh)
    result = run_checks(con, MODEL_CHECKS)
    assert len(result) >= len(MODEL_CHECKS)
    assert result[result.failing > 0].to_dict("records") == []


def test_model_checks_catch_orphans_and_duplicates(mini_wh):
    """A mention on a duplicate document and one of an unknown entity are each counted by the right check."""
    con = duckdb.connect(config={"file_search_path": str(mini_wh)})  # the catalog's paths are relative to it
    con.execute(f"ATTACH '{catalog_path(mini_wh)}' AS w (READ_ONLY)")
    con.execute("USE w")
    # shadow two views in a writable temp schema so the checks see the bad rows
    con.execute("CREATE TEMP VIEW mentions AS SELECT * FROM w.main.mentions UNION ALL "
                "SELECT 'd2', 0, 5, 'Assad', 'PERSON', 0, 'E1', 'r' UNION ALL "
                "SELECT 'd1', 0, 5, 'Nobody', 'PERSON', 0, 'E9', 'r'")  # fmt: skip
    con.execute("CREATE TEMP VIEW stg_mentions AS SELECT doc_id, \"start\" AS start_char, \"end\" AS end_char, "
                "surface, label AS ner_label, sentence AS sentence_index, entity_id, run_id FROM temp.mentions "
                "WHERE doc_id IN (SELECT canonical_doc_id FROM dup_clusters)")  # fmt: skip
    con.execute("CREATE TEMP TABLE mart_figures AS SELECT * FROM w.main.mart_figures UNION ALL "
                "SELECT * FROM w.main.mart_figures LIMIT 3")  # fmt: skip
    failing = {r.check: r.failing for r in run_checks(con, MODEL_CHECKS).itertuples() if r.failing}
    assert failing == {
        "extracted_rows_on_extracted_documents": 1,
        "stg_mentions_entity_exists": 1,
        "mart_entities_mentions_add_up": 1,
        "mart_figures_figure_id_unique": 1,
        "mart_figures_one_per_figure": 1,
        # the warehouse-level checks see them too: E9 is no entity, and "Nobody" is not the text at d1[0:5]
        "mentions_entity_exists": 1,
        # and run r extracted documents it did not add (d1 and d2 are run 1's)
        "extracted_rows_on_their_runs_documents": 2,
        "mentions_offsets": 1,
        # the co-occurrence view reads the shadowed stg_mentions and pairs the entities of one run's extraction:
        # d1 has 3 entities now (so 3 pairs), but E9 came from another run, so 2 of its pairs are missing
        "mart_entity_cooccurrence_pairs_per_document": 2,
    }
    # scoped to another run, the checks of run r's own rows skip them; the global counts still see them
    scoped = {r.check: r.failing for r in run_checks(con, MODEL_CHECKS, runs=["other"]).itertuples() if r.failing}
    assert scoped == {"mart_entities_mentions_add_up": 1, "mart_figures_one_per_figure": 1}
    scoped = {r.check: r.failing for r in run_checks(con, MODEL_CHECKS, runs=["r"]).itertuples() if r.failing}
    # run r alone: d1's one entity of that run (E9) makes no pair, so the pairs of d1 add up within the run; its
    # offsets are checked against the run's own documents (none: the row is counted as on another run's document);
    # the duplicated mart_figures rows are of run 1's figures
    assert scoped == {
        k: v
        for k, v in failing.items()
        if k not in {"mart_entity_cooccurrence_pairs_per_document", "mentions_offsets", "mart_figures_figure_id_unique"}
    }


def test_cooccurrence_checks_catch_fan_out_and_disorder(mini_wh):
    """A duplicated mart_entities row (the view's names) fans the view out (two rows for one pair), a missing one
    leaves a pair's entity unknown, and a pair stored b < a is out of order."""
    con = duckdb.connect(config={"file_search_path": str(mini_wh)})  # the catalog's paths are relative to it
    con.execute(f"ATTACH '{catalog_path(mini_wh)}' AS w (READ_ONLY)")
    con.execute("USE w")
    con.execute("CREATE TEMP VIEW mart_entities AS SELECT * FROM w.main.mart_entities UNION ALL "
                "SELECT * FROM w.main.mart_entities WHERE entity_id = 'E2'")  # fmt: skip
    failing = {r.check: r.failing for r in run_checks(con, MODEL_CHECKS).itertuples() if r.failing}
    assert failing["mart_entity_cooccurrence_pairs_per_document"] == 1  # d1: 2 rows for its one pair
    con.execute(
        "CREATE OR REPLACE TEMP VIEW mart_entities AS SELECT * FROM w.main.mart_entities WHERE entity_id <> 'E2'"
    )
    failing = {r.check: r.failing for r in run_checks(con, MODEL_CHECKS).itertuples() if r.failing}
    assert failing["mart_entity_cooccurrence_entity_b_exists"] == 1  # d1's pair E1-E2 names an unknown E2
    con.execute("DROP VIEW temp.mart_entities")
    con.execute("CREATE TEMP VIEW mart_entity_cooccurrence AS SELECT doc_id, entity_id_b AS entity_id_a, "
                "entity_id_a AS entity_id_b, name_a, name_b, run_id FROM w.main.mart_entity_cooccurrence")  # fmt: skip
    failing = {r.check: r.failing for r in run_checks(con, MODEL_CHECKS).itertuples() if r.failing}
    assert failing["mart_entity_cooccurrence_pair_ordered"] == 1


# --- the seed warehouse, built by the real flow -------------------------------------------------------------------
def test_seed_models_exact_counts(seed_wh):
    con = _con(seed_wh)
    n_seed_files = len(list(SEEDS.iterdir()))
    assert n_seed_files == 5
    # the five seeds are five different articles: five documents, five singleton clusters
    assert _one(con, "SELECT count(*) FROM stg_documents") == 5
    assert _one(con, "SELECT count(*) FROM mart_documents") == 5
    assert _one(con, "SELECT sum(cluster_size) FROM mart_documents") == 5
    assert _one(con, "SELECT count(*) FROM mart_documents WHERE lang = 'en'") == 5
    assert _one(con, "SELECT count(*) FROM stg_runs") == 1
    assert _one(con, "SELECT count(*) FROM stg_source_files WHERE status = 'ingested'") == 5
    assert _one(con, "SELECT count(*) FROM stg_raw_documents WHERE is_quarantined") == 0
    # marts agree with their sources, whatever the extraction stage produced
    assert _one(con, "SELECT count(*) FROM mart_entities") == _one(
        con, "SELECT count(DISTINCT entity_id) FROM entities"
    )
    assert _one(con, "SELECT count(*) FROM mart_figures") == _one(con, "SELECT count(*) FROM figures")
    assert _one(con, "SELECT sum(n_mentions) FROM mart_documents") == _one(con, "SELECT count(*) FROM mentions")


def test_seed_model_checks_pass(seed_wh):
    con = _con(seed_wh)
    result = run_checks(con, MODEL_CHECKS)
    assert result[result.failing > 0].to_dict("records") == []


def test_documents_n_chars_must_match_the_stored_text(mini_wh):
    """The normalize gate checks n_chars >= 1 instead of the texts; this check ties n_chars to the text."""
    con = duckdb.connect(config={"file_search_path": str(mini_wh)})  # the catalog's paths are relative to it
    con.execute(f"ATTACH '{catalog_path(mini_wh)}' AS w (READ_ONLY)")
    con.execute("USE w")
    assert run_checks(con).set_index("check").failing["documents_n_chars_match_text"] == 0
    con.execute("CREATE TEMP VIEW documents AS SELECT * REPLACE (n_chars + 1 AS n_chars) FROM w.main.documents")
    n_docs = con.execute("SELECT count(*) FROM documents").fetchall()[0][0]
    assert run_checks(con).set_index("check").failing["documents_n_chars_match_text"] == n_docs > 0


def test_cooccurrence_checks_read_a_bounded_sample_of_documents(mini_wh, monkeypatch):
    """The view's checks read at most COOCCURRENCE_SAMPLE documents, the smallest doc_ids in scope: a fan-out in a
    sampled document is caught, one outside the sample is not read (the view costs ~1,500 rows per document)."""
    import warehouse.model_checks as mc

    con = duckdb.connect(config={"file_search_path": str(mini_wh)})
    con.execute(f"ATTACH '{catalog_path(mini_wh)}' AS w (READ_ONLY)")
    con.execute("USE w")
    with_entities = [d for (d,) in con.execute(
        "SELECT DISTINCT doc_id FROM stg_mentions WHERE entity_id IS NOT NULL ORDER BY doc_id").fetchall()]  # fmt: skip
    assert len(with_entities) >= 2
    con.execute(
        "CREATE TEMP VIEW mart_entity_cooccurrence AS SELECT * FROM w.main.mart_entity_cooccurrence "
        "UNION ALL BY NAME SELECT DISTINCT doc_id, run_id, 'X1' AS entity_id_a, 'X2' AS entity_id_b "
        "FROM stg_mentions WHERE entity_id IS NOT NULL"
    )  # one pair too many in every document
    failing = {r.check: r.failing for r in run_checks(con, MODEL_CHECKS).itertuples()}
    sampled = [d for (d,) in con.execute(f"SELECT doc_id FROM {mc.COOCCURRENCE_DOCS} ORDER BY doc_id").fetchall()]
    assert sampled == with_entities
    assert failing["mart_entity_cooccurrence_pairs_per_document"] == len(with_entities)
    monkeypatch.setattr(mc, "COOCCURRENCE_SAMPLE", 1)
    failing = {r.check: r.failing for r in run_checks(con, MODEL_CHECKS).itertuples()}
    sampled = [d for (d,) in con.execute(f"SELECT doc_id FROM {mc.COOCCURRENCE_DOCS}").fetchall()]
    assert sampled == with_entities[:1]
    assert failing["mart_entity_cooccurrence_pairs_per_document"] == 1
    assert failing["mart_entity_cooccurrence_entity_a_exists"] == 1  # X1 is no entity
