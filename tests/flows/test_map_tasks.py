"""`flows.context.map_tasks`: at most `in_flight()` tasks submitted and unfinished at a time (each holds its spec
in the flow's process), every handle returned in key order, and tasks an earlier attempt completed not run again."""

from __future__ import annotations

import threading
import time
import types

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.context import in_flight, map_tasks

FINISHED: list[str] = []
LOCK = threading.Lock()


@task(cache_policy=NO_CACHE)
def slow_then_fast(ctx: object, key: str, delay: float) -> dict:
    time.sleep(delay)  # early keys take longest: they finish after later ones
    with LOCK:
        FINISHED.append(key)
    return {"key": key}


class Counting:
    """A task whose `submit` records how many submitted tasks had not finished yet."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.outstanding: list[int] = []

    def submit(self, ctx: object, key: str, delay: float) -> object:
        with LOCK:
            self.outstanding.append(len(self.submitted) - len(FINISHED) + 1)
        self.submitted.append(key)
        return slow_then_fast.submit(ctx, key, delay)


def test_map_tasks_keeps_a_bounded_window_and_returns_every_handle_in_key_order(prefect_harness) -> None:
    FINISHED.clear()
    counting = Counting()
    reused = {"k03": {"key": "k03", "reused": True}}
    ctx = types.SimpleNamespace(work=types.SimpleNamespace(done=lambda stage, key: reused.get(key)))
    items = [(f"k{i:02d}", (f"k{i:02d}", 0.02 * (24 - i))) for i in range(24)]

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def mapped() -> tuple[dict, int]:
        return map_tasks(counting, "test", ctx, items), in_flight()

    out, window = mapped()
    assert window == 4  # twice the runner's 2 workers
    assert list(out) == [k for k, _ in items]
    assert out["k03"] == {"key": "k03", "reused": True} and "k03" not in counting.submitted
    assert all(out[k] == {"key": k} for k, _ in items if k != "k03")
    assert len(counting.submitted) == 23
    assert max(counting.outstanding) == window  # submitting all at once would reach 23


def test_map_tasks_with_size_submits_the_largest_first_and_returns_in_item_order(prefect_harness) -> None:
    FINISHED.clear()
    counting = Counting()
    ctx = types.SimpleNamespace(work=types.SimpleNamespace(done=lambda stage, key: None))
    sizes = [3, 9, 1, 9, 4, 7, 2, 5]  # two of equal size: they keep their order
    items = [(f"s{i}", (f"s{i}", 0.002 * n)) for i, n in enumerate(sizes)]

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def mapped() -> dict:
        return map_tasks(counting, "test", ctx, items, size=lambda args: round(args[1] / 0.002))

    out = mapped()
    assert counting.submitted == ["s1", "s3", "s5", "s7", "s4", "s0", "s6", "s2"]
    assert list(out) == [k for k, _ in items]
    assert all(out[k] == {"key": k} for k, _ in items)
