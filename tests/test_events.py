"""Brand events: validated rows, placed on the periods and series they touch, learned and
planned uplifts in the forecast, stockouts out of the fit."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecast.engine.backtest import origins
from forecast.engine.events import calendar_of, empty_brand_events, mark_stockouts
from forecast.engine.pipeline import estimate_brand, run_brand
from forecast.engine.pooling import pool_priors
from forecast.inputs.config import BrandConfig
from forecast.inputs.events import event_columns, validate_events
from forecast.inputs.files import read_table
from forecast.inputs.markets import shipped_markets
from forecast.vocabulary import SECTORS
from tests.conftest import holidays_of

EVENTS_CSV = """brand,market,category,product,start,end,type,magnitude,name
beauty,,,,2026-07-06,2026-07-19,promotion,0.3,summer
beauty,FR,,p1,2026-03-02,2026-03-08,stockout,,
beauty,europe,,,2026-03-02,2026-03-01,promotion,,
ghost,,,,2026-03-02,2026-03-08,promotion,,
beauty,,,p9,2026-03-02,2026-03-08,launch,,
beauty,JP,,,2026-03-02,2026-03-08,promotion,,
beauty,XX,,,2026-03-02,2026-03-08,promotion,,
beauty,,lipstick,,2026-03-02,2026-03-08,sale,,
beauty,,,,2026-03-02,2026-03-08,promotion,30,
beauty,,,,03/02/2026,2026-03-08,custom,,
beauty,,,,2026-07-06,2026-07-12,promotion,0.2,summer
"""


def _brand(**extra: object) -> BrandConfig:
    keys: dict[str, object] = {
        "brand": "beauty",
        "name": "Beauty",
        "sector": "perfumes_cosmetics",
        "markets": ("europe", "CN"),
        "launch_date": date(2020, 1, 6),
    }
    return BrandConfig.model_validate(keys | extra)


def test_every_event_row_is_accepted_or_refused_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(EVENTS_CSV)
    raw = event_columns(read_table(path), {}, str(path))
    known = pl.DataFrame({"brand": ["beauty"] * 2, "product": ["p1", "p2"], "category": "x"})
    out = validate_events(raw, {"beauty": _brand()}, shipped_markets(), known)
    reasons = dict(out.rejected.select("row_number", "reason").iter_rows())
    iso = "is not an ISO 3166-1 alpha-2 country code or ISO 3166-2 subdivision"
    assert reasons == {
        1: "duplicate event: row 11 of the file wins",
        3: "end 2026-03-01 is before start 2026-03-02",
        4: "unknown brand 'ghost'",
        5: "product 'p9' is not a product of brand 'beauty' (no sales and no product master row)",
        6: "market 'JP' is not one of brand 'beauty' markets (europe, CN)",
        7: f"market 'XX' {iso}, nor a group or market of markets.toml",
        8: "category 'lipstick' is not one of brand 'beauty' categories; type 'sale' is not one "
        "of launch, promotion, price_change, store_opening, stockout, custom",
        9: "magnitude '30' is not an uplift fraction above -1 and at most 10 (0.3 = +30 %)",
        10: "start '03/02/2026' is not a date like 2026-06-01",
    }
    accepted = out.accepted.sort("start")
    assert accepted.height + out.rejected.height == 11
    # FR is a country of the brand's `europe`: its stockout applies to the europe series.
    assert accepted.select("market", "product", "type").rows() == [
        ("europe", "p1", "stockout"),
        (None, None, "promotion"),
    ]
    assert accepted["magnitude"].to_list() == [None, 0.2]


def _sales(weeks: int = 156, promo_weeks: tuple[int, ...] = ()) -> pl.DataFrame:
    """Two series of a weekly brand; ``promo_weeks`` lift both by exp(0.5)."""
    rng = np.random.default_rng(0)
    ds = [date(2023, 1, 2) + timedelta(weeks=i) for i in range(weeks)]
    lift = np.where(np.isin(np.arange(weeks), promo_weeks), 0.5, 0.0)
    frames = [
        pl.DataFrame(
            {
                "brand": "beauty",
                "market": "europe",
                "product": product,
                "ds": ds,
                "units": rng.poisson(80 * np.exp(lift)).astype(float),
            }
        )
        for product in ("p1", "p2")
    ]
    return pl.concat(frames)


def _events(rows: list[tuple[str | None, str, date, date, float | None]]) -> pl.DataFrame:
    """``(product, type, start, end, magnitude)`` rows of brand ``beauty``."""
    frame = pl.DataFrame(
        rows, schema=["product", "type", "start", "end", "magnitude"], orient="row"
    ).with_columns(brand=pl.lit("beauty"), market=pl.lit(None), category=pl.lit(None))
    return (
        frame.with_columns(name=pl.lit(None))
        .select(empty_brand_events().columns)
        .cast(dict(empty_brand_events().schema))
    )


def test_events_touch_the_periods_and_series_of_their_scope() -> None:
    sales = _sales(weeks=10)
    events = _events(
        [
            ("p1", "promotion", date(2023, 1, 5), date(2023, 1, 11), None),  # Thu → Wed
            (None, "custom", date(2023, 1, 16), date(2023, 1, 22), 0.5),
        ]
    )
    cal = calendar_of(sales, holidays_of(["europe"], 2023, 2023).clear(), events)
    rows = cal.sort("unique_id", "ds").select("unique_id", "ds", "event", "weight", "planned")
    expected = pl.DataFrame(
        {
            "unique_id": ["beauty/europe/p1"] * 3 + ["beauty/europe/p2"],
            "ds": [date(2023, 1, 2), date(2023, 1, 9), date(2023, 1, 16), date(2023, 1, 16)],
            "event": ["promotion", "promotion", "custom", "custom"],
            "weight": [4 / 7, 3 / 7, 1.0, 1.0],
            "planned": [None, None, np.log1p(0.5), np.log1p(0.5)],
        }
    )
    assert_frame_equal(rows, expected)
    monthly = calendar_of(sales, holidays_of(["europe"], 2023, 2023).clear(), events, "monthly")
    assert monthly.filter(pl.col("event") == "promotion")["weight"].to_list() == [7 / 31]


def test_a_stockout_period_is_unknown_not_a_zero() -> None:
    series = pl.DataFrame(
        {
            "unique_id": "s",
            "ds": [date(2024, 1, 1) + timedelta(weeks=i) for i in range(5)],
            "y": [99.0, 99.0, 0.0, 0.0, 9999.0],
            "gap": [None, "missing", None, None, None],
        }
    )
    cal = pl.DataFrame(
        {"unique_id": "s", "ds": [date(2024, 1, 15), date(2024, 1, 22)], "event": "stockout"}
    )
    marked = mark_stockouts(series, cal)
    assert marked["y"].to_list() == [99.0, 99.0, None, None, 9999.0]
    assert marked["gap"].to_list() == [None, "missing", "stockout", "stockout", None]
    assert_frame_equal(mark_stockouts(series, cal.clear()), series)


def _run(brand: BrandConfig, sales: pl.DataFrame, events: pl.DataFrame, as_of: date):  # type: ignore[no-untyped-def]
    cal = calendar_of(sales, holidays_of(list(brand.markets), 2022, 2027), events)
    cutoffs = origins(as_of, brand.horizon, 1)
    own = estimate_brand(brand, sales, cutoffs, cal)
    priors = {c: pool_priors([own[c]], {"beauty": brand.pool}, list(SECTORS)) for c in cutoffs}
    return run_brand(brand, sales, as_of, priors, cal), priors


def test_past_promotions_are_learned_and_planned_ones_lift_their_weeks() -> None:
    promo_weeks = tuple(range(5, 150, 9))
    sales = _sales(promo_weeks=promo_weeks)
    as_of = sales["ds"].max()
    first = as_of + timedelta(weeks=3)
    past = [
        ("p1", "promotion", sales["ds"][w], sales["ds"][w] + timedelta(days=6), None)
        for w in promo_weeks
    ] + [
        ("p2", "promotion", sales["ds"][w], sales["ds"][w] + timedelta(days=6), None)
        for w in promo_weeks
    ]
    planned = [(None, "promotion", first, first + timedelta(days=13), None)]
    brand = _brand(model={"candidates": ["ets"], "backtest_windows": 1})
    with_events, priors = _run(brand, sales, _events(past + planned), as_of)
    learned = priors[as_of].brands.filter(pl.col("kind") == "event", pl.col("key") == "promotion")
    assert learned["own"][0] == pytest.approx(0.5, abs=0.12)
    without, _ = _run(brand, sales, empty_brand_events(), as_of)
    ets = {
        name: r.forecasts.filter(
            pl.col("model") == "ets", pl.col("unique_id") == "beauty/europe/p1"
        ).sort("ds")
        for name, r in (("with", with_events), ("without", without))
    }
    ratio = (ets["with"]["yhat"] / ets["without"]["yhat"]).to_numpy()
    lifted = ets["with"]["ds"].is_in([first, first + timedelta(weeks=1)]).to_numpy()
    assert np.all(ratio[lifted] > 1.3) and np.all(np.abs(ratio[~lifted] - 1) < 0.2)
    labels = ets["with"].filter(pl.col("ds") == first)["events"][0]
    assert f"promotion:{first}" in labels


def test_a_planned_magnitude_replaces_the_learned_uplift() -> None:
    sales = _sales(weeks=120)
    as_of = sales["ds"].max()
    first = as_of + timedelta(weeks=2)
    brand = _brand(model={"candidates": ["ets"], "backtest_windows": 1})
    events = _events([(None, "custom", first, first + timedelta(days=6), 1.0)])
    result, _ = _run(brand, sales, events, as_of)
    base, _ = _run(brand, sales, empty_brand_events(), as_of)
    pick = pl.col("model") == "ets", pl.col("ds") == first
    lifted = result.forecasts.filter(*pick).sort("unique_id")["yhat"].to_numpy()
    plain = base.forecasts.filter(*pick).sort("unique_id")["yhat"].to_numpy()
    np.testing.assert_allclose((lifted + 1) / (plain + 1), 2.0, rtol=1e-6)  # log1p(1.0) on log1p
