"""One brand at one origin: its series, shrunk profiles and offsets, then every model's fit.

:func:`forecast_at` prepares a brand's series up to an origin and calls
:func:`forecast_series`, which shrinks each series' season profile toward the brand's
pooled one, removes the seasonal offsets, fits every candidate model by demand class
(:mod:`forecast.engine.fitting`) and the seasonal-naive baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import polars as pl

from forecast.engine.combination import add_combinations
from forecast.engine.events import applied_events, mark_stockouts
from forecast.engine.fitting import (
    forecast_baseline,
    forecast_intermittent,
    forecast_smooth,
    future_frame,
)
from forecast.engine.forward import FittedModels
from forecast.engine.imputation import impute_unknown
from forecast.engine.pooling import Pooling, Priors, shrink_series
from forecast.engine.priors import (
    SeriesProfiles,
    event_places,
    held_events,
    seasonal_offsets,
    series_estimates,
)
from forecast.engine.series import demand_class, history_weeks, prepare_series
from forecast.inputs.calendar import season_position
from forecast.inputs.config import BrandConfig
from forecast.vocabulary import (
    COLD_START_MODEL,
    DEMAND_CLASSES,
    SEASON_LENGTH,
    Frequency,
)


class NoSalesError(ValueError):
    """A brand has no sales at all up to the as-of date."""


@dataclass(frozen=True)
class BrandForecast:
    """Forecasts of one brand at one origin, with what produced them.

    Attributes:
        forecasts: ``unique_id, brand, market, product, ds, step, model, demand_class,
            history_weeks, yhat, lo_80, hi_80, lo_95, hi_95, events`` — every model for every
            active series; ``events`` names the events applied to the row (None: none).
        series_weights: ``unique_id, own_weight`` of each series' season profile.
        n_inactive: Series skipped as discontinued (see ``series.prepare_series``).
        history: The prepared series (``unique_id, ..., ds, y, gap``; ``y`` null on unknown
            weeks): what is scored and what the interval scales come from.
        imputed: ``unique_id, ds, y`` — the value the models saw on each unknown week.
    """

    forecasts: pl.DataFrame
    series_weights: pl.DataFrame
    n_inactive: int
    history: pl.DataFrame
    imputed: pl.DataFrame


def forecast_at(
    brand: BrandConfig,
    sales: pl.DataFrame,
    as_of: date,
    priors: Priors,
    calendar: pl.DataFrame,
    pooling: Pooling = "partial",
    n_jobs: int = 1,
    classes: pl.DataFrame | None = None,
    prepared: tuple[pl.DataFrame, pl.DataFrame] | None = None,
    kept: FittedModels | None = None,
    known: SeriesProfiles | None = None,
) -> BrandForecast:
    """Forecast every active series of a brand from ``as_of`` with the given priors.

    Args:
        calendar: The brand's events per series (see ``events.series_calendar``).
        classes: ``unique_id, demand_class`` to use (backtests reuse the as-of classes so
            each series is judged in the family it will be forecast with); computed if None.
        prepared: What ``series.prepare_series`` returns for these sales at ``as_of``, when
            the caller has it already; prepared here if None.
        kept: An earlier origin's fitted models (see :mod:`forecast.engine.forward`): kept
            here when empty, run forward from here when not; None: every model fitted.
        known: The brand's own estimates of its series at ``as_of`` (``OwnEstimates.series``):
            the profiles of the series they measured are taken, not measured again.

    Raises:
        NoSalesError: The brand has no active series up to ``as_of``.
    """
    series, n_inactive = _active_series(brand, sales, as_of, prepared)
    series = mark_stockouts(series, calendar)
    classes = demand_class(series) if classes is None else classes
    series = series.join(classes.select("unique_id"), on="unique_id")
    mine = priors.brands.filter(pl.col("brand") == brand.brand)
    plan = FitPlan.of(brand)
    borrowed = priors.borrowed_places(brand.brand)
    long, weights, imputed = forecast_series(
        series, classes, mine, calendar, plan, pooling, n_jobs, kept, borrowed, known
    )
    ages = history_weeks(plan.frequency)
    keys = series.group_by("unique_id", "brand", "market", "product").agg(history_weeks=ages)
    forecasts = long.join(keys, on="unique_id").join(
        applied_events(calendar), on=["unique_id", "ds"], how="left"
    )
    if forecasts["yhat"].null_count():
        bad = (
            forecasts.filter(pl.col("yhat").is_null())["unique_id"]
            .unique()
            .sort()
            .head(5)
            .to_list()
        )
        raise ValueError(f"brand {brand.brand!r}: models returned no value for series {bad}")
    return BrandForecast(forecasts, weights, n_inactive, series, imputed)


def _active_series(
    brand: BrandConfig,
    sales: pl.DataFrame,
    as_of: date,
    prepared: tuple[pl.DataFrame, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, int]:
    """The brand's active series up to ``as_of`` and how many were inactive; NoSalesError
    saying why when none is active."""
    if prepared is None:
        prepared = prepare_series(sales, as_of, brand.sales, brand.frequency)
    series, inactive = prepared
    if series.is_empty():
        why = (
            f"all {inactive.height} series have sold nothing in their last "
            f"{brand.sales.inactive_after_weeks} observed weeks up to {as_of} (or have no "
            "observed week in that many)"
            if inactive.height
            else f"no sales rows up to {as_of}"
        )
        raise NoSalesError(f"brand {brand.brand!r}: no active series to forecast: {why}")
    return series, inactive.height


@dataclass(frozen=True)
class FitPlan:
    """What to fit: horizon, competing models per demand class, and the data frequency."""

    horizon: int
    smooth: tuple[str, ...]
    intermittent: tuple[str, ...]
    frequency: Frequency = "weekly"

    @classmethod
    def of(cls, brand: BrandConfig) -> FitPlan:
        """A brand's plan: its candidates, plus the cold-start model every young series needs."""
        smooth = tuple(dict.fromkeys((*brand.model.candidates, COLD_START_MODEL)))
        return cls(brand.horizon, smooth, brand.model.intermittent_candidates, brand.frequency)


