"""The local Dask cluster's settings (flows/runners.py): its developer logs stay bounded, in the scheduler (which
lives in the flow's process) and in the workers, however many tasks a run submits."""

from __future__ import annotations

import pytest

from flows.runners import DASK_LOG_LENGTH, local_cluster


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_local_cluster_bounds_the_schedulers_and_workers_logs_under_many_tasks() -> None:
    from distributed import Client, LocalCluster

    kwargs = {k: v for k, v in local_cluster(1).items() if k != "preload"}  # no GX/spaCy: only the logs matter
    n_tasks = 3 * DASK_LOG_LENGTH  # each task makes several transitions and worker stimuli
    with LocalCluster(**kwargs) as cluster, Client(cluster) as client:
        results = client.gather(client.map(lambda i: i * 2, range(n_tasks), pure=False))
        assert sum(results) == n_tasks * (n_tasks - 1)
        scheduler = cluster.scheduler
        assert len(scheduler.transition_log) == DASK_LOG_LENGTH  # full, and no longer than the bound
        stimuli = client.run(lambda dask_worker: len(dask_worker.state.stimulus_log))
        assert list(stimuli.values()) == [DASK_LOG_LENGTH]


def test_a_runs_temporary_api_server_is_a_thread_of_its_process_and_stops_with_it() -> None:
    """`newsetl run` without PREFECT_API_URL serves Prefect's API from its own process: no child process (which
    could outlive a killed run), the port answers while it runs and is closed after `stop()`."""
    import threading

    import httpx
    import psutil

    from flows.runners import ApiServer

    def children() -> set[int]:
        return {p.pid for p in psutil.Process().children(recursive=True)}

    def serving() -> bool:
        return any(t.name == "newsetl-prefect-api" and t.is_alive() for t in threading.enumerate())

    before = children()
    server = ApiServer()
    server.start()
    try:
        assert httpx.get(f"{server.api_url}/health", timeout=30).json() is True
        assert children() == before and serving()
    finally:
        server.stop()
    assert not serving()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.api_url}/health", timeout=5)


def _pid() -> int:
    import os

    return os.getpid()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fresh_workers_restarts_only_the_runs_own_local_cluster(prefect_harness, monkeypatch) -> None:
    """`fresh_workers` (called before a large extract) gives the run's own local cluster new worker processes, which
    take tasks again; the workers of a cluster the run did not start are left as they are."""
    from prefect import flow, task
    from prefect_dask import DaskTaskRunner

    from flows import runners

    pid = task(_pid)

    cluster = runners.EarlyCluster(1)
    try:
        address = cluster.address()

        @flow(task_runner=DaskTaskRunner(address=address))
        def restart_between_tasks() -> tuple[int, bool, int]:
            before = pid.submit().result()
            restarted = runners.fresh_workers()
            return before, restarted, pid.submit().result()

        before, restarted, after = restart_between_tasks()
        assert restarted and before != after
        monkeypatch.setattr(runners, "_OWN_SCHEDULERS", set())  # as a cluster given by --dask-address
        before, restarted, after = restart_between_tasks()
        assert not restarted and before == after
    finally:
        cluster.close()
    assert address not in runners._OWN_SCHEDULERS


def test_a_local_cluster_waits_for_restarted_workers_longer_than_their_preload_takes() -> None:
    """Dask's local cluster closes the nanny of a worker gone from the scheduler for `lost-worker-timeout` (15 s by
    default); a worker restarted by `fresh_workers` runs the preload again first (20-24 s with both cores busy), so
    with the default every nanny closed and the run waited for ever."""
    import dask
    from dask.utils import parse_timedelta

    local_cluster(1)
    assert parse_timedelta(dask.config.get("distributed.deploy.lost-worker-timeout")) >= 120
