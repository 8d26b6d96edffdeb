"""Discover: the input files, which of them are new, and the run's shards (its plan).

The plan key names everything the run's work depends on, so a restarted run finds the shards it completed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from prefect import task
from prefect.cache_policies import NO_CACHE

from transforms.readers import InputFile, discover, hash_file
from transforms.shards import Shard, plan_shards

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
    found, problems = discover(inputs)
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
