"""The run lifecycle: attempts opened, results staged beside the published ones, swapped in.

Per-brand results of an attempt are staged as Parquet next to the warehouse and merged in
the attempt's final publish, so a running, failed or killed attempt is never visible, and a
re-run of a published run key replaces it only when it succeeds.
"""

import os
import shutil
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from forecast.engine.workers import alive
from forecast.warehouse.store import WarehouseError, drop_staged, scalar, publish, staging_dir

RESULT_TABLES = (
    "run_brands",
    "forecasts",
    "backtest_metrics",
    "priors",
    "prior_weights",
    "gap_weeks",
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
    dead = [attempt for attempt, pid in stale if pid is None or not alive(pid)]
    con.execute(
        "UPDATE forecast_runs SET status = 'abandoned', finished_at = now(), "
        "message = 'process died before the run finished' "
        "WHERE attempt_id IN (SELECT unnest(?))",
        [dead],
    )
    for attempt in dead:
        shutil.rmtree(staging_dir(path, attempt), ignore_errors=True)
    return len(dead)


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
        run_id = scalar(con, "SELECT run_id FROM forecast_runs WHERE attempt_id = ?", [attempt_id])
        if run_id is None:
            raise WarehouseError(f"{path}: no run attempt {attempt_id!r} to finish")
        if status in ("succeeded", "partial"):
            _swap_results(con, run_id, attempt_id, staged)
        written = {
            t: int(scalar(con, f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id]))
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
    drop_staged(staged)
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
