"""Model choice per segment (lowest backtest MASE, a combination kept unless clearly beaten)
and per series (only where a series' own evidence beats window noise)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from forecast.engine.selection import (
    COMBINATION_MARGIN,
    choose_models,
    choose_per_series,
    default_models,
    is_chosen,
)
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


def _windows(gaps: dict[str, list[float]], reference: str = "median") -> pl.DataFrame:
    """Two-window scores: the reference at 1.0, ``ets`` at 1.0 plus each series' gaps."""
    rows = []
    for uid, per_window in gaps.items():
        for w, gap in enumerate(per_window):
            cutoff = date(2026, 1, 5) + timedelta(weeks=13 * w)
            rows.append({"unique_id": uid, "cutoff": cutoff, "model": reference, "mase": 1.0})
            rows.append({"unique_id": uid, "cutoff": cutoff, "model": "ets", "mase": 1.0 + gap})
    return pl.DataFrame(rows)


def _smooth(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"unique_id": ids, "segment": ["smooth"] * len(ids)})


def test_series_that_differ_only_by_window_noise_keep_their_segments_choice() -> None:
    # Every series is better with ets in one window and worse in the other; half of them
    # are better on average (by 0.05), far less than the windows disagree: noise.
    gaps = {f"s{i}": [-0.4, 0.3] if i % 2 else [0.4, -0.3] for i in range(10)}
    scores = _windows(gaps)
    assert choose_per_series(scores, {"smooth": "median"}, _smooth(list(gaps))) == {}


def test_series_consistently_better_with_another_model_take_it() -> None:
    rng = np.random.default_rng(3)
    gaps = {f"good{i}": list(-0.5 + 0.02 * rng.standard_normal(2)) for i in range(5)}
    gaps |= {f"bad{i}": list(0.5 + 0.02 * rng.standard_normal(2)) for i in range(10)}
    own = choose_per_series(_windows(gaps), {"smooth": "median"}, _smooth(list(gaps)))
    assert own == {f"good{i}": "ets" for i in range(5)}


def test_a_series_choice_overrules_its_segments_in_is_chosen() -> None:
    rows = pl.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "model": ["median", "ets", "median", "ets"],
            "demand_class": ["smooth"] * 4,
            "history_weeks": [60] * 4,
        }
    )
    picked = rows.filter(is_chosen({"smooth": "median"}, {"a": "ets"}))
    assert picked.rows() == [("a", "ets", "smooth", 60), ("b", "median", "smooth", 60)]
