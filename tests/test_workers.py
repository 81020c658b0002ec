"""Worker processes: brand computations leave the run's process and come back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from forecast.engine.workers import alive, compute, worker_count, worker_pool


def _pid_and_threads(frame: pl.DataFrame) -> tuple[int, str | None, pl.DataFrame]:
    return os.getpid(), os.environ.get("POLARS_MAX_THREADS"), frame.with_columns(y=pl.col("x") * 2)


def test_a_pool_computes_in_other_processes_with_one_thread_each() -> None:
    frame = pl.DataFrame({"x": [1.0, 2.0, 3.0]})
    with worker_pool(2) as pool:
        assert pool is not None
        pid, threads, out = compute(pool, _pid_and_threads, frame)
    assert pid != os.getpid()
    assert threads == "1"  # one polars thread per worker: the workers fill the cores
    assert "POLARS_MAX_THREADS" not in os.environ or os.environ["POLARS_MAX_THREADS"] != "1"
    assert_frame_equal(out, frame.with_columns(y=pl.Series([2.0, 4.0, 6.0])))


def test_one_job_computes_in_process() -> None:
    with worker_pool(1) as pool:
        assert pool is None
        pid, _, _ = compute(pool, _pid_and_threads, pl.DataFrame({"x": [1.0]}))
    assert pid == os.getpid()
    assert worker_count(-1) == os.cpu_count()


def test_an_error_in_a_worker_reaches_the_caller() -> None:
    with worker_pool(2) as pool:
        try:
            compute(pool, _pid_and_threads, pl.DataFrame({"z": [1.0]}))
        except pl.exceptions.ColumnNotFoundError as exc:
            assert "x" in str(exc)
        else:
            raise AssertionError("the worker's error was lost")


_KILLED_PARENT = """
import os, sys, time
from forecast.engine.workers import compute, worker_pool
with worker_pool(2) as pool:
    pids = {compute(pool, os.getpid) for _ in range(8)}
    print(" ".join(map(str, sorted(pids))), flush=True)
    time.sleep(600)
"""


def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PARENT], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert workers and all(alive(p) for p in workers)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in workers)
