"""DuckDB warehouse: schema, atomic publishing, idempotent runs, what analysts can see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from forecast import warehouse as wh
from tests.conftest import ensure_schema, replace_sales

AS_OF = date(2024, 6, 3)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "wh" / "forecast.duckdb"
    ensure_schema(path)
    return path


def _sales(units: float = 1.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "brand": ["a", "a", "b"],
            "market": "europe",
            "product": "p",
            "ds": [date(2024, 5, 27), AS_OF, AS_OF],
            "units": units,
        }
    )


def _run(run_id: str, brands: list[str]) -> dict[str, object]:
    return {
        "run_id": run_id,
        "flow_run_id": "",
        "as_of": AS_OF,
        "brands": brands,
        "config_hash": "h",
        "parameters": json.dumps({}),
        "package_versions": json.dumps({}),
    }


def _forecast(brand: str, yhat: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unique_id": f"{brand}/europe/p",
            "sector": "wines_spirits",
            "brand": brand,
            "market": "europe",
            "product": "p",
            "ds": [date(2024, 6, 10)],
            "step": pl.Series([1], dtype=pl.Int16),
            "model": "ets",
            "is_selected": True,
            "demand_class": "smooth",
            "history_weeks": pl.Series([52], dtype=pl.Int16),
            "yhat": yhat,
            "lo_80": yhat,
            "hi_80": yhat,
            "lo_95": yhat,
            "hi_95": yhat,
        }
    )


def _brand_row(brand: str, status: str = "succeeded") -> pl.DataFrame:
    return pl.DataFrame(
        {"brand": [brand], "sector": ["wines_spirits"], "status": [status], "config_hash": ["h"]}
    )


def _stage_attempt(db: Path, run_id: str, yhat: float, statuses: dict[str, str]) -> wh.Attempt:
    attempt = wh.open_run(db, _run(run_id, list(statuses)))
    for brand, status in statuses.items():
        if status == "succeeded":
            wh.stage(db, attempt.attempt_id, "forecasts", brand, _forecast(brand, yhat))
    rows = pl.concat([_brand_row(b, s) for b, s in statuses.items()])
    wh.stage(db, attempt.attempt_id, "run_brands", "all", rows)
    return attempt


def _complete(
    db: Path, run_id: str, yhat: float, statuses: dict[str, str], run_status: str
) -> None:
    attempt = _stage_attempt(db, run_id, yhat, statuses)
    wh.finish_run(db, attempt.attempt_id, run_status, {"n_series": len(statuses)})


def test_schema_has_every_documented_table_and_view(db: Path) -> None:
    names = set(wh.query(db, "SELECT table_name FROM information_schema.tables")["table_name"])
    expected = {
        "sales",
        "sales_truth",
        "rejected_sales",
        "forecast_runs",
        "run_brands",
        "forecasts",
        "priors",
        "prior_weights",
        "backtest_metrics",
        "latest_forecasts",
        "accuracy_by_brand",
        "accuracy_by_sector",
        "forecast_vs_actual",
        "brand_borrowing",
        "latest_brand_runs",
    }
    assert expected <= names
    assert wh.query(db, "SELECT max(version) AS v FROM schema_version")["v"][0] == wh.SCHEMA_VERSION
    readme = (Path(__file__).resolve().parents[1] / "warehouse" / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in expected), "every table and view is documented"


def test_sales_replace_per_brand_and_read_as_of(db: Path) -> None:
    replace_sales(db, _sales(), None, "test")
    replace_sales(
        db, _sales(2.0).filter(pl.col("brand") == "a"), None, "test"
    )  # same again: replaces
    assert wh.query(db, "SELECT count(*) AS n FROM sales")["n"][0] == 3
    a = wh.read_sales(db, ["a"], date(2024, 5, 30))
    assert a["units"].to_list() == [2.0] and a["ds"].to_list() == [date(2024, 5, 27)]
    assert wh.as_of_default(db) == AS_OF


def test_failed_publish_leaves_previous_state(db: Path) -> None:
    replace_sales(db, _sales(), None, "test")
    before = db.read_bytes()
    with pytest.raises(RuntimeError), wh.publish(db) as con:
        con.execute("DELETE FROM sales")
        raise RuntimeError("crash mid-write")
    assert db.read_bytes() == before
    assert not list(db.parent.glob("*.tmp"))


def test_running_and_failed_runs_are_never_visible(db: Path) -> None:
    attempt = wh.open_run(db, _run("r1", ["a"]))
    wh.stage(db, attempt.attempt_id, "forecasts", "a", _forecast("a", 5.0))
    assert wh.query(db, "SELECT count(*) AS n FROM latest_forecasts")["n"][0] == 0  # still running
    assert wh.query(db, "SELECT count(*) AS n FROM forecasts")["n"][0] == 0  # staged, not published
    wh.stage(db, attempt.attempt_id, "run_brands", "all", _brand_row("a"))
    wh.finish_run(db, attempt.attempt_id, "succeeded", {"n_series": 1})
    assert wh.query(db, "SELECT yhat FROM latest_forecasts")["yhat"].to_list() == [5.0]
    _complete(db, "r2", 9.0, {"a": "succeeded"}, "failed")
    assert wh.query(db, "SELECT yhat FROM latest_forecasts")["yhat"].to_list() == [5.0]


def test_partial_run_shows_brands_that_succeeded(db: Path) -> None:
    _complete(db, "r1", 1.0, {"a": "succeeded", "b": "succeeded"}, "succeeded")
    _complete(db, "r2", 2.0, {"a": "succeeded", "b": "failed"}, "partial")
    latest = dict(
        wh.query(db, "SELECT brand, yhat FROM latest_forecasts ORDER BY brand").iter_rows()
    )
    assert latest == {"a": 2.0, "b": 1.0}


def test_rerunning_a_run_id_replaces_it(db: Path) -> None:
    _complete(db, "r1", 1.0, {"a": "succeeded"}, "succeeded")
    _complete(db, "r1", 3.0, {"a": "succeeded"}, "succeeded")
    assert wh.query(db, "SELECT count(*) AS n FROM forecast_runs")["n"][0] == 1
    assert wh.query(db, "SELECT yhat FROM forecasts")["yhat"].to_list() == [3.0]


def test_dead_running_run_is_marked_abandoned(db: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    ghost = _stage_attempt(db, "ghost", 1.0, {"a": "succeeded"})
    with wh.publish(db) as con:
        con.execute("UPDATE forecast_runs SET pid = ? WHERE run_id = 'ghost'", [int(dead.stdout)])
    assert wh.open_run(db, _run("next", ["a"])).abandoned == 1
    status = dict(wh.query(db, "SELECT run_id, status FROM forecast_runs").iter_rows())
    assert status == {"ghost": "abandoned", "next": "running"}
    assert not wh.staging_dir(db, ghost.attempt_id).exists(), "its staged results are dropped"


def test_a_rerun_changes_nothing_visible_until_it_publishes(db: Path) -> None:
    _complete(db, "r1", 1.0, {"a": "succeeded"}, "succeeded")
    rerun = _stage_attempt(db, "r1", 2.0, {"a": "succeeded"})
    assert wh.query(db, "SELECT yhat FROM latest_forecasts")["yhat"].to_list() == [1.0]
    wh.finish_run(db, rerun.attempt_id, "succeeded", {"n_series": 1})
    assert wh.query(db, "SELECT yhat FROM latest_forecasts")["yhat"].to_list() == [2.0]
    runs = wh.query(db, "SELECT attempt_id, status FROM forecast_runs")
    assert runs.rows() == [(rerun.attempt_id, "succeeded")]


def test_a_failed_rerun_keeps_the_published_results(db: Path) -> None:
    _complete(db, "r1", 1.0, {"a": "succeeded"}, "succeeded")
    _complete(db, "r1", 2.0, {"a": "failed"}, "failed")
    assert wh.query(db, "SELECT yhat FROM latest_forecasts")["yhat"].to_list() == [1.0]
    status = wh.query(db, "SELECT status FROM forecast_runs ORDER BY started_at")["status"]
    assert status.to_list() == ["succeeded", "failed"]


def test_a_second_live_attempt_at_one_run_key_is_refused(db: Path) -> None:
    _complete(db, "r1", 1.0, {"a": "succeeded"}, "succeeded")
    first = wh.open_run(db, _run("r1", ["a"]))
    with pytest.raises(wh.RunInProgress, match=r"run r1 is already running \(pid \d+ on "):
        wh.open_run(db, _run("r1", ["a"]))
    assert wh.open_run(db, _run("r2", ["a"])).run_id == "r2"  # another key runs beside it
    wh.finish_run(db, first.attempt_id, "failed", {})
    assert wh.open_run(db, _run("r1", ["a"])).run_id == "r1"  # free again once it ended
    assert wh.query(db, "SELECT yhat FROM latest_forecasts")["yhat"].to_list() == [1.0]


def test_a_v1_warehouse_is_upgraded_in_place(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    schema = (Path(__file__).resolve().parents[1] / "warehouse" / "schema.sql").read_text()
    con.execute(schema.split("-- v1 → v2")[0].replace("    attempt_id       VARCHAR,", ""))
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.execute(
        "INSERT INTO forecast_runs (run_id, as_of, status, started_at, brands, config_hash) "
        "VALUES ('old', '2024-06-03', 'succeeded', now(), ['a'], 'h')"
    )
    con.close()
    ensure_schema(path)
    runs = wh.query(path, "SELECT run_id, attempt_id FROM forecast_runs")
    assert runs.rows() == [("old", "old")]
    version = wh.query(path, "SELECT max(version) AS v FROM schema_version")["v"][0]
    assert version == wh.SCHEMA_VERSION


_V2_TABLES = """
CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL);
INSERT INTO schema_version VALUES (2, now());
CREATE TABLE sales (brand VARCHAR NOT NULL, region VARCHAR NOT NULL, product VARCHAR NOT NULL,
    ds DATE NOT NULL, units DOUBLE NOT NULL, price DOUBLE, promo BOOLEAN,
    source VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL);
