"""The task runner, the run's only parallelism, chosen by configuration; the flow code does not change.

`dask` (default): a local Dask cluster of `n_process` single-threaded worker processes, or an existing cluster
at `--dask-address` (workers on other machines). `process`: Prefect's ProcessPoolTaskRunner. `thread`: threads
in the flow's process (for small inputs and tests: no worker start-up, one core for Python work).
The choice of the default is measured in docs/architecture.md ("Choosing the runner").
"""

from __future__ import annotations

import logging
import os
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


def dask_settings() -> None:
    """Bound Dask's in-memory developer logs in this process and in the workers it starts (a nanny hands its
    worker this process's Dask config)."""
    import dask

    dask.config.set({"distributed.admin.low-level-log-length": DASK_LOG_LENGTH})


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
        return self._cluster.scheduler_address

    def close(self) -> None:
        """Stop the cluster (once; later calls do nothing)."""
        self._thread.join()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


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

    Prefect starts such a server on its own, but as a plain child process: when the run is killed (an
    out-of-memory kill of the flow's process), it stays behind forever. This one is started the same way and
    dies with the process that started it (Linux's parent-death signal)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield PREFECT_API_URL.value()
        return
    server = _server_class()()
    server.start()
    try:
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


def _server_class() -> type:
    import signal
    import subprocess
    import sys

    import prefect
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    def die_with_parent() -> None:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    class Server(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen:  # as Prefect's, plus the parent-death signal
            app = str(prefect.__module_path__.parent)
            env = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
            env |= get_current_settings().to_environment_variables(exclude_unset=True)
            return subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--app-dir", app, "--factory", "prefect.server.api.server:create_app",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
                env={**os.environ, **env},
                preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )  # fmt: skip

    return Server


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
