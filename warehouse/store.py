"""The warehouse on disk: Parquet partitions, a DuckDB catalog of views, atomic publish and a one-writer lock.

Layout of a warehouse directory W:
    W/newsetl.duckdb              the published catalog: one view per table over its Parquet partitions,
                                  the `_partitions` ledger, and the SQL models. Replaced only by os.replace.
    W/data/<table>/<run_id>.parquet   immutable partitions (zstd), one per table per run
    W/.staging/                   catalogs being built; anything here belongs to an unfinished run
    W/.newsetl.lock               flock held by the one writer (released by the OS if the process dies)

A run appends partitions, builds a new catalog in .staging that lists the previous partitions plus its own,
checks it, and swaps it in with one atomic rename. Until that rename, readers see the previous catalog exactly;
partitions of a killed run are never listed by any catalog and are removed by the next writer.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.schema import TABLES

CATALOG = "newsetl.duckdb"
LOCK = ".newsetl.lock"
STAGING = ".staging"
DATA = "data"
MODELS_DIR = Path(__file__).with_name("models")
PARTITIONS_DDL = (
    "CREATE TABLE _partitions (table_name VARCHAR, run_id VARCHAR, path VARCHAR, n_rows BIGINT, "
    "bytes BIGINT, sha256 VARCHAR)"
)


class WarehouseBusy(RuntimeError):
    """Another process holds the writer lock."""


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as asked (missing, or a refused query)."""


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


def _sql_str(value: str) -> str:
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
        cat = catalog_path(self.root)
        if not cat.exists():
            return []
        con = duckdb.connect(str(cat), read_only=True)
        try:
            rows = con.execute(
                "SELECT table_name, run_id, path, n_rows, bytes, sha256 FROM _partitions ORDER BY table_name, run_id"
            ).fetchall()
        finally:
            con.close()
        return [Partition(*r) for r in rows]

    def connect_published(self, partitions: list[Partition] | None = None) -> duckdb.DuckDBPyConnection:
        """In-memory connection with a view per table over `partitions` (default: the published ones)."""
        con = duckdb.connect()
        create_table_views(con, self.published_partitions() if partitions is None else partitions)
        return con

    # -- cleaning up after killed runs ---------------------------------------------------------------
    def recover(self) -> list[str]:
        """Remove staging leftovers and partition files no published catalog lists. Returns what was removed."""
        removed: list[str] = []
        if self.staging.exists():
            removed.append(str(self.staging))
            shutil.rmtree(self.staging)
        listed = {p.path for p in self.published_partitions()}
        if self.data.exists():
            for f in sorted(self.data.rglob("*.parquet")):
                if str(f) not in listed:
                    f.unlink()
                    removed.append(str(f))
        return removed

    # -- writing --------------------------------------------------------------------------------------
    def write_partition(self, table_name: str, run_id: str, table: pa.Table) -> Partition:
        """Write `table` (cast to the table's schema) as an immutable zstd Parquet partition."""
        schema = TABLES[table_name][0] if table_name in TABLES else table.schema
        table = table.select(schema.names).cast(schema)
        folder = self.data / table_name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{run_id}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)
        _fsync(tmp)
        os.replace(tmp, path)
        return Partition(table_name, run_id, str(path), table.num_rows, path.stat().st_size, sha256_file(path))

    def check_partitions(self, partitions: list[Partition]) -> list[dict]:
        """Cross-table checks (warehouse/checks.py) over exactly these partitions, with the models built."""
        from warehouse.checks import run_checks

        con = duckdb.connect()
        try:
            create_table_views(con, partitions)
            build_models(con)
            return run_checks(con).to_dict("records")
        finally:
            con.close()

    def build_catalog(self, run_id: str, partitions: list[Partition], models: bool = True) -> Path:
        """Build the next catalog in staging (views, ledger, comments, SQL models). Not yet visible."""
        self.staging.mkdir(parents=True, exist_ok=True)
        path = self.staging / f"{run_id}.duckdb"
        if path.exists():
            path.unlink()
        con = duckdb.connect(str(path))
        try:
            con.execute(PARTITIONS_DDL)
            con.executemany(
                "INSERT INTO _partitions VALUES (?, ?, ?, ?, ?, ?)",
                [(p.table_name, p.run_id, p.path, p.n_rows, p.bytes, p.sha256) for p in partitions],
            )
            create_table_views(con, partitions)
            if models:
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

    def discard(self, partitions: list[Partition], staged_catalog: Path | None = None) -> None:
        """Remove what an aborted run wrote; the published catalog never listed it."""
        for p in partitions:
            Path(p.path).unlink(missing_ok=True)
        if staged_catalog is not None:
            staged_catalog.unlink(missing_ok=True)


def create_table_views(con: duckdb.DuckDBPyConnection, partitions: list[Partition]) -> None:
    """One view per known table over its partitions; a table without partitions is an empty typed view."""
    by_table: dict[str, list[str]] = {}
    for p in partitions:
        by_table.setdefault(p.table_name, []).append(p.path)
    names = list(TABLES) + sorted(set(by_table) - set(TABLES))
    for name in names:
        paths = by_table.get(name)
        if paths:
            files = "[" + ", ".join(_sql_str(x) for x in paths) + "]"
            sql = f"SELECT * FROM read_parquet({files}, union_by_name = true)"
        else:
            sql = empty_select(TABLES[name][0])
        con.execute(f"CREATE OR REPLACE VIEW {_ident(name)} AS {sql}")
        if name in TABLES:
            con.execute(f"COMMENT ON VIEW {_ident(name)} IS {_sql_str(TABLES[name][1])}")


def empty_select(schema: pa.Schema) -> str:
    """SELECT of zero rows with the DuckDB types of an Arrow schema (so empty tables keep their types)."""
    con = duckdb.connect()
    try:
        empty = schema.empty_table()  # noqa: F841 (read by DuckDB's replacement scan)
        types = con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM empty)").fetchall()
    finally:
        con.close()
    cols = ", ".join(f"CAST(NULL AS {t}) AS {_ident(n)}" for n, t in types)
    return f"SELECT {cols} WHERE false"


def build_models(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Run warehouse/models/*.sql in name order (stg_ before mart_ by naming). Returns model names."""
    done = []
    for sql_file in sorted(MODELS_DIR.glob("*.sql"), key=lambda p: (not p.name.startswith("stg_"), p.name)):
        con.execute(sql_file.read_text(encoding="utf-8"))
        done.append(sql_file.stem)
    return done


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
