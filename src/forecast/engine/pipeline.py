"""One brand through the pipeline: own estimates, then backtest, model choice and forecasts.

A run calls :func:`estimate_brand` for every brand, pools the estimates
(:func:`forecast.engine.priors.pool_priors`) once per forecast origin, then calls
:func:`run_brand` for every brand. Both are pure: polars in, polars out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from forecast.engine.fitting import (
    forecast_baseline,
    forecast_intermittent,
    forecast_smooth,
    future_frame,
)
from forecast.engine.metrics import empty_scores, score_series, summarise
from forecast.engine.models import BASELINE, family_of
from forecast.engine.pooling import Pooling, Priors, shrink_series
from forecast.engine.priors import OwnEstimates, own_estimates, seasonal_offsets, series_estimates
from forecast.engine.series import INACTIVE_AFTER_WEEKS, demand_class, prepare_series
from forecast.inputs.calendar import Frequency, monday_on_or_before
from forecast.inputs.config import BrandConfig

SELECTED = "selected"
# Below this many weeks a trend cannot be told from noise (or from a launch ramp-up): such
# series form their own segment, whose default is the level-only "ses", fitted for all.
YOUNG_WEEKS = 26
LONG_WEEKS = 104  # two seasons: own-seasonality models (``mstl``) need them
COLD_START_MODEL = "ses"
MIN_SERIES_TO_CHOOSE = 5


class NoSalesError(ValueError):
    """A brand has no sales at all up to the as-of date."""


@dataclass(frozen=True)
class BrandForecast:
    """Forecasts of one brand at one origin, with what produced them.

    Attributes:
        forecasts: ``unique_id, brand, region, product, ds, step, model, demand_class,
            yhat, lo_80, hi_80, lo_95, hi_95`` — every model for every active series.
        series_weights: ``unique_id, own_weight`` of each series' season profile.
        n_inactive: Series skipped because they have not sold for 26 weeks.
        history: The prepared series (``unique_id, ..., ds, y``) the fit saw.
    """

    forecasts: pl.DataFrame
    series_weights: pl.DataFrame
    n_inactive: int
    history: pl.DataFrame


@dataclass(frozen=True)
class BrandResult:
    """Everything a run stores about one brand."""

    forecasts: pl.DataFrame
    metrics: pl.DataFrame
    series_weights: pl.DataFrame
    summary: dict[str, Any]


def origins(as_of: date, horizon: int, windows: int) -> list[date]:
    """Backtest origins, oldest first, one horizon apart, then the as-of week itself."""
    end = monday_on_or_before(as_of)
    return [end - timedelta(weeks=horizon * k) for k in range(windows, 0, -1)] + [end]


def estimate_brand(
    brand: BrandConfig, sales: pl.DataFrame, cutoffs: list[date], calendar: pl.DataFrame
) -> dict[date, OwnEstimates]:
    """The brand's own season and event estimates at each origin (data up to it only)."""
    out = {}
    for cutoff in cutoffs:
        series, _ = prepare_series(sales, cutoff)
        out[cutoff] = own_estimates(brand.brand, series, calendar)
    return out


def forecast_at(
    brand: BrandConfig,
    sales: pl.DataFrame,
    as_of: date,
    priors: Priors,
    calendar: pl.DataFrame,
    pooling: Pooling = "partial",
    n_jobs: int = 1,
    classes: pl.DataFrame | None = None,
) -> BrandForecast:
    """Forecast every active series of a brand from ``as_of`` with the given priors.

    Args:
        classes: ``unique_id, demand_class`` to use (backtests reuse the as-of classes so
            each series is judged in the family it will be forecast with); computed if None.

    Raises:
        NoSalesError: The brand has no active series up to ``as_of``.
    """
    series, inactive = prepare_series(sales, as_of)
    if series.is_empty():
        why = (
            f"all {inactive.height} series have sold nothing in the "
            f"{INACTIVE_AFTER_WEEKS} weeks up to {as_of}"
            if inactive.height
            else f"no sales rows up to {as_of}"
        )
        raise NoSalesError(f"brand {brand.brand!r}: no active series to forecast: {why}")
    classes = demand_class(series) if classes is None else classes
    series = series.join(classes.select("unique_id"), on="unique_id")
    mine = priors.brands.filter(pl.col("brand") == brand.brand)
    smooth = tuple(dict.fromkeys((*brand.model.candidates, COLD_START_MODEL)))
    plan = FitPlan(brand.horizon, smooth, brand.model.intermittent_candidates)
    long, weights = forecast_series(series, classes, mine, calendar, plan, pooling, n_jobs)
    keys = series.group_by("unique_id", "brand", "region", "product").agg(
        history_weeks=pl.len().cast(pl.Int16)
    )
    forecasts = long.join(keys, on="unique_id")
    if forecasts["yhat"].null_count():
        bad = forecasts.filter(pl.col("yhat").is_null())["unique_id"].unique().head(5).to_list()
        raise ValueError(f"brand {brand.brand!r}: models returned no value for series {bad}")
    return BrandForecast(forecasts, weights, inactive.height, series)


