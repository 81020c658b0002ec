"""Where a run's brand tasks execute: this process (threads, worker processes) or a Dask cluster.

Locally, tasks run on the flow's own thread pool and fit in ``n_jobs`` worker processes
(:mod:`forecast.engine.workers`). With a cluster address they run on its Dask workers
through Prefect's Dask task runner (``prefect-dask``); the tasks take their brand's data as
arguments and return results, so workers never open the warehouse and the flow stays the
one writer. Either way at most a few brands are in flight at once: the flow holds the data
of those only, so its memory follows the largest brands, not the whole group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import TaskRunner
from prefect.tasks import Task

from forecast.engine.workers import worker_count

K = TypeVar("K")
R = TypeVar("R")


@contextmanager
def task_runner(cluster: str | None) -> Iterator[TaskRunner[Any]]:
    """The runner of the block's brand tasks: a Dask cluster's, else the flow's own."""
    if cluster is None:
        context = FlowRunContext.get()
        assert context is not None, "brand tasks are submitted from a flow run"
        yield context.task_runner
        return
    from prefect_dask import DaskTaskRunner  # an extra; RunRequest.resolve checked it is there

    with DaskTaskRunner(address=cluster) as dask:
        yield dask


def parallelism(runner: TaskRunner[Any], n_jobs: int) -> int:
    """How many brands compute at once: the cluster's worker threads, else the local workers."""
    client = getattr(runner, "client", None)
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return worker_count(n_jobs)


def submit(runner: TaskRunner[Any], task: Task[..., R], **parameters: Any) -> PrefectFuture[R]:
    """``task(**parameters)`` on ``runner`` (every parameter named)."""
    return runner.submit(task, parameters)


def bounded(
    jobs: Iterable[tuple[K, Callable[[], PrefectFuture[R] | None]]], limit: int
) -> Iterator[tuple[K, PrefectFuture[R]]]:
    """Start each ``(key, start)`` job, at most ``limit`` unfinished at a time; yield
    ``(key, future)`` as each finishes. A job's inputs are made by ``start`` only when a
    slot is free, so no more than ``limit`` brands' data are held at once; a ``start``
    that returns None started nothing (it dealt with its job itself)."""
    running: dict[PrefectFuture[R], K] = {}
    for key, start in jobs:
        if len(running) >= limit:
            done = next(as_completed(list(running)))
            yield running.pop(done), done
        if (future := start()) is not None:
            running[future] = key
    for done in as_completed(list(running)):
        yield running.pop(done), done
