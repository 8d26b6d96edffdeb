"""The `newsetl` command. Every failure a user can cause prints one line on stderr and exits non-zero."""

from __future__ import annotations

import csv
import functools
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click

from flows.cli_common import EXIT_FAILED, EXIT_USAGE, usable_dir, warehouse_option
from flows.cli_common import fail as _fail
from flows.cli_common import warehouse_path as _warehouse
from flows.config import ConfigError, Settings, prepare_prefect_env, resolve

# Prefect reads its settings from the environment when it is first imported: the offline defaults (no analytics,
# no telemetry) must be in place before any command imports it. Without this, `newsetl run` imported Prefect through
# its temporary API server first, whose telemetry service then logged "Failed to send telemetry" on every run.
prepare_prefect_env()

if TYPE_CHECKING:
    from flows.runners import EarlyCluster
    from flows.timeline import Timeline


def runner_options(f: Any) -> Any:
    f = click.option(
        "--dask-address",
        default=None,
        metavar="ADDR",
        help="Scheduler address of an existing Dask cluster, e.g. tcp://HOST:8786 (env NEWSETL_DASK_ADDRESS).",
    )(f)
    return click.option(
        "--runner",
        type=click.Choice(["dask", "process", "thread"]),
        default=None,
        help="Task runner: dask (default: a local cluster, or --dask-address), process or thread (env NEWSETL_RUNNER).",
    )(f)


def _setup_logging(quiet: bool, json_logs: bool) -> None:
    """Prefect reads these when it configures logging at the first run: set them before it is imported."""
    import os

    if quiet:
        os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    if json_logs:
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_FORMATTER"] = "json"


def _check_not_busy(warehouse: str | None, fail: Callable[[str], NoReturn] = _fail) -> None:
    """Make the warehouse folder and refuse at once, before Prefect starts, when it cannot be made or another run
    holds it (the flow re-checks)."""
    from warehouse.store import WarehouseBusy, writer_lock

    root = usable_dir(_warehouse(warehouse), "--warehouse")
    try:
        root.mkdir(parents=True, exist_ok=True)  # the run makes it anyway: a folder it cannot make fails here
    except OSError as exc:
        fail(f"--warehouse {root}: {exc.strerror or exc}")
    try:
        with writer_lock(root):
            pass
    except WarehouseBusy as exc:
        fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsetl")
def main() -> None:
    """newsetl: news articles in, a clean, checked DuckDB + Parquet dataset out."""


@main.command()
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="PATH",
    help="File, directory or glob; repeat for more (env NEWSETL_INPUTS, default ./seeds).",
)
@warehouse_option
@click.option("--batch-size", type=int, default=None, help="Documents per language and extract task (default 250).")
@click.option(
    "--max-doc-chars",
    type=int,
    default=None,
    help="Records longer than this are quarantined as document_too_large (default 1,000,000).",
)
@click.option(
    "--n-process",
    type=int,
    default=None,
    help="Worker processes of the local runner (env NEWSETL_N_PROCESS, default: one per core).",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    default=None,
    help="Rebuild every SQL model and check every row, instead of updating them for the run's rows "
    "(env NEWSETL_FULL_REFRESH).",
)
@click.option("--quiet", is_flag=True, help="Print only warnings, errors and the final line.")
@click.option("--json-logs", is_flag=True, help="Log as JSON lines (for schedulers); the final summary too.")
@runner_options
def run(
    inputs: tuple[str, ...],
    warehouse: str | None,
    batch_size: int | None,
    max_doc_chars: int | None,
    n_process: int | None,
    full_refresh: bool | None,
    quiet: bool,
    json_logs: bool,
    runner: str | None,
    dask_address: str | None,
) -> None:
    """Run the pipeline on the inputs and publish the warehouse."""
    fail = functools.partial(_fail_run, json_logs=json_logs)
    try:
        settings = resolve(
            warehouse=warehouse,
            inputs=list(inputs),
            batch_size=batch_size,
            max_doc_chars=max_doc_chars,
            n_process=n_process,
            full_refresh=full_refresh,
        )
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    _check_not_busy(warehouse, fail)
    _setup_logging(quiet, json_logs)
    from flows import timeline
    from flows.runners import check_runner

    try:
        check_runner(runner, dask_address)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    clock = timeline.LAST = timeline.Timeline()
    clock.mark("imports")
    runner, cluster = _start_runner(settings, runner, dask_address, clock)
    flow_args = {"inputs": list(inputs) or None, "warehouse": warehouse, "batch_size": batch_size,
                 "max_doc_chars": max_doc_chars, "n_process": n_process, "full_refresh": full_refresh}  # fmt: skip
    try:
        state = _run_flow(flow_args, runner, dask_address, settings.n_process, cluster, clock)
    except RuntimeError as exc:
        fail(str(exc))
    if not state.is_completed():
        fail(state.message or f"run ended {state.name}")
    _print_summary(state.result(), clock, quiet, json_logs)


