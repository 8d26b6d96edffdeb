"""What `newsetl serve` runs: jobs, each a flow on a schedule with fixed parameters, served as one Prefect
deployment that runs at most one flow run at a time. prefect.yaml declares the same etl deployment (hourly) for a
Prefect server with a work pool.

A second job (e.g. the warehouse's compaction on its own cron) is one more `Job` in the list that the `jobs()`
factory of `newsetl serve` (flows/cli.py) returns to `flows.serve.serve`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_CRON = "0 * * * *"
ETL_DEPLOYMENT = "newsetl-etl"
FIRST_RUN_AFTER = 10  # seconds; the server's scheduler looks at new deployments every 5 s


def validate_cron(expr: str) -> str:
    """Raise ValueError with one line if `expr` is not a valid cron expression."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=expr)
    except ValidationError:
        raise ValueError(f"not a valid cron expression: {expr!r}") from None
    return expr


@dataclass(frozen=True)
class Schedule:
    """A cron expression (evaluated in UTC) or an interval in seconds: exactly one of them."""

    cron: str | None = None
    interval: int | None = None

    @classmethod
    def parse(cls, cron: str | None, interval: int | None) -> Schedule:
        """From the CLI's --cron / --interval; ValueError with one line unless exactly one is valid."""
        if cron is None and interval is None:
            raise ValueError("give a schedule: --cron EXPR or --interval SECONDS")
        if cron is not None and interval is not None:
            raise ValueError("give one schedule: --cron EXPR or --interval SECONDS, not both")
        if interval is not None and interval < 1:
            raise ValueError(f"--interval must be a positive number of seconds, got {interval}")
        return cls(cron=validate_cron(cron) if cron is not None else None, interval=interval)

    def describe(self) -> str:
        return f"every {self.interval} s" if self.interval is not None else f'on cron "{self.cron}" (UTC)'

    def deployment_kwargs(self) -> dict[str, Any]:
        """The keyword Prefect's `Runner.add_flow` takes for this schedule. An interval starts with a run right
        away: its anchor is FIRST_RUN_AFTER s from now (Prefect's default anchor, now, is already past when the
        server's scheduler first looks, so the first run would come one interval later)."""
        if self.interval is None:
            return {"cron": self.cron}
        from prefect.client.schemas.schedules import IntervalSchedule

        anchor = datetime.now(UTC) + timedelta(seconds=FIRST_RUN_AFTER)
        return {"schedule": IntervalSchedule(interval=timedelta(seconds=self.interval), anchor_date=anchor)}


def one_run_at_a_time() -> Any:
    """Deployment concurrency: a run that falls due while the previous one is still going is cancelled by the
    server at once (CANCEL_NEW), not queued behind it; `flows.serve` logs it as skipped."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    return ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


@dataclass(frozen=True)
class Job:
    """One scheduled deployment: `flow` (a Prefect flow object) under deployment `name`, with `parameters`."""

    name: str
    flow: Any
    schedule: Schedule
    parameters: dict[str, Any] = field(default_factory=dict)


def etl_job(
    schedule: Schedule,
    *,
    inputs: list[str] | None = None,
    warehouse: str | None = None,
    runner: str | None = None,
    dask_address: str | None = None,
    name: str = ETL_DEPLOYMENT,
) -> Job:
    """The etl flow with the chosen task runner; unset parameters fall back to NEWSETL_* / defaults at run time."""
    from flows.runners import configured_flow

    params = {"inputs": inputs or None, "warehouse": warehouse}
    return Job(
        name=name,
        flow=configured_flow(runner, dask_address),
        schedule=schedule,
        parameters={k: v for k, v in params.items() if v is not None},
    )


def etl_deployment(name: str = ETL_DEPLOYMENT, cron: str = DEFAULT_CRON, parameters: dict | None = None) -> Any:
    """A RunnerDeployment of the etl flow on `cron`, one run at a time (apply() registers it; a Runner runs it)."""
    from flows.etl import etl_flow

    return etl_flow.to_deployment(
        name=name, cron=validate_cron(cron), parameters=parameters or {}, concurrency_limit=one_run_at_a_time()
    )
