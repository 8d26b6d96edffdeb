"""The local Dask cluster's settings (flows/runners.py): its developer logs stay bounded, in the scheduler (which
lives in the flow's process) and in the workers, however many tasks a run submits."""

from __future__ import annotations

import logging

import pytest

from flows.runners import DASK_LOG_LENGTH, MEMORY_MONITOR_MS, local_cluster
from flows.worker_setup import QUIET_INTERVALS_MS


def _plain_cluster_kwargs() -> dict:
    """The run's local-cluster settings for one worker, without the preload (no GX or spaCy to load)."""
    return {k: v for k, v in local_cluster(1).items() if k != "preload"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_local_cluster_bounds_the_schedulers_and_workers_logs_under_many_tasks() -> None:
    from distributed import Client, LocalCluster

    kwargs = _plain_cluster_kwargs()  # only the logs matter
    n_tasks = 3 * DASK_LOG_LENGTH  # each task makes several transitions and worker stimuli
    with LocalCluster(**kwargs) as cluster, Client(cluster) as client:
        results = client.gather(client.map(lambda i: i * 2, range(n_tasks), pure=False))
        assert sum(results) == n_tasks * (n_tasks - 1)
        scheduler = cluster.scheduler
        assert len(scheduler.transition_log) == DASK_LOG_LENGTH  # full, and no longer than the bound
        stimuli = client.run(lambda dask_worker: len(dask_worker.state.stimulus_log))
        assert list(stimuli.values()) == [DASK_LOG_LENGTH]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_scheduler_and_nannies_in_the_flows_process_keep_quiet_housekeeping() -> None:
    """The local cluster's scheduler and nannies run in the flow's process: their tick, system monitor and the nannies'
    memory monitors run at the quieter intervals (Dask's defaults: 20, 500 and 100 ms), and so do the workers'."""
    from distributed import Client, LocalCluster

    with LocalCluster(**_plain_cluster_kwargs()) as cluster, Client(cluster) as client:
        servers = [cluster.scheduler, *cluster.workers.values()]  # the nannies
        assert len(servers) == 2
        for server in servers:
            assert server.periodic_callbacks["tick"].callback_time == QUIET_INTERVALS_MS["tick"]
            assert server.periodic_callbacks["monitor"].callback_time == QUIET_INTERVALS_MS["monitor"]
        assert cluster.workers[0].periodic_callbacks["memory_monitor"].callback_time == MEMORY_MONITOR_MS

        def worker_intervals(dask_worker) -> tuple[float, float]:
            return tuple(dask_worker.periodic_callbacks[n].callback_time for n in ("tick", "monitor"))

        quiet = (QUIET_INTERVALS_MS["tick"], QUIET_INTERVALS_MS["monitor"])
        assert list(client.run(worker_intervals).values()) == [quiet]  # no preload here: from the config alone


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_local_cluster_beside_another_on_port_8787_starts_without_a_warning() -> None:
    """A user's own Dask dashboard (or a second run) holds 8787: the run's cluster serves its scheduler's HTTP
    routes on a free port and prints nothing (with `dashboard_address=None` alone it printed a four-line warning)."""
    import socket
    import warnings

    from distributed import Client, LocalCluster

    kwargs = _plain_cluster_kwargs()
    try:
        holder = socket.create_server(("127.0.0.1", 8787))  # else something holds it already
    except OSError:
        holder = None
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with LocalCluster(**kwargs) as cluster, Client(cluster) as client:
                assert client.submit(lambda: 1).result() == 1
                assert cluster.scheduler.http_server.port != 8787
    finally:
        if holder is not None:
            holder.close()
    assert [str(w.message) for w in seen if "8787" in str(w.message)] == []


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


def test_a_server_whose_app_fails_to_start_leaves_no_port_open(monkeypatch):
    """`local_api` closes the port ApiServer bound in its constructor also when Prefect's app cannot be built."""
    import prefect.server.api.server as prefect_server

    from flows import runners

    made: list[runners.ApiServer] = []

    class Recorded(runners.ApiServer):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    def broken_app(*args, **kwargs):
        raise RuntimeError("no app")

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(runners, "ApiServer", Recorded)
    monkeypatch.setattr(prefect_server, "create_app", broken_app)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: None}), pytest.raises(RuntimeError, match="no app"), runners.local_api():
        pass
    assert len(made) == 1 and made[0]._socket.fileno() == -1


