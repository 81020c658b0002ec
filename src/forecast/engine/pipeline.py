"""One brand through the pipeline: own estimates, then backtest, model choice and forecasts.

A run calls :func:`estimate_brand` for every brand, pools the estimates
(:func:`forecast.engine.pooling.pool_priors`) once per forecast origin, then calls
:func:`run_brand` for every brand. Both are pure: polars in, polars out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from forecast.engine.backtest import backtest
from forecast.engine.calibration import apply_calibration, calibrate, noise_scale
from forecast.engine.forecasting import forecast_at
from forecast.engine.metrics import summarise
from forecast.engine.models import BASELINE
from forecast.engine.pooling import Pooling, Priors
from forecast.engine.priors import OwnEstimates, own_estimates
from forecast.engine.selection import SELECTED, choose_models, is_chosen, segment
from forecast.engine.series import prepare_series
from forecast.inputs.config import BrandConfig


@dataclass(frozen=True)
class BrandResult:
    """Everything a run stores about one brand."""

    forecasts: pl.DataFrame
    metrics: pl.DataFrame
    series_weights: pl.DataFrame
    summary: dict[str, Any]


def estimate_brand(
    brand: BrandConfig, sales: pl.DataFrame, cutoffs: list[date], calendar: pl.DataFrame
) -> dict[date, OwnEstimates]:
    """The brand's own season and event estimates at each origin (data up to it only)."""
    out = {}
    for cutoff in cutoffs:
        series, _ = prepare_series(sales, cutoff)
        out[cutoff] = own_estimates(brand.brand, series, calendar)
    return out


def run_brand(
    brand: BrandConfig,
    sales: pl.DataFrame,
    as_of: date,
    priors: dict[date, Priors],
    calendar: pl.DataFrame,
    pooling: Pooling = "partial",
    n_jobs: int = 1,
) -> BrandResult:
    """Backtest at every earlier origin, choose models per demand class, forecast at as-of.

    Args:
        priors: Pooled priors per origin (see :func:`origins`); the last one is as-of.
    """
    *cutoffs, last = sorted(priors)
    final = forecast_at(brand, sales, last, priors[last], calendar, pooling, n_jobs)
    classes = final.forecasts.select("unique_id", "demand_class").unique()
    actuals = final.history.select("unique_id", "ds", "y")
    tested = backtest(brand, sales, cutoffs, priors, calendar, classes, actuals, pooling, n_jobs)
    per_series = tested.scores
    chosen = choose_models(per_series, brand.model)
    calibrated = apply_calibration(
        final.forecasts, calibrate(tested.points), noise_scale(final.history)
    )
    forecasts = calibrated.with_columns(is_selected=is_chosen(chosen).fill_null(False))
    metrics = _brand_metrics(per_series, chosen).with_columns(
        brand=pl.lit(brand.brand), sector=pl.lit(brand.sector)
    )
    summary = {
        "n_series": final.history["unique_id"].n_unique(),
        "n_inactive": final.n_inactive,
        "n_rows": forecasts.height,
        "selected_model": ", ".join(
            f"{k}: {chosen[k]}"
            for k in sorted(final.forecasts.select(segment())["segment"].unique())
        ),
    }
    return BrandResult(forecasts, metrics, final.series_weights, summary)


def _brand_metrics(per_series: pl.DataFrame, chosen: dict[str, str]) -> pl.DataFrame:
    """Rows of backtest_metrics: every model per class, plus 'selected' and baseline overall."""
    by_class = summarise(per_series, ["cutoff", "demand_class", "model"]).with_columns(
        is_selected=pl.col("model") == pl.col("demand_class").replace_strict(chosen, default=None)
    )
    picked = per_series.filter(is_chosen(chosen)).with_columns(model=pl.lit(SELECTED))
    overall = summarise(
        pl.concat([picked, per_series.filter(pl.col("model") == BASELINE)]), ["cutoff", "model"]
    ).with_columns(demand_class=pl.lit("all"), is_selected=pl.col("model") == SELECTED)
    return pl.concat(
        [by_class.with_columns(pl.col("is_selected").fill_null(False)), overall],
        how="diagonal_relaxed",
    )
