"""Scores of the accuracy benchmark: MASE (seasonal or one-step scale), sMAPE, OWA, coverage."""

from __future__ import annotations

import polars as pl


def per_series(
    forecasts: pl.DataFrame, test: pl.DataFrame, train: pl.DataFrame, lag: int
) -> pl.DataFrame:
    """Per series and model: MASE against the in-sample naive at ``lag``, sMAPE, and
    coverage of the 80 % / 95 % intervals where the forecasts have bounds.

    Series whose scale is zero (a history constant at that lag) are left out.
    """
    scale = (
        train.sort("unique_id", "ds")
        .group_by("unique_id")
        .agg(scale=pl.col("y").diff(lag).abs().mean())
        .filter(pl.col("scale") > 0)
    )
    joined = forecasts.join(test, on=["unique_id", "ds"]).join(scale, on="unique_id")
    err = (pl.col("y") - pl.col("yhat")).abs()
    denominator = pl.col("y").abs() + pl.col("yhat").abs()
    metrics = {
        "mase": err.mean() / pl.col("scale").first(),
        "smape": (200 * err / denominator).fill_nan(0.0).mean(),
    }
    if "lo_80" in forecasts.columns:
        for level in (80, 95):
            inside = (pl.col("y") >= pl.col(f"lo_{level}")) & (pl.col("y") <= pl.col(f"hi_{level}"))
            metrics[f"coverage_{level}"] = inside.mean()
    return joined.group_by("unique_id", "model").agg(**metrics, points=pl.len())


def summary(scored: pl.DataFrame) -> dict[str, dict[str, float]]:
    """model → mean of each score over series."""
    cols = [c for c in ("mase", "smape", "coverage_80", "coverage_95") if c in scored.columns]
    table = scored.group_by("model").agg(*(pl.col(c).mean() for c in cols), series=pl.len())
    return {row.pop("model"): row for row in table.iter_rows(named=True)}


def owa(results: dict[str, dict[str, float]], naive: str = "naive") -> dict[str, float]:
    """M4's overall weighted average: half sMAPE, half MASE, each relative to ``naive``."""
    base = results[naive]
    return {
        model: 0.5 * (r["smape"] / base["smape"] + r["mase"] / base["mase"])
        for model, r in results.items()
    }
