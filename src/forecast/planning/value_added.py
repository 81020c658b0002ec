"""A simulated planner for the demo, so the forecast-value-added views have overrides to judge.

The demo knows the generator's expected demand for the weeks ahead. A seeded planner then
overrides some brands: *informed* overrides move the brand total most of the way toward
that expected demand when the statistical forecast misses it by more than 5 %; *biased*
ones add 10–15 % out of optimism, whatever the data say. The FVA views (``fva``,
``override_outcomes``, ``fva_overrides``) then show which kind helped once actuals arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import polars as pl

from forecast.inputs.config import BrandConfig
from forecast.inputs.synthetic import generate_brand, weeks_between

INFORMED_SHARE = 0.5
BIASED_SHARE = 0.3
WINDOW_WEEKS = 4


def simulate_planner(
    statistical: pl.DataFrame, expected: pl.DataFrame, seed: int = 0
) -> pl.DataFrame:
    """Override rows (the ``forecast override`` file format) of one simulated planner.

    Args:
        statistical: Brand-level weekly statistical forecasts: ``brand, ds, yhat``.
        expected: The generator's expected demand per brand and week: ``brand, ds, mu``.

    Returns:
        ``brand, start, end, percent_change, reason, author`` (text, like a file's), one row
        per overridden brand; the period is the first ``WINDOW_WEEKS`` forecast weeks.
    """
    rng = np.random.default_rng(seed)
    first = statistical["ds"].min()
    window = statistical.filter(pl.col("ds") < pl.lit(first).dt.offset_by(f"{WINDOW_WEEKS}w"))
    gap = (
        window.join(expected, on=["brand", "ds"])
        .group_by("brand")
        .agg(ratio=pl.col("mu").sum() / pl.col("yhat").sum(), end=pl.col("ds").max())
        .sort("brand")
    )
    draw = rng.random(gap.height)
    optimism = rng.uniform(10, 15, gap.height)
    kind = np.where(
        draw < INFORMED_SHARE,
        "informed",
        np.where(draw < INFORMED_SHARE + BIASED_SHARE, "biased", "none"),
    )
    planned = gap.with_columns(kind=pl.Series(kind), optimism=pl.Series(optimism)).with_columns(
        percent=pl.when(pl.col("kind") == "biased")
        .then(pl.col("optimism"))
        .when((pl.col("kind") == "informed") & ((pl.col("ratio") - 1).abs() > 0.05))
        .then(80 * (pl.col("ratio") - 1))
    )
    return planned.filter(pl.col("percent").is_not_null()).select(
        "brand",
        start=pl.lit(first).cast(pl.String),
        end=pl.col("end").cast(pl.String),
        percent_change=pl.col("percent").round(1).cast(pl.String),
        reason=pl.when(pl.col("kind") == "biased")
        .then(pl.lit("simulated planner: optimistic uplift"))
        .otherwise(pl.lit("simulated planner: knows the expected demand")),
        author=pl.lit("demo-planner"),
    )


def expected_brand_demand(
    brands: Mapping[str, BrandConfig], start: date, end: date, seed: int = 0
) -> pl.DataFrame:
    """``brand, ds, mu``: the generator's expected weekly demand of each brand, start … end."""
    weeks = weeks_between(start, end)
    parts = [
        generate_brand(b, weeks, seed).truth.group_by("brand", "ds").agg(pl.col("mu").sum())
        for b in brands.values()
    ]
    return pl.concat(parts).sort("brand", "ds")
