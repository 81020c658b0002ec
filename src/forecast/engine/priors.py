"""Own estimates: each brand's season profile and event uplifts, from its own sales alone.

Seasonality and event uplifts cross brand boundaries; level, trend and noise do not. On the
log1p scale every brand gets an *own* estimate of its season profile (one value per position
in the year) and of its event uplifts, with the sampling variance of that estimate;
:mod:`forecast.engine.pooling` then shrinks them toward their pools. :func:`seasonal_offsets` turns
a series' final profile and its brand's event uplifts into the offset the fits remove.

The series that have seen every position are decomposed once per origin: their profiles
need no reference, so the run at that origin takes them from the own estimates
(:class:`SeriesProfiles`) and decomposes only the younger series, against the profile they
borrow.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import polars as pl

from forecast.engine.decomposition import decompose
from forecast.engine.pooling import combine, spread
from forecast.engine.series import history_weeks
from forecast.inputs.calendar import season_position
from forecast.vocabulary import SEASON_KERNEL, SEASON_LENGTH, STOCKOUT, Frequency

# A week keeps w = 1 − SHARP·v/d² of its own value against its neighbours' mean (d its
# distance from it, v that distance's variance): none within √SHARP standard errors.
SHARP = 3.0


@dataclass(frozen=True)
class SeriesProfiles:
    """Series' own season profiles at one origin, and what de-seasonalising their history
    takes beyond them.

    Attributes:
        profiles: ``unique_id, key, own, var`` — smoothed over adjacent positions, centred
            where every position was seen.
        adjust: ``unique_id, ds, adjust`` — per history row, the season of its own years
            beyond the profile (drift) plus the excess the robust fit pulled out of it.
    """

    profiles: pl.DataFrame
    adjust: pl.DataFrame

    def of(self, ids: pl.DataFrame) -> SeriesProfiles:
        """The profiles of the series in ``ids`` (``unique_id``)."""
        return SeriesProfiles(
            self.profiles.join(ids, on="unique_id", how="semi"),
            self.adjust.join(ids, on="unique_id", how="semi"),
        )


@dataclass(frozen=True)
class OwnEstimates:
    """A brand's own estimates (phase 1, computed per brand from its sales alone).

    Attributes:
        season: ``brand, key (position), own, var`` — smoothed, centred profile.
        events: ``brand, key (event), own, var`` — log uplift of each moving event.
        stats: one row ``brand, history_weeks, n_series, n_profiled``.
        places: ``brand, event, pos, carried`` — every position the brand's history held
            each event at, and whether its profile carries the event there (see
            :func:`event_places`).
        series: The profiles of the brand's series that have seen every position: the run
            at the same origin takes them (see :func:`series_estimates`). They stay with
            the brand: :meth:`lent` is what its pools see.
    """

    season: pl.DataFrame
    events: pl.DataFrame
    stats: pl.DataFrame
    places: pl.DataFrame
    series: SeriesProfiles | None = field(default=None, compare=False, repr=False)

    def lent(self) -> OwnEstimates:
        """The estimates without the series' profiles: what the brand lends its pools."""
        return replace(self, series=None)


class SeriesEstimates(NamedTuple):
    """What :func:`series_estimates` measured.

    Attributes:
        resid: The rows it decomposed, with ``pos`` and ``r`` (log1p minus trend, outliers
            pulled in); the rows of ``known`` series are not among them.
        told_apart: ``unique_id, ds, event, weight``: the event rows measured apart from
            the season (see :func:`_identified`).
        measured: Every series' profile and adjustments.
        full: Those of the series that have seen every position.
    """

    resid: pl.DataFrame
    told_apart: pl.DataFrame
    measured: SeriesProfiles
    full: SeriesProfiles


