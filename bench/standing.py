"""The bare-NER floor's ratio for runs on a standing deployment: a Prefect API server and a Dask cluster started
once, before the runs (`PREFECT_API_URL`, `--dask-address`), against bare NER on the same texts in the same bench.

    .venv/bin/python bench/standing.py --docs 1500 --runs 2

bench/run.py times a whole `newsetl run`, which starts its own API server and its own workers: at 1,500 documents
that start-up alone is ~15 % of the time bare NER takes. Here the deployment is started first (its seconds are
reported apart), the runs only connect to it, as scheduled runs under `newsetl serve` with a cluster would, and each
run gets a fresh warehouse. The cluster has one single-threaded worker process per core (as the default local
runner), started with the README's `--preload flows.worker_setup`; it is stopped before bare NER is timed.
Results: bench/results/standing-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from run import measure  # noqa: E402  (bench/run.py: wall, CPU and peak RSS of a command's process tree)
from scaling import bare_ner, corpus_of, query  # noqa: E402

PY = sys.executable
BIN = Path(PY).parent
FLOOR_RATIO = 0.85  # issue 7's bound, as bench/run.py checks it


def serve_api() -> None:
    """Child mode: Prefect's API on a thread of this process (flows.runners.ApiServer); prints its URL, then serves
    until stdin closes or the process is terminated."""
    from flows.runners import ApiServer

    server = ApiServer()
    server.start()
    print(server.api_url, flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


class Deployment:
    """An API server, a Dask scheduler and `workers` preloaded workers, each in its own process group."""

    def __init__(self, workdir: Path, workers: int) -> None:
        self.workdir, self.workers = workdir, workers
        self.procs: list[subprocess.Popen] = []
        self.api_url = self.address = ""
        self.env: dict[str, str] = {}
        self.start_seconds = 0.0

    def _spawn(self, cmd: list[str], log: str, env: dict[str, str]) -> None:
        out = open(self.workdir / log, "wb")  # noqa: SIM115  (the child keeps it; closed with this process)
        self.procs.append(subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env,
                                           start_new_session=True))  # fmt: skip

    def __enter__(self) -> Deployment:
        try:
            self._start()
        except BaseException:
            self.__exit__()  # `with` does not call it when __enter__ raises: stop what did start
            raise
        return self

    def _start(self) -> None:
        from distributed import Client

        t = time.perf_counter()
        env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        log = open(self.workdir / "standing_api.log", "wb")  # noqa: SIM115  (the child keeps it)
        api = subprocess.Popen([PY, __file__, "--serve-api"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=log, env=env, text=True, start_new_session=True)  # fmt: skip
        self.procs.append(api)
        sched_file = self.workdir / "standing_scheduler.json"
        sched_file.unlink(missing_ok=True)
        self._spawn([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)], "standing_scheduler.log", env=env)  # fmt: skip
        self.api_url = api.stdout.readline().strip()
        if not self.api_url.startswith("http"):
            raise RuntimeError(f"the API server did not start: see {self.workdir / 'standing_api.log'}")
        self.env = {**env, "PREFECT_API_URL": self.api_url}
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Dask scheduler did not start: see {self.workdir / 'standing_scheduler.log'}")
            time.sleep(0.1)
        self._spawn([str(BIN / "dask"), "worker", "--scheduler-file", str(sched_file), "--nworkers",
                     str(self.workers), "--nthreads", "1", "--no-dashboard", "--preload", "flows.worker_setup",
                     "--local-directory", str(self.workdir / "standing_workers")],
                    "standing_workers.log", env=self.env)  # fmt: skip
        with Client(scheduler_file=str(sched_file), timeout=60) as client:
            client.wait_for_workers(self.workers, timeout=300)
            self.address = client.scheduler.address
        self.start_seconds = time.perf_counter() - t

    def __exit__(self, *exc: object) -> None:
        from flows.serve import stop_group

        for proc in reversed(self.procs):  # workers, scheduler, then the API server
            stop_group(proc)


def cold_run(dep: Deployment, corpus: Path, workdir: Path, rep: int) -> dict:
    """One `newsetl run` on the deployment, on a fresh warehouse: wall seconds and the run's stage seconds."""
    wh = workdir / f"wh_standing_{rep}"
    shutil.rmtree(wh, ignore_errors=True)
    cmd = [str(BIN / "newsetl"), "run", "--runner", "dask", "--dask-address", dep.address,
           "--input", str(corpus / "docs"), "--warehouse", str(wh), "--quiet"]  # fmt: skip
    res = measure(cmd, workdir / f"log_standing_{rep}.txt", env=dep.env)
    if res["returncode"] != 0:
        raise RuntimeError(f"run {rep} failed (exit {res['returncode']}): see {res['log']}")
    counts = json.loads(query(wh, "select counts from runs")[0]["counts"])
    shutil.rmtree(wh, ignore_errors=True)
    return {**res, "seconds": counts["seconds"], "documents_new": counts["documents_new"]}


def ratios(floor_s: float, walls: list[float]) -> dict:
    """Each run's ratio to the floor (floor seconds / run seconds: 1.0 runs as fast as bare NER) and the best."""
    each = [round(floor_s / w, 3) for w in walls]
    return {"floor_s": round(floor_s, 3), "ratios": each, "best": max(each), "met": max(each) >= FLOOR_RATIO}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=1500)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "newsetl-bench")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--serve-api", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_api:
        return serve_api()
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    corpus = corpus_of(args.docs, args.seed, args.workdir)
    result: dict = {"started_at": started.isoformat(timespec="seconds"), "docs": args.docs, "workers": args.workers,
                    "loadavg_start": round(os.getloadavg()[0], 2)}  # fmt: skip
    with Deployment(args.workdir, args.workers) as dep:
        result["deployment_start_s"] = round(dep.start_seconds, 2)
        result["runs"] = [cold_run(dep, corpus, args.workdir, rep) for rep in range(args.runs)]
    bare = bare_ner(args.workers, corpus, args.workdir, 0)
    result["bare_ner"] = bare
    result |= ratios(bare["seconds_all_texts"], [r["wall_s"] for r in result["runs"]])
    result["loadavg_end"] = round(os.getloadavg()[0], 2)
    out = args.out or ROOT / "bench" / "results" / f"standing-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    walls = ", ".join(f"{r['wall_s']:.1f}" for r in result["runs"])
    print(
        f"{args.docs:,} documents on a standing deployment (started in {result['deployment_start_s']} s): runs "
        f"{walls} s, bare NER {result['floor_s']} s, ratio {result['ratios']} (bound {FLOOR_RATIO}); {out}"
    )


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError, TimeoutError, OSError) as exc:  # one line, not a traceback
        sys.exit(f"bench/standing.py: {exc}")
