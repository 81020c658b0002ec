"""Shape the pooled priors into the warehouse's ``priors`` and ``prior_weights`` rows."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from forecast.engine.pooling import Priors


def prior_rows(priors: Priors) -> pl.DataFrame:
    """``priors`` table rows: brand profiles plus sector and group profiles."""
    brands = priors.brands.with_columns(level=pl.lit("brand"))
    pools = priors.pools.with_columns(brand=pl.lit(None, pl.String))
    return pl.concat([brands, pools], how="diagonal_relaxed")


def weight_rows(
    priors: Priors,
    stats: pl.DataFrame,
    series_weights: pl.DataFrame,
    sectors: Mapping[str, str],
) -> pl.DataFrame:
    """``prior_weights`` rows: each brand's and sector's own weight, with its evidence.

    Args:
        stats: ``brand, history_weeks, n_series`` at the as-of date.
        series_weights: ``brand, series_weight_mean, series_weight_min, series_weight_max``
            of the brands that were fitted (see ``runs.BrandOutcome``).
        sectors: brand → sector.
    """
    in_sector = pl.col("name").replace_strict(sectors, default=None)
    brand_part = (
        priors.weights.filter(pl.col("level") == "brand")
        .join(stats.rename({"brand": "name"}), on="name", how="left")
        .join(series_weights.rename({"brand": "name"}), on="name", how="left")
        .with_columns(sector=in_sector)
    )
    sector_stats = (
        stats.rename({"brand": "name"})
        .group_by(sector=in_sector)
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
