"""Scale-out: the same tables on every runner, map tasks in the workers, an external Dask cluster, resume.

The corpus is big enough for every path that changes with size: 2,200 generated short articles in 102 files
(txt, md, html, and grouped JSONL, JSONL.gz, CSV and Parquet files), cut into ~10 shards, 20+ extract slices. On
it, an external cluster gives the default runner's (a local cluster's) tables. A smaller corpus (600 articles,
6 shards, 15+ slices) is run by the thread, process-pool and (resumed, by the CLI) local Dask runners: the same
tables on all three.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import ROOT, q
from warehouse.fingerprint import table_fingerprints

SHARD_BYTES = "100000"  # ~10 shards of the 1 MB corpus
BATCH = 100
FRESH_WORKERS_DOCS = "1000"  # below the corpus's ~2,000 new documents: the run's own workers restart for extract
ONE_WORKER_DOCS = "1000"  # and its dedup reduces run on one worker


def _corpus(root: Path, n: int, seed: int, words: tuple[int, int]) -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from make_corpus import write_corpus
    finally:
        sys.path.pop(0)
    write_corpus(n, root, seed, words)
    return root / "docs"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    docs = _corpus(tmp_path_factory.mktemp("corpus"), 2200, 3, (60, 110))
    assert len([p for p in docs.rglob("*") if p.is_file()]) >= 100
    return docs


@pytest.fixture(scope="module")
def local_dask(corpus, tmp_path_factory, prefect_harness) -> Path:
    """The corpus through the default runner, a local Dask cluster of 2 worker processes, which restarts them
    before extract (as from 5,000 documents by default: flows.runners.fresh_workers)."""
    from flows.runners import configured_flow

    wh = tmp_path_factory.mktemp("local_dask")
    with _env(
        NEWSETL_SHARD_BYTES=SHARD_BYTES,
        NEWSETL_FRESH_WORKERS_DOCS=FRESH_WORKERS_DOCS,
        NEWSETL_ONE_WORKER_DOCS=ONE_WORKER_DOCS,
    ):
        flow = configured_flow("dask", workers=2)
        state = flow(inputs=[str(corpus)], warehouse=str(wh), batch_size=BATCH, return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["counts"]["shards"] >= 8
    return wh


class _env:
    def __init__(self, **values: str) -> None:
        self.values, self.saved = values, {}

    def __enter__(self) -> None:
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc: object) -> None:
        for k, v in self.saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def run_counts(wh: Path) -> dict:
    return json.loads(q(wh, "SELECT counts FROM runs ORDER BY started_at DESC LIMIT 1")[0][0])


def test_local_dask_cluster_runs_the_map_tasks_in_its_workers(local_dask):
    counts = run_counts(local_dask)
    for stage in ("ingest", "normalize", "language", "extract"):
        workers = counts["workers"][stage]
        assert counts["flow_worker"] not in workers, (stage, workers)
        assert all(w.split(":")[1] != str(os.getpid()) for w in workers)
    assert len(counts["workers"]["extract"]) == 2  # both worker processes extracted
    assert not _pids(counts["workers"]["extract"]) & _pids(counts["workers"]["language"])  # by fresh workers
    assert counts["task_children"] == 0  # no task started a process (a Dask worker is daemonic: it could not)
    assert counts["documents_new"] >= 2000


def _pids(workers: list[str]) -> set[str]:
    return {w.split(":")[1] for w in workers}  # host:pid:name


def test_a_task_in_a_daemonic_worker_starts_no_process(corpus, tmp_path):
    """An ingest and a normalize task run in a daemonic process (as in a Dask worker, which may not start
    children); before issue 17 they started a process pool there and failed."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:  # pool workers are daemonic processes
        got = pool.apply(_tasks_in_daemon, (str(corpus), str(tmp_path / "wh")))
    assert got["daemon"] is True
    assert got["children"] == 0 and got["docs"] > 100


