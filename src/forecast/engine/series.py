"""From raw sales rows to clean series: ids, a complete weekly grid, activity and demand class."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from forecast.inputs.calendar import week_start
from forecast.vocabulary import INACTIVE_AFTER_WEEKS, SERIES_KEYS

# Syntetos–Boylan cut-off on the average inter-demand interval.
ADI_CUTOFF = 1.32


def series_id() -> pl.Expr:
    """``brand/region/product``: the series key as one string."""
    return pl.concat_str([pl.col(k) for k in SERIES_KEYS], separator="/").alias("unique_id")


def prepare_series(sales: pl.DataFrame, as_of: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Active series on a complete weekly grid ending at the week of ``as_of``.

    A week missing inside a series' life counts as zero sales; active series are extended
    with zeros up to ``as_of``. Series without a sale in the last 26 weeks are inactive
    (discontinued) and are not forecast.

    Args:
        sales: ``brand, region, product, ds, units`` rows up to ``as_of``.
        as_of: Forecast origin; the last observed week is the week holding it.

    Returns:
        ``(series, inactive)``: series is ``unique_id, brand, region, product, ds, y``
        sorted by id and week; inactive lists ``unique_id`` and its last week with a sale.
    """
    end = week_start(as_of)
    rows = sales.filter(pl.col("ds") <= end).with_columns(series_id())
    last_sale = rows.filter(pl.col("units") > 0).group_by("unique_id").agg(last=pl.col("ds").max())
    spans = (
        rows.group_by("unique_id", *SERIES_KEYS)
        .agg(first=pl.col("ds").min())
        .join(last_sale, on="unique_id", how="left")
    )
    cutoff = end - timedelta(weeks=INACTIVE_AFTER_WEEKS)
    is_active = pl.col("last").is_not_null() & (pl.col("last") > cutoff)
    active = spans.filter(is_active | (pl.col("first") > cutoff))
    inactive = spans.join(active.select("unique_id"), on="unique_id", how="anti").select(
        "unique_id", last_sale=pl.col("last")
    )
    grid = active.with_columns(
        ds=pl.date_ranges(pl.col("first"), pl.lit(end), interval="1w")
    ).explode("ds")
    series = (
        grid.select("unique_id", *SERIES_KEYS, "ds")
        .join(rows.select("unique_id", "ds", "units"), on=["unique_id", "ds"], how="left")
        .with_columns(y=pl.col("units").fill_null(0.0))
        .drop("units")
        .sort("unique_id", "ds")
    )
    return series, inactive


def demand_class(series: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, demand_class``: intermittent when the average inter-demand interval > 1.32.

    Of the Syntetos–Boylan quadrants only the ADI split changes the model family here:
    erratic series count as smooth and lumpy ones as intermittent.
    """
    stats = series.group_by("unique_id").agg(
        n=pl.len(),
        nonzero=(pl.col("y") > 0).sum(),
    )
    adi = pl.col("n") / pl.col("nonzero").clip(1)
    return stats.select(
        "unique_id",
        demand_class=pl.when(adi > ADI_CUTOFF)
        .then(pl.lit("intermittent"))
        .otherwise(pl.lit("smooth")),
    )
