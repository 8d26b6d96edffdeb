"""One persistent pool of spawned worker processes for the CPU-bound pure transforms of a run.

Prefect runs a stage's batches on threads, which share one core under the GIL. Batch functions that are pure
and CPU-bound (normalize, language, MinHash sketches) go to this pool instead, so that both cores work. The
pool starts once per process, on first use, and is closed at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from importlib.machinery import ModuleSpec
from multiprocessing import get_context
from multiprocessing.pool import Pool
from typing import TypeVar

T = TypeVar("T")

_POOL: Pool | None = None
_POOL_SIZE = 0
_LOCK = threading.Lock()  # a stage's batches call in from several threads at once: start one pool, not one each


@contextlib.contextmanager
def workers_skip_main() -> Iterator[None]:
    """While spawning workers, make them skip re-importing the parent's ``__main__`` script.

    A spawned worker normally re-runs the main script's imports (for the flow, the CLI and Prefect: seconds
    of CPU and ~100 MB per worker); the functions sent to workers live in importable modules, so the workers
    do not need it. A ``__main__`` spec named "__main__" is what ``multiprocessing.spawn`` skips.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        yield  # run with -m: the workers import the module by name, as multiprocessing does
        return
    main.__spec__ = ModuleSpec("__main__", None)
    try:
        yield
    finally:
        main.__spec__ = None


def shared_pool(n_jobs: int) -> Pool:
    """A persistent pool of ``n_jobs`` spawned workers (started once per process, closed at exit)."""
    global _POOL, _POOL_SIZE
    with _LOCK:
        if _POOL is None or n_jobs != _POOL_SIZE:
            _close_unlocked()
            with workers_skip_main():
                _POOL = get_context("spawn").Pool(n_jobs)  # spawns all workers now, inside the context
            _POOL_SIZE = n_jobs
        return _POOL


def run_batch(fn: Callable[..., T], *args: object, n_jobs: int = 1) -> T:
    """``fn(*args)`` in a worker of the shared pool when ``n_jobs > 1``, else in this process.

    Blocks the calling thread only; concurrent callers (a stage's batches on Prefect's threads) keep all
    ``n_jobs`` workers busy. ``fn`` and its arguments must pickle.
    """
    if n_jobs <= 1:
        return fn(*args)
    return shared_pool(n_jobs).apply(fn, args)


@atexit.register
def close_pool() -> None:
    """Close the shared pool and join its workers (a later ``shared_pool`` call starts a new one)."""
    with _LOCK:
        _close_unlocked()


def _close_unlocked() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.close()
        _POOL.join()
        _POOL = None
