"""Settings in one place: CLI flags over environment (NEWSETL_*) over defaults.

Also prepares Prefect for offline use before it is imported: no analytics, no telemetry, no result persistence,
so a run never waits on the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULTS = {
    "warehouse": "warehouse",
    "inputs": "seeds",
    "batch_size": "250",  # documents per language and extract task: ~10 s of NER, short tails on 2 workers
    "max_doc_chars": "1000000",
    "n_process": str(os.cpu_count() or 1),  # local worker processes: one per core
    "shard_bytes": str(4 << 20),  # input bytes per shard (transforms.shards)
    "fresh_workers_docs": "5000",  # from this many documents to extract: fresh local workers, one after extract
    "one_worker_docs": "30000",  # from this many normalized documents: the dedup reduces on one local worker
    "compact_target_rows": "1000000",
}

PREFECT_OFFLINE = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_UI_ENABLED": "false",
}


def prepare_prefect_env() -> None:
    """Offline-safe Prefect defaults; values the user already set win."""
    for key, value in PREFECT_OFFLINE.items():
        os.environ.setdefault(key, value)


class ConfigError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    warehouse: Path
    inputs: list[str] = field(default_factory=list)
    batch_size: int = 250
    max_doc_chars: int = 1_000_000
    n_process: int = 1
    shard_bytes: int = 4 << 20
    fresh_workers_docs: int = 5_000  # flows.runners.fresh_workers and keep_one_worker
    one_worker_docs: int = 30_000  # flows.runners.one_worker
    full_refresh: bool = False  # rebuild every model and check every row, instead of updating for the run's rows


def _pick(flag: object, env: str, default: str) -> str:
    if flag is not None and flag != () and flag != []:
        return flag  # type: ignore[return-value]
    return os.environ.get(f"NEWSETL_{env.upper()}", default)


def _positive_int(name: str, value: object) -> int:
    try:
        n = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a positive integer, got {value!r}") from None
    if n < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return n


def resolve(
    *,
    warehouse: str | Path | None = None,
    inputs: list[str] | tuple[str, ...] | None = None,
    batch_size: int | None = None,
    max_doc_chars: int | None = None,
    n_process: int | None = None,
    full_refresh: bool | None = None,
) -> Settings:
    raw_inputs = _pick(list(inputs) if inputs else None, "inputs", DEFAULTS["inputs"])
    if isinstance(raw_inputs, str):
        raw_inputs = [s for s in raw_inputs.split(os.pathsep) if s]
    return Settings(
        warehouse=Path(_pick(warehouse, "warehouse", DEFAULTS["warehouse"])).expanduser().resolve(),
        inputs=list(raw_inputs),
        batch_size=_positive_int("batch_size", _pick(batch_size, "batch_size", DEFAULTS["batch_size"])),
        max_doc_chars=_positive_int("max_doc_chars", _pick(max_doc_chars, "max_doc_chars", DEFAULTS["max_doc_chars"])),
        n_process=_positive_int("n_process", _pick(n_process, "n_process", DEFAULTS["n_process"])),
        shard_bytes=_positive_int("shard_bytes", _pick(None, "shard_bytes", DEFAULTS["shard_bytes"])),
        fresh_workers_docs=_positive_int(
            "fresh_workers_docs", _pick(None, "fresh_workers_docs", DEFAULTS["fresh_workers_docs"])
        ),
        one_worker_docs=_positive_int("one_worker_docs", _pick(None, "one_worker_docs", DEFAULTS["one_worker_docs"])),
        full_refresh=_flag("full_refresh", full_refresh),
    )


def _flag(name: str, flag: bool | None) -> bool:
    """A boolean setting: the flag when given (True or False), else NEWSETL_<NAME> (1/true/yes or 0/false/no/empty)."""
    if flag is not None:
        return bool(flag)
    value = os.environ.get(f"NEWSETL_{name.upper()}", "").strip().lower()
    if value in {"", "0", "false", "no"}:
        return False
    if value in {"1", "true", "yes"}:
        return True
    raise ConfigError(f"NEWSETL_{name.upper()} must be 1/true/yes or 0/false/no, got {value!r}")


def compact_target_rows(flag: int | None = None) -> int:
    """Rows per merged file for `newsetl compact`: --target-rows, then NEWSETL_COMPACT_TARGET_ROWS, then 1,000,000."""
    value = _pick(flag, "compact_target_rows", DEFAULTS["compact_target_rows"])
    return _positive_int("target_rows", value)
