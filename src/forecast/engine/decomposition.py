"""log1p sales split per series into a local linear trend and season-position effects.

A regression fitted by backfitting, vectorised over every series of a frame at once:

    log1p(y_t) = trend_t + s[pos(t)] + e_t

* trend: a straight line fitted by least squares over a window of two seasons centred on
  the week (the first and last season take the line of the nearest full window, so the
  ends are extrapolated, never filled flat); one line over everything for shorter series;
* season: per position, the (recency-weighted) mean of ``log1p(y) − trend``; a series that
  has not seen every position yet is measured against a reference profile instead (its
  trend is fitted on ``log1p(y) − reference``), so what it has seen is aligned with the
  shape it will borrow and what it has not seen stays unknown;
* robustness: between iterations, a week far from both its neighbours and the same week of
  the other years (beyond 3 robust sd, and at least 3×) is pulled back toward them, and
  one beyond twice that bound counts as what they expect — one promotion or data error
  does not become seasonality every later year inherits (smooth series only: in a series
  of mostly zeros no week is typical); a week all series share is judged first, on their
  median deviation;
* drift: years are weighted by a half-life chosen from the data — the one that best
  predicts each of the last seasons from the seasons before it, pooled over the frame's
  series — so long histories follow a profile that moves;
* variance per position: residual variance over the effective number of weeks seen there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from forecast.engine.recency import choose_half_life, recency_weight, with_drift
from forecast.engine.series import ADI_CUTOFF
from forecast.inputs.calendar import season_position
from forecast.vocabulary import SEASON_LENGTH, Frequency

ITERATIONS = 4
CLIP_SIGMAS = 3.0
CLIP_FLOOR = math.log(3.0)  # never treat less than a 3× jump as an outlier
MAD_TO_SD = 1.4826
# Prior degrees of freedom of the week-to-week noise estimate, blended into the residual
# variance of series that have seen most positions only once.
PRIOR_DOF = 4.0
MIN_VAR = 1e-4


@dataclass(frozen=True)
class Decomposition:
    """What :func:`decompose` found.

    Attributes:
        rows: every input row with ``pos, t, ly, lyc`` (log1p, winsorised), ``use``,
            ``trend`` and ``r = lyc − trend``.
        season: ``unique_id, key, own, var, full`` — unsmoothed position effects and their
            sampling variance; ``full`` marks series that have seen every position.
        half_life: Recency half-life in seasons (``inf``: years weigh the same).
    """

    rows: pl.DataFrame
    season: pl.DataFrame
    half_life: float


def decompose(
    series: pl.DataFrame,
    exclude: pl.DataFrame,
    frequency: Frequency = "weekly",
    reference: pl.DataFrame | None = None,
) -> Decomposition:
    """Trend and position effects of every series (see the module docstring).

    Args:
        series: ``unique_id, ds, y`` (+ any columns) on a regular grid; null ``y`` is unknown.
        exclude: ``unique_id, ds`` rows left out of the fit (weeks moving events touch).
        reference: ``key, ref`` — the profile series with unseen positions are aligned to;
            without one, such series estimate nothing.
    """
    m = SEASON_LENGTH[frequency]
    rows = _prepare(series, exclude, frequency, reference)
    # A chain-wide week out before the first position effects: they are the references
    # each series' own weeks are judged against.
    first = _fit_trend(rows.with_columns(s=_season_at(rows, 0)), m)
    refs = _with_references(first.with_columns(s_own=pl.lit(None, pl.Float64)), frequency)
    shared = _with_shared(refs.with_columns(vs_years=_vs_years()))
    rows = (
        rows.join(
            shared.select("unique_id", "ds", "common"),
            on=["unique_id", "ds"],
            how="left",
            maintain_order="left",
        )
        .with_columns(lyc=pl.col("ly") - pl.col("common"))
        .drop("common")
    )
    spread_t = _time_spread(rows)
    for it in range(ITERATIONS):
        if it > 0:
            rows = rows.drop("slope_var", strict=False).join(
                _slope_variance(rows, m, spread_t), on="unique_id", how="left"
            )
        rows = _fit_trend(rows.with_columns(s=_season_at(rows, it)), m)
        season = _centred(_position_means(rows, pl.lit(1.0)))
        rows = rows.drop("s_own", strict=False).join(
            season.select("unique_id", pos="key", s_own="own"), on=["unique_id", "pos"], how="left"
        )
        if it < ITERATIONS - 1:
            rows = _winsorise(rows, frequency)
    half_life = choose_half_life(rows, m)
    rows = with_drift(rows.with_columns(r=pl.col("lyc") - pl.col("trend")), half_life, frequency)
    season = _with_variance(rows, _position_means(rows, recency_weight(half_life, m)), m)
    return Decomposition(rows.drop("s_own", "slope_var", "ref"), season, half_life)


def _prepare(
    series: pl.DataFrame,
    exclude: pl.DataFrame,
    frequency: Frequency,
    reference: pl.DataFrame | None,
) -> pl.DataFrame:
    """Rows with position, index, log value, usability, coverage and reference profile."""
    m = SEASON_LENGTH[frequency]
    flagged = exclude.select("unique_id", "ds").unique().with_columns(excluded=pl.lit(True))
    ref = (
        reference.select(pl.col("key").cast(pl.Int16).alias("pos"), pl.col("ref").cast(pl.Float64))
        if reference is not None
        else pl.DataFrame(schema={"pos": pl.Int16, "ref": pl.Float64})
    )
    rows = (
        series.sort("unique_id", "ds")
        .join(flagged, on=["unique_id", "ds"], how="left")
        .with_columns(
            pos=season_position(pl.col("ds"), frequency),
            t=pl.int_range(pl.len()).over("unique_id"),
            ly=pl.col("y").cast(pl.Float64).clip(0).log1p(),
        )
        .with_columns(use=pl.col("ly").is_not_null() & pl.col("excluded").is_null())
        .with_columns(
            lyc=pl.col("ly"),
            full=pl.len().over("unique_id") >= m,
        )
        .join(ref, on="pos", how="left")
    )
    # Series with unseen positions need a reference to be measured against.
    has_ref = reference is not None and reference.height > 0
    keep = pl.col("full") | pl.lit(has_ref)
    return rows.filter(keep).drop("excluded")


def _season_at(rows: pl.DataFrame, iteration: int) -> pl.Expr:
    """The season removed before the trend fit: own effects, or the reference if partial."""
    own = pl.col("s_own").fill_null(0.0) if iteration > 0 else pl.lit(0.0)
    return pl.when(pl.col("full")).then(own).otherwise(pl.col("ref").fill_null(0.0))


def _fit_trend(rows: pl.DataFrame, m: int) -> pl.DataFrame:
    """``trend``: local least-squares line of ``lyc − s`` over two-season windows.

    Series shorter than a window get one line; its slope is shrunk toward zero by the
    evidence for it (empirical Bayes, ``max(0, 1 − var / slope²)``), since only positions
    seen in two years tell a trend from the season (column ``slope_var``, when present).
    """
    use = pl.col("use").cast(pl.Float64)
    t = pl.col("t").cast(pl.Float64)
    d = pl.when(pl.col("use")).then(pl.col("lyc") - pl.col("s")).otherwise(0.0)
    sums = {"su": use, "st": use * t, "sd": d, "stt": use * t * t, "std": t * d}
    win = 2 * m + 1
    local = {
        k: v.rolling_sum(window_size=win, center=True, min_samples=win).over("unique_id")
        for k, v in sums.items()
    }
    enough = pl.col("su") >= m  # a window needs a season of usable weeks
    frame = (
        rows.with_columns(**local)
        .with_columns(pl.when(enough).then(pl.col(k)).alias(k) for k in sums)
        .with_columns(pl.col(k).forward_fill().backward_fill().over("unique_id") for k in sums)
        .with_columns(one_line=pl.col("su").is_null().all().over("unique_id"))
        .with_columns(pl.col(k).fill_null(v.sum().over("unique_id")) for k, v in sums.items())
    )
    su, st, sd = pl.col("su"), pl.col("st"), pl.col("sd")
    sxx = pl.col("stt") - st * st / su
    slope = pl.when(sxx > 1e-9).then((pl.col("std") - st * sd / su) / sxx).otherwise(0.0)
    if "slope_var" in frame.columns:
        keep = (1 - pl.col("slope_var") / slope.pow(2)).clip(0.0, 1.0).fill_nan(0.0)
        slope = pl.when(pl.col("one_line") & pl.col("full")).then(slope * keep).otherwise(slope)
    trend = sd / su + slope * (t - st / su)
    return frame.with_columns(trend=pl.when(su > 0).then(trend)).drop(*sums, "s", "one_line")


def _time_spread(rows: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, sxx``: the spread of a series' used weeks in time within their
    positions, ``Σ (t − t̄_pos)²`` — all that informs a slope fitted beside position effects."""
    t = pl.col("t").cast(pl.Float64)
    return (
        rows.filter(pl.col("use"))
        .group_by("unique_id", "pos")
        .agg(sxx=(t * t).sum() - t.sum() ** 2 / pl.len())
        .sort("unique_id", "pos")  # group_by order is random: fix the order summed next
        .group_by("unique_id")
        .agg(pl.col("sxx").sum())
    )


