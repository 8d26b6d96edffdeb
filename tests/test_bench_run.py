"""bench/run.py: a size that fails is recorded, the other sizes still run, and the results are written.

No pipeline runs here: the harness's subprocess measurement, corpus, queries and baselines are replaced by fakes,
and the child's hook runs against stand-in `flows` modules.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1000, 10_000, 100_000)
OOM = "OutOfMemoryException: Out of Memory Error: could not allocate block of size 256.0 KiB (488.0 MiB/488.2 MiB used)"
FINISHED = {"ingest": 25.4, "normalize": 78.4, "language": 135.1, "dedup": 44.1, "extract": 4417.4}


@pytest.fixture(scope="module")
def bench_run():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _manifest(n: int) -> dict:
    return {"docs": n, "seed": 0, "records": n, "words": n * 500, "files_total": n // 20, "bytes": n * 2500,
            "broken_total": 0, "expected_documents": n, "non_english_total": 0, "unique_english": n}  # fmt: skip


def _process(log: Path, returncode: int, wall_s: float, rss_mib: int) -> dict:
    return {"cmd": "fake", "returncode": returncode, "wall_s": wall_s, "cpu_s": wall_s * 1.5, "cores_used": 1.5,
            "peak_rss_tree_bytes": rss_mib * 1024**2, "peak_rss_main_bytes": rss_mib * 1024**2 // 2,
            "loadavg_1m_before": 1.0, "loadavg_1m_after": 1.0, "log": str(log)}  # fmt: skip


def _stage_seconds(n: int) -> dict:
    return {"ingest": n * 3e-4, "normalize": n * 8e-4, "language": n * 1.4e-3, "dedup": n * 3e-4,
            "extract": n * 0.044, "load": n * 1.7e-3}  # fmt: skip


@pytest.fixture
def harness(bench_run, monkeypatch, tmp_path):
    """bench/run.py with fakes for everything it runs; `harness(failing)` runs main() with `failing` failing in its
    cold run's load stage (its log and progress file as a real 100k run left them) and returns the results."""

    def fake_measure(cmd: list[str], log: Path, env: dict | None = None) -> dict:
        _, n, kind = log.stem.split("_")  # log_<n>_<cold|noop|coldK>
        harness.events.append((int(n), "R" if kind.startswith("cold") else kind))
        summary = Path(cmd[cmd.index("--child-summary") + 1])
        if int(n) == harness.failing and kind == "cold":
            log.write_text(f"05:23:50 | ERROR | Flow run 'x' - Encountered exception\n_duckdb.{OOM}\n"
                           f"newsetl: error: Flow run encountered an exception: {OOM}\nnewsetl: error: \n"
                           "nanobind: leaked 29 instances!\n")  # fmt: skip
            progress = {"seconds": FINISHED, "peak_rss_mib": {"extract": 4100}, "stage_started_at": time.time() - 232.6}
            bench_run._progress_path(summary).write_text(json.dumps(progress))  # no "error": the log gives it
            return _process(log, 1, 4943.0, 4800)
        log.write_text("ok\n")
        seconds = _stage_seconds(int(n)) if kind.startswith("cold") else dict.fromkeys(_stage_seconds(1), 0.01)
        if kind.startswith("cold") and kind != "cold":  # --floor-repeats: each repeat a little slower
            seconds["load"] += 10 * len(harness.events)
        summary.write_text(json.dumps({"run_id": f"run_{n}_{kind}", "status": "success", "counts": {},
                                       "seconds": seconds}))  # fmt: skip
        wall = sum(seconds.values()) + 20
        return _process(log, 0, wall, 1500 if kind == "cold" else 600)

    def fake_query_runs(warehouse: Path) -> list[dict]:
        n = int(warehouse.name.removeprefix("wh_"))
        counts = {"records": n, "quarantined": 0, "documents_new": n}
        colds = [{"run_id": f"run_{n}_cold{k}", "counts": counts, "params": {}} for k in ("", 2, 3)]
        return [{"run_id": f"run_{n}_noop", "counts": {}, "params": {}}, *colds]

    def fake_baselines(corpus: Path, args, workdir: Path, size: int, only: str = "") -> dict:
        n = int(corpus.name.removeprefix("corpus_"))
        harness.events.append((n, "B" if only == "ner" else "baselines"))
        one = {"texts_measured": n, "texts_total": n, "words_per_s": 13_000.0}
        drift = 5 * len(harness.events) if only else 0  # --floor-repeats: each repeat a little slower
        return {"ner": {**one, "seconds_all_texts": n * 0.04 + drift, "n_process": 2},
                "langdetect": {**one, "seconds_all_texts": n * 0.006},
                "minhash": {**one, "seconds_all_texts": 1.0},
                "process": _process(workdir / "b.txt", 0, n * 0.04 + drift + 3, 900)}  # fmt: skip

    monkeypatch.setattr(bench_run, "measure", fake_measure)
    monkeypatch.setattr(bench_run, "empty_flow", lambda workdir, rep: _process(workdir / "e.txt", 0, 18.0, 300))
    monkeypatch.setattr(bench_run, "ensure_corpus", lambda n, seed, wd: (wd / f"corpus_{n}", _manifest(n), None))
    monkeypatch.setattr(bench_run, "query_runs", fake_query_runs)

    def fake_query(warehouse: Path, sql: str) -> list[dict]:  # check_run's one query: both counts, n each
        n = int(warehouse.name.removeprefix("wh_"))
        return [{"documents_en": n, "documents_extracted": n}]

    monkeypatch.setattr(bench_run, "query", fake_query)
    monkeypatch.setattr(bench_run, "run_baselines", fake_baselines)

    def harness(failing: int, *extra: str) -> tuple[dict, str, str]:
        harness.failing, harness.events = failing, []
        results = tmp_path / "results"
        argv = ["--sizes", ",".join(map(str, SIZES)), "--workdir", str(tmp_path / "work"), "--results", str(results),
                "--empty-flow-reps", "2", *extra]  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            bench_run.main(argv)
        (out,) = results.glob("*.json")
        return json.loads(out.read_text()), (results / "latest.md").read_text(), str(exc.value.code)

    return harness


