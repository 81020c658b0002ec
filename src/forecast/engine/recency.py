"""Drifting seasonality: recency weights of years, with a half-life chosen from the data.

Long histories see their season move (tourism, fashion). The profile a series lends and
borrows is then a weighted mean of its years, halving every ``half_life`` seasons back from
the end (:func:`recency_weight`); :func:`choose_half_life` picks it by how well each
candidate predicts the last seasons from the ones before them, pooled over the series of a
frame; :func:`with_drift` gives every history row the season of its own years, so the
fits see old years de-seasonalised too.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from forecast.vocabulary import SEASON_KERNEL, Frequency

HALF_LIVES = (1.0, 2.0, 4.0, 8.0, math.inf)  # in seasons; inf weighs every year the same
MAX_VALIDATION_SEASONS = 10
MIN_CLUSTERS = 10  # series × seasons needed to measure the gain's spread by cluster
# Forgetting old years also costs precision the validation does not see (noisier profiles,
# noisier de-seasonalised history): a finite half-life must cut the squared error this much.
MIN_GAIN = 0.05


def recency_weight(half_life: float, m: int) -> pl.Expr:
    """Weight of a row: halves every ``half_life`` seasons back from the series' last row."""
    if math.isinf(half_life):
        return pl.lit(1.0)
    age = pl.col("t").max().over("unique_id") - pl.col("t")
    return (-math.log(2) * age / (half_life * m)).exp()


def choose_half_life(rows: pl.DataFrame, m: int) -> float:
    """The half-life that best predicts each of the last seasons from the ones before.

    Each of the last (up to three) seasons of every series with at least two seasons before
    it is predicted position by position from the weighted mean of the earlier seasons. A
    finite half-life must beat weighing every year alike by more than twice the standard
    error of the gain (paired, per series and season, or per week when there are fewer than
    ``MIN_CLUSTERS`` of those): forgetting old years costs precision, so it has to pay.
    Among those that do, the lowest squared error wins. Without such series: ``inf``.
    """
    errors = _validation_errors(rows, m)
    if errors.is_empty():
        return math.inf
    flat = f"h{HALF_LIVES.index(math.inf)}"
    clusters = errors.n_unique(["unique_id", "b"])
    by = ["unique_id", "b"] if clusters >= MIN_CLUSTERS else ["unique_id", "b", "pos", "t"]
    # group_by order is random: sorted, so the mean and sd of the gains sum in one order
    gains = (
        errors.group_by(by)
        .agg(
            [(pl.col(flat) - pl.col(k)).sum().alias(k) for k in errors.columns if k.startswith("h")]
        )
        .sort(by)
    )
    flat_sse = float(errors[flat].sum())
    best, best_sse = math.inf, flat_sse
    for i, h in enumerate(HALF_LIVES):
        gain = gains[f"h{i}"]
        n = gain.len()
        if n < 2 or math.isinf(h):
            continue
        mean, sd = float(gain.mean()), float(gain.std())  # type: ignore[arg-type]
        sse = float(errors[f"h{i}"].sum())
        gain_needed = max(2 * sd / math.sqrt(n), MIN_GAIN * flat_sse / n)
        if mean > gain_needed and sse < best_sse:
            best, best_sse = h, sse
    return best


