"""The one module that talks to DuckDB: schema, reads, staged writes and atomic publishing.

Analysts keep ``FORECAST_WAREHOUSE`` open read-only while runs write. DuckDB lets no writer
open a file that any other process holds, so writers never open the published file: every
write copies it to a private temporary file, changes the copy in one transaction, closes it
and ``os.replace``-s it onto the published name. A reader keeps the version it opened and
sees the new one on reconnect; a writer killed mid-write leaves only a stray temporary file.
Writers are serialised by an advisory file lock. Per-brand results of a run are staged as
Parquet next to the warehouse and merged in the run's final publish, so a running or failed
run is never visible.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

SCHEMA_VERSION = 2
RESULT_TABLES = ("run_brands", "forecasts", "backtest_metrics", "priors", "prior_weights")
_LOCK_TIMEOUT_S = 600.0


class WarehouseError(RuntimeError):
    """A warehouse operation failed; the message names the file and what to do."""


def _sql_file(name: str) -> str:
    """Read warehouse/<name> from the repo, or its packaged copy in an installed wheel."""
    repo_copy = Path(__file__).resolve().parents[2] / "warehouse" / name
    if repo_copy.is_file():
        return repo_copy.read_text()
    return resources.files("forecast").joinpath("sql", name).read_text()


def _apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_sql_file("schema.sql"))
    con.execute(_sql_file("views.sql"))
    version = _scalar(con, "SELECT max(version) FROM schema_version")
    if version is None or version < SCHEMA_VERSION:
        con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION])
    elif version > SCHEMA_VERSION:
        raise WarehouseError(
            f"warehouse schema v{version} is newer than this code (v{SCHEMA_VERSION}); upgrade"
        )


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
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
ANALYST_STATEMENTS = ("SELECT", "EXPLAIN")


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


def ensure_schema(path: Path) -> None:
    """Create the warehouse (tables and views) if missing, or bring its views up to date."""
    with publish(path):
        pass


def query(path: Path, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """Run one read-only query; returns a polars frame."""
    with reader(path) as con:
        return con.sql(sql, params=params or None).pl()


def analyst_query(path: Path, sql: str) -> pl.DataFrame:
    """``forecast sql``: one SELECT (or EXPLAIN) over the warehouse's own tables and views.

    The connection is read-only with DuckDB's external access off and its configuration
    locked, so no statement can read or write another file (``COPY``, ``EXPORT``,
    ``read_csv``, ``glob``), attach another database, install or load an extension, or
    change a setting; text with more than one statement is refused before it runs.

    Raises:
        WarehouseError: The text is not one allowed statement, or DuckDB refuses it.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: {exc}") from exc
    if len(statements) != 1:
        raise WarehouseError(f"forecast sql runs exactly one statement; got {len(statements)}")
    kind = statements[0].type.name
    if kind not in ANALYST_STATEMENTS:
        raise WarehouseError(
            f"forecast sql runs read-only queries (SELECT, EXPLAIN); {kind} is not allowed"
        )
    with reader(path, locked=True) as con:
        return con.sql(sql).pl()


def refusal_summary(path: Path, source: str, limit: int = 10) -> pl.DataFrame:
    """Why rows of ``source`` were refused: reason, rows, first row number."""
    return query(
        path,
        "SELECT reason, count(*) AS rows, min(row_number) AS first_row FROM rejected_sales "
        "WHERE source = ? GROUP BY 1 ORDER BY 2 DESC, 3 LIMIT ?",
        [source, limit],
    )


def brand_statuses(path: Path, run_id: str) -> pl.DataFrame:
    """Each brand of a run: status, series, rows, chosen model, seconds, error."""
    return query(
        path,
        "SELECT brand, status, n_series, n_rows, selected_model, round(seconds, 1) AS seconds, "
        "error FROM run_brands WHERE run_id = ? ORDER BY status, brand",
        [run_id],
    )


def latest_by_sector(path: Path) -> pl.DataFrame:
    """What analysts see now, per sector: brands, series and rows of ``latest_forecasts``."""
    return query(
        path,
        "SELECT sector, count(DISTINCT brand) AS brands, count(DISTINCT unique_id) AS series, "
        "count(*) AS rows FROM latest_forecasts GROUP BY 1 ORDER BY 1",
    )


