"""The planner's loop for real: forecast flow → levels → overrides → new actuals → monitoring."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from forecast import warehouse as wh
from forecast.edge.cli import app
from forecast.planning.monitoring import movers
from forecast.vocabulary import LEVELS
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
    state: dict[str, Any] = {"db": db, "configs": configs, "first": first}
    state["latest_before"] = wh.query(db, "SELECT * FROM latest_forecasts ORDER BY ALL")
    plan = root / "plan.csv"
    week = FIRST + timedelta(weeks=1)
    plan.write_text(
        "brand,market,category,product,start,end,value,percent_change,reason,author\n"
        f"wines_a,,,,{week},{week + timedelta(weeks=3)},,20,allocation raised,claire\n"
        f"perfumes_a,europe,,,{week},{week + timedelta(weeks=1)},50,,store opening,marc\n"
    )
    state["override"] = CliRunner().invoke(app, ["override", str(plan), "--warehouse", str(db)])
    state["final_first"] = wh.query(db, "SELECT * FROM final_forecasts")
    state["latest_after"] = wh.query(db, "SELECT * FROM latest_forecasts ORDER BY ALL")
    generate_sales_flow(end=END, start=START, **kwargs)  # one more week of actuals
    state["second"] = forecast_flow(**kwargs)
    return state


def test_forecasts_by_level_sum_exactly_and_are_never_negative(loop: dict[str, Any]) -> None:
    db: Path = loop["db"]
    levels = wh.query(db, "SELECT * FROM level_forecasts WHERE run_id = ?", [loop["first"].run_id])
    assert set(levels["level"]) == set(LEVELS)
    for granularity in ("week", "month", "quarter"):
        assert_coherent(levels.filter(pl.col("granularity") == granularity))
    assert (levels["yhat"] >= 0).all() and (levels["lo_95"] >= 0).all()
    assert levels.select("lo_80", "hi_80", "lo_95", "hi_95").null_count().sum_horizontal()[0] == 0
    bottom = levels.filter(pl.col("level") == "product_market", pl.col("granularity") == "week")
    selected = wh.query(
        db, "SELECT * FROM forecasts WHERE is_selected AND run_id = ?", [loop["first"].run_id]
    )
    assert bottom.height == selected.height
    sectors = levels.filter(pl.col("level") == "sector")
    assert sectors["brand"].is_null().all() and sectors["sector"].is_not_null().all()


def test_the_run_records_its_reconciliation_path_and_level_backtest(loop: dict[str, Any]) -> None:
    db: Path = loop["db"]
    rec = wh.query(db, "SELECT * FROM reconciliations ORDER BY as_of")
    assert rec["run_id"].to_list() == [loop["first"].run_id, loop["second"].run_id]
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


def test_a_brand_override_moves_its_sku_rows_and_leaves_the_statistical_forecast(
    loop: dict[str, Any],
) -> None:
    assert loop["override"].exit_code == 0, loop["override"].output
    assert_frame_equal(loop["latest_before"], loop["latest_after"])
    final = loop["final_first"]
    week = FIRST + timedelta(weeks=1)
    period = pl.col("ds").is_between(week, week + timedelta(weeks=3))
    skus = final.filter(
        pl.col("brand") == "wines_a",
        pl.col("level") == "product_market",
        pl.col("granularity") == "week",
    )
    moved = skus.filter(period)
    np.testing.assert_allclose(moved["yhat"], 1.2 * moved["statistical"])
    assert moved["overridden"].all() and moved.height > 0
    rest = skus.filter(~period)
    np.testing.assert_allclose(rest["yhat"], rest["statistical"])
    store = final.filter(
        pl.col("brand") == "perfumes_a",
        pl.col("market") == "europe",
        pl.col("level") == "brand_market",
        pl.col("granularity") == "week",
        pl.col("ds").is_between(week, week + timedelta(weeks=1)),
    )
    np.testing.assert_allclose(store["yhat"], [50.0, 50.0])
    for granularity in ("week", "month", "quarter"):
        assert_coherent(final.filter(pl.col("granularity") == granularity))
    assert (final["yhat"] >= 0).all()


def test_overrides_carry_forward_to_the_next_run(loop: dict[str, Any]) -> None:
    db: Path = loop["db"]
    applied = wh.query(db, "SELECT * FROM override_applications ORDER BY run_id, override_id")
    second = applied.filter(pl.col("run_id") == loop["second"].run_id)
    assert second["override_id"].to_list() == ["plan-1", "plan-2"]
    # Run two starts a week later: one week of each period has passed.
    first = applied.filter(pl.col("run_id") == loop["first"].run_id)
    assert first["weeks"].to_list() == [4, 2] and second["weeks"].to_list() == [3, 1]
    final = wh.query(db, "SELECT * FROM final_forecasts WHERE level = 'group'")
    assert final["run_id"].unique().to_list() == [loop["second"].run_id]


def test_accuracy_monitor_and_fva_show_figures_once_actuals_arrive(loop: dict[str, Any]) -> None:
    db: Path = loop["db"]
    acc = wh.query(db, "SELECT * FROM accuracy_by_level WHERE run_id = ?", [loop["first"].run_id])
    assert set(acc["level"]) == set(LEVELS)
    assert acc["step"].unique().to_list() == [1] and acc["wape"].is_not_null().all()
    brand = acc.filter(pl.col("level") == "brand")
    assert brand["brand"].n_unique() == brand.height == 6
    signals = wh.query(db, "SELECT * FROM tracking_signals")
    assert signals.height > 0 and (signals["n_weeks"] == 1).all()
    assert (signals["tracking_signal"].abs() <= 1 + 1e-9).all()  # one week: |Σe / MAD| = 1
    out = CliRunner().invoke(app, ["monitor", "--warehouse", str(db)])
    assert out.exit_code == 0 and "brands whose WAPE moved most" in out.output
    frames = wh.monitor_frames(db)
    moved = movers(frames["brand_runs"], frames["backtest"])
    assert moved.height == 6 and moved["wape"].is_not_null().all()
    assert set(moved["compared_with"].drop_nulls()) == {"backtest"}  # one evaluated run so far
    fva = wh.query(db, "SELECT * FROM fva WHERE level = 'brand'")
    assert fva.height == 6 and fva["naive_wape"].is_not_null().all()
    wines = fva.filter(pl.col("brand") == "wines_a").row(0, named=True)
    assert wines["final_wape"] != wines["statistical_wape"]  # the +20 % changed it
    outcomes = wh.query(db, "SELECT * FROM override_outcomes ORDER BY override_id")
    assert outcomes["override_id"].to_list() == ["plan-1", "plan-2"]
    assert outcomes["direction"][0] == "up" and outcomes["size"][0] == "large"
    shares = wh.query(db, "SELECT * FROM fva_overrides")
    assert shares["n_overrides"].sum() == 2


def test_the_flow_publishes_the_monitor_and_charts(loop: dict[str, Any]) -> None:
    from prefect.artifacts import Artifact

    db: Path = loop["db"]
    monitor = Artifact.get("forecast-monitor")
    assert monitor is not None and "Brands whose accuracy moved most" in str(monitor.data)
    chart = Artifact.get("planning-wines-spirits")
    assert chart is not None and "![wines_a fan chart](data:image/png;base64," in str(chart.data)
    pngs = sorted(
        p.name for p in (db.parent / "plots" / loop["second"].run_id / "planning").glob("*.png")
    )
    assert "fan-wines_a.png" in pngs and "fva-watches_jewelry.png" in pngs
    out = CliRunner().invoke(
        app,
        [
            "plot",
            "--level",
            "brand_market",
            "-k",
            "brand=wines_a",
            "-k",
            "market=china",
            "--out",
            str(db.parent / "fan.png"),
            "--warehouse",
            str(db),
        ],
    )
    assert out.exit_code == 0, out.output
    assert (db.parent / "fan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    many = CliRunner().invoke(app, ["plot", "--level", "brand", "--warehouse", str(db)])
    assert many.exit_code == 2 and "6 series match" in many.output


def test_a_bad_override_file_changes_nothing_and_withdrawal_does(loop: dict[str, Any]) -> None:
    db: Path = loop["db"]
    before = wh.query(db, "SELECT * FROM final_forecasts ORDER BY ALL")
    bad = db.parent / "bad.csv"
    bad.write_text(
        "brand,start,end,percent_change,reason,author\n"
        f"wines_a,{END + timedelta(weeks=1)},{END + timedelta(weeks=2)},10,fine,claire\n"
        f"wines_a,{END + timedelta(weeks=1)},{END + timedelta(weeks=2)},-120,too much,claire\n"
    )
    out = CliRunner().invoke(app, ["override", str(bad), "--warehouse", str(db)])
    assert out.exit_code == 1 and "row 2: percent_change -120.0 is below -100 %" in out.output
    assert_frame_equal(before, wh.query(db, "SELECT * FROM final_forecasts ORDER BY ALL"))
    assert wh.query(db, "SELECT count(*) AS n FROM overrides")["n"][0] == 2
    out = CliRunner().invoke(app, ["override", "--withdraw", "plan-1", "--warehouse", str(db)])
    assert out.exit_code == 0 and "withdrawn: plan-1" in out.output
    wines = wh.query(
        db,
        "SELECT sum(yhat) AS final, sum(statistical) AS stat FROM final_forecasts "
        "WHERE brand = 'wines_a' AND level = 'brand' AND granularity = 'week'",
    ).row(0)
    assert wines[0] == pytest.approx(wines[1])  # only plan-1 touched wines_a