def _validation_errors(rows: pl.DataFrame, m: int) -> pl.DataFrame:
    """Squared errors ``h0…`` (one per half-life) of every validated week, with ``unique_id,
    b`` (the season, counted back from the end), ``pos`` and ``t``."""
    n = pl.col("t").max().over("unique_id") + 1
    usable = rows.filter(pl.col("use") & (n >= 3 * m)).with_columns(n=n)
    blocks = pl.DataFrame({"b": list(range(1, MAX_VALIDATION_SEASONS + 1))})
    cut = (
        usable.join(blocks, how="cross")
        .with_columns(start=pl.col("n") - pl.col("b") * m, e=pl.col("lyc") - pl.col("trend"))
        .filter(pl.col("start") >= 2 * m)
    )
    age = (pl.col("start") - pl.col("t")).cast(pl.Float64)
    weights = {
        f"h{i}": age * 0.0 + 1.0 if math.isinf(h) else (-math.log(2) * age / (h * m)).exp()
        for i, h in enumerate(HALF_LIVES)
    }
    sums = [(w * pl.col("e")).sum().alias(f"{k}_we") for k, w in weights.items()]
    sums += [w.sum().alias(f"{k}_w") for k, w in weights.items()]
    pred = cut.filter(pl.col("t") < pl.col("start")).group_by("unique_id", "b", "pos").agg(sums)
    after = cut.filter((pl.col("t") >= pl.col("start")) & (pl.col("t") < pl.col("start") + m))
    # Shapes are compared, not levels: a profile is centred, the level is the model's job.
    block = ["unique_id", "b"]
    centred = {k: pl.col(f"{k}_we") / pl.col(f"{k}_w") for k in weights}
    centred = {k: p - p.mean().over(block) for k, p in centred.items()}
    e = pl.col("e") - pl.col("e").mean().over(block)
    return after.join(pred, on=["unique_id", "b", "pos"]).select(
        "unique_id", "b", "pos", "t", *[((e - p) ** 2).alias(k) for k, p in centred.items()]
    )


def with_drift(rows: pl.DataFrame, half_life: float, frequency: Frequency) -> pl.DataFrame:
    """``drift``: how the season around each row differs from the season at the end.

    Per position, the mean of ``r`` over the *other* years weighted ``λ^|years apart|``
    (``λ = 2^(-1/half_life)``) minus the end-weighted mean the profile uses (weekly:
    smoothed over adjacent weeks with the profiles' kernel). Zero when years weigh the same.
    De-seasonalising the history with ``profile + drift`` leaves old years clean, while a
    row never explains its own noise.
    """
    if math.isinf(half_life):
        return rows.with_columns(drift=pl.lit(0.0))
    frame = rows.sort("unique_id", "pos", "t")
    new_group = (pl.col("unique_id") != pl.col("unique_id").shift()) | (
        pl.col("pos") != pl.col("pos").shift()
    )
    group = frame.select(new_group.fill_null(True).cum_sum() - 1).to_series().to_numpy()
    use = frame["use"].to_numpy().astype(np.float64)
    value = use * frame["r"].fill_null(0.0).to_numpy()
    drift = _two_sided_minus_end(group, use, value, 2.0 ** (-1.0 / half_life))
    frame = frame.with_columns(drift=pl.Series(drift)).sort("unique_id", "t")
    if frequency != "weekly":
        return frame
    smooth = pl.col("drift").rolling_mean(
        window_size=3, weights=list(SEASON_KERNEL["weekly"]), center=True, min_samples=1
    )
    return frame.with_columns(drift=smooth.over("unique_id"))


def _two_sided_minus_end(
    group: np.ndarray, use: np.ndarray, value: np.ndarray, lam: float
) -> np.ndarray:
    """Per group (rows in year order): ``Σ_{j≠k} λ^|k−j| v_j / Σ_{j≠k} λ^|k−j| u_j`` minus
    ``Σ_j λ^(K−1−j) v_j / Σ_j λ^(K−1−j) u_j`` (0 where a row has no other year)."""
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, len(group)])
    k = np.arange(len(group)) - np.repeat(starts, sizes)
    kc = k - np.repeat(sizes, sizes) / 2  # centred: the powers stay in range
    lk = lam**kc

    def within(x: np.ndarray) -> np.ndarray:  # cumulative sum restarting at every group
        c = np.cumsum(x)
        return c - np.repeat(c[starts] - x[starts], sizes)

    def others(x: np.ndarray) -> np.ndarray:
        total = np.repeat(np.add.reduceat(x * lk, starts), sizes)
        fwd = lk * within(x / lk)
        bwd = (total - within(x * lk) + x * lk) / lk
        return fwd + bwd - 2 * x

    end = lam ** (np.repeat(sizes, sizes) - 1 - k)
    final = np.add.reduceat(end * value, starts) / np.maximum(
        np.add.reduceat(end * use, starts), 1e-12
    )
    den = others(use)
    local = np.divide(others(value), den, out=np.zeros_like(den), where=den > 1e-12)
    return np.where(den > 1e-12, local - np.repeat(final, sizes), 0.0)
