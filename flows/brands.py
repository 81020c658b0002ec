"""The per-brand half of the ``forecast`` flow: a brand's data, its tasks, its two phases.

Phase 1 estimates each brand's own season and event effects at every origin; phase 2
backtests, chooses and fits it. Both tasks take the brand's data as arguments and return
results (they run in this process, in worker processes or on a Dask cluster, see
:mod:`flows.dispatch`); the flow reads each brand just before its task starts and stages
its results as it ends. What phase 1 measured of a brand's series waits on disk for its
phase 2 (:class:`SeriesStore`).
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner

from flows.dispatch import bounded, parallelism, submit
from flows.progress import Progress
from forecast import warehouse
from forecast.engine.backtest import brand_origins
from forecast.engine.events import calendar_of
from forecast.engine.pipeline import BrandResult, estimate_brand, run_brand, series_profiles
from forecast.engine.pooling import Priors
from forecast.engine.priors import OwnEstimates, SeriesProfiles
from forecast.engine.runs import BrandOutcome, skip_reason
from forecast.engine.workers import compute, worker_pool
from forecast.inputs.config import BrandConfig
from forecast.planning.products import known_products
from forecast.request import RunRequest
from forecast.vocabulary import Pooling


@dataclass(frozen=True)
class RunData:
    """What a run reads once for all its brands of one frequency."""

    holidays: pl.DataFrame
    events: pl.DataFrame
    master: pl.DataFrame

    def read(self, db: Path, brand: str, as_of: date) -> BrandData:
        """The brand's sales up to ``as_of``; its rows of the run's events and master."""
        mine = pl.col("brand") == brand
        sales = warehouse.read_sales(db, [brand], as_of)
        return BrandData(sales, self.holidays, self.events.filter(mine), self.master.filter(mine))


@dataclass(frozen=True)
class BrandData:
    """What a brand's tasks need, as data (a cluster worker never opens the warehouse)."""

    sales: pl.DataFrame
    holidays: pl.DataFrame
    events: pl.DataFrame
    master: pl.DataFrame

    @property
    def context(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The brand's data besides its sales, for the run's lineage (``data_hash``)."""
        return self.events, self.master

    def calendar(self, brand: BrandConfig) -> pl.DataFrame:
        """The brand's holidays and own events per series (its master places categories)."""
        products = known_products(self.sales.select("brand", "product").unique(), self.master)
        return calendar_of(self.sales, self.holidays, self.events, brand.frequency, products)


@task(name="estimate-brand", cache_policy=NO_CACHE)
def estimate_task(
    brand: BrandConfig, data: BrandData, cutoffs: list[date], pool: Executor | None
) -> dict[date, OwnEstimates]:
    """Phase 1 for one brand: its own profile and event estimates per origin."""
    return compute(pool, estimate_brand, brand, data.sales, cutoffs, data.calendar(brand))


@task(name="forecast-brand", cache_policy=NO_CACHE)
def forecast_task(
    brand: BrandConfig,
    data: BrandData,
    as_of: date,
    priors: dict[date, Priors],
    pooling: Pooling,
    pool: Executor | None,
    known: dict[date, SeriesProfiles],
) -> tuple[BrandResult, float]:
    """Phase 2 for one brand: backtest, choose and fit; the result and its seconds."""
    started = time.perf_counter()
    args = (brand, data.sales, as_of, priors, data.calendar(brand), pooling)
    fit = partial(run_brand, known=known)
    return compute(pool, fit, *args), time.perf_counter() - started


_SERIES_PARTS = ("profiles", "adjust")


@dataclass(frozen=True)
class SeriesStore:
    """Each brand's series profiles from phase 1 (``OwnEstimates.series``, per origin), on
    disk until its phase 2 takes them. Held by the flow they would grow with the group;
    on disk, memory grows with the brands in flight only."""

    root: Path

    def put(self, brand: str, own: dict[date, OwnEstimates]) -> dict[date, OwnEstimates]:
        """Write the series profiles of ``own``; the estimates without them."""
        known = series_profiles(own)
        for part in _SERIES_PARTS:
            frames = [getattr(p, part).with_columns(cutoff=pl.lit(c)) for c, p in known.items()]
            if frames:
                pl.concat(frames).write_parquet(self._path(brand, part))
        return {c: e.lent() for c, e in own.items()}

    def take(self, brand: str) -> dict[date, SeriesProfiles]:
        """The brand's series profiles per origin, removed from disk (none: ``{}``)."""
        paths = [self._path(brand, part) for part in _SERIES_PARTS]
        if not all(p.exists() for p in paths):
            return {}
        profiles, adjust = (pl.read_parquet(p) for p in paths)
        for p in paths:
            p.unlink()
        return {
            c: SeriesProfiles(
                profiles.filter(pl.col("cutoff") == c).drop("cutoff"),
                adjust.filter(pl.col("cutoff") == c).drop("cutoff"),
            )
            for c in profiles["cutoff"].unique().sort()
        }

    def _path(self, brand: str, part: str) -> Path:
        return self.root / f"{brand}.{part}.parquet"


def local_workers(request: RunRequest) -> AbstractContextManager[Executor | None]:
    """The run's local worker processes; none on a cluster (its workers do the fitting)."""
    return nullcontext(None) if request.cluster else worker_pool(request.n_jobs)


@dataclass(frozen=True)
class BrandPhases:
    """The two per-brand phases of one frequency, at most a few brands in flight."""

    request: RunRequest
    runner: TaskRunner[Any]
    pool: Executor | None
    shared: RunData
    label: str
    store: SeriesStore

    @property
    def slots(self) -> int:
        """One brand more than compute slots: the next brand is read while the others fit."""
        return parallelism(self.runner, self.request.n_jobs) + 1

    def read(self, brand: str, as_of: date) -> BrandData:
        return self.shared.read(self.request.workspace.warehouse, brand, as_of)

    def estimate(
        self, configs: dict[str, BrandConfig], cutoffs: list[date]
    ) -> dict[str, dict[date, OwnEstimates]]:
        """Phase 1: every brand's own estimates at every origin (data up to the last)."""

        def start(b: str) -> PrefectFuture[dict[date, OwnEstimates]]:
            data = self.read(b, cutoffs[-1])
            return submit(
                self.runner,
                estimate_task,
                brand=configs[b],
                data=data,
                cutoffs=cutoffs,
                pool=self.pool,
            )

        progress = Progress(f"{self.label}: own estimates", len(configs))
        own = {}
        for b, future in bounded(((b, partial(start, b)) for b in configs), self.slots):
            own[b] = self.store.put(b, future.result())
            progress.advance(b, "estimated")
        return own

    def forecast(
        self, configs: dict[str, BrandConfig], priors: dict[date, Priors], attempt_id: str
    ) -> dict[str, BrandOutcome]:
        """Phase 2: backtest, choose and fit every brand; stage each result as it ends."""
        as_of, db = self.request.as_of, self.request.workspace.warehouse
        progress = Progress(f"{self.label}: backtests and fits", len(configs), "forecast-progress")
        held: dict[str, tuple[BrandData, float]] = {}
        out = {}

        def start(b: str) -> PrefectFuture[tuple[BrandResult, float]] | None:
            started = time.perf_counter()
            try:
                held[b] = (self.read(b, as_of), started)
            except Exception as exc:  # one brand's failed read must not stop the others
                get_run_logger().exception("brand %s: reading its data failed", b)
                out[b] = BrandOutcome.failed(configs[b], exc, None, time.perf_counter() - started)
                progress.advance(b, "failed")
                return None
            mine = {c: priors[c] for c in brand_origins(as_of, configs[b])}
            return submit(
                self.runner,
                forecast_task,
                brand=configs[b],
                data=held[b][0],
                as_of=as_of,
                priors=mine,
                pooling=self.request.pooling,
                pool=self.pool,
                known=self.store.take(b),
            )

        skipped = {b: why for b, c in configs.items() if (why := skip_reason(c, as_of))}
        for b, why in skipped.items():
            out[b] = BrandOutcome.start(configs[b], "skipped", error=why)
            progress.advance(b, "skipped")
        jobs = ((b, partial(start, b)) for b in configs if b not in skipped)
        for b, future in bounded(jobs, self.slots):
            data, started = held.pop(b)
            out[b] = _staged(db, attempt_id, configs[b], data, future, started)
            progress.advance(b, out[b].status)
        return out


def _staged(
    db: Path,
    attempt_id: str,
    brand: BrandConfig,
    data: BrandData,
    future: PrefectFuture[tuple[BrandResult, float]],
    started: float,
) -> BrandOutcome:
    """Stage a finished brand's results; its outcome (``failed`` with the error if it
    raised: one brand failing must not stop the others)."""
    try:
        result, seconds = future.result()
        fc = result.forecasts.with_columns(sector=pl.lit(brand.sector))
        warehouse.stage(db, attempt_id, "forecasts", brand.brand, fc)
        warehouse.stage(db, attempt_id, "backtest_metrics", brand.brand, result.metrics)
        warehouse.stage(db, attempt_id, "gap_weeks", brand.brand, result.gaps)
        return BrandOutcome.succeeded(brand, data.sales, result, seconds, data.context)
    except Exception as exc:
        get_run_logger().exception("brand %s failed", brand.brand)
        seconds = time.perf_counter() - started
        return BrandOutcome.failed(brand, exc, data.sales, seconds, data.context)
