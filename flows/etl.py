"""The `etl` flow: seeds/ (or --input) to a published DuckDB warehouse, one task per stage, checked at each.

Reads top to bottom. Tasks only wire: the work is in transforms/ (pure) and warehouse/ (storage). Documents
move in batches (never one task per document). Error-level quality failures, a busy warehouse or bad
settings end the run as Failed with a one-line message and publish nothing.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import Any

from flows.config import ConfigError, Settings, prepare_prefect_env, resolve

prepare_prefect_env()

import pyarrow as pa  # noqa: E402
import pyarrow.compute  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from prefect import flow, get_run_logger, task, unmapped  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.states import Failed  # noqa: E402
from prefect.utilities.annotations import quote  # noqa: E402

from flows.gates import GateFailed, GateResult, gate_frame, run_gate  # noqa: E402
from flows.runners import thread_runner  # noqa: E402
from flows.version import code_version  # noqa: E402
from transforms.boilerplate import flag_repeated, merge_line_counts  # noqa: E402
from transforms.documents import ExactDeduper  # noqa: E402
from transforms.extract_pool import DOC_KEYS, ExtractPool  # noqa: E402
from transforms.language import language_samples  # noqa: E402
from transforms.readers import InputFile, discover, hash_file  # noqa: E402
from transforms.records import Rejection  # noqa: E402
from transforms.stages import (  # noqa: E402
    IngestTable,
    LineCounts,
    NormalizeTable,
    ingest_table,
    language_labels,
    normalize_table,
)
from transforms.workers import close_pool, run_batch  # noqa: E402
from warehouse import schema  # noqa: E402
from warehouse.neardup import DOCUMENTS_INPUT_SCHEMA, NearDupResult, assign_near_duplicates  # noqa: E402
from warehouse.store import BOOKKEEPING, Partition, Store, WarehouseBusy, WarehouseError, writer_lock  # noqa: E402

FILES_PER_BATCH = 64  # an ingest batch has at most this many files
BYTES_PER_BATCH = 4 << 20  # ... and files of at most this many bytes in all (or one larger file)
KILL_AT_ENV = "NEWSETL_TEST_KILL_AT"  # test-only fault injection: SIGKILL the process group at a named point


def _kill_point(name: str) -> None:
    """Simulate a crash (power loss, OOM kill) at `name` when the crash test asks for it."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)


@dataclass
class RunSummary:
    run_id: str
    status: str
    warehouse: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    message: str = ""


@cache
def _libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return None


M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 256 << 10  # while ingest and normalize results arrive
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's ceiling for its dynamic threshold (64-bit): where the default ends up


def _map_large_blocks(on: bool) -> None:
    """While `on`, glibc serves blocks of 256 KiB and more with their own mappings, returned to the OS when freed.

    Ingest and normalize results arrive as pickled Arrow tables whose buffers are large Python bytes objects.
    glibc's default threshold rises to the largest block freed (up to 32 MiB), after which such blocks come
    from the heap and stayed resident when freed: at 100k documents, main's RSS grew twice as fast as the
    documents it kept. Off, the threshold is 32 MiB: a mapping per 256 KiB block made near-dup's sketching
    (MinHash matrices per document) ~70 % slower."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD if on else MMAP_THRESHOLD_MAX)


def _trim_heap() -> None:
    """Give memory a stage freed back to the OS: Arrow's pool (mimalloc) and glibc's heap keep freed blocks
    for reuse, so the RSS of this process stayed at its peak, beside the extraction workers' (the GX frames
    of a 20k-document gate left ~310 MB in Arrow's pool)."""
    gc.collect()  # finished task runs leave reference cycles that hold their results until a full collection
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


