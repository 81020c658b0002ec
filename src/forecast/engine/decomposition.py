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
  of mostly zeros no week is typical);
* drift: years are weighted by a half-life chosen from the data — the one that best
  predicts each of the last seasons from the seasons before it, pooled over the frame's
  series — so long histories follow a profile that moves;
* variance per position: residual variance over the effective number of weeks seen there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from forecast.engine.series import ADI_CUTOFF
from forecast.inputs.calendar import SEASON_LENGTH, Frequency, season_position

ITERATIONS = 4
HALF_LIVES = (1.0, 2.0, 4.0, 8.0, math.inf)  # in seasons; inf weighs every year the same
MAX_VALIDATION_SEASONS = 3
CLIP_SIGMAS = 3.0
CLIP_FLOOR = math.log(3.0)  # never treat less than a 3× jump as an outlier
MAD_TO_SD = 1.4826
# Prior degrees of freedom of the week-to-week noise estimate, blended into the residual
# variance of series that have seen most positions only once.
PRIOR_DOF = 4.0
MIN_VAR = 1e-4
_WEEKLY_KERNEL = (0.25, 0.5, 0.25)  # the adjacent-week smoothing profiles get


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
    for it in range(ITERATIONS):
        if it > 0:
            rows = rows.drop("slope_var", strict=False).join(
                _slope_variance(rows, m), on="unique_id", how="left"
            )
        rows = _fit_trend(rows.with_columns(s=_season_at(rows, it)), m)
        season = _centred(_position_means(rows, pl.lit(1.0)))
        rows = rows.drop("s_own", strict=False).join(
            season.select("unique_id", pos="key", s_own="own"), on=["unique_id", "pos"], how="left"
        )
        if it < ITERATIONS - 1:
            rows = _winsorise(rows, frequency)
    half_life = choose_half_life(rows, m)
    season = _with_variance(rows, _position_means(rows, recency_weight(half_life, m)), m)
    rows = rows.with_columns(r=pl.col("lyc") - pl.col("trend"))
    rows = _with_drift(rows, half_life, frequency).drop("s_own", "slope_var", "ref")
    return Decomposition(rows, season, half_life)


def _with_drift(rows: pl.DataFrame, half_life: float, frequency: Frequency) -> pl.DataFrame:
    """``drift``: how the season around each row differs from the season at the end.

    Per position, the mean of ``r`` over the *other* years weighted ``λ^|years apart|``
    (``λ = 2^(-1/half_life)``) minus the end-weighted mean the profile uses (weekly:
    smoothed over adjacent weeks, as profiles are). Zero when years weigh the same.
    De-seasonalising the history with ``profile + drift`` leaves old years clean, while a
    row never explains its own noise.
    """
    if math.isinf(half_life):
        return rows.with_columns(drift=pl.lit(0.0))
    lam = 2.0 ** (-1.0 / half_life)
    key = ["unique_id", "pos"]
    k = pl.int_range(pl.len()).over(key) - pl.len().over(key) / 2  # centred: no overflow
    u = pl.col("use").cast(pl.Float64)
    a = u * pl.col("r").fill_null(0.0)
    lk = pl.lit(lam) ** pl.col("k")

    def others(x: pl.Expr) -> pl.Expr:  # Σ_j λ^|k-j| x_j over the other years j ≠ k
        fwd = lk * (x / lk).cum_sum().over(key)
        bwd = (x * lk).cum_sum(reverse=True).over(key) / lk
        return fwd + bwd - 2 * x

    end = pl.lit(lam) ** (pl.col("k").max().over(key) - pl.col("k"))
    final = (end * a).sum().over(key) / (end * u).sum().over(key)
    drift = pl.when(others(u) > 0).then(others(a) / others(u) - final).otherwise(0.0)
    frame = rows.sort("unique_id", "t").with_columns(k=k.cast(pl.Float64))
    frame = frame.with_columns(drift=drift.fill_nan(0.0)).sort("unique_id", "t").drop("k")
    if frequency != "weekly":
        return frame
    smooth = pl.col("drift").rolling_mean(
        window_size=3, weights=list(_WEEKLY_KERNEL), center=True, min_samples=1
    )
    return frame.with_columns(drift=smooth.over("unique_id"))


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


