"""Pools and empirical-Bayes shrinkage: brands toward sectors, sectors toward the group.

Own estimates (see :mod:`forecast.engine.priors`) are combined in a normal–normal hierarchy:

    own_b ~ N(theta_b, s_b²),   theta_b ~ N(mu_pool, tau²_pool),   mu_pool ~ N(mu_group, tau²_group)

``tau²`` (spread between members) comes from the data (DerSimonian–Laird moments, pooled
over keys). A member keeps ``w = tau² / (tau² + s²)`` of its own estimate and borrows the
rest from its pool: no history → ``s² = ∞`` → ``w = 0``; long clean history → ``w → 1``.
The same rule shrinks pools toward the group, and series toward their brand
(:func:`shrink_series`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from forecast.vocabulary import GROUP, SEASON_LENGTH, Frequency, Pooling

if TYPE_CHECKING:  # priors imports the pooling maths for its brand profiles
    from forecast.engine.priors import OwnEstimates

# The ``pool`` of a brand that opted out of pooling (``pool = none`` in its config).
OPTED_OUT = "none"

# Fewer members than this cannot measure their own spread; they use everyone's.
MIN_MEMBERS_FOR_OWN_SPREAD = 3


@dataclass(frozen=True)
class Priors:
    """Shrunk profiles for every brand, the pools they borrow from, and the weights.

    Attributes:
        brands: ``brand, pool, kind, key, own, pooled, shrunk`` — what forecasts use.
        pools: ``level, pool, kind, key, own, pooled, shrunk`` for sectors and the group.
        weights: ``level, name, pool, kind, own_weight, noise_var, between_var``.
        carried: ``pool, event, pos, n`` for sectors and the group: where the pool's profile
            carries an event (more than half of its ``n`` lenders that held the event there
            could not tell it from the season). A brand whose history never held the event
            borrows the profile with the event in it (see :meth:`borrowed_places`).
    """

    brands: pl.DataFrame
    pools: pl.DataFrame
    weights: pl.DataFrame
    carried: pl.DataFrame

    def borrowed_places(self, brand: str) -> pl.DataFrame:
        """``event, pos, n``: where the profile ``brand`` borrows carries each event — its
        sector's, or the group's for events no lender of its sector held there. Empty for
        a brand that opted out of pooling."""
        pool = self.brands.filter(pl.col("brand") == brand)["pool"].drop_nulls()
        if pool.is_empty() or pool[0] == OPTED_OUT:
            return self.carried.select("event", "pos", "n").clear()
        sector = self.carried.filter(pl.col("pool") == pool[0])
        group = self.carried.filter(pl.col("pool") == GROUP)
        rest = group.join(sector, on="event", how="anti")
        return pl.concat([sector, rest]).select("event", "pos", "n").sort("event", "pos")


def between_variance(est: pl.DataFrame, by: str) -> pl.DataFrame:
    """DerSimonian–Laird spread between members of each group, pooled over keys.

    Args:
        est: ``<by>, member, key, own, var`` with finite ``own`` and ``var > 0``.
        by: Group column.

    Returns:
        ``<by>, tau2, n_members`` (``tau2`` null when fewer than two members).
    """
    w = 1.0 / pl.col("var")
    # group_by order is random: sorted, so the sums over keys below run in one order
    per_key = (
        est.group_by(by, "key")
        .agg(
            sw=w.sum(),
            sw2=(w * w).sum(),
            swv=(w * pl.col("own")).sum(),
            swv2=(w * pl.col("own") ** 2).sum(),
            n=pl.len(),
        )
        .sort(by, "key")
    )
    q = pl.col("swv2") - pl.col("swv") ** 2 / pl.col("sw")
    c = pl.col("sw") - pl.col("sw2") / pl.col("sw")
    totals = per_key.group_by(by).agg(Q=q.sum(), df=(pl.col("n") - 1).sum(), C=c.sum())
    members = est.group_by(by).agg(n_members=pl.col("member").n_unique())
    tau2 = pl.when(pl.col("C") > 0).then(((pl.col("Q") - pl.col("df")) / pl.col("C")).clip(0.0))
    return totals.join(members, on=by).select(by, tau2=tau2, n_members="n_members")


def spread(
    lenders: pl.DataFrame, by: str, groups: list[str], fallback: float | None = None
) -> pl.DataFrame:
    """``<by>, tau2`` for every group in ``groups``.

    A group with at least three lending members gets its own spread; the others get
    ``fallback`` — by default the spread of all lenders taken together (0 without any).
    """
    if fallback is None:
        overall = between_variance(lenders.with_columns(pl.lit("*").alias(by)), by)["tau2"]
        fallback = float(overall[0]) if overall.len() and overall[0] is not None else 0.0
    own = between_variance(lenders, by).filter(
        (pl.col("n_members") >= MIN_MEMBERS_FOR_OWN_SPREAD) & pl.col("tau2").is_not_null()
    )
    every = pl.DataFrame({by: groups}, schema={by: pl.String})
    return every.join(own.select(by, "tau2"), on=by, how="left").with_columns(
        pl.col("tau2").fill_null(fallback)
    )


def combine(est: pl.DataFrame, by: str, tau2: pl.DataFrame) -> pl.DataFrame:
    """Precision-weighted pool of members: ``<by>, key, pooled, pooled_var``."""
    w = 1.0 / (pl.col("var") + pl.col("tau2"))
    return (
        est.join(tau2.select(by, "tau2"), on=by)
        .group_by(by, "key")
        .agg(pooled=(w * pl.col("own")).sum() / w.sum(), pooled_var=1.0 / w.sum())
        .sort(by, "key")
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
        ``est`` plus ``pooled, shrunk, own_weight, noise_var, between_var`` (one weight per
        member, from its mean sampling variance over keys). ``between_var`` is the group's
        spread, or the member's own distance from the pool beyond its noise where that is
        larger: a member unlike the others (a series peaking in another month) is not pulled
        toward a shape it does not share, a heavy-tailed prior in effect.
    """
    with_target = est.join(target.select(by, "key", "pooled"), on=[by, "key"], how="left")
    noise = (
        with_target.filter(pl.col("own").is_not_null())
        .group_by("member")
        .agg(
            noise_var=pl.col("var").mean(),
            distance=((pl.col("own") - pl.col("pooled")) ** 2).mean(),
        )
        .sort("member")
    )
    tau = tau2.select(by, "tau2")
    between = pl.max_horizontal(
        pl.col("tau2"), (pl.col("distance") - pl.col("noise_var")).fill_null(0.0)
    )
    return (
        with_target.join(noise, on="member", how="left")
        .join(tau, on=by, how="left")
        .with_columns(between_var=between)
        .drop("tau2", "distance")
        .with_columns(own_weight=_own_weight(pooling))
        .with_columns(
            shrunk=pl.col("own_weight") * pl.col("own").fill_null(0.0)
            + (1 - pl.col("own_weight")) * pl.col("pooled").fill_null(0.0)
        )
    )


