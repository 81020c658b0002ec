"""Own estimates: each brand's season profile and event uplifts, from its own sales alone.

Seasonality and event uplifts cross brand boundaries; level, trend and noise do not. On the
log1p scale every brand gets an *own* estimate of its season profile (one value per position
in the year) and of its event uplifts, with the sampling variance of that estimate;
:mod:`forecast.engine.pooling` then shrinks them toward their pools. :func:`seasonal_offsets` turns
a series' final profile and its brand's event uplifts into the offset the fits remove.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from forecast.engine.decomposition import decompose
from forecast.engine.pooling import combine, spread
from forecast.inputs.calendar import season_position
from forecast.vocabulary import SEASON_LENGTH, STOCKOUT, WEEKS_PER_PERIOD, Frequency

# Adjacent-week smoothing before pooling: a week-of-year mean from 2-3 years is noisy.
_KERNEL = {"weekly": (0.25, 0.5, 0.25), "monthly": (0.0, 1.0, 0.0), "quarterly": (0.0, 1.0, 0.0)}


@dataclass(frozen=True)
class OwnEstimates:
    """A brand's own estimates (phase 1, computed per brand from its sales alone).

    Attributes:
        season: ``brand, key (position), own, var`` — smoothed, centred profile.
        events: ``brand, key (event), own, var`` — log uplift of each moving event.
        stats: one row ``brand, history_weeks, n_series, n_profiled``.
    """

    season: pl.DataFrame
    events: pl.DataFrame
    stats: pl.DataFrame


def series_estimates(
    series: pl.DataFrame,
    calendar: pl.DataFrame,
    frequency: Frequency = "weekly",
    reference: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Residuals, the rows events touch, and each series' own profile.

    Args:
        series: ``unique_id, ds, y`` on a regular grid (null ``y``: unknown).
        calendar: The brand's events per series (see ``events.series_calendar``): the
            periods they touch are left out of the profile and measure their uplifts.
        reference: ``key, ref`` — the profile series that have not seen every position are
            aligned to. Without one, the mean profile of the series that have seen them all.

    Returns:
        ``(resid, event_rows, per_series)``: rows with ``pos`` and ``r`` (log1p minus trend,
        outliers pulled in), ``unique_id, ds, event, weight``, and ``unique_id, key, own,
        var`` (smoothed over adjacent positions; centred where every position was seen).
    """
    event_rows = _identified(series, _event_rows(series, calendar), frequency)
    dec = decompose(series, event_rows, frequency, reference)
    rows, season = dec.rows, dec.season
    partial = series.join(rows.select("unique_id").unique(), on="unique_id", how="anti")
    if reference is None and not partial.is_empty() and not season.is_empty():
        own = _smooth_and_centre(season, frequency)
        ref = _brand_profile(own).select("key", ref="own")
        more = decompose(partial, event_rows, frequency, ref)
        rows = pl.concat([rows, more.rows], how="diagonal_relaxed")
        season = pl.concat([season, more.season])
    return rows, event_rows, _smooth_and_centre(season, frequency)


def own_estimates(
    brand: str, series: pl.DataFrame, calendar: pl.DataFrame, frequency: Frequency = "weekly"
) -> OwnEstimates:
    """Phase 1 for one brand: its own season profile and event uplifts, from its sales only.

    Args:
        brand: Brand id.
        series: The brand's prepared series (``unique_id, market, ds, y``).
        calendar: The brand's events per series (see ``events.series_calendar``).
        frequency: Season length source.
    """
    resid, event_rows, per_series = series_estimates(series, calendar, frequency)
    season = _brand_profile(per_series)
    events = _brand_events(resid, event_rows, per_series, season)
    periods = series.group_by("unique_id").len()["len"].to_list() or [0]
    stats = pl.DataFrame(
        {
            "brand": [brand],
            "history_weeks": [round(max(periods) * WEEKS_PER_PERIOD[frequency])],
            "n_series": [series["unique_id"].n_unique()],
            "n_profiled": [per_series["unique_id"].n_unique()],
        }
    )
    tag = pl.lit(brand).alias("brand")
    return OwnEstimates(
        season=season.select(tag, pl.col("key").cast(pl.String), "own", "var"),
        events=events.select(tag, "key", "own", "var"),
        stats=stats,
    )