def _fail_run(message: str, code: int = EXIT_FAILED, *, json_logs: bool) -> NoReturn:
    """`fail`, after one JSON line on stdout with --json-logs (a scheduler reads stdout: a failed run says so
    there too, as a finished run's summary does)."""
    if json_logs:
        click.echo(json.dumps({"event": "run_failed", "error": message, "exit_code": code}))
    _fail(message, code)


def _start_runner(
    settings: Settings, runner: str | None, dask_address: str | None, clock: Timeline
) -> tuple[str | None, EarlyCluster | None]:
    """The runner the run takes and its local cluster (an ``EarlyCluster``, or None), started before the flow.

    An unchanged input has no map task: it runs on threads, with no workers (load runs in this process). A local
    cluster's workers start and load their state while Prefect's server starts (both take seconds)."""
    from flows.discover import threads_suffice
    from flows.runners import EarlyCluster, wants_local_cluster

    local = wants_local_cluster(runner, dask_address)
    if local:
        if threads_suffice(settings.inputs, settings.warehouse, settings.full_refresh):
            runner, local = "thread", False
        clock.mark("probed")
    cluster = EarlyCluster(settings.n_process) if local else None
    if (runner or os.environ.get("NEWSETL_RUNNER")) == "thread":  # the gates run in this process
        import threading

        from flows.gates import warm_up

        # GX's imports (~4-7 s) overlap the start of Prefect's temporary server (local_api)
        threading.Thread(target=warm_up, name="newsetl-gx-warm-up", daemon=True).start()
    return runner, cluster


def _run_flow(
    flow_args: dict[str, Any],
    runner: str | None,
    dask_address: str | None,
    n_process: int,
    cluster: EarlyCluster | None,
    clock: Timeline,
) -> Any:
    """Run the flow under Prefect's API (a temporary server unless ``PREFECT_API_URL`` names one) and return its
    final state (a RuntimeError when the server does not start); the local cluster is closed before the server
    stops, and on any error."""
    from flows.runners import configured_flow, local_api

    try:
        with local_api():  # tasks on Dask workers report to it; it stops with this process, also when killed
            clock.mark("api_server")
            address = cluster.address() if cluster else dask_address
            if address:
                clock.mark("cluster")
            state = configured_flow(runner, address, n_process)(**flow_args, return_state=True)
            clock.mark("flow_returned")
            if cluster:  # before the server stops: closing workers still talk to it (3 s longer after it)
                cluster.close()
                clock.mark("cluster_closed")
        clock.mark("api_server_stopped")
    finally:
        if cluster:
            cluster.close()
    return state


def _print_summary(summary: dict[str, Any], clock: Timeline, quiet: bool, json_logs: bool) -> None:
    """The run's counts and timeline (unless ``quiet``) and its final line, or one JSON line with everything."""
    for name, at in summary.pop("timeline", {}).items():
        clock.mark(name, at)
    summary["timeline"] = clock.marks
    counts = summary["counts"]
    if json_logs:
        click.echo(json.dumps({"event": "run_finished", **summary}, default=str))
        return
    if not quiet:
        for key, value in counts.items():
            click.echo(f"  {key:<18} {value}")
        click.echo(f"  {'timeline':<18} {clock.line()}")
    secs = sum(summary["seconds"].values())
    click.echo(
        f"run {summary['run_id']} published to {summary['warehouse']} "
        f"({counts['documents_new']} new document(s), {counts['quarantined']} quarantined, {secs:.1f} s)"
    )


