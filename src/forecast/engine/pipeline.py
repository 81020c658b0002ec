"""One brand through the pipeline: own estimates, then backtest, model choice and forecasts.

A run calls :func:`estimate_brand` for every brand, pools the estimates
(:func:`forecast.engine.pooling.pool_priors`) once per forecast origin, then calls
:func:`run_brand` for every brand. Both are pure: polars in, polars out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from forecast.engine.backtest import backtest
from forecast.engine.calibration import apply_calibration, calibrate, noise_scale
from forecast.engine.events import mark_stockouts
from forecast.engine.forecasting import forecast_at
from forecast.engine.metrics import summarise
from forecast.engine.pooling import Pooling, Priors
from forecast.engine.priors import OwnEstimates, SeriesProfiles, own_estimates
from forecast.engine.selection import choose_models, is_chosen, segment
from forecast.engine.series import prepare_series, series_id
from forecast.inputs.config import BrandConfig
from forecast.vocabulary import BOUNDS, GAP_REASONS, MAX_UNKNOWN_SHARE, SELECTED, SERIES_KEYS


class MostlyUnknownError(ValueError):
    """More than half of a brand's series-weeks are unknown: the brand is not forecast."""


@dataclass(frozen=True)
class BrandResult:
    """Everything a run stores about one brand.

    Attributes:
        forecasts: Every model's forecasts of every active series, ``is_selected`` marking
            the model chosen for the series' segment.
        metrics: ``backtest_metrics`` rows (see :func:`segment_metrics`).
        series_weights: ``unique_id, own_weight`` of each series' season profile.
        n_series: Active series forecast.
        n_inactive: Series skipped as discontinued.
        selected_model: The chosen model per segment, e.g. ``smooth: ets, smooth/young: ses``.
        gaps: ``gap_weeks`` rows: every unknown week of the forecast series up to as-of,
            ``brand, market, product, ds, reason, units`` (as given, null without a row) and
            ``imputed`` (the value the models saw).
        unknown_share: Share of the forecast series' weeks that are unknown.
        n_returns: Weeks with negative net units in the brand's sales up to as-of.
        level_base: The chosen models' backtest forecasts from the latest backtest origin
            (``brand, market, product, cutoff, ds, yhat``; empty without one): the bottom
            of planning's level backtest.
    """

    forecasts: pl.DataFrame
    metrics: pl.DataFrame
    series_weights: pl.DataFrame
    n_series: int
    n_inactive: int
    selected_model: str
    gaps: pl.DataFrame
    unknown_share: float
    n_returns: int
    level_base: pl.DataFrame


def estimate_brand(
    brand: BrandConfig, sales: pl.DataFrame, cutoffs: list[date], calendar: pl.DataFrame
) -> dict[date, OwnEstimates]:
    """The brand's own season and event estimates at each origin (data up to it only),
    with its series' profiles (``OwnEstimates.series``: what :func:`run_brand` takes).

    Args:
        calendar: The brand's events per series (see ``events.series_calendar``).
    """
    out = {}
    for cutoff in cutoffs:
        series, _ = prepare_series(sales, cutoff, brand.sales, brand.frequency)
        series = mark_stockouts(series, calendar)
        out[cutoff] = own_estimates(brand.brand, series, calendar, brand.frequency)
    return out


def series_profiles(own: Mapping[date, OwnEstimates]) -> dict[date, SeriesProfiles]:
    """What :func:`run_brand` takes as ``known`` from a brand's :func:`estimate_brand`."""
    return {c: e.series for c, e in own.items() if e.series is not None}


def check_known(brand: str, series: pl.DataFrame, as_of: date) -> float:
    """The share of unknown series-weeks of a brand's prepared series.

    Raises:
        MostlyUnknownError: Above ``MAX_UNKNOWN_SHARE``, saying how many weeks of each kind.
    """
    share = series["y"].null_count() / max(series.height, 1)
    if share <= MAX_UNKNOWN_SHARE:
        return share
    counts = dict(series.group_by("gap").len().drop_nulls("gap").iter_rows())
    kinds = ", ".join(f"{counts[r]:,} {r}" for r in GAP_REASONS if r in counts)
    raise MostlyUnknownError(
        f"brand {brand!r}: {share:.0%} of its series-weeks up to {as_of} are unknown "
        f"({kinds}), more than half: not forecast, its last published forecast stays. If a "
        'week without a row means no sale in this export, set [sales] missing_weeks = "zero"'
    )


