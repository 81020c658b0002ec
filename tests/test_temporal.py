"""The retail 4-4-5 calendar: whole weeks per period, the 53rd week, summed intervals."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from forecast.planning.temporal import period_start, period_weeks, to_periods


def _weeks(first: date, n: int) -> pl.DataFrame:
    return pl.DataFrame({"ds": [first + timedelta(weeks=i) for i in range(n)]})


def test_months_are_4_4_5_weeks_and_the_53rd_week_joins_december() -> None:
    # ISO 2020 has 53 weeks (it ends on Sunday 2021-01-03); ISO 2021 has 52.
    weeks = _weeks(date(2019, 12, 30), 53 + 52)
    months = (
        weeks.with_columns(
            m=period_start(pl.col("ds"), "month"), n=period_weeks(pl.col("ds"), "month")
        )
        .group_by("m", maintain_order=True)
        .agg(pl.len(), pl.col("n").first())
    )
    sizes = months["len"].to_list()
    assert sizes[:12] == [4, 4, 5, 4, 4, 5, 4, 4, 5, 4, 4, 6]
    assert sizes[12:] == [4, 4, 5, 4, 4, 5, 4, 4, 5, 4, 4, 5]
    assert months["len"].to_list() == months["n"].to_list()
    assert months["m"][0] == date(2019, 12, 30) and months["m"][12] == date(2021, 1, 4)


def test_quarters_are_13_weeks_or_14_with_the_53rd() -> None:
    weeks = _weeks(date(2019, 12, 30), 53)
    quarters = weeks.with_columns(q=period_start(pl.col("ds"), "quarter")).group_by(
        "q", maintain_order=True
    )
    assert [n for _, n in quarters.len().iter_rows()] == [13, 13, 13, 14]


def test_periods_sum_weeks_and_add_variances() -> None:
    weekly = pl.DataFrame(
        {
            "key": "a",
            "ds": [date(2024, 1, 1) + timedelta(weeks=i) for i in range(6)],
            "step": range(1, 7),
            "yhat": [10.0] * 6,
            "lo_80": [10.0 - 1.2815515655446004] * 6,
            "hi_80": [10.0 + 1.2815515655446004] * 6,
            "lo_95": [10.0 - 1.959963984540054] * 6,
            "hi_95": [10.0 + 1.959963984540054] * 6,
            "base": [9.0] * 6,
        }
    )
    months = to_periods(weekly, ["key"], "month")
    assert months["ds"].to_list() == [date(2024, 1, 1), date(2024, 1, 29)]
    assert months["weeks"].to_list() == [4, 2] and months["period_weeks"].to_list() == [4, 4]
    assert months["yhat"].to_list() == [40.0, 20.0] and months["base"].to_list() == [36.0, 18.0]
    assert months["step"].to_list() == [1, 5]
    sd = 2.0  # four weekly σ = 1, independent
    assert months["hi_95"][0] == pytest.approx(40 + 1.959963984540054 * sd)
    assert months["lo_80"][0] == pytest.approx(40 - 1.2815515655446004 * sd)
