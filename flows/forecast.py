"""Prefect flow ``forecast``: config → sales → priors → fits → forecasts → metrics → warehouse."""

from __future__ import annotations

import base64
import json
import tempfile
import time
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.brands import BrandPhases, RunData, SeriesStore, local_workers
from flows.dispatch import submit, task_runner
from flows.planning import plan_after_run
from forecast import warehouse
from forecast.engine.backtest import run_cutoffs
from forecast.engine.pooling import Priors, pool_priors
from forecast.engine.priors import OwnEstimates
from forecast.engine.runs import (
    BrandOutcome,
    RunSummary,
    level_base_rows,
    run_brand_rows,
    run_status,
    series_weight_rows,
)
from forecast.engine.tables import prior_rows, weight_rows
from forecast.inputs.calendar import run_calendars
from forecast.inputs.config import BrandConfig
from forecast.report import plot_sector_profiles, run_summary_markdown
from forecast.request import RunRequest, Workspace
from forecast.vocabulary import BRAND_FREQUENCIES, HOLIDAYS_FROM, SECTORS, BrandFrequency, Pooling

_PACKAGES = ("maison-forecast", "statsforecast", "polars", "duckdb", "prefect", "numpy")


@task(name="pool-priors", cache_policy=NO_CACHE)
def pool_task(
    estimates: list[OwnEstimates],
    pools: dict[str, str | None],
    pooling: Pooling,
    frequency: BrandFrequency,
) -> Priors:
    """Pool every brand's estimates into sectors and the group; shrink each brand."""
    return pool_priors(estimates, pools, list(SECTORS), pooling, frequency)


@task(name="plot-priors", cache_policy=NO_CACHE)
def plot_task(
    db: Path, run_id: str, priors: pl.DataFrame, weights: pl.DataFrame, frequency: BrandFrequency
) -> list[Path]:
    """One PNG per sector (brand profiles vs the pool), on disk and as a Prefect artifact;
    monthly pools are named ``<sector>-monthly``."""
    folder = Path(db).parent / "plots" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    suffix, position = ("", "week") if frequency == "weekly" else ("-monthly", "month")
    paths = []
    for pool in sorted(priors.filter(pl.col("level") == "sector")["pool"].unique()):
        png = plot_sector_profiles(priors, weights, pool, position)
        name = f"{pool}{suffix}"
        path = folder / f"{name}.png"
        path.write_bytes(png)
        paths.append(path)
        # Embedded in markdown: the UI draws it without printing a 100 kB data URL.
        image = "data:image/png;base64," + base64.b64encode(png).decode()
        create_markdown_artifact(
            f"# {name}: season profiles\n\n![{name} profiles]({image})\n\nFile: `{path}`",
            key=f"priors-{name.replace('_', '-')}",
            description=f"{name}: brand season profiles vs the pooled profile",
        )
    return paths