def first_sales(path: Path) -> dict[str, date]:
    """The first week with sales of every brand in the warehouse."""
    if not Path(path).exists():
        return {}
    frame = query(path, "SELECT brand, min(ds) AS first FROM sales GROUP BY 1")
    return dict(frame.iter_rows())


def stage_sales(
    path: Path, batch: str, part: str, sales: pl.DataFrame, truth: pl.DataFrame | None
) -> None:
    """Stage one part (e.g. a brand) of a sales batch as Parquet; see :func:`publish_sales`."""
    folder = staging_dir(path, batch)
    for name, frame in (("sales", sales), ("sales_truth", truth)):
        if frame is not None:
            (folder / name).mkdir(parents=True, exist_ok=True)
            tmp = folder / name / f".{part}.parquet.tmp"
            frame.write_parquet(tmp)
            os.replace(tmp, folder / name / f"{part}.parquet")


def publish_sales(path: Path, batch: str, source: str, replace_real: bool = False) -> int:
    """Replace all sales (and truth) of the brands in a staged batch, in one publish.

    Args:
        replace_real: Also replace brands that hold ingested (real) sales; without it such
            a batch is refused and nothing changes.

    Returns:
        Sales rows written.

    Raises:
        WarehouseError: Nothing staged, or the batch would delete ingested sales.
    """
    folder = staging_dir(path, batch)
    files = {
        t: sorted(str(f) for f in (folder / t).glob("*.parquet")) for t in ("sales", "sales_truth")
    }
    if not files["sales"]:
        raise WarehouseError(f"{path}: sales batch {batch!r} has nothing staged")
    with publish(path) as con:
        con.read_parquet(files["sales"]).create_view("new_sales")
        brands = "SELECT DISTINCT brand FROM new_sales"
        if not replace_real:
            _refuse_real(con, path, brands, folder)
        con.execute(f"DELETE FROM sales WHERE brand IN ({brands})")
        con.execute(f"DELETE FROM sales_truth WHERE brand IN ({brands})")
        con.execute(
            "INSERT INTO sales BY NAME SELECT *, ? AS source, now() AS loaded_at FROM new_sales",
            [source],
        )
        if files["sales_truth"]:
            con.execute(
                "INSERT INTO sales_truth BY NAME SELECT * FROM read_parquet(?)",
                [files["sales_truth"]],
            )
        rows = int(_scalar(con, "SELECT count(*) FROM new_sales"))
    _drop_staged(folder)
    return rows


_REAL = "source NOT LIKE 'synthetic:%'"


