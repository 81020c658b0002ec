"""Calibrated intervals: split-conformal bounds from the backtest's own errors.

A model's intervals assume its own error model: on counts near zero the negative-binomial
ones over-cover, on young series a variance from a handful of points under-covers. The
backtest already forecast every series from earlier origins, so its errors say how wide an
interval had to be. Per segment (demand class × age, see :func:`selection.segment`), model
and step, the errors on the log1p scale, each divided by its series' noise scale, give
quantiles; a forecast's bounds are then ``expm1(log1p(yhat) + q · scale)``. Where fewer than
``MIN_POINTS`` errors back a quantile, the model's own interval is kept.
"""

from __future__ import annotations

import polars as pl

from forecast.engine.selection import segment
from forecast.vocabulary import INTERVAL_LEVELS

MIN_POINTS = 40
# Steps next to each other err alike: each step borrows the errors of its neighbours.
_STEP_WINDOW = 1
_MIN_SCALE = 0.05  # a constant history has no noise of its own; 5 % on the log scale
_FALLBACK_SCALE = 0.5


def noise_scale(history: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, scale``: sd of each series' one-step changes of log1p(y).

    Unknown weeks (null ``y``) and the changes into and out of them are skipped. Series with
    fewer than five observed points take the median of the others; a floor keeps constant
    histories from dividing by zero.
    """
    per = (
        history.sort("unique_id", "ds")
        .group_by("unique_id")
        .agg(n=pl.col("y").count(), sd=pl.col("y").clip(0).log1p().diff().drop_nulls().std())
    )
    own = (pl.col("n") >= 5) & pl.col("sd").is_finite()
    typical = per.filter(own)["sd"].median()
    fallback = float(typical) if typical is not None else _FALLBACK_SCALE  # type: ignore[arg-type]
    scale = pl.when(own).then(pl.col("sd")).otherwise(fallback).clip(_MIN_SCALE)
    return per.select("unique_id", scale=scale)


def calibrate(points: pl.DataFrame) -> pl.DataFrame:
    """Quantiles of scaled backtest errors per segment, model and step.

    Args:
        points: ``unique_id, model, step, demand_class, history_weeks, y, yhat, scale`` —
            one row per backtest forecast with its actual and its series' noise scale at
            the origin.

    Returns:
        ``segment, model, step, q_lo_80, q_hi_80, q_lo_95, q_hi_95, n_points`` for the
        groups with at least ``MIN_POINTS`` errors.
    """
    scored = points.with_columns(
        segment(),
        score=(pl.col("y").clip(0).log1p() - pl.col("yhat").clip(0).log1p()) / pl.col("scale"),
    )
    near = pl.DataFrame({"shift": list(range(-_STEP_WINDOW, _STEP_WINDOW + 1))})
    spread = scored.join(near, how="cross").with_columns(step=pl.col("step") + pl.col("shift"))
    steps = scored.select("segment", "model", "step").unique()
    quantiles = {}
    for level in INTERVAL_LEVELS:
        tail = (100 - level) / 200
        quantiles[f"q_lo_{level}"] = pl.col("score").quantile(tail, "lower")
        quantiles[f"q_hi_{level}"] = pl.col("score").quantile(1 - tail, "higher")
    table = (
        spread.group_by("segment", "model", "step")
        .agg(**quantiles, n_points=pl.len())
        .sort("segment", "model", "step")
    )
    return table.join(steps, on=["segment", "model", "step"]).filter(
        pl.col("n_points") >= MIN_POINTS
    )


def apply_calibration(
    forecasts: pl.DataFrame, calibration: pl.DataFrame, scale: pl.DataFrame
) -> pl.DataFrame:
    """Replace interval bounds by calibrated ones where the calibration covers the row.

    Args:
        forecasts: Long forecasts with ``unique_id, model, step, demand_class,
            history_weeks, yhat`` and the four bounds.
        calibration: From :func:`calibrate`.
        scale: ``unique_id, scale`` of the series at the forecast origin.

    Returns:
        ``forecasts`` with the same columns; bounds stay ordered and non-negative.
    """
    keys = ["segment", "model", "step"]
    joined = forecasts.with_columns(segment()).join(
        calibration.drop("n_points").with_columns(pl.col("step").cast(forecasts["step"].dtype)),
        on=keys,
        how="left",
    )
    joined = joined.join(scale, on="unique_id", how="left")
    centre = pl.col("yhat").clip(0).log1p()
    bounds = {}
    for level in INTERVAL_LEVELS:
        for side in ("lo", "hi"):
            q = pl.col(f"q_{side}_{level}")
            calibrated = (centre + q * pl.col("scale")).exp() - 1
            bounds[f"{side}_{level}"] = (
                pl.when(q.is_not_null()).then(calibrated).otherwise(pl.col(f"{side}_{level}"))
            )
    out = joined.with_columns(**bounds).select(forecasts.columns)
    return out.with_columns(
        lo_80=pl.min_horizontal(pl.col("lo_80").clip(0), "yhat"),
        hi_80=pl.max_horizontal("hi_80", "yhat"),
    ).with_columns(
        lo_95=pl.min_horizontal(pl.col("lo_95").clip(0), "lo_80"),
        hi_95=pl.max_horizontal("hi_95", "hi_80"),
    )
