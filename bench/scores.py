"""Scores of the accuracy benchmark: the pipeline's own scoring, summarised, and M4's OWA."""

from __future__ import annotations

import polars as pl

from forecast.engine.metrics import score_series

_SUMMARY = ("mase", "smape", "coverage_80", "coverage_95")


def per_series(
    forecasts: pl.DataFrame, test: pl.DataFrame, train: pl.DataFrame, lag: int
) -> pl.DataFrame:
    """Per series and model: :func:`score_series` with MASE scaled by the in-sample naive
    error at ``lag`` (1, or the season length as the tourism competition does); series
    with a zero scale are left out. sMAPE is utilsforecast's, on [0, 1]. Unknown test
    periods (null ``y``) are not scored, and scales use observed changes only."""
    cutoff = train["ds"].max()
    cv = forecasts.join(test.drop_nulls("y"), on=["unique_id", "ds"])
    cv = cv.with_columns(cutoff=pl.lit(cutoff))
    scores = score_series(cv, train.select("unique_id", "ds", "y"), seasonality=lag)
    return scores.filter(pl.col("mase").is_finite())


def summary(scored: pl.DataFrame) -> dict[str, dict[str, float]]:
    """model → mean of each score over series (null scores, e.g. no intervals, dropped)."""
    table = scored.group_by("model").agg(*(pl.col(c).mean() for c in _SUMMARY), series=pl.len())
    return {
        row.pop("model"): {k: v for k, v in row.items() if v is not None}
        for row in table.iter_rows(named=True)
    }


def owa(results: dict[str, dict[str, float]], naive: str = "naive") -> dict[str, float]:
    """M4's overall weighted average: half sMAPE, half MASE, each relative to ``naive``."""
    base = results[naive]
    return {
        model: 0.5 * (r["smape"] / base["smape"] + r["mase"] / base["mase"])
        for model, r in results.items()
    }
