"""Model choice: segments of series (demand class × age), the chosen model per segment."""

from __future__ import annotations

import polars as pl

from forecast.engine.models import MODELS, family_of
from forecast.inputs.config import ModelSettings
from forecast.vocabulary import COLD_START_MODEL, LONG_WEEKS, YOUNG_WEEKS

MIN_SERIES_TO_CHOOSE = 5
# A combination is the robust default: a single model replaces it only when its backtest
# MASE is lower by more than this share (two windows rank close models at random).
COMBINATION_MARGIN = 0.02
# Models within this relative distance of the best rank tie (candidates that reduce to the
# same forecast on short histories differ only by float rounding): the first name wins.
TIE_TOLERANCE = 1e-9


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


def _segment_model(chosen: dict[str, str]) -> pl.Expr:
    """The model ``chosen`` names for the segment in column ``segment``."""
    return pl.col("segment").replace_strict(chosen, default=None)


def is_chosen(chosen: dict[str, str]) -> pl.Expr:
    """True on rows whose model is the one chosen for their series' segment."""
    return pl.col("model") == segment().replace_strict(chosen, default=None)


def default_models(settings: ModelSettings) -> dict[str, str]:
    """Model per segment before any backtest: a configured combination, else the first
    candidate that runs there; ``ses`` for young smooth series."""
    candidates = settings.candidates
    combo = next((c for c in candidates if family_of(c) == "combination"), None)
    plain = next((c for c in candidates if family_of(c) == "smooth"), COLD_START_MODEL)
    sparse = settings.intermittent_candidates[0]
    return {
        "smooth/long": combo or candidates[0],
        "smooth": combo or plain,
        "smooth/young": COLD_START_MODEL,
        "intermittent": sparse,
        "intermittent/young": sparse,
    }


def choose_models(per_series: pl.DataFrame, settings: ModelSettings) -> dict[str, str]:
    """Per segment, the model with the lowest mean MASE over series and origins.

    A segment with fewer than five backtested series keeps its default (see
    :func:`default_models`); where the default is a combination, another model must beat
    it by more than ``COMBINATION_MARGIN``. Models within ``TIE_TOLERANCE`` of the best
    tie, and the first by name wins.
    """
    chosen = default_models(settings)
    means = (
        per_series.filter(pl.col("mase").is_finite())
        .with_columns(segment())
        .group_by("segment", "model")
        .agg(pl.col("mase").mean(), n=pl.col("unique_id").n_unique())
        .filter(pl.col("n") >= MIN_SERIES_TO_CHOOSE)
    )
    robust = _is_combination() & (pl.col("model") == _segment_model(chosen))
    rank = pl.col("mase") * pl.when(robust).then(1 - COMBINATION_MARGIN).otherwise(1.0)
    best = pl.col("rank").min().over("segment")
    ranked = (
        means.with_columns(rank=rank)
        .filter(pl.col("rank") <= best + TIE_TOLERANCE * best.abs())
        .sort("segment", "model")
        .unique("segment", keep="first", maintain_order=True)
    )
    chosen.update({row["segment"]: row["model"] for row in ranked.iter_rows(named=True)})
    return chosen


def _is_combination() -> pl.Expr:
    combos = [name for name in MODELS if family_of(name) == "combination"]
    return pl.col("model").is_in(combos)
