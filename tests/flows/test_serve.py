"""`newsetl serve`: scheduled runs end to end, with the Prefect server serve starts and with one already running.

One serve process (the README's no-server command, every 5 s, on a copy of the seeds) is shared by the tests of
this module up to the SIGTERM test; every test waits for what it needs. Every process a test starts is ended
when the module ends, also on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS, q

INTERVAL = 5
README = ROOT / "README.md"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEW_ARTICLE = (
    '{"text": "The harbour authority opened a second ferry terminal on Friday, officials said. About 2,000 '
    'passengers a day are expected to use it.", "title": "Second ferry terminal opens"}\n'
)


# --- the README's two paths ------------------------------------------------------------------------------------
def scheduling_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("**Scheduling.**", 1)[1].split("Each deployment runs one flow run at a time", 1)[0]


def fenced(section: str, lang: str) -> list[list[str]]:
    """The fenced blocks of `lang` in `section`, as lists of stripped lines."""
    parts = section.split(f"```{lang}\n")[1:]
    return [[ln.strip() for ln in p.split("```", 1)[0].strip().splitlines()] for p in parts]


def substituted(line: str, inputs: Path, wh: Path, port: int | None = None) -> str:
    """A README line with this test's folders, interval and (for `prefect server start`) port."""
    line = line.replace("/data/incoming", str(inputs)).replace("/data/warehouse", str(wh))
    line = line.replace("--interval 300", f"--interval {INTERVAL}").replace("every 300 s", f"every {INTERVAL} s")
    return line.replace("4200", str(port)) if port else line


def expected_output(lines: list[str], inputs: Path, wh: Path, port: int | None = None) -> list[re.Pattern]:
    """README output lines as patterns: the pid and the free port the example shows (4242, 41183) may differ."""
    out = []
    for line in lines:
        pattern = re.escape(substituted(line, inputs, wh, port)).replace("4242", r"\d+").replace("41183", r"\d+")
        out.append(re.compile(pattern + "$"))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- processes ----------------------------------------------------------------------------------------------------
# exec the command with SIGINT at its default (a shell starting pytest in the background may have it ignored, and
# an ignored SIGINT would be inherited), as from a terminal
EXEC_WITH_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])"
)


