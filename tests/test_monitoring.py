"""Monitoring: which brands moved most, compared with the previous run or the backtest."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from forecast.planning.monitoring import monitor_markdown, movers, series_label


def test_movers_compare_with_the_previous_run_else_the_backtest() -> None:
    runs = pl.DataFrame(
        {
            "run_id": ["r1", "r2", "r1"],
            "as_of": [date(2024, 6, 3), date(2024, 6, 10), date(2024, 6, 3)],
            "brand": ["a", "a", "b"],
            "wape": [0.20, 0.35, 0.30],
            "bias": [0.0, 0.1, -0.2],
            "n_points": [10, 10, 5],
        }
    )
    backtest = pl.DataFrame({"run_id": ["r1", "r2"], "brand": ["b", "a"], "wape": [0.25, 0.1]})
    out = movers(runs, backtest)
    assert out["brand"].to_list() == ["a", "b"]  # |+0.15| before |+0.05|
    a, b = out.row(0, named=True), out.row(1, named=True)
    assert (a["run_id"], a["compared_with"]) == ("r2", "previous run")
    assert a["change"] == pytest.approx(0.15) and a["baseline"] == pytest.approx(0.20)
    assert (b["compared_with"], b["change"]) == ("backtest", pytest.approx(0.05))


def test_the_markdown_lists_alarms_and_movers() -> None:
    alarms = pl.DataFrame(
        {
            "level": ["brand"],
            "sector": ["s"],
            "brand": ["a"],
            "market": [None],
            "category": [None],
            "product": [None],
            "n_weeks": [6],
            "tracking_signal": [5.5],
        }
    )
    moved = pl.DataFrame(
        {
            "brand": ["a"],
            "wape": [0.3],
            "baseline": [0.2],
            "compared_with": ["backtest"],
            "change": [0.1],
            "bias": [0.05],
        }
    )
    text = monitor_markdown(alarms, moved)
    assert "**1 tracking-signal alarms**" in text and "| brand | s/a | 6 | +5.5 |" in text
    assert "| a | 30.0% | 20.0% | backtest | +10.0% | +5.0% |" in text
    assert "No tracking-signal alarm" in monitor_markdown(alarms.clear(), moved.clear())
    assert series_label({"sector": None}) == "group"
