"""Base forecasts of the aggregated series of the hierarchy (and, in backtests, of all).

The engine forecasts the bottom (SKU × market) series; the levels above have no forecast of
their own. Here every series of the hierarchy is fitted by statsforecast on ``log1p`` units,
by history length (``MODELS``): MSTL (own seasonality, damped AutoETS trend) from two full
seasons, damped non-seasonal AutoETS from 9 periods, the historic mean below that (AutoETS
refuses tiny series).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
from statsforecast import StatsForecast
from statsforecast.models import MSTL, AutoETS, HistoricAverage

from forecast.vocabulary import BOUNDS, INTERVAL_LEVELS, POLARS_INTERVAL, SEASON_LENGTH, Frequency


def fit_levels(
    history: pl.DataFrame, horizon: int, frequency: Frequency = "weekly", n_jobs: int = 1
) -> pl.DataFrame:
    """Forecasts of every series of ``history``.

    Args:
        history: ``unique_id, ds, y`` (units ≥ 0), each series on a complete grid.
        horizon: Periods to forecast.

    Returns:
        ``unique_id, ds, yhat, lo_80, hi_80, lo_95, hi_95`` in units (≥ 0).
    """
    m = SEASON_LENGTH[frequency]
    length = history.group_by("unique_id").agg(n=pl.len())
    parts = []
    upper = None
    for min_length, build in MODELS:  # longest histories first
        lower = min_length(m)
        band = pl.col("n") >= lower if upper is None else pl.col("n").is_between(lower, upper - 1)
        ids = length.filter(band).select("unique_id")
        parts.append(_fit(history.join(ids, on="unique_id"), build(m), horizon, frequency, n_jobs))
        upper = lower
    return pl.concat([p for p in parts if p is not None])


# (minimum history for a season length m, model builder), longest histories first.
MODELS: tuple[tuple[Callable[[int], int], Callable[[int], Any]], ...] = (
    (
        lambda m: 2 * m,
        lambda m: MSTL(
            season_length=m, trend_forecaster=AutoETS(model="ZZN", damped=True), alias="m"
        ),
    ),
    (lambda m: 9, lambda m: AutoETS(season_length=1, model="ZZN", damped=True, alias="m")),
    (lambda m: 1, lambda m: HistoricAverage(alias="m")),
)


def _fit(
    frame: pl.DataFrame, model: object, horizon: int, frequency: Frequency, n_jobs: int
) -> pl.DataFrame | None:
    """One statsforecast call on log1p units; forecasts back in units."""
    if frame.is_empty():
        return None
    sf = StatsForecast(
        models=[model],
        freq=POLARS_INTERVAL[frequency],
        n_jobs=n_jobs,
        fallback_model=HistoricAverage(alias="m"),
    )
    z = frame.select("unique_id", "ds", y=pl.col("y").clip(0).log1p())
    wide = sf.forecast(h=horizon, df=z, level=list(INTERVAL_LEVELS))
    back = {b: pl.col(f"m-{b.split('_')[0]}-{b.split('_')[1]}").exp() - 1 for b in BOUNDS}
    forecasts = wide.select("unique_id", "ds", yhat=pl.col("m").exp() - 1, **back)
    clipped = {c: pl.col(c).clip(0) for c in ("yhat", *BOUNDS)}
    return forecasts.with_columns(**clipped)


def naive_scale(history: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, scale``: in-sample mean |y_t − y_{t−1}| — the MASE denominator."""
    return (
        history.sort("unique_id", "ds")
        .group_by("unique_id")
        .agg(scale=pl.col("y").diff().abs().mean())
        .with_columns(scale=pl.when(pl.col("scale") > 0).then("scale").otherwise(np.nan))
    )
