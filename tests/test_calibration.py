"""Calibrated intervals: conformal quantiles of scaled backtest errors."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
from numpy.testing import assert_allclose

from forecast.engine.calibration import MIN_POINTS, apply_calibration, calibrate, noise_scale


def _points(spread: float, n: int = 200, seed: int = 0) -> pl.DataFrame:
    """Backtest points of one mature smooth segment: log errors ~ N(0, spread²), scale 1."""
    rng = np.random.default_rng(seed)
    yhat = np.full(n, 100.0)
    y = np.expm1(np.log1p(yhat) + rng.normal(0, spread, n))
    return pl.DataFrame(
        {
            "unique_id": [f"s{i % 20}" for i in range(n)],
            "model": "ets",
            "step": pl.Series([1 + i % 2 for i in range(n)], dtype=pl.Int16),
            "demand_class": "smooth",
            "history_weeks": pl.Series([60] * n, dtype=pl.Int16),
            "y": y,
            "yhat": yhat,
            "scale": 1.0,
        }
    )


def _forecast(yhat: float = 100.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unique_id": ["s0", "s0"],
            "ds": [date(2025, 1, 6), date(2025, 1, 13)],
            "model": "ets",
            "step": pl.Series([1, 2], dtype=pl.Int16),
            "demand_class": "smooth",
            "history_weeks": pl.Series([60, 60], dtype=pl.Int16),
            "yhat": yhat,
            "lo_80": yhat - 1,
            "hi_80": yhat + 1,
            "lo_95": yhat - 2,
            "hi_95": yhat + 2,
        }
    )


def test_bounds_widen_when_backtest_errors_are_larger() -> None:
    scale = pl.DataFrame({"unique_id": ["s0"], "scale": [1.0]})
    narrow = apply_calibration(_forecast(), calibrate(_points(0.1)), scale)
    wide = apply_calibration(_forecast(), calibrate(_points(0.3)), scale)
    for bound in ("hi_80", "hi_95"):
        assert (wide[bound] > narrow[bound]).all()
    for bound in ("lo_80", "lo_95"):
        assert (wide[bound] < narrow[bound]).all()
    # about ±1.28 σ on the log scale for the 80 % interval
    half = np.log1p(narrow["hi_80"].to_numpy()) - np.log1p(100.0)
    assert_allclose(half, 1.2816 * 0.1, rtol=0.25)


def test_calibrated_bounds_cover_their_own_backtest_at_the_nominal_rate() -> None:
    points = _points(0.2, n=2000, seed=3)
    table = calibrate(points)
    frame = points.with_columns(
        ds=date(2025, 1, 6) + pl.duration(weeks=pl.int_range(pl.len())),
        lo_80=0.0,
        hi_80=1e9,
        lo_95=0.0,
        hi_95=1e9,
    )
    scale = points.select("unique_id", "scale").unique()
    out = apply_calibration(frame.drop("y", "scale"), table, scale).join(
        frame.select("unique_id", "ds", "y"), on=["unique_id", "ds"]
    )
    for level in (80, 95):
        inside = ((out["y"] >= out[f"lo_{level}"]) & (out["y"] <= out[f"hi_{level}"])).mean()
        assert abs(inside - level / 100) < 0.02  # type: ignore[operator]


def test_too_few_errors_keep_the_models_own_interval() -> None:
    few = _points(0.3, n=MIN_POINTS // 2 - 1)  # two steps: each sees fewer than MIN_POINTS
    assert calibrate(few).is_empty()
    fc = _forecast()
    out = apply_calibration(fc, calibrate(few), pl.DataFrame({"unique_id": ["s0"], "scale": [1.0]}))
    assert_allclose(out["hi_95"].to_numpy(), fc["hi_95"].to_numpy())


def test_noise_scale_of_short_and_constant_series() -> None:
    start = date(2024, 1, 1)
    weeks = [start + timedelta(weeks=i) for i in range(10)]
    history = pl.DataFrame(
        {
            "unique_id": ["a"] * 10 + ["flat"] * 10 + ["new"] * 2,
            "ds": weeks + weeks + weeks[:2],
            "y": [np.expm1(v) for v in [1, 2] * 5] + [5.0] * 10 + [3.0, 4.0],
        }
    )
    scale = dict(noise_scale(history).iter_rows())
    assert_allclose(scale["a"], np.std(np.diff([1, 2] * 5), ddof=1))
    assert scale["flat"] == 0.05  # the floor
    assert scale["new"] == np.median([scale["a"], 0.0])  # the median of the others, floored
