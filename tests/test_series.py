"""Series preparation: complete weekly grid, activity, demand classes."""

from __future__ import annotations

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from forecast.engine.series import demand_class, prepare_series


def _rows(product: str, weeks: list[date], units: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"brand": "b", "region": "europe", "product": product, "ds": weeks, "units": units}
    )


def test_missing_weeks_are_zero_and_series_reach_as_of() -> None:
    sales = _rows("p", [date(2024, 1, 1), date(2024, 1, 15)], [3.0, 5.0])
    series, inactive = prepare_series(sales, date(2024, 1, 31))  # a Wednesday
    expected = pl.DataFrame(
        {
            "ds": [
                date(2024, 1, 1),
                date(2024, 1, 8),
                date(2024, 1, 15),
                date(2024, 1, 22),
                date(2024, 1, 29),
            ],
            "y": [3.0, 0.0, 5.0, 0.0, 0.0],
        }
    )
    assert_frame_equal(series.select("ds", "y"), expected)
    assert series["unique_id"].unique().to_list() == ["b/europe/p"]
    assert inactive.is_empty()


def test_rows_after_as_of_are_ignored() -> None:
    sales = _rows("p", [date(2024, 1, 1), date(2024, 1, 8)], [3.0, 5.0])
    series, _ = prepare_series(sales, date(2024, 1, 1))
    assert series["y"].to_list() == [3.0]


def test_discontinued_series_are_inactive() -> None:
    weeks = [date(2023, 1, 2), date(2023, 1, 9)]
    sales = pl.concat([_rows("old", weeks, [1.0, 2.0]), _rows("new", [date(2024, 6, 3)], [4.0])])
    series, inactive = prepare_series(sales, date(2024, 6, 3))
    assert series["product"].unique().to_list() == ["new"]
    assert inactive["unique_id"].to_list() == ["b/europe/old"]
    assert inactive["last_sale"].to_list() == [date(2023, 1, 9)]


def test_demand_class() -> None:
    frame = pl.DataFrame(
        {
            "unique_id": ["s"] * 4 + ["i"] * 4,
            "y": [1.0, 2.0, 3.0, 1.0, 0.0, 0.0, 2.0, 0.0],
        }
    )
    classes = dict(demand_class(frame).iter_rows())
    assert classes == {"s": "smooth", "i": "intermittent"}
