"""Cached interval quantiles: statsforecast's own values, bit for bit, and its intervals."""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.testing import assert_array_equal
from polars.testing import assert_frame_equal
from statsforecast import StatsForecast
from statsforecast import utils as sf_utils
from statsforecast.models import AutoETS, Naive

import forecast.engine.fitting  # noqa: F401  (installs the cached quantiles)
from forecast.engine import quantiles
from tests.conftest import panel


def test_fitting_installs_the_cached_quantiles() -> None:
    assert sf_utils._quantiles is quantiles.cached_quantiles


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

    cached = run()
    try:
        quantiles.uninstall()
        assert sf_utils._quantiles is quantiles._ORIGINAL
        own = run()
    finally:
        quantiles.install()
    assert_frame_equal(cached, own, check_exact=True)
