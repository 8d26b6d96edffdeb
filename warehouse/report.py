"""The run report: one static HTML page about the published warehouse, plus Great Expectations Data Docs.

`write_report(warehouse, out)` writes `out/index.html`: run history, the stage funnel, quality results per stage
(failures highlighted), cross-table and model checks, top entities, figures by kind, language mix and
quarantine reasons, with plotly charts. plotly.js is inlined once in the page, so it renders offline (no CDN).
`build_gx_docs(warehouse, out / "gx")` re-validates the published tables with the suites in expectations/ in a
throwaway GX file context and writes its Data Docs there (those pages load their CSS from CDNs: unstyled
offline, still readable).
`run_summary_markdown(summary, dq_rows)` is the markdown the flow publishes as a Prefect artifact.
"""

from __future__ import annotations

import html
import json
import logging
import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from transforms.readers import OUTPUT_MARKER
from warehouse.checks import run_checks
from warehouse.model_checks import MODEL_CHECKS
from warehouse.release import connect_read_only
from warehouse.store import CHECKS_TABLE

SUITES_DIR = Path(__file__).resolve().parent.parent / "expectations"
TOP_ENTITIES = 20
# Runs in the history table and chart. Headless chromium on this machine (load ~7), page with every run: 1,000 runs
# 5.6-6.7 s (5.5-5.7 s capped), 10,000 runs 12.5 s and a 12.6 MB DOM (4.3 s capped); plotly.js is 4.7 MB of it.
RUN_HISTORY = 100

