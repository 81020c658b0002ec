"""Ingest validation: every refused row has a reason; nothing is dropped silently."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from forecast.inputs.config import load_brands
from forecast.inputs.ingest import IngestError, read_table, rename_columns, validate_sales

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
    reasons = dict(checked.rejected.select("row_number", "reason").iter_rows())
    assert reasons[3] == "unknown brand 'nobody'"
    assert reasons[4] == "region 'japan' is not one of brand 'wines_a' regions"
    assert reasons[5] == "ds 2024-06-05 is not a Monday (weeks start on Monday)"
    assert reasons[6] == "ds 'next week' is not a date"
    assert reasons[7] == "units 'ten' is not a number"
    assert reasons[8] == "negative units -3.0"
    assert reasons[9] == "ds 2099-01-05 is after the as-of date"
    assert reasons[2] == "duplicate key: row 10 of the file wins"
    assert reasons[11] == "empty product"


def test_accepted_rows_are_typed_and_the_later_duplicate_wins(checked) -> None:  # type: ignore[no-untyped-def]
    acc = checked.accepted.sort("ds")
    assert acc.columns == ["brand", "region", "product", "ds", "units", "price", "promo"]
    assert acc["ds"].to_list() == [date(2024, 6, 3), date(2024, 6, 10)]
    assert acc["units"].to_list() == [12.0, 14.0]
    assert acc["promo"].to_list() == [False, False]


def test_other_layouts_are_mapped_and_missing_columns_named(
    tmp_path: Path, config_dir: Path
) -> None:
    path = tmp_path / "other.csv"
    path.write_text("maison,zone,sku,week,qty\nwines_a,europe,c1,03/06/2024,5\n")
    raw = rename_columns(
        read_table(path),
        {"brand": "maison", "region": "zone", "product": "sku", "ds": "week", "units": "qty"},
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
