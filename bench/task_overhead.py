"""What one Prefect task costs on newsetl's runner, beside the work it does.

    .venv/bin/python bench/task_overhead.py --tasks 200 --work-ms 50

It sets up a run the way `newsetl run` does (Prefect's temporary API server on a thread of this process, the tasks
reporting to it, a local Dask cluster of `--workers` single-threaded workers with newsetl's preload), submits
`--tasks` tasks that each keep a core busy for `--work-ms`, and measures the wall time and the CPU seconds of this
process (the flow, the API server, Dask's scheduler) and of the worker processes while they run. Per task:
(worker CPU - the busy work) / tasks is what Prefect's task engine costs in a worker, this process's CPU / tasks
what submitting, orchestrating and recording a task costs in the flow's process. newsetl runs ~110 tasks at 10k
documents and ~70 at 1,500 (one per shard and stage, one per extract slice), so this is the part of a run's
overhead that grows with the number of tasks. Results: bench/results/task_overhead-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.config import prepare_prefect_env  # noqa: E402

prepare_prefect_env()

from prefect import flow, task  # noqa: E402

from flows.runners import api_for_workers, local_api, task_runner  # noqa: E402


@task
def busy(ms: float) -> int:
    """Keep one core busy for `ms` milliseconds; the worker's pid."""
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass
    return os.getpid()


def _cpu(children: bool = False) -> dict[int, float]:
    """CPU seconds (user + system) of this process, or of its child processes: the local cluster's workers (and
    multiprocessing's resource tracker, which does next to nothing)."""
    import psutil

    me = psutil.Process()
    procs = me.children(recursive=True) if children else [me]
    return {p.pid: sum(p.cpu_times()[:2]) for p in procs}


def measure(tasks: int, work_ms: float, workers: int) -> dict:
    """Inside a flow: the workers warmed by one task each, then `tasks` tasks submitted at once."""
    with api_for_workers():
        [f.result() for f in [busy.submit(1.0) for _ in range(4)]]
        time.sleep(1.0)  # let the warm-up's reporting settle
        flow0, workers0 = _cpu(), _cpu(children=True)
        t0 = time.perf_counter()
        futures = [busy.submit(work_ms) for _ in range(tasks)]
        ran = {f.result() for f in futures}
        wall = time.perf_counter() - t0
        flow1, workers1 = _cpu(), _cpu(children=True)
    flow_cpu = sum(flow1.values()) - sum(flow0.values())
    worker_cpu = sum(workers1.values()) - sum(workers0.get(pid, 0.0) for pid in workers1)
    work = tasks * work_ms / 1000
    return {
        "tasks": tasks,
        "workers": workers,
        "work_ms": work_ms,
        "workers_used": len(ran),
        "wall_s": round(wall, 3),
        "ideal_wall_s": round(work / max(1, len(ran)), 3),
        "flow_process_cpu_s": round(flow_cpu, 3),
        "worker_cpu_s": round(worker_cpu, 3),
        "busy_work_cpu_s": round(work, 3),
        "worker_overhead_ms_per_task": round((worker_cpu - work) / tasks * 1000, 1),
        "flow_overhead_ms_per_task": round(flow_cpu / tasks * 1000, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--work-ms", type=float, default=50.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="JSON file (default bench/results/task_overhead-<ts>.json)")
    args = ap.parse_args()
    run = flow(name="task-overhead", task_runner=task_runner("dask", workers=args.workers))(measure)
    started = datetime.now(UTC)
    with local_api():
        result = run(args.tasks, args.work_ms, args.workers)
    result = {
        "started": started.isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "platform": platform.platform()},
        **result,
    }
    out = args.out or ROOT / "bench" / "results" / f"task_overhead-{started:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
