"""Rolling-origin backtests: every model scored per series, errors kept for calibration."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date

import polars as pl

from forecast.engine.calibration import noise_scale
from forecast.engine.forecasting import NoSalesError, forecast_at
from forecast.engine.forward import FittedModels
from forecast.engine.metrics import empty_scores, score_series
from forecast.engine.pooling import Pooling, Priors
from forecast.engine.priors import SeriesProfiles
from forecast.inputs.calendar import origin_period, shift_periods
from forecast.inputs.config import BrandConfig
from forecast.vocabulary import SEASON_LENGTH, Frequency


def run_cutoffs(as_of: date, brands: Iterable[BrandConfig]) -> list[date]:
    """Every origin some brand of the run needs (backtests and the as-of period), oldest
    first; the brands share one frequency (pools never mix weekly and monthly brands)."""
    return sorted({c for b in brands for c in brand_origins(as_of, b)})


def brand_origins(as_of: date, brand: BrandConfig) -> list[date]:
    """A brand's origins at a run's as-of date (see :func:`origins`)."""
    return origins(as_of, brand.horizon, brand.model.backtest_windows, brand.frequency)


def origins(as_of: date, horizon: int, windows: int, frequency: Frequency = "weekly") -> list[date]:
    """Backtest origins, oldest first, then the forecast origin itself (see
    :func:`window_offsets`): period starts — the as-of week, or for monthly series the last
    month over by the end of the as-of week."""
    end = origin_period(as_of, frequency)
    back = window_offsets(horizon, windows, SEASON_LENGTH[frequency])
    return [shift_periods(end, -w, frequency) for w in back] + [end]


def window_offsets(horizon: int, windows: int, season_length: int) -> list[int]:
    """How many periods before the forecast origin each backtest origin sits, oldest first.

    The latest ``windows - 1`` origins are one horizon apart; with two windows or more the
    oldest one sits a season (a year) before the forecast origin, so one window forecasts
    the same part of the year as the forecast will (spring windows alone would choose the
    model for Christmas). Where a season back is already one of them, the next horizon
    back is added instead.
    """
    back = [horizon * k for k in range(1, windows)]
    seasonal = windows > 1 and season_length not in back
    back.append(season_length if seasonal else horizon * windows)
    return sorted(set(back), reverse=True)


@dataclass(frozen=True)
class Backtest:
    """What the backtest of one brand measured.

    Attributes:
        scores: Per series, origin and model: :func:`metrics.score_series` plus
            ``demand_class`` and ``history_weeks`` (at the origin).
        points: Every forecast with its actual: ``unique_id, cutoff, model, step,
            demand_class, history_weeks, y, yhat, scale`` (``scale``: the series' noise
            at the origin, see :func:`calibration.noise_scale`).
        latest: Every forecast of the latest origin (see :func:`fold`), unknown weeks
            included, or None when no origin had sales: planning's level backtest takes
            its bottom forecasts from here instead of fitting them again.
    """

    scores: pl.DataFrame
    points: pl.DataFrame
    latest: pl.DataFrame | None = None


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
    known: Mapping[date, SeriesProfiles] | None = None,
) -> Backtest:
    """Scores and errors of every model at every origin where the brand already sold.

    The models fitted at the oldest origin run forward at the later ones (see
    :mod:`forecast.engine.forward`), unless the brand asks for ``refit_backtests``.

    Args:
        known: The brand's series profiles per origin, from its own estimates (see
            ``forecasting.forecast_at``).
    """
    kept = None if brand.model.refit_backtests else FittedModels()
    folds = []
    for cutoff in cutoffs:
        try:
            fc = forecast_at(
                brand,
                sales,
                cutoff,
                priors[cutoff],
                calendar,
                pooling,
                n_jobs,
                classes,
                kept=kept,
                known=(known or {}).get(cutoff),
            )
        except NoSalesError:  # launched after this origin: nothing to backtest there
            continue
        folds.append(fold(fc.forecasts, fc.history, cutoff))
    tested = score_folds(folds, actuals, classes)
    return replace(tested, latest=folds[-1]) if folds else tested


def fold(forecasts: pl.DataFrame, history: pl.DataFrame, cutoff: date) -> pl.DataFrame:
    """One origin's forecasts tagged with it and with each series' noise scale there."""
    scale = noise_scale(history)
    return forecasts.join(scale, on="unique_id").with_columns(cutoff=pl.lit(cutoff))


def score_folds(
    folds: list[pl.DataFrame], actuals: pl.DataFrame, classes: pl.DataFrame
) -> Backtest:
    """Scores and points of the given folds (see :func:`fold`) against ``actuals``.

    Unknown weeks (null ``y`` in ``actuals``) are never scored, and MASE scales come from
    the changes between observed weeks only.

    Args:
        folds: Forecasts with ``step, demand_class, history_weeks, scale, cutoff``.
        actuals: ``unique_id, ds, y`` — the whole history, ``y`` null on unknown weeks.
        classes: ``unique_id, demand_class`` the series are judged in.
    """
    if not folds:
        scores = empty_scores().with_columns(
            demand_class=pl.lit(None, pl.String), history_weeks=pl.lit(None, pl.Int16)
        )
        return Backtest(scores, _points(pl.DataFrame(schema=_POINT_SCHEMA)))
    cv = pl.concat(folds).join(actuals.drop_nulls("y"), on=["unique_id", "ds"])
    ages = cv.select("unique_id", "cutoff", "history_weeks").unique()
    scores = score_series(cv, actuals)
    scores = scores.join(classes, on="unique_id").join(ages, on=["unique_id", "cutoff"])
    return Backtest(scores, _points(cv))


_POINT_SCHEMA = {
    "unique_id": pl.String,
    "cutoff": pl.Date,
    "model": pl.String,
    "step": pl.Int16,
    "demand_class": pl.String,
    "history_weeks": pl.Int16,
    "y": pl.Float64,
    "yhat": pl.Float64,
    "scale": pl.Float64,
}


def _points(cv: pl.DataFrame) -> pl.DataFrame:
    return cv.select(list(_POINT_SCHEMA))