def series_estimates(
    series: pl.DataFrame,
    calendar: pl.DataFrame,
    frequency: Frequency = "weekly",
    reference: pl.DataFrame | None = None,
    known: SeriesProfiles | None = None,
) -> SeriesEstimates:
    """Residuals, the rows events touch, and each series' own profile.

    The series that have seen every position are decomposed together with no reference
    (unless ``known`` has them already); the others after them, aligned to ``reference``.

    Args:
        series: ``unique_id, ds, y`` on a regular grid (null ``y``: unknown).
        calendar: The brand's events per series (see ``events.series_calendar``): the
            periods they touch are left out of the profile and measure their uplifts.
        reference: ``key, ref`` — the profile series that have not seen every position are
            aligned to. Without one, the mean profile of the series that have seen them all.
        known: ``SeriesEstimates.full`` of an earlier call at the same origin (the own
            estimates): its series are taken from it, not decomposed again.
    """
    event_rows = _identified(series, _event_rows(series, calendar), frequency)
    ids = series.select("unique_id").unique()
    parts = []
    if known is None:
        dec = decompose(series, event_rows, frequency)  # no reference: full series only
        parts.append(dec.rows)
        full = SeriesProfiles(_smooth_and_centre(dec.season, frequency), _adjustments(dec.rows))
    else:
        full = known.of(ids)
    measured = full
    partial = series.join(full.profiles.select("unique_id").unique(), on="unique_id", how="anti")
    if reference is None and not full.profiles.is_empty():
        reference = _brand_profile(full.profiles).select("key", ref="own")
    if not partial.is_empty() and reference is not None:
        more = decompose(partial, event_rows, frequency, reference)
        parts.append(more.rows)
        measured = SeriesProfiles(
            pl.concat([full.profiles, _smooth_and_centre(more.season, frequency)]).sort(
                "unique_id", "key"
            ),
            pl.concat([full.adjust, _adjustments(more.rows)]),
        )
    resid = pl.concat(parts, how="diagonal_relaxed") if parts else _no_rows(series)
    return SeriesEstimates(resid, event_rows, measured, full)


