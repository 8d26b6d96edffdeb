"""The HTML run report, GX Data Docs, the Prefect artifact markdown, and the page in a real headless browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from mini_warehouse import R1, R2, build_mini_warehouse

from flows.cli_release import report
from warehouse.report import near_dup_rows, run_summary_markdown, write_report

NOW = datetime(2026, 2, 1, tzinfo=UTC)
CHARTS = ["chart-runs", "chart-funnel", "chart-quality", "chart-entities", "chart-figures", "chart-languages"]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    wh = build_mini_warehouse(root / "wh")
    path, note = write_report(wh, root / "report", gx_docs=False, now=NOW)
    assert note is None
    return path


def test_report_sections_and_values(page):
    html = page.read_text(encoding="utf-8")
    sections = ["Run history", "Stage funnel", "Near-duplicate work", "Quality", "Top entities", "Figures by kind"]
    for section in [*sections, "Language mix"]:
        assert f">{section}</h2>" in html
    for div in CHARTS:
        assert f'<div id="{div}"' in html
    assert R1 in html and R2 in html
    # funnel table: 4 records in, 1 quarantined, 3 documents, 2 clusters, 2 canonical, 2 with extractions
    funnel = re.findall(r"<tr><td>([a-z ]+)</td><td class=\"num\">(\d+)</td></tr>", html)
    assert funnel == [
        ("records in", "4"), ("quarantined", "1"), ("documents", "3"), ("clusters", "2"), ("canonical", "2"),
        ("extracted", "2"),
    ]  # fmt: skip
    assert '"Bashar Assad (PERSON)"' in html  # top entity in the chart data


def test_near_dup_rows_show_the_work_and_how_often_each_limit_bit():
    stats = {
        "new_docs": 1000,
        "candidate_pairs_per_doc": 7.2,
        "verified_pairs": 420,
        "containment_checks": 12,
        "docs_over_max_candidates": 3,
        "buckets_sampled": 1,
        "buckets_over_old_anchors": 0,
        "containment_targets_dropped": 5,
        "limits": {"max_candidates": 200, "max_bucket": 5000, "old_anchors": 4, "containment_targets": 2},
    }
    rows = near_dup_rows([("r1", "{}"), ("r2", json.dumps({"documents_new": 1000, "near_dup": stats})), ("r3", None)])
    assert rows == [
        {
            "run_id": "r2",
            "new docs": 1000,
            "pairs compared per doc": 7.2,
            "linked pairs": 420,
            "containment checks": 12,
            "docs over max_candidates": "3 (limit 200)",
            "buckets sampled": "1 (limit 5000)",
            "buckets over old_anchors": "0 (limit 4)",
            "containment targets dropped": "5 (limit 2)",
        }
    ]


def test_report_highlights_failures(page):
    html = page.read_text(encoding="utf-8")
    # run 2 is the latest and all its expectations passed; the page shows that run's results per stage
    assert '<span class="badge ok">0 failed</span>' in html
    assert '<tr class="fail">' not in html and '<tr class="warn">' not in html


def test_report_marks_failed_expectations(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    from mini_warehouse import publish_run

    r3 = "20260103T000000-cccccccc"
    publish_run(
        wh,
        r3,
        {
            "runs": [{"run_id": r3, "status": "success"}],
            "dq_results": [
                {
                    "run_id": r3,
                    "stage": "ingest",
                    "suite": "s",
                    "expectation": "expect_z",
                    "column_name": "c",
                    "success": False,
                    "unexpected_count": 2,
                    "severity": "warning",
                },
                {
                    "run_id": r3,
                    "stage": "ingest",
                    "suite": "s",
                    "expectation": "expect_w",
                    "column_name": "c",
                    "success": True,
                    "unexpected_count": 0,
                    "severity": "error",
                },
            ],
        },
    )
    html, _ = write_report(wh, tmp_path / "r", gx_docs=False, now=NOW)
    text = html.read_text(encoding="utf-8")
    assert text.count('<tr class="warn">') == 1
    assert '<span class="badge fail">1 failed</span>' in text


def test_report_is_self_contained(page):
    html = page.read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert len(scripts) == len(CHARTS) + 1  # plotly.js inlined once, then one script per chart
    assert all("src" not in attrs for attrs in scripts)
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)  # plotly.js itself mentions URLs
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)
    assert "cdn.plot.ly" not in markup


def test_report_cli_without_warehouse_fails_cleanly(tmp_path):
    result = CliRunner().invoke(report, ["--warehouse", str(tmp_path / "none"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert result.stderr.startswith("newsetl: error: no warehouse at ")


def test_gx_data_docs_built_under_report_dir(tmp_path):
    wh = build_mini_warehouse(tmp_path / "wh")
    result = CliRunner().invoke(report, ["--warehouse", str(wh), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    index = tmp_path / "r" / "gx" / "index.html"
    assert index.is_file()
    docs = {p.name for p in (tmp_path / "r" / "gx" / "expectations").glob("*.html")}
    assert {"newsetl_ingest.html", "newsetl_normalize.html", "newsetl_warehouse.html"} <= docs
    assert 'href="gx/index.html"' in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")


def test_run_summary_markdown():
    md = run_summary_markdown(
        {"run_id": "r1", "status": "success", "warehouse": "/w", "counts": {"records": 5, "documents_new": 4},
         "seconds": {"ingest": 1.5}},
        [
            {"stage": "ingest", "expectation": "expect_a", "column_name": "x", "success": True, "severity": "error"},
            {"stage": "language", "expectation": "expect_b", "column_name": "lang", "success": False,
             "severity": "warning", "unexpected_count": 2},
        ],
        report_url="file:///r/index.html",
    )  # fmt: skip
    assert md.startswith("# newsetl run `r1`: success\n")
    assert "| records | 5 |" in md and "| documents_new | 4 |" in md
    assert "| ingest | 1.50 |" in md
    assert "2 expectation(s) evaluated, 1 failed." in md
    assert "| language | 1 | 0 | 1 |" in md
    assert "- **warning** language: expect_b(lang) on 2 row(s)" in md
    assert "[Run report](file:///r/index.html)" in md


# --- real browser -------------------------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
]  # fmt: skip


def _browse(url: str, profile: Path) -> tuple[str, list[str]]:
    """(DOM after scripts ran, console messages) from headless chromium."""
    proc = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(page, tmp_path):
    # the harness itself sees console errors
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><script>throw new Error("boom")</script></body></html>')
    _, console = _browse(bad.as_uri(), tmp_path / "p0")
    assert any("Uncaught Error: boom" in c for c in console)

    dom, console = _browse(page.as_uri(), tmp_path / "p1")
    assert console == []
    for div in CHARTS:
        start = dom.index(f'<div id="{div}"')
        nxt = min((dom.find(f'<div id="{d}"', start + 1) for d in CHARTS if dom.find(f'<div id="{d}"', start + 1) > 0),
                  default=len(dom))  # fmt: skip
        chart = dom[start:nxt]
        assert 'class="main-svg"' in chart, f"{div} did not render"
    assert "Bashar Assad (PERSON)" in dom  # a bar label drawn by plotly as svg text


def test_report_shows_the_checks_stored_at_the_last_rebuild(tmp_path):
    """The load stage stores its check results in the catalog (`_checks`); the report shows those instead of
    re-running every check over the whole warehouse (7 s and ~3 GB at 10k documents)."""
    import duckdb

    from warehouse.checks import run_checks
    from warehouse.report import collect
    from warehouse.store import CATALOG, CHECKS_TABLE, Store

    wh = build_mini_warehouse(tmp_path / "wh")
    cat, fsp = str(wh / CATALOG), {"file_search_path": str(wh)}
    with duckdb.connect(cat, read_only=True, config=fsp) as con:
        computed = collect(con)["checks"]  # no _checks yet: computed
        assert computed == [{"check": r.check, "failing": int(r.failing)} for r in run_checks(con).itertuples()]
    stored = Store(wh).check_catalog(wh / CATALOG)
    assert [{"check": r["check"], "failing": r["failing"]} for r in stored] == computed
    with duckdb.connect(cat, config=fsp) as con:
        con.execute(f"UPDATE {CHECKS_TABLE} SET failing = 7 WHERE \"check\" = 'doc_ids_unique'")
    with duckdb.connect(cat, read_only=True, config=fsp) as con:
        shown = {c["check"]: c["failing"] for c in collect(con)["checks"]}
    assert shown["doc_ids_unique"] == 7 and len(shown) == len(computed)


def _with_runs(root: Path, n: int) -> Path:
    """The mini warehouse plus `n` generated runs (runs and dq_results rows, one partition each for all)."""
    from datetime import timedelta

    from mini_warehouse import T2, run1_tables

    from warehouse import schema
    from warehouse.store import Store, writer_lock

    build_mini_warehouse(root)
    runs, dq = [], []
    for i in range(n):
        run = f"2026020{1 + i // 100000}T{i:06d}-ffffffff"
        t = T2 + timedelta(hours=i + 1)
        runs.append(dict(run1_tables()["runs"][0], run_id=run, started_at=t, finished_at=t, n_documents_new=i % 7))
        dq += [dict(r, run_id=run) for r in run1_tables()["dq_results"]]
    with writer_lock(root):
        store = Store(root)
        new = [
            store.write_partition("runs", "generated", schema.to_table("runs", runs)),
            store.write_partition("dq_results", "generated", schema.to_table("dq_results", dq)),
        ]
        staged, _ = store.stage_catalog("generated", store.published_partitions(), new)
        store.publish(staged)
    return root


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_run_history_page_loads_in_chromium_after_1000_runs(tmp_path):
    import time

    from warehouse.report import RUN_HISTORY

    wh = _with_runs(tmp_path / "wh", 1_000)
    page, _ = write_report(wh, tmp_path / "report", gx_docs=False)
    t0 = time.perf_counter()
    dom, console = _browse(page.as_uri(), tmp_path / "p")
    seconds = time.perf_counter() - t0
    assert console == [] and seconds < 60
    history = dom[dom.index('<h2 id="runs">') : dom.index('<h2 id="funnel">')]
    assert f"The latest {RUN_HISTORY} of 1002 runs" in history
    assert 'class="main-svg"' in history  # the per-run chart was drawn
    assert history.count("<tr") == RUN_HISTORY + 1  # header + the latest runs
    assert "20260201T000999-ffffffff" in history and "20260201T000899-ffffffff" not in history
