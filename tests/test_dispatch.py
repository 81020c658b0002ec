"""Brand tasks in flight: at most a few at a time, each started only when a slot is free."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.flow


def test_bounded_holds_at_most_limit_jobs_and_skips_those_that_start_nothing(
    prefect_harness: None,
) -> None:
    from prefect import flow, task

    from flows.dispatch import bounded, parallelism, submit, task_runner

    @task
    def nap(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    @flow
    def waves() -> tuple[list[str], int, list[int]]:
        in_flight: list[int] = []
        running: set[str] = set()
        with task_runner(None) as runner:

            def start(name: str, seconds: float | None):  # type: ignore[no-untyped-def]
                if seconds is None:
                    return None  # dealt with here: nothing started
                running.add(name)
                in_flight.append(len(running))
                return submit(runner, nap, seconds=seconds)

            jobs = {"a": 0.3, "b": None, "c": 0.1, "d": 0.2, "e": 0.1}
            done = []
            for name, future in bounded(
                ((n, lambda n=n, s=s: start(n, s)) for n, s in jobs.items()), 2
            ):
                assert future.result() == jobs[name]
                running.discard(name)
                done.append(name)
            return done, parallelism(runner, 1), in_flight

    done, slots, in_flight = waves()
    assert sorted(done) == ["a", "c", "d", "e"]  # b started nothing and is not yielded
    assert max(in_flight) <= 2 and slots == 1
