"""Bare statsforecast peers: what a planner gets by fitting statsforecast per series.

Raw units, no priors, each model timed on its own (CPU seconds, one process). Seasonal
ETS and ARIMA only run where the season is at most 12 periods: with 52 weekly states
AutoETS costs ~176 ms a series and picks a non-seasonal form anyway, AutoARIMA(52) ~8.8 s
a series (STACK_NOTES); on weekly data ETS is non-seasonal and ARIMA is left out.
"""

from __future__ import annotations

import time
from typing import Any

import polars as pl
from panels import Panel
from statsforecast import StatsForecast
from statsforecast.models import (
    ADIDA,
    IMAPA,
    TSB,
    AutoARIMA,
    AutoETS,
    AutoTheta,
    CrostonClassic,
    Naive,
    SeasonalNaive,
)

from forecast.vocabulary import POLARS_INTERVAL

SMOOTH_PEERS = ("snaive", "ets", "theta", "arima")
INTERMITTENT_PEERS = ("croston", "adida", "imapa", "tsb")
MEDIAN = "median"


def _build(name: str, m: int) -> Any:
    seasonal = m if m <= 12 else 1
    builders = {
        "snaive": lambda: SeasonalNaive(m, alias=name),
        "naive": lambda: Naive(alias=name),
        "ets": lambda: AutoETS(season_length=seasonal, model="ZZZ", damped=True, alias=name),
        "theta": lambda: AutoTheta(season_length=m, alias=name),
        "arima": lambda: AutoARIMA(season_length=seasonal, alias=name),
        "croston": lambda: CrostonClassic(alias=name),
        "adida": lambda: ADIDA(alias=name),
        "imapa": lambda: IMAPA(alias=name),
        "tsb": lambda: TSB(alpha_d=0.1, alpha_p=0.1, alias=name),
    }
    return builders[name]()


def forecast(
    panel: Panel, names: tuple[str, ...], with_median: bool = True
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Long forecasts ``unique_id, ds, model, yhat`` of each named peer (and of their
    median), clipped at zero, and the CPU seconds each took."""
    # statsforecast needs a value every period: without the product, unknown periods are 0.
    data = panel.train.select("unique_id", "ds", pl.col("y").fill_null(0.0))
    freq = POLARS_INTERVAL[panel.frequency]
    parts, seconds = [], {}
    for name in names:
        started = time.process_time()
        sf = StatsForecast(models=[_build(name, panel.season_length)], freq=freq, n_jobs=1)
        sf.fallback_model = Naive()
        wide = sf.forecast(h=panel.horizon, df=data)
        seconds[name] = time.process_time() - started
        parts.append(
            wide.select("unique_id", "ds", model=pl.lit(name), yhat=pl.col(name).clip(0.0))
        )
    long = pl.concat(parts)
    if with_median and len(names) > 1:
        median = long.group_by("unique_id", "ds").agg(pl.col("yhat").median())
        long = pl.concat(
            [long, median.select("unique_id", "ds", model=pl.lit(MEDIAN), yhat="yhat")]
        )
    return long, seconds
