"""Backtest accuracy: per-series scores from utilsforecast, aggregated per brand and model.

One scoring function serves the pipeline and every benchmark: :func:`score_series` scores
every model of a long frame of backtest forecasts in one ``utilsforecast.evaluate`` call.
MASE and RMSSE are scaled by the in-sample one-step naive error up to each cutoff (as in
M5), which exists for every series with two weeks of history; a seasonal scale would not
exist for young series. Series whose scale is zero (constant history) are left out of the
means.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import polars as pl
from utilsforecast import losses
from utilsforecast.evaluation import evaluate

from forecast.vocabulary import BOUNDS, INTERVAL_LEVELS

SCORES = ("mase", "rmsse", "smape", "coverage_80", "coverage_95", "scaled_crps")
_NAMES = {"coverage_level80": "coverage_80", "coverage_level95": "coverage_95"}
_KEYS = ["unique_id", "cutoff", "model"]


def score_series(cv: pl.DataFrame, train: pl.DataFrame, seasonality: int = 1) -> pl.DataFrame:
    """Per series, cutoff and model: the scores in ``SCORES`` plus absolute error sums.

    Args:
        cv: ``unique_id, cutoff, ds, model, y, yhat`` and, for the interval scores,
            ``lo_80, hi_80, lo_95, hi_95`` (without them those scores are null).
        train: ``unique_id, ds, y`` — the full history (each cutoff sees ``ds <= cutoff``).
        seasonality: Scale MASE and RMSSE by the in-sample naive error at this lag: 1 (the
            default) or a season length (the tourism competition's convention).

    Returns:
        ``unique_id, cutoff, model``, the scores, ``abs_err`` (Σ|error|), ``abs_y``
        (Σ|actual|) and ``n`` (points).
    """
    if cv.is_empty():
        return empty_scores()
    models = sorted(cv["model"].unique())
    intervals = all(b in cv.columns for b in BOUNDS)
    ids = cv.select("unique_id").unique()
    scores = evaluate(
        _wide(cv, BOUNDS if intervals else ()),
        _metrics(seasonality, intervals),
        models=models,
        train_df=train.join(ids, on="unique_id").select("unique_id", "ds", "y"),
        level=list(INTERVAL_LEVELS) if intervals else None,
    )
    per_metric = (
        scores.unpivot(index=["unique_id", "cutoff", "metric"], variable_name="model")
        .with_columns(pl.col("metric").replace(_NAMES))
        .pivot(on="metric", index=_KEYS, values="value")
    )
    # group_by order is random: sorted, so means over these rows sum in one order
    sums = (
        cv.group_by(_KEYS)
        .agg(
            abs_err=(pl.col("y") - pl.col("yhat")).abs().sum(),
            abs_y=pl.col("y").abs().sum(),
            n=pl.len(),
        )
        .sort(_KEYS)
    )
    out = sums.join(per_metric, on=_KEYS, how="left")
    missing = [pl.lit(None, pl.Float64).alias(c) for c in SCORES if c not in out.columns]
    return out.with_columns(missing).select(*empty_scores().columns)


def _metrics(seasonality: int, intervals: bool) -> list[Callable[..., Any]]:
    """The utilsforecast losses behind ``SCORES`` (interval ones only with bounds)."""
    point: list[Callable[..., Any]] = [
        partial(losses.mase, seasonality=seasonality),
        partial(losses.rmsse, seasonality=seasonality),
        losses.smape,
    ]
    return [*point, losses.coverage, losses.scaled_crps] if intervals else point


def _wide(cv: pl.DataFrame, bounds: tuple[str, ...]) -> pl.DataFrame:
    """One column per model (and per model and bound, ``<model>-lo-80``), as utilsforecast wants."""
    index = ["unique_id", "cutoff", "ds", "y"]
    wide = cv.pivot(on="model", index=index, values=["yhat", *bounds])
    if not bounds:  # one value column: polars names the columns after the models alone
        return wide
    names = {}
    for col in wide.columns:
        value, _, model = col.partition("_")
        if value == "yhat":
            names[col] = model
        elif value in ("lo", "hi"):
            level, _, name = model.partition("_")
            names[col] = f"{name}-{value}-{level}"
    return wide.rename(names)


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
    return (
        per_series.group_by(by)
        .agg(
            **finite,
            wape=pl.col("abs_err").sum() / pl.col("abs_y").sum(),
            sum_actual=pl.col("abs_y").sum(),
            n_series=pl.col("unique_id").n_unique(),
            n_points=pl.col("n").sum(),
        )
        .sort(by)
    )
