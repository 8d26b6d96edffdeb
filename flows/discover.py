"""Discover: the input files, which of them are new, and the run's shards (its plan).

The plan key names everything the run's work depends on, so a restarted run finds the shards it completed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from transforms.readers import OUTPUT_MARKER, InputFile, discover, hash_file
from transforms.shards import Shard, plan_shards
from warehouse.release import CROISSANT, MANIFEST
from warehouse.store import CATALOG, LOCK, Store, catalog_path

# folders an input walk skips: a warehouse (its lock or catalog), a release version (manifest and Croissant file)
# and a folder a report made; `newsetl run --input .` must not read the pipeline's own output back in
OUTPUT_FOLDERS = ((LOCK,), (CATALOG,), (MANIFEST, CROISSANT), (OUTPUT_MARKER,))

Problem = tuple[str, str, str]  # (path, reason_code, detail)


@dataclass
class Discovered:
    """Every input file (in path order) with its status, the files to ingest, and the inputs refused."""

    files: list[InputFile]
    status: dict[str, str]  # path → ingested | unchanged | duplicate_in_run
    problems: list[Problem] = field(default_factory=list)

    @property
    def new(self) -> list[InputFile]:
        return [f for f in self.files if self.status[f.path] == "ingested"]


@task(name="discover", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def discover_task(inputs: list[str], known_shas: frozenset[str]) -> Discovered:
    """Find and hash the input files; a file whose sha256 is published is `unchanged`, a second copy of a file
    in this run is `duplicate_in_run`."""
    found, problems = discover(inputs, OUTPUT_FOLDERS)
    files = []
    for p in found:
        try:
            files.append(hash_file(p))
        except OSError as exc:
            problems.append((p, "unreadable_file", f"{type(exc).__name__}: {exc.strerror or exc}"))
    status: dict[str, str] = {}
    seen: set[str] = set()
    for f in files:
        new = "duplicate_in_run" if f.sha256 in seen else "ingested"
        status[f.path] = "unchanged" if f.sha256 in known_shas else new
        seen.add(f.sha256)
    return Discovered(files, status, problems)


@task(name="plan", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def plan_task(files: list[InputFile], shard_bytes: int, shard_files: int) -> list[Shard]:
    """The new files as shards (large files cut at record boundaries: this reads them once)."""
    return plan_shards(files, shard_bytes, shard_files)


def plan_key(files: list[InputFile], settings: dict, published: str, code: str) -> str:
    """What a run's work depends on: its new files (path and content), the settings that shape the output, the
    published state it builds on and the code version."""
    spec = {"files": [(f.path, f.sha256) for f in files], "settings": settings, "published": published, "code": code}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


def nothing_new(inputs: list[str], warehouse: Path) -> bool:
    """A guess, reading no file's content, that the run has nothing to ingest: every input file has the path and
    size of a file the published warehouse ingested, and was last modified before that catalog was published.

    `newsetl run` uses it to start no worker processes for such a run (a scheduled run on an unchanged input
    folder). It only picks the runner: the run still hashes every file and ingests what is new, so a wrong guess
    (a file rewritten at the same size with its old modification time) costs speed, never a row. False when
    there is no published catalog, no input file, an input problem, or anything cannot be read."""
    try:
        published = catalog_path(Path(warehouse)).stat().st_mtime_ns
        found, problems = discover(inputs, OUTPUT_FOLDERS)
        if problems or not found:
            return False
        known = Store(Path(warehouse)).ingested_files()
        for path in found:
            st = os.stat(path)
            if (path, st.st_size) not in known or st.st_mtime_ns >= published:
                return False
        return True
    except Exception:  # the run itself reports what is wrong; a guess is only ever "no"
        return False


def threads_suffice(inputs: list[str], warehouse: Path, full_refresh: bool) -> bool:
    """Whether a run that would start local Dask workers runs on threads instead: its input is unchanged
    (`nothing_new`) and it is not a full refresh, whose load rebuilds and checks every model (a reduce for a
    worker, not the flow process)."""
    return not full_refresh and nothing_new(inputs, warehouse)
