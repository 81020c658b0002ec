"""The demo's simulated planner: informed overrides close the gap, biased ones add optimism."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from forecast.inputs.config import load_brands
from forecast.planning.value_added import expected_brand_demand, simulate_planner
from tests.conftest import write_brands


def test_planner_overrides_follow_their_kind() -> None:
    weeks = [date(2024, 6, 3) + timedelta(weeks=i) for i in range(6)]
    brands = [f"b{i}" for i in range(40)]
    stat = pl.DataFrame({"brand": brands}).join(pl.DataFrame({"ds": weeks}), how="cross")
    stat = stat.with_columns(yhat=pl.lit(100.0))
    expected = stat.select("brand", "ds", mu=pl.lit(130.0))  # every forecast 30 % too low
    plan = simulate_planner(stat, expected, seed=1)
    percent = plan["percent_change"].cast(pl.Float64)
    informed = plan.filter(pl.col("reason").str.contains("knows"))
    biased = plan.filter(pl.col("reason").str.contains("optimistic"))
    assert informed.height > 0 and biased.height > 0 and plan.height < 40
    assert (informed["percent_change"].cast(pl.Float64) == 24.0).all()  # 80 % of the 30 % gap
    assert percent.filter(plan["reason"].str.contains("optimistic")).is_between(10, 15).all()
    assert set(plan["start"]) == {"2024-06-03"} and set(plan["end"]) == {"2024-06-24"}
    assert set(plan["author"]) == {"demo-planner"}
    assert plan.equals(simulate_planner(stat, expected, seed=1))  # seeded


def test_expected_demand_sums_the_generator_truth_per_brand(tmp_path) -> None:  # type: ignore[no-untyped-def]
    brands = load_brands(write_brands(tmp_path / "brands"))
    mine = {b: brands[b] for b in ("wines_a", "watches_a")}
    out = expected_brand_demand(mine, date(2024, 1, 1), date(2024, 3, 25))
    assert sorted(out["brand"].unique()) == ["watches_a", "wines_a"]
    assert out.height == 2 * 13 and (out["mu"] > 0).all()