class Proc:
    """A command in its own session with its output in a file; every descendant seen is remembered."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        import psutil

        self.log = log
        argv = [sys.executable, "-c", EXEC_WITH_SIGINT, *argv]
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.root = psutil.Process(self.popen.pid)
        self.seen: dict[tuple[int, float], psutil.Process] = {}
        self._done = threading.Event()
        self._watch = threading.Thread(target=self._sample_loop, daemon=True)
        self._watch.start()

    def _sample_loop(self) -> None:
        import psutil

        while not self._done.wait(0.2):
            try:
                for p in [self.root, *self.root.children(recursive=True)]:
                    self.seen.setdefault((p.pid, p.create_time()), p)
            except psutil.Error:
                pass

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.output(), re.M)
            if m:
                return m
            assert self.popen.poll() is None, f"exited {self.popen.returncode}:\n{self.output()[-3000:]}"
            time.sleep(0.3)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.output()[-3000:]}")

    def alive(self) -> list:
        return [p for p in self.seen.values() if p.is_running() and p.status() != "zombie"]

    def kill_all(self) -> None:
        """Cleanup: SIGKILL the session and everything seen."""
        import psutil

        self._done.set()
        for p in [self.root, *self.seen.values()]:
            try:
                if p.is_running():
                    p.kill()
            except psutil.Error:
                pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)


def serve_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env.update(PREFECT_HOME=str(home), PREFECT_LOGGING_LEVEL="INFO", **extra)
    return env


# --- the Prefect API, read over HTTP --------------------------------------------------------------------------
def api_post(api_url: str, path: str, body: dict) -> list | dict:
    req = urllib.request.Request(f"{api_url}/{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def flow_runs(api_url: str, *state_types: str) -> list[dict]:
    body: dict = {"sort": "START_TIME_ASC", "limit": 200}
    if state_types:
        body["flow_runs"] = {"state": {"type": {"any_": list(state_types)}}}
    return api_post(api_url, "flow_runs/filter", body)


def healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as resp:
            return resp.read().strip() == b"true"
    except OSError:
        return False


def published_runs(wh: Path) -> list[tuple]:
    """(run_id, started_at, finished_at, n_records, n_documents_new, n_documents_total) per published run."""
    try:
        return q(wh, "SELECT run_id, started_at, finished_at, n_records, n_documents_new, n_documents_total "
                     "FROM runs ORDER BY started_at")  # fmt: skip
    except Exception:  # no catalog yet
        return []


def wait_runs(wh: Path, n: int, proc: Proc, timeout: float = 300) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while len(rows := published_runs(wh)) < n:
        assert proc.popen.poll() is None, proc.output()[-3000:]
        assert time.monotonic() < deadline, f"{len(rows)} of {n} runs in {timeout} s:\n{proc.output()[-3000:]}"
        time.sleep(0.5)
    return rows


def wait_completed(served: Served, n: int, timeout: float = 60) -> list[dict]:
    """At least `n` scheduled flow runs Completed (a run publishes, then reports Completed to the server)."""
    wait_runs(served.wh, n, served.proc)
    deadline = time.monotonic() + timeout
    while len(done := [r for r in flow_runs(served.api_url, "COMPLETED") if r["auto_scheduled"]]) < n:
        assert time.monotonic() < deadline, flow_runs(served.api_url)
        time.sleep(0.3)
    return done


# --- the shared serve process: the README's no-server path ---------------------------------------------------------
class Served:
    def __init__(self, tmp: Path) -> None:
        self.inputs, self.wh = tmp / "inputs", tmp / "wh"
        shutil.copytree(SEEDS, self.inputs)
        (cmd, *self.readme_output), *_ = fenced(scheduling_section(), "console")
        self.cmd = substituted(cmd.removeprefix("$ "), self.inputs, self.wh)
        self.started = time.monotonic()
        # runs on the default runner (a local Dask cluster, so the SIGTERM test sees its workers), of one worker
        self.proc = Proc(shlex.split(self.cmd), serve_env(tmp / "home", NEWSETL_N_PROCESS="1"), tmp / "serve.log")
        self.proc.wait_for(r"stops serving and the server$", timeout=240)
        self.ready_after = time.monotonic() - self.started
        self.api_url = re.search(r"Prefect server \(pid \d+\) at (\S+)$", self.proc.output(), re.M).group(1)
        self.server_pid = int(re.search(r"Prefect server \(pid (\d+)\)", self.proc.output()).group(1))
        self.dashboard = re.search(r"dashboard (\S+)$", self.proc.output(), re.M).group(1)


class ReadmeServer:
    """`prefect server start` and PREFECT_API_URL as the README's second path shows them, on a free port."""

    def __init__(self, tmp: Path) -> None:
        section = scheduling_section().split("*With a Prefect server.*", 1)[1]
        (start, export, self.serve_cmd), *_ = fenced(section, "bash")
        self.output = fenced(section, "console")[0]
        self.port = free_port()  # 4200 may be taken on this machine
        key, self.api_url = shlex.split(substituted(export, tmp, tmp, self.port), comments=True)[1].split("=")
        assert key == "PREFECT_API_URL"
        self.env = serve_env(tmp / "home", NEWSETL_RUNNER="thread")  # its runs: no worker processes to start
        self.proc = Proc([*shlex.split(start, comments=True), "--port", str(self.port)], self.env, tmp / "server.log")

    def wait_healthy(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not healthy(self.api_url):
            assert time.monotonic() < deadline and self.proc.popen.poll() is None, self.proc.output()[-2000:]
            time.sleep(0.3)


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory):
    s = ReadmeServer(tmp_path_factory.mktemp("readme-server"))
    yield s
    s.proc.kill_all()


