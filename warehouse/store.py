"""The warehouse on disk: Parquet partitions, a DuckDB catalog of views, atomic publish and a one-writer lock.

Layout of a warehouse directory W:
    W/newsetl.duckdb              the published catalog: one view per table over its Parquet partitions,
                                  the `_partitions` ledger, and the SQL models. Replaced only by os.replace.
                                  Partitions are named relative to W (data/<table>/<file>) in the ledger and
                                  the views, so W can move: newsetl resolves them under W as it opens the
                                  catalog (temp views, `shadow_views`), plain DuckDB with file_search_path = W.
    W/data/<table>/<run_id>[-<part>].parquet   immutable partitions (zstd), one per table per run or, for
                                  tables written chunk by chunk, several
    W/.staging/                   catalogs being built; anything here belongs to an unfinished run, except
    W/.staging/work/              the flow's resumable shard outputs: no Store method removes them
    W/.newsetl.lock               flock held by the one writer (released by the OS if the process dies)

A run appends partitions, builds a new catalog in .staging that lists the previous partitions plus its own,
checks it, and swaps it in with one atomic rename. Until that rename, readers see the previous catalog exactly;
partitions of a killed run are never listed by any catalog and are removed by the next writer.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.incremental import MODELS_DIR, build_models, built_with_these_models, update_models  # noqa: F401
from warehouse.schema import TABLES

CATALOG = "newsetl.duckdb"
LOCK = ".newsetl.lock"
SUPERSEDED_GLOB = ".superseded-*.txt"  # under data/: the partitions a compaction replaced, one key a line
STAGING = ".staging"
WORK = "work"  # .staging/work/: the flow's resumable shard outputs; no Store method ever removes them
DATA = "data"
# rows per Parquet row group of a partition: the writer holds a row group's encoded columns in memory until the
# group is complete, so a 100k-document partition written as one group held all its compressed texts at once
ROW_GROUP_ROWS = 10_000
PARTITIONS_DDL = (
    "CREATE TABLE _partitions (table_name VARCHAR, run_id VARCHAR, path VARCHAR, n_rows BIGINT, "
    "bytes BIGINT, sha256 VARCHAR)"
)
# Tables every run writes about itself. A run that adds partitions to these only (a no-op run: nothing new
# ingested) leaves every data table and SQL model as published, so its catalog is the published one plus
# these partitions, and the cross-table checks (which read data tables only) cannot change.
BOOKKEEPING = frozenset({"runs", "source_files", "dq_results"})
CHECKS_TABLE = "_checks"  # the cross-table check results of the catalog's last rebuild
# DuckDB's default memory limit is 80% of RAM; the writer's model builds and checks stay within this
# (spilling to W/.staging/tmp) so a run's peak memory does not grow with the warehouse. Catalog build + checks,
# measured here on a 100k-document warehouse (one run): 1GB limit 42 + 45 s and 1,195 MB peak RSS; 512MB 62 + 29 s
# and 739 MB. (Before mart_entity_cooccurrence became a view checked per run, 512MB ran out of memory at 100k.)
MEMORY_LIMIT_ENV = "NEWSETL_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "512MB"


class WarehouseBusy(RuntimeError):
    """Another process holds the writer lock."""


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as asked (missing, a refused query, or out of DuckDB memory)."""


@contextmanager
def _memory_hint(what: str) -> Iterator[None]:
    """Turn DuckDB's multi-line out-of-memory error into one line that names the setting to raise."""
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        limit = os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT
        first = str(exc).splitlines()[0]
        raise WarehouseError(
            f"{what} ran out of DuckDB memory ({first}); the writer's limit is {limit}: "
            f"set {MEMORY_LIMIT_ENV} higher, e.g. {MEMORY_LIMIT_ENV}=4GB"
        ) from None


@dataclass(frozen=True, slots=True)
class Partition:
    table_name: str
    run_id: str
    path: str
    n_rows: int
    bytes: int
    sha256: str


def catalog_path(root: Path) -> Path:
    return root / CATALOG


