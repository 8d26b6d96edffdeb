"""Dask worker preload: load the spaCy pipeline once per worker, in the background, from the worker's start.

    dask worker tcp://HOST:8786 --nthreads 1 --preload flows.worker_setup

The local cluster preloads it too. The pipeline is loaded once per process by whichever asks first (the first
extract task waits for a load in progress), so this only moves the ~2 s of loading to where the worker is idle:
its start, and the reduce steps, which run on one worker while the others wait. The thread imports nothing of
Prefect's (two threads importing the same modules can deadlock Python's import locks). A failure here is left
for the first extract task to report.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any


def warm_up() -> None:
    from transforms.extract import shared_nlp
    from transforms.language import _ensure_profiles

    with contextlib.suppress(Exception):
        _ensure_profiles()
        shared_nlp()


def dask_setup(worker: Any) -> None:
    threading.Thread(target=warm_up, name="newsetl-warm-up", daemon=True).start()
