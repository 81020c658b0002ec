"""Moving events per market on their real dates: the holidays package, plus a few rules."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

import holidays as holiday_tables
import polars as pl

from forecast.inputs.markets import (
    EVERY_COUNTRY,
    MarketError,
    Markets,
    calendars_of,
    expand_market,
)

LEAD_WEIGHT = 0.5
# Days of one holiday that the package lists separately (a three-day Spring Festival) are one
# occurrence; a lunar event can still occur twice in one Gregorian year (Eid: ~354 days apart).
_SAME_OCCURRENCE_DAYS = 300
_ESTIMATED = " (estimated)"


@dataclass(frozen=True)
class Named:
    """Dated by the holidays package: the first day of a named public holiday, shifted.

    Attributes:
        names: (English holiday name, days from that holiday to the event), any of which dates it.
        reference: Calendars that date the event in years the market's own calendar does not.
        own: Whose own calendar may date it: ``"all"`` markets, or only these countries.
    """

    names: tuple[tuple[str, int], ...]
    reference: tuple[str, ...]
    own: Literal["all"] | frozenset[str] = "all"


@dataclass(frozen=True)
class Rule:
    """Dated by a documented rule of (year, calendar code)."""

    day: Callable[[int, str], date]


@dataclass(frozen=True)
class Event:
    """A moving event: where its date comes from and how it is placed in periods.

    Attributes:
        source: The holidays package (``Named``) or a rule (``Rule``).
        lead: Gifting event: the week before carries half the uplift (weekly calendars only).
        in_periods: False when another event always shares its week; dated, never placed.
    """

    source: Named | Rule
    lead: bool = False
    in_periods: bool = True


_EASTER = Named((("Easter Sunday", 0), ("Easter Monday", -1), ("Good Friday", 2)), ("GB",))


def _sunday(year: int, month: int, n: int) -> date:
    """The n-th Sunday of a month; n = -1 is its last Sunday."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def _easter(year: int, calendar: str) -> date:
    return _named_dates(_EASTER, calendar, year, year)[0]


def _french_mothers_day(year: int, calendar: str) -> date:
    """Last Sunday of May, or the first Sunday of June when Pentecost falls on it (law of 1950)."""
    last_may = _sunday(year, 5, -1)
    pentecost = _easter(year, calendar) + timedelta(days=49)
    return last_may + timedelta(days=7) if last_may == pentecost else last_may


def _mothering_sunday(year: int, calendar: str) -> date:
    """UK and Ireland: the fourth Sunday of Lent, three weeks before Easter."""
    return _easter(year, calendar) - timedelta(days=21)


def _on(month: int, day: int) -> Callable[[int, str], date]:
    return lambda year, _calendar: date(year, month, day)


_MOTHERS_DAY: dict[str, Callable[[int, str], date]] = {
    "FR": _french_mothers_day,
    "GB": _mothering_sunday,
    "IE": _mothering_sunday,
    "ES": lambda year, _calendar: _sunday(year, 5, 1),
    "PT": lambda year, _calendar: _sunday(year, 5, 1),
    "MX": _on(5, 10),
    "KR": _on(5, 8),  # Parents' Day
    "TH": _on(8, 12),
    # Arab countries keep the spring equinox date.
    **dict.fromkeys(("AE", "SA", "QA", "KW", "BH", "OM", "EG", "JO", "LB"), _on(3, 21)),
}


def _mothers_day(year: int, calendar: str) -> date:
    """Mother's Day by country; elsewhere the second Sunday of May (US, China, Japan, …)."""
    rule = _MOTHERS_DAY.get(calendar.split("-")[0])
    return rule(year, calendar) if rule is not None else _sunday(year, 5, 2)


