"""Own estimates: profiles from a brand's own history, on any frequency, never NaN."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from numpy.testing import assert_allclose

from forecast.engine.events import calendar_of
from forecast.engine.priors import log_residuals, own_estimates, series_season
from forecast.engine.series import prepare_series
from tests.conftest import END, holidays_of, panel

NO_EVENTS = pl.DataFrame(schema={"unique_id": pl.String, "ds": pl.Date})


def test_constant_series_has_a_flat_profile() -> None:
    series = panel(n_series=1, weeks=156, season=0.0)
    series = series.with_columns(y=pl.lit(7.0))
    per_series = series_season(
        log_residuals(series),
        NO_EVENTS,
        "weekly",
    )
    assert per_series.height == 52
    assert_allclose(per_series["own"].to_numpy(), 0.0, atol=1e-12)


def test_monthly_and_quarterly_positions() -> None:
    months = [date(2020 + (m // 12), m % 12 + 1, 1) for m in range(48)]
    y = 100 * np.exp(0.4 * np.cos(2 * np.pi * np.arange(48) / 12))
    series = pl.DataFrame({"unique_id": "m", "market": "europe", "ds": months, "y": y})
    per_series = series_season(
        log_residuals(series, "monthly"),
        NO_EVENTS,
        "monthly",
    )
    profile = per_series.sort("key")["own"].to_numpy()
    assert profile.argmax() == 0 and len(profile) == 12
    quarters = [date(2015 + q // 4, 3 * (q % 4) + 1, 1) for q in range(40)]
    qseries = pl.DataFrame(
        {
            "unique_id": "q",
            "market": "europe",
            "ds": quarters,
            "y": 50.0 * np.tile([1.0, 1.5, 1.0, 0.6], 10),
        }
    )
    qprofile = series_season(
        log_residuals(qseries, "quarterly"),
        NO_EVENTS,
        "quarterly",
    )
    assert qprofile.sort("key")["own"].to_numpy().argmax() == 1


def test_edge_histories_never_give_nan() -> None:
    holidays = holidays_of(["europe"], 2021, 2025)
    zeros = panel(n_series=2, weeks=80).with_columns(y=pl.lit(0.0))
    short = panel(n_series=2, weeks=10, seed=2)
    gappy = panel(n_series=2, weeks=120, seed=3).filter(pl.col("ds").dt.month() != 7)
    for name, frame in {"zeros": zeros, "short": short, "gappy": gappy}.items():
        sales = frame.rename({"y": "units"}).drop("unique_id")
        series, _ = prepare_series(sales, END)
        cal = calendar_of(sales, holidays)
        est = own_estimates(name, series, cal)
        for table in (est.season, est.events):
            assert table.select(pl.col("own", "var").is_nan().any()).sum_horizontal()[0] == 0, name
    short_series, _ = prepare_series(short.rename({"y": "units"}).drop("unique_id"), END)
    assert own_estimates("short", short_series, cal).season.is_empty()