class _RawSpill:
    """raw_documents rows written, texts included, to a Parquet file in the warehouse's staging folder as ingest
    batches arrive, in row groups of at most `group_rows` rows (normalize reads them back a group per task); the
    rows stay in memory without their texts (`close` returns them). A failed or killed run leaves the file to
    cleanup."""

    def __init__(self, path: Path, group_rows: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.group_rows = path, group_rows
        self.group_sizes: list[int] = []
        self._pieces: list[pa.Table] = []
        self._writer = pq.ParquetWriter(path, schema.TABLES["raw_documents"][0], compression="none")

    def add(self, table: pa.Table) -> None:
        for at in range(0, table.num_rows, self.group_rows):
            piece = table.slice(at, self.group_rows)
            self._writer.write_table(piece)  # each call ends its own row group(s)
            self.group_sizes.append(piece.num_rows)
        col = table.schema.get_field_index("raw_text")
        self._pieces.append(table.set_column(col, "raw_text", pa.nulls(table.num_rows, pa.string())))

    def close(self) -> pa.Table:
        """Finish the file; the rows without their texts, in the order they were written."""
        self._writer.close()
        pieces, self._pieces = self._pieces, []
        return pa.concat_tables(pieces) if pieces else schema.empty("raw_documents")


def _with_raw_texts(table: pa.Table, path: Path, step: int = 5000) -> Iterator[pa.Table]:
    """`table` (raw_documents, rows in the spilled order) with its raw_text column read back from `path` row group
    by row group, in pieces of at least `step` rows (the last may be smaller): the raw texts are never all in
    memory at once. (`iter_batches` read the whole column ahead on this uncompressed, finely row-grouped file:
    +330 MB at 100k.)"""
    spilled = pq.ParquetFile(path)
    at, col = 0, table.schema.get_field_index("raw_text")
    for texts in _row_group_pieces(spilled, ["record_id", "raw_text"], step):
        rows = table.slice(at, texts.num_rows)
        if not texts.column(0).equals(rows.column("record_id")):
            raise RuntimeError("raw_documents rows are not in the order their texts were spilled in")
        yield rows.set_column(col, "raw_text", texts.column(1))
        at += texts.num_rows
    if at != table.num_rows:
        raise RuntimeError(f"{table.num_rows - at} raw_documents row(s) have no spilled text")


def _row_group_pieces(file: pq.ParquetFile, columns: list[str], rows: int) -> Iterator[pa.Table]:
    """`columns` of `file`, a row group at a time, gathered into tables of at least `rows` rows (the last may be
    smaller)."""
    held: list[pa.Table] = []
    n = 0
    for i in range(file.num_row_groups):
        held.append(file.read_row_group(i, columns=columns))
        n += held[-1].num_rows
        if n >= rows:
            yield pa.concat_tables(held)
            held, n = [], 0
    if held:
        yield pa.concat_tables(held)


def _chunks(batches: Iterator[pa.RecordBatch], mask: pa.Array, size: int) -> Iterator[pa.Table]:
    """The rows of `batches` where `mask` is true (mask in the same row order), as tables of `size` rows (the last
    may be smaller)."""
    held: list[pa.Table] = []
    n_held = at = 0
    for batch in batches:
        kept = pa.Table.from_batches([batch]).filter(mask.slice(at, batch.num_rows))
        at += batch.num_rows
        held.append(kept)
        n_held += kept.num_rows
        while n_held >= size:
            whole = pa.concat_tables(held)
            yield whole.slice(0, size)
            held, n_held = [whole.slice(size)], n_held - size
    if n_held:
        yield pa.concat_tables(held)


def _file_batches(files: list[InputFile], max_files: int, max_bytes: int) -> list[list[InputFile]]:
    """`files` in order, cut into batches of at most `max_files` files and `max_bytes` bytes (a larger file is a
    batch of its own): a batch of many-record files is read, held and sent back like one of single articles."""
    batches: list[list[InputFile]] = []
    size = 0
    for f in files:
        if not batches or len(batches[-1]) >= max_files or (batches[-1] and size + f.bytes > max_bytes):
            batches.append([])
            size = 0
        batches[-1].append(f)
        size += f.bytes
    return batches


def _log_progress(stage: str, done: int, total: int, t0: float, unit: str = "docs", extra: str = "") -> None:
    rate = done / max(time.perf_counter() - t0, 1e-9)
    eta = (total - done) / rate if rate else 0.0
    get_run_logger().info(f"{stage}: {extra}{done}/{total} {unit}, {rate:.1f} {unit}/s, ETA {eta:.0f} s")


def _gather(
    futures: Any, stage: str, batches: list[list], unit: str = "docs", sizes: Sequence[int] | None = None
) -> Iterator:
    """Results of mapped batch futures in submission order, each as soon as it is in, logging progress (rate,
    ETA) as batches finish; `sizes` counts each batch's items if its length does not.

    Each input batch is emptied and its future dropped once its result is in, so that a result the caller
    does not keep is freed (the caller holds no other reference to the items or the futures)."""
    futures = list(futures)
    sizes = list(sizes) if sizes is not None else [len(b) for b in batches]
    total, done, t0, last = sum(sizes), 0, time.perf_counter(), 0.0
    for i in range(len(futures)):
        result = futures[i].result()
        futures[i] = None
        batches[i].clear()
        done += sizes[i]
        n = i + 1
        if len(futures) > 1 and (time.perf_counter() - last > 2 or n == len(futures)):
            last = time.perf_counter()
            _log_progress(stage, done, total, t0, unit, extra=f"{n}/{len(futures)} batches, ")
            _trim_heap()  # what the finished batches freed (at the end of a 100k language stage, 420 MB was resident)
        yield result
        del result


# --- tasks ------------------------------------------------------------------------------------------------
# Batches go into tasks wrapped in prefect's `quote`: Prefect otherwise walks every element of a task's
# arguments (to find futures), which took ~11 s per call for 60k extraction rows.
@task(name="discover", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def discover_task(inputs: list[str]) -> tuple[list[InputFile], list[tuple[str, str, str]]]:
    paths, problems = discover(inputs)
    files = []
    for p in paths:
        try:
            files.append(hash_file(p))
        except OSError as exc:
            problems.append((p, "unreadable_file", f"{type(exc).__name__}: {exc.strerror or exc}"))
    return files, problems


@task(name="ingest", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def ingest_task(files: list[InputFile], max_doc_chars: int, run_id: str, n_jobs: int) -> IngestTable:
    """Read a batch of files into raw_documents rows as Arrow, in a worker when n_jobs > 1: the texts never
    become Python strings in this process (those fragmented its heap: ~760 MB free but resident at 100k)."""
    return run_batch(ingest_table, files, max_doc_chars, run_id, n_jobs=n_jobs)


@task(name="normalize", cache_policy=NO_CACHE)
def normalize_task(
    row_groups: list[int],
    spill: Path,
    skip: frozenset[str],
    paths: dict[str, str],
    first_seen: datetime,
    run_id: str,
    repeated: dict[str, frozenset[str]],
    n_jobs: int,
) -> NormalizeTable:
    """Normalize the records of `row_groups` of the raw spill file; the worker reads them from the file."""
    return run_batch(normalize_table, str(spill), row_groups, skip, paths, first_seen, run_id, repeated, n_jobs=n_jobs)


@task(name="language", cache_policy=NO_CACHE)
def language_task(samples: list[str], n_jobs: int) -> list[tuple[str, float]]:
    """(lang, lang_prob) of each text sample (`language_sample`: all that detection reads), in a worker."""
    return run_batch(language_labels, samples, n_jobs=n_jobs)


@task(name="deduplicate", cache_policy=NO_CACHE)
def dedup_task(store: Store, prior: list[Partition], docs: pa.Table) -> NearDupResult:
    """Near-duplicate clusters of the new documents against each other and every published one.

    Exact duplicates are already one document (doc_id = text hash); this adds MinHash LSH + containment.
    The sketches are computed in this process: at 100k documents two sketch workers took ~300 MB more and
    saved ~6 s of a ~70-minute run, and this stage is where the run's memory peaked.
    """
    con = store.connect_published(prior)
    try:
        new = docs.select(DOCUMENTS_INPUT_SCHEMA.names).cast(DOCUMENTS_INPUT_SCHEMA)  # no copy of the texts
        return assign_near_duplicates(con, new)
    finally:
        con.close()


EXTRACT_CHUNK = 500  # documents resolved, gated and written together; workers stream on across chunks
MIN_DOCS_FOR_POOL = 1000  # normalize and language batches go to worker processes from this many docs
MIN_DOCS_PER_PROCESS = 100  # below this extraction runs in-process: starting a worker + model costs ~3 s


@cache
def _nlp() -> Any:
    """The spaCy pipeline, loaded once per process (tok2vec + ner only)."""
    from transforms.extract import load_nlp

    return load_nlp()


@task(name="extract", task_run_name="extract-chunk-{chunk}", cache_policy=NO_CACHE)
def extract_task(results: Iterator[dict[str, list[dict]]], chunk: int) -> dict[str, list[dict]]:
    """The next chunk's rows from the extraction pool's stream (its workers run ahead on the following chunk)."""
    return next(results)


@task(name="gate", task_run_name="gate-{stage}", cache_policy=NO_CACHE)
def gate_task(stage: str, rows: list[dict] | pa.Table) -> GateResult:
    return run_gate(stage, gate_frame(stage, rows))


Rows = list[dict] | pa.Table | Callable[[], Iterator[pa.Table]]  # a table's rows, or a maker of its pieces


@task(name="write", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def write_task(store: Store, run_id: str, tables: dict[str, Rows], part: int | None = None) -> list[Partition]:
    """One partition per table (or part `part` of it); Arrow tables get the run_id column if they lack it.

    A callable stands for a table written piece by piece (each retry calls it again for fresh pieces)."""
    parts = []
    for name, rows in tables.items():
        if callable(rows):
            parts.append(store.write_partition(name, run_id, (_with_run_id(t, run_id) for t in rows()), part))
            continue
        table = _with_run_id(rows, run_id) if isinstance(rows, pa.Table) else schema.to_table(name, rows)
        if table.num_rows or name in BOOKKEEPING:  # the run's own record is written even when empty-handed
            parts.append(store.write_partition(name, run_id, table, part))
    return parts


def _with_run_id(table: pa.Table, run_id: str) -> pa.Table:
    if "run_id" in table.column_names:
        return table
    return table.append_column("run_id", pa.array([run_id] * table.num_rows, pa.string()))


# --- the flow ---------------------------------------------------------------------------------------------
@flow(name="etl", persist_result=False, validate_parameters=False, task_runner=thread_runner())
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
        with writer_lock(settings.warehouse):
            return asdict(_run(settings))
    except (WarehouseBusy, WarehouseError, ConfigError, GateFailed, NoInput) as exc:
        get_run_logger().error(str(exc))
        return Failed(message=str(exc))


class NoInput(RuntimeError):
    """No input file matched."""


class _Run:
    """One run's rows per table until they are final, and the partitions written so far.

    Stages write a table's rows as soon as they are final (`write`) and free them, so memory holds only what
    later stages still need. Nothing is visible to readers until the load stage publishes the catalog; a failed
    run's partitions are discarded (a killed run's are removed by the next writer).
    """

    def __init__(self, run_id: str, store: Store) -> None:
        self.run_id = run_id
        self.store = store
        self.tables: dict[str, Rows] = {name: [] for name in schema.TABLES if name != "runs"}
        self.seconds: dict[str, float] = {}
        self.parts: list[Partition] = []
        self.staged: Any = None  # the staged catalog, once built
        self.peak_mb: dict[str, int] = {}  # peak RSS of this process (MiB) at the end of each stage

    def write(self, names: list[str], part: int | None = None) -> list[Partition]:
        """Write these tables' rows as partitions now (part `part` for tables written chunk by chunk)."""
        tables = {n: self.tables[n] for n in names}
        parts = write_task(self.store, self.run_id, quote(tables), part)
        self.parts += parts
        for n in names:
            self.tables[n] = []
        return parts

    def stage_done(self, stage: str, t0: float) -> None:
        """Record a stage's wall time and this process's peak RSS so far (which stage raised the peak); give
        what the stage freed back to the OS."""
        self.seconds[stage] = time.perf_counter() - t0
        self.peak_mb[stage] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        _trim_heap()

    def n_rows(self, name: str) -> int:
        """Rows of `name` this run has: written so far plus still held."""
        return sum(p.n_rows for p in self.parts if p.table_name == name) + _n_rows(self.tables[name])

    def quarantine(self, rej: Rejection, source_ref: str) -> None:
        self.tables["quarantine"].append(
            {
                "run_id": self.run_id,
                "stage": rej.stage,
                "source_ref": source_ref,
                "record_id": rej.record_id,
                "reason_code": rej.reason_code,
                "detail": rej.detail,
            }
        )

    def gate(self, stage: str, rows: list[dict] | pa.Table) -> GateResult:
        res = gate_task(stage, quote(rows))
        self.tables["dq_results"].extend({**r, "run_id": self.run_id} for r in res.results)
        if res.errors:
            raise GateFailed(res.errors, res.results)
        return res


def _n_rows(rows: list | pa.Table) -> int:
    return rows.num_rows if isinstance(rows, pa.Table) else len(rows)


def _run(settings: Settings) -> RunSummary:
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    run = _Run(run_id, Store(settings.warehouse))
    _map_large_blocks(True)
    try:
        return _stages(run, settings)
    except BaseException:
        run.store.discard(run.parts, run.staged)
        raise
    finally:
        _map_large_blocks(False)  # also when a run fails before normalize ends (`newsetl serve` runs on)


def _stages(run: _Run, settings: Settings) -> RunSummary:
    log = get_run_logger()
    run_id, store = run.run_id, run.store
    started = datetime.now(UTC)
    leftovers = store.recover()
    if leftovers:
        log.warning(f"recovered from an unfinished run: removed {len(leftovers)} leftover file(s)")
    prior_parts = store.published_partitions()  # fixed for the whole run: we hold the writer lock
    prior = store.connect_published(prior_parts)
    known_shas = {
        r[0] for r in prior.execute("SELECT DISTINCT sha256 FROM source_files WHERE status = 'ingested'").fetchall()
    }
    known_docs = {r[0] for r in prior.execute("SELECT doc_id FROM documents").fetchall()}
    prior.close()

    # discover + ingest -------------------------------------------------------------------------------
    t = time.perf_counter()
    files, problems = discover_task(settings.inputs)
    if not files and not problems:
        raise NoInput(f"no input files found in {', '.join(settings.inputs)}")
    for path, code, detail in problems:
        if code == "input_not_found" and not files:
            raise NoInput(detail)
        run.tables["quarantine"].append(
            {
                "run_id": run_id,
                "stage": "discover",
                "source_ref": path,
                "record_id": None,
                "reason_code": code,
                "detail": detail,
            }
        )
    new_files: list[InputFile] = []
    seen: set[str] = set()
    status_of: dict[str, str] = {}
    for f in files:
        status = "unchanged" if f.sha256 in known_shas else "duplicate_in_run" if f.sha256 in seen else "ingested"
        seen.add(f.sha256)
        status_of[f.path] = status
        if status == "ingested":
            new_files.append(f)
    paths = {f.file_id: f.path for f in new_files}
    file_batches = _file_batches(new_files, FILES_PER_BATCH, BYTES_PER_BATCH)
    ingest_jobs = settings.n_process if len(file_batches) > 1 else 1
    raw_texts = store.staging / f"{run_id}.raw_text.parquet"
    spill = _RawSpill(raw_texts, settings.batch_size)
    rejections: list[Rejection] = []
    n_records_by_file: dict[str, int] = {}
    lines: LineCounts = ({}, Counter())
    try:
        for b in _gather(
            ingest_task.map(
                [quote(b) for b in file_batches],
                unmapped(settings.max_doc_chars),
                unmapped(run_id),
                unmapped(ingest_jobs),
            ),
            "ingest",
            file_batches,
            "files",
        ):
            spill.add(b.raw)
            rejections += b.rejections
            n_records_by_file.update(b.n_records_by_file)
            merge_line_counts(lines, b.lines)
    finally:
        raw_table = spill.close()  # raw_documents without its texts (they are in the spill file), doc_id still null
    for f in files:
        run.tables["source_files"].append(
            {
                "file_id": f.file_id,
                "path": f.path,
                "sha256": f.sha256,
                "bytes": f.bytes,
                "format": f.format,
                "status": status_of[f.path],
                "n_records": n_records_by_file.get(f.file_id, 0),
                "run_id": run_id,
            }
        )
    for rej in rejections:
        run.quarantine(rej, paths.get(rej.file_id, rej.file_id))
    run.gate("source_files", run.tables["source_files"])
    run.gate("ingest", raw_table)
    n_records, n_rejected = raw_table.num_rows, len(rejections)
    run.stage_done("ingest", t)
    _kill_point("ingest")
    log.info(
        f"ingest: {len(new_files)} file(s) new, {len(files) - len(new_files)} unchanged, {n_records} record(s), "
        f"{n_rejected} rejected"
    )

    # normalize + exact dedup: workers read the records from the spill file, a row group per task -----------
    t = time.perf_counter()
    repeated = flag_repeated(*lines)  # over the whole run: a text normalizes the same in whichever batch it is
    del lines
    skip = frozenset(r.record_id for r in rejections)
    jobs = settings.n_process if n_records - n_rejected >= MIN_DOCS_FOR_POOL else 1
    groups = [[i] for i in range(len(spill.group_sizes))]
    dedup = ExactDeduper(known_docs)  # batch by batch, in input order: only new documents are kept
    doc_parts: list[pa.Table] = []
    bp_parts: list[pa.Table] = []
    for b in _gather(
        normalize_task.map(
            [quote(g) for g in groups],
            unmapped(raw_texts),
            unmapped(quote(skip)),
            unmapped(quote(paths)),
            unmapped(started),
            unmapped(run_id),
            unmapped(quote(repeated)),
            unmapped(jobs),
        ),
        "normalize",
        groups,
        "records",
        sizes=spill.group_sizes,
    ):
        ids = zip(b.docs.column("record_id").to_pylist(), b.docs.column("doc_id").to_pylist(), strict=True)
        owners = pa.array(dedup.add(ids), pa.string())  # the first record of each new document
        doc_parts.append(b.docs.filter(pa.compute.is_in(b.docs.column("record_id"), owners)))  # lang still null
        bp_parts.append(b.boilerplate.filter(pa.compute.is_in(b.boilerplate.column("record_id"), owners)))
        for rej in b.rejections:
            run.quarantine(rej, paths.get(rej.file_id, rej.file_id))
    docs = pa.concat_tables(doc_parts) if doc_parts else schema.empty("documents")
    boilerplate = pa.concat_tables(bp_parts) if bp_parts else schema.empty("boilerplate_lines")
    run.tables["boilerplate_lines"] = boilerplate
    doc_of: dict[str, str | None] = dedup.doc_of_record  # record → document (None once quarantined); the rest: None
    del doc_parts, bp_parts, boilerplate, repeated, skip, dedup
    docs = _apply_warnings(run, run.gate("normalize", docs), docs, doc_of, "normalize")
    n_docs = docs.num_rows
    close_pool()  # its workers' heaps held what they read and normalized (~200 MB each at 100k): start afresh
    _map_large_blocks(False)  # the texts are in: numpy's temporaries from here on are better served by the heap
    run.stage_done("normalize", t)
    log.info(
        f"normalize: {len(doc_of)} record(s) → {n_docs} new document(s), "
        f"{_n_rows(run.tables['boilerplate_lines'])} boilerplate line(s) removed"
    )

    # language ------------------------------------------------------------------------------------------
    t = time.perf_counter()
    bounds = [(i, min(settings.batch_size, docs.num_rows - i)) for i in range(0, docs.num_rows, settings.batch_size)]
    samples = [language_samples(docs.column("text").slice(i, n)) for i, n in bounds]
    futures = language_task.map([quote(b) for b in samples], unmapped(jobs))
    labels = [label for b in _gather(futures, "language", samples) for label in b]
    del samples, futures
    docs = docs.set_column(docs.schema.get_field_index("lang"), "lang", pa.array([x[0] for x in labels], pa.string()))
    prob = pa.array([x[1] for x in labels], docs.schema.field("lang_prob").type)
    docs = docs.set_column(docs.schema.get_field_index("lang_prob"), "lang_prob", prob)
    del labels, prob
    docs = _apply_warnings(run, run.gate("language", docs), docs, doc_of, "language")
    close_pool()  # near-dup sketches in this process: two more workers cost more memory than their time saves
    run.stage_done("language", t)

    # dedup ---------------------------------------------------------------------------------------------
    t = time.perf_counter()
    if docs.num_rows:
        nd = dedup_task(store, quote(prior_parts), quote(docs))
        run.tables["dup_clusters"] = nd.dup_clusters
        run.tables["doc_signatures"] = nd.doc_signatures
        run.tables["shared_passages"] = nd.shared_passages
        run.gate("dedup", nd.dup_clusters)  # as Arrow: 94k rows as dicts took ~75 MB at 100k
        n_clusters = pa.compute.count_distinct(nd.dup_clusters.column("cluster_id")).as_py()
        near_dups = _count_where(nd.dup_clusters, "method", ("near", "contained"))
        canonical = set(_canonical_ids(nd.dup_clusters))
        log.info(
            f"dedup: {docs.num_rows} new document(s) in {n_clusters} cluster(s); {json.dumps(nd.stats, default=str)}"
        )
        del nd  # its tables are the run's now: written (and freed) below
        _trim_heap()  # the sketches and the band join's memory, before the writes
    else:
        near_dups, canonical = 0, set()
        log.info("dedup: nothing new: no dedup work")
    # records, documents and clusters are final now: write them; extraction reads its texts back from the file
    is_canonical = pa.compute.is_in(docs.column("doc_id"), pa.array(sorted(canonical), pa.string()))
    todo_ids = docs.column("doc_id").filter(is_canonical).to_pylist()
    run.tables["documents"] = docs
    del docs
    raw_ids = raw_table.column("record_id").to_pylist()
    doc_ids = pa.array([doc_of.get(r) for r in raw_ids], pa.string())
    raw_table = raw_table.set_column(raw_table.schema.get_field_index("doc_id"), "doc_id", doc_ids)
    del doc_of, raw_ids, doc_ids
    if raw_table.num_rows:  # written piece by piece: the raw texts are read back from the spill file
        run.tables["raw_documents"] = partial(_with_raw_texts, raw_table, raw_texts)
    del raw_table
    tables = ["raw_documents", "documents", "boilerplate_lines", "dup_clusters", "doc_signatures", "shared_passages"]
    written = run.write(tables)
    raw_texts.unlink()
    run.stage_done("dedup", t)

    # extract: canonical documents new in this run, in chunks; entity ids stay stable across chunks and runs -----
    t = time.perf_counter()
    if todo_ids:
        doc_file = pq.ParquetFile(next(p.path for p in written if p.table_name == "documents"))
        todo = _chunks(doc_file.iter_batches(EXTRACT_CHUNK, columns=list(DOC_KEYS)), is_canonical, EXTRACT_CHUNK)
        _extract(run, store, prior_parts, todo, todo_ids, settings.n_process)
        found = ", ".join(f"{run.n_rows(k)} {k}" for k in EXTRACT_TABLES)
        log.info(f"extract: {len(todo_ids)} canonical document(s): {found}")
    else:
        log.info("extract: no new canonical documents: no NER work")
    del is_canonical
    run.stage_done("extract", t)
    _kill_point("extract")

    # load: write partitions, build the next catalog in staging, check it, publish atomically -------------
    t = time.perf_counter()
    counts = _counts(run, files, new_files, known_docs, near_dups, len(canonical))
    finished = datetime.now(UTC)
    runs_row = {
        "run_id": run_id,
        "started_at": started,
        "finished_at": finished,
        "status": "success",
        "params": json.dumps(
            {
                "inputs": settings.inputs,
                "batch_size": settings.batch_size,
                "max_doc_chars": settings.max_doc_chars,
                "n_process": settings.n_process,
                "full_refresh": settings.full_refresh,
            }
        ),
        "code_version": code_version(),
        "counts": json.dumps(
            {**counts, "seconds": {k: round(v, 3) for k, v in run.seconds.items()}, "peak_rss_mib": run.peak_mb}
        ),
        **counts_columns(counts),
    }
    dq_rows = run.tables.pop("dq_results")
    run.write(list(run.tables))  # what is still held (tables written earlier are empty and skipped)
    _kill_point("load")
    run.staged, rebuilt = store.stage_catalog(run_id, prior_parts, run.parts, full_refresh=settings.full_refresh)
    if rebuilt:  # models changed: check the run's rows and the global counts (every row on a full refresh)
        scope = None if settings.full_refresh else run_id
        res = gate_task("warehouse", quote(store.check_catalog(run.staged, scope)))
        dq_rows += [{**r, "run_id": run_id} for r in res.results]
        if res.errors:
            raise GateFailed(res.errors, res.results)
    else:
        log.info("load: no data table changed: models and cross-table checks stand as published")
    run.tables |= {"dq_results": dq_rows, "runs": [runs_row]}
    store.add_partitions(run.staged, run.write(["dq_results", "runs"]))
    _kill_point("publish")
    store.publish(run.staged)
    run.stage_done("load", t)
    log.info(f"published run {run_id} to {store.root}: {json.dumps(counts)}; peak RSS MiB by stage {run.peak_mb}")
    summary = RunSummary(run_id, "success", str(store.root), counts, {k: round(v, 3) for k, v in run.seconds.items()})
    _publish_artifact(summary, dq_rows, store.root)
    return summary


def _publish_artifact(summary: RunSummary, dq_rows: list[dict], root: Any) -> None:
    """Refresh the HTML run report (W/report/index.html) and publish a markdown summary linking it in Prefect.

    Both are conveniences on top of a published run: a failure here is logged, never fails the run.
    """
    from prefect.artifacts import create_markdown_artifact

    from warehouse.report import run_summary_markdown, write_report

    log = get_run_logger()
    try:
        page, _ = write_report(root, root / "report", gx_docs=False)
        report_url: str | None = page.resolve().as_uri()
    except Exception as exc:  # the report reads the published warehouse; any failure is only a warning
        log.warning(f"run report not written: {exc}")
        report_url = None
    create_markdown_artifact(
        key="newsetl-run-summary",
        markdown=run_summary_markdown(asdict(summary), dq_rows, report_url=report_url),
        description=f"newsetl run {summary.run_id}",
    )


EXTRACT_TABLES = ("mentions", "entities", "figures", "dates", "quotes")
ROW_TABLES = ("mentions", "figures", "dates", "quotes")  # extraction tables with offsets into documents.text


def _canonical_ids(clusters: pa.Table) -> list[str]:
    mask = pa.compute.equal(clusters.column("doc_id"), clusters.column("canonical_doc_id"))
    return clusters.filter(mask).column("doc_id").to_pylist()


def _extract(
    run: _Run, store: Store, prior: list[Partition], chunks: Iterator[pa.Table], doc_ids: list[str], n_process: int
) -> None:
    """Run NER + parsers over the documents `doc_ids`, given as `chunks` of EXTRACT_CHUNK rows (DOC_KEYS columns,
    read from the written documents partition as the pool takes them), in a streaming worker pool; gate and
    write each chunk's rows. A chunk becomes Python dicts only when the pool takes it."""
    from transforms.extract import EntityTable, KnownEntities, merge_entities

    con = store.connect_published(prior)
    try:
        known = con.sql("SELECT entity_id, name, type, country_code, aliases, mention_count FROM entities")
        known = known.to_arrow_table().to_pylist()
    finally:
        con.close()
    known = KnownEntities(merge_entities(known))  # earlier runs' entities, then this run's chunk by chunk
    entities = EntityTable()  # this run's entity rows
    skipped: dict[str, str] = {}
    counts: dict[str, dict[str, int]] = {}
    sizes = [min(EXTRACT_CHUNK, len(doc_ids) - i) for i in range(0, len(doc_ids), EXTRACT_CHUNK)]
    t0, done = time.perf_counter(), 0
    procs = max(1, min(n_process, len(doc_ids) // MIN_DOCS_PER_PROCESS))
    with ExtractPool(procs, nlp=_nlp() if procs <= 1 else None) as pool:
        # chunk k is resolved against the entities of the run's chunks before it (read when k is resolved)
        results = pool.extract_chunks((c.to_pylist() for c in chunks), lambda: known)
        for i, size in enumerate(sizes):
            res = extract_task(quote(results), i)
            known.add(res["entities"])
            entities.add(res["entities"])
            _store_chunk(run, i, res, skipped, counts)
            _trim_heap()  # the chunk's rows and gate frames: memory stays flat across chunks
            done += size
            _log_progress("extract", done, len(doc_ids), t0)
    run.tables["entities"] = [{**e, "run_id": run.run_id} for e in entities.rows()]
    run.gate("extract_entities", run.tables["entities"])
    run.tables["extractions"] = [
        {
            "doc_id": doc_id,
            "status": "skipped" if doc_id in skipped else "extracted",
            "reason": skipped.get(doc_id),
            "run_id": run.run_id,
            **{f"n_{k}": counts.get(doc_id, {}).get(k, 0) for k in ROW_TABLES},
        }
        for doc_id in doc_ids
    ]


def _store_chunk(
    run: _Run, i: int, res: dict[str, list[dict]], skipped: dict[str, str], counts: dict[str, dict[str, int]]
) -> None:
    """Gate one chunk's extraction rows and write them as part i of their tables (held as dicts for the whole
    run they would take ~1 KB a row); note skipped documents and rows per document."""
    skipped.update((x["doc_id"], x["reason"]) for x in res["skipped"])
    for k in ROW_TABLES:
        for r in res[k]:
            r["run_id"] = run.run_id
            per_doc = counts.setdefault(r["doc_id"], {})
            per_doc[k] = per_doc.get(k, 0) + 1
        run.tables[k] = schema.to_table(k, _gate_rows(run, f"extract_{k}", res[k]))
    run.write(list(ROW_TABLES), part=i)


def _gate_rows(run: _Run, suite: str, rows: list[dict]) -> list[dict]:
    """Gate extraction rows; rows named by a warning go to quarantine (row key doc_id:start:end)."""
    for r in rows:
        r["row_key"] = f"{r['doc_id']}:{r['start']}:{r['end']}"
    res = run.gate(suite, rows)
    kept = []
    for r in rows:
        reason = res.warned_rows.get(r.pop("row_key"))
        if reason is None:
            kept.append(r)
        else:
            run.tables["quarantine"].append(
                {
                    "run_id": run.run_id,
                    "stage": "extract",
                    "source_ref": f"{suite}:{r['doc_id']}:{r['start']}",
                    "record_id": None,
                    "reason_code": reason,
                    "detail": f"{suite} row failed a warning check",
                }
            )
    return kept


def _apply_warnings(run: _Run, res: GateResult, docs: pa.Table, doc_of: dict[str, str | None], stage: str) -> pa.Table:
    """Move documents named by warning-level failures to quarantine, with every record that mapped to them
    (`doc_of`: record_id → doc_id, set to None for those records), and drop their boilerplate lines."""
    if not res.warned_rows:
        return docs
    bad = res.warned_rows
    for record_id, doc_id in doc_of.items():
        if doc_id in bad:
            run.tables["quarantine"].append(
                {
                    "run_id": run.run_id,
                    "stage": stage,
                    "source_ref": doc_id,
                    "record_id": record_id,
                    "reason_code": bad[doc_id],
                    "detail": f"document {doc_id[:12]} failed a warning check",
                }
            )
            doc_of[record_id] = None
    bad_ids = pa.array(list(bad), pa.string())
    lines = run.tables["boilerplate_lines"]
    if not isinstance(lines, pa.Table):  # still rows: the normalize stage packs them before its gate runs
        lines = schema.to_table("boilerplate_lines", lines)
    run.tables["boilerplate_lines"] = _without_docs(lines, bad_ids)
    return _without_docs(docs, bad_ids)


def _without_docs(table: pa.Table, doc_ids: pa.Array) -> pa.Table:
    return table.filter(pa.compute.invert(pa.compute.is_in(table.column("doc_id"), doc_ids)))


def _counts(
    run: _Run, files: list[InputFile], new_files: list[InputFile], known_docs: set[str], near_dups: int, canonical: int
) -> dict[str, int]:
    return {
        "files": len(files),
        "files_new": len(new_files),
        "files_skipped": len(files) - len(new_files),
        "records": run.n_rows("raw_documents"),
        "quarantined": run.n_rows("quarantine"),
        "documents_new": run.n_rows("documents"),
        "documents_total": len(known_docs) + run.n_rows("documents"),
        "boilerplate_lines": run.n_rows("boilerplate_lines"),
        "near_duplicates": near_dups,
        "canonical_new": canonical,
    }


def _count_where(table: pa.Table, column: str, values: tuple[str, ...]) -> int:
    return int(pa.compute.sum(pa.compute.is_in(table.column(column), pa.array(values))).as_py() or 0)


def counts_columns(counts: dict[str, int]) -> dict[str, int]:
    return {
        "n_files": counts["files"],
        "n_files_skipped": counts["files_skipped"],
        "n_records": counts["records"],
        "n_quarantined": counts["quarantined"],
        "n_documents_new": counts["documents_new"],
        "n_documents_total": counts["documents_total"],
    }