def _render(cols: list[str], rows: list[tuple], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([dict(zip(cols, r, strict=True)) for r in rows], default=str, ensure_ascii=False, indent=1)
    if fmt == "csv":
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows(rows)
        return buf.getvalue().rstrip("\n")
    cells = [[("" if v is None else str(v)).replace("\n", "⏎") for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    line = lambda vals: " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)).rstrip()  # noqa: E731
    out = [line(cols), "-+-".join("-" * w for w in widths)] + [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


@main.command()
@click.option("--cron", default=None, metavar="EXPR", help='Cron schedule in UTC, e.g. "0 * * * *" (hourly).')
@click.option("--interval", type=int, default=None, metavar="SECONDS", help="Run every SECONDS seconds instead.")
@click.option("--input", "inputs", multiple=True, metavar="PATH", help="Inputs for every scheduled run.")
@warehouse_option
@click.option("--name", default="newsetl-etl", show_default=True, help="Deployment name.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the Prefect server serve starts when PREFECT_API_URL is unset (default: a free port).",
)
@runner_options
def serve(
    cron: str | None,
    interval: int | None,
    inputs: tuple[str, ...],
    warehouse: str | None,
    name: str,
    port: int | None,
    runner: str | None,
    dask_address: str | None,
) -> None:
    """Serve the etl flow on a schedule until stopped; starts a Prefect server if PREFECT_API_URL is unset."""
    from flows.deploy import Schedule, etl_job
    from flows.serve import ServeError
    from flows.serve import serve as serve_jobs

    root = usable_dir(_warehouse(warehouse), "--warehouse")
    try:
        schedule = Schedule.parse(cron, interval)
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)

    def jobs() -> list:
        opts = {"inputs": list(inputs), "warehouse": str(root), "runner": runner, "dask_address": dask_address}
        return [etl_job(schedule, name=name, **opts)]

    try:
        serve_jobs(jobs, root, port=port, echo=lambda line: click.echo(line))
    except (ServeError, ValueError) as exc:  # ValueError: a bad NEWSETL_RUNNER
        _fail(str(exc))


@main.command()
@click.argument("sql")
@warehouse_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def query(sql: str, warehouse: str | None, fmt: str) -> None:
    """Run a read-only SQL query against the warehouse."""
    from warehouse.query import run_query
    from warehouse.store import WarehouseError

    try:
        cols, rows = run_query(_warehouse(warehouse), sql)
    except WarehouseError as exc:
        _fail(str(exc))
    click.echo(_render(cols, rows, fmt))


@main.command()
@warehouse_option
@click.option("--columns", is_flag=True, help="Also list each table's columns with their types and descriptions.")
def tables(warehouse: str | None, columns: bool) -> None:
    """List the warehouse's tables with row counts and one-line descriptions."""
    from warehouse.query import table_summaries
    from warehouse.store import WarehouseError

    try:
        items = table_summaries(_warehouse(warehouse), columns=columns)
    except WarehouseError as exc:
        _fail(str(exc))
    width = max(len(i["table"]) for i in items)
    for i in items:
        click.echo(f"{i['table']:<{width}}  {i['rows']:>9}  {i['description']}")
        for name, dtype, comment in i.get("columns", []):
            click.echo(f"    {name:<22} {dtype:<14} {comment or ''}")


@main.command()
@warehouse_option
def validate(warehouse: str | None) -> None:
    """Re-run the quality suites on the published warehouse (read-only) and report failures."""
    from flows.validate import validate_warehouse
    from warehouse.store import WarehouseError

    try:
        results, errors = validate_warehouse(_warehouse(warehouse))
    except WarehouseError as exc:
        _fail(str(exc))
    for r in results:
        mark = "ok  " if r["success"] else ("FAIL" if r["severity"] == "error" else "warn")
        col = f"({r['column_name']})" if r.get("column_name") else ""
        click.echo(f"{mark} {r['stage']:<12} {r['expectation']}{col}")
    click.echo(f"{len(results)} expectation(s), {len(errors)} error-level failure(s)")
    if errors:
        _fail("\n".join(errors))


@main.command()
@warehouse_option
@click.option(
    "--target-rows",
    type=int,
    default=None,
    help="Rows per merged file, at most (env NEWSETL_COMPACT_TARGET_ROWS, default 1,000,000; files stay under 128 MB).",
)
def compact(warehouse: str | None, target_rows: int | None) -> None:
    """Merge each table's small partitions into larger files (atomic, under the writer lock)."""
    from flows.config import compact_target_rows
    from warehouse.compact import compact as compact_warehouse
    from warehouse.store import WarehouseBusy, WarehouseError

    try:
        rows = compact_target_rows(target_rows)
    except ConfigError as exc:
        _fail(str(exc), EXIT_USAGE)
    try:
        result = compact_warehouse(_warehouse(warehouse), rows)
    except (WarehouseBusy, WarehouseError) as exc:
        _fail(str(exc))
    for table, t in result["tables"].items():
        click.echo(f"  {table:<18} {t['files_before']:>6} -> {t['files_after']:<6} file(s), {t['rows_moved']} row(s)")
    click.echo(
        f"compacted {result['warehouse']}: {result['files_before']} -> {result['files_after']} partition file(s) "
        f"in {result['seconds']:.1f} s; {result['superseded_files']} replaced file(s) are removed by the next writer"
    )


from flows.cli_release import release, report  # noqa: E402

main.add_command(release)
main.add_command(report)


def entry(args: list[str] | None = None) -> None:
    """The `newsetl` command: `main`, then the process ends without the interpreter's teardown once the command has
    finished and its exit code is known (`flows.worker_setup.exit_quickly`: 1.7-1.9 s after a run)."""
    from flows.worker_setup import exit_quickly

    try:
        main(args, prog_name="newsetl")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            exit_quickly(exc.code or 0)
        raise
    except OSError as exc:  # a folder that cannot be written, a disk that is full: one line, not a traceback
        where = f": {exc.filename}" if exc.filename else ""
        click.echo(f"newsetl: error: {exc.strerror or exc}{where}", err=True)
        exit_quickly(EXIT_FAILED)


if __name__ == "__main__":
    entry()
