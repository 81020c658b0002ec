"""Prefect flow ``forecast``: config → sales → priors → fits → forecasts → metrics → warehouse."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import warnings
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from forecast import warehouse
from forecast.engine.backtest import origins
from forecast.engine.pipeline import estimate_brand, run_brand
from forecast.engine.pooling import Pooling, Priors, pool_priors
from forecast.engine.priors import OwnEstimates
from forecast.engine.tables import prior_rows, run_brand_rows, weight_rows
from forecast.inputs.calendar import event_calendar, monday_on_or_before
from forecast.inputs.config import SECTORS, BrandConfig, load_brands
from forecast.report import plot_sector_profiles, run_summary_markdown
from forecast.settings import Settings

# Theta on a few weeks of history says so once per series; the fit is still used.
warnings.filterwarnings("ignore", message="Too few residuals after burn-in", category=UserWarning)

_PACKAGES = ("maison-forecast", "statsforecast", "polars", "duckdb", "prefect", "numpy")


def run_key(as_of: date, brands: dict[str, BrandConfig], pooling: str) -> tuple[str, str]:
    """``(run_id, config_hash)``: same as-of, configs and options → same run id (replaced)."""
    payload = json.dumps(
        {"brands": {b: c.config_hash for b, c in brands.items()}, "pooling": pooling}
    )
    config_hash = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return f"{as_of:%Y-%m-%d}-{config_hash[:8]}", config_hash


def _versions() -> dict[str, str]:
    return {p: metadata.version(p) for p in _PACKAGES}


@task(name="estimate-brand", cache_policy=NO_CACHE)
def estimate_task(
    db: Path, brand: BrandConfig, cutoffs: list[date], calendar: pl.DataFrame
) -> dict[date, OwnEstimates]:
    """Phase 1 for one brand: read its sales once, estimate its own profile per origin."""
    sales = warehouse.read_sales(db, [brand.brand], max(cutoffs))
    return estimate_brand(brand, sales, cutoffs, calendar)


@task(name="pool-priors", cache_policy=NO_CACHE)
def pool_task(
    estimates: list[OwnEstimates], pools: dict[str, str | None], pooling: Pooling
) -> Priors:
    """Pool every brand's estimates into sectors and the group; shrink each brand."""
    return pool_priors(estimates, pools, list(SECTORS), pooling)


@task(name="forecast-brand", cache_policy=NO_CACHE)
def forecast_task(
    db: Path,
    attempt_id: str,
    brand: BrandConfig,
    as_of: date,
    priors: dict[date, Priors],
    calendar: pl.DataFrame,
    pooling: Pooling,
    n_jobs: int,
) -> dict[str, Any]:
    """Phase 2 for one brand: read, backtest, fit, stage results; never raises."""
    started = time.perf_counter()
    row: dict[str, Any] = {
        "brand": brand.brand,
        "sector": brand.sector,
        "config_hash": brand.config_hash,
        "seconds": 0.0,
    }
    if brand.launch_date > as_of:  # replaying a week before the brand existed
        return {**row, "status": "skipped", "error": f"launches {brand.launch_date}, after {as_of}"}
    try:
        sales = warehouse.read_sales(db, [brand.brand], as_of)
        row.update(_watermark(sales))
        mine = {c: priors[c] for c in origins(as_of, brand.horizon, brand.model.backtest_windows)}
        result = run_brand(brand, sales, as_of, mine, calendar, pooling, n_jobs)
        warehouse.stage(
            db,
            attempt_id,
            "forecasts",
            brand.brand,
            result.forecasts.with_columns(sector=pl.lit(brand.sector)),
        )
        warehouse.stage(db, attempt_id, "backtest_metrics", brand.brand, result.metrics)
        row.update(result.summary, status="succeeded", series_weights=result.series_weights)
    except Exception as exc:  # one brand failing must not stop the others
        get_run_logger().exception("brand %s failed", brand.brand)
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    row["seconds"] = round(time.perf_counter() - started, 3)
    return row


def _watermark(sales: pl.DataFrame) -> dict[str, Any]:
    """Lineage of the data a brand was fitted on: rows, last week, content hash."""
    digest = sales.hash_rows(seed=0).sum() if sales.height else 0
    return {
        "data_rows": sales.height,
        "data_max_ds": sales["ds"].max() if sales.height else None,
        "data_hash": f"{int(digest) % (1 << 64):016x}",
    }


