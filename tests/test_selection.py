"""Model choice per segment: lowest backtest MASE, a combination kept unless clearly beaten."""

from __future__ import annotations

import polars as pl

from forecast.engine.selection import COMBINATION_MARGIN, choose_models, default_models
from forecast.inputs.config import ModelSettings

WITH_MEDIAN = ModelSettings(candidates=("ets", "theta", "median"))


def _scores(mase: dict[str, float], weeks: int = 60, n: int = 6) -> pl.DataFrame:
    rows = [
        {
            "unique_id": f"s{i}",
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


def test_models_tied_but_for_rounding_are_told_apart_by_name() -> None:
    # Candidates that reduce to one forecast (two quarters of history) score the same up to
    # float rounding: the first name wins, whichever rounding came out lower.
    tied = {"theta": 0.7, "ses": 0.7 + 1e-15, "ets": 0.7 + 2e-15}
    assert choose_models(_scores(tied, weeks=60), WITH_MEDIAN)["smooth"] == "ets"
    assert choose_models(_scores(tied, weeks=10), WITH_MEDIAN)["smooth/young"] == "ets"
    apart = {"theta": 0.7, "ets": 0.7 * (1 + 1e-6)}
    assert choose_models(_scores(apart), WITH_MEDIAN)["smooth"] == "theta"
