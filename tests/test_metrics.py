"""Backtest scores against hand-computed values."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from numpy.testing import assert_allclose

from forecast.engine.metrics import score_series, summarise

CUT = date(2024, 1, 29)


def _frames(yhat: list[float]) -> tuple[pl.DataFrame, pl.DataFrame]:
    hist = [1.0, 3.0, 2.0, 4.0, 3.0]  # one-step naive MAE = (2+1+2+1)/4 = 1.5
    train = pl.DataFrame(
        {"unique_id": "a", "ds": [CUT - timedelta(weeks=4 - i) for i in range(5)], "y": hist}
    )
    y = [4.0, 2.0]
    cv = pl.DataFrame(
        {
            "unique_id": "a",
            "cutoff": CUT,
            "ds": [CUT + timedelta(weeks=1), CUT + timedelta(weeks=2)],
            "model": "m",
            "y": y,
            "yhat": yhat,
            "lo_80": [v - 1 for v in yhat],
            "hi_80": [v + 1 for v in yhat],
            "lo_95": [v - 2 for v in yhat],
            "hi_95": [v + 2 for v in yhat],
        }
    )
    return cv, train


def test_scores_match_hand_computation() -> None:
    cv, train = _frames([3.0, 3.5])  # errors 1.0 and 1.5
    s = score_series(cv, train).row(0, named=True)
    assert_allclose(s["mase"], (1.0 + 1.5) / 2 / 1.5)
    assert_allclose(s["rmsse"], ((1.0 + 2.25) / 2 / ((4 + 1 + 4 + 1) / 4)) ** 0.5)
    assert_allclose(s["coverage_80"], 0.5)  # 4 lies in [2, 4]; 2 lies outside [2.5, 4.5]
    assert_allclose(s["coverage_95"], 1.0)
    assert s["abs_err"] == 2.5 and s["abs_y"] == 6.0 and s["n"] == 2


def test_perfect_forecast_scores_zero() -> None:
    cv, train = _frames([4.0, 2.0])
    s = score_series(cv, train).row(0, named=True)
    assert s["mase"] == 0 and s["smape"] == 0 and s["coverage_80"] == 1


def test_summarise_weights_wape_by_volume() -> None:
    cv, train = _frames([3.0, 3.5])
    per = score_series(cv, train)
    out = summarise(per, ["model"]).row(0, named=True)
    assert_allclose(out["wape"], 2.5 / 6.0)
    assert out["n_series"] == 1 and out["n_points"] == 2


def test_mase_scale_uses_changes_between_observed_weeks_only() -> None:
    cv, train = _frames([3.0, 3.5])
    gap = train.with_columns(y=pl.Series([1.0, 3.0, None, 4.0, 3.0]))  # week 3 unknown
    s = score_series(cv, gap).row(0, named=True)
    assert_allclose(s["mase"], (1.0 + 1.5) / 2 / ((2 + 1) / 2))  # |3-1| and |3-4| only
