"""Combinations: the median of the members, per series and period."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from numpy.testing import assert_allclose
from polars.testing import assert_frame_equal

from forecast.engine.combination import add_combinations, combine
from forecast.engine.fitting import forecast_baseline, forecast_smooth, future_frame
from forecast.engine.models import rests_on_baseline
from tests.conftest import panel

DAY = date(2025, 1, 6)


def _member(model: str, yhat: list[float], uid: str = "s") -> pl.DataFrame:
    values = np.array(yhat)
    return pl.DataFrame(
        {
            "unique_id": uid,
            "ds": [DAY, date(2025, 1, 13)][: len(yhat)],
            "model": model,
            "yhat": values,
            "lo_80": values - 1,
            "hi_80": values + 1,
            "lo_95": values - 2,
            "hi_95": values + 3,
        }
    )


def test_a_combination_is_the_median_of_its_members() -> None:
    members = pl.concat(
        [_member("a", [1.0, 10.0]), _member("b", [2.0, 40.0]), _member("c", [9.0, 20.0])]
    )
    out = combine(members, "median")
    assert out["model"].to_list() == ["median", "median"]
    assert_allclose(out["yhat"].to_numpy(), [2.0, 20.0])
    assert_allclose(out["hi_95"].to_numpy(), [5.0, 23.0])
    assert_allclose(out["lo_80"].to_numpy(), [1.0, 19.0])


def test_a_series_with_one_member_keeps_its_values() -> None:
    members = pl.concat(
        [_member("a", [3.0], uid="x"), _member("a", [1.0], "y"), _member("b", [5.0], "y")]
    )
    out = combine(members, "median").sort("unique_id")
    expected = _member("median", [3.0], "x").select(out.columns)
    assert_frame_equal(out.filter(pl.col("unique_id") == "x"), expected)
    assert_allclose(out.filter(pl.col("unique_id") == "y")["yhat"].to_numpy(), [3.0])


def test_each_combination_takes_the_median_of_its_own_members() -> None:
    history = panel(n_series=2, weeks=120, season=0.4, level=60.0).with_columns(offset=0.0)
    future = future_frame(history, 13).with_columns(offset=pl.lit(0.0))
    names = ["ets", "theta", "theta_raw", "theta_seasonal", "median", "median_seasonal"]
    fits = pl.concat([forecast_smooth(history, future, names), forecast_baseline(history, 13)])
    fc = add_combinations(fits, names, history["unique_id"].unique())
    for combo, members in (
        ("median", ["ets", "theta", "theta_seasonal"]),  # theta_raw is not a member
        ("median_seasonal", ["theta_seasonal", "snaive"]),
    ):
        expected = (
            fc.filter(pl.col("model").is_in(members))
            .group_by("unique_id", "ds")
            .agg(pl.col("yhat").median())
            .sort("unique_id", "ds")
        )
        got = fc.filter(pl.col("model") == combo).sort("unique_id", "ds")
        assert got.height == 2 * 13
        assert_allclose(got["yhat"].to_numpy(), expected["yhat"].to_numpy())
        assert (got["lo_95"] <= got["yhat"]).all() and (got["yhat"] <= got["hi_95"]).all()


def test_combinations_only_cover_the_series_asked_for() -> None:
    members = pl.concat([_member("ets", [3.0], uid="x"), _member("ets", [1.0], "y")])
    out = add_combinations(members, ["ets", "median"], pl.Series(["y"]))
    assert out.filter(pl.col("model") == "median")["unique_id"].to_list() == ["y"]


def test_below_a_season_the_combination_with_seasonal_naive_is_naive() -> None:
    # Why model choice cannot judge median_seasonal from an origin with less than a season:
    # there its only member is the baseline, which falls back to the last value.
    history = panel(n_series=2, weeks=30, season=0.4, level=60.0).with_columns(offset=0.0)
    future = future_frame(history, 13).with_columns(offset=pl.lit(0.0))
    names = ["ets", "theta", "median", "median_seasonal"]
    fits = pl.concat([forecast_smooth(history, future, names), forecast_baseline(history, 13)])
    fc = add_combinations(fits, names, history["unique_id"].unique())
    last = history.sort("ds").group_by("unique_id").agg(pl.col("y").last())
    got = fc.filter(pl.col("model") == "median_seasonal").join(last, on="unique_id")
    assert got.height == 2 * 13
    assert_allclose(got["yhat"].to_numpy(), got["y"].clip(0).to_numpy())
    assert [rests_on_baseline(n) for n in ("snaive", "median_seasonal", "median", "ets")] == [
        True,
        True,
        False,
        False,
    ]
