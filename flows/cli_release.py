"""`newsetl release` and `newsetl report`: registered on the main group in flows/cli.py with add_command.

Errors print one line per problem on stderr (`newsetl: error: ...`) and exit non-zero, like every command.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from flows.cli_common import EXIT_USAGE, usable_dir, warehouse_option
from flows.cli_common import fail as _fail
from flows.cli_common import warehouse_path as _warehouse


@click.command()
@click.option("--version", "version", metavar="X", default=None, help="Write release X (e.g. 1.0.0) of the warehouse.")
@click.option(
    "--verify", "verify", metavar="X", default=None, help="Re-check every file hash and row count of release X."
)
@click.option(
    "--out",
    "out",
    metavar="DIR",
    default=None,
    help="Directory holding the releases (env NEWSETL_RELEASE_DIR, default ./release).",
)
@warehouse_option
def release(version: str | None, verify: str | None, out: str | None, warehouse: str | None) -> None:
    """Write an immutable, versioned release (Parquet, manifest, data card, Croissant), or verify one."""
    from warehouse.release import ReleaseError, check_version, make_release, verify_release

    if (version is None) == (verify is None):
        _fail("give exactly one of --version X (make a release) or --verify X (check one)", EXIT_USAGE)
    try:
        check_version(version if verify is None else verify)
    except ReleaseError as exc:
        _fail(str(exc), EXIT_USAGE)
    out_dir = usable_dir(Path(out or os.environ.get("NEWSETL_RELEASE_DIR") or "release"), "--out")
    try:
        if verify is not None:
            manifest = verify_release(out_dir, verify)
            n_rows = sum(t["rows"] for t in manifest["tables"].values())
            click.echo(
                f"release {verify} verified: {len(manifest['files'])} file(s), {len(manifest['tables'])} table(s), "
                f"{n_rows} row(s) match the manifest"
            )
            return
        result = make_release(_warehouse(warehouse), out_dir, version)
    except ReleaseError as exc:
        _fail(str(exc))
        return
    if result.status == "identical":
        click.echo(f"release {version} already exists at {result.path} with identical data; nothing written")
    else:
        tables = result.manifest["tables"]
        click.echo(
            f"release {version} written to {result.path}: "
            + ", ".join(f"{name} {t['rows']}" for name, t in tables.items())
        )


@click.command()
@warehouse_option
@click.option("--out", "out", metavar="DIR", default="report", show_default=True, help="Directory for the report.")
@click.option("--no-gx-docs", is_flag=True, help="Skip building the Great Expectations Data Docs.")
def report(warehouse: str | None, out: str, no_gx_docs: bool) -> None:
    """Write a static HTML report (runs, funnel, quality, entities, figures, languages) and GX Data Docs."""
    from warehouse.release import ReleaseError
    from warehouse.report import write_report

    try:
        page, note = write_report(_warehouse(warehouse), usable_dir(Path(out), "--out"), gx_docs=not no_gx_docs)
    except ReleaseError as exc:  # no warehouse
        _fail(str(exc))
        return
    if note:
        click.echo(f"newsetl: warning: {note}", err=True)
    click.echo(f"report written to {page}")
