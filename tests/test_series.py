"""Series preparation: complete weekly grid, activity, demand classes."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from forecast.engine.series import demand_class, prepare_series
from forecast.inputs.config import SalesSettings


def _rows(product: str, weeks: list[date], units: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"brand": "b", "market": "europe", "product": product, "ds": weeks, "units": units}
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


def _weeks(n: int, start: date = date(2024, 1, 1)) -> list[date]:
    return [start + timedelta(weeks=i) for i in range(n)]


def _export() -> pl.DataFrame:
    """Two products in europe (week 3: neither has a row; week 5: only p2 lacks one) and
    p1 returning more than it sold in week 6; one product alone in china, missing week 3."""
    weeks = _weeks(8)
    p1 = [5.0, 6.0, 5.0, None, 6.0, 5.0, -2.0, 6.0]
    p2 = [3.0, 2.0, 4.0, None, 3.0, None, 3.0, 2.0]
    solo = [7.0, 7.0, 7.0, None, 7.0, 7.0, 7.0, 7.0]
    frames = []
    for product, market, units in (
        ("p1", "europe", p1),
        ("p2", "europe", p2),
        ("s", "china", solo),
    ):
        rows = [(w, u) for w, u in zip(weeks, units, strict=True) if u is not None]
        frames.append(
            pl.DataFrame(rows, schema=["ds", "units"], orient="row").with_columns(
                brand=pl.lit("b"), market=pl.lit(market), product=pl.lit(product)
            )
        )
    return pl.concat(frames).select("brand", "market", "product", "ds", "units")


def _by_id(series: pl.DataFrame, column: str) -> dict[str, list[object]]:
    return {k[0]: g[column].to_list() for k, g in series.group_by("unique_id")}


def test_auto_takes_a_whole_market_gap_as_unknown_and_a_lone_gap_as_zero() -> None:
    series, _ = prepare_series(_export(), date(2024, 2, 19))
    y, gap = _by_id(series, "y"), _by_id(series, "gap")
    assert y["b/europe/p1"] == [5.0, 6.0, 5.0, None, 6.0, 5.0, None, 6.0]
    assert gap["b/europe/p1"][3] == "outage" and gap["b/europe/p1"][6] == "return"
    assert y["b/europe/p2"] == [3.0, 2.0, 4.0, None, 3.0, 0.0, 3.0, 2.0]  # p1 sold in week 5
    # one product alone: no sibling can tell a closure from a week without a sale
    assert y["b/china/s"][3] == 0.0 and gap["b/china/s"][3] is None


def test_zero_unknown_and_floor_rules() -> None:
    zero = SalesSettings(missing_weeks="zero", returns="floor")
    series, _ = prepare_series(_export(), date(2024, 2, 19), zero)
    assert _by_id(series, "y")["b/europe/p1"] == [5.0, 6.0, 5.0, 0.0, 6.0, 5.0, 0.0, 6.0]
    assert series["gap"].null_count() == series.height
    unknown = SalesSettings(missing_weeks="unknown")
    series, _ = prepare_series(_export(), date(2024, 2, 19), {"b": unknown})
    gap = _by_id(series, "gap")
    assert gap["b/europe/p2"][5] == "missing" and gap["b/china/s"][3] == "missing"
    assert gap["b/europe/p1"][3] == "outage"


def test_discontinued_counts_observed_weeks_only() -> None:
    weeks = _weeks(60)
    sold = [(w, 4.0 if i < 20 else 0.0) for i, w in enumerate(weeks)]
    frame = pl.DataFrame(sold, schema=["ds", "units"], orient="row")
    rows = pl.concat([frame.with_columns(product=pl.lit(p)) for p in ("a", "b")]).with_columns(
        brand=pl.lit("b"), market=pl.lit("europe")
    )
    # 40 weeks without a sale after week 19, of which weeks 30-44 are an outage: 25 observed
    outage = rows.filter((pl.col("ds") < weeks[30]) | (pl.col("ds") > weeks[44]))
    series, inactive = prepare_series(outage, weeks[-1])
    assert series["unique_id"].n_unique() == 2 and inactive.is_empty()
    _, inactive = prepare_series(rows, weeks[-1])  # 40 observed weeks without a sale
    assert inactive["last_sale"].to_list() == [weeks[19], weeks[19]]
    strict = SalesSettings(inactive_after_weeks=20)
    _, inactive = prepare_series(outage, weeks[-1], strict)
    assert inactive.height == 2
    # nothing observed for 26 weeks (a long outage at the end): nothing to forecast from
    _, inactive = prepare_series(rows.filter(pl.col("ds") < weeks[30]), weeks[-1])
    assert inactive["last_observed"].to_list() == [weeks[29], weeks[29]]


def test_demand_class_counts_observed_weeks_only() -> None:
    frame = pl.DataFrame({"unique_id": "u", "y": [1.0, None, 1.0, None, None, 1.0, 1.0, 0.0]})
    assert demand_class(frame)["demand_class"].to_list() == ["smooth"]  # 5 observed, 4 sold
