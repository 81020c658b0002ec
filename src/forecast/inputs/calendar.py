"""Periods and season positions: weeks start on Monday, months on their first day.

The dates of moving holidays per market come from :mod:`forecast.inputs.holidays`;
:func:`run_calendars` places them once per run for every market its brands sell in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import polars as pl

from forecast.inputs.config import BrandConfig
from forecast.inputs.holidays import event_calendar
from forecast.inputs.markets import Markets
from forecast.vocabulary import BrandFrequency, Frequency, WeekLabel


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


def week_start(day: date) -> date:
    """The Monday that starts the week holding ``day`` (weeks start on Monday everywhere).

    Frames use the same rule as ``pl.col("ds").dt.truncate("1w")``.
    """
    return day - timedelta(days=day.weekday())


def labelled_week(ds: pl.Expr, label: WeekLabel) -> pl.Expr:
    """The Monday of the week a file's date stands for (``label``: see ``WeekLabel``).

    A seven-day week that does not start on Monday (Sunday to Saturday) counts in the
    Monday week holding most of its days (Monday to Saturday, six of its seven).
    """
    if label == "monday":
        return ds
    first = ds if label == "start" else ds - pl.duration(days=6)
    return (first + pl.duration(days=3)).dt.truncate("1w")


def month_start(day: date) -> date:
    """The first day of the month holding ``day``."""
    return day.replace(day=1)


def period_start(day: date, frequency: Frequency) -> date:
    """The start of the period holding ``day``: its week's Monday, or its month's first day."""
    return month_start(day) if frequency == "monthly" else week_start(day)


def last_complete_month(as_of: date) -> date:
    """The first day of the last month that has ended by the end of the as-of week.

    A run at ``as_of`` sees the week holding it, up to its Sunday; a monthly brand sees the
    months that ended by then, so a replay never reads a month that was not over.
    """
    week_end = week_start(as_of) + timedelta(days=6)
    next_day = week_end + timedelta(days=1)
    this_month = month_start(next_day)
    return (this_month - timedelta(days=1)).replace(day=1)


def origin_period(as_of: date, frequency: Frequency) -> date:
    """The last period a run at ``as_of`` observes: the as-of week, or the last whole month."""
    return last_complete_month(as_of) if frequency == "monthly" else week_start(as_of)


def shift_periods(day: date, periods: int, frequency: Frequency) -> date:
    """``day`` moved by whole periods (weeks or months; negative goes back)."""
    if frequency == "monthly":
        months = day.year * 12 + day.month - 1 + periods
        return date(months // 12, months % 12 + 1, 1)
    return day + timedelta(weeks=periods)


def run_calendars(
    markets: Markets, brands: Iterable[BrandConfig], first_year: int, last_year: int
) -> dict[BrandFrequency, pl.DataFrame]:
    """Moving holidays of every market the brands sell in, per frequency the brands use.

    Returns:
        Frequency → ``event, market, ds, weight`` (see ``holidays.event_calendar``).
    """
    wanted: dict[BrandFrequency, set[str]] = {}
    for brand in brands:
        wanted.setdefault(brand.frequency, set()).update(brand.markets)
    return {
        frequency: event_calendar(markets, sorted(names), first_year, last_year, frequency)
        for frequency, names in wanted.items()
    }
