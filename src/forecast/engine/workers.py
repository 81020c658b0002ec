"""Worker processes for a run's brand computations, so that a run uses every core.

Brands are fitted in separate processes (spawned, not forked: the parent holds threads
of Prefect, polars and DuckDB), each fitting with statsforecast ``n_jobs=1`` and one polars
thread, so ``n`` workers keep ``n`` cores busy without oversubscribing them. Workers get
their brand's data as arguments and return results: they never open the warehouse. As
with any spawned process, a script that runs a flow must guard its entry point
(``if __name__ == "__main__":``): each worker imports the caller's main module.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1
# One thread per worker for polars and BLAS: the workers themselves fill the cores.
_WORKER_ENV = {"POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def physical_memory() -> int | None:
    """Bytes of memory of this machine (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def worker_count(n_jobs: int) -> int:
    """Processes for ``n_jobs``: ``-1`` means every core of this machine."""
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


@contextmanager
def worker_pool(n_jobs: int) -> Iterator[Executor | None]:
    """A pool of ``worker_count(n_jobs)`` processes for the block; None for one (in-process).

    Workers are killed with their parent (Linux), so none outlives a killed run.
    """
    n = worker_count(n_jobs)
    if n <= 1:
        yield None
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(n, context, initializer=_start_worker, initargs=(os.getpid(),))
    with pool:
        _start(pool, n)
        yield pool


def _start(pool: Executor, n: int) -> None:
    """Start the ``n`` workers now, with ``_WORKER_ENV``: a spawned worker re-imports the
    parent's main module (polars with it) before any initializer could set the limits."""
    saved = {k: os.environ.get(k) for k in _WORKER_ENV}
    os.environ.update(_WORKER_ENV)
    try:
        started = [pool.submit(os.getpid) for _ in range(n)]  # one process per submit
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    for future in started:
        future.result()


def compute(pool: Executor | None, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker of ``pool`` (in this process without one); waits for it."""
    if pool is None:
        return fn(*args)
    return pool.submit(fn, *args).result()


def _start_worker(parent: int) -> None:
    die_with_parent()
    # A parent killed while this worker was still starting sent no signal: leave now.
    if os.getppid() != parent:
        os._exit(1)


def alive(pid: int) -> bool:
    """True while process ``pid`` runs; a zombie (exited, not yet reaped) is gone.

    Reads ``/proc/<pid>/stat`` on Linux, else asks with signal 0 (a zombie then counts).
    """
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
