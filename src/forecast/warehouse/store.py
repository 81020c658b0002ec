"""Connections, schema and atomic publishing: the mechanics every warehouse write goes through.

Analysts keep ``FORECAST_WAREHOUSE`` open read-only while runs write. DuckDB lets no writer
open a file that any other process holds, so writers never open the published file: every
write copies it to a private temporary file, changes the copy in one transaction, closes it
and ``os.replace``-s it onto the published name. A reader keeps the version it opened and
sees the new one on reconnect; a writer killed mid-write leaves only a stray temporary file.
Writers are serialised by an advisory file lock.
"""

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

SCHEMA_VERSION = 3
_LOCK_TIMEOUT_S = 600.0
# v3: the series key's `region` became `market` (views keep `region` as an alias).
_RENAMED_TO_MARKET = ("sales", "sales_truth", "rejected_sales", "forecasts", "gap_weeks")


class WarehouseError(RuntimeError):
    """A warehouse operation failed; the message names the file and what to do."""


def _sql_file(name: str) -> str:
    """Read warehouse/<name> from the repo, or its packaged copy in an installed wheel."""
    repo_copy = Path(__file__).resolve().parents[3] / "warehouse" / name
    if repo_copy.is_file():
        return repo_copy.read_text()
    return resources.files("forecast").joinpath("sql", name).read_text()


def _apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    _migrate_to_markets(con)
    con.execute(_sql_file("schema.sql"))
    con.execute(_sql_file("views.sql"))
    version = scalar(con, "SELECT max(version) FROM schema_version")
    if version is None or version < SCHEMA_VERSION:
        con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION])
    elif version > SCHEMA_VERSION:
        raise WarehouseError(
            f"warehouse schema v{version} is newer than this code (v{SCHEMA_VERSION}); upgrade"
        )


def _migrate_to_markets(con: duckdb.DuckDBPyConnection) -> None:
    """v2 → v3 in place: ``region`` renamed ``market``; ``series_hierarchy`` kept both."""
    columns = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE column_name IN ('region', 'market')"
    ).fetchall()
    has = {(t, c) for t, c in columns}
    for table in _RENAMED_TO_MARKET:  # names from a constant list, never from input
        if (table, "region") in has and (table, "market") not in has:
            con.execute(f"ALTER TABLE {table} RENAME COLUMN region TO market")
    if ("series_hierarchy", "region") in has:
        con.execute("ALTER TABLE series_hierarchy DROP COLUMN region")


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """First value of a one-row query (the result is drained, as DuckDB 2 requires)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


@contextmanager
def _writer_lock(path: Path, timeout_s: float = _LOCK_TIMEOUT_S) -> Iterator[None]:
    """Serialise writers across processes; readers never take this lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a+") as lock:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseError(
                        f"{path}: another writer held the lock for {timeout_s:.0f} s"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def publish(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Change the warehouse atomically: copy, write in one transaction, replace.

    Raises:
        WarehouseError: Naming the warehouse file (never the private copy, lock or
            staging files), when DuckDB refuses a statement or the file cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise WarehouseError(f"{path}: is a folder; the warehouse is a DuckDB file")
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with _writer_lock(path):
            for pattern in (f"{path.name}.*.tmp", f"{path.name}.*.tmp.wal"):  # a killed writer's
                for stale in path.parent.glob(pattern):
                    stale.unlink()
            if path.exists():
                shutil.copyfile(path, tmp)
            try:
                yield from _write_copy(tmp)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: {str(exc).replace(str(tmp), str(path))}") from exc
    except OSError as exc:
        raise WarehouseError(f"{path}: cannot write the warehouse: {exc.strerror or exc}") from exc


def _write_copy(tmp: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on the private copy, checkpointed and synced to disk."""
    con = duckdb.connect(str(tmp))
    try:
        con.execute("BEGIN")
        _apply_schema(con)
        yield con
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())


# `forecast sql`: no file, network, extension or other database; settings frozen after.
_Config = dict[str, str | bool | int | float | list[str]]
_LOCKED_DOWN: _Config = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


@contextmanager
def reader(path: Path, locked: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read-only connection to the published warehouse (``locked``: see :func:`analyst_query`)."""
    path = Path(path)
    if not path.exists():
        raise WarehouseError(
            f"{path}: no warehouse yet — run `forecast generate` or `forecast ingest FILE` first"
        )
    if path.is_dir():
        raise WarehouseError(f"{path}: is a folder; the warehouse is a DuckDB file")
    try:
        config: _Config = _LOCKED_DOWN if locked else {}
        con = duckdb.connect(str(path), read_only=True, config=config)
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: cannot open read-only: {exc}") from exc
    try:
        yield con
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: {exc}") from exc
    finally:
        con.close()


def replace_refusals(
    con: duckdb.DuckDBPyConnection, table: str, rejected: pl.DataFrame, source: str
) -> None:
    """The refusals of ``source`` in ``table`` (a ``rejected_*`` table) replace its earlier ones."""
    con.execute(f"DELETE FROM {table} WHERE source = ?", [source])
    con.register("refused", rejected)
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT *, ? AS source, now() AS rejected_at FROM refused",
        [source],
    )
    con.unregister("refused")


def query(path: Path, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """Run one read-only query; returns a polars frame."""
    with reader(path) as con:
        return con.sql(sql, params=params or None).pl()


def staging_dir(path: Path, attempt_id: str) -> Path:
    """Where an attempt's per-brand results (or a sales batch) wait until published."""
    return Path(path).parent / f"{Path(path).stem}.staging" / attempt_id


def drop_staged(folder: Path) -> None:
    """Delete a published batch's staged files, and the staging folder once it is empty."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()