def _pid() -> int:
    import os

    return os.getpid()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_memory_measures_change_only_the_runs_own_local_cluster(prefect_harness, monkeypatch) -> None:
    """On the run's own local cluster: `one_worker` (around the dedup reduces of a large run) leaves one worker for
    the tasks inside it and brings a new one back after, `fresh_workers` (before a large extract) gives every worker
    a new process, and `keep_one_worker` (before entities and load) retires all but one; the worker left takes
    tasks. A cluster the run did not start is left as it is by all three."""
    import os

    from prefect import flow, task
    from prefect.context import FlowRunContext
    from prefect_dask import DaskTaskRunner

    from flows import runners

    pid = task(_pid)
    errors: list[str] = []  # what the nannies log (a worker retired on the scheduler alone made them log a traceback)
    handler = logging.Handler(logging.ERROR)
    handler.emit = lambda record: errors.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("distributed.nanny").addHandler(handler)

    cluster = runners.EarlyCluster(2)
    try:
        address = cluster.address()

        @flow(task_runner=DaskTaskRunner(address=address))
        def measures_between_tasks() -> dict:
            pid.submit().result()  # the runner's client starts with its first task
            client = FlowRunContext.get().task_runner._client

            def pids() -> set[int]:
                return set(client.run(os.getpid).values())

            got: dict = {"before": pids()}
            with runners.one_worker() as got["scaled"]:
                got["inside"], got["ran_inside"] = pids(), pid.submit().result()
            client.wait_for_workers(2, timeout=120)
            got["scaled_back"] = pids()
            got["restarted"], got["fresh"] = runners.fresh_workers(), pids()
            got["kept"], got["last"], got["ran"] = runners.keep_one_worker(), pids(), pid.submit().result()
            return got

        monkeypatch.setattr(runners, "_OWN_CLUSTERS", {})  # as a cluster given by --dask-address
        got = measures_between_tasks()
        assert not (got["scaled"] or got["restarted"] or got["kept"])
        assert len(got["before"]) == 2 and got["before"] == got["inside"] == got["fresh"] == got["last"]
        monkeypatch.undo()
        got = measures_between_tasks()
        assert got["scaled"] and len(got["inside"]) == 1 and got["inside"] < got["before"]
        assert got["ran_inside"] in got["inside"]
        assert len(got["scaled_back"]) == 2 and got["inside"] < got["scaled_back"]  # the kept one and a new one
        assert got["restarted"] and got["fresh"].isdisjoint(got["scaled_back"]) and len(got["fresh"]) == 2
        assert got["kept"] and len(got["last"]) == 1 and got["last"] < got["fresh"] and got["ran"] in got["last"]
    finally:
        cluster.close()  # at once after keep_one_worker, as a small run closes it
        logging.getLogger("distributed.nanny").removeHandler(handler)
    assert address not in runners._OWN_CLUSTERS
    assert errors == []


def test_a_local_cluster_waits_for_restarted_workers_longer_than_their_preload_takes() -> None:
    """Dask's local cluster closes the nanny of a worker gone from the scheduler for `lost-worker-timeout` (15 s by
    default); a worker restarted by `fresh_workers` runs the preload again first (20-24 s with both cores busy), so
    with the default every nanny closed and the run waited for ever."""
    import dask
    from dask.utils import parse_timedelta

    local_cluster(1)
    assert parse_timedelta(dask.config.get("distributed.deploy.lost-worker-timeout")) >= 120
