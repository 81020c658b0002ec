"""Markets: ISO codes, named groups, whose calendars they follow; bad input named in one line."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecast.inputs.markets import (
    MarketError,
    Markets,
    calendars_of,
    default_markets_file,
    expand_market,
    load_markets,
    membership,
    validate_markets,
)
from forecast.vocabulary import REGIONS


@pytest.fixture(scope="module")
def markets() -> Markets:
    return load_markets(default_markets_file())


def _problems(tmp_path: Path, extra: str) -> list[str]:
    """Problems of the shipped markets file with ``extra`` TOML appended."""
    path = tmp_path / "markets.toml"
    path.write_text(default_markets_file().read_text(encoding="utf-8") + extra, encoding="utf-8")
    with pytest.raises(MarketError) as exc:
        load_markets(path)
    return exc.value.problems


def test_legacy_regions_are_markets(markets: Markets) -> None:
    assert validate_markets(markets, list(REGIONS), "x.toml") == REGIONS
    assert markets.own_markets == {"travel_retail"}


def test_groups_expand_into_countries(markets: Markets) -> None:
    europe = expand_market(markets, "europe")
    assert {"FR", "IT", "DE", "GB"} <= set(europe)
    assert "CN" not in europe
    assert expand_market(markets, "FR") == ("FR",)
    assert expand_market(markets, "US-CA") == ("US-CA",)
    assert expand_market(markets, "travel_retail") == ("travel_retail",)


def test_calendars_followed(markets: Markets) -> None:
    europe = calendars_of(markets, "europe")
    assert europe["FR"] == pytest.approx(0.3)
    assert sum(europe.values()) == pytest.approx(1.0)
    assert calendars_of(markets, "japan") == {"JP": 1.0}  # a group without follows: equal shares
    assert calendars_of(markets, "AE") == {"AE": 1.0}
    assert calendars_of(markets, "US-CA") == {"US-CA": 1.0}
    assert calendars_of(markets, "travel_retail") == {"CN": 1.0}


def test_iso_codes_and_subdivisions_are_markets(markets: Markets) -> None:
    names = ["FR", "AE", "CN", "US-CA", "GB-SCT", "travel_retail"]
    assert validate_markets(markets, names, "x.toml") == tuple(names)


@pytest.mark.parametrize(
    ("names", "fragment"),
    [
        (["FR", "XX"], "'XX' is not an ISO 3166-1 alpha-2 country code"),
        (["fr"], "codes are upper case: 'FR'"),
        (["US-ZZ"], "'US-ZZ' is not an ISO 3166-1"),
        (["emea"], "'emea' is not an ISO 3166-1"),
        (["europe", "FR"], "'FR' overlaps 'europe' on FR"),
        (["AE", "AE"], "'AE' overlaps 'AE' on AE"),
    ],
)
def test_unknown_or_overlapping_markets_are_refused(
    markets: Markets, names: list[str], fragment: str
) -> None:
    with pytest.raises(MarketError) as exc:
        validate_markets(markets, names, "maison.toml: key 'markets'")
    assert len(exc.value.problems) == 1
    line = exc.value.problems[0]
    assert line.startswith("maison.toml: key 'markets': ")
    assert fragment in line
    assert "\n" not in line


def test_group_naming_an_unknown_country(tmp_path: Path) -> None:
    problems = _problems(tmp_path, '\n[groups.gulf]\ncountries = ["AE", "XX", "qa"]\n')
    assert problems == [
        "markets.toml: groups.gulf.countries: 'XX' is not an ISO 3166-1 alpha-2 country code "
        "or ISO 3166-2 subdivision",
        "markets.toml: groups.gulf.countries: 'qa' is not an ISO 3166-1 alpha-2 country code "
        "or ISO 3166-2 subdivision (codes are upper case: 'QA')",
    ]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            '\n[groups.gulf]\ncountries = ["AE", "QA"]\nfollows = { AE = 0.5, SA = 0.5 }\n',
            ["markets.toml: groups.gulf.follows: 'SA' is not one of the group's countries"],
        ),
        (
            '\n[groups.gulf]\ncountries = ["AE", "QA"]\nfollows = { AE = 0.5, QA = 0.4 }\n',
            ["markets.toml: groups.gulf.follows: shares sum to 0.9, not 1"],
        ),
        (
            '\n[groups.Gulf]\ncountries = ["AE"]\n',
            ["markets.toml: key 'Gulf': market and group names are snake_case"],
        ),
        (
            '\n[groups.gulf]\ncountries = ["AE", "AE"]\n',
            ["markets.toml: groups.gulf.countries: a country is listed twice"],
        ),
        (
            '\n[groups.gulf]\ncountries = ["AE"]\ncolour = "red"\n',
            ["markets.toml: key 'groups.gulf.colour': Extra inputs are not permitted"],
        ),
    ],
)
def test_bad_markets_file(tmp_path: Path, extra: str, expected: list[str]) -> None:
    assert _problems(tmp_path, extra) == expected


def test_event_adoption_names_known_markets(tmp_path: Path) -> None:
    path = tmp_path / "markets.toml"
    text = default_markets_file().read_text(encoding="utf-8")
    path.write_text(text.replace('diwali = ["IN"', 'diwali = ["INDIA", "IN"'), encoding="utf-8")
    with pytest.raises(MarketError) as exc:
        load_markets(path)
    assert exc.value.problems == [
        "markets.toml: events.diwali: 'INDIA' is not an ISO 3166-1 alpha-2 country code "
        "or ISO 3166-2 subdivision"
    ]


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "markets.toml"
    path.write_text("[groups.europe\n", encoding="utf-8")
    with pytest.raises(MarketError) as exc:
        load_markets(path)
    assert len(exc.value.problems) == 1
    assert exc.value.problems[0].startswith("markets.toml: not valid TOML")


def test_membership_maps_codes_to_brand_markets(markets: Markets) -> None:
    got = membership(markets, ["japan", "AE", "travel_retail"])
    expected = pl.DataFrame(
        {"code": ["JP", "AE", "travel_retail"], "market": ["japan", "AE", "travel_retail"]}
    )
    assert_frame_equal(got, expected)
    assert membership(markets, ["europe"])["market"].unique().to_list() == ["europe"]
