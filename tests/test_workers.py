"""The shared worker pool of transforms.workers (spawned processes; no Prefect)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import psutil

from transforms import workers


def _spawned() -> set[int]:
    """Pids of this process's spawned workers (not multiprocessing's resource tracker)."""
    return {p.pid for p in psutil.Process().children() if "spawn_main" in " ".join(p.cmdline())}


def test_concurrent_callers_start_one_pool_of_n_workers():
    """A stage's batches call in from several threads at once: they share one pool of n_jobs processes."""
    workers.close_pool()
    before = _spawned()
    try:
        with ThreadPoolExecutor(6) as threads:
            pids = set(threads.map(lambda _: workers.run_batch(os.getpid, n_jobs=2), range(24)))
        started = _spawned() - before
        assert os.getpid() not in pids  # the work ran in workers
        assert pids <= started
        assert len(started) == 2
    finally:
        workers.close_pool()
    assert not _spawned() - before  # closed and joined


def test_one_job_runs_in_the_calling_process():
    assert workers.run_batch(os.getpid, n_jobs=1) == os.getpid()
