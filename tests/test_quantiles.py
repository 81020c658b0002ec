"""Interval computations without repeated set-up: statsforecast's own values, bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
from numpy.testing import assert_array_equal
from polars.testing import assert_frame_equal
from statsforecast import StatsForecast
from statsforecast import theta as sf_theta
from statsforecast import utils as sf_utils
from statsforecast.models import AutoETS, Naive, Theta

import forecast.engine.fitting  # noqa: F401  (installs the faster twins)
from forecast.engine import quantiles
from tests.conftest import panel


def test_fitting_installs_the_faster_twins() -> None:
    assert sf_utils._quantiles is quantiles.cached_quantiles
    assert sf_theta.compute_pi_samples is quantiles.theta_samples


def test_normal_quantiles_equal_scipys_exactly() -> None:
    for levels in ([80, 95], [50.0], np.array([90, 99, 99.5])):
        expected = quantiles._ORIGINAL(np.asarray(levels))
        got = quantiles.cached_quantiles(np.asarray(levels), distribution="normal")
        assert_array_equal(got, expected)
        assert got.shape == expected.shape


def test_a_cached_result_cannot_be_changed_by_its_caller() -> None:
    first = quantiles.cached_quantiles([80, 95])
    first[:] = 0.0
    assert (quantiles.cached_quantiles([80, 95]) > 0).all()


def test_other_distributions_go_to_statsforecast() -> None:
    got = quantiles.cached_quantiles([80, 95], distribution="t", dist_params={"df": 3.0})
    expected = quantiles._ORIGINAL([80, 95], distribution="t", dist_params={"df": 3.0})
    assert_array_equal(got, expected)
    assert not np.array_equal(got, quantiles.cached_quantiles([80, 95]))


def test_intervals_are_those_of_statsforecasts_own_quantiles() -> None:
    frame = panel(n_series=3, weeks=60).select("unique_id", "ds", "y")
    models = [AutoETS(model="AZN", damped=True), Naive()]

    def run() -> pl.DataFrame:
        sf = StatsForecast(models=models, freq="1w", n_jobs=1)
        return sf.forecast(h=8, df=frame, level=[80, 95])

    assert_frame_equal(*with_and_without(run), check_exact=True)


def with_and_without(run: Callable[[], pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``run()`` with the twins installed, then with statsforecast's own functions."""
    installed = run()
    try:
        quantiles.uninstall()
        assert sf_utils._quantiles is quantiles._ORIGINAL
        assert sf_theta.compute_pi_samples is quantiles._ORIGINAL_THETA
        own = run()
    finally:
        quantiles.install()
    return installed, own


def _theta_cases() -> list[tuple[Any, ...]]:
    """Inputs of ``compute_pi_samples`` as fits give them: histories from 3 to 200 weeks,
    residuals from none (statsforecast's scipy path) to many, some with a missing value."""
    rng = np.random.default_rng(7)
    cases = []
    for _ in range(120):
        n = int(rng.integers(3, 200))
        residuals = rng.normal(size=int(rng.integers(0, 30)))
        if residuals.size and rng.random() < 0.2:
            residuals[0] = np.nan
        sigma, alpha = float(rng.uniform(0.01, 2)), float(rng.uniform(0.1, 0.99))
        given = residuals if rng.random() < 0.9 else None
        cases.append((n, 13, rng.normal(size=(n, 5)), sigma, alpha, 2.0, float(rng.normal())))
        cases[-1] += (0, 200, "normal", None, given)
    return cases


def test_theta_samples_equal_statsforecasts_exactly() -> None:
    for case in _theta_cases():
        expected = quantiles._ORIGINAL_THETA(*case)
        got = quantiles.theta_samples(*case)
        assert got.dtype == expected.dtype
        assert_array_equal(got, expected)


def test_theta_samples_pass_other_distributions_through() -> None:
    n, h, states, sigma, alpha, theta, mean_y, *_ = _theta_cases()[0]
    residuals = np.random.default_rng(3).normal(size=40)
    args = (n, h, states, sigma, alpha, theta, mean_y, 0, 200, "t", {"df": 4.0}, residuals)
    assert_array_equal(quantiles.theta_samples(*args), quantiles._ORIGINAL_THETA(*args))


def test_theta_intervals_are_those_of_statsforecasts_own_sampling() -> None:
    frame = panel(n_series=4, weeks=70).select("unique_id", "ds", "y")
    short = frame.group_by("unique_id").head(8)  # below ten residuals: the scipy path

    def run() -> pl.DataFrame:
        sf = StatsForecast(models=[Theta(), Theta(season_length=52, alias="s")], freq="1w")
        long = sf.forecast(h=13, df=frame, level=[80, 95])
        return pl.concat([long, sf.forecast(h=13, df=short, level=[80, 95])])

    assert_frame_equal(*with_and_without(run), check_exact=True)