def _own_weight(pooling: Pooling) -> pl.Expr:
    """``tau² / (tau² + s²)`` for partial pooling: 0 without an own estimate, 1 without
    noise; the extremes keep 1 (none) or 0 (full) everywhere."""
    if pooling != "partial":
        return pl.lit(1.0 if pooling == "none" else 0.0)
    weight = pl.col("between_var") / (pl.col("between_var") + pl.col("noise_var"))
    has_own = pl.col("own").is_not_null() & pl.col("noise_var").is_not_null()
    return (
        pl.when(~has_own)
        .then(0.0)
        .when(pl.col("noise_var") <= 0)
        .then(1.0)
        .otherwise(weight.fill_nan(0.0))
        .fill_null(0.0)
    )


def pool_priors(
    estimates: list[OwnEstimates],
    pools: dict[str, str | None],
    all_pools: list[str],
    pooling: Pooling = "partial",
    frequency: Frequency = "weekly",
) -> Priors:
    """Pool brands into sectors and sectors into the group; shrink every level.

    Args:
        estimates: Own estimates of every brand in the run.
        pools: Brand → pool it borrows from and contributes to; None opts the brand out
            (it keeps its own profile, flat where it has none, and lends nothing).
        all_pools: Every pool that must have a profile, members or not (the sectors).
        pooling: How brands use their pool (see :func:`shrink`); pools always shrink
            toward the group by empirical Bayes.
        frequency: Gives the season positions every brand gets a profile for.
    """
    own = pl.concat(
        [e.season.with_columns(kind=pl.lit("season")) for e in estimates]
        + [e.events.with_columns(kind=pl.lit("event")) for e in estimates]
    )
    positions = [str(k) for k in range(SEASON_LENGTH[frequency])]
    event_keys = own.filter(pl.col("kind") == "event")["key"].unique().sort().to_list()
    brands = pl.DataFrame(
        {"brand": list(pools), "pool": list(pools.values())},
        schema={"brand": pl.String, "pool": pl.String},
    )
    parts = [
        _pool_kind(own.filter(pl.col("kind") == kind), brands, keys, all_pools, pooling)
        for kind, keys in (("season", positions), ("event", event_keys))
    ]
    tagged = [
        [frame.with_columns(kind=pl.lit(kind)) for frame in part]
        for kind, part in zip(("season", "event"), parts, strict=True)
    ]
    brand_rows, pool_rows, weights = (
        pl.concat([t[i] for t in tagged], how="diagonal_relaxed") for i in range(3)
    )
    return Priors(brand_rows, pool_rows, weights, _pool_places(estimates, brands, pooling))


