"""Backtest accuracy: per-series scores from utilsforecast, aggregated per brand and model.

MASE and RMSSE are scaled by the in-sample one-step naive error (as in M5), which exists
for every series with two weeks of history; a seasonal scale would not exist for young
series. Series whose scale is zero (constant history) are left out of the means.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from utilsforecast import losses

QUANTILES = np.array([0.025, 0.1, 0.5, 0.9, 0.975])
_QUANTILE_COLUMNS = ("lo_95", "lo_80", "yhat", "hi_80", "hi_95")
SCORES = ("mase", "rmsse", "smape", "coverage_80", "coverage_95", "scaled_crps")


def score_series(cv: pl.DataFrame, train: pl.DataFrame) -> pl.DataFrame:
    """Per series, cutoff and model: the scores in ``SCORES`` plus absolute error sums.

    Args:
        cv: ``unique_id, cutoff, ds, model, y, yhat, lo_80, hi_80, lo_95, hi_95``.
        train: ``unique_id, ds, y`` — the full history (each cutoff sees ``ds <= cutoff``).
    """
    parts = [
        _score_model(cv.filter(pl.col("model") == m), train, m) for m in cv["model"].unique().sort()
    ]
    return pl.concat(parts) if parts else empty_scores()


def _score_model(rows: pl.DataFrame, train: pl.DataFrame, model: str) -> pl.DataFrame:
    quantile_cols = [f"{model}-q{i}" for i in range(len(QUANTILES))]
    wide = rows.select(
        "unique_id",
        "cutoff",
        "ds",
        "y",
        pl.col("yhat").alias(model),
        pl.col("lo_80").alias(f"{model}-lo-80"),
        pl.col("hi_80").alias(f"{model}-hi-80"),
        pl.col("lo_95").alias(f"{model}-lo-95"),
        pl.col("hi_95").alias(f"{model}-hi-95"),
        *[pl.col(c).alias(q) for c, q in zip(_QUANTILE_COLUMNS, quantile_cols, strict=True)],
    )
    ids = wide.select("unique_id").unique()
    hist = train.join(ids, on="unique_id").sort("unique_id", "ds")
    keys = ["unique_id", "cutoff"]
    scores = {
        "mase": losses.mase(wide, [model], seasonality=1, train_df=hist),
        "rmsse": losses.rmsse(wide, [model], seasonality=1, train_df=hist),
        "smape": losses.smape(wide, [model]),
        "coverage_80": losses.coverage(wide, [model], level=80),
        "coverage_95": losses.coverage(wide, [model], level=95),
        "scaled_crps": losses.scaled_crps(wide, {model: quantile_cols}, QUANTILES),
    }
    out = wide.group_by(keys).agg(
        abs_err=(pl.col("y") - pl.col(model)).abs().sum(), abs_y=pl.col("y").abs().sum(), n=pl.len()
    )
    for name, frame in scores.items():
        out = out.join(frame.select(*keys, pl.col(model).alias(name)), on=keys, how="left")
    return out.with_columns(model=pl.lit(model))


def empty_scores() -> pl.DataFrame:
    """The frame :func:`score_series` returns when there is nothing to score."""
    schema: dict[str, pl.DataType] = {
        "unique_id": pl.String(),
        "cutoff": pl.Date(),
        "model": pl.String(),
    }
    schema.update({c: pl.Float64() for c in (*SCORES, "abs_err", "abs_y")})
    schema["n"] = pl.UInt32()
    return pl.DataFrame(schema=schema)


def summarise(per_series: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Mean of finite per-series scores, WAPE from summed errors, and counts, per group."""
    finite = {s: pl.col(s).filter(pl.col(s).is_finite()).mean() for s in SCORES}
    return per_series.group_by(by).agg(
        **finite,
        wape=pl.col("abs_err").sum() / pl.col("abs_y").sum(),
        n_series=pl.col("unique_id").n_unique(),
        n_points=pl.col("n").sum(),
    )
