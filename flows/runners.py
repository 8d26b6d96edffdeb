"""The task runner, the run's only parallelism, chosen by configuration; the flow code does not change.

`dask` (default): a local Dask cluster of `n_process` single-threaded worker processes, or an existing cluster
at `--dask-address` (workers on other machines). `process`: Prefect's ProcessPoolTaskRunner. `thread`: threads
in the flow's process (for small inputs and tests: no worker start-up, one core for Python work).
The choice of the default is measured in docs/architecture.md ("Choosing the runner").
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

RUNNERS = ("dask", "process", "thread")
DEFAULT_RUNNER = "dask"


def thread_runner() -> Any:
    """Prefect's thread runner with a bounded pool: twice the cores, at least 4 (its default starts a thread for
    every task submitted at once)."""
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=max(4, 2 * (os.cpu_count() or 1)))


def _workers(workers: int | None) -> int:
    return workers or int(os.environ.get("NEWSETL_N_PROCESS") or os.cpu_count() or 1)


def task_runner(name: str | None = None, address: str | None = None, workers: int | None = None) -> Any:
    """`dask` → DaskTaskRunner on `address`, or a new local cluster of `workers` single-threaded processes;
    `process` → ProcessPoolTaskRunner of `workers` processes; `thread` → threads in this process."""
    name = name or os.environ.get("NEWSETL_RUNNER") or DEFAULT_RUNNER
    address = address or os.environ.get("NEWSETL_DASK_ADDRESS") or None
    if address and name != "dask":
        raise ValueError(f"--dask-address needs --runner dask, got --runner {name}")
    if name == "thread":
        return thread_runner()
    if name == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=_workers(workers))
    if name == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=local_cluster(_workers(workers)))
    raise ValueError(f"runner must be one of {', '.join(RUNNERS)}, got {name!r}")


# Dask keeps developers' logs (transitions, events, recent messages, a worker's stimuli) of
# `distributed.admin.low-level-log-length` entries each, 1,000 by default. A local cluster's scheduler lives in the
# flow's process, and there these logs held ~75 KB per finished task: a trivial flow of 3 x 400 tasks grew
# 239 -> 270 -> 298 MiB, and 235 -> 238 -> 239 MiB with 100 entries. They were one of two causes of the flow
# process growing with the corpus; the other (every submitted task's spec) is bounded by flows.context.map_tasks
# (docs/architecture.md, "Execution model").
DASK_LOG_LENGTH = 100


# How long a local cluster waits for a worker that left the scheduler before it closes the worker's nanny (Dask's
# default: 15 s). A restarted worker runs the preload again before it rejoins: 9.5-13 s here on a quiet machine,
# 20-24 s with both cores busy, when the default closed every nanny during `fresh_workers` and the run waited for ever.
LOST_WORKER_TIMEOUT = "300s"


# A local cluster's scheduler and nannies live in the flow's process, each a Dask server with its own housekeeping on
# the process's event loop: a tick every 20 ms, a system monitor every 500 ms, and per nanny a memory monitor every
# 100 ms (it ends a worker past 95 % of its memory limit). Measured with an idle 2-worker cluster, 30 s each,
# alternating: the flow process used 5.2-5.6 % of a core with Dask's defaults, 0.9 % with the workers' quieter
# intervals (flows.worker_setup.QUIET_INTERVALS_MS) and the memory monitor every second; in two 10k runs, 52.7 CPU-s
# before and 36.3 after (docs/architecture.md, "The flow process's Dask housekeeping").
MEMORY_MONITOR_MS = 1000


def dask_settings() -> None:
    """Bound Dask's in-memory developer logs in this process and in the workers it starts (a nanny hands its
    worker this process's Dask config), give a local cluster's restarted workers time to come back, and quiet the
    housekeeping of the scheduler and the nannies in this process (and of the workers, as their preload does)."""
    import dask

    from flows.worker_setup import QUIET_INTERVALS_MS

    dask.config.set(
        {
            "distributed.admin.low-level-log-length": DASK_LOG_LENGTH,
            "distributed.deploy.lost-worker-timeout": LOST_WORKER_TIMEOUT,
            "distributed.admin.tick.interval": f"{QUIET_INTERVALS_MS['tick']}ms",
            "distributed.admin.system-monitor.interval": f"{QUIET_INTERVALS_MS['monitor']}ms",
            "distributed.worker.memory.monitor-interval": f"{MEMORY_MONITOR_MS}ms",
        }
    )


def local_cluster(n_workers: int) -> dict[str, Any]:
    """LocalCluster settings: one single-threaded worker process per core, no dashboard, quiet logs, bounded
    developer logs (`dask_settings`, applied here: the cluster starts with them)."""
    dask_settings()
    logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO lines (per worker start/stop) are noise
    return {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
        # no dashboard; the scheduler's HTTP server (health routes) on a free port: with None it takes 8787, and
        # where that is taken (a user's own Dask dashboard, a second run) every run printed a four-line UserWarning
        "scheduler_kwargs": {"dashboard": False, "dashboard_address": ":0"},
        "silence_logs": logging.WARNING,
        "preload": ["flows.worker_setup"],  # each worker loads GX, spaCy and langdetect once, in the background
    }


def default_runner() -> Any:
    return task_runner()


class EarlyCluster:
    """A local Dask cluster started in the background now, so that its workers start and load their state (the
    preload) while the flow's Prefect server starts; `address()` waits for it. `close()` stops it."""

    def __init__(self, n_workers: int) -> None:
        import threading

        import distributed
        import distributed.deploy.local  # noqa: F401  can trip Python's import-lock deadlock detection)

        self._cluster: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, args=(n_workers,), name="newsetl-cluster", daemon=True)
        self._thread.start()

    def _start(self, n_workers: int) -> None:
        try:
            from distributed import LocalCluster

            self._cluster = LocalCluster(**local_cluster(n_workers))
        except BaseException as exc:  # reported by address()
            self._error = exc

    def address(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise RuntimeError(f"the local Dask cluster did not start: {self._error}") from None
        _OWN_CLUSTERS[self._cluster.scheduler_address] = self._cluster
        return self._cluster.scheduler_address

    def close(self) -> None:
        """Stop the cluster (once; later calls do nothing)."""
        self._thread.join()
        if self._cluster is not None:
            _OWN_CLUSTERS.pop(self._cluster.scheduler_address, None)
            self._cluster.close()
            self._cluster = None


# The local clusters this process started (EarlyCluster), by scheduler address: their workers are the run's to restart
# and to scale.
_OWN_CLUSTERS: dict[str, Any] = {}
RESTART_TIMEOUT_S = 120.0
SCALE_TIMEOUT_S = 30.0


def _own_cluster() -> tuple[Any, Any] | None:
    """(client, cluster) of the running flow's Dask runner when its cluster is the run's own local cluster (one
    prefect-dask started, or an EarlyCluster's); None for a cluster given by address (`--dask-address`), for the
    other runners, and before the runner's first task (its client starts with it)."""
    from prefect.context import FlowRunContext

    runner = getattr(FlowRunContext.get(), "task_runner", None)
    client = getattr(runner, "_client", None)  # a started DaskTaskRunner's (as flows.context.in_flight reads it)
    if client is None:
        return None
    cluster = getattr(runner, "_cluster", None) or _OWN_CLUSTERS.get(getattr(runner, "address", None))
    return None if cluster is None else (client, cluster)


def _n_workers(client: Any) -> int:
    return len(client.scheduler_info(n_workers=-1)["workers"])


def fresh_workers() -> bool:
    """Restart the workers of the running flow's own local Dask cluster; whether it did. Each nanny starts a new worker
    process, which loads its state again (the preload, flows.worker_setup): 7.5-13 s on this 2-core machine, ~24 s
    with both cores busy.

    One of the three memory measures the flow takes between stages (etl.run_pipeline calls it before a large
    extract; `one_worker` and `keep_one_worker` are the others): after ingest, normalize, the near-dup reduce and
    language a worker holds ~150 MiB more than a loaded worker (imports, allocator fragmentation; the 100k near-dup
    worker kept 857 MiB), and NER adds to that. Measured on the 10k bench corpus, sampled every 0.5 s: extract's
    tree peak 1,848 MiB with fresh workers against 2,098, load's 1,995 against 2,105 (docs/architecture.md, "Where
    the tree peaks now").

    A cluster given by address (`--dask-address`) is not the run's: its workers are left alone, as are the process
    and thread runners. A restart that fails is logged and the stage goes on with the workers there are (a worker
    back later than `LOST_WORKER_TIMEOUT` has lost its nanny: the run would then wait). A resumed run counts only
    the documents its earlier attempts did not extract (`flows.run.pending_documents`)."""
    from prefect import get_run_logger

    own = _own_cluster()
    if own is None:
        return False
    try:
        own[0].restart(timeout=RESTART_TIMEOUT_S)
    except Exception as exc:  # the workers come back when they can; the tasks wait for them
        get_run_logger().warning(f"the local workers did not restart: {exc}")
        return False
    return True


def _scale_to_one(client: Any, cluster: Any) -> bool:
    """Scale a SpecCluster (LocalCluster) down to its smallest worker (by the scheduler's memory figure) through the
    cluster's own scaling, which retires the others on the scheduler and closes their nannies (a worker retired on
    the scheduler alone left its nanny to the cluster's close, which then logged a traceback from the nanny's
    thread); waits until the scheduler has one worker, so the next task cannot go to one being retired."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    keep = min(workers, key=lambda a: workers[a]["metrics"]["memory"])
    for name in [n for n in cluster.worker_spec if n != workers[keep]["name"]]:
        del cluster.worker_spec[name]
    cluster.scale(len(cluster.worker_spec))
    deadline = time.monotonic() + SCALE_TIMEOUT_S
    while _n_workers(client) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    return _n_workers(client) <= 1


def keep_one_worker() -> bool:
    """Scale the running flow's own local Dask cluster down to its smallest worker; whether it did. Called after
    extract: the entities reduce and load, the run's last tasks, run one task at a time, and the other workers would
    idle through them holding their state (~590-780 MiB each) beside load's DuckDB build (a 10k run killed before
    entities and resumed: the tree peaked at 1,911-1,915 MiB in load without it, 1,599-1,757 with it called just
    before load, when the retired process was still exiting as load began; it exits ~2 s after the call).
    etl.run_pipeline calls it after an extract of `NEWSETL_FRESH_WORKERS_DOCS` documents or more, and publish before
    a full refresh's load: a smaller run peaks in extract, and a worker retired while its heartbeat was in flight
    once logged Dask's "Failed to communicate with scheduler during heartbeat" traceback in a seeds run.

    Only the run's own cluster (as `fresh_workers`): the workers of a cluster given by `--dask-address` serve other
    runs and clients too. A scale-down that fails is logged and the run goes on with the workers there are."""
    from prefect import get_run_logger

    own = _own_cluster()
    if own is None or len(getattr(own[1], "worker_spec", ())) < 2 or _n_workers(own[0]) < 2:
        return False
    try:
        done = _scale_to_one(*own)
    except Exception as exc:
        get_run_logger().warning(f"the local workers were not retired: {exc}")
        return False
    if done:
        get_run_logger().info("the next reduce tasks run on one worker; the others are retired (keep_one_worker)")
    else:
        get_run_logger().warning("the local cluster did not scale down to one worker; the tasks go on")
    return done


@contextmanager
def one_worker(enabled: bool = True) -> Iterator[bool]:
    """Run the enclosed reduce tasks with the running flow's own local Dask cluster scaled down to its smallest
    worker, and scale it back after (new worker processes, which load their state again: flows.worker_setup); yields
    whether it scaled down.

    The dedup reduces run in one task at a time, and a worker idling beside them holds what ingest and normalize left
    in it (~670 MiB): on the 100k bench corpus the near-dup reduce put the tree at 2,091 MiB (its worker 998, the
    idle one 668, the flow 393). The new worker loads its state while the next stage's first tasks run on the worker
    kept (~8-10 s of one core; language took 13.1 s at 10k against 9.7 without it). So etl.run_pipeline enables it
    from `NEWSETL_ONE_WORKER_DOCS` normalized documents (30,000): below that the reduce is not the run's peak (at 10k,
    without it, the tree peaked at 1,689 MiB in the dedup reduces and 1,911 in extract; the reduce's tree grew ~4.5
    MiB per 1,000 documents from 10k to 100k). Only the run's own cluster (as `fresh_workers`); `enabled` False
    does nothing."""
    own = _own_cluster() if enabled else None
    n = len(getattr(own[1], "worker_spec", ())) if own is not None else 0  # a SpecCluster's (LocalCluster's) workers
    scaled = n >= 2 and keep_one_worker()
    try:
        yield scaled
    finally:
        if n >= 2:
            own[1].scale(n)  # also after a scale-down that failed part way


def configured_flow(runner: str | None = None, address: str | None = None, workers: int | None = None) -> Any:
    from flows.etl import etl_flow

    return etl_flow.with_options(task_runner=task_runner(runner, address, workers))


@contextmanager
def api_for_workers() -> Iterator[str | None]:
    """Make every task report to this flow's Prefect API, also from worker processes and other machines.

    Tasks run on workers with the flow's serialized settings. Without PREFECT_API_URL those settings name no
    API, and each worker process started a temporary server of its own that outlived the run. So when none is
    configured, the flow's own temporary server (the one its client already uses) is set as the API URL for the
    tasks it submits."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield PREFECT_API_URL.value()
        return
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        url = str(client.api_url).rstrip("/")
    if not url.startswith("http"):  # an in-process API (no server to point workers at)
        yield None
        return
    with temporary_settings({PREFECT_API_URL: url}):
        yield url


