"""Season positions and moving events, placed by their real dates per region."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from forecast.vocabulary import REGIONS, Event, Frequency, Region

# Chinese New Year follows the lunisolar calendar; dates from the published almanac.
_CHINESE_NEW_YEAR = {
    2010: "02-14",
    2011: "02-03",
    2012: "01-23",
    2013: "02-10",
    2014: "01-31",
    2015: "02-19",
    2016: "02-08",
    2017: "01-28",
    2018: "02-16",
    2019: "02-05",
    2020: "01-25",
    2021: "02-12",
    2022: "02-01",
    2023: "01-22",
    2024: "02-10",
    2025: "01-29",
    2026: "02-17",
    2027: "02-06",
    2028: "01-26",
    2029: "02-13",
    2030: "02-03",
    2031: "01-23",
    2032: "02-11",
    2033: "01-31",
    2034: "02-19",
    2035: "02-08",
}

# Gifting events lift the week before too; the lead week carries half the uplift.
_LEAD_WEIGHT = 0.5
EVENT_RULES: dict[Event, tuple[tuple[Region, ...], bool]] = {
    # event: (regions where it moves demand, has a gifting lead week)
    "valentines": (REGIONS, True),
    "easter": (("europe", "americas"), False),
    "mothers_day": (("europe", "americas", "china", "japan", "asia_pacific", "middle_east"), True),
    "chinese_new_year": (("china", "asia_pacific", "travel_retail"), True),
    "singles_day": (("china",), False),
    "black_friday": (("europe", "americas"), False),
}


def season_position(ds: pl.Expr, frequency: Frequency = "weekly") -> pl.Expr:
    """Position in the year, 0-based: week 0..51, month 0..11 or quarter 0..3.

    Weeks are placed by their Thursday, as ISO weeks are, and week 53 folds into 51.
    """
    if frequency == "monthly":
        return (ds.dt.month() - 1).cast(pl.Int16)
    if frequency == "quarterly":
        return (ds.dt.quarter() - 1).cast(pl.Int16)
    doy = (ds + pl.duration(days=3)).dt.ordinal_day()
    return ((doy - 1) // 7).clip(0, 51).cast(pl.Int16)


def easter(year: int) -> date:
    """Western Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th given weekday (Mon=0) of a month; n=-1 is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = date(year + month // 12, month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _mothers_day(year: int, region: str) -> date:
    if region == "europe":  # France and most of continental Europe: last Sunday of May
        return _nth_weekday(year, 5, 6, -1)
    if region == "middle_east":
        return date(year, 3, 21)
    return _nth_weekday(year, 5, 6, 2)  # US, China, Japan, most of Asia-Pacific


def _event_date(event: str, year: int, region: str) -> date | None:
    if event == "valentines":
        return date(year, 2, 14)
    if event == "easter":
        return easter(year)
    if event == "mothers_day":
        return _mothers_day(year, region)
    if event == "chinese_new_year":
        md = _CHINESE_NEW_YEAR.get(year)
        return None if md is None else date.fromisoformat(f"{year}-{md}")
    if event == "singles_day":
        return date(year, 11, 11)
    if event == "black_friday":
        return _nth_weekday(year, 11, 3, 4) + timedelta(days=1)
    raise KeyError(event)


def event_calendar(first_year: int, last_year: int) -> pl.DataFrame:
    """Weeks touched by each moving event, per region.

    Returns:
        Frame ``event, region, ds (Monday of the week), weight`` — weight 1 for the week
        holding the date, 0.5 for the gifting lead week. Years outside the Chinese New
        Year almanac (2010–2035) get no Chinese New Year rows.
    """
    rows = []
    for event, (regions, lead) in EVENT_RULES.items():
        for region in regions:
            for year in range(first_year, last_year + 1):
                day = _event_date(event, year, region)
                if day is None:
                    continue
                monday = week_start(day)
                rows.append((event, region, monday, 1.0))
                if lead:
                    rows.append((event, region, monday - timedelta(days=7), _LEAD_WEIGHT))
    return pl.DataFrame(
        rows,
        schema={"event": pl.String, "region": pl.String, "ds": pl.Date, "weight": pl.Float64},
        orient="row",
    )


def week_start(day: date) -> date:
    """The Monday that starts the week holding ``day`` (weeks start on Monday everywhere).

    Frames use the same rule as ``pl.col("ds").dt.truncate("1w")``.
    """
    return day - timedelta(days=day.weekday())