def _slope_variance(rows: pl.DataFrame, m: int) -> pl.DataFrame:
    """``unique_id, slope_var``: sampling variance of a line fitted beside position effects.

    Only the spread of weeks within a position informs the slope: ``σ² / Σ (t − t̄_pos)²``.
    """
    key = ["unique_id", "pos"]
    t = pl.col("t").cast(pl.Float64)
    within = (
        rows.filter(pl.col("use"))
        .group_by("unique_id")
        .agg(sxx=((t - t.mean().over(key)) ** 2).sum())
    )
    return (
        _noise(rows, m)
        .join(within, on="unique_id")
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
        .rename({"pos": "key"})
    )


def _centred(season: pl.DataFrame) -> pl.DataFrame:
    """Full-coverage profiles get mean zero; partial ones stay aligned to their reference."""
    mean = pl.col("own").mean().over("unique_id")
    return season.with_columns(own=pl.when(pl.col("full")).then(pl.col("own") - mean))


def _winsorise(rows: pl.DataFrame, frequency: Frequency) -> pl.DataFrame:
    """Pull extreme weeks back toward their references (a redescending Hampel-type rule).

    A week is compared with the same position in the other years and with what its
    neighbouring positions (weekly data) or the reference (partial series) expect; the
    smaller of the two deviations counts, so a recurring peak is never an outlier, and a
    normal week is not one just because another year had a spike there.
    """
    e = pl.col("ly") - pl.col("trend")
    ec = pl.when(pl.col("use")).then(pl.col("lyc") - pl.col("trend"))
    key = ["unique_id", "pos"]
    seen = pl.col("use").sum().over(key)
    others = (ec.sum().over(key) - ec) / (seen - 1)
    vs_years = pl.when(seen > 1).then(e - others)
    vs_near = e - pl.col("near")
    rho = (
        pl.when(vs_years.is_null())
        .then(vs_near)
        .when(vs_near.is_null() | (vs_years.abs() <= vs_near.abs()))
        .then(vs_years)
        .otherwise(vs_near)
    )
    tested = _with_near(rows, frequency).with_columns(rho=pl.when(pl.col("use")).then(rho))
    scale = MAD_TO_SD * pl.col("rho").abs().median().over("unique_id")
    bound = pl.max_horizontal(CLIP_SIGMAS * scale, pl.lit(CLIP_FLOOR))
    size = pl.col("rho").abs()
    # Redescending: kept up to the bound, then less and less, nothing beyond twice it.
    kept = pl.when(size <= bound).then(size).otherwise((2 * bound - size).clip(0.0))
    excess = pl.col("rho").sign() * (size - kept)
    # Intermittent series (mostly zeros) have no typical week to call another extreme.
    dense = (pl.col("ly") > 0).filter(pl.col("use")).mean().over("unique_id") >= 1 / ADI_CUTOFF
    excess = pl.when(dense).then(excess).otherwise(0.0)
    return tested.with_columns(lyc=pl.col("ly") - excess.fill_null(0.0)).drop("rho", "near")


def _with_near(rows: pl.DataFrame, frequency: Frequency) -> pl.DataFrame:
    """``near``: the effect adjacent positions imply (weekly, full series) or the reference."""
    if frequency != "weekly":  # adjacent months or quarters need not look alike
        return rows.with_columns(near=pl.when(~pl.col("full")).then(pl.col("ref")))
    m = SEASON_LENGTH[frequency]
    effects = rows.select("unique_id", "pos", "s_own").unique(["unique_id", "pos"])
    shifted = [
        effects.select(
            "unique_id", pos=((pl.col("pos") + step) % m).cast(pl.Int16), **{name: "s_own"}
        )
        for step, name in ((1, "s_prev"), (-1, "s_next"))
    ]
    near = rows.join(shifted[0], on=["unique_id", "pos"], how="left").join(
        shifted[1], on=["unique_id", "pos"], how="left"
    )
    adjacent = (pl.col("s_prev") + pl.col("s_next")) / 2
    return near.with_columns(
        near=pl.when(pl.col("full")).then(adjacent).otherwise(pl.col("ref"))
    ).drop("s_prev", "s_next")


