"""Real Prefect flow runs against a temporary DuckDB file."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from forecast import warehouse as wh
from forecast.inputs.config import ConfigError
from forecast.inputs.files import IngestError
from tests.conftest import END, START, brand_toml, write_brands

pytestmark = pytest.mark.flow


@pytest.fixture(scope="module")
def demo_db(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None
) -> tuple[Path, Path, dict]:  # type: ignore[type-arg]
    from flows.forecast import forecast_flow
    from flows.generate import generate_sales_flow

    root = tmp_path_factory.mktemp("flows")
    configs = write_brands(root / "brands")
    (configs / "ghost_c.toml").write_text(brand_toml("ghost_c", "watches_jewelry"))
    db = root / "forecast.duckdb"
    brands = [p.stem for p in configs.glob("*.toml") if p.stem != "ghost_c"]  # ghost_c never sells
    generate_sales_flow(
        end=END, start=START, brands=brands, warehouse_path=str(db), config_dir=str(configs)
    )
    # Brands fitted in two worker processes: every check below reads what came back.
    summary = forecast_flow(warehouse_path=str(db), config_dir=str(configs), n_jobs=2)
    return db, configs, summary


def test_forecast_run_publishes_every_sector(demo_db) -> None:  # type: ignore[no-untyped-def]
    db, _, summary = demo_db
    assert summary.status == "partial" and summary.failed == ["ghost_c"]
    sectors = wh.query(
        db, "SELECT sector, count(DISTINCT brand) AS n FROM latest_forecasts GROUP BY 1"
    )
    assert sectors.height == 5
    fc = wh.query(db, "SELECT * FROM latest_forecasts")
    assert (fc["yhat"] >= 0).all() and (fc["lo_95"] >= 0).all()
    assert fc.select("unique_id", "step", "model").is_unique().all()
    n_series = fc["unique_id"].n_unique()
    assert fc.filter(pl.col("is_selected")).height == n_series * 13
    assert summary.rows["forecasts"] == fc.height


def test_failed_brand_is_recorded_and_others_finish(demo_db) -> None:  # type: ignore[no-untyped-def]
    db, _, summary = demo_db
    rows = wh.query(
        db, "SELECT brand, status, error FROM run_brands WHERE run_id = ?", [summary.run_id]
    )
    failed = rows.filter(pl.col("status") == "failed")
    assert failed["brand"].to_list() == ["ghost_c"]
    assert "no active series" in failed["error"][0]
    assert rows.filter(pl.col("status") == "succeeded").height == 6
    run = wh.query(
        db, "SELECT status, message, n_series, config_hash, package_versions FROM forecast_runs"
    )
    assert run["status"].to_list() == ["partial"] and "ghost_c" in run["message"][0]
    assert "statsforecast" in run["package_versions"][0]


def test_priors_and_metrics_are_published(demo_db) -> None:  # type: ignore[no-untyped-def]
    db, _, _ = demo_db
    borrowing = dict(
        wh.query(
            db, "SELECT brand, own_weight FROM brand_borrowing WHERE kind = 'season'"
        ).iter_rows()
    )
    assert borrowing["young_b"] == 0.0 and 0 < borrowing["perfumes_a"] <= 1
    levels = set(wh.query(db, "SELECT DISTINCT level FROM priors")["level"])
    assert levels == {"group", "sector", "brand"}
    assert (
        wh.query(db, "SELECT count(*) AS n FROM priors WHERE isnan(shrunk) OR shrunk IS NULL")["n"][
            0
        ]
        == 0
    )
    acc = wh.query(db, "SELECT * FROM accuracy_by_sector WHERE model = 'selected'")
    assert acc.height == 5 and acc["mase"].is_not_null().all()


def test_accuracy_views_count_each_backtest_point_once(demo_db) -> None:  # type: ignore[no-untyped-def]
    db, _, _ = demo_db
    sector = wh.query(db, "SELECT * FROM accuracy_by_sector WHERE sector = 'selective_retailing'")
    points = dict(sector.select("model", "n_points").iter_rows())
    # The baseline and "each series' chosen model" are scored on every backtest point once.
    rows = wh.query(
        db,
        "SELECT m.* FROM backtest_metrics m JOIN latest_brand_runs USING (run_id, brand) "
        "WHERE m.sector = 'selective_retailing' AND m.model = 'selected'",
    )
    assert points["snaive"] == points["selected"] == rows["n_points"].sum()
    by_hand = (rows["mase"] * rows["n_series"]).sum() / rows["n_series"].sum()
    wape = (rows["wape"] * rows["sum_actual"]).sum() / rows["sum_actual"].sum()
    got = sector.filter(pl.col("model") == "selected").row(0, named=True)
    assert got["mase"] == pytest.approx(by_hand) and got["wape"] == pytest.approx(wape)
    brand = wh.query(db, "SELECT * FROM accuracy_by_brand WHERE model = 'snaive'")
    assert brand["brand"].is_unique().all()


def test_rerun_replaces_and_as_of_replays(demo_db) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from flows.forecast import forecast_flow

    db, configs, _first = demo_db
    again = forecast_flow(warehouse_path=str(db), config_dir=str(configs), brands=["wines_a"])
    past = forecast_flow(
        as_of=date(2024, 10, 2),  # a Wednesday: the run is that week's, 2024-09-30
        warehouse_path=str(db),
        config_dir=str(configs),
        brands=["wines_a", "young_b"],  # young_b launches on 2024-10-21
    )
    assert past.run_id.startswith("2024-09-30") and past.status == "succeeded"
    skipped = wh.query(db, "SELECT brand, error FROM run_brands WHERE status = 'skipped'")
    assert skipped.rows() == [("young_b", "launches 2024-10-21, after 2024-09-30")]
    runs = wh.query(db, "SELECT run_id, status FROM forecast_runs")
    assert runs["run_id"].n_unique() == runs.height == 3
    # Re-running exactly the same run key replaces it instead of duplicating.
    forecast_flow(warehouse_path=str(db), config_dir=str(configs), brands=["wines_a"])
    assert wh.query(db, "SELECT count(*) AS n FROM forecast_runs")["n"][0] == 3
    count = wh.query(db, "SELECT count(*) AS n FROM forecasts WHERE run_id = ?", [again.run_id])[
        "n"
    ][0]
    assert count == again.rows["forecasts"]
    max_ds = wh.query(db, "SELECT max(ds) AS d FROM forecasts WHERE run_id = ?", [past.run_id])[
        "d"
    ][0]
    assert max_ds == date(2024, 12, 30)  # 13 weeks after the as-of week, nothing later used


def test_invalid_config_stops_before_any_write(tmp_path: Path, prefect_harness: None) -> None:
    from flows.forecast import forecast_flow

    configs = write_brands(tmp_path / "brands")
    (configs / "broken.toml").write_text(brand_toml("broken", "wines_spirits", horizon=-1))
    db = tmp_path / "forecast.duckdb"
    with pytest.raises(ConfigError, match=r"broken\.toml: key 'horizon'"):
        forecast_flow(warehouse_path=str(db), config_dir=str(configs))
    assert not db.exists()


def test_each_sector_gets_a_profile_plot(demo_db) -> None:  # type: ignore[no-untyped-def]
    db, _, summary = demo_db
    plots = sorted((db.parent / "plots" / summary.run_id).glob("*.png"))
    assert [p.stem for p in plots] == sorted(
        [
            "fashion_leather",
            "perfumes_cosmetics",
            "selective_retailing",
            "watches_jewelry",
            "wines_spirits",
        ]
    )
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)
    from prefect.artifacts import Artifact

    artifact = Artifact.get("priors-wines-spirits")
    assert artifact is not None and "![wines_spirits profiles](data:image/png;base64," in str(
        artifact.data
    )
    summary_artifact = Artifact.get("forecast-run-summary")  # the latest run's
    assert summary_artifact is not None
    assert "| brand | sector | status | series | rows |" in str(summary_artifact.data)


def test_ingest_flow_is_idempotent_and_incremental(tmp_path: Path, prefect_harness: None) -> None:
    from flows.ingest import ingest_flow

    configs = write_brands(tmp_path / "brands")
    db = tmp_path / "forecast.duckdb"
    first = tmp_path / "week1.csv"
    first.write_text(
        "brand,region,product,ds,units\n"
        "wines_a,europe,c1,2024-06-03,5\nwines_a,europe,c1,2024-06-04,5\nghost,europe,c1,2024-06-03,1\n"
    )
    kwargs = {"warehouse_path": str(db), "config_dir": str(configs)}
    one = ingest_flow(path=str(first), **kwargs)
    assert (one["inserted"], one["rejected"]) == (1, 2)
    again = ingest_flow(path=str(first), **kwargs)
    assert (again["inserted"], again["unchanged"], again["rejected"]) == (0, 1, 2)
    second = tmp_path / "week2.csv"
    second.write_text("brand,region,product,ds,units\nwines_a,europe,c1,2024-06-10,7\n")
    assert ingest_flow(path=str(second), **kwargs)["inserted"] == 1
    assert wh.query(db, "SELECT count(*) AS n FROM sales")["n"][0] == 2
    refused = wh.query(db, "SELECT row_number, reason FROM rejected_sales ORDER BY row_number")
    assert refused["row_number"].to_list() == [2, 3]

    bad = tmp_path / "bad.csv"
    bad.write_text("brand,region,product,ds,units\nghost,europe,c1,2024-06-03,1\n")
    with pytest.raises(IngestError, match="no row could be loaded"):
        ingest_flow(path=str(bad), **kwargs)
    assert (
        wh.query(db, "SELECT count(*) AS n FROM rejected_sales WHERE source = ?", [str(bad)])["n"][
            0
        ]
        == 1
    )
