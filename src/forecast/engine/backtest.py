"""Rolling-origin backtests: origins one horizon apart, every model scored per series."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import polars as pl

from forecast.engine.forecasting import NoSalesError, forecast_at
from forecast.engine.metrics import empty_scores, score_series
from forecast.engine.pooling import Pooling, Priors
from forecast.inputs.calendar import week_start
from forecast.inputs.config import BrandConfig


def run_cutoffs(as_of: date, brands: Iterable[BrandConfig]) -> list[date]:
    """Every origin some brand of the run needs (backtests and the as-of week), oldest first."""
    return sorted({c for b in brands for c in origins(as_of, b.horizon, b.model.backtest_windows)})


def origins(as_of: date, horizon: int, windows: int) -> list[date]:
    """Backtest origins, oldest first, one horizon apart, then the as-of week itself."""
    end = week_start(as_of)
    return [end - timedelta(weeks=horizon * k) for k in range(windows, 0, -1)] + [end]


def backtest(
    brand: BrandConfig,
    sales: pl.DataFrame,
    cutoffs: list[date],
    priors: dict[date, Priors],
    calendar: pl.DataFrame,
    classes: pl.DataFrame,
    actuals: pl.DataFrame,
    pooling: Pooling = "partial",
    n_jobs: int = 1,
) -> pl.DataFrame:
    """Per-series scores of every model at every origin where the brand already sold."""
    folds = []
    for cutoff in cutoffs:
        try:
            fc = forecast_at(
                brand, sales, cutoff, priors[cutoff], calendar, pooling, n_jobs, classes
            )
        except NoSalesError:  # launched after this origin: nothing to backtest there
            continue
        folds.append(fc.forecasts.with_columns(cutoff=pl.lit(cutoff)))
    if not folds:
        return empty_scores().with_columns(
            demand_class=pl.lit(None, pl.String), history_weeks=pl.lit(None, pl.Int16)
        )
    cv = pl.concat(folds)
    ages = cv.select("unique_id", "cutoff", "history_weeks").unique()
    scores = score_series(cv.join(actuals, on=["unique_id", "ds"]), actuals)
    return scores.join(classes, on="unique_id").join(ages, on=["unique_id", "cutoff"])