def _slope_variance(rows: pl.DataFrame, m: int, spread_t: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, slope_var``: sampling variance of a line fitted beside position effects,
    ``σ² / Σ (t − t̄_pos)²`` (``spread_t``: see :func:`_time_spread`)."""
    return (
        _noise(rows, m)
        .join(spread_t, on="unique_id")
        .select("unique_id", slope_var=pl.col("sigma2") / pl.col("sxx"))
    )


def _position_means(rows: pl.DataFrame, weight: pl.Expr) -> pl.DataFrame:
    """``unique_id, key, own, sw, sw2, full`` — weighted mean of ``lyc − trend``."""
    e = pl.col("lyc") - pl.col("trend")
    return (
        rows.filter(pl.col("use"))
        .with_columns(w=weight)
        .group_by("unique_id", "pos")
        .agg(
            own=(pl.col("w") * e).sum() / pl.col("w").sum(),
            sw=pl.col("w").sum(),
            sw2=(pl.col("w") ** 2).sum(),
            full=pl.col("full").first(),
        )
        .sort("unique_id", "pos")  # centring and pooling sum over these rows in order
        .rename({"pos": "key"})
    )


def _centred(season: pl.DataFrame) -> pl.DataFrame:
    """Full-coverage profiles get mean zero; partial ones stay aligned to their reference."""
    mean = pl.col("own").mean().over("unique_id")
    return season.with_columns(own=pl.when(pl.col("full")).then(pl.col("own") - mean))


def _winsorise(rows: pl.DataFrame, frequency: Frequency) -> pl.DataFrame:
    """Pull extreme weeks back toward their references (a redescending Hampel-type rule).

    A week is compared with the same position in the other years and with each of its two
    neighbouring positions (weekly data, where it has both) or the reference (partial
    series); the smallest deviation counts, so a recurring peak is never an outlier, a
    normal week is not one just because another year had a spike there, nor because the
    week beside it had one. Weeks every series shares are judged first (see
    :func:`_shared_weeks`), so their excess is out of the position effects before any
    series' own weeks are compared with them.
    """
    e = pl.col("ly") - pl.col("trend")
    # Beside a week one side is no reference: a spike there makes a normal week look like
    # a trough, which, pulled up, then hides the spike on the next pass.
    both = pl.col("near_a").is_not_null() & pl.col("near_b").is_not_null()
    near_a, near_b = (pl.when(both).then(e - pl.col(c)) for c in ("near_a", "near_b"))
    rho = _smallest(pl.col("vs_years"), near_a, near_b)
    tested = (
        _with_references(rows, frequency)
        .with_columns(vs_years=_vs_years())
        .with_columns(rho=pl.when(pl.col("use")).then(rho))
    )
    # First the weeks every series shares (a chain-wide promotion), judged on the frame's
    # median week against the spread of such medians — far tighter than one noisy series'
    # own spread, which let most of a 20× week through.
    tested = _with_shared(tested)
    # Then each series' own extreme weeks, beyond what the frame's week explained.
    beyond = pl.col("rho") - pl.col("common")
    per_series = tested.filter(pl.col("use")).group_by("unique_id").agg(scale=_robust_sd(beyond))
    own_excess = pl.when(pl.col("dense")).then(_excess(beyond, pl.col("scale"))).fill_null(0.0)
    excess = pl.col("common") + own_excess
    return (
        tested.join(per_series, on="unique_id", how="left")
        .with_columns(lyc=pl.col("ly") - excess.fill_null(0.0))
        .drop("rho", "vs_years", "near_a", "near_b", "sum_ec", "seen", "scale", "dense", "common")
    )


def _vs_years() -> pl.Expr:
    """A used week's deviation from the mean of its position's other years (null where the
    position was seen once); needs the ``sum_ec, seen`` of :func:`_with_references`."""
    ec = pl.col("lyc") - pl.col("trend")
    others = (pl.col("sum_ec") - ec) / (pl.col("seen") - 1)
    return pl.when(pl.col("use") & (pl.col("seen") > 1)).then(
        pl.col("ly") - pl.col("trend") - others
    )


def _with_shared(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows (in their order) plus ``dense`` and ``common``: the excess of the frame's week
    (:func:`_shared_weeks`) on the row, for dense series. Intermittent series (mostly
    zeros) have no typical week to call another extreme."""
    dense = (
        rows.filter(pl.col("use"))
        .group_by("unique_id")
        .agg(dense=(pl.col("ly") > 0).mean() >= 1 / ADI_CUTOFF)
    )
    with_dense = rows.join(dense, on="unique_id", how="left", maintain_order="left")
    return with_dense.join(
        _shared_weeks(with_dense), on="ds", how="left", maintain_order="left"
    ).with_columns(
        common=pl.when(pl.col("dense")).then(pl.col("common").fill_null(0.0)).otherwise(0.0)
    )


def _shared_weeks(tested: pl.DataFrame) -> pl.DataFrame:
    """``ds, common``: what the redescending rule removes from each week of the frame.

    The frame's week is the median of its dense series' ``ly − trend``; its deviation is
    the smallest of those from the week before, the week after (in time: never from
    position effects that a spike beside it still inflates) and the median deviation from
    the same position in the series' other years.
    """
    e = pl.col("ly") - pl.col("trend")
    weeks = (
        tested.filter(pl.col("use") & pl.col("dense"))
        .group_by("ds")
        .agg(m=e.median(), years=pl.col("vs_years").median())
        .sort("ds")
    )
    rho = _smallest(
        pl.col("years"), pl.col("m") - pl.col("m").shift(1), pl.col("m") - pl.col("m").shift(-1)
    )
    shared = weeks.with_columns(rho=rho)
    return shared.select("ds", common=_excess(pl.col("rho"), _robust_sd(pl.col("rho"))))


def _robust_sd(deviation: pl.Expr) -> pl.Expr:
    return MAD_TO_SD * deviation.abs().median()


def _excess(deviation: pl.Expr, scale: pl.Expr) -> pl.Expr:
    """What the redescending rule removes from ``deviation``: nothing up to the bound
    ``max(CLIP_SIGMAS · scale, CLIP_FLOOR)``, then more and more, all of it beyond twice."""
    bound = pl.max_horizontal(CLIP_SIGMAS * scale, pl.lit(CLIP_FLOOR))
    size = deviation.abs()
    kept = pl.when(size <= bound).then(size).otherwise((2 * bound - size).clip(0.0))
    return deviation.sign() * (size - kept)


def _smallest(*deviations: pl.Expr) -> pl.Expr:
    """The deviation of smallest size among those that exist (null if none does)."""
    best = deviations[0]
    for other in deviations[1:]:
        best = pl.when(best.is_null() | (other.abs() < best.abs())).then(other).otherwise(best)
    return best


def _with_references(rows: pl.DataFrame, frequency: Frequency) -> pl.DataFrame:
    """Per row: ``sum_ec, seen`` of its position over the years, and ``near_a, near_b`` —
    the effects of the two adjacent positions (weekly, full series; either may be missing:
    a week whose neighbour is an event week every year still has the other) or the
    reference (partial series)."""
    used = rows.filter(pl.col("use"))
    per_pos = used.group_by("unique_id", "pos").agg(
        sum_ec=(pl.col("lyc") - pl.col("trend")).sum(),
        seen=pl.len().cast(pl.Float64),
        s_pos=pl.col("s_own").first(),
    )
    frame = rows.join(per_pos.drop("s_pos"), on=["unique_id", "pos"], how="left")
    reference = pl.when(~pl.col("full")).then(pl.col("ref"))
    if frequency != "weekly":  # adjacent months or quarters need not look alike
        return frame.with_columns(near_a=reference, near_b=reference)
    m = SEASON_LENGTH[frequency]
    for step, name in ((1, "s_prev"), (-1, "s_next")):
        shifted = per_pos.select(
            "unique_id", pos=((pl.col("pos") + step) % m).cast(pl.Int16), **{name: "s_pos"}
        )
        frame = frame.join(shifted, on=["unique_id", "pos"], how="left")
    full = pl.col("full")
    return frame.with_columns(
        near_a=pl.when(full).then(pl.col("s_prev")).otherwise(pl.col("ref")),
        near_b=pl.when(full).then(pl.col("s_next")).otherwise(pl.col("ref")),
    ).drop("s_prev", "s_next")


def _noise(rows: pl.DataFrame, m: int, fitted: str = "s_own") -> pl.DataFrame:
    """``unique_id, sigma2``: residual variance of a position effect's weeks, per series.

    Full-coverage series: residuals around trend + season, less their mean over each season
    counted back from the end (a level shock moves every position of its year alike and
    leaves the centred shape alone), over their degrees of freedom; blended with a robust
    estimate from the changes of each position from one year to the next, less the change
    all its positions share that year (see :func:`_common_change`), worth ``PRIOR_DOF``
    weeks — with most positions seen once the residuals alone say little.
    Partial series (no position seen twice): the robust estimate from week-to-week changes.
    """
    e = pl.col("lyc") - pl.col("trend")
    resid = pl.when(pl.col("full")).then(e - pl.col(fitted)).otherwise(e - pl.col("ref"))
    block = (pl.col("t").max().over("unique_id") - pl.col("t")) // m
    # The same position one year before: rows run in time order within each series.
    yearly = pl.col("e") - pl.col("e").shift().over("unique_id", "pos")
    used = (
        rows.filter(pl.col("use"))
        .sort("unique_id", "t")
        .with_columns(resid=resid, block=block, e=e)
        .with_columns(shape=pl.col("resid") - pl.col("resid").mean().over("unique_id", "block"))
        .with_columns(yearly=yearly)
        .with_columns(yearly=pl.col("yearly") - _common_change())
    )
    weekly = pl.col("e").diff().drop_nulls().abs().median()
    robust = pl.col("yearly").drop_nulls().abs().median().fill_null(weekly)
    noise = used.group_by("unique_id").agg(
        sse=(pl.col("shape") ** 2).sum(),
        dof=pl.len() - pl.col("pos").n_unique() - pl.col("block").n_unique(),
        full=pl.col("full").first(),
        robust=(robust * MAD_TO_SD) ** 2 / 2,
    )
    dof = pl.col("dof").clip(0).cast(pl.Float64)
    blended = (pl.col("sse") + PRIOR_DOF * pl.col("robust")) / (dof + PRIOR_DOF)
    sigma2 = pl.when(pl.col("full")).then(blended).otherwise(pl.col("robust"))
    return noise.select("unique_id", sigma2=sigma2.fill_nan(None).fill_null(1.0).clip(MIN_VAR))


def _common_change() -> pl.Expr:
    """The change every position of a series shares from one year to the next (median per
    series and year, where at least two positions were seen in both): what the trend line
    missed between the years, not the noise of a position; 0 where one position cannot
    tell it from its noise."""
    over = ("unique_id", "block")
    seen = pl.col("yearly").count().over(over)
    return pl.when(seen >= 2).then(pl.col("yearly").median().over(over)).otherwise(0.0)


def _with_variance(rows: pl.DataFrame, season: pl.DataFrame, m: int) -> pl.DataFrame:
    """Add ``var``: the series' residual variance over the effective weeks at the position.

    Residuals are taken around the season of each row's own years (profile + drift): a
    drifting season is not noise, and the variance of a recency-weighted profile already
    grows through its fewer effective weeks.
    """
    fitted = rows.join(
        season.select("unique_id", pos="key", own_w="own"), on=["unique_id", "pos"], how="left"
    ).with_columns(own_w=pl.col("own_w") + pl.col("drift"))
    return season.join(_noise(fitted, m, "own_w"), on="unique_id").select(
        "unique_id",
        "key",
        "own",
        var=pl.col("sigma2") * pl.col("sw2") / pl.col("sw") ** 2,
        full="full",
    )
