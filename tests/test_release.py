"""Releases: round trip, immutability, version validation, Croissant, and what a consumer sees."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from mini_warehouse import R1, R2, T2, build_mini_warehouse, publish_run

from flows.cli_release import release
from warehouse.release import (
    CROISSANT,
    MANIFEST,
    PUBLISHED,
    ReleaseError,
    check_version,
    make_release,
    validate_croissant,
    verify_release,
)

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> Path:
    return build_mini_warehouse(tmp_path_factory.mktemp("mini") / "wh")


def test_release_round_trip_then_tamper(wh, tmp_path):
    out = tmp_path / "rel"
    res = make_release(wh, out, "1.0.0", now=NOW)
    assert res.status == "created"
    manifest = verify_release(out, "1.0.0")
    assert manifest["source_run_ids"] == [R1, R2]
    assert manifest["created_at"] == "2026-02-01T12:00:00+00:00"
    assert {n: t["rows"] for n, t in manifest["tables"].items()} == {
        "documents": 2, "dup_clusters": 3, "entities": 2, "mentions": 4, "entity_cooccurrence": 1, "figures": 2,
        "dates": 0, "quotes": 0, "shared_passages": 0,
    }  # fmt: skip
    listed = {f["path"] for f in manifest["files"]}
    assert listed == {f"{n}.parquet" for n in PUBLISHED} | {"README.md", CROISSANT}
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no partial directory left behind

    # tamper with one file (same size, different bytes): verify names it, and only it
    target = out / "1.0.0" / "entities.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ReleaseError) as err:
        verify_release(out, "1.0.0")
    assert str(err.value) == "release 1.0.0: entities.parquet: sha256 does not match the manifest"

    result = CliRunner().invoke(release, ["--verify", "1.0.0", "--out", str(out)])
    assert result.exit_code == 1
    assert "entities.parquet" in result.stderr
    assert result.stderr.startswith("newsetl: error: ")


def test_verify_reports_missing_and_unlisted_files(wh, tmp_path):
    out = tmp_path / "rel"
    make_release(wh, out, "1.0.0", now=NOW)
    (out / "1.0.0" / "figures.parquet").unlink()
    (out / "1.0.0" / "extra.csv").write_text("x")
    with pytest.raises(ReleaseError) as err:
        verify_release(out, "1.0.0")
    assert str(err.value).splitlines() == [
        "release 1.0.0: figures.parquet: missing",
        "release 1.0.0: extra.csv: not listed in the manifest",
    ]


def test_same_version_refused_unless_identical(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    out = tmp_path / "rel"
    first = make_release(wh, out, "1.0.0", now=NOW)
    before = (out / "1.0.0" / MANIFEST).read_bytes()
    # same data, later: accepted as identical, nothing rewritten
    again = make_release(wh, out, "1.0.0", now=datetime(2027, 1, 1, tzinfo=UTC))
    assert again.status == "identical"
    assert (out / "1.0.0" / MANIFEST).read_bytes() == before
    assert first.manifest["tables"]["documents"]["rows"] == 2

    # new data: the same version is refused, a new version is fine
    r3 = "20260103T000000-cccccccc"
    doc = {
        "doc_id": "d4",
        "record_id": "rec-d4",
        "text": "New.",
        "n_chars": 4,
        "lang": "en",
        "first_seen": T2,
        "run_id": r3,
    }
    publish_run(
        wh,
        r3,
        {
            "runs": [{"run_id": r3, "started_at": T2, "finished_at": T2, "status": "success"}],
            "raw_documents": [{"record_id": "rec-d4", "file_id": "f3", "doc_id": "d4", "run_id": r3}],
            "documents": [doc],
            "dup_clusters": [{"doc_id": "d4", "cluster_id": "d4", "canonical_doc_id": "d4", "run_id": r3}],
        },
    )
    with pytest.raises(ReleaseError, match=r"release 1\.0\.0 already exists .* different data \(documents, "):
        make_release(wh, out, "1.0.0", now=NOW)
    assert (out / "1.0.0" / MANIFEST).read_bytes() == before
    verify_release(out, "1.0.0")
    assert make_release(wh, out, "1.1.0", now=NOW).manifest["tables"]["documents"]["rows"] == 3

    result = CliRunner().invoke(release, ["--version", "1.0.0", "--out", str(out), "--warehouse", str(wh)])
    assert result.exit_code == 1
    assert "already exists" in result.stderr


@pytest.mark.parametrize("bad", ["../x", "..", ".", "", "/abs", "/tmp/x", "a/b", "a\\b", "x" * 65, "-rf", "1.0 0"])
def test_bad_versions_refused(wh, tmp_path, bad):
    out = tmp_path / "rel"
    with pytest.raises(ReleaseError, match="invalid version"):
        make_release(wh, out, bad)
    with pytest.raises(ReleaseError, match="invalid version"):
        verify_release(out, bad)
    result = CliRunner().invoke(release, ["--version", bad, "--out", str(out), "--warehouse", str(wh)])
    assert result.exit_code == 2
    assert "invalid version" in result.stderr
    assert not out.exists()
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("good", ["1.0.0", "v2", "2026-02-01", "1.0.0-rc.1+build5"])
def test_good_versions_accepted(good):
    assert check_version(good) == good


def test_croissant_is_valid_and_loads(wh, tmp_path):
    import mlcroissant as mlc

    out = tmp_path / "rel"
    make_release(wh, out, "1.0.0", now=NOW)
    path = out / "1.0.0" / CROISSANT
    validate_croissant(path)
    ds = mlc.Dataset(jsonld=str(path))
    records = list(ds.records("entities"))
    assert sorted(r["entities/entity_id"] for r in records) == [b"E1", b"E2"]
    # issue 21: the place columns are Croissant fields of the entities record set
    fields = {
        f["name"] for rs in json.loads(path.read_text())["recordSet"] if rs["name"] == "entities" for f in rs["field"]
    }
    assert {"entity_key", "country_code", "admin1_code", "latitude", "longitude", "geonames_id"} <= fields

    # the validator does reject a broken file
    doc = json.loads(path.read_text())
    doc["recordSet"][0]["field"][0]["source"]["fileObject"]["@id"] = "nope.parquet"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    with pytest.raises(ReleaseError, match="invalid Croissant"):
        validate_croissant(broken)


def test_consumer_needs_only_duckdb_or_pyarrow(wh, tmp_path):
    out = tmp_path / "rel"
    make_release(wh, out, "1.0.0", now=NOW)
    folder = out / "1.0.0"
    rows = duckdb.sql(
        f"SELECT name, n_mentions FROM '{folder / 'entities.parquet'}' ORDER BY n_mentions DESC"
    ).fetchall()
    assert rows == [("Bashar Assad", 3), ("Moscow", 1)]
    table = pq.read_table(folder / "documents.parquet")
    assert table.column("doc_id").to_pylist() == ["d1", "d3"]
    assert table.schema.field("cluster_size").metadata[b"description"].startswith(b"Documents in the cluster")

    card = (folder / "README.md").read_text()
    assert "duckdb -c \"SELECT name, entity_type, n_mentions FROM 'entities.parquet'" in card
    assert "| `geonames_id` | `int64` | GeoNames id of a geocoded country, US state or city. |" in card
    assert "| `latitude` | `double` | Latitude (WGS84) of a geocoded city. |" in card
    for heading in ["## Tables", "## Lineage", "## Quality", "## Known limitations", "## Licensing"]:
        assert heading in card
    assert "| `entity_cooccurrence` | 1 | One row per entity pair" in card
    # the failed warning-level expectation of run 1 is reported
    assert f"- run `{R1}` language: expect_y(lang) [warning] on 1 row(s)" in card


def test_release_refused_when_a_model_check_fails(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    r3 = "20260103T000000-cccccccc"
    # a mention of an entity that has no entity row
    publish_run(
        wh,
        r3,
        {
            "runs": [{"run_id": r3, "status": "success"}],
            "mentions": [{"doc_id": "d1", "start": 0, "end": 5, "surface": "Assad", "entity_id": "E9", "run_id": r3}],
        },
    )
    with pytest.raises(ReleaseError, match="refused: check stg_mentions_entity_exists fails on 1 row"):
        make_release(wh, tmp_path / "rel", "1.0.0")
    assert not (tmp_path / "rel" / "1.0.0").exists()