def _target(result: dict, starts: str) -> dict:
    (t,) = [t for t in result["targets"] if t["target"].startswith(starts)]
    return t


@pytest.mark.parametrize("failing", [100_000, 10_000])
def test_a_failed_size_is_recorded_and_the_others_measured(bench_run, harness, failing):
    result, md, exit_message = harness(failing)

    assert [s["size"] for s in result["sizes"]] == list(SIZES)  # the sizes after the failed one ran too
    by_n = {s["size"]: s for s in result["sizes"]}
    assert all(by_n[n]["status"] == "ok" and by_n[n]["count_check"] for n in SIZES if n != failing)
    failed = by_n[failing]
    assert failed["status"] == "failed" and "cold" not in failed and failed["manifest"]["records"] == failing
    f = failed["failure"]
    assert (f["step"], f["stage"], f["returncode"], f["wall_s"]) == ("cold run", "load", 1, 4943.0)
    assert f["stage_seconds"] == FINISHED and f["peak_rss_tree_bytes"] == 4800 * 1024**2
    assert f["reason"] == f"Flow run encountered an exception: {OOM}"  # the CLI's line, from the log
    assert f["log"].endswith(f"log_{failing}_cold.txt") and "nanobind" in f["log_tail"]
    assert 232.6 <= f["stage_s"] < 240  # this fake child wrote no failure time: the stage ran until the process ended

    assert f"{failing:,} failed in load (cold run) after 233 s" in exit_message
    assert f"## {failing:,} records ({failing // 20} files" in md
    assert (
        f"words): FAILED\n\n**Failed in load (cold run) after 233 s**: Flow run encountered an exception: {OOM}. " in md
    )
    assert "| stage `extract` | 4417.40 |" in md and "| stage `load` of the cold run: **FAILED** after |" in md
    assert "| **cold run, until the failure** | 4943.00 | | | 4800 | 1.5 |" in md
    assert md.startswith(f"# newsetl benchmark {result['started_at']}")
    assert bench_run.markdown(result) == md  # what --render prints from the JSON

    for t in result["targets"]:
        assert t["status"].split(":")[0] in ("PASS", "FAIL", "not measured"), t
    not_measured = {t["target"] for t in result["targets"] if t["status"].startswith("not measured")}
    assert any(t.startswith(f"no-op incremental run at {failing:,}") for t in not_measured)
    assert all(t["measured"] is not None for t in result["targets"] if t["target"] not in not_measured)
    floor, scaling = _target(result, "end-to-end throughput"), _target(result, "per-document flow time")
    rss = _target(result, "peak RSS")
    if failing == 100_000:  # the floor is at 10k: measured; scaling and RSS are at 100k
        assert floor["measured"] is not None
        assert scaling["status"] == rss["status"] == "not measured: 100,000 failed"
        assert "10,000 vs 1,000, both measured" in scaling["detail"]
        assert "until then 4800 MiB (already above the target)" in rss["detail"]
    else:
        assert floor["status"] == "not measured: 10,000 failed" and floor["measured"] is None
        assert scaling["measured"] is not None and rss["measured"] is not None
    assert f"| - | not measured: {failing:,} failed |" in md
    noop = _target(result, "no-op incremental run at 1,000")  # 20.06 s; empty flows 18.0 s at the start and after it
    assert noop["measured"] == 1.114 and noop["detail"].endswith("; 1.11x the empty flow run right after it (18.0 s)")

    again = bench_run.evaluate(result["sizes"], result["empty_flow"])  # from the JSON, as stored
    assert [t["status"] for t in again] == [t["status"] for t in result["targets"]]


