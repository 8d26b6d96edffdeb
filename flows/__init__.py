"""Prefect flows and the `newsetl` CLI. `from flows import etl_flow` gives the pipeline flow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flows.etl import etl_flow

__all__ = ["etl_flow"]


def __getattr__(name: str) -> Any:
    # Lazy: importing flows must not start Prefect (the CLI's --help stays fast).
    if name == "etl_flow":
        from flows.etl import etl_flow

        return etl_flow
    raise AttributeError(name)