@pytest.fixture(scope="module")
def served(readme_server, tmp_path_factory):
    """(readme_server first: its start-up overlaps this one's.)"""
    s = Served(tmp_path_factory.mktemp("serve"))
    yield s
    s.proc.kill_all()


def test_the_readme_command_without_a_server_prints_what_the_readme_shows(served):
    lines = served.proc.output().splitlines()[: len(served.readme_output)]
    patterns = expected_output(served.readme_output, served.inputs, served.wh)
    assert len(lines) == len(patterns) == 6
    for line, pattern in zip(lines, patterns, strict=True):
        assert pattern.match(line), (line, pattern.pattern)
    assert served.dashboard == served.api_url.removesuffix("/api") + "/runs"
    assert (served.wh / ".prefect" / "prefect.db").is_file()  # the server's database lives with the warehouse
    assert healthy(served.api_url)


def test_two_scheduled_runs_publish_then_record_a_no_op(served):
    first, second = wait_runs(served.wh, 2, served.proc)[:2]
    assert (first[3], first[4], first[5]) == (5, 5, 5)  # records, new documents, documents in all
    assert (second[3], second[4], second[5]) == (0, 0, 5)  # nothing new: a no-op, recorded in runs
    assert second[1] >= first[2]  # one run at a time
    assert len(wait_completed(served, 2)) >= 2  # both were scheduled runs
    # runs due while one was going were cancelled by the server, each with one log line
    skipped = [r for r in flow_runs(served.api_url, "CANCELLED") if r["auto_scheduled"]]
    assert skipped and all(r["state"]["message"] == "Deployment concurrency limit reached." for r in skipped)
    assert served.proc.output().count("the previous run is still going (one run at a time)") >= 1


def test_a_file_added_between_runs_is_published_by_the_next_run(served):
    n = len(wait_runs(served.wh, 1, served.proc))
    added_at = time.time()
    (served.inputs / "later.jsonl").write_text(NEW_ARTICLE, encoding="utf-8")
    deadline = time.monotonic() + 300
    while not any(r[4] == 1 for r in published_runs(served.wh)[n:]):
        assert time.monotonic() < deadline, served.proc.output()[-3000:]
        time.sleep(0.5)
    after = published_runs(served.wh)[n:]
    i = next(i for i, r in enumerate(after) if r[4] == 1)
    # published by the first run that started after the file was added, or by the one going then, if it saw it
    assert i == 0 or (i == 1 and after[0][1].timestamp() < added_at), after
    assert q(served.wh, "SELECT title FROM documents WHERE text LIKE '%second ferry terminal%'") == [
        ("Second ferry terminal opens",)
    ]
    assert q(served.wh, "SELECT run_id, status FROM source_files WHERE path LIKE '%later.jsonl'") == [
        (after[i][0], "ingested")
    ]


