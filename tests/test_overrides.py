"""Overrides: each refusal has its reason, the later one wins, spreading keeps levels coherent."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from forecast.inputs.files import read_table
from forecast.planning.final import final_forecasts
from forecast.planning.overrides import (
    OverrideFileError,
    apply_overrides,
    empty_overrides,
    validate_overrides,
)
from tests.test_hierarchy import assert_coherent

FIRST = date(2024, 6, 3)  # first forecast week
KEYS = pl.DataFrame(
    {
        "brand": ["a", "a", "a", "b"],
        "market": ["europe", "europe", "china", "europe"],
        "category": ["x", "x", "x", "y"],
        "product": ["x_1", "x_2", "x_1", "y_1"],
    }
)
CSV = """brand,market,category,product,start,end,value,percent_change,reason,author
a,,,,2024-06-03,2024-06-24,,20,launch event,claire
ghost,,,,2024-06-03,2024-06-24,,5,x,claire
a,japan,,,2024-06-03,2024-06-24,,5,x,claire
a,,,,2024-01-01,2024-05-27,,5,x,claire
a,,,,2024-06-03,2024-06-24,,-150,x,claire
a,,,,2024-06-03,2024-06-24,10,5,x,claire
a,europe,,x_1,2024-06-03,2024-06-24,10,,x,claire
a,,,,next week,2024-06-24,,5,x,claire
a,,,,2024-06-03,2024-06-24,,5,,
b,europe,y,,2024-06-05,2024-06-12,100,,store opening,marc
b,europe,y,,2024-06-10,2024-06-30,80,,revised opening,marc
"""


def _validate(tmp_path: Path, text: str = CSV, active: pl.DataFrame | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "plan.csv"
    path.write_text(text)
    return validate_overrides(
        read_table(path), KEYS, FIRST, empty_overrides() if active is None else active, str(path)
    )


def test_every_bad_row_is_refused_with_its_reason(tmp_path: Path) -> None:
    checked = _validate(tmp_path)
    reasons = dict(checked.rejected.select("row_number", "reason").iter_rows())
    assert reasons == {
        2: "unknown key brand=ghost (not in the latest forecast)",
        3: "unknown key brand=a market=japan (not in the latest forecast)",
        4: "period ends 2024-05-27, before the first forecast week 2024-06-03",
        5: "percent_change -150.0 is below -100 %",
        6: "give exactly one of value and percent_change",
        7: "scope skips a level: product needs category, category needs market",
        8: "start 'next week' is not a date",
        9: "empty reason: say why; empty author: say who",
    }
    assert sorted(checked.accepted["override_id"]) == ["plan-1", "plan-10", "plan-11"]


def test_the_later_of_two_overlapping_overrides_wins_and_it_is_recorded(tmp_path: Path) -> None:
    checked = _validate(tmp_path)
    rows = {r["override_id"]: r for r in checked.accepted.iter_rows(named=True)}
    assert rows["plan-10"]["status"] == "superseded"
    assert rows["plan-10"]["status_reason"].startswith("superseded by plan-11")
    assert rows["plan-11"]["status"] == rows["plan-1"]["status"] == "active"
    assert rows["plan-10"]["period_start"] == date(2024, 6, 3)  # the Monday of its week
    # Loaded again, the same file supersedes what it stored the first time.
    active = checked.accepted.filter(pl.col("status") == "active").with_columns(
        created_at=pl.lit(datetime(2024, 6, 1))
    )
    again = _validate(tmp_path, active=active)
    assert sorted(again.superseded["override_id"]) == ["plan-1", "plan-11"]


def test_a_file_without_its_required_columns_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OverrideFileError, match=r"missing column\(s\) \['author'\]"):
        _validate(tmp_path, "brand,start,end,value,reason\na,2024-06-03,2024-06-03,1,x\n")


def _weekly() -> pl.DataFrame:
    """Statistical bottom forecasts of KEYS for two weeks: 10, 30, 60, 0 units."""
    weeks = pl.DataFrame({"ds": [FIRST, FIRST + timedelta(weeks=1)], "step": [1, 2]})
    bottom = KEYS.with_columns(sector=pl.lit("s"), yhat=pl.Series([10.0, 30.0, 60.0, 0.0])).join(
        weeks, how="cross"
    )
    return bottom


def _override(**values: object) -> pl.DataFrame:
    row = {
        "override_id": "o",
        "level": "brand",
        "brand": "a",
        "market": None,
        "category": None,
        "product": None,
        "period_start": FIRST,
        "period_end": FIRST,
        "value": None,
        "percent_change": None,
        "row_number": 1,
        "created_at": datetime(2024, 6, 1),
        "reason": "why",
        "author": "who",
        "status": "active",
        **values,
    }
    return pl.DataFrame([row], schema=empty_overrides().schema)


def test_a_percent_change_scales_every_series_of_the_scope_and_its_weeks_only() -> None:
    out = apply_overrides(_weekly(), _override(percent_change=20.0))
    first = out.filter(pl.col("ds") == FIRST)
    np.testing.assert_allclose(first["final"], [12.0, 36.0, 72.0, 0.0])
    later = out.filter(pl.col("ds") > FIRST)
    np.testing.assert_allclose(later["final"], later["yhat"])
    assert first["overridden"].to_list() == [True, True, True, False]


def test_a_weekly_value_is_shared_in_proportion_or_evenly_when_nothing_is_forecast() -> None:
    out = apply_overrides(_weekly(), _override(level="brand_market", market="europe", value=80.0))
    first = out.filter(pl.col("ds") == FIRST, pl.col("brand") == "a", pl.col("market") == "europe")
    np.testing.assert_allclose(first["final"], [20.0, 60.0])
    zero = apply_overrides(
        _weekly(),
        _override(brand="b", level="brand", value=7.0, period_end=FIRST + timedelta(weeks=1)),
    )
    np.testing.assert_allclose(zero.filter(pl.col("brand") == "b")["final"], [7.0, 7.0])


def test_final_forecasts_stay_coherent_and_leave_the_statistical_forecast_alone() -> None:
    from forecast.planning.hierarchy import to_levels

    bottom = _weekly().with_columns(
        **{
            b: pl.col("yhat") * f
            for b, f in [("lo_80", 0.8), ("hi_80", 1.2), ("lo_95", 0.6), ("hi_95", 1.5)]
        }
    )
    summed, structure = to_levels(bottom, ["yhat", "lo_80", "hi_80", "lo_95", "hi_95"])
    steps = bottom.select("ds", "step").unique()
    weekly = summed.join(structure.keys, on="unique_id").join(steps, on="ds").drop("unique_id")
    weekly = weekly.with_columns(granularity=pl.lit("week"))
    final, applied = final_forecasts(weekly, _override(percent_change=-50.0))
    for granularity in ("week", "month", "quarter"):
        assert_coherent(final.filter(pl.col("granularity") == granularity))
    group = final.filter(pl.col("level") == "group", pl.col("granularity") == "week").sort("ds")
    np.testing.assert_allclose(group["statistical"], [100.0, 100.0])
    np.testing.assert_allclose(group["yhat"], [50.0, 100.0])
    np.testing.assert_allclose(group["lo_80"], [40.0, 80.0])
    assert applied.rows() == [("o", 1, 100.0, 50.0)]