def _event_rows(series: pl.DataFrame, calendar: pl.DataFrame) -> pl.DataFrame:
    """Rows of the history an event touches: ``unique_id, ds, event, weight``."""
    return series.select("unique_id", "ds").join(
        calendar.select("unique_id", "ds", "event", "weight"), on=["unique_id", "ds"]
    )


def _identified(
    series: pl.DataFrame, event_rows: pl.DataFrame, frequency: Frequency
) -> pl.DataFrame:
    """Event rows at positions the profile can still be estimated at without them.

    A position is estimable when some series of the frame saw it (or, weekly, a position
    beside it: the profile is smoothed over adjacent weeks) without an event. An event
    every series has at the same month every year (Christmas in December) cannot be told
    from the season: its rows stay in the profile, which carries it, and it gets no uplift
    of its own (the forecast offset is then the profile alone).
    """
    m = SEASON_LENGTH[frequency]
    pos = season_position(pl.col("ds"), frequency)
    touched = event_rows.select("unique_id", "ds").unique()
    spread = [off for off, k in zip((-1, 0, 1), _KERNEL[frequency], strict=True) if k > 0]
    clean = (
        series.filter(pl.col("y").is_not_null())
        .join(touched, on=["unique_id", "ds"], how="anti")
        .select(pos=pos)
        .unique()
        .join(pl.DataFrame({"off": spread}), how="cross")
        .select(pos=((pl.col("pos") + pl.col("off")) % m).cast(pl.Int16))
        .unique()
    )
    with_pos = event_rows.with_columns(pos=pos.cast(pl.Int16))
    return with_pos.join(clean, on="pos", how="semi").drop("pos")


def _brand_profile(per_series: pl.DataFrame) -> pl.DataFrame:
    """``key, own, var``: precision-weighted mean of the series' profiles.

    Weights ``1 / (var + tau²)`` with tau² the DerSimonian–Laird spread between the series,
    so the brand's variance holds both their noise and their differences.
    """
    est = per_series.filter(pl.col("var") > 0).select(
        brand=pl.lit("b"), member="unique_id", key="key", own="own", var="var"
    )
    if est.is_empty():
        return pl.DataFrame(schema={"key": pl.Int16, "own": pl.Float64, "var": pl.Float64})
    tau2 = spread(est, "brand", ["b"], fallback=0.0)
    return combine(est, "brand", tau2).select("key", own="pooled", var="pooled_var")