def _refuse_real(con: duckdb.DuckDBPyConnection, path: Path, brands: str, batch: Path) -> None:
    found = con.execute(
        f"SELECT brand, count(*) FROM sales WHERE {_REAL} AND brand IN ({brands}) "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    if found:
        shutil.rmtree(batch, ignore_errors=True)
        raise WarehouseError(f"{path}: {real_sales_message(found)}")


def real_sales(path: Path, brands: list[str]) -> list[tuple[str, int]]:
    """``(brand, rows)`` of ingested (not synthetic) sales among ``brands``."""
    if not Path(path).exists():
        return []
    frame = query(
        path,
        f"SELECT brand, count(*) AS n FROM sales WHERE {_REAL} "
        "AND brand IN (SELECT unnest(?)) GROUP BY 1 ORDER BY 1",
        [brands],
    )
    return [(b, int(n)) for b, n in frame.iter_rows()]


def real_sales_message(found: list[tuple[str, int]]) -> str:
    """One line: which brands hold ingested sales that synthetic generation would delete."""
    held = ", ".join(f"{b} ({n:,} rows)" for b, n in found)
    return (
        f"generating would delete ingested sales of {held}; nothing was changed — pick other "
        "brands, another warehouse, or pass --replace-real to delete them"
    )


def replace_sales(path: Path, sales: pl.DataFrame, truth: pl.DataFrame | None, source: str) -> int:
    """Replace all sales (and truth) of the brands present in ``sales``; returns rows written."""
    batch = f"sales-{os.getpid()}-{time.time_ns()}"
    stage_sales(path, batch, "all", sales, truth)
    return publish_sales(path, batch, source, replace_real=True)


def upsert_sales(
    path: Path, accepted: pl.DataFrame, rejected: pl.DataFrame, source: str
) -> dict[str, int]:
    """Merge validated rows into ``sales`` and record refusals, in one atomic publish.

    A key already present with the same values is left alone, with different values it is
    replaced, and a new key is appended: re-ingesting a file changes nothing. The refusals
    of ``source`` replace its earlier ones.

    Returns:
        Counts: ``inserted``, ``updated``, ``unchanged``, ``rejected``.
    """
    keys = "i.brand = s.brand AND i.region = s.region AND i.product = s.product AND i.ds = s.ds"
    differs = (
        "(s.units IS DISTINCT FROM i.units OR s.price IS DISTINCT FROM i.price "
        "OR s.promo IS DISTINCT FROM i.promo)"
    )
    with publish(path) as con:
        con.register("incoming", accepted)
        updated = _scalar(
            con, f"SELECT count(*) FROM incoming i JOIN sales s ON {keys} WHERE {differs}"
        )
        unchanged = (
            _scalar(con, f"SELECT count(*) FROM incoming i JOIN sales s ON {keys}") - updated
        )
        con.execute(f"DELETE FROM sales s USING incoming i WHERE {keys} AND {differs}")
        con.execute(
            "INSERT INTO sales BY NAME SELECT i.*, ? AS source, now() AS loaded_at "
            f"FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM sales s WHERE {keys})",
            [source],
        )
        con.execute("DELETE FROM rejected_sales WHERE source = ?", [source])
        con.register("refused", rejected)
        con.execute(
            "INSERT INTO rejected_sales BY NAME "
            "SELECT *, ? AS source, now() AS rejected_at FROM refused",
            [source],
        )
    inserted = accepted.height - updated - unchanged
    return {
        "inserted": inserted,
        "updated": updated,
        "unchanged": unchanged,
        "rejected": rejected.height,
    }


def read_sales(path: Path, brands: list[str], as_of: date) -> pl.DataFrame:
    """Sales of the given brands up to and including the week of ``as_of``."""
    return query(
        path,
        "SELECT brand, region, product, ds, units FROM sales "
        "WHERE brand IN (SELECT unnest(?)) AND ds <= ? ORDER BY brand, region, product, ds",
        [brands, as_of],
    )


@dataclass(frozen=True)
class Attempt:
    """One attempt at a run key: results are staged under ``attempt_id`` until published.

    Attributes:
        run_id: The run key (same as-of, configs and options → same key).
        attempt_id: This attempt; a re-run of the key is a new attempt.
        abandoned: Attempts of dead processes this one found and marked ``abandoned``.
    """

    run_id: str
    attempt_id: str
    abandoned: int


class RunInProgress(WarehouseError):
    """Another live process is running the same run key."""


def open_run(path: Path, run: dict[str, Any]) -> Attempt:
    """Record a new attempt at ``run['run_id']`` as ``running``; nothing visible changes.

    The key's published results stay as they are until :func:`finish_run` swaps in this
    attempt's. Attempts left ``running`` by a dead process of this host are marked
    ``abandoned`` first and their staged results deleted.

    Raises:
        RunInProgress: When a live process is already running the same run key.
    """
    host, run_id = socket.gethostname(), run["run_id"]
    attempt_id = f"{run_id}.{uuid.uuid4().hex[:8]}"
    with publish(path) as con:
        dead = _abandon_dead(con, path, host)
        busy = con.execute(
            "SELECT pid, host, started_at FROM forecast_runs WHERE run_id = ? AND status = "
            "'running'",
            [run_id],
        ).fetchall()
        if busy:
            pid, where, since = busy[0]
            raise RunInProgress(
                f"{path}: run {run_id} is already running (pid {pid} on {where}, started "
                f"{since:%Y-%m-%d %H:%M:%S}); wait for it, or stop that process and retry"
            )
        row = {**run, "attempt_id": attempt_id, "status": "running", "host": host}
        con.register("new_run", pl.DataFrame([{**row, "pid": os.getpid()}]))
        con.execute("INSERT INTO forecast_runs BY NAME SELECT *, now() AS started_at FROM new_run")
    return Attempt(run_id, attempt_id, dead)


def _abandon_dead(con: duckdb.DuckDBPyConnection, path: Path, host: str) -> int:
    """Mark attempts of dead processes on this host ``abandoned``; drop their staged files."""
    stale = con.execute(
        "SELECT attempt_id, pid FROM forecast_runs WHERE status = 'running' AND host = ?", [host]
    ).fetchall()
    dead = [attempt for attempt, pid in stale if pid is None or not _alive(pid)]
    con.execute(
        "UPDATE forecast_runs SET status = 'abandoned', finished_at = now(), "
        "message = 'process died before the run finished' "
        "WHERE attempt_id IN (SELECT unnest(?))",
        [dead],
    )
    for attempt in dead:
        shutil.rmtree(staging_dir(path, attempt), ignore_errors=True)
    return len(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def staging_dir(path: Path, attempt_id: str) -> Path:
    """Where an attempt's per-brand results (or a sales batch) wait until published."""
    return Path(path).parent / f"{Path(path).stem}.staging" / attempt_id


def _drop_staged(folder: Path) -> None:
    """Delete a published batch's staged files, and the staging folder once it is empty."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()


def stage(path: Path, attempt_id: str, table: str, part: str, frame: pl.DataFrame) -> None:
    """Stage one part (a brand, or 'all') of a result table for the attempt's publish."""
    if table not in RESULT_TABLES:
        raise WarehouseError(f"unknown result table {table!r}; expected one of {RESULT_TABLES}")
    folder = staging_dir(path, attempt_id) / table
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{part}.parquet.tmp"
    frame.drop("run_id", strict=False).write_parquet(tmp)
    os.replace(tmp, folder / f"{part}.parquet")


def finish_run(path: Path, attempt_id: str, status: str, summary: dict[str, Any]) -> dict[str, int]:
    """End an attempt in one atomic publish; what readers see changes only here.

    A ``succeeded`` or ``partial`` attempt replaces every result of its run key with its
    staged results, and the key's earlier published attempt is dropped (a re-run replaces,
    never duplicates; failed and abandoned attempts stay as history). A ``failed`` attempt
    is recorded and leaves the key's published results as they were.

    Returns:
        Rows of the run key per result table after the publish.
    """
    staged = staging_dir(path, attempt_id)
    with publish(path) as con:
        run_id = _scalar(con, "SELECT run_id FROM forecast_runs WHERE attempt_id = ?", [attempt_id])
        if run_id is None:
            raise WarehouseError(f"{path}: no run attempt {attempt_id!r} to finish")
        if status in ("succeeded", "partial"):
            _swap_results(con, run_id, attempt_id, staged)
        written = {
            t: int(_scalar(con, f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id]))
            for t in RESULT_TABLES
        }
        con.execute(
            "UPDATE forecast_runs SET status = ?, finished_at = now(), "
            "duration_s = epoch(now() - started_at), n_series = ?, n_rows = ?, message = ? "
            "WHERE attempt_id = ?",
            [
                status,
                summary.get("n_series"),
                written["forecasts"] if status != "failed" else 0,
                summary.get("message"),
                attempt_id,
            ],
        )
    _drop_staged(staged)
    return written


def _swap_results(
    con: duckdb.DuckDBPyConnection, run_id: str, attempt_id: str, staged: Path
) -> None:
    """Replace the run key's results and earlier published attempt by this attempt's."""
    for table in RESULT_TABLES:
        con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        files = sorted(str(f) for f in (staged / table).glob("*.parquet"))
        if files:
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT *, ? AS run_id "
                "FROM read_parquet(?, union_by_name=true)",
                [run_id, files],
            )
    con.execute(  # failed and abandoned attempts stay as history
        "DELETE FROM forecast_runs WHERE run_id = ? AND attempt_id IS DISTINCT FROM ? "
        "AND status IN ('succeeded', 'partial')",
        [run_id, attempt_id],
    )


def recent_runs(path: Path, limit: int = 10) -> pl.DataFrame:
    """The most recent runs, newest first."""
    return query(
        path,
        "SELECT run_id, as_of, status, started_at, round(duration_s, 1) AS seconds, "
        "len(brands) AS brands, n_series, n_rows, message "
        "FROM forecast_runs ORDER BY started_at DESC LIMIT ?",
        [limit],
    )


def as_of_default(path: Path) -> date:
    """The latest week with sales: the natural as-of date of a run."""
    frame = query(path, "SELECT max(ds) AS ds FROM sales")
    value = frame["ds"][0]
    if value is None:
        raise WarehouseError(f"{path}: table sales is empty — generate or ingest sales first")
    return value if isinstance(value, date) else datetime.fromisoformat(str(value)).date()