def partition_key(path: str) -> str:
    """data/<table>/<file> of a partition path as a catalog records it: relative to the warehouse root, or absolute
    (catalogs written before partitions were recorded relative). What recovery and relocation match files by."""
    return "/".join(PurePath(path).parts[-3:])


def _key(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def sql_literal(value: str) -> str:
    """`value` as a quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad identifier {name!r}")
    return f'"{name}"'


@contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    """Hold the one-writer lock on `root`. Raises WarehouseBusy at once if another live process holds it.

    flock is released by the kernel when its holder dies, so a lock left by a killed run is taken over
    without any manual step; the pid in the file only serves the message.
    """
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise WarehouseBusy(
                f"another newsetl run (pid {holder}) is writing to {root}; wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


class Store:
    """Writer-side access to one warehouse directory. Use inside `writer_lock(root)`."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.data = self.root / DATA
        self.staging = self.root / STAGING

    # -- reading the published state -------------------------------------------------------------
    def published_partitions(self) -> list[Partition]:
        """The published catalog's partitions, each path resolved under this root (wherever the folder is now)."""
        return [self.resolve(p) for p in self._ledger()]

    def _ledger(self) -> list[Partition]:
        """The `_partitions` rows as recorded: paths relative to the root, or absolute in an older catalog."""
        cat = catalog_path(self.root)
        if not cat.exists():
            return []
        con = duckdb.connect()  # attached, not opened: a connection of this process with other settings may hold it
        try:
            con.execute(f"ATTACH {sql_literal(str(cat))} AS published (READ_ONLY)")
            rows = con.execute(
                "SELECT table_name, run_id, path, n_rows, bytes, sha256 FROM published._partitions "
                "ORDER BY table_name, run_id"
            ).fetchall()
        finally:
            con.close()
        return [Partition(*r) for r in rows]

    def ingested_files(self) -> set[tuple[str, int]]:
        """(path, bytes) of the published source_files rows whose content (sha256) the warehouse has ingested;
        empty without a published catalog. Reads only; writes nothing under the root (no writer lock needed)."""
        parts = [p for p in self.published_partitions() if p.table_name == "source_files"]
        if not parts:
            return set()
        con = duckdb.connect()
        try:
            create_table_views(con, parts, ["source_files"])
            rows = con.execute(
                "SELECT DISTINCT path, bytes FROM source_files "
                "WHERE sha256 IN (SELECT sha256 FROM source_files WHERE status = 'ingested')"
            ).fetchall()
        finally:
            con.close()
        return {(path, int(size)) for path, size in rows}

    def resolve(self, p: Partition) -> Partition:
        """`p` with its path under this root (from data/<table>/<file>, however it was recorded)."""
        return replace(p, path=str(self.root / partition_key(p.path)))

    def connect_published(self, partitions: list[Partition] | None = None) -> duckdb.DuckDBPyConnection:
        """In-memory connection with a view per table over `partitions` (default: the published ones)."""
        con = self.connect()
        create_table_views(con, self.published_partitions() if partitions is None else partitions)
        return con

    # -- cleaning up after killed runs ---------------------------------------------------------------
    def recover(self) -> list[str]:
        """Remove what killed runs left: staged catalogs and spill files in .staging (never .staging/work/, the
        flow's resumable shard outputs) and partition files under data/ that the published catalog does not list.
        Returns what was removed.

        Listed files are matched by their path under the warehouse root (data/<table>/<file>), never by an
        absolute path, so a moved or copied warehouse keeps every file its catalog lists. When the catalog cannot
        be read, or lists a file that is not under this root (only the catalog was moved, or data/ is missing),
        nothing is removed: WarehouseError, one line.
        """
        listed = self._listed_here()
        removed: list[str] = []
        if self.staging.exists():
            for entry in sorted(self.staging.iterdir()):
                if entry.name == WORK and entry.is_dir():
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    removed += [str(f) for f in sorted(entry.rglob("*")) if f.is_file()]
                    shutil.rmtree(entry)
                else:
                    removed.append(str(entry))
                    entry.unlink()
            if not any(self.staging.iterdir()):
                self.staging.rmdir()
        if self.data.exists():
            for f in sorted(self.data.rglob("*")):
                if f.is_file() and f.name.endswith((".parquet", ".parquet.tmp")) and _key(f, self.root) not in listed:
                    f.unlink()
                    removed.append(str(f))
            self._drop_superseded_records()
        return removed

    def superseded(self) -> set[str]:
        """data/<table>/<file> of the partitions a compaction replaced (`record_superseded`): unlisted files that the
        next recovery removes as it should, not a killed run's leftovers."""
        return {k for _, keys in self._superseded_records() for k in keys}

    def record_superseded(self, name: str, keys: list[str]) -> None:
        """Write down the partitions compaction `name` replaced (see `superseded`)."""
        (self.data / SUPERSEDED_GLOB.replace("*", name)).write_text("".join(k + "\n" for k in keys), encoding="utf-8")

    def _superseded_records(self) -> list[tuple[Path, list[str]]]:
        records = sorted(self.data.glob(SUPERSEDED_GLOB)) if self.data.exists() else []
        return [(r, [k for k in r.read_text(encoding="utf-8").splitlines() if k]) for r in records]

    def _drop_superseded_records(self) -> None:
        """Remove the records of compactions whose replaced files are all gone."""
        for record, keys in self._superseded_records():
            if not any((self.root / k).exists() for k in keys):
                record.unlink()

    def _listed_here(self) -> set[str]:
        """data/<table>/<file> of every published partition, each checked to exist under this root."""
        try:
            partitions = self._ledger()
        except duckdb.Error as exc:
            raise WarehouseError(
                f"cannot read the catalog {catalog_path(self.root)} ({str(exc).splitlines()[0]}); nothing was removed"
            ) from None
        listed = {partition_key(p.path) for p in partitions}
        missing = sorted(k for k in listed if not k.startswith(DATA + "/") or not (self.root / k).is_file())
        if missing:
            recorded = sorted({str(PurePath(p.path).parents[2]) for p in partitions if PurePath(p.path).is_absolute()})
            where = f" (recorded under {', '.join(recorded)})" if recorded and recorded != [str(self.root)] else ""
            raise WarehouseError(
                f"the catalog of {self.root}{where} lists {len(missing)} partition file(s) that are not under "
                f"{self.root} (e.g. {missing[0]}); move or copy the whole warehouse folder with its data/; "
                "nothing was removed"
            )
        return listed

    # -- writing --------------------------------------------------------------------------------------
    def write_partition(
        self, table_name: str, run_id: str, table: pa.Table | Iterable[pa.Table], part: int | None = None
    ) -> Partition:
        """Write `table` (cast to the table's schema) as an immutable zstd Parquet partition: one file per table
        per run, or several (`part` 0, 1, ...) when a stage writes its rows chunk by chunk.

        `table` may be an iterable of tables written one after the other into the same file, so a partition
        larger than memory (raw_documents with every raw text) is never whole in memory."""
        pieces = [table] if isinstance(table, pa.Table) else table
        folder = self.data / table_name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (f"{run_id}.parquet" if part is None else f"{run_id}-{part:05d}.parquet")
        tmp = path.with_suffix(".parquet.tmp")
        writer, n_rows = None, 0
        try:
            for piece in pieces:
                schema = TABLES[table_name][0] if table_name in TABLES else piece.schema
                piece = piece.select(schema.names).cast(schema)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, schema, compression="zstd", write_statistics=True)
                writer.write_table(piece, row_group_size=ROW_GROUP_ROWS)
                n_rows += piece.num_rows
            if writer is None:  # no piece at all: an empty partition of the table's schema
                writer = pq.ParquetWriter(tmp, TABLES[table_name][0], compression="zstd", write_statistics=True)
        finally:
            if writer is not None:
                writer.close()
        _fsync(tmp)
        os.replace(tmp, path)
        return Partition(table_name, run_id, str(path), n_rows, path.stat().st_size, sha256_file(path))

    def adopt_partition(self, table_name: str, run_id: str, src: Path, part: int | None = None) -> Partition:
        """Make a finished Parquet file already under the warehouse (a shard output in .staging/work/...) partition
        `part` of `table_name` for `run_id`, as `write_partition` would name it, without rewriting it.

        The file is hard-linked into data/<table>/ (copied where the file system refuses a link), fsynced, hashed,
        and checked to have the table's columns and types. `src` stays where it is: the link is a second name for
        the same immutable bytes, so removing the shard folder later leaves the partition. The returned path is
        under this root; the catalog records it relative (data/<table>/<file>). Raises WarehouseError (one line)
        for a file outside the warehouse, unreadable as Parquet, or of another schema."""
        src = Path(src).resolve()
        if not src.is_relative_to(self.root) or src.is_relative_to(self.data) or not src.is_file():
            raise WarehouseError(f"cannot adopt {src}: not a file under {self.root} outside its data/")
        n_rows = _checked_rows(table_name, src)
        folder = self.data / table_name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (f"{run_id}.parquet" if part is None else f"{run_id}-{part:05d}.parquet")
        tmp = path.with_suffix(".parquet.tmp")
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
        except OSError:  # another device, or a file system without hard links
            shutil.copyfile(src, tmp)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_dir(folder)
        return Partition(table_name, run_id, str(path), n_rows, path.stat().st_size, sha256_file(path))

    def connect(self, database: Path | None = None) -> duckdb.DuckDBPyConnection:
        """A writer-side DuckDB connection (in memory by default) with a bounded memory limit that spills to
        W/.staging/tmp; NEWSETL_DUCKDB_MEMORY_LIMIT overrides the limit (a DuckDB size such as 2GB).

        A catalog's views name their partitions relative to the root; `file_search_path` resolves them here (and
        temp views shadow them when this process's working directory could resolve them first)."""
        spill = self.staging / "tmp"
        spill.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(database) if database else ":memory:")
        con.execute("SET memory_limit = ?", [os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT])
        con.execute("SET temp_directory = ?", [str(spill)])
        con.execute("SET preserve_insertion_order = false")
        if database is not None and _relocatable(self.root):
            con.execute("SET file_search_path = ?", [str(self.root)])
        if database is not None and _has_ledger(con):
            self._shadow_if_needed(con, self._ledger_of(con))
        return con

    def _ledger_of(self, con: duckdb.DuckDBPyConnection, tables: list[str] | None = None) -> list[Partition]:
        """`_partitions` of the catalog `con` is on (of `tables` only, if given), paths resolved under this root."""
        where = "" if tables is None else "WHERE list_contains(?, table_name) "
        rows = con.execute(
            f"SELECT table_name, run_id, path, n_rows, bytes, sha256 FROM _partitions {where}"
            "ORDER BY table_name, run_id, path",
            [] if tables is None else [tables],
        ).fetchall()
        return [self.resolve(Partition(*r)) for r in rows]

    def _stale_views(self, con: duckdb.DuckDBPyConnection) -> set[str]:
        """Tables whose view in this catalog names files the way another root would: absolute paths where they
        should be relative, or absolute under another folder (a catalog from a root whose path has a comma)."""
        views = con.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE database_name = current_database() AND NOT internal"
        ).fetchall()
        here = str(self.root / DATA) + "/"
        stale = set()
        for name, sql in views:
            files = [f.replace("''", "'") for f in re.findall(r"'((?:[^']|'')*\.parquet)'", sql)]
            if name in TABLES and any(
                f.startswith("/") != (not _relocatable(self.root)) or (f.startswith("/") and not f.startswith(here))
                for f in files
            ):
                stale.add(name)
        return stale

    def _catalog_views(
        self, con: duckdb.DuckDBPyConnection, partitions: list[Partition], only: list[str] | None = None
    ) -> None:
        """The stored views of a catalog, over paths relative to the root (so the folder can move)."""
        create_table_views(con, partitions, only, relative_to=self.root if _relocatable(self.root) else None)
        self._shadow_if_needed(con, partitions, only)

    def _shadow_if_needed(
        self, con: duckdb.DuckDBPyConnection, partitions: list[Partition], only: list[str] | None = None
    ) -> None:
        """DuckDB looks a relative path up in the working directory before `file_search_path`: when this process's
        working directory has a data/<table>/ folder of its own (another warehouse, a copy of this one), temp
        views over absolute paths shadow the catalog's views on this connection, so it reads this root's files."""
        try:
            cwd = Path.cwd().resolve()
        except OSError:  # the working directory was removed: nothing can be found there
            return
        names = {p.table_name for p in partitions}
        if cwd != self.root and any((cwd / DATA / n).is_dir() for n in names):
            create_table_views(con, partitions, sorted(names) if only is None else only, temp=True)

    def stage_catalog(
        self, run_id: str, prior: list[Partition], new: list[Partition], *, full_refresh: bool = False
    ) -> tuple[Path, bool]:
        """Build the next catalog in staging (not yet visible) listing `prior` + `new` partitions.

        Returns (path, rebuilt). With a published catalog built by the current model files, it is copied and the
        new partitions added: when `new` only touches BOOKKEEPING tables, that is all (`rebuilt` False: models and
        checks stand as published); otherwise the incremental models are updated for the new rows
        (`update_catalog`). The first run, `full_refresh`, and a catalog built by other model files build the
        catalog from scratch with every SQL model. `rebuilt` True means the models changed: check the catalog.
        """
        published = catalog_path(self.root)
        if published.exists() and not full_refresh and self._models_current(published):
            if {p.table_name for p in new} <= BOOKKEEPING:
                self.staging.mkdir(parents=True, exist_ok=True)
                path = self.staging / f"{run_id}.duckdb"
                shutil.copyfile(published, path)
                self.add_partitions(path, new)
                return path, False
            return self.update_catalog(run_id, new), True
        return self.build_catalog(run_id, prior + new), True

    def _models_current(self, catalog: Path) -> bool:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {sql_literal(str(catalog))} AS published (READ_ONLY)")
            con.execute("USE published")
            return built_with_these_models(con)
        finally:
            con.close()

    def update_catalog(self, run_id: str, new: list[Partition]) -> Path:
        """The published catalog copied to staging with the `new` partitions listed and the incremental models
        updated for their rows (warehouse/incremental.py). Not yet visible."""
        self.staging.mkdir(parents=True, exist_ok=True)
        path = self.staging / f"{run_id}.duckdb"
        shutil.copyfile(catalog_path(self.root), path)
        self._edit_ledger(path, [], new)
        con = self.connect(path)
        try:
            create_table_views(con, [self.resolve(p) for p in new], temp=True, prefix="_new_")
            with _memory_hint("updating the SQL models"):
                update_models(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        return path

    def add_partitions(self, staged_catalog: Path, new: list[Partition]) -> None:
        """List `new` partitions in a staged catalog and re-point the views of their tables. A catalog written
        before partitions were recorded relative to the root is migrated: every path and view made relative."""
        if new:
            self._edit_ledger(staged_catalog, [], new)

    def replace_partitions(self, name: str, old: list[Partition], new: list[Partition]) -> Path:
        """Stage a copy of the published catalog (`.staging/<name>.duckdb`) in which `new` partitions replace `old`
        ones holding the same rows (compaction): the ledger and the views of their tables change, models and
        checks stand as published. Not yet visible."""
        self.staging.mkdir(parents=True, exist_ok=True)
        path = self.staging / f"{name}.duckdb"
        shutil.copyfile(catalog_path(self.root), path)
        self._edit_ledger(path, old, new)
        return path

    def _edit_ledger(self, staged_catalog: Path, old: list[Partition], new: list[Partition]) -> None:
        con = self.connect(staged_catalog)
        try:
            legacy = con.execute("SELECT DISTINCT table_name FROM _partitions WHERE path LIKE '/%'").fetchall()
            if legacy:  # absolute paths of an older catalog: data/<table>/<file>, as written now
                con.execute("UPDATE _partitions SET path = array_to_string(string_split(path, '/')[-3:], '/')")
            if old:
                con.execute(
                    "DELETE FROM _partitions WHERE list_contains(?, path)", [[partition_key(p.path) for p in old]]
                )
            if new:
                con.executemany("INSERT INTO _partitions VALUES (?, ?, ?, ?, ?, ?)", ledger_rows(new))
            names = sorted({p.table_name for p in old + new} | {t for (t,) in legacy} | self._stale_views(con))
            self._catalog_views(con, self._ledger_of(con, names), only=names)
            con.execute("CHECKPOINT")
        finally:
            con.close()

    def check_catalog(self, staged_catalog: Path, run_id: str | None = None) -> list[dict]:
        """Cross-table and model checks (warehouse/checks.py) on a staged catalog, before it is published;
        the checks of extraction rows read only run `run_id`'s rows when given (earlier runs' partitions are
        immutable and were checked when published).

        The results are also kept in the catalog as `_checks` (check, failing): what the report shows without
        re-running them, and what a no-op run's copied catalog carries over.
        """
        from warehouse.checks import run_checks

        con = self.connect(staged_catalog)
        try:
            with _memory_hint("the cross-table checks"):
                checks = run_checks(con, runs=None if run_id is None else [run_id])
            con.register("checks_frame", checks)
            con.execute(f"CREATE OR REPLACE TABLE {CHECKS_TABLE} AS SELECT * FROM checks_frame")
            con.unregister("checks_frame")
            con.execute("CHECKPOINT")
            return checks.to_dict("records")
        finally:
            con.close()

    def build_catalog(self, run_id: str, partitions: list[Partition], models: bool = True) -> Path:
        """Build the next catalog in staging (views, ledger, comments, SQL models). Not yet visible."""
        self.staging.mkdir(parents=True, exist_ok=True)
        path = self.staging / f"{run_id}.duckdb"
        if path.exists():
            path.unlink()
        con = self.connect(path)
        try:
            con.execute(PARTITIONS_DDL)
            if partitions:  # executemany refuses an empty list
                con.executemany("INSERT INTO _partitions VALUES (?, ?, ?, ?, ?, ?)", ledger_rows(partitions))
            self._catalog_views(con, [self.resolve(p) for p in partitions])
            if models:
                with _memory_hint("building the SQL models"):
                    build_models(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        return path

    def publish(self, staged_catalog: Path) -> None:
        """Atomically make `staged_catalog` the published catalog."""
        _fsync(staged_catalog)
        os.replace(staged_catalog, catalog_path(self.root))
        _fsync_dir(self.root)
        self._clear_staging()  # DuckDB spill files; nothing else of this run lives here now

    def _clear_staging(self) -> None:
        """Remove .staging except .staging/work/ (the flow's shard outputs, which it removes itself)."""
        if not self.staging.exists():
            return
        for entry in self.staging.iterdir():
            if entry.name == WORK:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        with suppress(OSError):
            self.staging.rmdir()  # only when empty

    def discard(self, partitions: list[Partition], staged_catalog: Path | None = None) -> None:
        """Remove what an aborted run wrote; the published catalog never listed it."""
        for p in partitions:
            Path(p.path).unlink(missing_ok=True)
        if staged_catalog is not None:
            staged_catalog.unlink(missing_ok=True)
        self._clear_staging()


def create_table_views(
    con: duckdb.DuckDBPyConnection,
    partitions: list[Partition],
    only: list[str] | None = None,
    *,
    relative_to: Path | None = None,
    temp: bool = False,
    prefix: str = "",
) -> None:
    """One view per known table (or per table in `only`) over its partitions; a table without partitions is an
    empty typed view. Paths as given (absolute), or relative to `relative_to` (a stored catalog's views);
    `temp` views live on this connection only and shadow the catalog's views of the same name; `prefix` names
    the views `<prefix><table>` (the `_new_<table>` views of a run's own partitions)."""
    by_table: dict[str, list[str]] = {}
    for p in partitions:
        by_table.setdefault(p.table_name, []).append(p.path if relative_to is None else partition_key(p.path))
    names = list(TABLES) + sorted(set(by_table) - set(TABLES)) if only is None else only
    db = con.execute("SELECT current_database()").fetchone()[0]
    for name in names:
        paths = by_table.get(name)
        if paths:
            files = "[" + ", ".join(sql_literal(x) for x in paths) + "]"
            sql = f"SELECT * FROM read_parquet({files}, union_by_name = true)"
        else:
            sql = empty_select(TABLES[name][0])
        view = _ident(prefix + name) if temp else f"{quote_ident(db)}.main.{_ident(prefix + name)}"
        con.execute(f"CREATE OR REPLACE {'TEMP ' if temp else ''}VIEW {view} AS {sql}")
        if name in TABLES and not temp:
            con.execute(f"COMMENT ON VIEW {view} IS {sql_literal(TABLES[name][1])}")


def shadow_views(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Temp views over the catalog's partitions under `root`, wherever the catalog was written: what newsetl's
    readers query (the catalog's own views name paths relative to the root, which only `file_search_path` or the
    working directory would resolve). Measured: 0.1 s for 19 tables of 20 partitions, 0.6 s a table at 5,000."""
    store = Store(root)
    create_table_views(
        con,
        store._ledger_of(con),
        sorted(t for (t,) in con.execute("SELECT DISTINCT table_name FROM _partitions").fetchall()),
        temp=True,
    )


def _checked_rows(table_name: str, path: Path) -> int:
    """Rows of Parquet file `path`, after checking it has exactly the columns and types of `table_name`."""
    try:
        meta = pq.ParquetFile(path)
        got = meta.schema_arrow
    except (OSError, pa.ArrowException) as exc:
        raise WarehouseError(f"cannot adopt {path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    if table_name in TABLES:
        want = TABLES[table_name][0]
        bad = sorted(
            {f.name for f in want if got.get_field_index(f.name) < 0 or not got.field(f.name).type.equals(f.type)}
            | (set(got.names) - set(want.names))
        )
        if bad:
            raise WarehouseError(
                f"cannot adopt {path} as {table_name}: columns {', '.join(bad)} differ from its schema"
            )
    return meta.metadata.num_rows


def ledger_rows(partitions: list[Partition]) -> list[tuple]:
    """`_partitions` rows: each path recorded relative to the warehouse root (data/<table>/<file>)."""
    return [(p.table_name, p.run_id, partition_key(p.path), p.n_rows, p.bytes, p.sha256) for p in partitions]


def _relocatable(root: Path) -> bool:
    """DuckDB's file_search_path is a comma-separated list: a root with a comma in its path cannot be one, so
    such a catalog's views keep absolute paths (newsetl's readers still resolve them; see shadow_views)."""
    return "," not in str(root)


def _has_ledger(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_partitions' AND database_name = "
            "current_database()"
        ).fetchone()[0]
    )


def quote_ident(name: str) -> str:
    """`name` as a quoted SQL identifier (any characters)."""
    return '"' + name.replace('"', '""') + '"'


_DUCKDB_TYPES = {
    pa.bool_(): "BOOLEAN",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.uint32(): "UINTEGER",
    pa.uint64(): "UBIGINT",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.timestamp("us", tz="UTC"): "TIMESTAMP WITH TIME ZONE",
}


def _duckdb_type(t: pa.DataType) -> str | None:
    """DuckDB's type for an Arrow type of the warehouse's tables (lists of them too); None for another."""
    if pa.types.is_list(t):
        inner = _duckdb_type(t.value_type)
        return None if inner is None else f"{inner}[]"
    return _DUCKDB_TYPES.get(t)


def empty_select(schema: pa.Schema) -> str:
    """SELECT of zero rows with the DuckDB types of an Arrow schema (so empty tables keep their types). The
    tables' types are mapped here: asking DuckDB (a scan of an empty Arrow table) makes its Python client import
    pandas, 43 MiB in the flow's process, which otherwise never loads it. Other types still ask DuckDB."""
    types = [(f.name, _duckdb_type(f.type)) for f in schema]
    if any(t is None for _, t in types):
        con = duckdb.connect()
        try:
            empty = schema.empty_table()  # noqa: F841 (read by DuckDB's replacement scan)
            types = con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM empty)").fetchall()
        finally:
            con.close()
    cols = ", ".join(f"CAST(NULL AS {t}) AS {_ident(n)}" for n, t in types)
    return f"SELECT {cols} WHERE false"


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
