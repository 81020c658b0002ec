"""From raw sales rows to clean series: ids, a grid of periods with unknown ones, activity, class.

A period of a series' grid (its first row to the as-of period; weeks, or months for a
monthly brand) is *observed* — its units, or 0 when it has no row and that means no sale —
or *unknown*: ``y`` is null and ``gap`` says why (see :data:`forecast.vocabulary.GapReason`).
What a missing row or a negative net period means is each brand's ``[sales]`` config
(:class:`forecast.inputs.config.SalesSettings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from forecast.inputs.calendar import period_start
from forecast.inputs.config import SalesSettings
from forecast.vocabulary import POLARS_INTERVAL, SERIES_KEYS, WEEKS_PER_PERIOD, Frequency

# Syntetos–Boylan cut-off on the average inter-demand interval.
ADI_CUTOFF = 1.32
# ``auto``: a week is an outage only where at least this many products of the brand × market
# had started; with one product, no sibling can tell a closure from a week without a sale.
MIN_SIBLINGS = 2

Rules = SalesSettings | Mapping[str, SalesSettings] | None


def series_id() -> pl.Expr:
    """``brand/market/product``: the series key as one string."""
    return pl.concat_str([pl.col(k) for k in SERIES_KEYS], separator="/").alias("unique_id")


def history_weeks(frequency: Frequency) -> pl.Expr:
    """A series' age in weeks, over its rows (one a period): model choice and calibration
    count ages in weeks whatever the frequency (young below 26, long from 104)."""
    return (pl.len() * WEEKS_PER_PERIOD[frequency]).round().cast(pl.Int16)


def prepare_series(
    sales: pl.DataFrame, as_of: date, rules: Rules = None, frequency: Frequency = "weekly"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Active series on a grid of periods ending at the one holding ``as_of``, unknown ones null.

    A period without a row is a zero sale, or unknown, by the brand's ``missing_weeks``
    (``auto``: unknown when no product of the brand × market has a row that period while at
    least two of them had started). A negative net period is unknown, or demand 0, by its
    ``returns``. A series is inactive (discontinued, not forecast) after
    ``inactive_after_weeks`` observed weeks without a sale (a month counts for its weeks),
    or when none of its last ``inactive_after_weeks`` weeks was observed.

    Args:
        sales: ``brand, market, product, ds, units`` rows (units may be negative: net sales).
        as_of: Forecast origin; the last period of the grid is the one holding it.
        rules: One brand's settings, or brand → settings; defaults where not given.
        frequency: The brand's periods (``weekly`` or ``monthly``).

    Returns:
        ``(series, inactive)``: series is ``unique_id, brand, market, product, ds, y, gap``
        sorted by id and period (``y`` null and ``gap`` the reason on unknown ones);
        inactive is ``unique_id, last_sale, last_observed``.
    """
    end = period_start(as_of, frequency)
    rows = sales.filter(pl.col("ds") <= end).with_columns(series_id())
    grid = (
        rows.group_by("unique_id", *SERIES_KEYS)
        .agg(first=pl.col("ds").min())
        .with_columns(
            ds=pl.date_ranges(pl.col("first"), pl.lit(end), interval=POLARS_INTERVAL[frequency])
        )
        .explode("ds")
        .drop("first")
        .join(rows.select("unique_id", "ds", "units"), on=["unique_id", "ds"], how="left")
    )
    series = _classify(grid.join(_rule_frame(grid, rules), on="brand", how="left"))
    activity = _activity(series, end, WEEKS_PER_PERIOD[frequency])
    active = activity.filter(~pl.col("inactive")).select("unique_id")
    inactive = activity.filter(pl.col("inactive")).select("unique_id", "last_sale", "last_observed")
    columns = ["unique_id", *SERIES_KEYS, "ds", "y", "gap"]
    return series.join(active, on="unique_id").select(columns).sort("unique_id", "ds"), inactive


def _rule_frame(grid: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """``brand, missing_weeks, returns, inactive_after_weeks`` for every brand of ``grid``."""
    brands = grid["brand"].unique().to_list()
    if rules is None or isinstance(rules, SalesSettings):
        per_brand = dict.fromkeys(brands, rules or SalesSettings())
    else:
        per_brand = {b: rules.get(b, SalesSettings()) for b in brands}
    return pl.DataFrame(
        [{"brand": b, **s.model_dump()} for b, s in per_brand.items()],
        schema={
            "brand": pl.String,
            "missing_weeks": pl.String,
            "returns": pl.String,
            "inactive_after_weeks": pl.Int64,
        },
    )


def _classify(grid: pl.DataFrame) -> pl.DataFrame:
    """``y`` and ``gap`` of every grid week from its row (or its absence) and the rules."""
    keys = ["brand", "market", "ds"]
    no_row = pl.col("units").is_null()
    outage = (
        pl.col("units").is_null().all().over(keys)  # no product of the brand × market reported
        & (pl.len().over(keys) >= MIN_SIBLINGS)
        & (pl.col("missing_weeks") != "zero")
    )
    gap = (
        pl.when(no_row & outage)
        .then(pl.lit("outage"))
        .when(no_row & (pl.col("missing_weeks") == "unknown"))
        .then(pl.lit("missing"))
        .when((pl.col("units") < 0) & (pl.col("returns") == "unknown"))
        .then(pl.lit("return"))
    )
    return grid.with_columns(gap=gap).with_columns(
        y=pl.when(pl.col("gap").is_null()).then(pl.col("units").fill_null(0.0).clip(0.0))
    )


def _activity(series: pl.DataFrame, end: date, weeks_per_period: float) -> pl.DataFrame:
    """Per series: last sale, last observed period, and whether it is inactive (see
    :func:`prepare_series`)."""
    observed = pl.col("y").is_not_null()
    last_sale = pl.col("ds").filter(pl.col("y") > 0).max()
    stats = series.group_by("unique_id").agg(
        last_sale=last_sale,
        last_observed=pl.col("ds").filter(observed).max(),
        limit=pl.col("inactive_after_weeks").first(),
        idle=(observed & (last_sale.is_null() | (pl.col("ds") > last_sale))).sum(),
    )
    unseen = (pl.lit(end) - pl.col("last_observed")).dt.total_days() // 7
    idle_weeks = pl.col("idle") * weeks_per_period
    inactive = (idle_weeks >= pl.col("limit")) | (unseen >= pl.col("limit")).fill_null(True)
    return stats.with_columns(inactive=inactive)


def demand_class(series: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, demand_class``: intermittent when the average inter-demand interval > 1.32.

    Observed weeks only (unknown ``y`` is null). Of the Syntetos–Boylan quadrants only the
    ADI split changes the model family here: erratic series count as smooth and lumpy ones
    as intermittent.
    """
    stats = series.group_by("unique_id").agg(
        n=pl.col("y").count(),
        nonzero=(pl.col("y") > 0).sum(),
    )
    adi = pl.col("n") / pl.col("nonzero").clip(1)
    return stats.select(
        "unique_id",
        demand_class=pl.when(adi > ADI_CUTOFF)
        .then(pl.lit("intermittent"))
        .otherwise(pl.lit("smooth")),
    )
