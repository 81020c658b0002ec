"""Reconciled normal intervals: the same numbers as hierarchicalforecast's, computed cheaply."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hierarchicalforecast.methods import BottomUp, MinTrace

from forecast.planning import hierarchy
from forecast.planning.hierarchy import naive_insample, to_levels
from forecast.planning.intervals import has_projection_form

WEEKS = [date(2024, 1, 1) + timedelta(weeks=i) for i in range(40)]
FUTURE = [WEEKS[-1] + timedelta(weeks=i) for i in range(1, 5)]


@pytest.fixture(scope="module")
def panel() -> tuple[pl.DataFrame, hierarchy.Structure, pl.DataFrame]:
    rng = np.random.default_rng(3)
    rows = [
        {"sector": f"s{b}", "brand": f"b{b}", "market": m, "category": c, "product": f"p{p}"}
        for b in range(2)
        for m in ("fr", "us")
        for c in ("c1", "c2")
        for p in range(3)
    ]
    keys = pl.DataFrame(rows).with_columns(level=pl.Series(rng.uniform(5, 50, len(rows))))
    bottom = keys.join(pl.DataFrame({"ds": WEEKS}), how="cross").with_columns(
        y=pl.Series(rng.poisson(np.repeat(keys["level"].to_numpy(), len(WEEKS))), dtype=pl.Float64)
    )
    history, structure = to_levels(bottom, ["y"])
    ids = structure.summing["unique_id"]
    base = pl.DataFrame({"unique_id": ids}).join(pl.DataFrame({"ds": FUTURE}), how="cross")
    noise = rng.uniform(0.5, 2.0, base.height)
    mean = history.group_by("unique_id").agg(mu=pl.col("y").mean(), sd=pl.col("y").std())
    base = base.join(mean, on="unique_id").with_columns(s=pl.col("sd") * pl.Series(noise))
    hat = base.select(
        "unique_id",
        "ds",
        yhat="mu",
        **{
            "yhat-lo-80": pl.col("mu") - 1.3 * pl.col("s"),
            "yhat-hi-80": pl.col("mu") + 1.2 * pl.col("s"),
        },
        **{
            "yhat-lo-95": pl.col("mu") - 2.0 * pl.col("s"),
            "yhat-hi-95": pl.col("mu") + 1.9 * pl.col("s"),
        },
    )
    return history, structure, hat


@pytest.mark.parametrize("method", ["mint_shrink", "wls_var", "bottom_up"])
def test_bounds_equal_hierarchicalforecasts_normality(panel, method: str) -> None:  # type: ignore[no-untyped-def]
    history, structure, hat = panel
    y_df = None if method == "bottom_up" else naive_insample(history)

    def reconciler():  # type: ignore[no-untyped-def]
        return BottomUp() if method == "bottom_up" else MinTrace(method=method)

    theirs = hierarchy._reconcile_hf(reconciler(), hat, y_df, structure, intervals=True)
    ours = hierarchy._run(reconciler(), hat, y_df, structure, intervals=True)
    both = theirs.join(ours, on=["unique_id", "ds"], suffix="_ours")
    assert both.height == theirs.height == ours.height
    bounds = [c for c in theirs.columns if c.startswith("yhat/")]
    assert len(bounds) == 5  # the point and four bounds
    for c in bounds:
        np.testing.assert_allclose(both[c], both[f"{c}_ours"], rtol=1e-7, atol=1e-7)


def test_another_kind_of_projection_is_recognised(panel) -> None:  # type: ignore[no-untyped-def]
    _, structure, _ = panel
    summing = structure.summing.drop("unique_id").to_numpy()
    n_series, n_bottom = summing.shape
    bottom_up = np.eye(n_bottom, n_series, n_series - n_bottom)
    assert has_projection_form(bottom_up, summing)
    other = np.random.default_rng(0).uniform(size=(n_bottom, n_series))
    assert not has_projection_form(other, summing)