def _adjustments(rows: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, ds, adjust`` of decomposed rows (see :class:`SeriesProfiles`)."""
    excess = (pl.col("ly") - pl.col("lyc")).fill_null(0.0)
    return rows.select("unique_id", "ds", adjust=pl.col("drift") + excess)


def _no_rows(series: pl.DataFrame) -> pl.DataFrame:
    """No decomposed rows (every series was ``known``)."""
    return series.clear().select("unique_id", "ds").with_columns(pos=pl.lit(0), r=pl.lit(0.0))


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
    est = series_estimates(series, calendar, frequency)
    event_rows, per_series = est.told_apart, est.measured.profiles
    season = _brand_profile(per_series)
    events = _brand_events(est.resid, event_rows, per_series, season)
    ages = series.group_by("unique_id").agg(weeks=history_weeks(frequency))
    stats = pl.DataFrame(
        {
            "brand": [brand],
            "history_weeks": [ages.select(pl.col("weeks").max().fill_null(0)).item()],
            "n_series": [series["unique_id"].n_unique()],
            "n_profiled": [per_series["unique_id"].n_unique()],
        }
    )
    tag = pl.lit(brand).alias("brand")
    return OwnEstimates(
        season=season.select(tag, pl.col("key").cast(pl.String), "own", "var"),
        events=events.select(tag, "key", "own", "var"),
        stats=stats,
        places=event_places(held_events(series, calendar), event_rows, frequency).select(
            tag, "event", "pos", "carried"
        ),
        series=est.full,
    )


def held_events(series: pl.DataFrame, calendar: pl.DataFrame) -> pl.DataFrame:
    """The calendar rows the series' history holds (``unique_id, ds`` of ``series``)."""
    return calendar.join(series.select("unique_id", "ds"), on=["unique_id", "ds"], how="semi")


def event_places(
    held: pl.DataFrame, told_apart: pl.DataFrame, frequency: Frequency
) -> pl.DataFrame:
    """``event, pos, carried``: every position the history held each event at (``held``: its
    calendar rows), ``carried`` where it could not tell the event from the season there
    (``told_apart``: the event rows :func:`series_estimates` measured). The profile carries
    the event at those positions, so no uplift may be added on top."""
    pos = season_position(pl.col("ds"), frequency).cast(pl.Int16)
    told = told_apart.select("event", pos=pos).unique().with_columns(carried=pl.lit(False))
    return (
        held.select("event", pos=pos)
        .unique()
        .join(told, on=["event", "pos"], how="left")
        .with_columns(pl.col("carried").fill_null(True))
        .sort("event", "pos")
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

    A position is estimable when some series of the frame saw it without an event, or
    (weekly: the profile is smoothed over adjacent weeks) when a position beside it was
    mostly seen without one — in more than half of its weeks, so the interpolated profile
    rests on the typical week there, not on one week that happened to escape (the panel's
    first January week beside a Christmas and New Year that cover weeks 50, 51 and 0 of
    every other year: the uplift measured against it moved the December peak into the
    lead week; with two years of history that week is half of week 0's). Rows at a
    position that is not estimable cannot be told from the season (Christmas in December,
    by month, or Christmas week itself, weekly, when every series has it there every
    year): they stay in the profile, which carries them, and neither measure nor receive
    an uplift there (``forecasting`` leaves the uplift out where the history could not
    tell it apart).
    """
    m = SEASON_LENGTH[frequency]
    touched = event_rows.select("unique_id", "ds").unique().with_columns(touched=pl.lit(True))
    seen = (
        series.filter(pl.col("y").is_not_null())
        .join(touched, on=["unique_id", "ds"], how="left")
        .group_by(pos=season_position(pl.col("ds"), frequency).cast(pl.Int16))
        .agg(clean=pl.col("touched").is_null().mean())
    )
    itself = seen.filter(pl.col("clean") > 0).select("pos")
    offsets = [off for off, k in zip((-1, 1), SEASON_KERNEL[frequency][::2], strict=True) if k > 0]
    beside = (
        seen.filter(pl.col("clean") > 0.5)
        .join(pl.DataFrame({"off": offsets}, schema={"off": pl.Int16}), how="cross")
        .select(pos=((pl.col("pos") + pl.col("off")) % m).cast(pl.Int16))
    )
    estimable = pl.concat([itself, beside]).unique()
    rows = event_rows.with_columns(pos=season_position(pl.col("ds"), frequency).cast(pl.Int16))
    return rows.join(estimable, on="pos", how="semi").drop("pos")


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
    """Adjacent-position smoothing that keeps sharp weeks, then mean zero where every
    position was seen.

    Each position moves toward the kernel mean of itself and its neighbours by how little
    it stands out from them: ``w = 1 − SHARP · v / d²`` of it is kept (clipped to 0…1),
    with ``d`` its distance from the neighbours' mean and ``v`` the sampling variance of
    that distance. A week within noise of its neighbours is smoothed as before; a peak or
    a trough that recurs (Christmas week, the first week of January) is kept: the kernel
    alone put a quarter of each neighbour into it, a third of a sharp peak's height lost.
    Positions a series has not seen take the mean of the neighbours it saw, so what a
    young series saw spreads one position further; such series stay aligned to their
    reference (no centring).
    """
    left, centre, right = SEASON_KERNEL[frequency]
    if left == right == 0:
        smooth = est.select("unique_id", "key", "own", "var", "full")
    else:
        smooth = _keep_sharp(est, SEASON_LENGTH[frequency], left, centre, right)
    mean = pl.col("own").mean().over("unique_id")
    centred = pl.when(pl.col("full")).then(pl.col("own") - mean).otherwise(pl.col("own"))
    return smooth.with_columns(own=centred).drop("full")


def _keep_sharp(
    est: pl.DataFrame, m: int, left: float, centre: float, right: float
) -> pl.DataFrame:
    """See :func:`_smooth_and_centre`; weekly kernels only."""
    keys = est.select("unique_id", "key", "full")
    targets = pl.concat(
        [keys.with_columns(key=((pl.col("key") + off) % m).cast(pl.Int16)) for off in (-1, 0, 1)]
    ).unique(["unique_id", "key"])
    frame = targets.select("unique_id", "key", "full")
    for off, name in ((0, "c"), (-1, "l"), (1, "r"), (-2, "ll"), (2, "rr")):
        shifted = est.select(
            "unique_id",
            key=((pl.col("key") - off) % m).cast(pl.Int16),
            **{f"{name}_own": "own", f"{name}_var": "var"},
        )
        frame = frame.join(shifted, on=["unique_id", "key"], how="left")
    kl = pl.when(pl.col("l_own").is_not_null()).then(left).otherwise(0.0)
    kr = pl.when(pl.col("r_own").is_not_null()).then(right).otherwise(0.0)
    nb_w = pl.col("nb_w")
    # The neighbours' mean and its variance (0 where there is no neighbour: it has no say).
    nb = (kl * pl.col("l_own").fill_null(0.0) + kr * pl.col("r_own").fill_null(0.0)) / nb_w
    nb_var = (kl**2 * pl.col("l_var").fill_null(0.0) + kr**2 * pl.col("r_var").fill_null(0.0)) / (
        nb_w**2
    )
    d2 = (pl.col("c_own") - pl.col("nb")) ** 2
    kept = (1 - SHARP * (pl.col("c_var") + pl.col("nb_var")) / d2).clip(0.0, 1.0).fill_nan(0.0)
    # own = c0·centre + (1 − c0)·(neighbours' mean): all neighbours where the position is
    # unseen, all centre where it has no neighbour; inside a two-week gap, linear across it.
    from_r, from_r_var = _into_gap("r", "l", "ll")
    from_l, from_l_var = _into_gap("l", "r", "rr")
    c0 = (
        pl.when(pl.col("c_own").is_null())
        .then(0.0)
        .when(nb_w == 0)
        .then(1.0)
        .otherwise(kept + (1 - kept) * centre / (centre + nb_w))
    )
    return (
        frame.with_columns(nb_w=kl + kr)
        .with_columns(
            nb=pl.coalesce(from_r, from_l, pl.when(nb_w > 0).then(nb).otherwise(0.0)),
            nb_var=pl.coalesce(
                from_r_var, from_l_var, pl.when(nb_w > 0).then(nb_var).otherwise(0.0)
            ),
        )
        .with_columns(c0=c0)
        .with_columns(
            own=pl.col("c0") * pl.col("c_own").fill_null(0.0) + (1 - pl.col("c0")) * pl.col("nb"),
            var=pl.col("c0") ** 2 * pl.col("c_var").fill_null(0.0)
            + (1 - pl.col("c0")) ** 2 * pl.col("nb_var"),
        )
        .select("unique_id", "key", "own", "var", "full")
        .sort("unique_id", "key")  # the centring mean sums in row order
    )


def _into_gap(near: str, beside: str, far: str) -> tuple[pl.Expr, pl.Expr]:
    """An unseen position whose neighbour ``beside`` is unseen too (an event block of two
    weeks, Black Friday then Cyber Monday): a third of the way from the seen neighbour
    ``near`` to the seen position ``far`` past the gap, and its variance; null elsewhere.

    Linear across the gap: the nearest neighbour's value alone put a step of a rising
    season (the run-up to Christmas) into one week's uplift and took it from the other's.
    """
    hit = (
        pl.col("c_own").is_null()
        & pl.col(f"{beside}_own").is_null()
        & pl.col(f"{near}_own").is_not_null()
        & pl.col(f"{far}_own").is_not_null()
    )
    value = (2 * pl.col(f"{near}_own") + pl.col(f"{far}_own")) / 3
    var = (4 * pl.col(f"{near}_var") + pl.col(f"{far}_var")) / 9
    return pl.when(hit).then(value), pl.when(hit).then(var)


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
        frame: rows with ``unique_id, ds`` (and ``pos``, the season position each row
            reads, where it is not its own: see ``forecasting._anchored``).
        profiles: ``unique_id, pos, season``.
        events: ``key (event), shrunk`` of the brand.
        calendar: The brand's events per series (see ``events.series_calendar``).
        planned: Forecast periods: an event's planned uplift (its magnitude), where given,
            replaces the uplift learned for its type.
    """
    with_pos = (
        frame
        if "pos" in frame.columns
        else frame.with_columns(pos=season_position(pl.col("ds"), frequency))
    )
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
