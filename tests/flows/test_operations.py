"""Operations: deployment + schedule, one writer, crash safety at every stage, identical re-runs and runners."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import ROOT, SEEDS, q
from warehouse.fingerprint import table_fingerprints
from warehouse.store import CATALOG, DATA, Store


def cli(*args: str, env: dict | None = None, timeout: int = 300, api: bool = False) -> subprocess.CompletedProcess:
    """Run `newsetl ...` in its own process group (so a simulated crash takes its Prefect server down too).
    `api`: report to the test session's Prefect server (the test needs `prefect_harness`) rather than start a
    temporary server of its own (~5 s a run); for tests about what a run writes or prints, not about the server."""
    extra = {}
    if api:
        from prefect.settings import PREFECT_API_URL

        extra["PREFECT_API_URL"] = PREFECT_API_URL.value()
        assert extra["PREFECT_API_URL"], "api=True needs the prefect_harness fixture"
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **extra, **(env or {})},
        start_new_session=True,
    )


def catalog_digest(wh: Path) -> str:
    return hashlib.sha256((wh / CATALOG).read_bytes()).hexdigest()


def data_files(wh: Path) -> set[str]:
    """Every partition file on disk (listed by the catalog or not)."""
    return {str(p.relative_to(wh)) for p in (wh / DATA).rglob("*.parquet")}


def listed_files(wh: Path) -> set[str]:
    """The partition files the published catalog reads."""
    return {str(Path(p.path).relative_to(wh)) for p in Store(wh).published_partitions()}


def extra_input(tmp: Path) -> Path:
    d = tmp / "extra"
    d.mkdir()
    (d / "new.jsonl").write_text(
        '{"text": "The city council approved a new budget of $12 million on Tuesday, officials said. '
        'More than 300 residents attended the meeting in the town hall.", "title": "Budget approved"}\n'
        "{not json}\n",
        encoding="utf-8",
    )
    return d


def test_prefect_yaml_deployment_registers_with_schedule_and_runs(tmp_path, prefect_harness, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.flows import load_flow_from_entrypoint
    from prefect.runner import Runner

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    (dep,) = spec["deployments"]
    assert dep["schedules"][0]["cron"] == "0 * * * *"
    flow = load_flow_from_entrypoint(str(ROOT / dep["entrypoint"]))
    wh = tmp_path / "wh"
    deployment = flow.to_deployment(
        name=dep["name"], cron=dep["schedules"][0]["cron"], parameters={"inputs": [str(SEEDS)], "warehouse": str(wh)}
    )
    dep_id = deployment.apply()
    with get_client(sync_client=True) as client:
        stored = client.read_deployment(dep_id)
        assert [s.schedule.cron for s in stored.schedules] == ["0 * * * *"]
    flow_run = run_deployment(f"etl/{dep['name']}", timeout=0)
    # the run's process starts no Dask workers: this is about the deployment, not the runner (test_scale_out.py)
    monkeypatch.setenv("NEWSETL_RUNNER", "thread")
    runner = Runner(query_seconds=1)
    runner.add_deployment(deployment)
    asyncio.run(runner.start(run_once=True))
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run.id).state
    assert state.is_completed(), state
    assert table_fingerprints(wh)["documents"].startswith("5:")
    counts = json.loads(q(wh, "SELECT counts FROM runs")[0][0])
    assert counts["workers"]["extract"] == [counts["flow_worker"]]  # the thread runner: tasks in the run's process


def test_serve_rejects_a_bad_cron_with_one_line():
    from click.testing import CliRunner

    from flows.cli import main

    res = CliRunner().invoke(main, ["serve", "--cron", "every hour"])
    assert res.exit_code == 2
    assert res.output.strip() == "newsetl: error: not a valid cron expression: 'every hour'"


def test_second_writer_is_refused_and_a_stale_lock_is_taken_over(tmp_path, run_etl):
    wh = tmp_path / "wh"
    state, _ = run_etl([SEEDS], wh)
    assert state.is_completed()
    before = (catalog_digest(wh), data_files(wh))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from warehouse.store import writer_lock\n"
            f"with writer_lock(Path({str(wh)!r})):\n    print('held', flush=True); time.sleep(600)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        res = cli("run", "--input", str(extra_input(tmp_path)), "--warehouse", str(wh), timeout=60)
        assert res.returncode == 1
        assert (
            res.stderr.strip() == f"newsetl: error: another newsetl run (pid {holder.pid}) is writing to {wh}; "
            "wait for it to finish"
        )
        assert (catalog_digest(wh), data_files(wh)) == before  # nothing touched at all
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    state, summary = run_etl([tmp_path / "extra"], wh)  # the dead holder's lock is taken over
    assert state.is_completed(), state.message
    assert summary["counts"]["documents_new"] == 1


def test_a_flow_run_on_a_busy_warehouse_is_skipped_not_failed(tmp_path, run_etl):
    """What a scheduled run does when a hand-started run holds the warehouse: it ends Cancelled ('skipped'),
    touches nothing, and `newsetl serve` goes on."""
    from warehouse.store import writer_lock

    wh = tmp_path / "wh"
    with writer_lock(wh):
        state, _ = run_etl([SEEDS], wh)
    assert state.is_cancelled(), state
    assert state.message.startswith("skipped: another newsetl run (pid ") and state.message.endswith("finish")
    assert not (wh / CATALOG).exists() and not (wh / DATA).exists()


def test_a_crash_at_any_stage_leaves_the_old_warehouse_and_the_next_run_completes(tmp_path, run_etl):
    reference, wh = tmp_path / "reference", tmp_path / "wh"
    extra = extra_input(tmp_path)
    state, _ = run_etl([SEEDS], reference)
    assert state.is_completed()
    shutil.copytree(reference, wh)  # the seeds' warehouse, copied (a copy works where it lands: test below)
    state, _ = run_etl([extra], reference)
    assert state.is_completed()
    expected = table_fingerprints(reference)

    old = (catalog_digest(wh), listed_files(wh), table_fingerprints(wh))
    for point in ("ingest", "extract", "load", "publish"):
        # threads: this is about what a kill leaves behind (tests/flows/test_scale_out.py kills Dask runs)
        res = cli("run", "--input", str(extra), "--warehouse", str(wh), "--runner", "thread",
                  env={"NEWSETL_TEST_KILL_AT": point}, api=True)  # fmt: skip
        assert res.returncode == -signal.SIGKILL, (point, res.returncode, res.stderr[-500:])
        # readers still see exactly the old warehouse (a killed run's unlisted files wait for the next writer)
        assert (catalog_digest(wh), listed_files(wh), table_fingerprints(wh)) == old, point
    time.sleep(0.5)
    state, _ = run_etl([extra], wh)  # recovers (removes the killed runs' leftovers) and completes
    assert state.is_completed(), state.message
    assert table_fingerprints(wh) == expected
    assert not (wh / ".staging").exists() or not any((wh / ".staging").iterdir())
    assert data_files(wh) == listed_files(wh)  # leftovers of the killed runs are gone
    assert len(listed_files(wh)) == len(listed_files(reference))


def test_same_input_gives_identical_tables_whatever_the_shard_and_slice_sizes(tmp_path, run_etl, monkeypatch):
    """One shard and one extract slice, or a shard per file and a slice per 2 documents: the same tables."""
    a, b = tmp_path / "a", tmp_path / "b"
    state, _ = run_etl([SEEDS], a)
    assert state.is_completed()
    monkeypatch.setenv("NEWSETL_SHARD_BYTES", "1")
    state, summary = run_etl([SEEDS], b, batch_size=2)
    assert state.is_completed(), state.message
    assert summary["counts"]["shards"] == 5
    assert table_fingerprints(a) == table_fingerprints(b)  # entities are resolved once per run, not per slice
    assert len(list((b / "data" / "mentions").glob("*.parquet"))) == 5  # a slice per shard of one document
    assert len(list((b / "data" / "raw_documents").glob("*.parquet"))) == 5


def test_retries_only_on_io_tasks():
    from flows.dedup import exact_dedup_task, near_dup_task
    from flows.discover import discover_task, plan_task
    from flows.extract import entities_task, extract_task
    from flows.ingest import ingest_task, repeated_lines_task
    from flows.language import cluster_language_task, language_task
    from flows.load import load_task
    from flows.normalize import normalize_task

    io_tasks = (discover_task, plan_task, ingest_task)
    compute = (repeated_lines_task, normalize_task, exact_dedup_task, near_dup_task, language_task,
               cluster_language_task, extract_task, entities_task, load_task)  # fmt: skip
    assert all(t.retries == 2 and t.retry_delay_seconds == [1, 5] for t in io_tasks)
    assert all(not t.retries for t in compute)


def test_a_changed_file_is_ingested_as_a_new_version(tmp_path, seeds_copy, run_etl):
    wh = tmp_path / "wh"
    state, _ = run_etl([seeds_copy], wh)
    assert state.is_completed()
    seed = seeds_copy / "002_141b38bf1068f277.txt"
    seed.write_text(seed.read_text(encoding="utf-8") + "\nA new paragraph was added to this article later on.\n")
    state, summary = run_etl([seeds_copy], wh)
    assert state.is_completed(), state.message
    assert summary["counts"]["files_new"] == 1 and summary["counts"]["files_skipped"] == 4
    assert summary["counts"]["documents_new"] == 1
    rows = q(wh, "SELECT status, count(DISTINCT sha256) FROM source_files WHERE path LIKE '%002_%' GROUP BY 1")
    assert sorted(rows) == [("ingested", 2)]
    # the new version is a near-copy: it joins the old cluster and keeps its canonical; it is extracted too (its own
    # quotes and figures count; the marts count the cluster once)
    new_doc = q(wh, "SELECT doc_id FROM documents WHERE text LIKE '%added to this article later on.'")[0][0]
    old_doc = q(wh, "SELECT canonical_doc_id FROM dup_clusters WHERE doc_id = ?", [new_doc])[0][0]
    assert old_doc != new_doc and q(wh, "SELECT count(*) FROM extractions")[0][0] == 6
    assert q(wh, "SELECT count(*) FROM mart_documents")[0][0] == 5


def test_json_logs_carry_progress_and_the_summary(tmp_path, prefect_harness):
    import json

    wh = tmp_path / "wh"
    res = cli(
        "run",
        "--input",
        str(SEEDS),
        "--warehouse",
        str(wh),
        "--json-logs",
        "--batch-size",
        "2",
        "--runner",
        "thread",  # the output is what is tested: no worker processes to start
        env={"PREFECT_LOGGING_LEVEL": "INFO"},  # the test session runs Prefect at WARNING
        api=True,
    )
    assert res.returncode == 0, res.stderr[-800:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["event"] == "run_finished" and summary["counts"]["documents_new"] == 5
    steps = ("imports", "api_server", "flow_started", "planned", "published", "flow_returned", "api_server_stopped")
    marks = [summary["timeline"][k] for k in steps]  # seconds since the process started, in the order they happen
    assert marks == sorted(marks) and marks[0] > 0 and marks[-1] < 600, summary["timeline"]
    assert "cluster" not in summary["timeline"]  # threads: no cluster to wait for
    records = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    messages = [r["msg"] for r in records]
    progress = [m for m in messages if m.startswith("extract: ") and "slices" in m]
    assert progress and "slices/s" in progress[-1] and "ETA" in progress[-1], messages[:20]
    assert progress[-1].startswith("extract: 3/3 slices")


def test_json_logs_say_a_failed_run_on_stdout_too(tmp_path, prefect_harness):
    """A scheduler reading --json-logs' stdout gets one JSON line for a failed run as for a finished one, beside the
    usual one error line on stderr."""
    import json

    missing = tmp_path / "nothing_here"
    res = cli("run", "--input", str(missing), "--warehouse", str(tmp_path / "wh"), "--json-logs", "--runner", "thread",
              api=True)  # fmt: skip
    assert res.returncode == 1
    (line,) = res.stdout.strip().splitlines()
    assert json.loads(line) == {"event": "run_failed", "error": f"no such file: {missing}", "exit_code": 1}
    assert res.stderr.strip().splitlines()[-1] == f"newsetl: error: no such file: {missing}"
    usage = cli("run", "--batch-size", "0", "--warehouse", str(tmp_path / "wh"), "--json-logs")
    assert usage.returncode == 2 and json.loads(usage.stdout)["event"] == "run_failed"


def test_quiet_prints_only_the_final_line(tmp_path, prefect_harness):
    res = cli("run", "--input", str(SEEDS), "--warehouse", str(tmp_path / "wh"), "--quiet", "--runner", "thread",
              env={"PREFECT_LOGGING_LEVEL": "INFO"}, api=True)  # fmt: skip
    assert res.returncode == 0, res.stderr[-800:]
    assert len(res.stdout.strip().splitlines()) == 1 and res.stdout.startswith("run ")
    assert "INFO" not in res.stderr


def test_a_moved_and_a_copied_warehouse_work_where_they_land(tmp_path, run_etl, monkeypatch):
    """Build on the seeds, move one copy and copy another; each takes queries, validation, a run with extra input,
    a report and a release, and all three give identical tables after the same extra run."""
    import shutil

    from flows.validate import validate_warehouse
    from warehouse.report import write_report

    original = tmp_path / "wh"
    state, _ = run_etl([SEEDS], original)
    assert state.is_completed(), state.message
    moved, copy = tmp_path / "elsewhere" / "moved", tmp_path / "copy"
    shutil.copytree(original, tmp_path / "c0")
    moved.parent.mkdir()
    shutil.move(tmp_path / "c0", moved)
    shutil.copytree(original, copy)
    monkeypatch.chdir(tmp_path / "elsewhere")
    res = cli("query", "SELECT count(*) AS n FROM mart_documents", "--warehouse", str(moved), "--format", "csv")
    assert (res.returncode, res.stdout.split()) == (0, ["n", "5"]), res.stderr
    results, errors = validate_warehouse(moved)
    assert results and errors == []
    extra = extra_input(tmp_path)
    for wh in (original, moved, copy):
        state, summary = run_etl([extra], wh)
        assert state.is_completed(), (wh, state.message)
        assert summary["counts"]["documents_new"] == 1
        assert data_files(wh) == listed_files(wh)
    assert table_fingerprints(moved) == table_fingerprints(copy) == table_fingerprints(original)
    page, _ = write_report(moved, tmp_path / "report", gx_docs=False)
    assert "Run history" in page.read_text(encoding="utf-8")
    for wh in (moved, copy):
        out = tmp_path / f"release-{wh.name}"
        res = cli("release", "--version", "1.0", "--out", str(out), "--warehouse", str(wh))
        assert res.returncode == 0, res.stderr
        res = cli("release", "--verify", "1.0", "--out", str(out))
        assert res.returncode == 0 and "verified" in res.stdout, res.stderr
        manifest = json.loads((out / "1.0" / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["tables"]["documents"]["rows"] == 6
