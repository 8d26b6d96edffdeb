"""What every task of a run shares: the run's context, the handles tasks return, and the map helper.

A task gets the `RunContext` (small, picklable) and the handles of the tasks it depends on; it reads its input
from the run's work area, writes its outputs there, and returns a handle: a small dict with the paths, row
counts, seconds and the worker that ran it. Nothing a task needs lives only in the flow process's memory, so
the same task runs on a thread, a local process or a remote Dask worker.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
from prefect import get_run_logger

from flows.gates import GateFailed, GateResult, gate_frame, run_gate
from flows.worker_setup import release_memory, settle_worker
from warehouse import schema
from warehouse.staging import WorkArea

Handle = dict[str, Any]
KILL_AT_ENV = "NEWSETL_TEST_KILL_AT"  # test-only fault injection, see `kill_point`


@dataclass(frozen=True, slots=True)
class RunContext:
    run_id: str
    root: str  # the warehouse folder (the same path on every worker)
    work: WorkArea
    started_at: str  # ISO UTC; also each document's first_seen
    max_doc_chars: int
    batch_size: int  # documents per language and extract task
    full_refresh: bool = False  # load rebuilds every model and checks every row


def worker_id() -> str:
    """Where a task ran: host:pid, and the Dask worker's name when it ran on one."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    try:
        from distributed import get_worker

        return f"{name}:{get_worker().name}"
    except (ImportError, ValueError):  # not in a Dask worker
        return name


def handle(stage: str, key: str, t0: float, files: dict[str, str], rows: dict[str, int], **stats: Any) -> Handle:
    """A task's handle (see the module docstring). The task is done with its memory: it is released here."""
    proc = psutil.Process()
    rss = proc.memory_info().rss >> 20
    release_memory()
    return {
        "stage": stage,
        "key": key,
        "files": files,
        "rows": rows,
        "stats": stats,
        "worker": worker_id(),
        "children": len(proc.children()),  # a task starts no process (a Dask worker may not)
        "rss_mib": rss,  # the worker's, as the task ends
        "rss_kept_mib": proc.memory_info().rss >> 20,  # and after release_memory()
        "seconds": round(time.perf_counter() - t0, 3),
        "finished_at": time.time(),
    }


def key_of(i: int) -> str:
    return f"{i:05d}"


def write_outputs(ctx: RunContext, stage: str, key: str, tables: dict[str, pa.Table]) -> tuple[dict, dict]:
    """Write a task's output tables to the work area; (files, rows) for its handle."""
    files = {name: ctx.work.write(stage, key, name, t) for name, t in tables.items()}
    return files, {name: t.num_rows for name, t in tables.items()}


_GATE_LOCK = threading.Lock()  # GX is not thread-safe: on the thread runner, one gate at a time per process


def gate(ctx: RunContext, stage: str, rows: pa.Table | list[dict], dq: list[dict]) -> GateResult:
    """Run a stage's suite on `rows`, append its results to `dq` (dq_results rows); raise GateFailed on an
    error-level failure."""
    with _GATE_LOCK:
        res = run_gate(stage, gate_frame(stage, rows))
    dq.extend({**r, "run_id": ctx.run_id} for r in res.results)
    if res.errors:
        raise GateFailed(res.errors, res.results)
    return res


def quarantine_row(ctx: RunContext, stage: str, source_ref: str, record_id: str | None, code: str, detail: str) -> dict:
    return {
        "run_id": ctx.run_id,
        "stage": stage,
        "source_ref": source_ref,
        "record_id": record_id,
        "reason_code": code,
        "detail": detail,
    }


def table(name: str, rows: list[dict]) -> pa.Table:
    return schema.to_table(name, rows)


def with_run_id(ctx: RunContext, name: str, t: pa.Table) -> pa.Table:
    """`t` with the run_id column, in table `name`'s schema: a work file that is already its final partition."""
    if "run_id" not in t.column_names:
        t = t.append_column("run_id", pa.array([ctx.run_id] * t.num_rows, pa.string()))
    return t.select(schema.TABLES[name][0].names).cast(schema.TABLES[name][0])


def nlp() -> Any:
    """The spaCy pipeline, loaded once per worker process (tok2vec + ner only)."""
    from transforms.extract import shared_nlp

    return shared_nlp()


_NLP_LOCK = threading.Lock()


@contextmanager
def nlp_session() -> Iterator[Any]:
    """The process's spaCy pipeline for one task. It is not thread-safe (on the thread runner tasks share it),
    and no spaCy object outlives the task's memory zone, so its vocab does not grow over a long run.
    (Locks live here, not in a task's module: Prefect ships a task's function by value, globals included.)"""
    settle_worker()  # a worker started without flows.worker_setup gets its settings before NER
    model = nlp()
    with _NLP_LOCK, model.memory_zone():
        yield model


