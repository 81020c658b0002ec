"""Reconciliation by MinT: coherent, non-negative, the path recorded."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import numpy as np
import polars as pl
import pytest

from forecast.planning import hierarchy
from forecast.planning.coherent import coherent_forecasts, score_levels
from forecast.planning.hierarchy import bottom_up, reconcile, to_levels
from forecast.planning.levels import fit_levels, naive_scale
from forecast.vocabulary import LEVEL_KEYS, LEVELS
from tests.conftest import panel

AS_OF = date(2024, 4, 15)


def _bottom(weeks: int = 120) -> pl.DataFrame:
    """Two sectors, three brands, two markets, one or two categories: 16 bottom series."""
    parts = []
    for i, (sector, brand, level) in enumerate(
        [("wines_spirits", "a", 40.0), ("wines_spirits", "b", 10.0), ("watches_jewelry", "c", 0.6)]
    ):
        for j, market in enumerate(("europe", "china")):
            p = panel(n_series=3 if brand != "c" else 2, weeks=weeks, seed=10 * i + j, level=level)
            parts.append(
                p.with_columns(
                    sector=pl.lit(sector),
                    brand=pl.lit(brand),
                    market=pl.lit(market),
                    category=pl.when(pl.col("product") == "p0")
                    .then(pl.lit("x"))
                    .otherwise(pl.lit("y")),
                )
            )
    return pl.concat(parts)


def assert_coherent(frame: pl.DataFrame, value: str = "yhat") -> None:
    """Every parent equals the sum of its children, at every pair of adjacent levels."""
    for parent, child in pairwise(LEVELS):
        keys = list(LEVEL_KEYS[parent])
        up = frame.filter(pl.col("level") == parent).select(*keys, "ds", value)
        down = (
            frame.filter(pl.col("level") == child)
            .group_by(*keys, "ds")
            .agg(pl.col(value).sum().alias("children"))
        )
        both = up.join(down, on=[*keys, "ds"], how="full", nulls_equal=True)
        assert both.height == up.height, f"{parent}: rows without children"
        np.testing.assert_allclose(both[value], both["children"], rtol=1e-9, atol=1e-6)


@pytest.fixture(scope="module")
def levels() -> tuple[pl.DataFrame, hierarchy.Structure]:
    return to_levels(_bottom(), ["y"])


def test_aggregate_builds_every_level_with_keys_null_above_it(levels) -> None:  # type: ignore[no-untyped-def]
    history, structure = levels
    counts = dict(structure.keys.group_by("level").len().iter_rows())
    assert counts == {
        "group": 1,
        "sector": 2,
        "brand": 3,
        "brand_market": 6,
        "category_market": 12,
        "product_market": 16,
    }
    brand_rows = structure.keys.filter(pl.col("level") == "brand")
    assert brand_rows["market"].is_null().all() and brand_rows["brand"].is_not_null().all()
    assert len(structure.bottom) == 16 and history["unique_id"].n_unique() == 40


def test_mint_is_coherent_non_negative_and_says_its_path(levels) -> None:  # type: ignore[no-untyped-def]
    history, structure = levels
    base = fit_levels(history, 8)
    rec = reconcile(base, history, structure)
    assert rec.path in ("mint_shrink", "mint_shrink+clip")
    out = rec.forecasts.join(structure.keys, on="unique_id")
    assert_coherent(out)
    assert (out["yhat"] >= 0).all() and (out["lo_95"] >= 0).all()
    assert (out["lo_95"] <= out["yhat"]).all() and (out["yhat"] <= out["hi_95"]).all()
    assert (out["lo_80"] >= out["lo_95"] - 1e-9).all()
    assert out.height == 40 * 8


def test_negative_bottom_cells_are_clipped_and_levels_resummed(levels) -> None:  # type: ignore[no-untyped-def]
    history, structure = levels
    base = fit_levels(history, 4)
    # A total far below its children pulls MinT's bottom below zero.
    base = base.with_columns(
        yhat=pl.when(pl.col("unique_id") == "group").then(0.0).otherwise(pl.col("yhat"))
    )
    rec = reconcile(base, history, structure)
    out = rec.forecasts.join(structure.keys, on="unique_id")
    assert (out["yhat"] >= 0).all()
    assert_coherent(out)
    if rec.path.endswith("+clip"):
        assert rec.n_clipped > 0 and "negative bottom cells set to 0" in rec.reason


def test_when_every_mintrace_fails_bottom_up_is_taken_with_the_reasons(
    levels, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    history, structure = levels
    monkeypatch.setattr(hierarchy, "METHODS", ("no_such_method",))
    base = fit_levels(history, 4)
    rec = reconcile(base, history, structure)
    assert rec.path == "bottom_up" and rec.reason.startswith("no_such_method: unknown MinT method")
    out = rec.forecasts.join(structure.keys, on="unique_id")
    assert_coherent(out)
    bottom = out.filter(pl.col("level") == "product_market")
    np.testing.assert_allclose(bottom["yhat"], bottom["base"])


def test_an_unstable_reconciliation_is_refused(levels) -> None:  # type: ignore[no-untyped-def]
    history, structure = levels
    base = fit_levels(history, 4).with_columns(
        yhat=pl.when(pl.col("unique_id") == "group").then(1e9).otherwise(pl.col("yhat"))
    )
    rec = reconcile(base, history, structure)
    assert rec.path == "bottom_up"
    assert "mint_shrink: unstable" in rec.reason and "wls_var: unstable" in rec.reason


def test_bottom_up_equals_the_sum_of_bottom_forecasts(levels) -> None:  # type: ignore[no-untyped-def]
    history, structure = levels
    base = fit_levels(history, 3)
    out = bottom_up(base, structure).join(structure.keys, on="unique_id")
    assert_coherent(out)


def test_score_levels_against_a_plain_loop() -> None:
    fc = pl.DataFrame(
        {
            "unique_id": ["s", "s", "t", "t"],
            "ds": [date(2024, 1, 1), date(2024, 1, 8)] * 2,
            "yhat": [10.0, 12.0, 1.0, 0.0],
            "lo_80": [8.0, 9.0, 0.0, 0.0],
            "hi_80": [11.0, 13.0, 2.0, 1.0],
            "lo_95": [7.0, 8.0, 0.0, 0.0],
            "hi_95": [12.0, 14.0, 3.0, 2.0],
        }
    )
    actual = fc.select("unique_id", "ds", y=pl.Series([11.0, 15.0, 1.0, 2.0]))
    scale = pl.DataFrame({"unique_id": ["s", "t"], "scale": [2.0, 1.0]})
    keys = pl.DataFrame({"unique_id": ["s", "t"], "level": ["a", "a"]})
    row = score_levels(fc, actual, scale, keys).row(0, named=True)
    assert row["mase"] == pytest.approx(((1 + 3) / 2 / 2.0 + (0 + 2) / 2 / 1.0) / 2)
    assert row["wape"] == pytest.approx(6 / 29) and row["bias"] == pytest.approx(-6 / 29)
    assert row["coverage_80"] == pytest.approx(2 / 4) and row["coverage_95"] == pytest.approx(3 / 4)


def test_a_run_is_coherent_in_weeks_months_and_quarters() -> None:
    bottom = _bottom(weeks=120)
    as_of = bottom["ds"].max()
    history = bottom.select("brand", "market", "product", "ds", "y")
    hierarchy_rows = bottom.select("brand", "market", "product", "sector", "category").unique()
    ahead = [as_of + timedelta(weeks=k) for k in range(1, 14)]
    last = history.group_by("brand", "market", "product").agg(yhat=pl.col("y").tail(4).mean())
    grid = last.join(pl.DataFrame({"ds": ahead, "step": range(1, 14)}), how="cross")
    bounds = {"lo_80": 0.8, "hi_80": 1.2, "lo_95": 0.6, "hi_95": 1.5}
    stat = grid.with_columns(**{b: pl.col("yhat") * f for b, f in bounds.items()})
    statistical = pl.concat(
        [
            stat.with_columns(model=pl.lit("ets"), is_selected=pl.lit(True)),
            stat.with_columns(model=pl.lit("snaive"), is_selected=pl.lit(False)),
        ]
    )
    run = coherent_forecasts(statistical, history, hierarchy_rows, as_of)
    for granularity in ("week", "month", "quarter"):
        rows = run.forecasts.filter(pl.col("granularity") == granularity)
        assert_coherent(rows)
        assert_coherent(rows, "snaive")
        assert (rows["yhat"] >= 0).all() and rows["lo_80"].is_not_null().all()
    weekly = run.forecasts.filter(pl.col("granularity") == "week")
    for granularity in ("month", "quarter"):
        coarse = run.forecasts.filter(pl.col("granularity") == granularity)
        np.testing.assert_allclose(coarse["yhat"].sum(), weekly["yhat"].sum())
        assert coarse["weeks"].sum() == weekly.height
    assert set(run.backtest["method"]) == {"base", "bottom_up", run.reconciled.path.split("+")[0]}
    group = to_levels(bottom, ["y"])[0].filter(pl.col("unique_id") == "group")
    expected = group.sort("ds")["y"].diff().abs().mean()
    got = run.scales.filter(pl.col("level") == "group")["scale"][0]
    assert got == pytest.approx(expected)
    assert naive_scale(group)["scale"][0] == pytest.approx(expected)


def test_a_hierarchy_with_more_aggregates_than_mint_holds_is_summed_bottom_up(
    levels, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    history, structure = levels
    n_a = structure.s_a.shape[0]
    base = fit_levels(history, 4)
    assert reconcile(base, history, structure).path.startswith("mint_shrink")
    monkeypatch.setattr(hierarchy, "MAX_MINT_AGGREGATES", n_a - 1)
    rec = reconcile(base, history, structure)
    assert rec.path == "bottom_up"
    assert rec.reason.startswith(f"{n_a} aggregate series: MinT would hold ~0 GB, above the ")
    assert_coherent(rec.forecasts.join(structure.keys, on="unique_id"))


def test_a_group_too_large_for_the_machine_is_not_planned() -> None:
    from forecast.planning.coherent import too_large_to_plan

    gb = 10**9
    assert too_large_to_plan(9_870, 204, 24 * gb) is None  # ~2.4 GB of 24: planned
    assert too_large_to_plan(98_567, 204, None) is None  # memory unknown: tried
    assert too_large_to_plan(98_567, 204, 24 * gb) == (
        "98,567 bottom series × 204 weeks: planning them would hold ~24 GB, more than half "
        "of this machine's 24 GB"
    )
    assert too_large_to_plan(98_567, 204, 64 * gb) is None
