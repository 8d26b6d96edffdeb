"""`newsetl serve`: scheduled runs of the etl flow (and of any other `flows.deploy.Job`) until stopped.

Prefect's scheduler lives in its server, so a schedule needs one:
- With `PREFECT_API_URL` set (environment or active Prefect profile), serve uses that server and starts none.
- Without it, serve starts `prefect server start` (API, UI, scheduler) as a child process on 127.0.0.1 and a free
  port (`port` to choose one), with `PREFECT_HOME=<warehouse>/.prefect`: its SQLite database (run history) and its
  log `server.log` live there and survive restarts. The child runs in its own session, so a Ctrl-C in the terminal
  reaches serve only and serve stops things in order; the child also exits by itself when serve is gone, even after
  a SIGKILL of serve (it watches its parent).

Each job is a deployment with a concurrency limit of 1 (CANCEL_NEW): a run that falls due while the previous one is
still going is cancelled by the server and logged here as one "skipped" line. On SIGINT or SIGTERM the runner
cancels a run in progress and pauses the schedules, then the server is stopped, then whatever is left of serve's
process tree (flow runs' worker processes) is ended.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flows.config import prepare_prefect_env
from flows.deploy import Job, one_run_at_a_time

SERVER_DIR = ".prefect"  # under the warehouse: PREFECT_HOME of the server serve starts
SERVER_LOG = "server.log"
HOST = "127.0.0.1"
START_TIMEOUT = 180.0  # seconds for the server's first /api/health (it migrates a new database first)


class ServeError(RuntimeError):
    """serve cannot start: one line for the user."""


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile, or None."""
    prepare_prefect_env()
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def ui_url(api_url: str) -> str:
    """The Prefect UI address that goes with an API address (Cloud and self-hosted)."""
    from prefect.settings import PREFECT_API_URL as API
    from prefect.settings import get_current_settings, temporary_settings

    with temporary_settings(updates={API: api_url}):
        return (get_current_settings().ui_url or api_url.removesuffix("/api")).rstrip("/")


def is_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as resp:
            return resp.status == 200 and resp.read().strip() == b"true"
    except (OSError, ValueError):
        return False


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ManagedServer:
    """`prefect server start` as a child process of serve, with its home (database, log) in `home`."""

    def __init__(self, home: Path, port: int | None = None) -> None:
        self.home = home
        self.port = port or free_port()
        self.api_url = f"http://{HOST}:{self.port}/api"
        self.ui_url = f"http://{HOST}:{self.port}"
        self.log = home / SERVER_LOG
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_SERVER_UI_ENABLED="true",
            PREFECT_UI_ENABLED="true",
            PREFECT_UI_API_URL=self.api_url,  # else the page asks the default port (4200) for its data
            PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="true",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )
        return env

    def launch(self) -> None:
        """Start the process; `wait_healthy` waits for it to answer."""
        self.home.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "flows.serve", "server", str(os.getpid()), str(self.port)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env(),
                start_new_session=True,
            )  # fmt: skip
        self.started_at = time.monotonic()

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Until /api/health answers; ServeError if the process ends first or `timeout` s pass from launch."""
        assert self.proc is not None
        while not is_healthy(self.api_url):
            if self.proc.poll() is not None:
                raise ServeError(f"the Prefect server exited during start-up ({self._last_words()}); see {self.log}")
            if time.monotonic() - self.started_at > timeout:
                self.stop()
                raise ServeError(f"the Prefect server did not answer within {timeout:.0f} s; see {self.log}")
            time.sleep(0.25)

    def _last_words(self) -> str:
        """The last paragraph of the server's log, on one line (its console wraps at 80 columns)."""
        text = self.log.read_text(encoding="utf-8", errors="replace").strip()
        last = " ".join(text.split("\n\n")[-1].split()) if text else ""
        return last[-300:] or f"exit code {self.proc.returncode if self.proc else '?'}"

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after `timeout` s."""
        if self.proc is not None:
            stop_group(self.proc, timeout)


def stop_group(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM to the process group that `proc` leads (started with `start_new_session`), SIGKILL after `timeout` s;
    nothing when `proc` has ended."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _server_child(parent: int, port: int) -> None:
    """Entry of the server process (`python -m flows.serve server PARENT_PID PORT`)."""
    threading.Thread(target=_exit_when_orphaned, args=(parent,), name="newsetl-parent-watch", daemon=True).start()
    from prefect.cli import app

    sys.argv = ["prefect", "server", "start", "--host", HOST, "--port", str(port)]
    app()


def _exit_when_orphaned(parent: int) -> None:
    """Stop this process (and its group) once `parent` is gone, e.g. killed by SIGKILL."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn shuts down cleanly on SIGTERM
    time.sleep(20.0)
    os.killpg(os.getpgrp(), signal.SIGKILL)