def _pool_places(
    estimates: list[OwnEstimates], brands: pl.DataFrame, pooling: Pooling
) -> pl.DataFrame:
    """``pool, event, pos, n``: where each sector's and the group's profile carries an event
    (see ``Priors.carried``); none without pooling, where no brand borrows a profile."""
    schema = {"pool": pl.String, "event": pl.String, "pos": pl.Int16, "n": pl.UInt32}
    places = [e.places for e in estimates if not e.places.is_empty()]
    if pooling == "none" or not places:
        return pl.DataFrame(schema=schema)
    lent = pl.concat(places).join(brands.drop_nulls("pool"), on="brand")
    return (
        pl.concat([lent, lent.with_columns(pool=pl.lit(GROUP))])
        .group_by("pool", "event", "pos")
        .agg(share=pl.col("carried").mean(), n=pl.len())
        .filter(pl.col("share") > 0.5)
        .select(list(schema))
        .sort("pool", "event", "pos")
    )


def _pool_kind(
    own: pl.DataFrame,
    brands: pl.DataFrame,
    keys: list[str],
    all_pools: list[str],
    pooling: Pooling,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The three-level hierarchy for one kind (season positions or events)."""
    key_frame = pl.DataFrame({"key": keys}, schema={"key": pl.String})
    grid = (
        brands.join(key_frame, how="cross")
        .join(own.select("brand", "key", "own", "var"), on=["brand", "key"], how="left")
        .with_columns(own=pl.when(pl.col("var").is_finite()).then("own"))
    )
    members = grid.filter(pl.col("pool").is_not_null()).rename({"brand": "member"})
    lenders = members.filter(pl.col("own").is_not_null() & (pl.col("var") > 0))
    tau_pool = spread(lenders, "pool", all_pools)
    sectors, group = _pools_toward_group(lenders, tau_pool, key_frame, all_pools)
    target = sectors.select(pool="member", key="key", pooled="shrunk")
    brand_rows = pl.concat(
        [
            shrink(members, target, tau_pool, "pool", pooling).rename({"member": "brand"}),
            _opted_out(grid),
        ],
        how="diagonal_relaxed",
    )
    columns = ("own", "pooled", "shrunk")
    pool_rows = _pool_rows(sectors, group, columns)
    weights = pl.concat(
        [
            _member_weights(brand_rows, "brand", "brand", pl.col("pool")),
            _member_weights(sectors, "member", "sector", pl.lit(GROUP)),
        ]
    )
    return brand_rows.select("brand", "pool", "key", *columns), pool_rows, weights


def _pool_rows(
    sectors: pl.DataFrame, group: pl.DataFrame, columns: tuple[str, ...]
) -> pl.DataFrame:
    """``level, pool, key, own, pooled, shrunk`` of every sector and of the group."""
    return pl.concat(
        [
            sectors.select(
                pl.lit("sector").alias("level"), pl.col("member").alias("pool"), "key", *columns
            ),
            group.select(
                pl.lit(GROUP).alias("level"),
                pl.col("group").alias("pool"),
                "key",
                *(pl.col("pooled").alias(c) for c in columns),
            ),
        ]
    )


def _pools_toward_group(
    lenders: pl.DataFrame, tau_pool: pl.DataFrame, key_frame: pl.DataFrame, all_pools: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pool profiles (precision-weighted means of their lenders), shrunk toward the group
    profile exactly as brands shrink toward their pool; returns ``(sectors, group)``."""
    pooled = combine(lenders, "pool", tau_pool).rename(
        {"pool": "member", "pooled": "own", "pooled_var": "var"}
    )
    sectors = (
        pl.DataFrame({"member": all_pools}, schema={"member": pl.String})
        .join(key_frame, how="cross")
        .join(pooled, on=["member", "key"], how="left")
        .with_columns(group=pl.lit(GROUP))
    )
    sector_lenders = sectors.filter(pl.col("own").is_not_null())
    tau_group = spread(sector_lenders, "group", [GROUP])
    group = (
        key_frame.with_columns(group=pl.lit(GROUP))
        .join(combine(sector_lenders, "group", tau_group), on=["group", "key"], how="left")
        .with_columns(pl.col("pooled").fill_null(0.0))
    )
    return shrink(sectors, group, tau_group, "group"), group


def _opted_out(grid: pl.DataFrame) -> pl.DataFrame:
    """Brands with ``pool = none`` keep their own estimate (flat where none): weight 1."""
    return grid.filter(pl.col("pool").is_null()).with_columns(
        pool=pl.lit(OPTED_OUT),
        pooled=pl.col("own").fill_null(0.0),
        shrunk=pl.col("own").fill_null(0.0),
        own_weight=pl.lit(1.0),
        noise_var=pl.lit(None, pl.Float64),
        between_var=pl.lit(0.0),
    )


def _member_weights(rows: pl.DataFrame, member: str, level: str, pool: pl.Expr) -> pl.DataFrame:
    """One weight row per member (its weight is the same on every key it has)."""
    return (
        rows.with_columns(pool.alias("_pool"))
        .group_by(member, "_pool")
        .agg(pl.col("own_weight", "noise_var", "between_var").max())
        .sort(member, "_pool")
        .select(
            level=pl.lit(level),
            name=member,
            pool="_pool",
            own_weight="own_weight",
            noise_var="noise_var",
            between_var="between_var",
        )
    )


def shrink_series(
    per_series: pl.DataFrame,
    brand_profile: pl.DataFrame,
    all_series: pl.Series,
    pooling: Pooling = "partial",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Series inside a brand shrink toward the brand's shrunk profile.

    Args:
        per_series: ``unique_id, key, own, var`` (see ``priors.series_estimates``).
        brand_profile: ``key, shrunk`` — the brand's profile after pooling.
        all_series: Every series to profile (series without own estimates take the brand's).
        pooling: See :func:`shrink`.

    Returns:
        ``(profiles, weights)``: ``unique_id, pos, season`` and ``unique_id, own_weight``.
    """
    positions = brand_profile.select(pl.col("key").cast(pl.Int16), pooled="shrunk")
    est = (
        pl.DataFrame({"member": all_series})
        .join(positions.select("key"), how="cross")
        .join(per_series.rename({"unique_id": "member"}), on=["member", "key"], how="left")
        .with_columns(brand=pl.lit("b"))
    )
    lenders = est.filter(pl.col("own").is_not_null() & (pl.col("var") > 0))
    tau = spread(lenders, "brand", ["b"], fallback=0.0)  # too few series: take the brand's
    target = positions.with_columns(brand=pl.lit("b"))
    out = shrink(est, target, tau, "brand", pooling)
    profiles = out.select(unique_id="member", pos="key", season="shrunk")
    weights = (out.group_by("member").agg(pl.col("own_weight").max()).sort("member")).rename(
        {"member": "unique_id"}
    )
    return profiles, weights