class SeriesForecast(NamedTuple):
    """What :func:`forecast_series` returns.

    Attributes:
        forecasts: Long forecasts with ``step`` and ``demand_class`` for every model.
        weights: ``unique_id, own_weight``: each series' own weight on its season profile.
        imputed: ``unique_id, ds, y``: the value the models saw on each unknown week.
    """

    forecasts: pl.DataFrame
    weights: pl.DataFrame
    imputed: pl.DataFrame


def forecast_series(
    series: pl.DataFrame,
    classes: pl.DataFrame,
    priors: pl.DataFrame,
    calendar: pl.DataFrame,
    plan: FitPlan,
    pooling: Pooling = "partial",
    n_jobs: int = 1,
    kept: FittedModels | None = None,
    borrowed: pl.DataFrame | None = None,
    known: SeriesProfiles | None = None,
) -> SeriesForecast:
    """Forecast series of one brand (or any member of a pool) with its pooled priors.

    Unknown weeks (null ``y``) are imputed from each series' level and offsets for the
    models (see :mod:`forecast.engine.imputation`); interval scales skip them.

    Args:
        series: ``unique_id, ds, y`` on a complete grid of ``plan.frequency``.
        classes: ``unique_id, demand_class``.
        priors: The member's rows of ``Priors.brands`` (``kind, key, shrunk``).
        calendar: Events per series (see ``events.series_calendar``).
        kept: See :func:`forecast_at`.
        borrowed: ``event, pos, n`` — where the pooled profile the member borrows carries
            an event (``Priors.borrowed_places``); None: nothing borrowed is known.
        known: See :func:`forecast_at`.
    """
    history, future, weights = _with_offsets(
        series, priors, calendar, plan, pooling, borrowed, known
    )
    history = impute_unknown(history.join(classes, on="unique_id"))
    smooth, sparse = (history.filter(pl.col("demand_class") == c) for c in DEMAND_CLASSES)
    freq = plan.frequency
    long = pl.concat(
        [
            forecast_smooth(smooth, future, list(plan.smooth), n_jobs, freq, kept),
            forecast_intermittent(sparse, future, list(plan.intermittent), freq),
            forecast_baseline(history, plan.horizon, freq),
        ]
    )
    long = add_combinations(
        long, list(plan.smooth), smooth["unique_id"].unique(maintain_order=True)
    )
    forecasts = long.join(future.select("unique_id", "ds", "step"), on=["unique_id", "ds"])
    imputed = history.filter(pl.col("is_imputed")).select("unique_id", "ds", "y")
    return SeriesForecast(forecasts.join(classes, on="unique_id"), weights, imputed)


