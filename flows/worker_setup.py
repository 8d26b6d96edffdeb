"""Dask worker preload: a worker loads its costly state once, as it starts: langdetect's profiles, the Great
Expectations context with the suites' imports, and the spaCy pipeline.

    dask worker tcp://HOST:8786 --nthreads 1 --preload flows.worker_setup

The local cluster preloads it too. `newsetl run` starts its local cluster while Prefect's temporary server starts,
so this loading (~5-8 s of imports and model load per worker) overlaps the server's start instead of delaying the
first tasks. It runs before the worker takes tasks: in a thread beside a task, the imports hit Python's import-lock
deadlock detection ('deadlock detected by _ModuleLock(prefect.client.schemas.objects)'). A failure here is left for
the first task that needs the piece to report.
"""

from __future__ import annotations

import contextlib
from typing import Any


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
    warm_up()
