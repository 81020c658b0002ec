"""Shape pipeline outputs into the warehouse's result tables (priors, weights, brand rows)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from forecast.engine.pooling import Priors

RUN_BRAND_COLUMNS = {
    "brand": pl.String,
    "sector": pl.String,
    "status": pl.String,
    "config_hash": pl.String,
    "data_rows": pl.Int64,
    "data_max_ds": pl.Date,
    "data_hash": pl.String,
    "n_series": pl.Int64,
    "n_inactive": pl.Int64,
    "n_rows": pl.Int64,
    "selected_model": pl.String,
    "seconds": pl.Float64,
    "error": pl.String,
}


def prior_rows(priors: Priors) -> pl.DataFrame:
    """``priors`` table rows: brand profiles plus sector and group profiles."""
    brands = priors.brands.with_columns(level=pl.lit("brand"))
    pools = priors.pools.with_columns(brand=pl.lit(None, pl.String))
    return pl.concat([brands, pools], how="diagonal_relaxed")


def weight_rows(
    priors: Priors,
    stats: pl.DataFrame,
    series_weights: list[pl.DataFrame],
    sectors: Mapping[str, str],
) -> pl.DataFrame:
    """``prior_weights`` rows: each brand's and sector's own weight, with its evidence.

    Args:
        stats: ``brand, history_weeks, n_series`` at the as-of date.
        series_weights: per brand ``unique_id, own_weight, brand`` of its series.
        sectors: brand → sector.
    """
    series = (
        pl.concat(series_weights)
        .group_by("brand")
        .agg(
            series_weight_mean=pl.col("own_weight").mean(),
            series_weight_min=pl.col("own_weight").min(),
            series_weight_max=pl.col("own_weight").max(),
        )
        if series_weights
        else pl.DataFrame(schema={"brand": pl.String})
    )
    brand_part = (
        priors.weights.filter(pl.col("level") == "brand")
        .join(stats.rename({"brand": "name"}), on="name", how="left")
        .join(series.rename({"brand": "name"}), on="name", how="left")
        .with_columns(sector=pl.col("name").replace_strict(sectors, default=None))
    )
    sector_stats = (
        stats.with_columns(sector=pl.col("brand").replace_strict(sectors, default=None))
        .group_by("sector")
        .agg(pl.col("history_weeks").max(), pl.col("n_series").sum())
        .rename({"sector": "name"})
    )
    sector_part = (
        priors.weights.filter(pl.col("level") == "sector")
        .join(sector_stats, on="name", how="left")
        .with_columns(sector=pl.col("name"))
    )
    out = pl.concat([brand_part, sector_part], how="diagonal_relaxed")
    return out.with_columns(
        pl.col("history_weeks").fill_null(0),
        pl.col("n_series").fill_null(0),
        pl.col("between_var").fill_null(0.0),
    ).drop("n_profiled", strict=False)


def run_brand_rows(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """``run_brands`` rows from the per-brand task summaries."""
    return pl.DataFrame(
        [{k: r.get(k) for k in RUN_BRAND_COLUMNS} for r in rows], schema=RUN_BRAND_COLUMNS
    )
