"""Pooled cross-brand priors: own seasonal/event estimates, pools, empirical-Bayes shrinkage.

Seasonality and event uplifts cross brand boundaries; level, trend and noise do not. On the
log1p scale every brand gets an *own* estimate of its season profile (one value per position
in the year) and of its event uplifts, with the sampling variance of that estimate. Those
estimates are then combined in a normal–normal hierarchy:

    own_b ~ N(theta_b, s_b²),   theta_b ~ N(mu_pool, tau²_pool),   mu_pool ~ N(mu_group, tau²_group)

``tau²`` (spread between members) comes from the data (DerSimonian–Laird moments, pooled over
positions). A member keeps ``w = tau² / (tau² + s²)`` of its own estimate and borrows the
rest from its pool: no history → ``s² = ∞`` → ``w = 0``; long clean history → ``w → 1``.
The same rule shrinks pools toward the group, and series toward their brand
(:func:`shrink_series`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from forecast.calendar import SEASON_LENGTH, Frequency, season_position

# Adjacent-week smoothing before pooling: a week-of-year mean from 2-3 years is noisy.
_KERNEL = {"weekly": (0.25, 0.5, 0.25), "monthly": (0.0, 1.0, 0.0), "quarterly": (0.0, 1.0, 0.0)}
_MIN_MEMBERS_FOR_OWN_SPREAD = 3
GROUP = "group"
Pooling = Literal["partial", "none", "full"]


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


@dataclass(frozen=True)
class Priors:
    """Shrunk profiles for every brand, the pools they borrow from, and the weights.

    Attributes:
        brands: ``brand, kind, key, own, pooled, shrunk`` — what forecasts use.
        pools: ``level, pool, kind, key, own, pooled, shrunk`` for sectors and the group.
        weights: ``level, name, pool, kind, own_weight, noise_var, between_var``.
    """

    brands: pl.DataFrame
    pools: pl.DataFrame
    weights: pl.DataFrame


def log_residuals(series: pl.DataFrame, frequency: Frequency = "weekly") -> pl.DataFrame:
    """log1p(y) minus a centred one-season moving level, with the season position.

    Only series with at least one full season get a level (the ends take the nearest
    full-window level); shorter ones have ``r = null`` and estimate nothing of their own.
    """
    m = SEASON_LENGTH[frequency]
    level = pl.col("ly").rolling_mean(window_size=m, center=True, min_samples=m).over("unique_id")
    return (
        series.with_columns(
            ly=pl.col("y").clip(0).log1p(), pos=season_position(pl.col("ds"), frequency)
        )
        .with_columns(level=level)
        .with_columns(level=pl.col("level").forward_fill().backward_fill().over("unique_id"))
        .with_columns(r=pl.col("ly") - pl.col("level"))
    )


def series_season(
    resid: pl.DataFrame, event_rows: pl.DataFrame, frequency: Frequency
) -> pl.DataFrame:
    """Each series' own profile: ``unique_id, key, own, var`` (weeks with events left out)."""
    clean = resid.join(
        event_rows.select("unique_id", "ds").unique(), on=["unique_id", "ds"], how="anti"
    )
    clean = clean.filter(pl.col("r").is_not_null())
    per_pos = clean.group_by("unique_id", "pos").agg(own=pl.col("r").mean(), n=pl.len())
    noise = (
        clean.join(per_pos, on=["unique_id", "pos"])
        .group_by("unique_id")
        .agg(
            sigma2=((pl.col("r") - pl.col("own")) ** 2).sum()
            / (pl.len() - pl.col("pos").n_unique()).clip(1)
        )
    )
    est = per_pos.join(noise, on="unique_id").with_columns(
        var=pl.col("sigma2").clip(1e-4) / pl.col("n")
    )
    return _smooth_and_centre(est.rename({"pos": "key"}), "unique_id", frequency)


