"""Run a stage's Great Expectations suite on a batch and split the outcome by severity.

Suites are the JSON files in expectations/ (one per stage); each expectation's meta.severity is "error" or
"warning". Errors stop the run (nothing is published); warnings name the offending rows (by the suite's
row_key) so the flow can move them to quarantine with reason `dq_<expectation>_<column>`.
GX runs on pandas DataFrames: its SQL path on DuckDB is broken upstream (IndexError in resolve_metric_bundle).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:  # pandas is imported where a gate builds its frame (a worker), not by the flow's process
    import pandas as pd

SUITES_DIR = Path(__file__).resolve().parent.parent / "expectations"
SHORT = {
    "expect_column_values_to_not_be_null": "null",
    "expect_column_values_to_be_unique": "not_unique",
    "expect_column_values_to_be_between": "out_of_range",
    "expect_column_value_lengths_to_be_between": "bad_length",
    "expect_column_values_to_be_in_set": "not_in_set",
    "expect_column_values_to_match_regex": "bad_format",
}


class GateFailed(RuntimeError):
    """An error-level expectation failed; the message has one line per failure."""

    def __init__(self, failures: list[str], results: list[dict]) -> None:
        super().__init__("\n".join(failures))
        self.failures = failures
        self.results = results

    def __reduce__(self) -> tuple:  # raised in a worker process, re-raised in the flow's
        return (GateFailed, (self.failures, self.results))


@dataclass
class GateResult:
    stage: str
    results: list[dict]  # rows for dq_results (run_id filled in by the caller)
    errors: list[str] = field(default_factory=list)
    warned_rows: dict[str, str] = field(default_factory=dict)  # row key → reason code


def suite_spec(stage: str) -> dict[str, Any]:
    return json.loads((SUITES_DIR / f"{stage}.json").read_text(encoding="utf-8"))


@cache
def suite_columns(stage: str) -> tuple[str, ...]:
    """The columns a stage's suite reads: its row key, then each expectation's column(s), in suite order."""
    spec = suite_spec(stage)
    cols = [spec["meta"]["row_key"]]
    for e in spec["expectations"]:
        kwargs = e["kwargs"]
        cols += [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
        cols += kwargs.get("column_list", [])
    return tuple(dict.fromkeys(cols))


def gate_frame(stage: str, rows: Sequence[Mapping[str, Any]] | pa.Table) -> pd.DataFrame:
    """The DataFrame a gate validates: only the columns its suite reads (a column no row has stays absent).

    The stages' rows carry texts the suites mostly do not read; a frame of every column copied them all. Rows
    may be an Arrow table: its columns become the same Python-object columns as rows of dicts would."""
    import pandas as pd

    if isinstance(rows, pa.Table):
        return pd.DataFrame({c: rows.column(c).to_pylist() for c in suite_columns(stage) if c in rows.column_names})
    cols = [c for c in suite_columns(stage) if any(c in r for r in rows)]
    return pd.DataFrame({c: [r.get(c) for r in rows] for c in cols})


_CONTEXT_LOCK = threading.Lock()


def warm_up() -> None:
    """Import GX and build its context now (~4-7 s of imports): the CLI runs this on a thread while Prefect's
    temporary server starts, so the first gate does not pay for it. A failure here is left for that first gate
    to report (a thread's exception would print a traceback)."""
    with contextlib.suppress(Exception):
        _context()


def _context() -> Any:
    with _CONTEXT_LOCK:
        return _build_context()


@cache
def _build_context() -> Any:
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in list(logging.root.manager.loggerDict):  # GX sets INFO on some of its own loggers
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


@cache
def _suite_and_batch_def(stage: str) -> tuple[Any, Any]:
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    ctx = _context()
    spec = suite_spec(stage)
    exps = [
        ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {})).to_domain_obj()
        for e in spec["expectations"]
    ]
    suite = ctx.suites.add(gx.ExpectationSuite(name=spec["name"], expectations=exps, meta=spec.get("meta", {})))
    source = ctx.data_sources.add_pandas(f"newsetl_{stage}")
    batch_def = source.add_dataframe_asset(spec["meta"]["table"]).add_batch_definition_whole_dataframe("batch")
    return suite, batch_def


# A gate validates in GX's BASIC result format first: observed values and unexpected counts, which dq_results
# records, without the offending rows' keys. Only a batch with a failed expectation is validated again in COMPLETE.
# GX's cost is mostly per validation, not per row: 92-113 ms of CPU for COMPLETE, 55-56 for BASIC, on 300 mention
# or figure rows (50 or 1,000 rows cost about the same); a run validates 3 batches per shard and 4 per extract slice.
FIRST_PASS = {"result_format": "BASIC"}


def run_gate(stage: str, df: pd.DataFrame) -> GateResult:
    """Validate `df` with the stage's suite. Never raises for data problems: see GateResult.errors."""
    spec = suite_spec(stage)
    key = spec["meta"]["row_key"]
    out = GateResult(stage, [])
    if df.empty:
        return out
    suite, batch_def = _suite_and_batch_def(stage)
    batch = batch_def.get_batch(batch_parameters={"dataframe": df.reset_index(drop=True)})
    res = batch.validate(suite, result_format=FIRST_PASS)
    if not res.success:  # only now the offending rows' keys are needed: GX computes them in its COMPLETE format
        res = batch.validate(suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [key]})
    for r in res.results:
        cfg = r.expectation_config
        severity = (cfg.meta or {}).get("severity", "error")
        column = cfg.kwargs.get("column")
        result = r.result or {}
        observed = result.get("observed_value", result.get("unexpected_percent"))
        n_bad = int(result.get("unexpected_count") or 0)
        out.results.append(
            {
                "stage": spec["meta"].get("stage", stage),
                "suite": spec["name"],
                "expectation": cfg.type,
                "column_name": column,
                "success": bool(r.success),
                "observed_value": None if observed is None else str(observed),
                "unexpected_count": n_bad,
                "severity": severity,
            }
        )
        if r.success:
            continue
        keys = [row[key] for row in result.get("unexpected_index_list") or [] if isinstance(row, dict)]
        if severity == "error":
            sample = ", ".join(str(k)[:24] for k in keys[:3])
            out.errors.append(
                f"[{stage}] {cfg.type}({column}) failed on {n_bad} row(s)" + (f": {sample}" if sample else "")
            )
        else:
            reason = f"dq_{SHORT.get(cfg.type, cfg.type)}_{column}"
            for k in keys:
                out.warned_rows.setdefault(str(k), reason)
    return out
