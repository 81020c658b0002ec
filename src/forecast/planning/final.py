"""The final forecast planners export: statistical + active overrides, coherent at every level.

Overrides are spread at the bottom (:func:`overrides.apply_overrides`) and the bottom is
summed back up with hierarchicalforecast's ``aggregate``, so every parent still equals the
sum of its children. Each level's intervals are its statistical intervals scaled by
final / statistical (a point where the statistical forecast is 0 takes the final value as
both bounds). Months and quarters follow the 4-4-5 calendar, as for the statistical forecast.
"""

from __future__ import annotations

import polars as pl

from forecast.planning.coherent import KEY_COLUMNS
from forecast.planning.hierarchy import to_levels
from forecast.planning.overrides import applications, apply_overrides
from forecast.planning.temporal import to_periods
from forecast.vocabulary import BOUNDS, HIERARCHY_KEYS, Granularity

_KEYS = list(HIERARCHY_KEYS)


def final_forecasts(
    weekly: pl.DataFrame, overrides: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Final forecasts of one run, and which overrides shaped them.

    Args:
        weekly: The run's weekly ``level_forecasts`` rows (every level).
        overrides: Active overrides (see ``overrides.validate_overrides``); those whose
            period misses the run's weeks change nothing.

    Returns:
        ``(final, applied)``: ``final_level_forecasts`` rows and ``override_applications``
        rows, both without ``run_id``.
    """
    bottom = weekly.filter(pl.col("level") == "product_market").select(*_KEYS, "ds", "yhat")
    spread = apply_overrides(bottom, overrides)
    summed, structure = to_levels(
        spread.with_columns(pl.col("overridden").cast(pl.Int32)), ["final", "yhat", "overridden"]
    )
    summed = summed.join(structure.keys, on="unique_id").drop("unique_id", "yhat")
    levels = weekly.join(summed, on=[*KEY_COLUMNS, "ds"], how="left", nulls_equal=True)
    ratio = pl.when(pl.col("yhat") > 0).then(pl.col("final") / pl.col("yhat"))
    scaled = {b: (pl.col(b) * ratio).fill_null(pl.col("final")) for b in BOUNDS}
    final_week = levels.with_columns(**scaled).select(
        *KEY_COLUMNS,
        "ds",
        "step",
        statistical="yhat",
        yhat="final",
        **{b: b for b in BOUNDS},
        overridden=pl.col("overridden") > 0,
    )
    return _with_periods(final_week), applications(spread, overrides)


def _with_periods(week: pl.DataFrame) -> pl.DataFrame:
    """Weekly final rows plus their retail months and quarters."""
    values = week.with_columns(pl.col("overridden").cast(pl.Int32))
    parts = [values.with_columns(granularity=pl.lit("week"), weeks=pl.lit(1, pl.Int16))]
    coarse: tuple[Granularity, ...] = ("month", "quarter")
    for granularity in coarse:
        periods = to_periods(values, KEY_COLUMNS, granularity).drop("period_weeks")
        parts.append(periods.with_columns(granularity=pl.lit(granularity)).select(parts[0].columns))
    return pl.concat(parts).with_columns(pl.col("overridden") > 0)