_LUNAR_NEW_YEAR = (
    ("Chinese New Year (Spring Festival)", 0),
    ("Chinese New Year", 0),
    ("Lunar New Year", 0),
    ("Korean New Year", 0),
)
EVENTS: dict[str, Event] = {
    "valentines": Event(Rule(_on(2, 14)), lead=True),
    "easter": Event(_EASTER),
    # Good Friday always shares Easter's Monday-to-Sunday week: placing both would count it twice.
    "good_friday": Event(
        Named((("Good Friday", 0), ("Easter Sunday", -2), ("Easter Monday", -3)), ("GB",)),
        in_periods=False,
    ),
    "mothers_day": Event(Rule(_mothers_day), lead=True),
    # Korea and Vietnam keep their own lunar calendars; elsewhere the Chinese date applies.
    "chinese_new_year": Event(
        Named(_LUNAR_NEW_YEAR, ("CN",), own=frozenset({"KR", "VN"})), lead=True
    ),
    # Golden Week, 1–7 October: dated by its middle day, so it lands in the week holding most of it.
    "golden_week": Event(Named((("National Day", 3),), ("CN",), own=frozenset())),
    "singles_day": Event(Rule(_on(11, 11))),
    # Black Friday and Cyber Monday follow US Thanksgiving wherever they are adopted.
    "black_friday": Event(Named((("Thanksgiving Day", 1),), ("US",), own=frozenset())),
    "cyber_monday": Event(Named((("Thanksgiving Day", 4),), ("US",), own=frozenset())),
    "ramadan_start": Event(Named((("First Day of Ramadan", 0),), ("AF", "MV"))),
    "eid_al_fitr": Event(Named((("Eid al-Fitr", 0),), ("AE", "EG")), lead=True),
    "diwali": Event(Named((("Diwali", 0),), ("IN",)), lead=True),
    "christmas": Event(Rule(_on(12, 25)), lead=True),
    "new_year": Event(Rule(_on(1, 1))),
}


@lru_cache(maxsize=512)
def _holiday_names(calendar: str, first: int, last: int) -> tuple[tuple[date, str], ...]:
    """(date, English name) of a calendar's public holidays, days shared by two names split."""
    country, _, subdiv = calendar.partition("-")
    years = range(first, last + 1)
    with warnings.catch_warnings():
        # Tables that stop short (India's Hindu dates cover 2001–2035) warn: those years are gaps.
        warnings.simplefilter("ignore", UserWarning)
        try:
            table = _country_table(country, subdiv or None, years)
        except NotImplementedError:  # a subdivision without holidays of its own
            table = _country_table(country, None, years)
    return tuple(
        (day, part.removesuffix(_ESTIMATED))
        for day, name in table.items()
        for part in name.split(holiday_tables.HOLIDAY_NAME_DELIMITER)
    )


def _country_table(country: str, subdiv: str | None, years: range) -> holiday_tables.HolidayBase:
    # Observed-day shifts are left out: demand follows the festival, not the day off in lieu.
    return holiday_tables.country_holidays(
        country, subdiv=subdiv, years=years, language="en_US", observed=False
    )


@lru_cache(maxsize=1024)
def _occurrences(
    calendar: str, names: tuple[tuple[str, int], ...], first: int, last: int
) -> tuple[date, ...]:
    """First day of each occurrence of the named holiday in ``first..last``, shifted."""
    shift = dict(names)
    days = sorted(
        day + timedelta(days=shift[name])
        for day, name in _holiday_names(calendar, first - 1, last)
        if name in shift
    )
    starts: list[date] = []
    for day in days:
        if not starts or (day - starts[-1]).days > _SAME_OCCURRENCE_DAYS:
            starts.append(day)
    return tuple(day for day in starts if first <= day.year <= last)


def _named_dates(spec: Named, calendar: str, first: int, last: int) -> list[date]:
    """Each year's dates from the first calendar holding the holiday: own, then reference."""
    own = spec.own == "all" or calendar.split("-")[0] in spec.own
    by_year: dict[int, list[date]] = {}
    for source in ((calendar,) if own else ()) + spec.reference:
        found: dict[int, list[date]] = {}
        for day in _occurrences(source, spec.names, first, last):
            found.setdefault(day.year, []).append(day)
        by_year = found | by_year
    return sorted(day for days in by_year.values() for day in days)


def _dates(event: Event, calendar: str, first: int, last: int) -> list[date]:
    if isinstance(event.source, Rule):
        return [event.source.day(year, calendar) for year in range(first, last + 1)]
    return _named_dates(event.source, calendar, first, last)


def event_problems(markets: Markets) -> list[str]:
    """Events of the markets file unknown here, or known here but missing from the file."""
    src = markets.source
    unknown = [
        f"{src}: events.{name}: unknown event (known: {', '.join(EVENTS)})"
        for name in markets.adoption
        if name not in EVENTS
    ]
    missing = [
        f"{src}: [events]: no entry for {name!r} (an empty list switches it off)"
        for name in EVENTS
        if name not in markets.adoption
    ]
    return unknown + missing