def chromium(url: str, profile: Path, *args: str) -> str:
    """stdout of headless chromium on `url` (flags as in tests/test_report.py; a new empty profile)."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--window-size=1400,1000", "--virtual-time-budget=15000"]  # fmt: skip
    res = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={profile}", *args, url],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    return res.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_the_dashboard_serve_prints_shows_the_flow_runs(served, tmp_path):
    wait_runs(served.wh, 2, served.proc)
    dom = chromium(served.dashboard, tmp_path / "p1", "--dump-dom")
    after = len([r for r in flow_runs(served.api_url) if r["state_type"] != "SCHEDULED"])
    text = " ".join(re.sub(r"<[^>]+>", " ", dom).split())
    assert "Can't connect to Server API" not in text
    # the list's header counts the runs (scheduled ones hidden) and the filters name the flow and deployment:
    # all from the API, so the page reached it (the list items themselves render lazily, not always in a dump)
    shown = re.search(r"Flow runs Task runs .* (\d+) runs Hide subflows", text)
    assert shown and 2 <= int(shown.group(1)) <= after, text[:3000]
    assert "Flows etl Deployments newsetl-etl" in text
    shot = tmp_path / "dashboard.png"  # to look at: NEWSETL_KEEP_SCREENSHOT=/some/file.png
    chromium(served.dashboard, tmp_path / "p2", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("NEWSETL_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["NEWSETL_KEEP_SCREENSHOT"])


def test_sigterm_stops_serve_its_server_and_every_process_of_the_tree(served):
    wait_runs(served.wh, 2, served.proc)
    deadline = time.monotonic() + 120
    while not flow_runs(served.api_url, "RUNNING"):  # stop it while a run is in progress, the harder case
        assert time.monotonic() < deadline, served.proc.output()[-3000:]
        time.sleep(0.3)
    assert any(p.pid == served.server_pid for p in served.proc.seen.values())
    t0 = time.monotonic()
    served.proc.popen.send_signal(signal.SIGTERM)
    code = served.proc.popen.wait(90)
    stopped_after = time.monotonic() - t0
    time.sleep(0.5)
    assert code == 0, served.proc.output()[-3000:]
    assert served.proc.alive() == [], [(p.pid, p.cmdline()) for p in served.proc.alive()]
    assert not healthy(served.api_url)
    out = served.proc.output()
    assert "Cancelled flow run" in out and "All deployments have been paused!" in out, out[-6000:]
    print(f"serve ready after {served.ready_after:.1f} s; stopped {stopped_after:.1f} s after SIGTERM")


def completed_in_database(db: Path) -> set[str]:
    """Ids of the completed flow runs in the server's SQLite database, read with the server down."""
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return {str(r[0]) for r in con.execute("SELECT id FROM flow_run WHERE state_type = 'COMPLETED'")}


def test_run_history_survives_a_restart_and_ctrl_c_stops_everything(served, tmp_path):
    if served.proc.popen.poll() is None:  # not stopped by the SIGTERM test (run alone)
        wait_completed(served, 2)
        served.proc.popen.send_signal(signal.SIGTERM)
        served.proc.popen.wait(90)
    before = completed_in_database(served.wh / ".prefect" / "prefect.db")
    assert len(before) >= 2
    argv = shlex.split(served.cmd.replace(f"--interval {INTERVAL}", "--interval 3600"))
    again = Proc(argv, serve_env(tmp_path / "home", NEWSETL_RUNNER="thread"), tmp_path / "serve.log")
    try:
        again.wait_for(r"stops serving and the server$", timeout=240)
        api_url = re.search(r"Prefect server \(pid \d+\) at (\S+)$", again.output(), re.M).group(1)
        assert before <= {r["id"] for r in flow_runs(api_url, "COMPLETED")}  # the earlier session's runs
        again.wait_for(r"Beginning flow run", timeout=120)  # an interval's first run is due at once
        os.killpg(again.popen.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
        assert again.popen.wait(90) == 0
        time.sleep(0.5)
        assert again.alive() == [] and not healthy(api_url), [p.cmdline() for p in again.alive()]
    finally:
        again.kill_all()


def test_the_readme_command_with_a_server_uses_it_and_leaves_it_running(readme_server, tmp_path):
    inputs, wh = tmp_path / "inputs", tmp_path / "wh"
    shutil.copytree(SEEDS, inputs)
    readme_server.wait_healthy()
    argv = shlex.split(substituted(readme_server.serve_cmd, inputs, wh, readme_server.port))
    env = {**readme_server.env, "PREFECT_API_URL": readme_server.api_url}
    serve = Proc(argv, env, tmp_path / "serve.log")
    try:
        serve.wait_for(r"stops serving$", timeout=120)
        lines = serve.output().splitlines()[: len(readme_server.output)]
        for line, pattern in zip(
            lines, expected_output(readme_server.output, inputs, wh, readme_server.port), strict=True
        ):
            assert pattern.match(line), (line, pattern.pattern)
        assert "starting a Prefect server" not in serve.output() and not (wh / ".prefect").exists()
        first = wait_runs(wh, 1, serve)[0]
        assert first[4] == 5  # the server's scheduler created the run, serve ran it
        serve.popen.send_signal(signal.SIGTERM)
        assert serve.popen.wait(90) == 0
        time.sleep(0.5)
        assert serve.alive() == [] and healthy(readme_server.api_url)  # serve is gone; the server it found is not
        deployments = api_post(readme_server.api_url, "deployments/filter", {})
        assert [(d["name"], d["paused"]) for d in deployments] == [("newsetl-etl", True)]
    finally:
        serve.kill_all()


ORPHAN = """
import os, subprocess, sys, time
watched = (
    "import os, threading, time; from flows.serve import _exit_when_orphaned; "
    "threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start(); "
    "print(os.getpid(), flush=True); time.sleep(600)"
)
subprocess.Popen([sys.executable, "-c", watched])
time.sleep(600)
"""


def test_the_server_exits_when_serve_is_killed():
    """The server process watches its parent: with the parent SIGKILLed it ends itself, it is not left over."""
    import psutil

    parent = subprocess.Popen([sys.executable, "-c", ORPHAN], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = None
    try:
        child = psutil.Process(int(parent.stdout.readline()))
        assert child.ppid() == parent.pid
        parent.kill()
        parent.wait()
        assert psutil.wait_procs([child], timeout=10)[1] == []
    finally:
        parent.kill()
        if child is not None and child.is_running():
            child.kill()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a schedule: --cron EXPR or --interval SECONDS"),
        (["--cron", "0 * * * *", "--interval", "60"], "give one schedule: --cron EXPR or --interval SECONDS, not both"),
        (["--interval", "0"], "--interval must be a positive number of seconds, got 0"),
        (["--cron", "every hour"], "not a valid cron expression: 'every hour'"),
    ],
)
def test_serve_wants_exactly_one_valid_schedule(args, message):
    from click.testing import CliRunner

    from flows.cli import main

    res = CliRunner().invoke(main, ["serve", *args])
    assert res.exit_code == 2
    assert res.output.strip() == f"newsetl: error: {message}"