@task(name="plot-priors", cache_policy=NO_CACHE)
def plot_task(db: Path, run_id: str, priors: pl.DataFrame, weights: pl.DataFrame) -> list[Path]:
    """One PNG per sector (brand profiles vs the pool), on disk and as a Prefect artifact."""
    folder = Path(db).parent / "plots" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for pool in sorted(priors.filter(pl.col("level") == "sector")["pool"].unique()):
        png = plot_sector_profiles(priors, weights, pool)
        path = folder / f"{pool}.png"
        path.write_bytes(png)
        paths.append(path)
        # Embedded in markdown: the UI draws it without printing a 100 kB data URL.
        image = "data:image/png;base64," + base64.b64encode(png).decode()
        create_markdown_artifact(
            f"# {pool}: season profiles\n\n![{pool} profiles]({image})\n\nFile: `{path}`",
            key=f"priors-{pool.replace('_', '-')}",
            description=f"{pool}: brand season profiles vs the pooled profile",
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
    n_jobs: int = 1,
    warehouse_path: str | None = None,
    config_dir: str | None = None,
) -> dict[str, Any]:
    """Forecast every brand (or the listed ones) from ``as_of`` and publish the run.

    Args:
        as_of: Forecast origin; only sales up to its week (Monday) are used. Default: the
            last week with sales.
        brands: Brand ids to run; default all brands in the config folder.
        pooling: ``partial`` (default), or ``none`` / ``full`` to run the extremes.
        n_jobs: statsforecast worker processes inside each brand task.
        warehouse_path: DuckDB file (default ``FORECAST_WAREHOUSE``).
        config_dir: Brand configs (default ``FORECAST_CONFIG_DIR``).
    """
    settings = Settings()
    db = Path(warehouse_path or settings.warehouse)
    configs = _select(load_brands(Path(config_dir or settings.config_dir)), brands)
    as_of = monday_on_or_before(as_of or warehouse.as_of_default(db))  # weeks start on Monday
    run_id, config_hash = run_key(as_of, configs, pooling)
    started = time.perf_counter()
    attempt = open_run_task(
        db,
        {
            "run_id": run_id,
            "flow_run_id": str(flow_run.get_id() or ""),
            "as_of": as_of,
            "brands": list(configs),
            "config_hash": config_hash,
            "parameters": json.dumps({"brands": brands, "pooling": pooling, "n_jobs": n_jobs}),
            "package_versions": json.dumps(_versions()),
        },
    )
    if attempt.abandoned:
        print(f"marked {attempt.abandoned} run(s) abandoned: their process died mid-run")
    try:
        rows = _forecast_brands(db, attempt, configs, as_of, pooling, n_jobs)
    except Exception as exc:
        finish_run_task(
            db, attempt.attempt_id, "failed", {"message": f"{type(exc).__name__}: {exc}"}
        )
        raise
    failed = [r["brand"] for r in rows if r["status"] == "failed"]
    ran = [r for r in rows if r["status"] != "skipped"]
    status = "failed" if len(failed) == len(ran) else "partial" if failed else "succeeded"
    n_series = sum(r.get("n_series", 0) for r in rows)
    message = f"failed brands: {', '.join(failed)}" if failed else None
    written = finish_run_task(
        db, attempt.attempt_id, status, {"n_series": n_series, "message": message}
    )
    summary = {
        "run_id": run_id,
        "as_of": str(as_of),
        "status": status,
        "brands": len(rows),
        "failed": failed,
        "n_series": n_series,
        "rows": written,
        "seconds": round(time.perf_counter() - started, 1),
    }
    create_markdown_artifact(run_summary_markdown(summary, rows), key="forecast-run-summary")
    print(json.dumps(summary))
    return summary


def _select(configs: dict[str, BrandConfig], brands: list[str] | None) -> dict[str, BrandConfig]:
    if not brands:
        return configs
    unknown = sorted(set(brands) - set(configs))
    if unknown:
        raise ValueError(f"unknown brand(s) {unknown}; known brands: {sorted(configs)}")
    return {b: configs[b] for b in brands}


def _forecast_brands(
    db: Path,
    attempt: warehouse.Attempt,
    configs: dict[str, BrandConfig],
    as_of: date,
    pooling: Pooling,
    n_jobs: int,
) -> list[dict[str, Any]]:
    """Estimate → pool per origin → fit per brand; stage priors, weights and brand rows."""
    cutoffs = sorted(
        {c for b in configs.values() for c in origins(as_of, b.horizon, b.model.backtest_windows)}
    )
    calendar = event_calendar(cutoffs[0].year - 12, as_of.year + 2)
    estimates = [estimate_task.submit(db, b, cutoffs, calendar) for b in configs.values()]
    own = dict(zip(configs, [f.result() for f in estimates], strict=True))
    pools = {b: c.pool for b, c in configs.items()}
    priors = {c: pool_task.submit([own[b][c] for b in configs], pools, pooling) for c in cutoffs}
    pooled = {c: f.result() for c, f in priors.items()}
    futures = [
        forecast_task.submit(db, attempt.attempt_id, b, as_of, pooled, calendar, pooling, n_jobs)
        for b in configs.values()
    ]
    rows = [f.result() for f in futures]
    stats = pl.concat([own[b][as_of].stats for b in configs])
    sectors = {b: c.sector for b, c in configs.items()}
    weights = [
        r.pop("series_weights").with_columns(brand=pl.lit(r["brand"]))
        for r in rows
        if "series_weights" in r
    ]
    priors_table = prior_rows(pooled[as_of])
    weights_table = weight_rows(pooled[as_of], stats, weights, sectors)
    warehouse.stage(db, attempt.attempt_id, "priors", "all", priors_table)
    warehouse.stage(db, attempt.attempt_id, "prior_weights", "all", weights_table)
    plot_task(db, attempt.run_id, priors_table, weights_table)
    warehouse.stage(db, attempt.attempt_id, "run_brands", "all", run_brand_rows(rows))
    return rows
