"""Model choice: segments of series (demand class × age), the chosen model per segment."""

from __future__ import annotations

import polars as pl

from forecast.engine.models import family_of
from forecast.inputs.config import BrandConfig
from forecast.vocabulary import COLD_START_MODEL, LONG_WEEKS, YOUNG_WEEKS

MIN_SERIES_TO_CHOOSE = 5


def segment() -> pl.Expr:
    """Model-choice segment of a series: its demand class, plus ``/young`` below 26 weeks,
    or ``/long`` for smooth series with two full seasons (where own-seasonality models run).
    """
    weeks = pl.col("history_weeks")
    smooth = pl.col("demand_class") == "smooth"
    return (
        pl.when(weeks < YOUNG_WEEKS)
        .then(pl.col("demand_class") + "/young")
        .when(smooth & (weeks >= LONG_WEEKS))
        .then(pl.lit("smooth/long"))
        .otherwise(pl.col("demand_class"))
        .alias("segment")
    )


def is_chosen(chosen: dict[str, str]) -> pl.Expr:
    """True on rows whose model is the one chosen for their series' segment."""
    return pl.col("model") == segment().replace_strict(chosen, default=None)


def default_models(brand: BrandConfig) -> dict[str, str]:
    """Model per segment before any backtest: the first candidate that runs there;
    ``ses`` for young smooth series."""
    candidates = brand.model.candidates
    plain = next((c for c in candidates if family_of(c) == "smooth"), COLD_START_MODEL)
    sparse = brand.model.intermittent_candidates[0]
    return {
        "smooth/long": candidates[0],
        "smooth": plain,
        "smooth/young": COLD_START_MODEL,
        "intermittent": sparse,
        "intermittent/young": sparse,
    }


def choose_models(per_series: pl.DataFrame, brand: BrandConfig) -> dict[str, str]:
    """Per segment, the model with the lowest mean MASE over series and origins.

    A segment with fewer than five backtested series keeps its default: the first
    configured candidate, or the level-only ``ses`` for young smooth series.
    """
    chosen = default_models(brand)
    ranked = (
        per_series.filter(pl.col("mase").is_finite())
        .with_columns(segment())
        .group_by("segment", "model")
        .agg(pl.col("mase").mean(), n=pl.col("unique_id").n_unique())
        .filter(pl.col("n") >= MIN_SERIES_TO_CHOOSE)
        .sort("segment", "mase", "model")
        .unique("segment", keep="first", maintain_order=True)
    )
    chosen.update({row["segment"]: row["model"] for row in ranked.iter_rows(named=True)})
    return chosen
