"""The product's default path on any panel, at any frequency.

:func:`forecast.engine.pipeline.run_brand` is the weekly, per-brand path of a run. Real
benchmark panels are monthly or quarterly and have no brand configs, so this module walks
the same steps with the same library functions: own estimates and pooled priors at every
origin, every candidate of :class:`ModelSettings` fitted by :func:`forecast_series`, the
backtest windows of :func:`window_offsets`, model choice per segment
(:func:`choose_models`), and intervals calibrated on the backtest errors.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from panels import Panel

from forecast.engine.backtest import fold, score_folds, window_offsets
from forecast.engine.calibration import apply_calibration, calibrate, noise_scale
from forecast.engine.events import empty_calendar
from forecast.engine.forecasting import FitPlan, forecast_series
from forecast.engine.pooling import Pooling, pool_priors
from forecast.engine.priors import own_estimates
from forecast.engine.selection import COLD_START_MODEL, choose_models, is_chosen
from forecast.engine.series import demand_class, history_weeks
from forecast.inputs.config import ModelSettings

POOL = "pool"


def forecast(
    panel: Panel, settings: ModelSettings, pooling: Pooling = "partial"
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Every candidate's calibrated forecasts of every series, and the model chosen per
    segment.

    Returns:
        ``(forecasts, chosen)``: forecasts are ``unique_id, ds, model, yhat, lo_80, hi_80,
        lo_95, hi_95, demand_class, history_weeks, is_selected`` (``history_weeks`` counts
        periods).
    """
    train = panel.train
    periods = train["ds"].unique().sort()
    classes = demand_class(train)
    final = fit_all(panel, train, settings, pooling, classes)
    folds = []
    for back in window_offsets(panel.horizon, settings.backtest_windows, panel.season_length):
        if back >= len(periods) - 1:
            continue
        cutoff: date = periods[-1 - back]
        history = train.filter(pl.col("ds") <= cutoff)
        folds.append(fold(fit_all(panel, history, settings, pooling, classes), history, cutoff))
    tested = score_folds(folds, train.select("unique_id", "ds", "y"), classes)
    chosen = choose_models(tested.scores, settings)
    calibrated = apply_calibration(final, calibrate(tested.points), noise_scale(train))
    return calibrated.with_columns(is_selected=is_chosen(chosen).fill_null(False)), chosen


def fit_all(
    panel: Panel,
    history: pl.DataFrame,
    settings: ModelSettings,
    pooling: Pooling,
    classes: pl.DataFrame,
) -> pl.DataFrame:
    """Every candidate's forecasts of every series from the end of ``history``."""
    calendar = empty_calendar()
    freq = panel.frequency
    members = history["member"].unique().sort().to_list()
    rows = {m: history.filter(pl.col("member") == m) for m in members}
    estimates = {m: own_estimates(m, rows[m], calendar, freq) for m in members}
    priors = pool_priors(
        list(estimates.values()), dict.fromkeys(members, POOL), [POOL], pooling, freq
    )
    smooth = tuple(dict.fromkeys((*settings.candidates, COLD_START_MODEL)))
    plan = FitPlan(panel.horizon, smooth, settings.intermittent_candidates, freq)
    # Ages in weeks, as a run of a monthly or quarterly brand counts them.
    ages = history.group_by("unique_id").agg(history_weeks=history_weeks(freq))
    parts = []
    for member in members:
        mine = priors.brands.filter(pl.col("brand") == member)
        ids = rows[member].select("unique_id").unique()
        fc, _, _ = forecast_series(
            rows[member],
            classes.join(ids, on="unique_id"),
            mine,
            calendar,
            plan,
            pooling,
            known=estimates[member].series,
        )
        parts.append(fc)
    return pl.concat(parts).join(ages, on="unique_id")
