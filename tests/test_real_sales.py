"""Real sales as they come: an ingested export with a whole-region gap, a single-product gap
and returns, through real ingest and forecast flow runs."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from forecast import warehouse as wh
from tests.conftest import END

pytestmark = pytest.mark.flow

WEEKS = [END - timedelta(weeks=k) for k in range(103, -1, -1)]  # two seasons up to END
OUTAGE = WEEKS[-21:-18]  # europe sends nothing for three weeks
LONE = WEEKS[-11]  # europe c2 has no row while c1 and c3 sold: no sale
RETURN, TYPO = WEEKS[-6], WEEKS[-5]  # china c1 nets -3 units; china c2 "-100000"
PAST = WEEKS[-9]  # an earlier run whose forecasts reach the return week

CONFIGS = {
    "maison_x": (
        'name = "Maison X"\nsector = "wines_spirits"\nregions = ["europe", "china"]\n'
        'launch_date = 2015-01-05\n[[categories]]\nname = "c"\nskus = 3\n'
    ),
    "sparse_y": (
        'name = "Sparse Y"\nsector = "watches_jewelry"\nregions = ["europe"]\n'
        'launch_date = 2015-01-05\n[[categories]]\nname = "r"\nskus = 1\n'
    ),
}


def _export() -> pl.DataFrame:
    """What a retailer's system sends: one row per series-week that has one."""
    rng = np.random.default_rng(3)
    season = np.exp(0.4 * np.sin(2 * np.pi * np.arange(len(WEEKS)) / 52))
    rows = []
    for region, product in [("europe", f"c{i}") for i in (1, 2, 3)] + [
        ("china", "c1"),
        ("china", "c2"),
    ]:
        units = rng.poisson(30 * season).astype(float)
        for week, value in zip(WEEKS, units, strict=True):
            if (region == "europe" and week in OUTAGE) or (
                product == "c2" and region == "europe" and week == LONE
            ):
                continue
            if region == "china" and week == RETURN and product == "c1":
                value = -3.0
            if region == "china" and week == TYPO and product == "c2":
                value = -100000.0
            rows.append(("maison_x", region, product, week, value))
    sold = rng.random(len(WEEKS)) < 0.3  # an order-line export: only weeks with a sale
    rows += [("sparse_y", "europe", "r1", w, 1.0) for w, s in zip(WEEKS, sold, strict=True) if s]
    return pl.DataFrame(rows, schema=["brand", "region", "product", "ds", "units"], orient="row")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None):  # type: ignore[no-untyped-def]
    from flows.forecast import forecast_flow
    from flows.ingest import ingest_flow

    root = tmp_path_factory.mktemp("real")
    configs = root / "brands"
    configs.mkdir()
    for brand, text in CONFIGS.items():
        (configs / f"{brand}.toml").write_text(text)
    db, export = root / "forecast.duckdb", root / "export.csv"
    _export().write_csv(export)
    kwargs = {"warehouse_path": str(db), "config_dir": str(configs)}
    ingested = ingest_flow(path=str(export), **kwargs)
    past = forecast_flow(as_of=PAST, brands=["maison_x"], **kwargs)
    latest = forecast_flow(**kwargs)
    return db, configs, ingested, past, latest


def test_sales_keep_what_was_sent_and_refuse_the_typo(loaded) -> None:  # type: ignore[no-untyped-def]
    db, _, ingested, _, _ = loaded
    assert ingested["returns"] == 1 and ingested["rejected"] == 1
    refused = wh.query(db, "SELECT product, ds, reason FROM rejected_sales").row(0)
    assert refused[:2] == ("c2", str(TYPO)) and "a return larger than" in refused[2]
    china = wh.query(
        db, "SELECT units FROM sales WHERE market = 'china' AND product = 'c1' AND ds = ?", [RETURN]
    )
    assert china["units"].to_list() == [-3.0]  # stored exactly as given
    gaps = wh.query(
        db,
        "SELECT count(*) AS n FROM sales WHERE market = 'europe' AND ds IN (SELECT unnest(?))",
        [OUTAGE],
    )
    assert gaps["n"][0] == 0


