"""Moving events per market: known dates, weekly and monthly placement, groups, gaps."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecast.inputs.holidays import (
    EVENTS,
    event_calendar,
    event_dates,
    event_gaps,
    event_problems,
)
from forecast.inputs.markets import MarketError, Markets, default_markets_file, load_markets
from forecast.vocabulary import EVENTS as LEGACY_EVENTS


@pytest.fixture(scope="module")
def markets() -> Markets:
    return load_markets(default_markets_file())


def _dates(markets: Markets, event: str, market: str, year: int) -> list[date]:
    rows = event_dates(markets, [market], year, year).filter(pl.col("event") == event)
    return sorted(rows["date"].to_list())


@pytest.mark.parametrize(
    ("event", "market", "year", "expected"),
    [
        ("chinese_new_year", "CN", 1976, [date(1976, 1, 31)]),
        ("chinese_new_year", "CN", 1985, [date(1985, 2, 20)]),
        ("chinese_new_year", "CN", 2030, [date(2030, 2, 3)]),
        ("chinese_new_year", "SG", 2024, [date(2024, 2, 10)]),
        ("chinese_new_year", "KR", 1997, [date(1997, 2, 8)]),  # Korea's own lunar calendar
        ("chinese_new_year", "VN", 1985, [date(1985, 1, 21)]),  # Vietnam's Tet, a month apart
        ("golden_week", "CN", 2023, [date(2023, 10, 4)]),  # middle of 1–7 October
        ("eid_al_fitr", "AE", 2024, [date(2024, 4, 10)]),
        (
            "eid_al_fitr",
            "SA",
            2024,
            [date(2024, 4, 10)],
        ),  # SA lists only "holiday" days: AE dates it
        ("eid_al_fitr", "AE", 2000, [date(2000, 1, 8), date(2000, 12, 27)]),  # twice in one year
        ("eid_al_fitr", "AE", 1970, [date(1970, 11, 30)]),  # before the UAE: the reference calendar
        ("ramadan_start", "AE", 2024, [date(2024, 3, 11)]),
        ("diwali", "IN", 2023, [date(2023, 11, 12)]),
        ("easter", "FR", 2024, [date(2024, 3, 31)]),
        ("easter", "GR", 2024, [date(2024, 5, 5)]),  # Orthodox Easter from Greece's own calendar
        ("good_friday", "GB", 2024, [date(2024, 3, 29)]),
        ("mothers_day", "GB", 2024, [date(2024, 3, 10)]),  # Mothering Sunday
        ("mothers_day", "FR", 2024, [date(2024, 5, 26)]),
        (
            "mothers_day",
            "FR",
            2023,
            [date(2023, 6, 4)],
        ),  # Pentecost on 28 May: first Sunday of June
        ("mothers_day", "FR", 2012, [date(2012, 6, 3)]),
        ("mothers_day", "US", 2024, [date(2024, 5, 12)]),
        ("mothers_day", "CN", 2024, [date(2024, 5, 12)]),
        ("mothers_day", "JP", 2025, [date(2025, 5, 11)]),
        ("mothers_day", "AE", 2024, [date(2024, 3, 21)]),
        ("black_friday", "US", 2024, [date(2024, 11, 29)]),  # Thanksgiving 28 Nov + 1
        ("black_friday", "US", 2023, [date(2023, 11, 24)]),
        ("black_friday", "CA", 2024, [date(2024, 11, 29)]),  # US date, not Canada's Thanksgiving
        ("cyber_monday", "GB", 2024, [date(2024, 12, 2)]),
        ("singles_day", "CN", 2024, [date(2024, 11, 11)]),
        ("valentines", "JP", 2024, [date(2024, 2, 14)]),
        ("christmas", "FR", 2024, [date(2024, 12, 25)]),
        ("new_year", "CN", 2024, [date(2024, 1, 1)]),
    ],
)
def test_known_dates(
    markets: Markets, event: str, market: str, year: int, expected: list[date]
) -> None:
    assert _dates(markets, event, market, year) == expected


@pytest.mark.parametrize(
    ("event", "market"),
    [
        ("singles_day", "FR"),
        ("black_friday", "CN"),
        ("eid_al_fitr", "FR"),
        ("diwali", "CN"),
        ("mothers_day", "travel_retail"),
        ("easter", "travel_retail"),
    ],
)
def test_events_stay_where_adopted(markets: Markets, event: str, market: str) -> None:
    assert _dates(markets, event, market, 2024) == []


def test_chinese_new_year_every_year_of_history(markets: Markets) -> None:
    rows = event_dates(markets, ["china", "travel_retail"], 1970, 2035).filter(
        pl.col("event") == "chinese_new_year"
    )
    per_market = rows.group_by("market").agg(years=pl.col("date").dt.year().n_unique())
    assert sorted(per_market.rows()) == [("china", 66), ("travel_retail", 66)]
    assert event_gaps(markets, ["china", "middle_east", "europe"], 1970, 2035).is_empty()


def test_gaps_name_the_years_the_library_cannot_date(markets: Markets) -> None:
    gaps = event_gaps(markets, ["IN"], 1998, 2002)
    expected = pl.DataFrame(
        {
            "event": ["diwali"] * 3,
            "market": ["IN"] * 3,
            "calendar": ["IN"] * 3,
            "year": pl.Series([1998, 1999, 2000], dtype=pl.Int32),
        }
    )
    assert_frame_equal(gaps, expected)


def test_weekly_placement_in_the_week_holding_the_date(markets: Markets) -> None:
    cal = event_calendar(markets, ["US"], 2024, 2024).filter(pl.col("event") == "mothers_day")
    # Sunday 12 May 2024 belongs to the week of Monday 6 May; the gifting week before at half.
    expected = pl.DataFrame(
        {
            "event": ["mothers_day"] * 2,
            "market": ["US"] * 2,
            "ds": [date(2024, 4, 29), date(2024, 5, 6)],
            "weight": [0.5, 1.0],
        }
    )
    assert_frame_equal(cal, expected)
    monday = event_calendar(markets, ["GB"], 2024, 2024).filter(pl.col("event") == "cyber_monday")
    assert monday["ds"].to_list() == [date(2024, 12, 2)]  # a Monday stays on itself


def test_weekly_calendar_shape(markets: Markets) -> None:
    cal = event_calendar(markets, ["europe", "china", "AE", "travel_retail"], 2020, 2026)
    assert cal.columns == ["event", "market", "ds", "weight"]
    assert (cal["ds"].dt.weekday() == 1).all()
    assert "good_friday" not in cal["event"].to_list()  # always in Easter's week
    lead_events = {name for name, spec in EVENTS.items() if spec.lead}
    halves = cal.filter(pl.col("weight") < 1)
    assert set(halves.filter(pl.col("market") == "AE")["event"].to_list()) <= lead_events
    assert cal.filter(pl.col("market") == "travel_retail")["event"].unique().sort().to_list() == [
        "chinese_new_year",
        "christmas",
        "golden_week",
        "new_year",
        "valentines",
    ]


def test_group_weights_are_country_shares(markets: Markets) -> None:
    cal = event_calendar(markets, ["europe", "asia_pacific"], 2024, 2024)

    def weight(event: str, market: str, ds: date) -> float:
        row = cal.filter(pl.col("event") == event, pl.col("market") == market, pl.col("ds") == ds)
        return float(row["weight"].item())

    assert weight("easter", "europe", date(2024, 3, 25)) == pytest.approx(1.0)
    assert weight("mothers_day", "europe", date(2024, 3, 4)) == pytest.approx(0.2)  # GB
    assert weight("mothers_day", "europe", date(2024, 5, 20)) == pytest.approx(0.3)  # FR
    assert weight("mothers_day", "europe", date(2024, 5, 6)) == pytest.approx(0.4)  # IT, DE
    assert weight("diwali", "asia_pacific", date(2024, 10, 28)) == pytest.approx(0.3)  # SG only
    main = cal.filter(pl.col("event") == "mothers_day", pl.col("market") == "europe")
    assert main["weight"].sum() == pytest.approx(1.5)  # every share once, plus half lead weeks


def test_monthly_placement(markets: Markets) -> None:
    cal = event_calendar(markets, ["FR", "CN"], 2023, 2024, frequency="monthly")
    assert (cal["ds"].dt.day() == 1).all()
    assert cal["weight"].to_list() == [1.0] * cal.height  # no lead periods
    fr = cal.filter(pl.col("event") == "mothers_day", pl.col("market") == "FR")
    assert fr["ds"].to_list() == [date(2023, 6, 1), date(2024, 5, 1)]
    cny = cal.filter(pl.col("event") == "chinese_new_year")
    assert cny["ds"].to_list() == [date(2023, 1, 1), date(2024, 2, 1)]


def test_subdivision_follows_its_country(markets: Markets) -> None:
    assert _dates(markets, "black_friday", "US-CA", 2024) == [date(2024, 11, 29)]
    assert _dates(markets, "easter", "GB-SCT", 2024) == [date(2024, 3, 31)]


def test_every_legacy_event_is_dated_here() -> None:
    assert set(LEGACY_EVENTS) <= set(EVENTS)


def test_events_file_must_match_known_events(markets: Markets, tmp_path: Path) -> None:
    assert event_problems(markets) == []
    path = tmp_path / "markets.toml"
    text = default_markets_file().read_text(encoding="utf-8")
    path.write_text(text.replace("diwali =", "deepavali ="), encoding="utf-8")
    changed = load_markets(path)
    with pytest.raises(MarketError) as exc:
        event_dates(changed, ["FR"], 2024, 2024)
    assert exc.value.problems[0].startswith("markets.toml: events.deepavali: unknown event")
    assert exc.value.problems[1] == (
        "markets.toml: [events]: no entry for 'diwali' (an empty list switches it off)"
    )
