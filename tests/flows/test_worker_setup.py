"""The Dask worker preload's malloc setting: with a nanny's MALLOC_TRIM_THRESHOLD_ in the environment, glibc maps
every buffer over 128 KiB freshly (the slow case measured in flows/worker_setup.py); after `malloc_settings` a
1 MiB buffer comes from the heap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import ctypes, json, sys
sys.path.insert(0, sys.argv[1])
libc = ctypes.CDLL("libc.so.6")
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def mapped_by_a_1mib_buffer():
    before = libc.mallinfo2().hblks
    p = libc.malloc(1 << 20)
    mapped = libc.mallinfo2().hblks - before
    libc.free(p)
    return mapped

out = {"before": mapped_by_a_1mib_buffer()}
from flows.worker_setup import malloc_settings
out["set"] = malloc_settings()
out["after"] = mapped_by_a_1mib_buffer()
print(json.dumps(out))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc malloc settings")
def test_malloc_settings_keeps_large_buffers_on_the_heap_under_a_nannys_environment() -> None:
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}  # what a Dask nanny sets for its worker
    out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT)], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"before": 1, "set": True, "after": 0}


def test_dask_setup_sets_malloc_and_housekeeping_then_warms_up(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.worker_setup as ws

    calls: list[str] = []
    monkeypatch.setattr(ws, "malloc_settings", lambda: calls.append("malloc") or True)
    monkeypatch.setattr(ws, "quiet_housekeeping", lambda worker: calls.append(f"quiet {worker}"))
    monkeypatch.setattr(ws, "warm_up", lambda: calls.append("warm_up"))
    worker = SimpleNamespace(name="w")
    ws.dask_setup(worker=worker)
    assert calls == ["malloc", f"quiet {worker}", "warm_up"] and worker._newsetl_settled


def test_a_worker_with_the_preload_runs_no_profiler_and_ticks_slowly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real worker started with the preload (in this process; the state loading left out): the preload runs
    before the worker starts its periodic callbacks, so they start without the profiler and at the slow
    intervals. Without the preload the same worker has Dask's defaults."""
    import asyncio

    from distributed import Scheduler, Worker

    import flows.worker_setup as ws

    monkeypatch.setattr(ws, "warm_up", lambda: None)
    monkeypatch.setattr(ws, "malloc_settings", lambda: True)  # not this test process's glibc

    async def callbacks(preload: list[str]) -> dict[str, tuple[float, bool]]:
        async with (
            Scheduler(dashboard=False, dashboard_address=":0") as s,
            Worker(s.address, nthreads=1, preload=preload) as w,
        ):
            return {name: (pc.callback_time, pc.is_running()) for name, pc in w.periodic_callbacks.items()}

    import dask

    # Dask's defaults, whatever an earlier test in this process set (flows.runners.dask_settings sets the quiet ones)
    dask_defaults = {"distributed.admin.tick.interval": "20ms", "distributed.admin.system-monitor.interval": "500ms"}
    with dask.config.set(dask_defaults):
        default = asyncio.run(callbacks([]))
        quiet = asyncio.run(callbacks(["flows.worker_setup"]))
    assert "profile" in default and default["tick"] == (20, True) and default["monitor"] == (500, True)
    assert "profile" not in quiet and "profile-cycle" not in quiet
    assert quiet["tick"] == (1000, True) and quiet["monitor"] == (2000, True)
    assert quiet["heartbeat"][1] and quiet["memory_monitor"][1]  # the rest runs as before


RELEASE_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import psutil
import pyarrow  # imported by release_memory: loaded before the baseline
from flows.worker_setup import malloc_settings, release_memory
malloc_settings()  # as in a worker: 1 MiB buffers come from the heap, which glibc does not shrink past a live block
rss = lambda: psutil.Process().memory_info().rss >> 20
base = rss()
blocks = [bytearray(1 << 20) for _ in range(300)]  # a task's working memory, written (so resident)
pin = bytearray(1 << 20)  # a block that outlives the task, above the freed ones
del blocks
freed = rss()
release_memory()
print(json.dumps({"base": base, "freed": freed, "released": rss()}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc malloc_trim")
def test_release_memory_returns_a_finished_tasks_freed_heap_to_the_system() -> None:
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, "-c", RELEASE_PROBE, str(ROOT)], env=env, capture_output=True, text=True,
                         check=True)  # fmt: skip
    mib = json.loads(out.stdout)
    assert mib["freed"] - mib["base"] > 250, mib  # freed by Python, still held by the process
    assert mib["released"] - mib["base"] < 20, mib  # handed back


