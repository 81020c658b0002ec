"""Model choice: segments of series (demand class × age), the chosen model per segment, and
the series whose own backtest evidence is strong enough to overrule their segment's choice."""

from __future__ import annotations

import polars as pl

from forecast.engine.models import MODELS, family_of
from forecast.inputs.config import ModelSettings
from forecast.vocabulary import COLD_START_MODEL, LONG_WEEKS, YOUNG_WEEKS

MIN_SERIES_TO_CHOOSE = 5
# A combination is the robust default: a single model replaces it only when its backtest
# MASE is lower by more than this share (two windows rank close models at random).
COMBINATION_MARGIN = 0.02


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


def is_chosen(chosen: dict[str, str], per_series: dict[str, str] | None = None) -> pl.Expr:
    """True on rows whose model is the one chosen for their series: its own choice in
    ``per_series`` (see :func:`choose_per_series`) where it has one, else its segment's."""
    by_segment = segment().replace_strict(chosen, default=None)
    if not per_series:
        return pl.col("model") == by_segment
    return pl.col("model") == pl.col("unique_id").replace_strict(per_series, default=by_segment)


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
    it by more than ``COMBINATION_MARGIN``.
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
    ranked = (
        means.with_columns(
            rank=pl.col("mase") * pl.when(robust).then(1 - COMBINATION_MARGIN).otherwise(1.0)
        )
        .sort("segment", "rank", "model")
        .unique("segment", keep="first", maintain_order=True)
    )
    chosen.update({row["segment"]: row["model"] for row in ranked.iter_rows(named=True)})
    return chosen


def _is_combination() -> pl.Expr:
    combos = [name for name in MODELS if family_of(name) == "combination"]
    return pl.col("model").is_in(combos)


def choose_per_series(
    per_series: pl.DataFrame, chosen: dict[str, str], segments: pl.DataFrame
) -> dict[str, str]:
    """Series whose backtest evidence overrules their segment's choice, and their model.

    For each series and model, the gap ``d`` is the model's backtest MASE minus that of the
    segment's choice, window by window. Per segment and model, the series' mean gaps are
    shrunk toward the segment's mean gap by empirical Bayes: the between-series variance
    of the means (beyond what window-to-window noise explains, pooled over the segment's
    series) against each series' own noise, ``σ² / windows``. A series takes the model
    with the lowest shrunk gap only where that gap is negative; where the series differ by
    no more than noise, every gap shrinks to the segment's and nothing changes.

    Args:
        per_series: Backtest scores ``unique_id, cutoff, model, mase``.
        chosen: The model per segment (see :func:`choose_models`).
        segments: ``unique_id, segment`` of each series at the forecast origin.
    """
    gaps = _gaps(per_series, segments.with_columns(reference=_segment_model(chosen)))
    shrunk = _shrunk_gaps(gaps).filter(pl.col("shrunk") < 0)
    best = shrunk.sort("unique_id", "shrunk", "model").unique("unique_id", keep="first")
    return dict(best.select("unique_id", "model").iter_rows())


def _gaps(per_series: pl.DataFrame, segments: pl.DataFrame) -> pl.DataFrame:
    """Per series, window and other model: MASE minus that of the series' reference model."""
    scored = per_series.filter(pl.col("mase").is_finite()).select(
        "unique_id", "cutoff", "model", "mase"
    )
    reference = scored.join(
        segments.drop_nulls("reference"),
        left_on=["unique_id", "model"],
        right_on=["unique_id", "reference"],
    ).select("unique_id", "cutoff", "segment", ref=pl.col("mase"))
    return scored.join(reference, on=["unique_id", "cutoff"]).select(
        "unique_id", "segment", "model", d=pl.col("mase") - pl.col("ref")
    )


def _shrunk_gaps(gaps: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, model, shrunk``: each series' mean gap shrunk toward its segment's."""
    per = gaps.group_by("segment", "model", "unique_id").agg(
        mean=pl.col("d").mean(), var=pl.col("d").var(), n=pl.len()
    )
    group = ["segment", "model"]
    noise = pl.col("var").mean().over(group)  # window-to-window variance, pooled
    spread = pl.col("mean").var().over(group) - (noise / pl.col("n")).mean().over(group)
    weight = pl.col("tau2") / (pl.col("tau2") + noise / pl.col("n"))
    # The prior is the segment's choice: a segment-wide gap below zero (a combination kept
    # within its margin) is no evidence about any one series.
    centre = pl.col("mean").mean().over(group).clip(lower_bound=0.0)
    return (
        per.with_columns(tau2=spread.clip(0.0), k=pl.len().over(group))
        .filter(pl.col("k") >= MIN_SERIES_TO_CHOOSE, noise.is_not_null())
        .with_columns(weight=weight.fill_nan(0.0).fill_null(0.0))
        .select("unique_id", "model", shrunk=centre + pl.col("weight") * (pl.col("mean") - centre))
    )