def _tasks_in_daemon(corpus: str, wh: str) -> dict:
    import multiprocessing

    from flows.context import RunContext
    from flows.ingest import ingest_task, repeated_lines_task
    from flows.normalize import normalize_task
    from transforms.readers import discover, hash_file
    from transforms.shards import plan_shards
    from warehouse.staging import WorkArea

    files = [hash_file(p) for p in discover([corpus])[0]]
    shard = plan_shards(files, 1 << 30)[0]
    ctx = RunContext("r1", wh, WorkArea.of(Path(wh), "k"), "2026-01-01T00:00:00+00:00", 10**6, 100)
    ingested = ingest_task.fn(ctx, shard)
    normalized = normalize_task.fn(ctx, shard, ingested, repeated_lines_task.fn(ctx, [ingested["files"]["lines"]]))
    children = max(ingested["children"], normalized["children"])
    return {
        "daemon": multiprocessing.current_process().daemon,
        "children": children,
        "docs": normalized["rows"]["docs"],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, timeout: float) -> None:
    """Wait until something listens on 127.0.0.1:`port` (the scheduler: workers started before it retry slowly)."""
    end = time.monotonic() + timeout
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert time.monotonic() < end, f"nothing listens on port {port} after {timeout} s"
        time.sleep(0.2)


