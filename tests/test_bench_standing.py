"""bench/standing.py: runs on a standing API server and Dask cluster, against the bare-NER floor."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def standing():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_standing", ROOT / "bench" / "standing.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_run_is_compared_with_the_floor_as_bench_run_does(standing):
    """Floor seconds over run seconds: 1.0 is as fast as bare NER; the bound holds when the best run reaches 0.85."""
    out = standing.ratios(40.0, [50.0, 80.0])
    assert out == {"floor_s": 40.0, "ratios": [0.8, 0.5], "best": 0.8, "met": False}
    assert standing.ratios(45.0, [60.0, 52.0])["met"] is True


def test_a_deployment_that_fails_to_start_stops_what_did_start(standing, tmp_path, monkeypatch):
    """The API server is up (starting) when the scheduler cannot start: it must not be left behind."""
    monkeypatch.setattr(standing, "BIN", tmp_path / "no-bin")  # no `dask` command there
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(FileNotFoundError), standing.Deployment(tmp_path, 1):
        pass
    assert [p.cmdline() for p in psutil.Process().children(recursive=True) if p.pid not in before] == []


@pytest.mark.slow
def test_runs_on_a_standing_deployment_and_stops_it(standing, tmp_path):
    out = tmp_path / "standing.json"
    before = {p.pid for p in psutil.Process().children(recursive=True)}  # e.g. the session's Prefect test server
    standing.main(["--docs", "40", "--runs", "1", "--workers", "1", "--workdir", str(tmp_path), "--out", str(out)])
    result = json.loads(out.read_text())
    (run,) = result["runs"]
    assert run["returncode"] == 0 and run["documents_new"] > 0 and run["seconds"]["extract"] > 0
    assert result["deployment_start_s"] > 0 and result["floor_s"] > 0 and len(result["ratios"]) == 1
    # the server, the scheduler and the workers (each in its own session) are gone with their children
    assert [p.cmdline() for p in psutil.Process().children(recursive=True) if p.pid not in before] == []
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