def series_estimates(
    series: pl.DataFrame, calendar: pl.DataFrame, frequency: Frequency = "weekly"
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Residuals, the rows events touch, and each series' own profile (see series_season)."""
    resid = log_residuals(series, frequency)
    event_rows = _event_rows(resid, calendar, frequency)
    return resid, event_rows, series_season(resid, event_rows, frequency)


def own_estimates(
    brand: str, series: pl.DataFrame, calendar: pl.DataFrame, frequency: Frequency = "weekly"
) -> OwnEstimates:
    """Phase 1 for one brand: its own season profile and event uplifts, from its sales only.

    Args:
        brand: Brand id.
        series: The brand's prepared series (``unique_id, region, ds, y``).
        calendar: ``event, region, ds, weight`` rows (see ``calendar.event_calendar``).
        frequency: Season length source; events are only placed on weekly data.
    """
    resid, event_rows, per_series = series_estimates(series, calendar, frequency)
    season = _brand_mean(per_series.rename({"unique_id": "member"}), frequency)
    events = _brand_events(resid, event_rows, per_series)
    weeks = series.group_by("unique_id").len()["len"]
    stats = pl.DataFrame(
        {
            "brand": [brand],
            "history_weeks": [weeks.max() or 0],
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


def _event_rows(resid: pl.DataFrame, calendar: pl.DataFrame, frequency: Frequency) -> pl.DataFrame:
    """Rows of the history that a moving event touches: ``unique_id, ds, event, weight``."""
    if frequency != "weekly" or calendar.is_empty():
        return pl.DataFrame(
            schema={"unique_id": pl.String, "ds": pl.Date, "event": pl.String, "weight": pl.Float64}
        )
    return (
        resid.select("unique_id", "region", "ds").join(calendar, on=["region", "ds"]).drop("region")
    )


def _brand_mean(per_series: pl.DataFrame, frequency: Frequency) -> pl.DataFrame:
    """Brand profile = mean of its series' profiles; variance from their spread."""
    stats = per_series.group_by("key").agg(
        own=pl.col("own").mean(),
        n=pl.len(),
        spread=pl.col("own").var(),
        noise=pl.col("var").mean(),
    )
    # With one series the spread is unknown: fall back on its sampling variance.
    var = pl.when(pl.col("n") >= 2).then(pl.col("spread") / pl.col("n")).otherwise(pl.col("noise"))
    return stats.select("key", "own", var=pl.max_horizontal(var, pl.col("noise") / pl.col("n")))


def _brand_events(
    resid: pl.DataFrame, event_rows: pl.DataFrame, per_series: pl.DataFrame
) -> pl.DataFrame:
    """Event uplift per brand: weighted mean of series uplifts beyond their profile."""
    schema = {"key": pl.String, "own": pl.Float64, "var": pl.Float64}
    if event_rows.is_empty() or per_series.is_empty():
        return pl.DataFrame(schema=schema)
    rows = (
        event_rows.join(resid.select("unique_id", "ds", "pos", "r"), on=["unique_id", "ds"])
        .join(per_series.select("unique_id", pos="key", season="own"), on=["unique_id", "pos"])
        .filter(pl.col("r").is_not_null())
    )
    w, e = pl.col("weight"), pl.col("r") - pl.col("season")
    uplift = rows.group_by("unique_id", "event").agg(
        u=(w * e).sum() / (w * w).sum(), sw2=(w * w).sum()
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
    )
    var = pl.when(pl.col("n") >= 2).then(pl.col("spread") / pl.col("n")).otherwise(pl.col("floor"))
    return out.select(
        key="event", own="own", var=pl.max_horizontal(var, pl.col("floor") / pl.col("n"))
    )


def _smooth_and_centre(est: pl.DataFrame, member: str, frequency: Frequency) -> pl.DataFrame:
    """Circular adjacent-position smoothing, then mean-zero profiles; variance follows."""
    m = SEASON_LENGTH[frequency]
    kernel = pl.DataFrame({"off": [-1, 0, 1], "k": list(_KERNEL[frequency])}).filter(
        pl.col("k") > 0
    )
    spread = est.join(kernel, how="cross").with_columns(
        key=((pl.col("key") + pl.col("off")) % m).cast(pl.Int16)
    )
    smooth = spread.group_by(member, "key").agg(
        own=(pl.col("k") * pl.col("own")).sum() / pl.col("k").sum(),
        var=(pl.col("k") ** 2 * pl.col("var")).sum() / pl.col("k").sum() ** 2,
    )
    return smooth.with_columns(own=pl.col("own") - pl.col("own").mean().over(member))


# ---------------------------------------------------------------- pooling and shrinkage


def between_variance(est: pl.DataFrame, by: str) -> pl.DataFrame:
    """DerSimonian–Laird spread between members of each group, pooled over keys.

    Args:
        est: ``<by>, member, key, own, var`` with finite ``own`` and ``var > 0``.
        by: Group column.

    Returns:
        ``<by>, tau2, n_members`` (``tau2`` null when fewer than two members).
    """
    w = 1.0 / pl.col("var")
    per_key = est.group_by(by, "key").agg(
        sw=w.sum(),
        sw2=(w * w).sum(),
        swv=(w * pl.col("own")).sum(),
        swv2=(w * pl.col("own") ** 2).sum(),
        n=pl.len(),
    )
    q = pl.col("swv2") - pl.col("swv") ** 2 / pl.col("sw")
    c = pl.col("sw") - pl.col("sw2") / pl.col("sw")
    totals = per_key.group_by(by).agg(Q=q.sum(), df=(pl.col("n") - 1).sum(), C=c.sum())
    members = est.group_by(by).agg(n_members=pl.col("member").n_unique())
    tau2 = pl.when(pl.col("C") > 0).then(((pl.col("Q") - pl.col("df")) / pl.col("C")).clip(0.0))
    return totals.join(members, on=by).select(by, tau2=tau2, n_members="n_members")


def _with_tau2(est: pl.DataFrame, by: str) -> pl.DataFrame:
    """Each group's tau², or the all-groups value where a group has too few members."""
    own = between_variance(est, by)
    overall = between_variance(est.with_columns(pl.lit("*").alias(by)), by)["tau2"]
    fallback = float(overall[0]) if overall.len() and overall[0] is not None else 0.0
    usable = (pl.col("n_members") >= _MIN_MEMBERS_FOR_OWN_SPREAD) & pl.col("tau2").is_not_null()
    return own.with_columns(tau2=pl.when(usable).then("tau2").otherwise(pl.lit(fallback)))


def combine(est: pl.DataFrame, by: str, tau2: pl.DataFrame) -> pl.DataFrame:
    """Precision-weighted pool of members: ``<by>, key, pooled, pooled_var``."""
    w = 1.0 / (pl.col("var") + pl.col("tau2"))
    return (
        est.join(tau2.select(by, "tau2"), on=by)
        .group_by(by, "key")
        .agg(pooled=(w * pl.col("own")).sum() / w.sum(), pooled_var=1.0 / w.sum())
    )


def shrink(
    est: pl.DataFrame,
    target: pl.DataFrame,
    tau2: pl.DataFrame,
    by: str,
    pooling: Pooling = "partial",
) -> pl.DataFrame:
    """Move each member toward its group's ``pooled`` value by the empirical-Bayes weight.

    Args:
        est: ``<by>, member, key, own, var``; ``own`` null means no estimate of its own.
        target: ``<by>, key, pooled`` for every key.
        tau2: ``<by>, tau2``.
        pooling: ``partial`` (empirical Bayes); the two extremes exist for comparison:
            ``none`` keeps every own estimate (flat where there is none), ``full`` takes the
            pool's value everywhere.

    Returns:
        ``est`` keys plus ``pooled, shrunk, own_weight, noise_var`` (one weight per member,
        from its mean sampling variance over keys).
    """
    noise = (
        est.filter(pl.col("own").is_not_null())
        .group_by("member")
        .agg(noise_var=pl.col("var").mean())
    )
    tau = tau2.select(by, pl.col("tau2").alias("between_var"))
    weight = pl.col("between_var") / (pl.col("between_var") + pl.col("noise_var"))
    has_own = pl.col("own").is_not_null() & pl.col("noise_var").is_not_null()
    own_weight = {
        "partial": pl.when(~has_own)
        .then(0.0)
        .when(pl.col("noise_var") <= 0)
        .then(1.0)
        .otherwise(weight.fill_nan(0.0))
        .fill_null(0.0),
        "none": pl.lit(1.0),
        "full": pl.lit(0.0),
    }[pooling]
    return (
        est.join(target.select(by, "key", "pooled"), on=[by, "key"], how="left")
        .join(noise, on="member", how="left")
        .join(tau, on=by, how="left")
        .with_columns(own_weight=own_weight)
        .with_columns(
            shrunk=pl.col("own_weight") * pl.col("own").fill_null(0.0)
            + (1 - pl.col("own_weight")) * pl.col("pooled").fill_null(0.0)
        )
    )


def pool_priors(
    estimates: list[OwnEstimates],
    pools: dict[str, str | None],
    all_pools: list[str],
    pooling: Pooling = "partial",
    frequency: Frequency = "weekly",
) -> Priors:
    """Phase 2: pool brands into sectors and sectors into the group; shrink every level.

    Args:
        estimates: Own estimates of every brand in the run.
        pools: Brand → pool it borrows from and contributes to; None opts the brand out
            (it keeps its own profile, flat where it has none, and lends nothing).
        all_pools: Every pool that must have a profile, members or not (the sectors).
        pooling: How brands use their pool (see :func:`shrink`); pools always shrink
            toward the group by empirical Bayes.
        frequency: Gives the season positions every brand gets a profile for.
    """
    parts = {
        kind: pl.concat([getattr(e, kind) for e in estimates]).with_columns(kind=pl.lit(kind))
        for kind in ("season", "events")
    }
    own = pl.concat(parts.values()).with_columns(
        kind=pl.col("kind").replace({"events": "event"}),
        pool=pl.col("brand").replace_strict(pools, default=None, return_dtype=pl.String),
    )
    positions = pl.DataFrame(
        {"kind": "season", "key": [str(k) for k in range(SEASON_LENGTH[frequency])]}
    )
    keys = pl.concat([positions, own.select("kind", "key")]).unique()
    brands_rows, pool_rows, weight_rows = [], [], []
    for kind in ("season", "event"):
        b, p, w = _pool_kind(
            own.filter(pl.col("kind") == kind),
            keys.filter(pl.col("kind") == kind),
            pools,
            all_pools,
            pooling,
        )
        brands_rows.append(b.with_columns(kind=pl.lit(kind)))
        pool_rows.append(p.with_columns(kind=pl.lit(kind)))
        weight_rows.append(w.with_columns(kind=pl.lit(kind)))
    return Priors(
        brands=pl.concat(brands_rows, how="diagonal_relaxed"),
        pools=pl.concat(pool_rows, how="diagonal_relaxed"),
        weights=pl.concat(weight_rows, how="diagonal_relaxed"),
    )


def _pool_kind(
    own: pl.DataFrame,
    keys: pl.DataFrame,
    pools: dict[str, str | None],
    all_pools: list[str],
    pooling: Pooling,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The three-level hierarchy for one kind (season positions or events)."""
    key_list = keys.select("key")
    brands = pl.DataFrame(
        {"brand": list(pools), "pool": list(pools.values())},
        schema={"brand": pl.String, "pool": pl.String},
    )
    grid = brands.join(key_list, how="cross").join(
        own.select("brand", "key", "own", "var"), on=["brand", "key"], how="left"
    )
    grid = grid.with_columns(own=pl.when(pl.col("var").is_finite()).then("own"))
    members = grid.filter(pl.col("pool").is_not_null()).rename({"brand": "member"})
    lenders = members.filter(pl.col("own").is_not_null() & (pl.col("var") > 0))
    tau_pool = _with_tau2(lenders, "pool") if not lenders.is_empty() else _empty_tau("pool")
    pool_est = combine(lenders, "pool", tau_pool)

    # Pools (sectors) shrink toward the group the same way.
    pool_grid = (
        pl.DataFrame({"member": all_pools})
        .join(key_list, how="cross")
        .join(
            pool_est.rename({"pool": "member", "pooled": "own", "pooled_var": "var"}),
            on=["member", "key"],
            how="left",
        )
        .with_columns(group=pl.lit(GROUP))
    )
    pool_lenders = pool_grid.filter(pl.col("own").is_not_null())
    tau_group = (
        _with_tau2(pool_lenders, "group") if not pool_lenders.is_empty() else _empty_tau("group")
    )
    group_est = (
        combine(pool_lenders, "group", tau_group)
        if not pool_lenders.is_empty()
        else key_list.with_columns(group=pl.lit(GROUP), pooled=pl.lit(0.0))
    )
    group_target = (
        key_list.with_columns(group=pl.lit(GROUP))
        .join(group_est.select("group", "key", "pooled"), on=["group", "key"], how="left")
        .with_columns(pl.col("pooled").fill_null(0.0))
    )
    pools_shrunk = shrink(
        pool_grid,
        group_target,
        tau_group.with_columns(group=pl.lit(GROUP))
        if not tau_group.is_empty()
        else pl.DataFrame({"group": [GROUP], "tau2": [0.0]}),
        "group",
    )

    target = pools_shrunk.select(pool="member", key="key", pooled="shrunk")
    tau_all = (
        pl.DataFrame({"pool": all_pools})
        .join(tau_pool.select("pool", "tau2"), on="pool", how="left")
        .with_columns(pl.col("tau2").fill_null(_fallback(tau_pool)))
    )
    brand_shrunk = shrink(members, target, tau_all, "pool", pooling).rename({"member": "brand"})
    opted = grid.filter(pl.col("pool").is_null()).with_columns(
        pool=pl.lit("none"),
        pooled=pl.col("own").fill_null(0.0),
        shrunk=pl.col("own").fill_null(0.0),
        own_weight=pl.lit(1.0),
        noise_var=pl.lit(None, pl.Float64),
        between_var=pl.lit(0.0),
    )
    brand_rows = pl.concat([brand_shrunk, opted], how="diagonal_relaxed")
    pool_rows = pl.concat(
        [
            pools_shrunk.select(
                level=pl.lit("sector"),
                pool="member",
                key="key",
                own="own",
                pooled="pooled",
                shrunk="shrunk",
            ),
            group_target.select(
                level=pl.lit(GROUP),
                pool="group",
                key="key",
                own=pl.col("pooled"),
                pooled="pooled",
                shrunk="pooled",
            ),
        ]
    )
    weights = pl.concat(
        [
            brand_rows.group_by("brand", "pool")
            .agg(pl.col("own_weight").max(), pl.col("noise_var").max(), pl.col("between_var").max())
            .select(
                level=pl.lit("brand"),
                name="brand",
                pool="pool",
                own_weight="own_weight",
                noise_var="noise_var",
                between_var="between_var",
            ),
            pools_shrunk.group_by("member")
            .agg(pl.col("own_weight").max(), pl.col("noise_var").max(), pl.col("between_var").max())
            .select(
                level=pl.lit("sector"),
                name="member",
                pool=pl.lit(GROUP),
                own_weight="own_weight",
                noise_var="noise_var",
                between_var="between_var",
            ),
        ],
        how="diagonal_relaxed",
    )
    return brand_rows.select("brand", "pool", "key", "own", "pooled", "shrunk"), pool_rows, weights


def _empty_tau(by: str) -> pl.DataFrame:
    return pl.DataFrame(schema={by: pl.String, "tau2": pl.Float64, "n_members": pl.UInt32})


def _fallback(tau: pl.DataFrame) -> float:
    values = tau["tau2"].drop_nulls()
    return float(values.median()) if values.len() else 0.0  # type: ignore[arg-type]


def shrink_series(
    per_series: pl.DataFrame,
    brand_profile: pl.DataFrame,
    all_series: pl.Series,
    pooling: Pooling = "partial",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Series inside a brand shrink toward the brand's shrunk profile.

    Args:
        per_series: ``unique_id, key, own, var`` (see :func:`series_season`).
        brand_profile: ``key, shrunk`` — the brand's profile after pooling.
        all_series: Every series id to profile (series without own estimates take the brand's).
        pooling: See :func:`shrink`.

    Returns:
        ``(profiles, weights)``: ``unique_id, pos, season`` and ``unique_id, own_weight``.
    """
    est = pl.DataFrame({"member": all_series}).join(
        brand_profile.select(pl.col("key").cast(pl.Int16)), how="cross"
    )
    est = est.join(
        per_series.rename({"unique_id": "member"}), on=["member", "key"], how="left"
    ).with_columns(grp=pl.lit("b"))
    lenders = est.filter(pl.col("own").is_not_null() & (pl.col("var") > 0))
    tau = between_variance(lenders, "grp") if not lenders.is_empty() else _empty_tau("grp")
    usable = tau.filter(pl.col("n_members") >= _MIN_MEMBERS_FOR_OWN_SPREAD)
    tau2 = float(usable["tau2"][0]) if usable.height and usable["tau2"][0] is not None else 0.0
    target = brand_profile.select(pl.col("key").cast(pl.Int16), pooled="shrunk").with_columns(
        grp=pl.lit("b")
    )
    out = shrink(est, target, pl.DataFrame({"grp": ["b"], "tau2": [tau2]}), "grp", pooling)
    profiles = out.select(unique_id="member", pos="key", season="shrunk")
    weights = out.group_by("member").agg(pl.col("own_weight").max()).rename({"member": "unique_id"})
    return profiles, weights


def seasonal_offsets(
    frame: pl.DataFrame,
    profiles: pl.DataFrame,
    events: pl.DataFrame,
    calendar: pl.DataFrame,
    frequency: Frequency = "weekly",
) -> pl.DataFrame:
    """Add ``offset`` (log1p scale): the series' season at the row's position plus events.

    Args:
        frame: rows with ``unique_id, region, ds``.
        profiles: ``unique_id, pos, season``.
        events: ``key (event), shrunk`` of the brand.
        calendar: ``event, region, ds, weight``.
    """
    with_pos = frame.with_columns(pos=season_position(pl.col("ds"), frequency))
    season = with_pos.join(profiles, on=["unique_id", "pos"], how="left")
    if events.is_empty() or frequency != "weekly":
        return season.with_columns(offset=pl.col("season").fill_null(0.0)).drop("pos", "season")
    lift = (
        calendar.join(events.select(event="key", uplift="shrunk"), on="event")
        .group_by("region", "ds")
        .agg(event=(pl.col("weight") * pl.col("uplift")).sum())
    )
    return (
        season.join(lift, on=["region", "ds"], how="left")
        .with_columns(offset=pl.col("season").fill_null(0.0) + pl.col("event").fill_null(0.0))
        .drop("pos", "season", "event")
    )


def flat_profile(frequency: Frequency = "weekly") -> pl.DataFrame:
    """A profile of zeros (no seasonality): ``key, shrunk``."""
    return pl.DataFrame({"key": np.arange(SEASON_LENGTH[frequency]).astype(str), "shrunk": 0.0})
