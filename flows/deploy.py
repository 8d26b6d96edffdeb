"""Deployments of the etl flow: the cron schedule used by `newsetl serve` and by prefect.yaml."""

from __future__ import annotations

from typing import Any

DEFAULT_CRON = "0 * * * *"


def validate_cron(expr: str) -> str:
    """Raise ValueError with one line if `expr` is not a valid cron expression."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=expr)
    except ValidationError:
        raise ValueError(f"not a valid cron expression: {expr!r}") from None
    return expr


def etl_deployment(name: str = "newsetl-etl", cron: str = DEFAULT_CRON, parameters: dict | None = None) -> Any:
    """A RunnerDeployment of the etl flow on `cron` (apply() registers it; Runner/serve executes it)."""
    from flows.etl import etl_flow

    return etl_flow.to_deployment(name=name, cron=validate_cron(cron), parameters=parameters or {})