def test_serve_refuses_an_api_url_where_no_server_answers_and_a_port_with_an_api_url(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from flows import serve
    from flows.cli import main

    url = f"http://127.0.0.1:{free_port()}/api"
    monkeypatch.setattr(serve, "configured_api_url", lambda: url)  # as if PREFECT_API_URL were set
    args = ["serve", "--interval", "60", "--warehouse", str(tmp_path / "wh")]
    res = CliRunner().invoke(main, args)
    assert (res.exit_code, res.output.strip()) == (
        1,
        f"newsetl: error: no Prefect server answers at {url} (PREFECT_API_URL)",
    )
    res = CliRunner().invoke(main, [*args, "--port", "4321"])
    assert res.exit_code == 1
    assert res.output.strip() == (
        "newsetl: error: --port is for the server serve starts; PREFECT_API_URL is set, so it starts none"
    )
    assert not (tmp_path / "wh").exists()  # no server was started, nothing written


def test_a_port_in_use_fails_with_one_line_and_leaves_no_process(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "flows.cli", "serve", "--interval", "60", "--port", str(port),
                "--warehouse", str(tmp_path / "wh")]  # fmt: skip
        proc = Proc(argv, serve_env(tmp_path / "home"), tmp_path / "serve.log")
        try:
            assert proc.popen.wait(120) == 1
            time.sleep(0.5)
            assert proc.alive() == []
        finally:
            proc.kill_all()
    lines = proc.output().strip().splitlines()
    assert lines[0] == f"newsetl: starting a Prefect server (database and log in {tmp_path / 'wh' / '.prefect'}) ..."
    assert lines[1:] == [
        f"newsetl: error: the Prefect server exited during start-up (Port {port} is already in use. Please specify "
        f"a different port with the `--port` flag.); see {tmp_path / 'wh' / '.prefect' / 'server.log'}"
    ]