def kill_point(name: str) -> None:
    """Test-only: simulate a crash (power loss, OOM kill) at `name`. NEWSETL_TEST_KILL_AT=name kills the process
    group; `name:flow` kills only the flow's own process, as an out-of-memory kill would."""
    want = os.environ.get(KILL_AT_ENV, "")
    if want == name:
        os.killpg(os.getpgrp(), 9)
    if want == f"{name}:flow":
        os.kill(os.getpid(), 9)


def map_tasks(
    task: Any,
    stage: str,
    ctx: RunContext,
    items: Sequence[tuple[str, tuple]],
    unit: str = "shards",
    size: Callable[[tuple], int] | None = None,
) -> dict:
    """Run `task(ctx, *args)` for each (key, args) of `items` whose task is not already complete in the work area
    (a resumed run reuses them), on the task runner; the handles by key, in item (key) order. Logs progress (rate, ETA)
    as tasks finish.

    At most `in_flight()` tasks are submitted and unfinished at a time; the next is submitted as one finishes.
    Each submitted task holds its spec in the flow's process until it finishes (Prefect sends the run's context
    with every task, kept by the local cluster's scheduler), so submitting all at once made the flow process grow
    with the number of tasks (with Dask's logs, flows.runners.DASK_LOG_LENGTH: +125 MiB over the 414 extract tasks
    of the 100k bench run). Each future reports its end once, to a queue, through the one callback it gets at
    submission.

    With `size` (an item's work, from its task arguments) the largest items are submitted first and the smallest
    last (longest processing time first), so that a stage does not end with one worker on a large task while the
    others wait; without it, in item order. The handles are returned in item order either way."""
    import queue

    log = get_run_logger()
    done = {k: ctx.work.done(stage, k) for k, _ in items}
    pending = [(k, args) for k, args in items if done[k] is None]
    if size is not None:
        pending.sort(key=lambda item: -size(item[1]))  # stable: items of equal size keep their order
    todo, n_todo = iter(pending), len(pending)
    if n_todo < len(items):
        log.info(f"{stage}: {len(items) - n_todo} of {len(items)} {unit} already done by an earlier attempt")
    running: dict[Any, str] = {}  # future -> key
    finished: queue.SimpleQueue = queue.SimpleQueue()  # futures, as they end (filled from the runner's threads)

    def submit_next() -> None:
        item = next(todo, None)
        if item is not None:
            fut = task.submit(ctx, *item[1])  # no `quote`: Dask rebuilds it as a tuple
            running[fut] = item[0]
            fut.add_done_callback(finished.put)

    for _ in range(in_flight()):
        submit_next()
    t0, last, n = time.perf_counter(), 0.0, 0
    while running:
        fut = finished.get()
        k = running.pop(fut)
        done[k] = fut.result()
        submit_next()
        n += 1
        if time.perf_counter() - last > 5 or n == n_todo:
            last = time.perf_counter()
            rate = n / max(last - t0, 1e-9)
            log.info(f"{stage}: {n}/{n_todo} {unit}, {rate:.2f} {unit}/s, ETA {(n_todo - n) / rate:.0f} s")
        kill_point(f"{stage}:{n}")
    return {k: done[k] for k, _ in items}


def in_flight() -> int:
    """How many tasks `map_tasks` keeps submitted: twice what the flow's task runner runs at once (a Dask
    cluster's threads, asked now, so an external cluster's size counts; a pool's workers), so that every worker
    has its next task waiting when it finishes one."""
    from prefect.context import FlowRunContext

    runner = getattr(FlowRunContext.get(), "task_runner", None)
    client = getattr(runner, "_client", None)  # a started DaskTaskRunner's
    if client is not None:
        slots = sum(client.nthreads().values())
    else:
        slots = getattr(runner, "_max_workers", None) or os.cpu_count() or 1
    return 2 * max(1, min(slots, 4096))


def reduce_task(task: Any, stage: str, ctx: RunContext, *args: Any) -> Handle:
    """Run a reduce task once per plan: an earlier attempt's completed result is reused."""
    got = ctx.work.done(stage, "all")
    if got is not None:
        get_run_logger().info(f"{stage}: already done by an earlier attempt")
        return got
    return task.submit(ctx, *args).result()


def paths(handles: dict[str, Handle] | Sequence[Handle], name: str) -> list[str]:
    """The output files `name` of handles, in key order (tasks that wrote none are left out)."""
    hs = handles.values() if isinstance(handles, dict) else handles
    return [h["files"][name] for h in hs if name in h["files"]]


def total(handles: dict[str, Handle], name: str) -> int:
    return sum(h["rows"].get(name, 0) for h in handles.values())


def workers_of(*stages: dict[str, Handle]) -> list[str]:
    return sorted({h["worker"] for hs in stages for h in hs.values()})


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    return fn(), time.perf_counter() - t


def existing(path: str | Path) -> bool:
    return Path(path).exists()