def _brand_events(
    resid: pl.DataFrame, event_rows: pl.DataFrame, per_series: pl.DataFrame, brand: pl.DataFrame
) -> pl.DataFrame:
    """Event uplift per brand: weighted mean of series uplifts beyond their profile.

    A series whose every year has the event at that position (a promotion each September)
    has no profile there of its own: its uplift is measured against the brand's profile,
    which its sibling series without the event give.
    """
    schema = {"key": pl.String, "own": pl.Float64, "var": pl.Float64}
    if event_rows.is_empty() or per_series.is_empty():
        return pl.DataFrame(schema=schema)
    own = per_series.select("unique_id", pos="key", season="own")
    rows = (
        event_rows.filter(pl.col("event") != STOCKOUT)  # censored sales, not an uplift
        .join(resid.select("unique_id", "ds", "pos", "r"), on=["unique_id", "ds"])
        .join(own, on=["unique_id", "pos"], how="left")
        .join(brand.select(pl.col("key").cast(pl.Int16).alias("pos"), "own"), on="pos", how="left")
        .with_columns(season=pl.coalesce("season", "own"))
        .filter(pl.col("r").is_not_null(), pl.col("season").is_not_null())
    )
    w, e = pl.col("weight"), pl.col("r") - pl.col("season")
    # group_by order is random: sorted, so the means over series sum in one order
    uplift = (
        rows.group_by("unique_id", "event")
        .agg(u=(w * e).sum() / (w * w).sum(), sw2=(w * w).sum())
        .sort("unique_id", "event")
    )
    noise = per_series.group_by("unique_id").agg(sigma2=(pl.col("var")).mean())
    out = (
        uplift.join(noise, on="unique_id")
        .group_by("event")
        .agg(
            own=pl.col("u").mean(),
            n=pl.len(),
            spread=pl.col("u").var(),
            floor=(pl.col("sigma2") / pl.col("sw2")).mean(),
        )
        .sort("event")
    )
    var = pl.when(pl.col("n") >= 2).then(pl.col("spread") / pl.col("n")).otherwise(pl.col("floor"))
    return out.select(
        key="event", own="own", var=pl.max_horizontal(var, pl.col("floor") / pl.col("n"))
    )


def _smooth_and_centre(est: pl.DataFrame, frequency: Frequency) -> pl.DataFrame:
    """Circular adjacent-position smoothing, then mean zero where every position was seen.

    Series that have not seen every position stay aligned to their reference (no
    centring); smoothing spreads what they saw into adjacent unseen positions.
    """
    m = SEASON_LENGTH[frequency]
    kernel = pl.DataFrame({"off": [-1, 0, 1], "k": list(_KERNEL[frequency])}).filter(
        pl.col("k") > 0
    )
    spread_rows = est.join(kernel, how="cross").with_columns(
        key=((pl.col("key") + pl.col("off")) % m).cast(pl.Int16)
    )
    smooth = (
        spread_rows.group_by("unique_id", "key")
        .agg(
            own=(pl.col("k") * pl.col("own")).sum() / pl.col("k").sum(),
            var=(pl.col("k") ** 2 * pl.col("var")).sum() / pl.col("k").sum() ** 2,
            full=pl.col("full").first(),
        )
        .sort("unique_id", "key")
    )  # the centring mean sums in row order
    mean = pl.col("own").mean().over("unique_id")
    centred = pl.when(pl.col("full")).then(pl.col("own") - mean).otherwise(pl.col("own"))
    return smooth.with_columns(own=centred).drop("full")


def seasonal_offsets(
    frame: pl.DataFrame,
    profiles: pl.DataFrame,
    events: pl.DataFrame,
    calendar: pl.DataFrame,
    frequency: Frequency = "weekly",
    planned: bool = False,
) -> pl.DataFrame:
    """Add ``offset`` (log1p scale): the series' season at the row's position plus events.

    Args:
        frame: rows with ``unique_id, ds``.
        profiles: ``unique_id, pos, season``.
        events: ``key (event), shrunk`` of the brand.
        calendar: The brand's events per series (see ``events.series_calendar``).
        planned: Forecast periods: an event's planned uplift (its magnitude), where given,
            replaces the uplift learned for its type.
    """
    with_pos = frame.with_columns(pos=season_position(pl.col("ds"), frequency))
    season = with_pos.join(profiles, on=["unique_id", "pos"], how="left")
    learned = calendar.join(events.select(event="key", uplift="shrunk"), on="event", how="left")
    uplift = pl.coalesce("planned", "uplift") if planned else pl.col("uplift")
    lift = learned.group_by("unique_id", "ds").agg(
        event=(pl.col("weight") * uplift.fill_null(0.0)).sum()
    )
    return (
        season.join(lift, on=["unique_id", "ds"], how="left")
        .with_columns(offset=pl.col("season").fill_null(0.0) + pl.col("event").fill_null(0.0))
        .drop("pos", "season", "event")
    )