def test_the_gaps_view_lists_the_outage_and_the_return_but_not_the_lone_gap(loaded) -> None:  # type: ignore[no-untyped-def]
    db, _, _, _, latest = loaded
    gaps = wh.query(
        db, "SELECT * FROM sales_gaps WHERE brand = 'maison_x' ORDER BY region, product, ds"
    )
    outage = gaps.filter(pl.col("reason") == "outage")
    assert outage.select("product", "ds").rows() == [
        (f"c{i}", w) for i in (1, 2, 3) for w in OUTAGE
    ]
    assert outage["units"].null_count() == 3 * 3 and (outage["imputed"] > 5).all()
    returned = gaps.filter(pl.col("reason") == "return").row(0, named=True)
    assert (returned["product"], returned["ds"], returned["units"]) == ("c1", RETURN, -3.0)
    assert returned["imputed"] > 5  # the series' level, not the net -3 nor a 0
    assert gaps.filter(pl.col("ds") == LONE).is_empty()  # siblings sold: it was a zero
    assert gaps["run_id"].unique().to_list() == [latest.run_id]
    brand = wh.query(
        db, "SELECT * FROM run_brands WHERE run_id = ? AND brand = 'maison_x'", [latest.run_id]
    ).row(0, named=True)
    assert (brand["status"], brand["n_imputed"], brand["n_returns"]) == ("succeeded", 10, 1)
    assert brand["unknown_share"] == pytest.approx(10 / (5 * len(WEEKS)), abs=1e-4)
    assert latest.imputed["maison_x"] == 10


def test_every_series_is_forecast_and_unknown_weeks_are_never_actuals(loaded) -> None:  # type: ignore[no-untyped-def]
    db, _, _, past, _ = loaded
    fc = wh.query(db, "SELECT * FROM latest_forecasts WHERE brand = 'maison_x' AND is_selected")
    assert fc["unique_id"].n_unique() == 5 and fc.height == 5 * 13
    europe = fc.filter(pl.col("region") == "europe", pl.col("step") == 1)
    assert (europe["yhat"] > 10).all()  # the outage did not drag the level to zero
    scored = wh.query(
        db,
        "SELECT region, product, ds FROM forecast_vs_actual WHERE run_id = ? AND model = 'snaive'",
        [past.run_id],
    )
    china_c1 = scored.filter(pl.col("region") == "china", pl.col("product") == "c1")["ds"]
    assert RETURN not in china_c1.to_list() and RETURN + timedelta(weeks=1) in china_c1.to_list()


def test_a_brand_mostly_unknown_is_refused_and_keeps_its_last_forecast(loaded) -> None:  # type: ignore[no-untyped-def]
    from flows.forecast import forecast_flow

    db, configs, _, _, latest = loaded
    before = wh.query(db, "SELECT run_id FROM latest_forecasts WHERE brand = 'sparse_y' LIMIT 1")
    assert before["run_id"].to_list() == [latest.run_id]  # auto: a lone product's gap is a zero
    strict = CONFIGS["sparse_y"] + '[sales]\nmissing_weeks = "unknown"\n'
    (configs / "sparse_y.toml").write_text(strict)
    refused = forecast_flow(warehouse_path=str(db), config_dir=str(configs), brands=["sparse_y"])
    assert refused.status == "failed"
    message = wh.query(db, "SELECT message FROM forecast_runs WHERE run_id = ?", [refused.run_id])[
        "message"
    ][0]
    assert "sparse_y: MostlyUnknownError: brand 'sparse_y': " in message
    assert "missing), more than half: not forecast" in message
    after = wh.query(db, "SELECT run_id FROM latest_forecasts WHERE brand = 'sparse_y' LIMIT 1")
    assert after["run_id"].to_list() == [latest.run_id]
