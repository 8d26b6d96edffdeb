"""A run's work area: the shard outputs of its map and reduce tasks, kept until publish so a killed run resumes.

    W/.staging/work/<plan_key>/plan.json                 run_id and start time of the run that made this plan
    W/.staging/work/<plan_key>/<stage>/<key>.<name>.parquet   a task's output tables
    W/.staging/work/<plan_key>/<stage>/<key>.done.json   the task's handle, written last: the task is complete

`plan_key` names what the work depends on (the new input files, the settings that shape the output, the code
version and the published state), so a restarted run with the same input finds its finished tasks and a run on
different input or after another publish starts afresh. A task's files are written before its handle, each by
an atomic rename, so a task killed midway has no handle and is simply run again (datatrove's `skip_completed`).
Every worker must see this folder at the same path (the warehouse on a shared filesystem).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

WORK = Path(".staging") / "work"
PLAN = "plan.json"


@dataclass(frozen=True, slots=True)
class WorkArea:
    """The work folder of one plan (small and picklable: tasks on other machines get it as an argument)."""

    path: str

    @classmethod
    def of(cls, root: Path, plan_key: str) -> WorkArea:
        return cls(str(root / WORK / plan_key))

    @property
    def dir(self) -> Path:
        return Path(self.path)

    def open(self, run_id: str, started_at: str) -> tuple[str, str, bool]:
        """(run_id, started_at, resumed): those recorded by an earlier attempt of this plan, else the given ones
        (recorded now)."""
        plan = self.dir / PLAN
        if plan.exists():
            got = json.loads(plan.read_text(encoding="utf-8"))
            return got["run_id"], got["started_at"], True
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(plan, json.dumps({"run_id": run_id, "started_at": started_at}).encode())
        return run_id, started_at, False

    def file(self, stage: str, key: str, name: str) -> Path:
        return self.dir / stage / f"{key}.{name}.parquet"

    def write(self, stage: str, key: str, name: str, table: pa.Table) -> str:
        """Write one output table of a task (atomically); returns its path."""
        path = self.file(stage, key, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp, compression="zstd", row_group_size=10_000)
        _fsync(tmp)
        os.replace(tmp, path)
        return str(path)

    def done(self, stage: str, key: str) -> dict[str, Any] | None:
        """The handle of a completed task, or None."""
        path = self.dir / stage / f"{key}.done.json"
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def finish(self, stage: str, key: str, handle: dict[str, Any]) -> dict[str, Any]:
        """Record a task as complete (after its outputs are written); returns the handle."""
        path = self.dir / stage / f"{key}.done.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, json.dumps(handle, sort_keys=True, default=str).encode())
        return handle

    def completed(self, stage: str) -> list[str]:
        """Keys of the completed tasks of a stage."""
        folder = self.dir / stage
        return sorted(p.name.removesuffix(".done.json") for p in folder.glob("*.done.json")) if folder.exists() else []

    def remove(self) -> None:
        """Remove this plan's work, then .staging/work/ and .staging/ when nothing else is left in them."""
        shutil.rmtree(self.dir, ignore_errors=True)
        for folder in (self.dir.parent, self.dir.parent.parent):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break


def drop_other_work(root: Path, keep: str) -> list[str]:
    """Remove the work folders of other plans (their input or the published state changed); returns their keys."""
    folder = root / WORK
    if not folder.exists():
        return []
    gone = sorted(p.name for p in folder.iterdir() if p.name != keep)
    for name in gone:
        shutil.rmtree(folder / name, ignore_errors=True)
    return gone


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    _fsync(tmp)
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
