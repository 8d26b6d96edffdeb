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