def test_log_reason(bench_run, tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("Traceback (most recent call last):\n  File x\n_duckdb.IOException: disk full\nnoise\n")
    assert bench_run.log_reason(log, 1) == "_duckdb.IOException: disk full"
    log.write_text("newsetl: error: input not found: /x\nnewsetl: error: \nValueError: no\n")
    assert bench_run.log_reason(log, 2) == "input not found: /x"
    log.write_text("")
    assert bench_run.log_reason(log, -9) == "killed by SIGKILL"
    log.write_text("something\nlast words\n\n")
    assert bench_run.log_reason(log, 3) == "exit code 3: last words"
    assert bench_run.log_reason(tmp_path / "missing.txt", 4) == "exit code 4"


@dataclass
class _Summary:
    run_id: str
    seconds: dict


def _fake_flows(fail: bool) -> dict[str, types.ModuleType]:
    """Stand-ins for flows, flows.run (a Run timing stages), flows.etl (a run_pipeline failing in the dedup stage)
    and flows.cli."""
    import contextlib

    etl, run_mod = types.ModuleType("flows.etl"), types.ModuleType("flows.run")

    class Run:
        def __init__(self) -> None:
            self.seconds: dict[str, float] = {}
            self.peak_mb: dict[str, int] = {}

        @contextlib.contextmanager
        def stage(self, name: str):  # type: ignore[no-untyped-def]
            yield
            self.seconds[name] = 1.5
            self.peak_mb[name] = 100

    def run_pipeline(settings: object) -> _Summary:
        run = run_mod.Run()  # through the module's name, as the flow does
        for name in ("ingest", "normalize"):
            with run.stage(name):
                pass
        if fail:
            raise MemoryError("out of memory\nin dedup")
        return _Summary("r1", run.seconds)

    run_mod.Run, etl.run_pipeline = Run, run_pipeline
    cli = types.ModuleType("flows.cli")
    cli.entry = lambda args: etl.run_pipeline(args)  # as the flow does: through the module's name
    flows = types.ModuleType("flows")
    flows.etl, flows.cli, flows.run = etl, cli, run_mod
    return {"flows": flows, "flows.etl": etl, "flows.run": run_mod, "flows.cli": cli}


@pytest.mark.parametrize("fail", [True, False])
def test_child_hook_records_progress(bench_run, monkeypatch, tmp_path, fail):
    for name, mod in _fake_flows(fail).items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(sys, "path", list(sys.path))
    summary = tmp_path / "summary_5_cold.json"
    if fail:
        with pytest.raises(MemoryError):
            bench_run._child_summary(summary, ["run"])
    else:
        bench_run._child_summary(summary, ["run"])
    progress = json.loads(bench_run._progress_path(summary).read_text())
    assert progress["seconds"] == {"ingest": 1.5, "normalize": 1.5}
    assert progress["peak_rss_mib"] == {"ingest": 100, "normalize": 100}
    assert summary.exists() is not fail
    if not fail:
        assert json.loads(summary.read_text())["run_id"] == "r1"
        return
    assert progress["error"] == "MemoryError: out of memory" and progress["failed_at"] >= progress["stage_started_at"]
    log = tmp_path / "log.txt"
    log.write_text("newsetl: error: Flow run encountered an exception: MemoryError\n")
    f = bench_run.pipeline_failure(_process(log, 1, 30.0, 900), progress, time.time())
    assert (f["stage"], f["stage_seconds"]) == ("dedup", progress["seconds"])
    assert f["reason"] == "MemoryError: out of memory"  # the child's exception wins over the log's line
    assert bench_run.failure_summary({**f, "step": "cold run"}).startswith("failed in dedup (cold run) after ")


def test_bare_ner_times_every_text_where_the_floor_is_a_target(bench_run, monkeypatch, tmp_path):
    """At 1,500 and 10k (the floor's sizes) bare NER runs on every text; elsewhere on --ner-sample texts."""
    import argparse

    sample: dict[int, str] = {}

    def fake_measure(cmd: list[str], log: Path) -> dict:
        n = int(Path(cmd[cmd.index("--corpus") + 1]).name.removeprefix("corpus_"))
        sample[n] = cmd[cmd.index("--ner-sample") + 1]
        Path(cmd[cmd.index("--out") + 1]).write_text(json.dumps({"ner": {}}))
        return {"returncode": 0}

    monkeypatch.setattr(bench_run, "measure", fake_measure)
    args = argparse.Namespace(n_process=2, ner_sample=1000, langdetect_sample=1000)
    for n in (1_000, 1_500, 10_000, 100_000):
        bench_run.run_baselines(tmp_path / f"corpus_{n}", args, tmp_path, n)
    assert sample == {1_000: "1000", 1_500: "0", 10_000: "0", 100_000: "1000"}


def test_the_floor_target_is_also_measured_at_1500_documents(bench_run, harness):
    """Issue 17: at 1,500 documents the whole run, start-up included, against the bare-NER floor (beside 10k)."""
    import copy

    result, _, _ = harness(100_000)
    at_1k = next(s for s in result["sizes"] if s["size"] == 1_000)
    at_1500 = {**copy.deepcopy(at_1k), "size": 1_500}
    at_1500["cold"]["wall_s"] = at_1500["baselines"]["ner"]["seconds_all_texts"] / 0.9
    targets = bench_run.evaluate([at_1k, at_1500, *result["sizes"][1:]], result["empty_flow"])
    floors = {t["target"]: t for t in targets if t["target"].startswith("end-to-end throughput")}
    assert sorted(floors) == [f"end-to-end throughput >= 0.85 x bare-NER floor at {n}" for n in ("1,500", "10,000")]
    assert floors["end-to-end throughput >= 0.85 x bare-NER floor at 1,500"]["measured"] == 0.9


def test_floor_repeats_measure_run_and_bare_ner_pairs_in_abba_order(bench_run, harness):
    """--floor-repeats K: at a floor size, K (run, bare NER) pairs, the first R B then B R, R B, ...; the floor's
    ratio is the mean floor over the mean run, and each pair is in the report."""
    result, md, _ = harness(100_000, "--floor-repeats", "3")

    at_10k = [e for n, e in harness.events if n == 10_000]
    assert at_10k == ["R", "noop", "baselines", "B", "R", "R", "B"]  # cold, no-op, then the pairs' ABBA order
    assert [e for n, e in harness.events if n == 1_000] == ["R", "noop", "baselines"]  # not a floor size
    by_n = {s["size"]: s for s in result["sizes"]}
    pairs = by_n[10_000]["floor_pairs"]
    assert [p["order"] for p in pairs] == ["RB", "BR", "RB"]
    assert all(p["count_check"]["records"]["ok"] for p in pairs[1:])
    runs, floors = [p["run_s"] for p in pairs], [p["floor_s"] for p in pairs]
    assert len(set(runs)) == 3 and len(set(floors)) == 3  # the fakes' drift: every measurement differs
    floor = _target(result, "end-to-end throughput")
    assert floor["measured"] == round(sum(floors) / sum(runs), 3) != round(floors[0] / runs[0], 3)
    assert "in the order RBBRRB" in floor["detail"]
    assert [p["floor_cpu_s"] for p in pairs] == [None, (floors[1] + 3) * 1.5, (floors[2] + 3) * 1.5]
    assert all(p["cpu_s"] == p["run_s"] * 1.5 for p in pairs)  # each pair's run, the first's too
    row2 = f"| 2 | BR | {runs[1]:.1f} | {floors[1]:.1f} | {floors[1] / runs[1]:.3f} | {runs[1] * 1.5:,.0f} | "
    assert row2 + f"{(floors[1] + 3) * 1.5:,.0f} | ok |" in md
    assert f"| {floors[0] / runs[0]:.3f} | {runs[0] * 1.5:,.0f} |  | ok |" in md  # pair 1: no bare-NER CPU
    assert "floor_pairs" not in by_n[1_000]


def test_the_results_name_the_commit_they_measured(bench_run, tmp_path):
    import re
    import subprocess

    from warehouse.version import code_version

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    got = bench_run.commit()
    assert code_version().endswith(f"+g{head}")  # the runs table's code version names the checked-out commit
    assert re.fullmatch(rf"{re.escape(code_version())}(\+dirty)?", got), got
    host = {"cpus": 2, "platform": "p", "loadavg_start": 0.5}
    result = {"started_at": "2026-12-01T00:00:00+00:00", "commit": got, "host": host, "params": {"n_process": 2},
              "sizes": [], "empty_flow": [], "targets": []}  # fmt: skip
    clean = code_version().removesuffix("+dirty")
    md = bench_run.markdown({**result, "commit": clean})
    assert f"Code: {clean}." in md and "+dirty" not in md  # the legend only where the mark is
    assert "(`+dirty`: tracked files differed" in bench_run.markdown({**result, "commit": f"{clean}+dirty"})