@task(name="open-run", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def open_run_task(db: Path, run: dict[str, Any]) -> warehouse.Attempt:
    return warehouse.open_run(db, run)


@task(name="publish-run", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def finish_run_task(
    db: Path, attempt_id: str, status: str, summary: dict[str, Any]
) -> dict[str, int]:
    return warehouse.finish_run(db, attempt_id, status, summary)


@flow(name="forecast", log_prints=True)
def forecast_flow(
    as_of: date | None = None,
    brands: list[str] | None = None,
    pooling: Pooling = "partial",
    n_jobs: int = -1,
    cluster: str | None = None,
    warehouse_path: str | None = None,
    config_dir: str | None = None,
) -> RunSummary:
    """Forecast every brand (or the listed ones) from ``as_of`` and publish the run.

    Parameters are those of ``RunRequest.resolve``: ``as_of`` (default the last sales week,
    snapped to its Monday), ``brands`` (default all), ``pooling`` (``partial``, or the
    extremes ``none`` / ``full``), ``n_jobs`` (worker processes the brands are fitted in,
    ``-1``: every core), ``cluster`` (a Dask scheduler address whose workers fit the
    brands; default ``FORECAST_CLUSTER``, else this machine), and the warehouse and config
    folder (default ``FORECAST_WAREHOUSE`` / ``FORECAST_CONFIG_DIR``).
    """
    request = RunRequest.resolve(
        Workspace.load(warehouse_path, config_dir), as_of, brands, pooling, n_jobs, cluster
    )
    db, started = request.workspace.warehouse, time.perf_counter()
    attempt = open_run_task(db, _run_record(request))
    if attempt.abandoned:
        print(f"marked {attempt.abandoned} run(s) abandoned: their process died mid-run")
    try:
        outcomes = _forecast_brands(request, attempt.attempt_id)
    except Exception as exc:
        finish_run_task(
            db, attempt.attempt_id, "failed", {"message": f"{type(exc).__name__}: {exc}"}
        )
        raise
    status, message = run_status(outcomes)
    n_series = sum(o.n_series or 0 for o in outcomes)
    written = finish_run_task(
        db, attempt.attempt_id, status, {"n_series": n_series, "message": message}
    )
    summary = RunSummary.of(
        request.run_id, request.as_of, outcomes, written, time.perf_counter() - started
    )
    create_markdown_artifact(run_summary_markdown(summary, outcomes), key="forecast-run-summary")
    print(summary.to_json())
    plan_after_run(request, summary, level_base_rows(outcomes))
    return summary


def _run_record(request: RunRequest) -> dict[str, Any]:
    """The ``forecast_runs`` row of a starting run: its key, options and lineage."""
    options = {k: request.parameters()[k] for k in ("brands", "pooling", "n_jobs", "cluster")}
    return {
        "run_id": request.run_id,
        "flow_run_id": str(flow_run.get_id() or ""),
        "as_of": request.as_of,
        "brands": list(request.brands),
        "config_hash": request.config_hash,
        "parameters": json.dumps(options),
        "package_versions": json.dumps({p: metadata.version(p) for p in _PACKAGES}),
    }


def _forecast_brands(request: RunRequest, attempt_id: str) -> list[BrandOutcome]:
    """Per frequency: estimate → pool per origin → fit per brand; stage priors, weights and
    brand rows. Weekly and monthly brands share the run but never a pool."""
    db, configs = request.workspace.warehouse, request.brands
    # From the brands' first sales (the holiday rules hold from 1950 on) past every horizon.
    sold = [d for b, d in warehouse.first_sales(db).items() if b in configs]
    first = max(min(sold).year if sold else request.as_of.year, HOLIDAYS_FROM)
    holidays = run_calendars(
        request.workspace.markets, configs.values(), first, request.as_of.year + 3
    )
    events, master = warehouse.read_events(db, list(configs)), warehouse.read_products(db)
    outcomes, priors, weights = [], [], []
    for frequency in BRAND_FREQUENCIES:
        group = {b: c for b, c in configs.items() if c.frequency == frequency}
        if not group:
            continue
        shared = RunData(holidays[frequency], events, master)
        done, tables = _forecast_group(request, attempt_id, group, shared)
        outcomes += done
        priors.append(tables[0])
        weights.append(tables[1])
        plot_task(db, request.run_id, tables[0], tables[1], frequency)
    warehouse.stage(db, attempt_id, "priors", "all", pl.concat(priors, how="diagonal_relaxed"))
    warehouse.stage(
        db, attempt_id, "prior_weights", "all", pl.concat(weights, how="diagonal_relaxed")
    )
    warehouse.stage(db, attempt_id, "run_brands", "all", run_brand_rows(outcomes))
    return outcomes


def _forecast_group(
    request: RunRequest, attempt_id: str, configs: dict[str, BrandConfig], shared: RunData
) -> tuple[list[BrandOutcome], tuple[pl.DataFrame, pl.DataFrame]]:
    """Brands of one frequency: their outcomes, and their ``priors`` / ``prior_weights`` rows."""
    frequency = next(iter(configs.values())).frequency
    cutoffs = run_cutoffs(request.as_of, configs.values())
    last = cutoffs[-1]
    with (
        task_runner(request.cluster) as runner,
        local_workers(request) as pool,
        tempfile.TemporaryDirectory(prefix="forecast-series-") as scratch,
    ):
        brands = BrandPhases(request, runner, pool, shared, frequency, SeriesStore(Path(scratch)))
        own = brands.estimate(configs, cutoffs)
        pools = {b: c.pool for b, c in configs.items()}
        futures = {
            c: submit(
                runner,
                pool_task,
                estimates=[own[b][c] for b in configs],
                pools=pools,
                pooling=request.pooling,
                frequency=frequency,
            )
            for c in cutoffs
        }
        pooled = {c: f.result() for c, f in futures.items()}
        # Largest brands first, so that no worker waits alone for a big brand at the end.
        size = {b: own[b][last].stats["n_series"].sum() for b in configs}
        order = sorted(configs, key=lambda b: -size[b])
        done = brands.forecast({b: configs[b] for b in order}, pooled, attempt_id)
    outcomes = [done[b] for b in configs]
    stats = pl.concat([own[b][last].stats for b in configs])
    sectors = {b: c.sector for b, c in configs.items()}
    series = series_weight_rows(outcomes)
    return outcomes, (
        prior_rows(pooled[last], frequency),
        weight_rows(pooled[last], stats, series, sectors, frequency),
    )