class ProcessTree:
    """Every descendant of this process seen while serving (sampled each second), so that none outlives serve:
    a killed flow run's worker processes are re-parented away from us and a final look would miss them."""

    def __init__(self, every: float = 1.0) -> None:
        import psutil

        self._me = psutil.Process()
        self._seen: dict[tuple[int, float], object] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), name="newsetl-tree-watch", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        try:
            for p in self._me.children(recursive=True):
                self._seen.setdefault((p.pid, p.create_time()), p)
        except psutil.Error:
            pass

    def _watch(self, every: float) -> None:
        while not self._stop.wait(every):
            self._sample()

    def end(self, timeout: float = 10.0) -> None:
        """SIGTERM every process seen that still runs, SIGKILL those left after `timeout` s. multiprocessing's
        resource tracker ignores SIGTERM by design (it only cleans up after its parent): SIGKILL at once."""
        import psutil

        self._stop.set()
        self._thread.join()
        self._sample()
        alive = [p for p in self._seen.values() if p.is_running()]  # is_running also checks the create time
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill() if _is_resource_tracker(p) else p.terminate()
        _, left = psutil.wait_procs(alive, timeout=timeout)
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(left, timeout=5.0)


def _is_resource_tracker(proc: object) -> bool:
    import psutil

    try:
        return "multiprocessing.resource_tracker" in " ".join(proc.cmdline())  # type: ignore[attr-defined]
    except psutil.Error:
        return False


class _SkipLine(logging.Filter):
    """Prefect's runner logs a run the server cancelled for the concurrency limit as 'Aborted submission of flow
    run ...: Server returned a non-pending state 'CANCELLED''; say what it means."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if str(record.msg).startswith("Aborted submission of flow run") and "CANCELLED" in args:
            record.msg = "skipped flow run %s: the previous run is still going (one run at a time)"
            record.args = args[:1]
        return True


def _runner(query_seconds: float) -> Any:
    """Prefect's Runner, except that stopping it does not relabel a finished run as Cancelled.

    On SIGTERM Prefect's runner cancels every run whose process is still alive, and a run's process lives on for
    a moment after it reported Completed: such a run ended up Cancelled ('Runner is shutting down.') after it
    had published. Here a run whose state is already final is given 10 s to exit and is not cancelled."""
    from prefect.runner import Runner

    class _Runner(Runner):
        async def cancel_all(self) -> None:
            for run_id in self._process_manager.flow_run_ids():
                try:
                    flow_run = await self._client.read_flow_run(run_id)
                    if flow_run.state is not None and flow_run.state.is_final():
                        await self._process_manager.wait_for_exit(run_id, grace_seconds=10)
                    else:
                        await self._cancellation_manager.cancel(flow_run, state_msg="Runner is shutting down.")
                except Exception:
                    self._logger.exception("Exception while cancelling flow run '%s'", run_id)

    return _Runner(name="newsetl-serve", query_seconds=query_seconds, limit=None, pause_on_shutdown=True)


async def _serve_jobs(jobs: Sequence[Job]) -> None:
    shortest = min((j.schedule.interval for j in jobs if j.schedule.interval), default=10)
    runner = _runner(query_seconds=max(1, min(10, shortest)))
    for job in jobs:
        await runner.aadd_flow(
            job.flow,
            name=job.name,
            parameters=job.parameters,
            concurrency_limit=one_run_at_a_time(),
            **job.schedule.deployment_kwargs(),
        )
    await runner.start()


def serve(
    make_jobs: Callable[[], Sequence[Job]],
    warehouse: Path,
    *,
    port: int | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the jobs `make_jobs()` returns until SIGINT/SIGTERM; start and stop a Prefect server when none is
    configured. `make_jobs` (which imports the flows, several seconds) runs while the server starts."""
    api_url = configured_api_url()
    if api_url is not None and port is not None:
        raise ServeError("--port is for the server serve starts; PREFECT_API_URL is set, so it starts none")
    if api_url is not None and not is_healthy(api_url, timeout=10.0):
        raise ServeError(f"no Prefect server answers at {api_url} (PREFECT_API_URL)")
    # until the runner installs its own handler, SIGTERM stops serve like Ctrl-C: the `finally` below runs
    previous = signal.signal(signal.SIGTERM, _interrupt)
    server = ManagedServer(warehouse / SERVER_DIR, port) if api_url is None else None
    tree = ProcessTree()
    try:
        if server is not None:
            echo(f"newsetl: starting a Prefect server (database and log in {server.home}) ...")
            server.launch()
        jobs = make_jobs()
        if server is not None:
            server.wait_healthy()
            api_url, dashboard = server.api_url, server.ui_url
            echo(f"newsetl: Prefect server (pid {server.proc.pid}) at {api_url}")
        else:
            assert api_url is not None
            dashboard = ui_url(api_url)
            echo(f"newsetl: using the Prefect server at {api_url} (PREFECT_API_URL)")
        echo(f"newsetl: dashboard {dashboard}/runs")
        echo(f"newsetl: warehouse {warehouse}")
        for job in jobs:
            echo(f"newsetl: serving '{job.flow.name}/{job.name}' {job.schedule.describe()}, one run at a time")
        echo("newsetl: Ctrl-C or SIGTERM stops serving" + (" and the server" if server else ""))
        _run(jobs, api_url)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        if server is not None:
            server.stop()
        tree.end()
        signal.signal(signal.SIGTERM, previous)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _run(jobs: Sequence[Job], api_url: str) -> None:
    import asyncio

    from prefect.settings import PREFECT_API_URL, temporary_settings

    os.environ["PREFECT_API_URL"] = api_url  # the flow-run processes the runner starts inherit it
    logging.getLogger("prefect.runner.state_proposer").addFilter(_SkipLine())
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        asyncio.run(_serve_jobs(jobs))


if __name__ == "__main__" and sys.argv[1:2] == ["server"]:
    _server_child(int(sys.argv[2]), int(sys.argv[3]))
