"""Dask worker preload: a worker loads its costly state once, as it starts: langdetect's profiles, the Great
Expectations context with the suites' imports, and the spaCy pipeline.

    dask worker tcp://HOST:8786 --nthreads 1 --preload flows.worker_setup

The local cluster preloads it too. `newsetl run` starts its local cluster while Prefect's temporary server starts,
so this loading (~5-8 s of imports and model load per worker) overlaps the server's start instead of delaying the
first tasks. It runs before the worker takes tasks: in a thread beside a task, the imports hit Python's import-lock
deadlock detection ('deadlock detected by _ModuleLock(prefect.client.schemas.objects)'). A failure here is left for
the first task that needs the piece to report.

It also holds the settings measurements call for: `malloc_settings` and `quiet_housekeeping` at start,
`release_memory` after each task, `settle_worker`, which gives the first two to a worker started without
this preload, and `exit_quickly`, which the preload's teardown and the `newsetl` command use to end their process
without the interpreter's teardown.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

# glibc's mmap threshold for Dask workers. A Dask nanny starts its worker with MALLOC_TRIM_THRESHOLD_ set, and
# setting any malloc variable fixes glibc's otherwise adaptive mmap threshold at 128 KiB: every larger buffer
# spaCy allocates is then a fresh mmap, zero-filled page by page. Measured on 200 bench articles in one process
# (NER + rules, OMP_NUM_THREADS=1): 13.0-13.7 s with the nanny's setting alone, 10.4-10.6 s with this
# threshold added, 10.0-10.3 s with no malloc variable; peak RSS +25 MiB. docs/architecture.md has the figures.
MMAP_THRESHOLD = 32 << 20
M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


@functools.cache
def _glibc() -> Any:
    """This process's glibc (ctypes), or None where there is none (not Linux, or another C library)."""
    import ctypes
    import sys

    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def malloc_settings() -> bool:
    """Raise glibc's mmap threshold to `MMAP_THRESHOLD` in this process; whether it was set (only on glibc)."""
    libc = _glibc()
    return libc is not None and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1


def release_memory() -> None:
    """Hand the memory a finished task freed back to the system: glibc's free pages (malloc_trim) and Arrow's
    pool's unused blocks. Called as each task ends (flows.context.handle). Without it a worker kept the high-water
    mark of every task before: the 100k bench's near-dup reduce left its worker at 1,134 MiB, and the extract
    tasks after it ended at up to 1,177 MiB each, against ~560 MiB for a worker's loaded state."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


# Dask's housekeeping on a worker's event loop, beside the task thread: its profiler samples the task thread's stack
# every 10 ms, its tick runs every 20 ms, its system monitor every 500 ms, and each wakes the event loop's thread,
# which takes Python's GIL from the task. Measured with bare spaCy NER in a task (one worker, 100 bench articles,
# alternating runs; /tmp scripts, figures in docs/architecture.md): the worker's other threads used 6.0-6.3 % of a
# core with Dask's defaults, 1.0 % without the profiler and with the slower intervals below, and NER ran at
# 4,627-5,649 words/s against 5,235-6,415 (in the flow's process, on a thread: 5,137-6,642).
QUIET_INTERVALS_MS = {"tick": 1000, "monitor": 2000}  # Dask's defaults: 20 ms and 500 ms


def quiet_housekeeping(worker: Any) -> None:
    """Drop the worker's profiler and slow its tick and system monitor (`QUIET_INTERVALS_MS`). A preload runs before
    the worker starts its periodic callbacks, so this applies to any worker started with this preload, local or
    on another machine. The dashboard then shows no task profiles; memory limits are watched by their own callback."""
    callbacks = worker.periodic_callbacks
    for name in ("profile", "profile-cycle"):
        pc = callbacks.pop(name, None)
        if pc is not None:
            pc.stop()
    for name, ms in QUIET_INTERVALS_MS.items():
        pc = callbacks.get(name)
        if pc is not None:
            running = pc.is_running()  # started already where `settle_worker` calls this on a running worker
            if running:
                pc.stop()
            pc.callback_time = ms
            if running:
                pc.start()
    worker._tick_interval = QUIET_INTERVALS_MS["tick"] / 1000  # what its tick statistics divide by


def warm_up() -> None:
    with contextlib.suppress(Exception):
        from transforms.language import _ensure_profiles

        _ensure_profiles()
    with contextlib.suppress(Exception):
        import flows.extract
        import flows.ingest  # noqa: F401
        from flows.gates import warm_up as gates_warm_up

        gates_warm_up()
    with contextlib.suppress(Exception):
        from transforms.extract import shared_nlp
        from transforms.extract import warm_up as extract_warm_up

        shared_nlp()
        extract_warm_up()  # the gazetteers and name lists of the rules (~1 s)


def dask_setup(worker: Any) -> None:
    worker._newsetl_settled = True
    malloc_settings()
    quiet_housekeeping(worker)
    warm_up()


def dask_teardown(worker: Any) -> None:
    """The worker is closing (the cluster closes, or its nanny restarts it): a worker process a nanny started ends
    without the interpreter's teardown (`exit_quickly`), so that the close and the restart do not wait ~1.8 s for
    it. A worker in a process of its own (`dask worker --no-nanny`, a test's) leaves that process's exit as it is."""
    import multiprocessing

    if getattr(worker, "nanny", None) and multiprocessing.parent_process() is not None:
        exit_quickly(0)


def settle_worker() -> bool:
    """In a Dask worker started without this preload (`dask worker ADDRESS` alone), apply its settings once, from
    the first task that asks: the mmap threshold and the quieter housekeeping (on the worker's event loop); the
    state itself then loads on first use. Whether it applied them (False outside a Dask worker, and in a worker
    that has them). Measured with `dask-cluster-run` (workers without the preload) on 24,000 records: the extract
    tasks took 68.7 ms of task time a document without this, 55.9 with it (a local 10k run with the preload: 56.7)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return False
    if getattr(worker, "_newsetl_settled", False):
        return False
    worker._newsetl_settled = True
    malloc_settings()
    worker.loop.add_callback(quiet_housekeeping, worker)
    return True


def exit_quickly(code: int = 0) -> None:
    """Let this process end without the interpreter's teardown: at exit, once Python has joined its threads, the
    other exit handlers run (once each, as they would), then `os._exit(code)`. Only the freeing of every object is
    skipped. A process holding the spaCy pipeline, GX and Prefect spent 1.8-2.0 s in it (garbage collections over
    ~600k objects, GX's and Prefect's modules), the flow's process 1.7-1.9 s after a run. Call it once the process's
    work is done and its exit code is known."""
    import atexit

    atexit.unregister(_exit_now)  # an earlier call's, whatever its code
    atexit.register(_exit_now, code)  # registered last, so it runs first


def _exit_now(code: int) -> None:
    import atexit
    import os
    import sys

    atexit.unregister(_exit_now)
    atexit._run_exitfuncs()  # the others, once
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