def _with_offsets(
    series: pl.DataFrame,
    priors: pl.DataFrame,
    calendar: pl.DataFrame,
    plan: FitPlan,
    pooling: Pooling,
    borrowed: pl.DataFrame | None,
    known: SeriesProfiles | None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """History and future rows with each row's seasonal ``offset`` (series profiles shrunk
    toward the member's), and the series' own weights."""
    profile = priors.filter(pl.col("kind") == "season").select("key", "shrunk")
    events = priors.filter(pl.col("kind") == "event").select("key", "shrunk")
    # Series that have not seen every position yet are aligned to the profile they borrow.
    reference = profile.select("key", ref="shrunk")
    freq = plan.frequency
    est = series_estimates(series, calendar, freq, reference, known)
    held = held_events(series, calendar)
    own = event_places(held, est.told_apart, freq).filter("carried").select("event", "pos")
    # Events the member's history never held: its profile there is the pool's.
    lent = _never_held(borrowed, held)
    carried = pl.concat([own, lent.select("event", "pos")]).unique().sort("event", "pos")
    future = future_frame(series, plan.horizon, freq)
    future = _anchored(future, held, lent, calendar, carried, freq)
    calendar = _without_carried(calendar, carried, future, freq)
    # In a fixed order: the spread between series sums over them in this order.
    ids = series["unique_id"].unique(maintain_order=True)
    profiles, weights = shrink_series(est.measured.profiles, profile, ids, pooling)
    history = _cleaned(seasonal_offsets(series, profiles, events, calendar, freq), est.measured)
    future = seasonal_offsets(future, profiles, events, calendar, freq, planned=True)
    return history, future, weights


# How far either side of a carried event's week its season moves with it (weeks).
ANCHOR_WEEKS = 4


def _never_held(borrowed: pl.DataFrame | None, held: pl.DataFrame) -> pl.DataFrame:
    """``event, pos, n``: the borrowed places of the events ``held`` has no row of."""
    if borrowed is None:
        return pl.DataFrame(schema={"event": pl.String, "pos": pl.Int16, "n": pl.UInt32})
    return borrowed.join(held.select("event").unique(), on="event", how="anti")


def _anchored(
    future: pl.DataFrame,
    held: pl.DataFrame,
    lent: pl.DataFrame,
    calendar: pl.DataFrame,
    carried: pl.DataFrame,
    frequency: Frequency,
) -> pl.DataFrame:
    """Future rows with the season ``pos`` they read: their own, except near an event the
    profile carries (see ``_without_carried``), where they keep their distance to it.

    Christmas on a Saturday (2027) lands in week 50 after years in week 51: the profile
    carries its peak at 51, so the forecast would put it a week late, on New Year. Within
    ``ANCHOR_WEEKS`` of a carried event's week, a week reads the season at the event's
    usual place (where the series' history most often held it; for an event the member's
    history never held, ``lent``, where most of its pool's lenders carry it) plus its
    distance to the event: the weeks keep their distance to the event, as in the history.
    """
    pos = season_position(pl.col("ds"), frequency).cast(pl.Int16)
    future = future.with_columns(pos=pos)
    if frequency != "weekly" or carried.is_empty():
        return future
    m = SEASON_LENGTH[frequency]
    core = calendar.join(carried.select("event").unique(), on="event", how="semi")
    core = core.filter(pl.col("weight") == pl.col("weight").max().over("event"))
    # Where each series' history held the event's week: its usual place (the most recent
    # among equals; a week 53 folded into 51 is not where New Year usually is).
    place = (
        core.join(held.select("unique_id", "ds"), on=["unique_id", "ds"], how="semi")
        .group_by("unique_id", "event", held_pos=pos)
        .agg(n=pl.len(), last=pl.col("ds").max())
        .sort("n", "last")
        .group_by("unique_id", "event")
        .agg(pl.col("held_pos").last())
    )
    # Anchors: events the profile carries at their usual place (Christmas), not moving
    # holidays it carries at one odd position (their uplift places them by date).
    place = place.join(carried, left_on=["event", "held_pos"], right_on=["event", "pos"])
    # Events no series held: the place most of the pool's lenders carry them at.
    pooled = lent.sort("n", "pos").group_by("event").agg(held_pos=pl.col("pos").last())
    ids = future.select("unique_id").unique()
    place = pl.concat([place, ids.join(pooled, how="cross").select(place.columns)])
    anchors = (
        core.join(future.select("unique_id", "ds"), on=["unique_id", "ds"])
        .join(place, on=["unique_id", "event"])
        .select("unique_id", at="ds", held_pos="held_pos")
    )
    # Each week follows its nearest carried event: the event's usual place plus the weeks
    # between them. The same as the week's own position, unless the event moved, or a
    # week 53 (folded into 51) lies between (2026: New Year's week reads New Year's
    # season, not Christmas week's).
    weeks = (pl.col("ds") - pl.col("at")).dt.total_days() // 7
    near = (
        future.join(anchors, on="unique_id")
        .filter(weeks.abs() <= ANCHOR_WEEKS)
        .sort(weeks.abs())
        .unique(["unique_id", "ds"], keep="first")
        .select("unique_id", "ds", read=((pl.col("held_pos") + weeks) % m).cast(pl.Int16))
    )
    # A week-number wobble (one week either way), never a season read weeks away.
    off = (pl.col("read") - pl.col("pos") + m // 2) % m - m // 2
    return (
        future.join(near, on=["unique_id", "ds"], how="left")
        .with_columns(pos=pl.when(off.abs() <= 1).then("read").otherwise("pos"))
        .drop("read")
    )


def _without_carried(
    calendar: pl.DataFrame, carried: pl.DataFrame, future: pl.DataFrame, frequency: Frequency
) -> pl.DataFrame:
    """The calendar less the learned events at ``carried`` (event, position) pairs: where
    the history held them but could not tell them from the season (see
    ``priors.series_estimates``), and where the pooled profile a member borrows carries an
    event its own history never held (a brand launched after Christmas reads the pool's
    December, Christmas in it). Future rows are placed at the position they read the
    season from (``future.pos``, see ``_anchored``).

    The profile carries them there, so an uplift — measured at the event's other positions,
    or learned by the pool from other brands — would count them twice. A planned magnitude
    stays: it is what the planner said the period will do.
    """
    placed = calendar.join(
        future.select("unique_id", "ds", "pos"), on=["unique_id", "ds"], how="left"
    ).with_columns(pos=pl.coalesce("pos", season_position(pl.col("ds"), frequency)))
    drop = placed.join(carried, on=["event", "pos"], how="semi")
    drop = drop.filter(pl.col("planned").is_null()).select("unique_id", "ds", "event")
    return calendar.join(drop, on=["unique_id", "ds", "event"], how="anti")


def _cleaned(history: pl.DataFrame, measured: SeriesProfiles) -> pl.DataFrame:
    """History offsets plus each row's drift (the season of its own years) and the excess
    the robust profile estimate pulled out of an outlying week, so the fits see both."""
    return (
        history.join(measured.adjust, on=["unique_id", "ds"], how="left")
        .with_columns(offset=pl.col("offset") + pl.col("adjust").fill_null(0.0))
        .drop("adjust")
    )
