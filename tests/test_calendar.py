"""Periods: weeks start on Monday, months on their first day; a run's origin per frequency."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from forecast.inputs.calendar import (
    last_complete_month,
    origin_period,
    run_calendars,
    season_position,
    shift_periods,
    week_start,
)
from forecast.inputs.config import BrandConfig
from forecast.inputs.markets import shipped_markets


def test_every_week_starts_on_monday() -> None:
    assert week_start(date(2026, 6, 7)) == date(2026, 6, 1)  # a Sunday goes back six days
    assert week_start(date(2026, 6, 1)) == date(2026, 6, 1)


def test_season_positions() -> None:
    ds = pl.Series([date(2024, 1, 1), date(2024, 12, 30), date(2026, 12, 28), date(2025, 6, 30)])
    frame = pl.DataFrame({"ds": ds})
    weekly = frame.select(season_position(pl.col("ds")))["ds"].to_list()
    assert weekly == [0, 0, 51, 26]  # 30 Dec 2024 is ISO week 1 of 2025, by its Thursday
    assert frame.select(season_position(pl.col("ds"), "monthly"))["ds"].to_list() == [0, 11, 11, 5]
    assert frame.select(season_position(pl.col("ds"), "quarterly"))["ds"].to_list() == [0, 3, 3, 1]


@pytest.mark.parametrize(
    ("as_of", "month"),
    [
        (date(2026, 6, 1), date(2026, 5, 1)),  # June has not ended by Sunday 7 June
        (date(2026, 5, 25), date(2026, 5, 1)),  # the as-of week ends on 31 May
        (date(2026, 9, 28), date(2026, 9, 1)),  # the week of 30 September ends on 4 October
        (date(2026, 9, 21), date(2026, 8, 1)),
    ],
)
def test_a_monthly_origin_is_the_last_month_over_by_the_end_of_the_as_of_week(
    as_of: date, month: date
) -> None:
    assert last_complete_month(as_of) == month
    assert origin_period(as_of, "monthly") == month
    assert origin_period(as_of, "weekly") == week_start(as_of)


def test_periods_shift_by_weeks_or_months() -> None:
    assert shift_periods(date(2026, 1, 1), -12, "monthly") == date(2025, 1, 1)
    assert shift_periods(date(2026, 1, 1), 13, "monthly") == date(2027, 2, 1)
    assert shift_periods(date(2026, 6, 1), -2, "weekly") == date(2026, 5, 18)


def test_a_run_places_holidays_once_per_frequency_for_its_markets() -> None:
    common = {"name": "x", "sector": "wines_spirits", "launch_date": date(2020, 1, 6)}
    weekly = BrandConfig(brand="w", markets=("CN",), **common)
    monthly = BrandConfig(brand="m", markets=("AE", "FR"), frequency="monthly", **common)
    cals = run_calendars(shipped_markets(), [weekly, monthly], 2025, 2026)
    assert set(cals) == {"weekly", "monthly"}
    assert set(cals["weekly"]["market"]) == {"CN"} and set(cals["monthly"]["market"]) == {
        "AE",
        "FR",
    }
    assert (cals["monthly"]["ds"].dt.day() == 1).all() and (
        cals["weekly"]["ds"].dt.weekday() == 1
    ).all()
    cny = cals["weekly"].filter(pl.col("event") == "chinese_new_year", pl.col("weight") == 1.0)
    assert cny["ds"].to_list() == [date(2025, 1, 27), date(2026, 2, 16)]
    eid = cals["monthly"].filter(pl.col("event") == "eid_al_fitr", pl.col("market") == "AE")
    assert eid["ds"].to_list() == [date(2025, 3, 1), date(2026, 3, 1)]
