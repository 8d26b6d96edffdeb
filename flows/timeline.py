"""Where a `newsetl run`'s wall seconds go outside its stages: seconds since the process started at which each
step of start-up and teardown ended (imports, the API server, the local cluster with its workers' preload, the
flow's planning, publish, and the stops after it)."""

from __future__ import annotations

import time

import psutil


class Timeline:
    def __init__(self) -> None:
        self.t0 = psutil.Process().create_time()  # the process's own start: interpreter and imports included
        self.marks: dict[str, float] = {}

    def mark(self, name: str, at: float | None = None) -> None:
        """Record `name` as reached now (or at epoch seconds `at`)."""
        self.marks[name] = round((time.time() if at is None else at) - self.t0, 3)

    def line(self) -> str:
        return ", ".join(f"{k} {v:.1f}" for k, v in sorted(self.marks.items(), key=lambda kv: kv[1])) + " s"


LAST: Timeline | None = None  # the last run's, for `bench/run.py` (which calls the CLI in its own process)