FUNNEL_SQL = {
    "records in": "SELECT count(*) FROM raw_documents",
    "quarantined": "SELECT count(*) FROM quarantine",
    "documents": "SELECT count(*) FROM documents",
    "clusters": "SELECT count(DISTINCT cluster_id) FROM dup_clusters",
    "canonical": "SELECT count(*) FROM dup_clusters WHERE doc_id = canonical_doc_id",
    "extracted": "SELECT count(*) FROM mart_documents WHERE n_mentions + n_figures + n_dates + n_quotes > 0",
}

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0} td,th{border:1px solid #ddd;padding:.25rem .5rem}
th{background:#f4f4f4;text-align:left} td.num{text-align:right}
tr.fail td{background:#fde2e1} tr.warn td{background:#fff4d6} .muted{color:#777}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.6rem;font-size:.8rem}
.badge.ok{background:#dff3e0} .badge.fail{background:#fde2e1} .badge.warn{background:#fff4d6}
"""


# --- data -------------------------------------------------------------------------------------------------------
def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def stored_checks(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
    """The check results the load stage stored in the catalog when it last rebuilt it, if any."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'", [CHECKS_TABLE]
    ).fetchall()[0][0]
    return con.execute(f'SELECT "check", failing FROM {CHECKS_TABLE} ORDER BY rowid').df() if found else None


# runs.counts 'near_dup' (warehouse.neardup.NearDupResult.stats): how often each limit bit, next to the limit
NEAR_DUP_LIMITS = (
    ("docs over max_candidates", "docs_over_max_candidates", "max_candidates"),
    ("buckets sampled", "buckets_sampled", "max_bucket"),
    ("buckets over old_anchors", "buckets_over_old_anchors", "old_anchors"),
    ("containment targets dropped", "containment_targets_dropped", "containment_targets"),
)


def near_dup_rows(runs: Iterable[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Per run (run_id, runs.counts JSON): the near-dup stage's work and how often its limits bit. Pure."""
    out = []
    for run_id, counts in runs:
        nd = json.loads(counts or "{}").get("near_dup") or {}
        if not nd:
            continue
        limits = nd.get("limits") or {}
        row = {
            "run_id": run_id,
            "new docs": nd.get("new_docs"),
            "pairs compared per doc": nd.get("candidate_pairs_per_doc"),
            "linked pairs": nd.get("verified_pairs"),
            "containment checks": nd.get("containment_checks"),
        }
        for label, key, limit in NEAR_DUP_LIMITS:
            row[label] = f"{nd.get(key, 0)} (limit {limits.get(limit, '?')})"
        out.append(row)
    return out


def collect(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Everything the page shows, as plain rows (also handy for tests)."""
    latest = con.execute("SELECT max(run_id) FROM runs").fetchone()[0]
    n_runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    checks = stored_checks(con)
    if checks is None:  # a catalog built without the flow's load stage (tests, older warehouses): compute them
        checks = run_checks(con, MODEL_CHECKS)
    return {
        "latest_run": latest,
        "n_runs": n_runs,
        "runs": _rows(  # the latest RUN_HISTORY runs, oldest first
            con,
            "SELECT * FROM (SELECT run_id, started_at, duration_s, status, code_version, n_files, n_files_skipped, "
            "n_records, n_quarantined, n_documents_new, n_documents_total FROM stg_runs "
            f"ORDER BY run_id DESC LIMIT {RUN_HISTORY}) ORDER BY run_id",
        ),
        "funnel": [(k, int(con.execute(sql).fetchone()[0])) for k, sql in FUNNEL_SQL.items()],
        "near_dup": near_dup_rows(con.execute("SELECT run_id, counts_json FROM stg_runs ORDER BY run_id").fetchall()),
        "dq": _rows(
            con,
            "SELECT run_id, stage, expectation, column_name, is_success, severity, unexpected_count, observed_value "
            "FROM stg_dq_results WHERE run_id = (SELECT max(run_id) FROM runs) "
            "ORDER BY run_id, stage, expectation, column_name",
        ),
        "checks": [{"check": r.check, "failing": int(r.failing)} for r in checks.itertuples()],
        "entities": _rows(
            con,
            f"SELECT name, entity_type, n_mentions, n_documents FROM mart_entities "
            f"ORDER BY n_mentions DESC, name LIMIT {TOP_ENTITIES}",
        ),
        "figure_kinds": _rows(
            con, "SELECT coalesce(kind, '(none)') AS kind, count(*) AS n FROM mart_figures GROUP BY ALL ORDER BY n DESC"
        ),
        "languages": _rows(
            con,
            "SELECT coalesce(lang, '(none)') AS lang, count(*) AS n FROM mart_documents GROUP BY ALL ORDER BY n DESC",
        ),
        "quarantine": _rows(
            con,
            "SELECT stage, reason_code, count(*) AS n FROM stg_quarantine GROUP BY ALL "
            "ORDER BY n DESC, stage, reason_code",
        ),
    }


# --- rendering -----------------------------------------------------------------------------------------------------
def _esc(v: Any) -> str:
    if v is None:
        return '<span class="muted">-</span>'
    if isinstance(v, float):
        return f"{v:,.3f}"
    if isinstance(v, datetime):
        return html.escape(v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    return html.escape(str(v))


def _table(rows: list[dict[str, Any]], cls_of=None, empty: str = "none") -> str:
    if not rows:
        return f'<p class="muted">{html.escape(empty)}</p>'
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cls = cls_of(r) if cls_of else ""
        tds = "".join(
            f'<td class="num">{_esc(r[c])}</td>' if isinstance(r[c], int | float) and not isinstance(r[c], bool)
            else f"<td>{_esc(r[c])}</td>"
            for c in cols
        )  # fmt: skip
        body.append(f'<tr class="{cls}">{tds}</tr>' if cls else f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _dq_class(r: dict[str, Any]) -> str:
    if r.get("is_success", True):
        return ""
    return "fail" if r.get("severity") == "error" else "warn"


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    """plotly figures by div id (only those with data)."""
    import plotly.graph_objects as go

    layout = {"margin": {"l": 60, "r": 20, "t": 40, "b": 60}, "height": 360, "template": "plotly_white"}
    figs: dict[str, Any] = {}
    stages = [k for k, _ in data["funnel"]]
    figs["chart-funnel"] = go.Figure(
        go.Funnel(y=stages, x=[v for _, v in data["funnel"]], textinfo="value"),
        layout={**layout, "title": "Stage funnel (whole warehouse)"},
    )
    if data["runs"]:
        ids = [r["run_id"] for r in data["runs"]]
        figs["chart-runs"] = go.Figure(
            [
                go.Bar(name="new documents", x=ids, y=[r["n_documents_new"] for r in data["runs"]]),
                go.Bar(name="quarantined", x=ids, y=[r["n_quarantined"] for r in data["runs"]]),
            ],
            layout={**layout, "title": "Per run", "barmode": "group", "xaxis": {"type": "category"}},
        )
    if data["dq"]:
        per: dict[str, list[int]] = {}
        for r in data["dq"]:
            if r["run_id"] == data["latest_run"]:
                per.setdefault(r["stage"], [0, 0])[0 if r["is_success"] else 1] += 1
        names = list(per)
        figs["chart-quality"] = go.Figure(
            [
                go.Bar(name="passed", x=names, y=[per[s][0] for s in names], marker_color="#4caf50"),
                go.Bar(name="failed", x=names, y=[per[s][1] for s in names], marker_color="#e53935"),
            ],
            layout={**layout, "title": "Expectations in the latest run", "barmode": "stack"},
        )
    if data["entities"]:
        ents = list(reversed(data["entities"]))
        figs["chart-entities"] = go.Figure(
            go.Bar(
                x=[e["n_mentions"] for e in ents],
                y=[f"{e['name']} ({e['entity_type']})" for e in ents],
                orientation="h",
            ),
            layout={**layout, "title": f"Top {len(ents)} entities by mentions", "height": 120 + 22 * len(ents)},
        )
    if data["figure_kinds"]:
        figs["chart-figures"] = go.Figure(
            go.Bar(x=[r["kind"] for r in data["figure_kinds"]], y=[r["n"] for r in data["figure_kinds"]]),
            layout={**layout, "title": "Figures by kind"},
        )
    if data["languages"]:
        figs["chart-languages"] = go.Figure(
            go.Pie(labels=[r["lang"] for r in data["languages"]], values=[r["n"] for r in data["languages"]]),
            layout={**layout, "title": "Language mix (canonical documents)"},
        )
    return figs


def _history_note(data: dict[str, Any]) -> str:
    n = data.get("n_runs", len(data["runs"]))
    if n <= len(data["runs"]):
        return ""
    return (
        f'<p class="muted">The latest {len(data["runs"])} of {n} runs. Every run: '
        '<code>newsetl query "SELECT * FROM stg_runs ORDER BY run_id"</code>.</p>'
    )


def _quality_section(data: dict[str, Any], gx_link: str | None, chart_html: str) -> list[str]:
    """The report's Quality section: the latest run's expectations by stage, and the cross-table checks."""
    latest = data["latest_run"]
    dq_latest = [r for r in data["dq"] if r["run_id"] == latest]
    n_fail = sum(1 for r in dq_latest if not r["is_success"])
    bad_checks = [c for c in data["checks"] if c["failing"]]
    by_stage: dict[str, list[dict]] = {}
    for r in dq_latest:
        by_stage.setdefault(r["stage"], []).append({k: v for k, v in r.items() if k not in ("run_id", "stage")})
    quality = "".join(
        f"<h3>{html.escape(stage)} "
        + (
            f'<span class="badge fail">{sum(1 for r in rows if not r["is_success"])} failed</span>'
            if any(not r["is_success"] for r in rows)
            else '<span class="badge ok">all passed</span>'
        )
        + f"</h3>{_table(rows, _dq_class)}"
        for stage, rows in by_stage.items()
    )
    gx = (
        f'<p>Great Expectations Data Docs: <a href="{html.escape(gx_link)}">{html.escape(gx_link)}</a></p>'
        if gx_link
        else '<p class="muted">Great Expectations Data Docs were not built for this report.</p>'
    )
    return [
        '<h2 id="quality">Quality</h2>',
        f"<p>Latest run: {len(dq_latest)} expectation(s), "
        + (f'<span class="badge fail">{n_fail} failed</span>' if n_fail else '<span class="badge ok">0 failed</span>')
        + f". Cross-table and model checks now: {len(data['checks'])}, "
        + (
            f'<span class="badge fail">{len(bad_checks)} failing</span>'
            if bad_checks
            else '<span class="badge ok">0 failing</span>'
        )
        + ".</p>",
        gx,
        chart_html,
        quality,
        "<h3>Cross-table and model checks</h3>",
        _table(data["checks"], lambda r: "fail" if r["failing"] else ""),
    ]


def render_html(data: dict[str, Any], *, warehouse: str, generated_at: datetime, gx_link: str | None) -> str:
    """The report page: a self-contained HTML document (plotly.js inlined once)."""
    from plotly.offline import get_plotlyjs

    figs = _figures(data)

    def chart(div_id: str, missing: str) -> str:
        if div_id not in figs:
            return f'<p class="muted">{html.escape(missing)}</p>'
        return figs[div_id].to_html(
            full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False, "responsive": True}
        )

    latest = data["latest_run"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>newsetl run report</title>",
        f"<style>{CSS}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        "<h1>newsetl run report</h1>",
        f'<p class="muted">Warehouse {html.escape(warehouse)} · latest run {_esc(latest)} · generated '
        f"{_esc(generated_at)}</p>",
        '<h2 id="runs">Run history</h2>',
        _history_note(data),
        chart("chart-runs", "No runs yet."),
        _table(data["runs"], lambda r: "" if r["status"] == "success" else "fail", "No runs yet."),
        '<h2 id="funnel">Stage funnel</h2>',
        '<p class="muted">Whole warehouse: records read, rows quarantined, distinct documents, duplicate clusters, '
        "canonical documents, canonical documents with at least one extracted item.</p>",
        chart("chart-funnel", ""),
        _table([{"stage": k, "rows": v} for k, v in data["funnel"]]),
        '<h2 id="near-dup">Near-duplicate work</h2>',
        '<p class="muted">Per run: document pairs the near-dup stage compared, pairs it linked, exact containment '
        "checks, and how often each of its limits bit (the limit in brackets).</p>",
        _table(data["near_dup"], empty="No near-dup statistics recorded."),
        *_quality_section(data, gx_link, chart("chart-quality", "No expectation results yet.")),
        '<h2 id="entities">Top entities</h2>',
        chart("chart-entities", "No entities extracted yet."),
        '<h2 id="figures">Figures by kind</h2>',
        chart("chart-figures", "No figures extracted yet."),
        '<h2 id="languages">Language mix</h2>',
        chart("chart-languages", "No documents yet."),
        '<h2 id="quarantine">Quarantine reasons</h2>',
        _table(data["quarantine"], empty="Nothing quarantined."),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(
    warehouse: Path, out: Path, *, gx_docs: bool = True, now: datetime | None = None
) -> tuple[Path, str | None]:
    """Write out/index.html (and out/gx/ Data Docs when `gx_docs`). Returns (page path, note or None)."""
    warehouse = Path(warehouse).resolve()
    out = Path(out)
    fresh = not out.exists()  # a folder of the report's own: marked, so that an input walk over it skips it
    con = connect_read_only(warehouse)
    try:
        data = collect(con)
        note = None
        gx_link = None
        if gx_docs:
            try:
                build_gx_docs(con, out / "gx")
                gx_link = "gx/index.html"
            except Exception as exc:  # GX internals vary; the page must still be written
                note = f"Great Expectations Data Docs skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        con.close()
    out.mkdir(parents=True, exist_ok=True)
    if fresh:
        (out / OUTPUT_MARKER).touch()
    page = out / "index.html"
    page.write_text(
        render_html(data, warehouse=str(warehouse), generated_at=now or datetime.now(UTC), gx_link=gx_link),
        encoding="utf-8",
    )
    return page, note


def build_gx_docs(con: duckdb.DuckDBPyConnection, dest: Path) -> Path:
    """Validate the published tables with every suite in expectations/ and build GX Data Docs into `dest`.

    GX 1.x only builds Data Docs from a file context, so one is created in a temporary directory from the
    committed suites; the site's store points at `dest`. Returns dest/index.html.
    """
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    dest = Path(dest).resolve()
    if dest.exists():
        shutil.rmtree(dest)
    with tempfile.TemporaryDirectory(prefix="newsetl-gx-") as tmp:
        ctx = gx.get_context(mode="file", project_root_dir=tmp)
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        for name in list(ctx.list_data_docs_sites()):
            ctx.delete_data_docs_site(name)
        ctx.add_data_docs_site(
            "report",
            {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(dest)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        source = ctx.data_sources.add_pandas("warehouse")
        for spec_file in sorted(SUITES_DIR.glob("*.json")):
            spec = json.loads(spec_file.read_text(encoding="utf-8"))
            table = spec["meta"]["table"]
            if table == "checks":
                df = stored_checks(con)
                df = run_checks(con, MODEL_CHECKS) if df is None else df
            else:
                exists = con.execute(
                    "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND schema_name = 'main'", [table]
                ).fetchone()[0]
                if not exists:
                    continue
                df = con.execute(f'SELECT * FROM "{table}"').df()
            exps = [
                ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {})).to_domain_obj()
                for e in spec["expectations"]
            ]
            suite = ctx.suites.add(gx.ExpectationSuite(name=spec["name"], expectations=exps, meta=spec.get("meta", {})))
            batch_def = source.add_dataframe_asset(spec_file.stem).add_batch_definition_whole_dataframe("published")
            vd = ctx.validation_definitions.add(
                gx.ValidationDefinition(name=spec_file.stem, data=batch_def, suite=suite)
            )
            checkpoint = ctx.checkpoints.add(
                gx.Checkpoint(
                    name=f"report_{spec_file.stem}",
                    validation_definitions=[vd],
                    actions=[UpdateDataDocsAction(name="data_docs", site_names=["report"])],
                )
            )
            checkpoint.run(batch_parameters={"dataframe": df})
    return dest / "index.html"


# --- Prefect artifact -------------------------------------------------------------------------------------------
def run_summary_markdown(
    summary: dict[str, Any], dq_rows: Iterable[dict[str, Any]], report_url: str | None = None
) -> str:
    """Markdown for the Prefect artifact published at the end of a run. Pure.

    `summary` is the flow's RunSummary as a dict (run_id, status, warehouse, counts, seconds, message);
    `dq_rows` are the run's dq_results rows (stage, expectation, column_name, success, severity,
    unexpected_count). `report_url` links the HTML report when one was written.
    """
    dq = list(dq_rows)
    counts = summary.get("counts") or {}
    seconds = summary.get("seconds") or {}
    lines = [
        f"# newsetl run `{summary.get('run_id', '?')}`: {summary.get('status', '?')}",
        "",
        f"Warehouse: `{summary.get('warehouse', '?')}`",
    ]
    if summary.get("message"):
        lines += ["", f"> {summary['message']}"]
    if report_url:
        lines += ["", f"[Run report]({report_url})"]
    lines += ["", "## Counts per stage", "", "| count | value |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in counts.items()]
    if seconds:
        lines += ["", "| stage | seconds |", "|---|---:|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in seconds.items()]
    stages: dict[str, list[dict]] = {}
    for r in dq:
        stages.setdefault(r.get("stage") or "?", []).append(r)
    n_fail = sum(1 for r in dq if not r.get("success"))
    lines += [
        "",
        "## Quality",
        "",
        f"{len(dq)} expectation(s) evaluated, {n_fail} failed.",
        "",
        "| stage | evaluated | failed (error) | failed (warning) |",
        "|---|---:|---:|---:|",
    ]
    for stage, rows in stages.items():
        err = sum(1 for r in rows if not r.get("success") and r.get("severity") == "error")
        warn = sum(1 for r in rows if not r.get("success") and r.get("severity") != "error")
        lines.append(f"| {stage} | {len(rows)} | {err} | {warn} |")
    failed = [r for r in dq if not r.get("success")]
    if failed:
        lines += ["", "Failures:", ""]
        lines += [
            f"- **{r.get('severity', 'error')}** {r.get('stage')}: {r.get('expectation')}"
            f"({r.get('column_name') or ''}) on {r.get('unexpected_count') or 0} row(s)"
            for r in failed
        ]
    return "\n".join(lines) + "\n"
