"""Ingest validation: every refused row has a reason; nothing is dropped silently."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from forecast.inputs.config import load_brands
from forecast.inputs.files import IngestError, check_date_format, read_table
from forecast.inputs.ingest import REQUIRED as REQUIRED_COLUMNS
from forecast.inputs.ingest import check_file, rename_columns, validate_sales

CSV = """brand,region,product,ds,units,promo
wines_a,europe,cognac_001,2024-06-03,12,false
wines_a,europe,cognac_001,2024-06-10,13,1
nobody,europe,x,2024-06-03,1,
wines_a,japan,cognac_001,2024-06-03,1,
wines_a,europe,cognac_001,2024-06-05,1,
wines_a,europe,cognac_001,next week,1,
wines_a,europe,cognac_001,2024-06-17,ten,
wines_a,europe,cognac_001,2024-06-24,-3,
wines_a,europe,cognac_001,2099-01-05,3,
wines_a,europe,cognac_001,2024-06-10,14,0
wines_a,europe,,2024-06-03,1,
"""


@pytest.fixture
def checked(tmp_path: Path, config_dir: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "sales.csv"
    path.write_text(CSV)
    raw = rename_columns(read_table(path), {}, str(path))
    return validate_sales(raw, load_brands(config_dir), as_of=date(2024, 12, 30))


def test_every_row_is_accepted_or_refused_with_its_reason(checked) -> None:  # type: ignore[no-untyped-def]
    assert checked.accepted.height + checked.rejected.height == 11
    assert checked.accepted.height == 3
    reasons = dict(checked.rejected.select("row_number", "reason").iter_rows())
    assert reasons[3] == "unknown brand 'nobody'"
    assert reasons[4] == "market 'japan' is not one of brand 'wines_a' markets (europe, china)"
    assert reasons[5].startswith("ds 2024-06-05 is not a Monday (weeks start on Monday; ")
    assert "--week-label end or start" in reasons[5]
    assert reasons[6] == "ds 'next week' is not a date like 2024-06-03"
    assert reasons[7] == "units 'ten' is not a number"
    assert 8 not in reasons  # a return (net sales), within what the series sold before
    assert reasons[9] == "ds 2099-01-05 is after the as-of date"
    assert reasons[2] == "duplicate key: row 10 of the file wins"
    assert reasons[11] == "empty product"


def test_accepted_rows_are_typed_and_the_later_duplicate_wins(checked) -> None:  # type: ignore[no-untyped-def]
    acc = checked.accepted.sort("ds")
    assert acc.columns == ["brand", "market", "product", "ds", "units", "price", "promo"]
    assert acc["ds"].to_list() == [date(2024, 6, 3), date(2024, 6, 10), date(2024, 6, 24)]
    assert acc["units"].to_list() == [12.0, 14.0, -3.0]  # stored exactly as given
    assert acc["promo"].to_list() == [False, False, None]  # an empty promo is not known


def test_other_layouts_are_mapped_and_missing_columns_named(
    tmp_path: Path, config_dir: Path
) -> None:
    path = tmp_path / "other.csv"
    path.write_text("maison,zone,sku,week,qty\nwines_a,europe,c1,03/06/2024,5\n")
    raw = rename_columns(
        read_table(path),
        {"brand": "maison", "market": "zone", "product": "sku", "ds": "week", "units": "qty"},
        str(path),
    )
    out = validate_sales(raw, load_brands(config_dir), date_format="%d/%m/%Y")
    assert out.accepted["ds"].to_list() == [date(2024, 6, 3)]
    with pytest.raises(IngestError, match=r"other\.csv: missing column\(s\) \['brand'"):
        rename_columns(read_table(path), {}, str(path))


def test_parquet_is_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    pl.DataFrame({"brand": ["a"], "units": [1.5]}).write_parquet(path)
    assert read_table(path).dtypes == [pl.String, pl.String]
    with pytest.raises(IngestError, match="no such file"):
        read_table(tmp_path / "missing.csv")


def _reasons(tmp_path: Path, config_dir: Path, body: str, **kwargs) -> dict[int, str]:  # type: ignore[no-untyped-def]
    path = tmp_path / "in.csv"
    path.write_text("brand,region,product,ds,units\n" + body)
    raw = rename_columns(read_table(path), {}, str(path))
    out = validate_sales(raw, load_brands(config_dir), **kwargs)
    return dict(out.rejected.select("row_number", "reason").iter_rows())


def test_absurd_units_and_dates_are_refused_with_the_reason(
    tmp_path: Path, config_dir: Path
) -> None:
    reasons = _reasons(
        tmp_path,
        config_dir,
        "wines_a,europe,c,2024-06-03,1e300\n"
        "wines_a,europe,c,2024-06-10,99999999999999999999999999999\n"
        "wines_a,europe,c,1900-01-01,1\n"
        "wines_a,europe,c,2999-12-30,1\n"
        "wines_a,europe,c,2024-06-17,1000000000\n",
        latest=date(2026, 12, 8),
    )
    assert reasons == {
        1: "units 1e300 is beyond the sanity bound ±1e+09",
        2: "units 99999999999999999999999999999 is beyond the sanity bound ±1e+09",
        3: "ds 1900-01-01 is before brand 'wines_a' launch week 2015-01-05",
        4: "ds 2999-12-30 is in the future (after 2026-12-08)",
    }


def test_returns_are_net_sales_bounded_by_what_the_series_sold(
    tmp_path: Path, config_dir: Path
) -> None:
    body = (
        "wines_a,europe,c,2024-06-03,10\n"
        "wines_a,europe,c,2024-06-10,-4\n"  # within the 10 sold before: a return
        "wines_a,europe,c,2024-06-17,-40\n"  # more than was ever sold: a typo
        "wines_a,europe,d,2024-06-17,-2\n"  # nothing sold before in the file or stored
        "wines_a,europe,e,2024-06-17,-2\n"  # stored sales of 2023 cover it
        "wines_a,europe,c,2024-06-24,-1e10\n"
    )
    stored = pl.DataFrame(
        {
            "brand": "wines_a",
            "market": "europe",
            "product": ["e", "d"],
            "ds": [date(2024, 1, 1), date(2023, 6, 5)],  # d: sold more than 52 weeks before
            "units": [3.0, 50.0],
        }
    )
    reasons = _reasons(tmp_path, config_dir, body, stored=stored)
    assert reasons == {
        3: "units -40.0: a return larger than the 6.0 units (net) the series sold in the 52 "
        "weeks before (a typo?)",
        4: "units -2.0: a return larger than the 0.0 units (net) the series sold in the 52 "
        "weeks before (a typo?)",
        6: "units -1e10 is beyond the sanity bound ±1e+09",
    }


def test_a_brand_can_keep_refusing_returns(tmp_path: Path, config_dir: Path) -> None:
    from tests.conftest import brand_toml

    (config_dir / "strict.toml").write_text(
        brand_toml("strict", "wines_spirits", sales={"returns": "refuse"})
    )
    body = "strict,europe,c,2024-06-03,10\nstrict,europe,c,2024-06-10,-4\n"
    assert _reasons(tmp_path, config_dir, body) == {
        2: "negative units -4.0 (brand 'strict' refuses returns: [sales] returns = \"refuse\")"
    }


def test_returned_series_names_the_series_to_read_back(tmp_path: Path) -> None:
    from forecast.inputs.ingest import returned_series

    path = tmp_path / "r.csv"
    path.write_text(
        "brand,region,product,ds,units\nb, europe ,p,2024-06-03,-1\nb,europe,q,2024-06-03,2\n"
    )
    keys = returned_series(rename_columns(read_table(path), {}, str(path)))
    assert keys.rows() == [("b", "europe", "p")]


def test_day_month_order_is_never_guessed(tmp_path: Path, config_dir: Path) -> None:
    body = "wines_a,europe,c,03/06/2024,1\nwines_a,europe,c,13/06/2024,1\n"
    assert _reasons(tmp_path, config_dir, body) == {
        1: "ds '03/06/2024' is ambiguous (day/month or month/day?): give --date-format, "
        "e.g. %d/%m/%Y",
        2: "ds '13/06/2024' is ambiguous (day/month or month/day?): give --date-format, "
        "e.g. %d/%m/%Y",
    }
    refused = _reasons(tmp_path, config_dir, body, date_format="%d/%m/%Y")
    assert list(refused) == [2] and refused[2].startswith("ds 2024-06-13 is not a Monday")


def test_a_date_format_must_read_back_year_month_and_day() -> None:
    check_date_format("%d/%m/%Y")
    check_date_format(None)
    for bad in ("%Q", "%Y", "week", "%d/%m"):
        with pytest.raises(IngestError, match=r"--date-format .* does not give year, month"):
            check_date_format(bad)


def test_latin1_bytes_name_the_line_and_the_option(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        b"brand,region,product,ds,units\na,europe,p,2024-06-03,1\na,europe,caf\xe9,2024-06-03,1\n"
    )
    with pytest.raises(
        IngestError, match=r"latin\.csv: line 3 is not utf-8 text .*--encoding latin-1"
    ):
        read_table(path)
    assert read_table(path, "latin-1")["product"].to_list() == ["p", "café"]


def test_ragged_rows_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "brand,region,product,ds,units\na,europe,p,2024-06-03,1\na,europe,p,2024-06-10,1,x\n"
    )
    with pytest.raises(IngestError, match=r"ragged\.csv: line 3 has 6 fields, the header has 5$"):
        read_table(path)


def test_a_bom_and_crlf_csv_reads(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfbrand,market,product,ds,units\r\na,europe,p,2024-06-03,1\r\n")
    assert read_table(path).columns == list(REQUIRED_COLUMNS)
    check_file(path, {})


def test_parquet_midnight_timestamps_are_dates(tmp_path: Path, config_dir: Path) -> None:
    from datetime import datetime

    path = tmp_path / "ts.parquet"
    pl.DataFrame(
        {
            "brand": ["wines_a", "wines_a"],
            "market": "europe",
            "product": "c",
            "ds": [datetime(2024, 6, 3), datetime(2024, 6, 10, 15, 30)],
            "units": [1.0, 2.0],
        }
    ).write_parquet(path)
    out = validate_sales(rename_columns(read_table(path), {}, str(path)), load_brands(config_dir))
    assert out.accepted["ds"].to_list() == [date(2024, 6, 3)]
    assert out.rejected["reason"].to_list() == [
        "ds '2024-06-10 15:30:00.000000' is not a date like 2024-06-03"
    ]


def test_check_file_finds_problems_before_any_load(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        check_file(tmp_path / "nope.csv", {})
    with pytest.raises(IngestError, match="is a folder"):
        check_file(tmp_path, {})
    path = tmp_path / "few.csv"
    path.write_text("brand,week,units\n")
    with pytest.raises(IngestError, match=r"missing column\(s\) \['market', 'product', 'ds'\]"):
        check_file(path, {})
    path.write_text("maison,region,product,week,units\n")
    check_file(path, {"ds": "week", "brand": "maison"})
    with pytest.raises(IngestError, match="not a known text encoding"):
        check_file(path, {}, "klingon")


def test_revenue_gives_the_price_and_unreadable_amounts_are_refused(
    tmp_path: Path, config_dir: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "brand,region,product,ds,units,net_sales,price\n"
        "wines_a,europe,c,2024-06-03,4,480,\n"  # revenue only: price 120
        "wines_a,europe,c,2024-06-10,2,500,90\n"  # the file's price wins
        "wines_a,europe,c,2024-06-17,0,0,\n"  # no sale: no price
        "wines_a,europe,c,2024-06-24,3,,abc\n"
        "wines_a,europe,c,2024-07-01,3,-5,\n"
        "wines_a,europe,c,2024-07-08,3,,\n"
    )
    raw = rename_columns(read_table(path), {"revenue": "net_sales"}, str(path))
    out = validate_sales(raw, load_brands(config_dir))
    assert dict(out.rejected.select("row_number", "reason").iter_rows()) == {
        4: "price 'abc' is not a number ≥ 0",
        5: "revenue '-5' is not a number ≥ 0",
    }
    prices = out.accepted.sort("ds")["price"].to_list()
    assert prices == [120.0, 90.0, None, None]


def test_weeks_dated_by_their_last_or_first_day_are_placed_on_their_monday(
    tmp_path: Path, config_dir: Path
) -> None:
    ending_sunday = "wines_a,europe,c,2024-06-09,5\nwines_a,europe,c,2024-06-16,6\n"
    path = tmp_path / "in.csv"
    path.write_text(
        "brand,region,product,ds,units\n"
        + ending_sunday
        + "wines_a,europe,c,2024-06-19,7\n"  # a Wednesday among Sundays
        + "wines_a,europe,c,2024-06-23,8\n"
    )
    raw = rename_columns(read_table(path), {}, str(path))
    brands = load_brands(config_dir)
    by_end = validate_sales(raw, brands, week_label="end")
    assert by_end.accepted["ds"].to_list() == [
        date(2024, 6, 3),
        date(2024, 6, 10),
        date(2024, 6, 17),
    ]
    assert by_end.accepted["units"].to_list() == [5.0, 6.0, 8.0]
    (reason,) = by_end.rejected["reason"].to_list()
    assert reason == (
        "ds 2024-06-19 is a Wednesday; brand 'wines_a' dates its other weeks in this file by "
        "Sundays"
    )
    # The same Sundays as US week starts (Sunday to Saturday): six of seven days in the next week.
    by_start = validate_sales(raw, brands, week_label="start")
    assert by_start.accepted["ds"].to_list() == [
        date(2024, 6, 10),
        date(2024, 6, 17),
        date(2024, 6, 24),
    ]
    # Without a label, nothing is guessed: every Sunday is refused.
    assert validate_sales(raw, brands).accepted.is_empty()
