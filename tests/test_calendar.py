"""Moving events land on their real dates; season positions cover the year."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from forecast.inputs.calendar import easter, event_calendar, season_position


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2019, date(2019, 4, 21)),
    ],
)
def test_easter(year: int, expected: date) -> None:
    assert easter(year) == expected


def test_events_are_placed_by_date_and_region() -> None:
    cal = event_calendar(2025, 2026)

    def weeks(event: str, region: str) -> list[date]:
        rows = cal.filter(
            pl.col("event") == event, pl.col("region") == region, pl.col("weight") == 1.0
        )
        return sorted(rows["ds"].to_list())

    assert weeks("black_friday", "americas") == [date(2025, 11, 24), date(2026, 11, 23)]
    assert weeks("chinese_new_year", "china") == [date(2025, 1, 27), date(2026, 2, 16)]
    assert weeks("mothers_day", "americas") == [
        date(2025, 5, 5),
        date(2026, 5, 4),
    ]  # 2nd Sunday of May
    assert weeks("mothers_day", "europe") == [
        date(2025, 5, 19),
        date(2026, 5, 25),
    ]  # last Sunday of May
    assert weeks("singles_day", "europe") == []
    lead = cal.filter(
        pl.col("event") == "valentines", pl.col("region") == "europe", pl.col("weight") == 0.5
    )
    assert date(2026, 2, 2) in lead["ds"].to_list()  # the gifting week before 9 Feb 2026


def test_every_week_is_monday() -> None:
    cal = event_calendar(2018, 2030)
    assert (cal["ds"].dt.weekday() == 1).all()


def test_season_positions() -> None:
    ds = pl.Series([date(2024, 1, 1), date(2024, 12, 30), date(2026, 12, 28), date(2025, 6, 30)])
    frame = pl.DataFrame({"ds": ds})
    weekly = frame.select(season_position(pl.col("ds")))["ds"].to_list()
    assert weekly == [0, 0, 51, 26]  # 30 Dec 2024 is ISO week 1 of 2025, by its Thursday
    assert frame.select(season_position(pl.col("ds"), "monthly"))["ds"].to_list() == [0, 11, 11, 5]
    assert frame.select(season_position(pl.col("ds"), "quarterly"))["ds"].to_list() == [0, 3, 3, 1]
