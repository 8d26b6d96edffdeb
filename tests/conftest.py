"""Shared fixtures. Prefect starts once per test session (its ephemeral server costs ~10 s)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Each test session (each pytest-xdist worker) has a Prefect home of its own: the temporary servers of the CLI
# runs it starts keep their SQLite database there, and two sessions sharing ~/.prefect/prefect.db locked it.
# A process that imports this module for a session (a spawned pool worker of a test) uses that session's home: it
# may exit without running atexit, and its own home was left behind in /tmp (141 homes had piled up).
_SESSION = os.environ.get("PYTEST_XDIST_WORKER", "main")
if os.environ.get("NEWSETL_TEST_SESSION") != _SESSION or not os.path.isdir(os.environ.get("PREFECT_HOME", "")):
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix=f"newsetl-prefect-{_SESSION}-")
    os.environ["NEWSETL_TEST_SESSION"] = _SESSION
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)

from flows.config import prepare_prefect_env  # noqa: E402

prepare_prefect_env()
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def q(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of `sql` against a published warehouse, opened read-only with plain DuckDB (as the README shows: the
    catalog's views name partitions relative to the warehouse folder, which file_search_path points at)."""
    import duckdb

    con = duckdb.connect(str(warehouse / "newsetl.duckdb"), read_only=True, config={"file_search_path": str(warehouse)})
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# The longest test files (about 5, 1.5, 3 and 3 minutes on 2 busy cores), collected first: with `--dist loadfile`
# and `--no-loadscope-reorder` (pyproject's addopts) pytest-xdist hands files out in collection order, and a long
# file handed out last ran alone at the session's end. Without that flag xdist orders files by their number of
# tests, which ignores this order: the 4-test scale_out file went out among the last, and its resume test ran
# alone for the last ~3 minutes of a 589 s suite.
LONGEST_FIRST = ("tests/flows/test_scale_out.py", "tests/hostile/test_hostile.py", "tests/flows/test_serve.py",
                 "tests/flows/test_operations.py")  # fmt: skip


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: the rest keep order


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of seeds/ that a test may add files to."""
    dest = tmp_path / "inputs"
    shutil.copytree(SEEDS, dest)
    return dest


@pytest.fixture
def run_etl(prefect_harness):
    """Call the etl flow on the thread runner (no worker processes to start: fast on small inputs; the runners
    that start workers have their own tests); returns (state, summary dict or None)."""
    from flows.runners import configured_flow

    def _run(inputs: list[str] | list[Path], warehouse: Path, runner: str = "thread", **kwargs):
        flow = configured_flow(runner)
        state = flow(inputs=[str(p) for p in inputs], warehouse=str(warehouse), return_state=True, **kwargs)
        return state, (state.result() if state.is_completed() else None)

    return _run