def run_brand(
    brand: BrandConfig,
    sales: pl.DataFrame,
    as_of: date,
    priors: dict[date, Priors],
    calendar: pl.DataFrame,
    pooling: Pooling = "partial",
    n_jobs: int = 1,
    known: Mapping[date, SeriesProfiles] | None = None,
) -> BrandResult:
    """Backtest at every earlier origin, choose models per segment, forecast at as-of.

    Args:
        priors: Pooled priors per origin (see ``backtest.origins``); the last one is as-of.
        known: The brand's series profiles per origin (``OwnEstimates.series`` of
            :func:`estimate_brand`), so its series are not decomposed again; None: measured
            here.
    """
    *cutoffs, last = sorted(priors)
    known = known or {}
    prepared = prepare_series(sales, last, brand.sales, brand.frequency)
    share = check_known(brand.brand, prepared[0], last)
    final = forecast_at(
        brand,
        sales,
        last,
        priors[last],
        calendar,
        pooling,
        n_jobs,
        prepared=prepared,
        known=known.get(last),
    )
    classes = final.forecasts.select("unique_id", "demand_class").unique()
    actuals = final.history.select("unique_id", "ds", "y")
    tested = backtest(
        brand, sales, cutoffs, priors, calendar, classes, actuals, pooling, n_jobs, known
    )
    per_series = tested.scores
    chosen = choose_models(per_series, brand.model)
    calibrated = apply_calibration(
        final.forecasts, calibrate(tested.points), noise_scale(final.history)
    )
    segments = sorted(final.forecasts.select(segment())["segment"].unique())
    return BrandResult(
        forecasts=calibrated.with_columns(is_selected=is_chosen(chosen).fill_null(False)),
        metrics=segment_metrics(per_series, chosen).with_columns(
            brand=pl.lit(brand.brand), sector=pl.lit(brand.sector)
        ),
        series_weights=final.series_weights,
        n_series=final.history["unique_id"].n_unique(),
        n_inactive=final.n_inactive,
        selected_model=", ".join(f"{k}: {chosen[k]}" for k in segments),
        gaps=gap_rows(final.history, final.imputed, sales),
        unknown_share=share,
        n_returns=sales.filter(pl.col("units") < 0, pl.col("ds") <= last).height,
        level_base=chosen_backtest(tested.latest, chosen),
    )


def chosen_backtest(latest: pl.DataFrame | None, chosen: dict[str, str]) -> pl.DataFrame:
    """``brand, market, product, cutoff, ds, yhat`` and bounds: each series' chosen model
    in a backtest fold (see :func:`forecast.engine.backtest.fold`)."""
    keys = dict.fromkeys(SERIES_KEYS, pl.String) | {"cutoff": pl.Date, "ds": pl.Date}
    schema = keys | dict.fromkeys(("yhat", *BOUNDS), pl.Float64)
    if latest is None:
        return pl.DataFrame(schema=schema)
    return latest.filter(is_chosen(chosen).fill_null(False)).select(list(schema))


def gap_rows(history: pl.DataFrame, imputed: pl.DataFrame, sales: pl.DataFrame) -> pl.DataFrame:
    """``gap_weeks`` rows: each unknown week, its reason, units as given and imputed value."""
    given = sales.with_columns(series_id()).select("unique_id", "ds", "units")
    return (
        history.filter(pl.col("gap").is_not_null())
        .join(given, on=["unique_id", "ds"], how="left")
        .join(imputed.rename({"y": "imputed"}), on=["unique_id", "ds"], how="left")
        .select(*SERIES_KEYS, "ds", reason="gap", units="units", imputed="imputed")
    )


def segment_metrics(per_series: pl.DataFrame, chosen: dict[str, str]) -> pl.DataFrame:
    """Rows of ``backtest_metrics``: per cutoff, segment and model, each point counted once.

    Every model gets one row per segment it was scored in (the baseline too); ``selected``
    repeats, per segment, the row of the model chosen there, so summing any one model over
    segments counts each backtest point once.
    """
    scored = per_series.with_columns(segment())
    picked = scored.filter(is_chosen(chosen)).with_columns(model=pl.lit(SELECTED))
    rows = summarise(pl.concat([scored, picked]), ["cutoff", "segment", "demand_class", "model"])
    flag = (pl.col("model") == SELECTED) | (
        pl.col("model") == pl.col("segment").replace_strict(chosen, default=None)
    )
    return rows.with_columns(is_selected=flag.fill_null(False))
