"""Model choice: segments of series (demand class × age), the chosen model per segment."""

from __future__ import annotations

import polars as pl

from forecast.engine.models import MODELS, family_of, rests_on_baseline
from forecast.inputs.config import ModelSettings
from forecast.vocabulary import (
    BASELINE,
    COLD_START_MODEL,
    LONG_WEEKS,
    SEASON_LENGTH,
    YOUNG_WEEKS,
)

MIN_SERIES_TO_CHOOSE = 5
# A combination is the robust default: a single model replaces it only when its backtest
# MASE is lower by more than this share (two windows rank close models at random).
COMBINATION_MARGIN = 0.02
# Models within this relative distance of the best rank tie (candidates that reduce to the
# same forecast on short histories differ only by float rounding): the segment's default
# wins a tie it is in, else the first name.
TIE_TOLERANCE = 1e-9
# One season in weeks, whatever the frequency: ages are counted in weeks.
SEASON_WEEKS = SEASON_LENGTH["weekly"]


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


def choose_models(
    per_series: pl.DataFrame, settings: ModelSettings, season: int = SEASON_WEEKS
) -> dict[str, str]:
    """Per segment, the model with the lowest mean MASE over series and origins.

    A segment with fewer than five backtested series keeps its default (see
    :func:`default_models`); where the default is a combination, another model must beat
    it by more than ``COMBINATION_MARGIN``, and any model must beat it beyond the noise
    of the windows (see :func:`beats_default`). Models within ``TIE_TOLERANCE`` of the
    best tie: the default wins a tie it is in, else the first by name. Seasonal naive and
    the combinations that take it are judged only where the series had a season of
    history (see :func:`judged`).

    Args:
        per_series: Backtest scores with ``unique_id, model, mase, demand_class`` and
            ``history_weeks`` (at the origin).
        season: One season in the unit of ``history_weeks``.
    """
    chosen = default_models(settings)
    scores = judged(per_series, season)
    means = (
        scores.group_by("segment", "model")
        .agg(pl.col("mase").mean(), n=pl.col("unique_id").n_unique())
        .filter(pl.col("n") >= MIN_SERIES_TO_CHOOSE)
        .join(beats_default(scores, chosen), on=["segment", "model"], how="left")
    )
    default = pl.col("model") == _segment_model(chosen)
    # Without a score of the default in the segment there is nothing to pair with.
    unpaired = pl.col("clear").is_null().all().over("segment")
    means = means.filter(default | pl.col("clear").fill_null(False) | unpaired)
    robust = _is_combination() & default
    rank = pl.col("mase") * pl.when(robust).then(1 - COMBINATION_MARGIN).otherwise(1.0)
    best = pl.col("rank").min().over("segment")
    ranked = (
        means.with_columns(rank=rank, is_default=default.fill_null(False))
        .filter(pl.col("rank") <= best + TIE_TOLERANCE * best.abs())
        .sort("segment", "is_default", "model", descending=[False, True, False])
        .unique("segment", keep="first", maintain_order=True)
    )
    chosen.update({row["segment"]: row["model"] for row in ranked.iter_rows(named=True)})
    return chosen


def beats_default(scores: pl.DataFrame, chosen: dict[str, str]) -> pl.DataFrame:
    """``segment, model, clear``: whether a model beats its segment's default beyond the
    noise of the windows — the one-standard-error rule of cross-validation, on paired
    gaps: per series, its mean MASE gap to the default over the origins both were scored
    at; ``clear`` where the mean gap plus its standard error over series is below zero.
    """
    keys = ["segment", "unique_id", "cutoff"]
    base = scores.filter(pl.col("model") == _segment_model(chosen)).select(*keys, base="mase")
    # Sorted: the sums below follow the row order, and runs must repeat to the last bit.
    gaps = (
        scores.join(base, on=keys)
        .sort("segment", "model", "unique_id", "cutoff")
        .group_by("segment", "model", "unique_id", maintain_order=True)
        .agg(gap=(pl.col("mase") - pl.col("base")).mean())
    )
    se = pl.col("gap").std() / pl.len().sqrt()
    stats = gaps.group_by("segment", "model").agg(upper=pl.col("gap").mean() + se)
    return stats.select("segment", "model", clear=pl.col("upper").fill_null(0.0) < 0)


def judged(per_series: pl.DataFrame, season: int) -> pl.DataFrame:
    """The finite backtest scores that can judge their model, with ``segment``.

    Below one season of history seasonal naive is naive (see ``fitting``): where a series
    had less than ``season`` at an origin, the scores of seasonal naive and of the
    combinations that take it do not judge them; in a segment where most scores are of
    such origins, those models are not judged at all (the few longer series are not the
    segment the forecast will face) and the segment's priors-based candidates compete.
    Young segments are exempt where a season is longer than ``YOUNG_WEEKS``: their series
    are still below a season at the forecast, where naive is what those models make.
    """
    baseline = [name for name in (*MODELS, BASELINE) if rests_on_baseline(name)]
    young = pl.col("segment").str.ends_with("/young") & pl.lit(season > YOUNG_WEEKS)
    short = (pl.col("history_weeks") < season) & ~young
    seasonless = short.cast(pl.Float64).mean().over("segment") > 0.5
    drop = pl.col("model").is_in(baseline) & (short | seasonless)
    finite = per_series.filter(pl.col("mase").is_finite()).with_columns(segment())
    return finite.filter(~drop)


def _is_combination() -> pl.Expr:
    combos = [name for name in MODELS if family_of(name) == "combination"]
    return pl.col("model").is_in(combos)
