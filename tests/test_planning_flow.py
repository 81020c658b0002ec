"""The planner's loop for real: forecast flow → levels → overrides → new actuals → monitoring."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from forecast import warehouse as wh
from tests.conftest import END, START, write_brands
from tests.test_hierarchy import assert_coherent

pytestmark = pytest.mark.flow
FIRST = END - timedelta(weeks=1)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> dict[str, Any]:
    """Sales up to FIRST, a run; then sales up to END (one more week) and a second run."""
    from flows.forecast import forecast_flow
    from flows.generate import generate_sales_flow

    root = tmp_path_factory.mktemp("planning")
    configs = write_brands(root / "brands")
    db = root / "forecast.duckdb"
    kwargs = {"warehouse_path": str(db), "config_dir": str(configs)}
    generate_sales_flow(end=FIRST, start=START, **kwargs)
    first = forecast_flow(**kwargs)
    return {"db": db, "configs": configs, "first": first}


def test_forecasts_by_level_sum_exactly_and_are_never_negative(loop: dict[str, Any]) -> None:
    db: Path = loop["db"]
    levels = wh.query(db, "SELECT * FROM forecasts_by_level")
    assert set(levels["level"]) == {
        "group",
        "sector",
        "brand",
        "brand_market",
        "category_market",
        "product_market",
    }
    for granularity in ("week", "month", "quarter"):
        assert_coherent(levels.filter(pl.col("granularity") == granularity))
    assert (levels["yhat"] >= 0).all() and (levels["lo_95"] >= 0).all()
    assert levels.select("lo_80", "hi_80", "lo_95", "hi_95").null_count().sum_horizontal()[0] == 0
    bottom = levels.filter(pl.col("level") == "product_market", pl.col("granularity") == "week")
    selected = wh.query(db, "SELECT * FROM latest_forecasts WHERE is_selected")
    assert bottom.height == selected.height
    sectors = levels.filter(pl.col("level") == "sector")
    assert sectors["brand"].is_null().all() and sectors["sector"].is_not_null().all()


def test_the_run_records_its_reconciliation_path_and_level_backtest(loop: dict[str, Any]) -> None:
    db: Path = loop["db"]
    rec = wh.query(db, "SELECT * FROM reconciliations")
    assert rec.height == 1 and rec["run_id"][0] == loop["first"].run_id
    assert rec["path"][0] in (
        "mint_shrink",
        "mint_shrink+clip",
        "wls_var",
        "wls_var+clip",
        "bottom_up",
    )
    assert rec["reason"][0]
    bt = wh.query(db, "SELECT * FROM level_backtest_metrics")
    assert set(bt["method"]) >= {"base", "bottom_up"}
    assert (
        bt.group_by("method").agg(pl.col("level").n_unique())["level"].to_list()
        == [6] * bt["method"].n_unique()
    )
    hierarchy = wh.query(db, "SELECT DISTINCT category_source FROM series_hierarchy")
    assert hierarchy["category_source"].to_list() == ["master"]  # the generator wrote one