def _adopts(markets: Markets, event: str, market: str, calendar: str) -> bool:
    """Whether ``event`` moves demand in ``market`` through the calendar it follows."""
    where = markets.adoption[event]
    if market in markets.own_markets:
        return market in where
    countries = {code for entry in where for code in expand_market(markets, entry)}
    return bool({EVERY_COUNTRY, calendar, calendar.split("-")[0]} & countries)


def _adopted(markets: Markets, names: Sequence[str]) -> list[tuple[str, Event, str, str, float]]:
    """(event name, event, market, calendar, share) for every event a market's calendars keep."""
    problems = event_problems(markets)
    if problems:
        raise MarketError(problems)
    return [
        (event, spec, market, calendar, share)
        for market in names
        for calendar, share in calendars_of(markets, market).items()
        for event, spec in EVENTS.items()
        if _adopts(markets, event, market, calendar)
    ]


def event_dates(
    markets: Markets, names: Sequence[str], first_year: int, last_year: int
) -> pl.DataFrame:
    """Every moving event of each market on its real date, years ``first_year..last_year``.

    Args:
        markets: The markets file (groups, calendars followed, adoption of events).
        names: Markets to date, e.g. a brand's ``markets``; validate them first.
        first_year: First calendar year.
        last_year: Last calendar year, inclusive.

    Returns:
        ``event, market, calendar, date, share`` — one row per date and per calendar the
        market follows; ``share`` is that calendar's share of the market.

    Raises:
        MarketError: When the file's ``[events]`` and the events known here differ.
    """
    rows = [
        (event, market, calendar, day, share)
        for event, spec, market, calendar, share in _adopted(markets, names)
        for day in _dates(spec, calendar, first_year, last_year)
    ]
    schema = {
        "event": pl.String,
        "market": pl.String,
        "calendar": pl.String,
        "date": pl.Date,
        "share": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def event_calendar(
    markets: Markets,
    names: Sequence[str],
    first_year: int,
    last_year: int,
    frequency: Literal["weekly", "monthly"] = "weekly",
) -> pl.DataFrame:
    """Periods touched by each moving event, per market.

    Weekly: the Monday of the week holding the date (a Sunday goes to the Monday six days
    before), and for gifting events the week before at half weight. Monthly: the first day
    of the month holding the date, no lead period.

    Returns:
        ``event, market, ds, weight`` — weight sums, over the calendars the market follows,
        each calendar's share times 1 (the period of the date) or 0.5 (the lead week).
    """
    dates = event_dates(markets, names, first_year, last_year).filter(
        pl.col("event").is_in([name for name, spec in EVENTS.items() if spec.in_periods])
    )
    if frequency == "monthly":
        placed = dates.with_columns(ds=pl.col("date").dt.month_start(), weight=pl.col("share"))
    else:
        week = pl.col("date").dt.truncate("1w")  # polars weeks start on Monday
        lead = dates.filter(pl.col("event").is_in([n for n, s in EVENTS.items() if s.lead]))
        placed = pl.concat(
            [
                dates.with_columns(ds=week, weight=pl.col("share")),
                lead.with_columns(
                    ds=week - pl.duration(weeks=1), weight=pl.col("share") * LEAD_WEIGHT
                ),
            ]
        )
    return (
        placed.group_by("event", "market", "ds")
        .agg(pl.col("weight").sum())
        .sort("market", "event", "ds")
    )


def event_gaps(
    markets: Markets, names: Sequence[str], first_year: int, last_year: int
) -> pl.DataFrame:
    """Years in which an event a market keeps could not be dated: ``event, market, calendar, year``.

    The holidays package tabulates some calendars for a limited span (India's Diwali:
    2001–2035); report these so a caller can say so instead of silently missing the event.
    """
    expected = pl.DataFrame(
        [
            (event, market, calendar, year)
            for event, _spec, market, calendar, _share in _adopted(markets, names)
            for year in range(first_year, last_year + 1)
        ],
        schema={"event": pl.String, "market": pl.String, "calendar": pl.String, "year": pl.Int32},
        orient="row",
    )
    found = event_dates(markets, names, first_year, last_year).select(
        "event", "market", "calendar", year=pl.col("date").dt.year()
    )
    return expected.join(found, on=["event", "market", "calendar", "year"], how="anti").sort(
        "market", "event", "year"
    )
