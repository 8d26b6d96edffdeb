"""Pieces every `newsetl` command shares: the one-line error exit and the --warehouse option."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from flows.config import ConfigError, resolve

EXIT_FAILED = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print `newsetl: error: ...` per line of `message` on stderr and exit with `code`."""
    for line in str(message).splitlines() or ["failed"]:
        click.echo(f"newsetl: error: {line}", err=True)
    sys.exit(code)


def usable_dir(path: Path, option: str) -> Path:
    """`path` if it is a directory or can be made one (its nearest existing parent is a directory); else one line
    and exit 2, before anything starts (a file given as --warehouse or --out gave a traceback)."""
    near = Path(path)
    while not near.exists() and near != near.parent:
        near = near.parent
    if not near.is_dir():
        what = "is not a directory" if near == Path(path) else f"cannot be made: {near} is not a directory"
        fail(f"{option} {path} {what}", EXIT_USAGE)
    return Path(path)


def warehouse_path(value: str | None) -> Path:
    try:
        return resolve(warehouse=value).warehouse
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


warehouse_option = click.option(
    "--warehouse",
    "warehouse",
    metavar="DIR",
    default=None,
    help="Warehouse directory (env NEWSETL_WAREHOUSE, default ./warehouse).",
)