def recency_weight(half_life: float, m: int) -> pl.Expr:
    """Weight of a row: halves every ``half_life`` seasons back from the series' last row."""
    if math.isinf(half_life):
        return pl.lit(1.0)
    age = pl.col("t").max().over("unique_id") - pl.col("t")
    return (-math.log(2) * age / (half_life * m)).exp()


def choose_half_life(rows: pl.DataFrame, m: int) -> float:
    """The half-life that best predicts each of the last seasons from the ones before.

    Each of the last (up to three) seasons of every series with at least two seasons before
    it is predicted position by position from the weighted mean of the earlier seasons;
    squared errors are summed over the frame's series. Without such series: ``inf``.
    """
    n = pl.col("t").max().over("unique_id") + 1
    usable = rows.filter(pl.col("use") & (n >= 3 * m)).with_columns(n=n)
    if usable.is_empty():
        return math.inf
    blocks = pl.DataFrame({"b": list(range(1, MAX_VALIDATION_SEASONS + 1))})
    lives = pl.DataFrame({"h": list(HALF_LIVES)})
    cut = usable.join(blocks, how="cross").with_columns(start=pl.col("n") - pl.col("b") * m)
    cut = cut.filter(pl.col("start") >= 2 * m).with_columns(e=pl.col("lyc") - pl.col("trend"))
    before = cut.filter(pl.col("t") < pl.col("start")).join(lives, how="cross")
    age = (pl.col("start") - pl.col("t")).cast(pl.Float64)
    decay = (-math.log(2) * age / (pl.col("h") * m)).exp()
    w = pl.when(pl.col("h").is_infinite()).then(1.0).otherwise(decay)
    pred = before.group_by("unique_id", "b", "h", "pos").agg(pred=(w * pl.col("e")).sum() / w.sum())
    after = cut.filter((pl.col("t") >= pl.col("start")) & (pl.col("t") < pl.col("start") + m))
    sse = (
        after.join(pred, on=["unique_id", "b", "pos"])
        .group_by("h")
        .agg(sse=((pl.col("e") - pl.col("pred")) ** 2).sum())
        .sort("sse", "h")
    )
    return float(sse["h"][0]) if sse.height else math.inf


def _noise(rows: pl.DataFrame, m: int, fitted: str = "s_own") -> pl.DataFrame:
    """``unique_id, sigma2``: residual variance around trend + season, per series.

    Full-coverage series: squared residuals over their degrees of freedom (weeks minus
    positions minus the slope), blended with a robust estimate from year-over-year changes
    at the same position worth ``PRIOR_DOF`` weeks — with most positions seen once the
    residuals alone say little. Partial series (no position seen twice): the robust
    estimate from week-to-week changes.
    """
    e = pl.col("lyc") - pl.col("trend")
    resid = pl.when(pl.col("full")).then(e - pl.col(fitted)).otherwise(e - pl.col("ref"))
    yearly = e.diff(m).drop_nulls()
    weekly = e.diff().drop_nulls()
    robust = pl.when(yearly.len() > 0).then(yearly.abs().median()).otherwise(weekly.abs().median())
    noise = (
        rows.filter(pl.col("use"))
        .sort("unique_id", "t")
        .group_by("unique_id")
        .agg(
            sse=(resid**2).sum(),
            dof=pl.len() - pl.col("pos").n_unique() - 1,
            full=pl.col("full").first(),
            robust=(robust * MAD_TO_SD) ** 2 / 2,
        )
    )
    dof = pl.col("dof").clip(0).cast(pl.Float64)
    blended = (pl.col("sse") + PRIOR_DOF * pl.col("robust")) / (dof + PRIOR_DOF)
    sigma2 = pl.when(pl.col("full")).then(blended).otherwise(pl.col("robust"))
    return noise.select("unique_id", sigma2=sigma2.fill_nan(None).fill_null(1.0).clip(MIN_VAR))


def _with_variance(rows: pl.DataFrame, season: pl.DataFrame, m: int) -> pl.DataFrame:
    """Add ``var``: the series' residual variance over the effective weeks at the position."""
    fitted = rows.join(
        season.select("unique_id", pos="key", own_w="own"), on=["unique_id", "pos"], how="left"
    )
    return season.join(_noise(fitted, m, "own_w"), on="unique_id").select(
        "unique_id",
        "key",
        "own",
        var=pl.col("sigma2") * pl.col("sw2") / pl.col("sw") ** 2,
        full="full",
    )