@contextmanager
def local_api() -> Iterator[str | None]:
    """A temporary Prefect API server for one `newsetl run` when none is configured (PREFECT_API_URL unset).

    Prefect would start such a server on its own as a child process (~220 MiB, its own imports) that stays
    behind when the run is killed. This one serves the same app in this process (`ApiServer`): it ends with
    the process, however the process ends."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield PREFECT_API_URL.value()
        return
    server = ApiServer()
    try:
        server.start()  # its port is bound already: closed by stop() also when the app fails to start
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield server.api_url
            _drain_logs()  # the run's last log records go to the server before it stops
    finally:
        server.stop()


def _drain_logs() -> None:
    """Send the log records Prefect still holds to the API now. Once the server is gone they would be retried
    at exit: that took 90 s after every run (then 'Error logging to API')."""
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)


class ApiServer:
    """Prefect's API app as Prefect's temporary server builds it (`create_app(ephemeral=True)`: no UI, no
    background services), served by uvicorn on a thread of this process, on a free port of 127.0.0.1.

    Measured against Prefect's own temporary server (a uvicorn child process) in docs/architecture.md ("Runners",
    the temporary API server): the child's RSS and imports are gone from the run; the flow process grows by less."""

    def __init__(self) -> None:
        import socket

        self._socket = socket.create_server(("127.0.0.1", 0))  # bound now: no other process can take the port
        self.port: int = self._socket.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self._server: Any = None
        self._thread: Any = None

    def start(self, timeout: float = 120.0) -> None:
        """Serve, and return once the app has started (its database migrated); RuntimeError if it cannot."""
        import threading
        import time

        import uvicorn
        from prefect.server.api.server import create_app

        app = create_app(ephemeral=True, ignore_cache=True)  # a new app: its start-up (lifespan) runs again
        config = uvicorn.Config(app, log_level="error", lifespan="on", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="newsetl-prefect-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Prefect's temporary API server did not start (see the log above)")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop serving (once; later calls do nothing)."""
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
            self._server = None
        self._socket.close()


def check_runner(runner: str | None, address: str | None) -> None:
    """Raise ValueError (one line) for a runner setting that cannot work, without importing the flow."""
    name = runner or os.environ.get("NEWSETL_RUNNER") or DEFAULT_RUNNER
    if name not in RUNNERS:
        raise ValueError(f"runner must be one of {', '.join(RUNNERS)}, got {name!r}")
    if (address or os.environ.get("NEWSETL_DASK_ADDRESS")) and name != "dask":
        raise ValueError(f"--dask-address needs --runner dask, got --runner {name}")


def wants_local_cluster(runner: str | None, address: str | None) -> bool:
    """Whether these settings run on a local Dask cluster (the default)."""
    name = runner or os.environ.get("NEWSETL_RUNNER") or DEFAULT_RUNNER
    return name == "dask" and not (address or os.environ.get("NEWSETL_DASK_ADDRESS"))