def test_a_worker_without_the_preload_gets_its_settings_from_the_first_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """`dask worker ADDRESS` without `--preload flows.worker_setup`: the first task that calls `settle_worker` (every
    extract task does, through `flows.context.nlp_session`) sets the mmap threshold and quietens the running
    worker's housekeeping; later calls, a preloaded worker and a process outside Dask do nothing."""
    import asyncio

    from distributed import Client, Scheduler, Worker

    import flows.worker_setup as ws

    calls: list[str] = []
    monkeypatch.setattr(ws, "malloc_settings", lambda: calls.append("malloc") or True)  # not this process's glibc
    monkeypatch.setattr(ws, "warm_up", lambda: None)

    async def settle(preload: list[str]) -> tuple[list[bool], dict[str, tuple[float, bool]]]:
        async with (
            Scheduler(dashboard=False, dashboard_address=":0") as s,
            Worker(s.address, nthreads=1, preload=preload) as w,
            Client(s.address, asynchronous=True) as c,
        ):
            did = [await c.submit(ws.settle_worker, pure=False) for _ in range(2)]
            await asyncio.sleep(0.2)  # the housekeeping changes run on the worker's event loop
            return did, {name: (pc.callback_time, pc.is_running()) for name, pc in w.periodic_callbacks.items()}

    did, plain = asyncio.run(settle([]))
    assert did == [True, False] and calls == ["malloc"]
    assert "profile" not in plain and "profile-cycle" not in plain
    assert plain["tick"] == (1000, True) and plain["monitor"] == (2000, True) and plain["heartbeat"][1]
    calls.clear()
    did, _ = asyncio.run(settle(["flows.worker_setup"]))
    assert did == [False, False] and calls == ["malloc"]  # the preload's own call, no second one
    assert ws.settle_worker() is False  # not in a Dask worker


# A process that holds an object whose finalizer runs only in the interpreter's teardown, a non-daemon thread still
# running and an earlier exit handler: `exit_quickly` keeps the thread and the handler, skips the teardown.
EXIT_PROBE = """
import atexit, sys, threading, time
sys.path.insert(0, sys.argv[1])

class Freed:
    def __del__(self):
        print("teardown", flush=True)

KEPT = Freed()
atexit.register(print, "earlier handler", flush=True)
threading.Thread(target=lambda: (time.sleep(0.2), print("thread", flush=True))).start()
if sys.argv[2] != "-":
    from flows.worker_setup import exit_quickly

    exit_quickly(int(sys.argv[2]))
print("done", flush=True)
"""


@pytest.mark.parametrize(("code", "expected"), [("-", 0), ("0", 0), ("3", 3)])
def test_exit_quickly_keeps_threads_exit_handlers_and_the_code_and_skips_the_teardown(code: str, expected: int) -> None:
    out = subprocess.run([sys.executable, "-c", EXIT_PROBE, str(ROOT), code], capture_output=True, text=True)
    lines = ["done", "thread", "earlier handler"] + (["teardown"] if code == "-" else [])
    assert (out.returncode, out.stdout.splitlines(), out.stderr) == (expected, lines, "")


def test_dask_teardown_exits_quickly_only_in_a_worker_process_a_nanny_started(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    import flows.worker_setup as ws

    calls: list[int] = []
    monkeypatch.setattr(ws, "exit_quickly", calls.append)
    ws.dask_teardown(SimpleNamespace(nanny=None))  # `dask worker --no-nanny`, a test's worker
    ws.dask_teardown(SimpleNamespace(nanny="tcp://127.0.0.1:1"))  # this process has no parent process
    assert calls == []
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())
    ws.dask_teardown(SimpleNamespace(nanny="tcp://127.0.0.1:1"))
    assert calls == [0]


# A preload with the real teardown and a marker of the interpreter's teardown, for a LocalCluster's nanny workers
PRELOAD = """
import atexit, builtins, os
from flows.worker_setup import dask_teardown  # noqa: F401  (the preload's teardown)

class Freed:
    def __init__(self, path, _open=open):  # what __del__ needs, held: the teardown clears modules before builtins
        self.path, self.open = path, _open

    def __del__(self):
        self.open(self.path, "w").close()

if not hasattr(builtins, "newsetl_probe"):  # Dask runs a preload file twice in the worker process
    builtins.newsetl_probe = Freed(os.path.join(os.environ["PROBE_DIR"], f"teardown-{os.getpid()}"))
atexit.register(lambda: open(os.path.join(os.environ["PROBE_DIR"], f"handler-{os.getpid()}"), "w").close())
"""


def test_a_nannys_worker_process_ends_without_the_teardown_when_the_cluster_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real nanny workers: the first restarted (as `flows.runners.fresh_workers` does), the second closed with the
    cluster. Each worker process ran its exit handlers and skipped the interpreter's teardown."""
    from distributed import Client, LocalCluster

    from flows.runners import local_cluster

    preload = tmp_path / "probe_preload.py"
    preload.write_text(PRELOAD)
    monkeypatch.setenv("PROBE_DIR", str(tmp_path))
    with LocalCluster(**{**local_cluster(1), "preload": [str(preload)]}) as cluster, Client(cluster) as client:
        pids = {client.run(os.getpid)[w] for w in client.scheduler_info()["workers"]}
        client.restart()
        pids |= set(client.run(os.getpid).values())
    assert len(pids) == 2
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "probe_preload.py")
    assert names == sorted(f"handler-{pid}" for pid in pids)
