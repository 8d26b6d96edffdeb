"""Task runner chosen by configuration: threads in-process (default) or a Dask cluster via prefect-dask.

The flow code does not change: `configured_flow()` returns the etl flow with the runner set.
"""

from __future__ import annotations

import os
from typing import Any

RUNNERS = ("thread", "process", "dask")


def task_runner(name: str | None = None, address: str | None = None, workers: int | None = None) -> Any:
    """`thread` → ThreadPoolTaskRunner; `process` → ProcessPoolTaskRunner of `workers` processes (default 2: one
    per core here); `dask` → DaskTaskRunner on `address`, or a new local cluster of `workers` single-threaded
    processes."""
    name = name or os.environ.get("NEWSETL_RUNNER", "thread")
    address = address or os.environ.get("NEWSETL_DASK_ADDRESS") or None
    if name == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner()
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
