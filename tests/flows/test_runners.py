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
