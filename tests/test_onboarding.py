"""The onboarding example end to end: a monthly brand in FR, AE and CN, its sales and its
events file through the real ingest and forecast flows and the ingest-events command."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from forecast import warehouse as wh
from forecast.inputs.files import IngestError

pytestmark = pytest.mark.flow

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "onboarding"
LAST_WEEK = date(2026, 5, 25)  # the Monday of the example's last sales month's last week
PROMOTION = date(2026, 9, 1)  # events.csv plans the September 2026 promotion in France
WEEKLY_BRAND = 'name = "Weekly"\nsector = "perfumes_cosmetics"\nmarkets = ["FR"]\n' + (
    "launch_date = 2021-01-04\n"
)
BAD_SALES = (
    "brand,market,product,ds,units\n"
    "maison_soleil,FR,candle,2026-04-15,3\n"  # mid-month in a monthly brand
    "maison_soleil,XX,candle,2026-04-01,3\n"  # no such country
    "maison_soleil,JP,candle,2026-04-01,3\n"  # a country the brand does not sell in
    "weekly,FR,candle,2026-01-01,3\n"  # monthly data for a weekly brand
    "weekly,FR,candle,2026-02-01,3\n"
    "weekly,FR,candle,2026-03-01,3\n"
)
BAD_EVENTS = (
    "brand,market,product,start,end,type\n"
    "maison_soleil,FR,,2026-10-10,2026-10-01,promotion\n"  # ends before it starts
    "ghost,FR,,2026-10-01,2026-10-10,promotion\n"  # unknown brand
    "maison_soleil,FR,lipstick,2026-10-01,2026-10-10,launch\n"  # unknown product
)


def _weekly_sales() -> pl.DataFrame:
    """Two years of a weekly brand's two products in France, up to the example's last month."""
    rng = np.random.default_rng(2)
    weeks = [LAST_WEEK - timedelta(weeks=k) for k in range(103, -1, -1)]
    season = np.exp(0.3 * np.sin(2 * np.pi * np.arange(len(weeks)) / 52))
    return pl.concat(
        pl.DataFrame({"brand": "weekly", "market": "FR", "product": p, "ds": weeks}).with_columns(
            units=pl.Series(rng.poisson(40 * season).astype(float))
        )
        for p in ("w1", "w2")
    )


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None):  # type: ignore[no-untyped-def]
    from flows.forecast import forecast_flow
    from flows.ingest import ingest_flow
    from forecast.edge.cli import app

    root = tmp_path_factory.mktemp("onboarding")
    configs = root / "brands"
    shutil.copytree(EXAMPLE / "brands", configs)
    (configs / "weekly.toml").write_text(WEEKLY_BRAND)
    db = root / "forecast.duckdb"
    kwargs = {"warehouse_path": str(db), "config_dir": str(configs)}
    ingested = ingest_flow(path=str(EXAMPLE / "sales.csv"), **kwargs)
    _weekly_sales().write_csv(root / "weekly.csv")
    ingest_flow(path=str(root / "weekly.csv"), **kwargs)
    where = ["--warehouse", str(db), "--config-dir", str(configs)]
    result = CliRunner().invoke(app, ["ingest-events", str(EXAMPLE / "events.csv"), *where])
    assert result.exit_code == 0, result.output
    summary = forecast_flow(**kwargs)  # the weekly and the monthly brand in one run
    return db, ingested, summary, root, configs


def test_the_monthly_brand_is_ingested_and_forecast_in_months(onboarded) -> None:  # type: ignore[no-untyped-def]
    db, ingested, summary, _, _ = onboarded
    assert ingested["rejected"] == 0 and summary.status == "succeeded"
    fc = wh.query(
        db,
        "SELECT * FROM latest_forecasts WHERE is_selected AND brand = 'maison_soleil' "
        "ORDER BY unique_id, ds",
    )
    assert sorted(fc["market"].unique().to_list()) == ["AE", "CN", "FR"]
    assert fc["ds"].dt.day().unique().to_list() == [1]  # month starts
    assert fc.group_by("unique_id").len()["len"].unique().to_list() == [12]
    assert (fc["region"] == fc["market"]).all()  # the earlier name is still readable


def test_the_planned_promotion_lifts_its_month_and_is_named(onboarded) -> None:  # type: ignore[no-untyped-def]
    db, _, _, _, _ = onboarded
    fc = wh.query(
        db, "SELECT * FROM latest_forecasts WHERE is_selected AND brand = 'maison_soleil'"
    )
    around = [date(2026, 8, 1), PROMOTION, date(2026, 10, 1)]
    months = (
        fc.filter(pl.col("ds").is_in(around))
        .group_by("market", "ds")
        .agg(pl.col("yhat").sum(), pl.col("events").first())
        .sort("market", "ds")
    )

    def lift(market: str) -> float:
        y = months.filter(pl.col("market") == market)["yhat"].to_list()
        return y[1] / ((y[0] + y[2]) / 2)

    fr = months.filter(pl.col("market") == "FR", pl.col("ds") == PROMOTION).row(0, named=True)
    assert "promotion:rentree_2026" in fr["events"]
    others = months.filter(pl.col("market") != "FR", pl.col("ds") == PROMOTION)["events"]
    assert all(e is None or "promotion" not in e for e in others.to_list())
    assert lift("FR") > 1.25  # the brand ran +40 % promotions every September
    assert lift("FR") > lift("AE") + 0.2 and lift("FR") > lift("CN") + 0.2


def test_past_promotions_are_learned_as_an_uplift_of_their_type(onboarded) -> None:  # type: ignore[no-untyped-def]
    db, _, summary, _, _ = onboarded
    rows = wh.query(
        db,
        "SELECT own, shrunk, frequency FROM priors WHERE run_id = ? AND level = 'brand' "
        "AND brand = 'maison_soleil' AND kind = 'event' AND key = 'promotion'",
        [summary.run_id],
    )
    assert rows["frequency"].to_list() == ["monthly"]
    assert 0.2 < rows["own"][0] < 0.6  # log1p(0.4) ≈ 0.34 simulated


def test_bad_sales_rows_are_refused_with_file_row_and_reason(onboarded) -> None:  # type: ignore[no-untyped-def]
    from flows.ingest import ingest_flow

    db, _, _, root, configs = onboarded
    bad = root / "bad_sales.csv"
    bad.write_text(BAD_SALES)
    with pytest.raises(IngestError, match=r"bad_sales.csv: no row could be loaded, all 6 refused"):
        ingest_flow(path=str(bad), warehouse_path=str(db), config_dir=str(configs))
    refused = wh.query(
        db, "SELECT source, row_number, reason FROM rejected_sales WHERE source = ?", [str(bad)]
    ).sort("row_number")
    iso = "is not an ISO 3166-1 alpha-2 country code or ISO 3166-2 subdivision"
    monthly = (
        "brand 'weekly' is weekly but all its dates in this file are first days of months "
        '(monthly data?): set frequency = "monthly" in its config, or send weeks dated by '
        "their Monday"
    )
    assert refused.select("row_number", "reason").rows() == [
        (
            1,
            "ds 2026-04-15 is not the first day of a month (brand 'maison_soleil' is monthly: "
            "a month is dated by its first day)",
        ),
        (2, f"market 'XX' {iso}, nor a group or market of markets.toml"),
        (3, "market 'JP' is not one of brand 'maison_soleil' markets (FR, AE, CN)"),
        (4, monthly),
        (5, monthly),
        (6, monthly),
    ]


def test_bad_event_rows_are_refused_with_file_row_and_reason(onboarded) -> None:  # type: ignore[no-untyped-def]
    from forecast.edge.cli import app

    db, _, _, root, configs = onboarded
    bad = root / "bad_events.csv"
    bad.write_text(BAD_EVENTS)
    out = CliRunner().invoke(
        app, ["ingest-events", str(bad), "--warehouse", str(db), "--config-dir", str(configs)]
    )
    assert out.exit_code == 1 and "3 refused" in out.output
    refused = wh.query(
        db, "SELECT row_number, reason FROM rejected_events WHERE source = ?", [str(bad)]
    ).sort("row_number")
    assert refused.rows() == [
        (1, "end 2026-10-01 is before start 2026-10-10"),
        (2, "unknown brand 'ghost'"),
        (
            3,
            "product 'lipstick' is not a product of brand 'maison_soleil' (no sales and no "
            "product master row)",
        ),
    ]


def test_weekly_and_monthly_brands_share_a_run_but_never_a_pool(onboarded) -> None:  # type: ignore[no-untyped-def]
    db, _, summary, _, _ = onboarded
    weekly = wh.query(
        db, "SELECT * FROM latest_forecasts WHERE is_selected AND brand = 'weekly' ORDER BY ds"
    )
    assert weekly["ds"].dt.weekday().unique().to_list() == [1]  # Mondays
    assert weekly["ds"].min() == LAST_WEEK + timedelta(weeks=1) and weekly.height == 2 * 13
    pools = wh.query(
        db,
        "SELECT DISTINCT level, brand, frequency FROM priors WHERE run_id = ? "
        "AND level IN ('brand', 'sector') AND pool = 'perfumes_cosmetics'",
        [summary.run_id],
    )
    brands = dict(pools.filter(pl.col("level") == "brand").select("brand", "frequency").rows())
    assert brands == {"maison_soleil": "monthly", "weekly": "weekly"}
    assert sorted(pools.filter(pl.col("level") == "sector")["frequency"]) == ["monthly", "weekly"]
