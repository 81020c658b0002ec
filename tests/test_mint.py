"""MinT without dense matrices: the same forecasts, W and intervals as hierarchicalforecast."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hierarchicalforecast.core import HierarchicalReconciliation
from hierarchicalforecast.methods import BottomUp, MinTrace
from hierarchicalforecast.utils import _shrunk_covariance_schaferstrimmer_no_nans
from scipy import sparse

from forecast.planning import hierarchy
from forecast.planning.hierarchy import naive_insample, to_levels
from forecast.planning.mint import covariance

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
    ids = structure.ids
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


def _theirs(method: str, panel) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """hierarchicalforecast's reconciliation with a dense S, and its normality bounds."""
    history, structure, hat = panel
    summing = sparse.vstack([structure.s_a, sparse.identity(len(structure.bottom))]).toarray()
    s_df = pl.DataFrame(summing, schema=structure.bottom).insert_column(
        0, pl.Series("unique_id", structure.ids)
    )
    reconciler = BottomUp() if method == "bottom_up" else MinTrace(method=method)
    out = HierarchicalReconciliation(reconcilers=[reconciler]).reconcile(
        Y_hat_df=hat,
        Y_df=None if method == "bottom_up" else naive_insample(history),
        S_df=s_df,
        tags=structure.tags,
        level=[80, 95],
        intervals_method="normality",
    )
    name = "yhat/BottomUp" if method == "bottom_up" else f"yhat/MinTrace_method-{method}"
    bounds = {f"{side}_{lv}": f"{name}-{side}-{lv}" for lv in (80, 95) for side in ("lo", "hi")}
    return out.select("unique_id", "ds", yhat=name, **bounds)


@pytest.mark.parametrize("method", ["mint_shrink", "wls_var", "bottom_up"])
def test_forecasts_and_bounds_equal_hierarchicalforecasts(panel, method: str) -> None:  # type: ignore[no-untyped-def]
    history, structure, hat = panel
    base = hat.rename({f"yhat-{b.replace('_', '-')}": b for b in hierarchy.BOUNDS})
    if method == "bottom_up":
        ours = hierarchy.bottom_up(base, structure).drop("base")
    else:
        errors = naive_insample(history).with_columns(e=pl.col("y") - pl.col("yhat"))
        matrix = hierarchy._matrix(errors, structure, "e")
        hat_matrix = hierarchy._Base.of(base, structure)
        ours = hierarchy._reconciled(method, hat_matrix, matrix, structure, True)
    theirs = _theirs(method, panel)
    both = theirs.join(ours, on=["unique_id", "ds"], suffix="_ours")
    assert both.height == theirs.height == ours.height == len(structure.ids) * 4
    for c in ("yhat", *hierarchy.BOUNDS):
        if method == "bottom_up" and c != "yhat":  # ours are clipped at 0 around yhat
            np.testing.assert_allclose(both[c].clip(0), both[f"{c}_ours"].clip(0), atol=1e-7)
            continue
        np.testing.assert_allclose(both[c], both[f"{c}_ours"], rtol=1e-7, atol=1e-7)


def test_shrunk_covariance_equals_hierarchicalforecasts(panel) -> None:  # type: ignore[no-untyped-def]
    history, structure, _ = panel
    errors = naive_insample(history).with_columns(e=pl.col("y") - pl.col("yhat"))
    matrix = hierarchy._matrix(errors, structure, "e")
    w = covariance("mint_shrink", matrix)
    theirs = _shrunk_covariance_schaferstrimmer_no_nans(matrix, 2e-8)
    ours = np.diag(w.diagonal) + w.factor @ w.factor.T
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)
    assert w.factor.shape == (len(structure.ids), matrix.shape[1])  # rank T, not n


def test_errors_that_cannot_give_a_w_are_refused() -> None:
    with pytest.raises(ValueError, match="close to 0"):
        covariance("mint_shrink", np.zeros((5, 10)))
    with pytest.raises(ValueError, match="non-finite"):
        covariance("wls_var", np.full((5, 10), np.nan))
