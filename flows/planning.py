"""Prefect tasks of the planner's loop, run after a forecast run is published."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.progress import Progress
from forecast import warehouse
from forecast.engine.runs import RunSummary
from forecast.engine.workers import physical_memory
from forecast.planning.coherent import plan_levels, too_large_to_plan
from forecast.planning.final import final_forecasts
from forecast.planning.monitoring import monitor_markdown, movers
from forecast.report import fan_chart, fva_chart
from forecast.request import RunRequest
from forecast.vocabulary import SERIES_KEYS


@task(name="reconcile-levels", cache_policy=NO_CACHE)
def reconcile_task(
    request: RunRequest, run_id: str, engine_backtest: pl.DataFrame | None = None
) -> dict[str, Any]:
    """Coherent forecasts at every level and period of a published run, then published
    (``engine_backtest``: the run's bottom backtest forecasts, see ``plan_levels``).

    The levels are weekly (4-4-5 months are sums of weeks): monthly brands are left out.
    """
    started = time.perf_counter()
    db = request.workspace.warehouse
    weekly = [b for b, c in request.brands.items() if c.frequency == "weekly"]
    statistical = warehouse.read_run_forecasts(db, run_id).filter(pl.col("brand").is_in(weekly))
    if statistical.is_empty():
        return {"path": None, "reason": "no published forecast of a weekly brand"}
    brands = sorted(statistical["brand"].unique())
    n_bottom = statistical.filter(pl.col("is_selected")).select(SERIES_KEYS).n_unique()
    first = min(d for b, d in warehouse.first_sales(db).items() if b in brands)
    weeks = (request.as_of - first).days // 7 + 1
    if why := too_large_to_plan(n_bottom, weeks, physical_memory()):
        return {"path": None, "reason": why}
    sales = warehouse.read_sales(db, brands, request.as_of)
    sectors = {b: c.sector for b, c in request.brands.items()}
    master = warehouse.read_products(db)
    levels = plan_levels(
        statistical, sales, master, sectors, request.as_of, request.n_jobs, engine_backtest
    )
    tables = levels.tables(request.as_of, time.perf_counter() - started)
    warehouse.write_levels(db, run_id, tables)
    return tables["reconciliations"].to_dicts()[0]


@task(name="monitor", cache_policy=NO_CACHE)
def monitor_task(db: Path) -> str:
    """Alarms and accuracy movers as a markdown artifact (what ``forecast monitor`` prints)."""
    frames = warehouse.monitor_frames(db)
    text = monitor_markdown(frames["alarms"], movers(frames["brand_runs"], frames["backtest"]))
    create_markdown_artifact(text, key="forecast-monitor", description="alarms and movers")
    return text


@task(name="planning-charts", cache_policy=NO_CACHE)
def charts_task(db: Path, run_id: str) -> list[Path]:
    """Per sector: its largest brand's fan chart and the sector's FVA chart, as PNG files and
    markdown artifacts."""
    folder = Path(db).parent / "plots" / run_id / "planning"
    folder.mkdir(parents=True, exist_ok=True)
    fva = warehouse.read_sector_fva(db)
    paths = []
    for sector, brand in warehouse.largest_brands(db, run_id).iter_rows():
        fan = warehouse.read_fan(db, "brand", {"brand": brand})
        title = f"brand: {brand}"
        png_fan = fan_chart(fan["history"], fan["forecast"], fan["overrides"], title, fan["as_of"])
        png_fva = fva_chart(
            fva.filter(pl.col("sector") == sector), f"{sector}: forecast value added"
        )
        for name, png in ((f"fan-{brand}", png_fan), (f"fva-{sector}", png_fva)):
            (folder / f"{name}.png").write_bytes(png)
            paths.append(folder / f"{name}.png")
        create_markdown_artifact(
            f"# {sector}\n\n![{brand} fan chart]({_data_url(png_fan)})\n\n"
            f"![{sector} FVA]({_data_url(png_fva)})\n\nFiles: `{folder}`",
            key=f"planning-{sector.replace('_', '-')}",
            description=f"{sector}: fan chart of {brand}, forecast value added per brand",
        )
    return paths


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def plan_after_run(
    request: RunRequest, summary: RunSummary, engine_backtest: pl.DataFrame | None = None
) -> None:
    """The planner's loop after a run: levels; a failure is logged, never fails the run."""
    if summary.status == "failed":
        return
    db = request.workspace.warehouse
    step = Progress("planning levels", 1, unit="steps")
    try:
        outcome = reconcile_task(request, summary.run_id, engine_backtest)
        print(f"reconciliation: {outcome['path']} ({outcome['reason']})")
        if outcome["path"] is None:
            step.advance("levels", "skipped")
            return
        final_task(db, summary.run_id)
        monitor_task(db)
        charts_task(db, summary.run_id)
        step.advance("planning", "written")
    except Exception:  # the statistical forecast is published either way
        get_run_logger().exception("planning after run %s failed", summary.run_id)
        step.advance("planning", "failed (see the Prefect log)")


def refresh_final(db: Path, run_id: str) -> dict[str, int]:
    """Recompute a run's final forecast from its statistical one and the active overrides."""
    weekly = warehouse.read_level_weeks(db, run_id)
    final, applied = final_forecasts(weekly, warehouse.read_overrides(db, "active"))
    return warehouse.write_final(db, run_id, final, applied)


@task(name="final-forecasts", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def final_task(db: Path, run_id: str) -> dict[str, int]:
    """The run's final forecast: statistical + the overrides still active."""
    return refresh_final(db, run_id)
