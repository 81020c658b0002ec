"""Fits: one row per series × step × model, non-negative, ordered intervals."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from numpy.testing import assert_allclose

from forecast.engine.fitting import (
    forecast_baseline,
    forecast_intermittent,
    forecast_smooth,
    future_frame,
)
from forecast.vocabulary import BOUNDS
from tests.conftest import panel

H = 13


def _history(frame: pl.DataFrame, offset: float = 0.0) -> pl.DataFrame:
    return frame.with_columns(offset=pl.lit(offset))


def _check(fc: pl.DataFrame, n_series: int, models: list[str]) -> None:
    assert fc.height == n_series * H * len(models)
    assert fc.select("unique_id", "ds", "model").is_unique().all()
    assert (fc["yhat"] >= 0).all()
    assert (fc["lo_95"] <= fc["lo_80"]).all() and (fc["lo_80"] <= fc["yhat"]).all()
    assert (fc["yhat"] <= fc["hi_80"]).all() and (fc["hi_80"] <= fc["hi_95"]).all()
    assert fc.select(pl.col("yhat", *BOUNDS).is_null().any()).sum_horizontal()[0] == 0


def test_smooth_models_reseasonalise_point_and_intervals() -> None:
    history = _history(panel(n_series=3, weeks=100, season=0.0, level=100.0))
    future = future_frame(history, H).with_columns(offset=pl.lit(0.0))
    flat = forecast_smooth(history, future, ["ets", "theta"])
    _check(flat, 3, ["ets", "theta"])
    lifted = forecast_smooth(
        history, future.with_columns(offset=pl.lit(np.log(2.0))), ["ets", "theta"]
    )
    # exp(log1p-forecast + log 2) - 1 = 2 · (1 + yhat) - 1
    assert_allclose(lifted["yhat"].to_numpy(), 2 * (1 + flat["yhat"].to_numpy()) - 1, rtol=1e-9)
    assert_allclose(lifted["hi_95"].to_numpy(), 2 * (1 + flat["hi_95"].to_numpy()) - 1, rtol=1e-9)


def test_theta_raw_divides_the_season_out_in_units_and_multiplies_it_back() -> None:
    history = _history(panel(n_series=3, weeks=100, season=0.0, level=100.0))
    future = future_frame(history, H).with_columns(offset=pl.lit(0.0))
    flat = forecast_smooth(history, future, ["theta_raw"])
    _check(flat, 3, ["theta_raw"])
    # A season twice as high in the history and the future: fitted on y / 2, times 2.
    double = pl.lit(np.log(2.0))
    doubled = history.with_columns(y=2 * pl.col("y"), offset=double)
    lifted = forecast_smooth(doubled, future.with_columns(offset=double), ["theta_raw"])
    for column in ("yhat", "lo_80", "hi_95"):
        assert_allclose(lifted[column].to_numpy(), 2 * flat[column].to_numpy(), rtol=1e-9)
    # Units, not log1p: Theta's forecast of the units themselves, not exp(log-forecast) − 1.
    logged = forecast_smooth(history, future, ["theta"])
    assert not np.allclose(logged["yhat"].to_numpy(), flat["yhat"].to_numpy(), rtol=1e-3)


def test_smooth_forecast_tracks_the_level() -> None:
    history = _history(panel(n_series=2, weeks=150, season=0.0, level=100.0))
    future = future_frame(history, H).with_columns(offset=pl.lit(0.0))
    fc = forecast_smooth(history, future, ["ets"])
    assert 85 < fc["yhat"].mean() < 115  # median of Poisson(100) on the log1p scale ≈ 99


def test_intermittent_models_get_negative_binomial_intervals() -> None:
    rng = np.random.default_rng(0)
    sparse = panel(n_series=2, weeks=104).with_columns(
        y=pl.Series(rng.poisson(0.3, 208).astype(float))
    )
    history = _history(sparse)
    future = future_frame(history, H).with_columns(offset=pl.lit(0.0))
    fc = forecast_intermittent(history, future, ["croston_sba", "tsb"])
    _check(fc, 2, ["croston_sba", "tsb"])
    assert (fc["hi_95"] >= 1).all()  # a rate near 0.3 still allows a sale
    assert fc["yhat"].max() < 1.0


def test_baseline_falls_back_to_naive_on_short_history() -> None:
    short = panel(n_series=2, weeks=10)
    fc = forecast_baseline(short, H)
    _check(fc, 2, ["snaive"])
    last = short.group_by("unique_id").agg(pl.col("y").last())
    joined = fc.join(last, on="unique_id")
    assert_allclose(joined["yhat"].to_numpy(), joined["y"].to_numpy())


def test_future_frame_steps() -> None:
    frame = panel(n_series=2, weeks=5)
    future = future_frame(frame, 3)
    assert future.height == 6
    assert (
        future.filter(pl.col("step") == 1)["ds"].to_list()
        == [frame["ds"].max() + timedelta(weeks=1)] * 2
    )
    assert sorted(future["step"].unique().to_list()) == [1, 2, 3]
    assert (future.group_by("unique_id").agg(pl.col("ds").min())["ds"] > frame["ds"].max()).all()


def test_young_series_get_level_intervals() -> None:
    young = _history(panel(n_series=2, weeks=9, season=0.0, level=100.0, seed=4))
    future = future_frame(young, H).with_columns(offset=pl.lit(0.0))
    fc = forecast_smooth(young, future, ["ets", "theta"])
    _check(fc, 2, ["ets", "theta"])
    sd = young.group_by("unique_id").agg(sd=pl.col("y").log1p().std(), n=pl.len())
    joined = fc.join(sd, on="unique_id").join(
        future.select("unique_id", "ds", "step"), on=["unique_id", "ds"]
    )
    half = (joined["hi_95"].log1p() - joined["yhat"].log1p()).to_numpy()
    growth = (1 + joined["step"].cast(pl.Float64) / joined["n"]).sqrt()
    expected = (1.959963984540054 * joined["sd"] * growth).to_numpy()
    assert_allclose(half, expected, rtol=1e-9)


def test_a_model_of_the_wrong_family_is_refused() -> None:
    history = _history(panel(n_series=1, weeks=20))
    future = future_frame(history, H).with_columns(offset=pl.lit(0.0))
    with pytest.raises(
        KeyError, match=r"not smooth/seasonal/combination model\(s\): \['croston_sba'\]"
    ):
        forecast_smooth(history, future, ["croston_sba"])


def test_own_seasonality_models_run_only_on_two_seasons_of_history() -> None:
    long = panel(n_series=1, weeks=120, season=0.6, level=80.0, seed=1)
    short = panel(n_series=1, weeks=40, seed=2).with_columns(unique_id=pl.lit("b/europe/short"))
    history = _history(pl.concat([long, short]), offset=0.3)  # mstl ignores the priors' offset
    future = future_frame(history, H).with_columns(offset=pl.lit(0.3))
    fc = forecast_smooth(history, future, ["ets", "mstl"])
    assert fc.filter(pl.col("model") == "mstl")["unique_id"].unique().to_list() == ["b/europe/p0"]
    assert fc.filter(pl.col("model") == "ets").height == 2 * H
    _check(fc.filter(pl.col("model") == "mstl"), 1, ["mstl"])