INSERT INTO sales VALUES ('a', 'europe', 'p', '2024-06-03', 5, NULL, NULL, 'old.csv', now());
CREATE TABLE series_hierarchy (run_id VARCHAR NOT NULL, brand VARCHAR NOT NULL,
    region VARCHAR NOT NULL, product VARCHAR NOT NULL, sector VARCHAR NOT NULL,
    market VARCHAR NOT NULL, category VARCHAR NOT NULL, category_source VARCHAR NOT NULL);
INSERT INTO series_hierarchy VALUES ('r', 'a', 'europe', 'p', 's', 'europe', 'c', 'master');
"""


def test_a_v2_warehouse_has_markets_and_analysts_still_read_region(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "v2.duckdb"
    con = duckdb.connect(str(path))
    con.execute(_V2_TABLES)
    con.close()
    ensure_schema(path)
    sales = wh.query(path, "SELECT brand, market, product, units FROM sales")
    assert sales.rows() == [("a", "europe", "p", 5.0)]  # renamed in place, nothing lost
    columns = wh.query(path, "SELECT * FROM series_hierarchy").columns
    assert "region" not in columns and "market" in columns
    for view in ("latest_forecasts", "forecast_vs_actual", "current_hierarchy"):
        assert {"market", "region"} <= set(wh.query(path, f"SELECT * FROM {view}").columns)
    assert wh.query(path, "SELECT max(version) AS v FROM schema_version")["v"][0] == 3


def test_open_reader_keeps_its_snapshot_while_a_writer_publishes(db: Path) -> None:
    replace_sales(db, _sales(), None, "test")
    with wh.reader(db) as old:
        replace_sales(db, _sales(7.0), None, "test")
        assert old.execute("SELECT max(units) FROM sales").fetchone() == (1.0,)
    assert wh.query(db, "SELECT max(units) AS u FROM sales")["u"][0] == 7.0


def test_errors_name_the_file(tmp_path: Path, db: Path) -> None:
    with pytest.raises(wh.WarehouseError, match="no warehouse yet"):
        wh.query(tmp_path / "missing.duckdb", "SELECT 1")
    with pytest.raises(wh.WarehouseError, match=str(db)):
        wh.query(db, "SELECT nope FROM sales")
    with pytest.raises(wh.WarehouseError, match="unknown result table"):
        wh.stage(db, "r", "sales; DROP TABLE sales", "a", pl.DataFrame())


def test_writer_lock_file_is_separate(db: Path) -> None:
    assert Path(f"{db}.lock").exists() and os.path.getsize(db) > 0


def test_upsert_is_idempotent_and_incremental(db: Path) -> None:
    rows = _sales().with_columns(price=pl.lit(None, pl.Float64), promo=pl.lit(None, pl.Boolean))
    refused = pl.DataFrame(
        {
            "row_number": [4],
            "brand": ["x"],
            "market": ["europe"],
            "product": ["p"],
            "ds": ["2024-06-03"],
            "units": ["1"],
            "reason": ["unknown brand 'x'"],
        }
    )
    first = wh.upsert_sales(db, rows, refused, "f.csv")
    assert first == {"inserted": 3, "updated": 0, "unchanged": 0, "rejected": 1}
    loaded_at = wh.query(db, "SELECT loaded_at FROM sales ORDER BY brand, ds")
    again = wh.upsert_sales(db, rows, refused, "f.csv")
    assert again == {"inserted": 0, "updated": 0, "unchanged": 3, "rejected": 1}
    assert wh.query(db, "SELECT loaded_at FROM sales ORDER BY brand, ds").equals(loaded_at)
    assert wh.query(db, "SELECT count(*) AS n FROM rejected_sales")["n"][0] == 1
    newer = rows.filter(pl.col("brand") == "b").with_columns(units=pl.lit(9.0))
    new_week = newer.with_columns(ds=pl.lit(date(2024, 6, 10)))
    third = wh.upsert_sales(db, pl.concat([newer, new_week]), refused.clear(), "g.csv")
    assert third == {"inserted": 1, "updated": 1, "unchanged": 0, "rejected": 0}
    assert wh.query(db, "SELECT count(*) AS n, sum(units) AS u FROM sales").row(0) == (4, 20.0)