@dataclass(frozen=True)
class FitPlan:
    """What to fit: horizon, competing models per demand class, and the data frequency."""

    horizon: int
    smooth: tuple[str, ...]
    intermittent: tuple[str, ...]
    frequency: Frequency = "weekly"


def forecast_series(
    series: pl.DataFrame,
    classes: pl.DataFrame,
    priors: pl.DataFrame,
    calendar: pl.DataFrame,
    plan: FitPlan,
    pooling: Pooling = "partial",
    n_jobs: int = 1,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Forecast series of one brand (or any member of a pool) with its pooled priors.

    Args:
        series: ``unique_id, region, ds, y`` on a complete grid of ``plan.frequency``.
        classes: ``unique_id, demand_class``.
        priors: The member's rows of ``Priors.brands`` (``kind, key, shrunk``).
        calendar: Moving events (ignored unless weekly).

    Returns:
        ``(forecasts, series_weights)``: long forecasts with ``step`` and ``demand_class``
        for every model, and each series' own weight on its season profile.
    """
    profile = priors.filter(pl.col("kind") == "season").select("key", "shrunk")
    events = priors.filter(pl.col("kind") == "event").select("key", "shrunk")
    _, _, per_series = series_estimates(series, calendar, plan.frequency)
    ids = series["unique_id"].unique()
    profiles, weights = shrink_series(per_series, profile, ids, pooling)
    freq = plan.frequency
    history = seasonal_offsets(series, profiles, events, calendar, freq).join(
        classes, on="unique_id"
    )
    future = seasonal_offsets(
        future_frame(series, plan.horizon, freq), profiles, events, calendar, freq
    )
    smooth = history.filter(pl.col("demand_class") == "smooth")
    sparse = history.filter(pl.col("demand_class") == "intermittent")
    long = pl.concat(
        [
            forecast_smooth(smooth, future, list(plan.smooth), n_jobs, freq),
            forecast_intermittent(sparse, future, list(plan.intermittent), freq),
            forecast_baseline(series, plan.horizon, freq),
        ]
    )
    forecasts = long.join(future.select("unique_id", "ds", "step"), on=["unique_id", "ds"]).join(
        classes, on="unique_id"
    )
    return forecasts, weights


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
    per_series = backtest(
        brand, sales, cutoffs, priors, calendar, classes, actuals, pooling, n_jobs
    )
    chosen = choose_models(per_series, brand)
    forecasts = final.forecasts.with_columns(is_selected=is_chosen(chosen).fill_null(False))
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


def segment() -> pl.Expr:
    """Model-choice segment of a series: its demand class, plus ``/young`` below 26 weeks,
    or ``/long`` for smooth series with two full seasons (where own-seasonality models run).
    """
    weeks = pl.col("history_weeks")
    smooth = pl.col("demand_class") == "smooth"
    return (
        pl.when(weeks < YOUNG_WEEKS)
        .then(pl.col("demand_class") + "/young")
        .when(smooth & (weeks >= LONG_WEEKS))
        .then(pl.lit("smooth/long"))
        .otherwise(pl.col("demand_class"))
        .alias("segment")
    )


def is_chosen(chosen: dict[str, str]) -> pl.Expr:
    """True on rows whose model is the one chosen for their series' segment."""
    return pl.col("model") == segment().replace_strict(chosen, default=None)


def default_models(brand: BrandConfig) -> dict[str, str]:
    """Model per segment before any backtest: the first candidate that runs there;
    ``ses`` for young smooth series."""
    candidates = brand.model.candidates
    plain = next((c for c in candidates if family_of(c) == "smooth"), COLD_START_MODEL)
    sparse = brand.model.intermittent_candidates[0]
    return {
        "smooth/long": candidates[0],
        "smooth": plain,
        "smooth/young": COLD_START_MODEL,
        "intermittent": sparse,
        "intermittent/young": sparse,
    }


def choose_models(per_series: pl.DataFrame, brand: BrandConfig) -> dict[str, str]:
    """Per segment, the model with the lowest mean MASE over series and origins.

    A segment with fewer than five backtested series keeps its default: the first
    configured candidate, or the level-only ``ses`` for young smooth series.
    """
    chosen = default_models(brand)
    ranked = (
        per_series.filter(pl.col("mase").is_finite())
        .with_columns(segment())
        .group_by("segment", "model")
        .agg(pl.col("mase").mean(), n=pl.col("unique_id").n_unique())
        .filter(pl.col("n") >= MIN_SERIES_TO_CHOOSE)
        .sort("segment", "mase", "model")
        .unique("segment", keep="first", maintain_order=True)
    )
    chosen.update({row["segment"]: row["model"] for row in ranked.iter_rows(named=True)})
    return chosen


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