def test_an_external_dask_cluster_gives_the_default_runners_tables(corpus, local_dask, tmp_path):
    """A scheduler and two worker processes started on their own as the README starts them, as on other machines;
    the flow runs against its address, the tasks report to the flow's API (no worker starts a server of its own),
    and the tables are the default runner's (a local cluster) on the same 2,200 documents. The flow's API is the
    test session's server (the workers are not told of it: the flow hands it to its tasks); a run's own temporary
    server with Dask workers is the resume test's first attempt."""
    from prefect.settings import PREFECT_API_URL

    port, bindir = _free_port(), Path(sys.executable).parent
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    assert "PREFECT_API_URL" not in env
    procs = [
        subprocess.Popen([bindir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                         cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True),
    ]  # fmt: skip
    try:
        _wait_for_port(port, timeout=60)
        procs.append(
            subprocess.Popen([bindir / "dask", "worker", f"tcp://127.0.0.1:{port}", "--nworkers", "2", "--nthreads",
                              "1", "--preload", "flows.worker_setup", "--no-dashboard", "--local-directory",
                              str(tmp_path / "w")],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        )  # fmt: skip
        wh = tmp_path / "wh"
        started = datetime.now(UTC)
        res = subprocess.run(
            [sys.executable, "-m", "flows.cli", "run", "--runner", "dask", "--dask-address", f"tcp://127.0.0.1:{port}",
             "--input", str(corpus), "--warehouse", str(wh), "--batch-size", str(BATCH), "--quiet"],
            cwd=ROOT, env={**env, "NEWSETL_SHARD_BYTES": SHARD_BYTES, "PREFECT_API_URL": PREFECT_API_URL.value(),
                           "NEWSETL_FRESH_WORKERS_DOCS": FRESH_WORKERS_DOCS,
                           "NEWSETL_ONE_WORKER_DOCS": ONE_WORKER_DOCS},
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr[-2000:]
        assert table_fingerprints(wh) == table_fingerprints(local_dask)
        counts = run_counts(wh)
        assert len(counts["workers"]["extract"]) == 2 and counts["task_children"] == 0
        assert all("tcp://" in w for w in counts["workers"]["extract"])  # Dask worker names of the cluster
        assert _pids(counts["workers"]["extract"]) <= _pids(counts["workers"]["language"])  # not the run's to restart
        reported = [name for name in _task_runs_since(started) if name.startswith("extract-")]
        assert len(reported) >= counts["tasks"]["extract"]["n"] >= 20  # in the flow's API, from the workers
    finally:
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)


def _task_runs_since(started: datetime) -> list[str]:
    """Names of the task runs the test session's Prefect server holds that started after `started`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterStartTime

    since = TaskRunFilter(start_time=TaskRunFilterStartTime(after_=started))
    names: list[str] = []
    with get_client(sync_client=True) as client:
        # pages of 200, the most the API returns at once
        while page := client.read_task_runs(task_run_filter=since, limit=200, offset=len(names)):
            names += [r.name for r in page]
    return names


SMALL_SHARD_BYTES, SMALL_BATCH = "60000", 40


@pytest.fixture(scope="module")
def small(tmp_path_factory, prefect_harness) -> tuple[Path, dict[str, str], int]:
    """600 short articles in 6 shards and 15 extract slices, and their tables from an uninterrupted run."""
    from flows.runners import configured_flow

    docs = _corpus(tmp_path_factory.mktemp("small"), 600, 5, (60, 120))
    wh = tmp_path_factory.mktemp("small_reference")
    with _env(NEWSETL_SHARD_BYTES=SMALL_SHARD_BYTES):
        flow = configured_flow("thread")
        state = flow(inputs=[str(docs)], warehouse=str(wh), batch_size=SMALL_BATCH, return_state=True)
    assert state.is_completed(), state.message
    slices = q(wh, "SELECT count(*) FROM (SELECT DISTINCT regexp_extract(path, '-(\\d+)\\.parquet$', 1) "
                   "FROM _partitions WHERE table_name = 'extractions')")[0][0]  # fmt: skip
    assert slices >= 10
    return docs, table_fingerprints(wh), slices


@pytest.mark.slow  # ~35 s: `make bench` runs it; the default suite keeps the Dask runner's tests (issue 17)
def test_the_process_pool_runner_gives_the_thread_runners_tables(small, tmp_path, prefect_harness):
    """Prefect's ProcessPoolTaskRunner (2 processes) on 6 shards and 15+ slices: the thread runner's tables (the
    resume test below shows the default Dask runner's are the same too)."""
    from flows.runners import configured_flow

    docs, expected, _ = small
    with _env(NEWSETL_SHARD_BYTES=SMALL_SHARD_BYTES):
        flow = configured_flow("process", workers=2)
        state = flow(inputs=[str(docs)], warehouse=str(tmp_path / "wh"), batch_size=SMALL_BATCH, return_state=True)
    assert state.is_completed(), state.message
    assert table_fingerprints(tmp_path / "wh") == expected
    assert len(run_counts(tmp_path / "wh")["workers"]["extract"]) == 2


def _group_gone(pgid: int, timeout: float = 20) -> bool:
    import psutil

    end = time.time() + timeout
    while time.time() < end:
        alive = []
        for p in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(p.pid) == pgid:
                    alive.append(p.pid)
            except (ProcessLookupError, psutil.Error):
                continue
        if not alive:
            return True
        time.sleep(0.5)
    return False


def _killed(args: list[str], env: dict, kill: str) -> int:
    """Run `newsetl run` (own process group) until the kill point `kill`; the pid (= its process group)."""
    p = subprocess.Popen(args, cwd=ROOT, env={**env, "NEWSETL_TEST_KILL_AT": kill}, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    assert p.wait(timeout=600) == -signal.SIGKILL
    return p.pid


def test_a_run_killed_during_extraction_resumes_from_its_completed_tasks(small, tmp_path):
    """Killed mid-extraction, first only the flow's process (as an out-of-memory kill would), then, resumed, the
    whole process group; started again on the same input it completes: the tasks completed before each kill are not
    run again and the tables equal an uninterrupted run's. Nothing is published before, and no process of a killed
    run is left (its Dask workers, and after the first kill its own Prefect server, die with it). The attempts after
    the first report to the test session's Prefect server: each saves a server start-up (~8-15 s here)."""
    from prefect.settings import PREFECT_API_URL

    docs, expected, n_slices = small
    wh = tmp_path / "wh"
    args = [sys.executable, "-m", "flows.cli", "run", "--input", str(docs), "--warehouse", str(wh),
            "--batch-size", str(SMALL_BATCH), "--n-process", "2"]  # fmt: skip
    own_server = {**os.environ, "NEWSETL_SHARD_BYTES": SMALL_SHARD_BYTES, "PREFECT_LOGGING_LEVEL": "INFO"}
    env = {**own_server, "PREFECT_API_URL": PREFECT_API_URL.value()}
    assert env["PREFECT_API_URL"]  # the session's server (`small` starts it)
    done: list[str] = []
    for kill, kill_env in (("extract:3:flow", own_server), ("extract:3", env)):
        pgid = _killed(args, kill_env, kill)
        assert _group_gone(pgid), f"a process of the run killed at {kill} is still running"
        assert not (wh / "newsetl.duckdb").exists()  # nothing was published
        (work,) = (wh / ".staging" / "work").iterdir()  # one plan: the second attempt resumed the first's
        now = sorted(p.name for p in (work / "extract").glob("*.done.json"))
        assert set(done) < set(now) and len(now) < n_slices  # the resumed attempt kept what the first had done
        done = now

    res = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"extract: {len(done)} of {n_slices} slices already done by an earlier attempt" in res.stderr
    assert f"extract: {n_slices - len(done)}/{n_slices - len(done)} slices" in res.stderr  # only the rest ran
    assert run_counts(wh)["reused_tasks"] >= len(done) + 3  # and every ingest/normalize/... task before them
    assert table_fingerprints(wh) == expected
