"""Task runner chosen by configuration: threads in-process (default) or a Dask cluster via prefect-dask.

The flow code does not change: `configured_flow()` returns the etl flow with the runner set.
"""

from __future__ import annotations

import os
from typing import Any

RUNNERS = ("thread", "process", "dask")


def thread_runner() -> Any:
    """Prefect's thread runner with a bounded pool: twice the cores, at least 4.

    Its default starts a thread for every task submitted at once: a 100k-document run had 215 threads, one per
    normalize batch. The batches only wait on the worker processes (or hold the GIL), so more threads do not run
    more at once."""
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=max(4, 2 * (os.cpu_count() or 1)))


def task_runner(name: str | None = None, address: str | None = None, workers: int | None = None) -> Any:
    """`thread` → ThreadPoolTaskRunner; `process` → ProcessPoolTaskRunner of `workers` processes (default 2: one
    per core here); `dask` → DaskTaskRunner on `address`, or a new local cluster of `workers` single-threaded
    processes."""
    name = name or os.environ.get("NEWSETL_RUNNER", "thread")
    address = address or os.environ.get("NEWSETL_DASK_ADDRESS") or None
    if name == "thread":
        return thread_runner()
    if name == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=workers or int(os.environ.get("NEWSETL_WORKERS", "2")))
    if name == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        n = workers or int(os.environ.get("NEWSETL_DASK_WORKERS", "2"))
        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True, "dashboard_address": None},
        )
    raise ValueError(f"runner must be one of {', '.join(RUNNERS)}, got {name!r}")


def configured_flow(runner: str | None = None, address: str | None = None) -> Any:
    from flows.etl import etl_flow

    return etl_flow.with_options(task_runner=task_runner(runner, address))
