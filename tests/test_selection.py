"""Model choice per segment: lowest backtest MASE, a combination kept unless clearly beaten."""

from __future__ import annotations

from datetime import date

import polars as pl

from forecast.engine.selection import (
    COMBINATION_MARGIN,
    choose_models,
    default_models,
    judged,
)
from forecast.inputs.config import ModelSettings

WITH_MEDIAN = ModelSettings(candidates=("ets", "theta", "median"))


def _scores(mase: dict[str, float], weeks: int = 60, n: int = 6) -> pl.DataFrame:
    rows = [
        {
            "unique_id": f"s{i}",
            "cutoff": date(2026, 8, 17),
            "model": model,
            "mase": value,
            "demand_class": "smooth",
            "history_weeks": weeks,
        }
        for model, value in mase.items()
        for i in range(n)
    ]
    return pl.DataFrame(rows)


def test_the_combination_is_the_default_where_it_is_configured() -> None:
    assert default_models(WITH_MEDIAN)["smooth"] == "median"
    assert default_models(WITH_MEDIAN)["smooth/long"] == "median"
    assert default_models(WITH_MEDIAN)["smooth/young"] == "ses"
    assert default_models(ModelSettings(candidates=("theta", "ets")))["smooth"] == "theta"


def test_a_single_model_replaces_the_combination_only_when_clearly_better() -> None:
    close = 1.0 - COMBINATION_MARGIN / 2
    assert choose_models(_scores({"median": 1.0, "ets": close}), WITH_MEDIAN)["smooth"] == "median"
    clear = 1.0 - 2 * COMBINATION_MARGIN
    assert choose_models(_scores({"median": 1.0, "ets": clear}), WITH_MEDIAN)["smooth"] == "ets"


def test_without_a_combination_the_lowest_mase_wins_and_small_segments_keep_defaults() -> None:
    plain = ModelSettings(candidates=("ets", "theta"))
    scores = _scores({"ets": 1.0, "theta": 0.995})
    assert choose_models(scores, plain)["smooth"] == "theta"
    few = _scores({"ets": 1.0, "theta": 0.5}, n=4)
    assert choose_models(few, plain)["smooth"] == "ets"


def test_a_tie_keeps_the_default_and_else_goes_to_the_first_name() -> None:
    # Candidates that reduce to one forecast (two quarters of history) score the same up to
    # float rounding: the segment's default wins a tie it is in, whichever rounding came
    # out lower; among others the first name wins.
    tied = {"theta": 0.7, "ses": 0.7 + 1e-15, "ets": 0.7 + 2e-15}
    assert choose_models(_scores(tied, weeks=10), WITH_MEDIAN)["smooth/young"] == "ses"
    assert choose_models(_scores(tied, weeks=60), WITH_MEDIAN)["smooth"] == "ets"
    apart = {"theta": 0.7, "ets": 0.7 * (1 + 1e-6)}
    assert choose_models(_scores(apart), WITH_MEDIAN)["smooth"] == "theta"
    young_apart = {"ses": 0.7, "ets": 0.7 * (1 - 1e-6)}
    assert choose_models(_scores(young_apart, weeks=10), WITH_MEDIAN)["smooth/young"] == "ets"


def test_seasonal_naive_is_judged_only_where_a_season_was_seen() -> None:
    # Below a season the baseline is naive: a segment backtested there keeps the priors'
    # default however well median_seasonal scored; with a season seen the score counts.
    settings = ModelSettings(candidates=("ets", "median", "median_seasonal"))
    scores = {"median": 1.0, "ets": 1.0, "median_seasonal": 0.5}
    short = _scores(scores, weeks=40)
    assert choose_models(short, settings)["smooth"] == "median"
    assert choose_models(short, settings, season=26)["smooth"] == "median_seasonal"
    seen = _scores(scores, weeks=60)
    assert choose_models(seen, settings)["smooth"] == "median_seasonal"


def test_a_few_series_with_a_season_do_not_judge_a_segment_mostly_without() -> None:
    settings = ModelSettings(candidates=("ets", "median", "median_seasonal"))
    few_long = _scores({"median_seasonal": 0.5, "median": 0.6}, weeks=60, n=6)
    many_short = _scores({"median_seasonal": 0.9, "median": 1.0}, weeks=40, n=30)
    mixed = pl.concat([few_long, many_short.with_columns(pl.col("unique_id") + "x")])
    assert judged(mixed, 52).filter(pl.col("model") == "median_seasonal").is_empty()
    assert choose_models(mixed, settings)["smooth"] == "median"
    mostly_long = pl.concat([few_long, _scores({"median": 1.0}, weeks=40, n=4)])
    kept = judged(mostly_long, 52).filter(pl.col("model") == "median_seasonal")
    assert kept["history_weeks"].to_list() == [60] * 6


def _paired(default: list[float], other: list[float]) -> pl.DataFrame:
    """Backtest scores of ``ses`` and ``ets`` per young series, one origin, in this order."""
    rows = [
        {"unique_id": f"s{i}", "model": model, "mase": value}
        for model, values in (("ses", default), ("ets", other))
        for i, value in enumerate(values)
    ]
    shape = {"cutoff": pl.lit(date(2026, 8, 17)), "demand_class": pl.lit("smooth")}
    return pl.DataFrame(rows).with_columns(**shape, history_weeks=pl.lit(10, pl.Int16))


def test_a_lower_mean_within_the_noise_of_the_series_keeps_the_default() -> None:
    # ets is lower on average, but its gaps to ses swing both ways by more than the mean
    # gap: within one standard error, ses (the young default) stays; the same mean gap
    # seen on every series replaces it.
    base = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    noisy = [0.2, 1.6, 0.4, 1.5, 0.6, 1.5]  # mean 0.967
    assert choose_models(_paired(base, noisy), WITH_MEDIAN)["smooth/young"] == "ses"
    steady = [0.967] * 6
    assert choose_models(_paired(base, steady), WITH_MEDIAN)["smooth/young"] == "ets"
