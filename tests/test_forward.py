"""Backtests without refitting: the oldest origin's models run forward, real statsforecast."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
from numpy.testing import assert_allclose
from statsforecast import StatsForecast
from statsforecast.models import AutoETS

from forecast.engine.fitting import forecast_smooth, future_frame
from forecast.engine.forward import MIN_FITTED, FittedModels
from forecast.vocabulary import BOUNDS
from tests.conftest import panel

H = 13
MODELS = ["ets", "theta", "ses", "theta_seasonal"]


def _fit(history: pl.DataFrame, kept: FittedModels | None) -> pl.DataFrame:
    history = history.with_columns(offset=pl.lit(0.2))
    future = future_frame(history, H).with_columns(offset=pl.lit(0.2))
    return forecast_smooth(history, future, MODELS, kept=kept).sort("unique_id", "model", "ds")


def _before(history: pl.DataFrame, weeks: int) -> pl.DataFrame:
    return history.filter(pl.col("ds") <= pl.col("ds").max() - timedelta(weeks=weeks))


def test_keeping_the_models_changes_nothing_at_the_origin_they_are_fitted() -> None:
    history = panel(n_series=3, weeks=130, season=0.4)
    kept = FittedModels()
    assert_frame_values_equal(_fit(history, kept), _fit(history, None))
    assert {"smooth/log1p", "seasonal/raw"} <= set(kept.fits)


def test_a_later_origin_runs_the_kept_parameters_over_the_longer_history() -> None:
    history = panel(n_series=3, weeks=130, season=0.4)
    earlier = _before(history, 20)
    kept = FittedModels()
    _fit(earlier, kept)
    forward = _fit(history, kept)
    refit = _fit(history, None)
    assert forward.select("unique_id", "ds", "model").equals(
        refit.select("unique_id", "ds", "model")
    )
    # Not a refit: the smoothing parameters are the earlier origin's ...
    assert not np.allclose(forward["yhat"].to_numpy(), refit["yhat"].to_numpy())
    # ... run over the longer history: what statsforecast's forward gives for that series.
    z = history.with_columns(y=pl.col("y").log1p() - 0.2).filter(
        pl.col("unique_id") == "b/europe/p0"
    )
    sf = StatsForecast(models=[AutoETS(model="AZN", damped=True, alias="ets")], freq="1w")
    sf.fit(df=_before(z, 20).select("unique_id", "ds", "y"))
    expected = np.expm1(sf.fitted_[0, 0].forward(y=z["y"].to_numpy(), h=H)["mean"] + 0.2)
    got = forward.filter(pl.col("unique_id") == "b/europe/p0", pl.col("model") == "ets")
    assert_allclose(got["yhat"].to_numpy(), expected, rtol=1e-9)


def test_series_and_fits_the_oldest_origin_did_not_have_are_fitted() -> None:
    history = panel(n_series=2, weeks=120, season=0.4)
    kept = FittedModels()
    _fit(_before(history, 30), kept)  # 90 weeks: below two seasons, no theta_seasonal yet
    assert "seasonal/raw" not in kept.fits
    newcomer = panel(n_series=1, weeks=100, seed=3).with_columns(unique_id=pl.lit("b/europe/new"))
    tiny = panel(n_series=1, weeks=2, seed=4).with_columns(unique_id=pl.lit("b/europe/tiny"))
    # Kept, but two weeks long now (a relaunch cut it short): too short for its kept ETS
    # states to run forward, so it is fitted instead.
    relaunched = history.filter(pl.col("unique_id") == "b/europe/p0").tail(2)
    later = pl.concat([history.filter(pl.col("unique_id") != "b/europe/p0"), relaunched])
    later = pl.concat([later, newcomer, tiny])
    forward = _fit(later, kept)
    refit = _fit(later, None)
    for uid in ("b/europe/new", "b/europe/tiny", "b/europe/p0"):
        assert_frame_values_equal(
            forward.filter(pl.col("unique_id") == uid), refit.filter(pl.col("unique_id") == uid)
        )
    # 120 weeks now: theta_seasonal is fitted here, the other three run forward.
    p1 = (pl.col("unique_id") == "b/europe/p1", pl.col("model") == "theta_seasonal")
    assert_frame_values_equal(forward.filter(*p1), refit.filter(*p1))
    assert forward.filter(pl.col("unique_id") == "b/europe/p1").height == 4 * H


def test_parameters_fitted_on_a_few_weeks_are_not_carried_forward() -> None:
    young = panel(n_series=1, weeks=MIN_FITTED - 1, seed=5)
    kept = FittedModels()
    _fit(young, kept)
    later = panel(n_series=1, weeks=MIN_FITTED + 20, seed=5)
    assert_frame_values_equal(_fit(later, kept), _fit(later, None))


def assert_frame_values_equal(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.select("unique_id", "ds", "model").equals(b.select("unique_id", "ds", "model"))
    for col in ("yhat", *BOUNDS):
        assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-9, atol=1e-9)
