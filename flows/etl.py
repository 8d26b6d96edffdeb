"""The `etl` flow: seeds/ (or --input) to a published DuckDB warehouse, stage by stage, checked at each.

The run's new input is cut into shards; each stage is a map task per shard or a reduce task over all of them
(flows/<stage>.py), run by the flow's task runner: a local Dask cluster, local processes, threads, or a remote
Dask cluster, with the same code. Tasks pass small handles; their outputs live in the run's work area until
load turns them into partitions and the flow publishes the checked catalog with one atomic rename. A killed run
started again on the same input reuses every task it completed.

Error-level quality failures, a busy warehouse or bad settings end the run as Failed with a one-line message
and publish nothing.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from flows.config import ConfigError, Settings, prepare_prefect_env, resolve

prepare_prefect_env()

from prefect import flow, get_run_logger  # noqa: E402
from prefect.states import Cancelled, Failed  # noqa: E402

from flows.context import kill_point, map_tasks, paths, reduce_task, total  # noqa: E402
from flows.dedup import exact_dedup_task, near_dup_task  # noqa: E402
from flows.extract import entities_task, extract_task  # noqa: E402
from flows.gates import GateFailed  # noqa: E402
from flows.ingest import ingest_task, repeated_lines_task  # noqa: E402
from flows.language import cluster_language_task, language_task  # noqa: E402
from flows.normalize import normalize_task  # noqa: E402
from flows.run import (  # noqa: E402
    NoInput,
    extract_slices,
    pending_documents,
    publish,
    slice_documents,
    slice_length,
    start_run,
)
from flows.runners import api_for_workers, default_runner, fresh_workers, keep_one_worker, one_worker  # noqa: E402
from warehouse.store import WarehouseBusy, WarehouseError, writer_lock  # noqa: E402


@dataclass
class RunSummary:
    run_id: str
    status: str
    warehouse: str
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    message: str = ""
    timeline: dict[str, float] = field(default_factory=dict)  # epoch seconds: flow started, planned, published


@flow(name="etl", persist_result=False, validate_parameters=False, task_runner=default_runner())
def etl_flow(
    inputs: list[str] | None = None,
    warehouse: str | None = None,
    batch_size: int | None = None,
    max_doc_chars: int | None = None,
    n_process: int | None = None,
    full_refresh: bool | None = None,
) -> Any:
    """Run the pipeline. Returns a RunSummary dict, or a Failed state with a one-line reason per failure.
    `full_refresh` rebuilds every SQL model and checks every row (default: update for the run's rows)."""
    try:
        settings = resolve(
            warehouse=warehouse,
            inputs=inputs,
            batch_size=batch_size,
            max_doc_chars=max_doc_chars,
            n_process=n_process,
            full_refresh=full_refresh,
        )
        with writer_lock(settings.warehouse), api_for_workers():
            return asdict(run_pipeline(settings))
    except WarehouseBusy as exc:  # another run is writing: a scheduled run skips (serve logs it), not a failure
        get_run_logger().warning(f"skipped: {exc}")
        return Cancelled(message=f"skipped: {exc}")
    except (WarehouseError, ConfigError, GateFailed, NoInput) as exc:
        get_run_logger().error(str(exc))
        return Failed(message=str(exc))


def run_pipeline(settings: Settings) -> RunSummary:
    """The stages, in order. Each `map_tasks` runs one task per shard (or slice), each `reduce_task` one."""
    flow_started = time.time()
    run = start_run(settings)  # recover, read the published state, discover and plan the shards, open the work
    planned = time.time()
    ctx, s = run.ctx, run.stages
    if run.shards:
        with run.stage("ingest"):
            s["ingest"] = map_tasks(ingest_task, "ingest", ctx, [(k, (sh,)) for k, sh in run.shards.items()])
        kill_point("ingest")
        with run.stage("normalize"):
            rep = reduce_task(repeated_lines_task, "repeated", ctx, paths(s["ingest"], "lines"))
            s["repeated"] = {"all": rep}
            args = [(k, (sh, s["ingest"][k], rep)) for k, sh in run.shards.items()]
            s["normalize"] = map_tasks(normalize_task, "normalize", ctx, args)
        with run.stage("dedup"):
            docs = {k: h["files"]["docs"] for k, h in s["normalize"].items()}
            large = total(s["normalize"], "docs") >= run.settings.one_worker_docs
            with one_worker(large and ctx.work.done("near-dup", "all") is None):
                s["exact-dedup"] = {"all": reduce_task(exact_dedup_task, "exact-dedup", ctx, docs)}
                s["near-dup"] = {
                    "all": reduce_task(near_dup_task, "near-dup", ctx, s["normalize"], s["exact-dedup"]["all"])
                }
        with run.stage("language"):
            nd, own = s["near-dup"]["all"]["files"], s["exact-dedup"]["all"]["stats"]["per_shard"]
            args = [(k, (k, docs[k], nd[f"clusters-{k}"])) for k in docs if own.get(k)]
            s["language"] = map_tasks(language_task, "language", ctx, args)
            clusters = {k: nd[f"clusters-{k}"] for k in docs if own.get(k)}
            langs = reduce_task(cluster_language_task, "cluster-language", ctx, clusters, paths(s["language"], "lang"))
            s["cluster-language"] = {"all": langs}
        with run.stage("extract"):
            slices = extract_slices(ctx, own, docs, clusters, langs, run.settings.n_process)
            if pending_documents(ctx, slices) >= run.settings.fresh_workers_docs and fresh_workers():
                get_run_logger().info("extract starts on fresh workers (flows.runners.fresh_workers)")
            s["extract"] = map_tasks(extract_task, "extract", ctx, slices, unit="slices", size=slice_length)
            kill_point("extract")
            if slice_documents(slices) >= run.settings.fresh_workers_docs:
                keep_one_worker()  # entities and load, one reduce task each, are all that is left
            s["entities"] = {"all": reduce_task(entities_task, "entities", ctx, paths(s["extract"], "key_stats"))}
    else:
        get_run_logger().info("nothing new to ingest: no NER or dedup work")
    summary = publish(run)  # load: partitions, catalog, checks; then the atomic rename
    marks = {"flow_started": flow_started, "planned": planned, "published": time.time()}
    return RunSummary(run.ctx.run_id, "success", str(run.store.root), summary.counts, summary.seconds, timeline=marks)
