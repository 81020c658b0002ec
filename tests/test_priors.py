"""Own estimates: profiles from a brand's own history, on any frequency, never NaN."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
from numpy.testing import assert_allclose

from forecast.engine.events import calendar_of, empty_calendar
from forecast.engine.priors import own_estimates, series_estimates
from forecast.engine.series import prepare_series
from forecast.inputs.calendar import season_position
from tests.conftest import END, holidays_of, panel

NO_EVENTS = empty_calendar()


def test_constant_series_has_a_flat_profile() -> None:
    series = panel(n_series=1, weeks=156, season=0.0)
    series = series.with_columns(y=pl.lit(7.0))
    per_series = series_estimates(series, NO_EVENTS).measured.profiles
    assert per_series.height == 52
    assert_allclose(per_series["own"].to_numpy(), 0.0, atol=1e-12)


def test_monthly_and_quarterly_positions() -> None:
    months = [date(2020 + (m // 12), m % 12 + 1, 1) for m in range(48)]
    y = 100 * np.exp(0.4 * np.cos(2 * np.pi * np.arange(48) / 12))
    series = pl.DataFrame({"unique_id": "m", "market": "europe", "ds": months, "y": y})
    per_series = series_estimates(series, NO_EVENTS, "monthly").measured.profiles
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
    qprofile = series_estimates(qseries, NO_EVENTS, "quarterly").measured.profiles
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


def test_short_series_contribute_where_they_have_data() -> None:
    long = panel(n_series=2, weeks=156, seed=4)
    young = panel(n_series=1, weeks=20, seed=5).with_columns(unique_id=pl.lit("b/europe/young"))
    series = pl.concat([long, young])
    per_series = series_estimates(series, NO_EVENTS).measured.profiles
    seen = per_series.filter(pl.col("unique_id") == "b/europe/young")
    assert 20 <= seen.height <= 22  # its 20 positions, smoothed into the two beside them
    alone = series_estimates(young, NO_EVENTS).measured.profiles
    assert alone.is_empty()  # nothing to align it with: it estimates nothing
    est = own_estimates("b", series, NO_EVENTS)
    assert est.stats["n_profiled"][0] == 3


def test_event_weeks_are_explained_by_their_uplift_not_the_profile() -> None:
    series = panel(n_series=3, weeks=156, seed=6, season=0.0)
    cal = calendar_of(series.drop("unique_id", "y").unique(), holidays_of(["europe"], 2021, 2025))
    touched = series.join(cal.filter(pl.col("event") == "valentines"), on=["unique_id", "ds"])
    lifted = series.join(
        touched.select("unique_id", "ds", lift=pl.col("weight")), on=["unique_id", "ds"], how="left"
    ).with_columns(y=pl.col("y") * (1 + 2 * pl.col("lift").fill_null(0.0)))
    est = own_estimates("b", lifted.drop("lift"), cal)
    uplift = est.events.filter(pl.col("key") == "valentines")["own"][0]
    assert 0.8 < uplift < 1.3  # log(3) ≈ 1.1 on the event week
    assert est.season["own"].abs().max() < 0.15  # flat profile: the lift stayed out of it


def test_a_sharp_recurring_week_keeps_its_height_while_noise_is_smoothed() -> None:
    flat = panel(n_series=4, weeks=156, seed=9, season=0.0)
    sharp = flat.with_columns(
        y=pl.when(season_position(pl.col("ds")) == 30).then(pl.col("y") * np.e).otherwise("y")
    )
    profile = own_estimates("b", sharp, NO_EVENTS).season.sort(pl.col("key").cast(pl.Int16))
    own = profile["own"].to_numpy()
    assert own[30] - np.delete(own, [29, 30, 31]).mean() > 0.85  # the kernel alone: ~0.5
    noise = own_estimates("b", flat, NO_EVENTS).season["own"].to_numpy()
    raw = series_estimates(flat, NO_EVENTS).resid.group_by("pos").agg(pl.col("r").mean())
    assert noise.std() < 0.8 * raw["r"].std()  # within noise of its neighbours: smoothed


def test_two_event_weeks_seen_once_on_the_rise_of_the_season_are_measured_from_both_sides() -> None:
    # Black Friday then Cyber Monday on the rise to Christmas, seen once: each week's profile
    # is interpolated across the two-week gap, not copied from the nearest clean week (that
    # put half the rise into one uplift and took it out of the other).
    series = panel(n_series=6, weeks=70, seed=11, season=0.0, level=200.0)
    pos = season_position(pl.col("ds"))
    rise = (0.2 * (pos - 20).clip(0, 10)).cast(pl.Float64)
    first = pl.col("ds") < series["ds"].min() + timedelta(weeks=52)
    friday, monday = first & (pos == 24), first & (pos == 25)
    lifted = series.with_columns(
        y=pl.col("y") * (rise + pl.when(friday).then(0.5).otherwise(0.0)).exp()
    )
    cal = pl.concat(
        [
            lifted.filter(hit).select("unique_id", "ds", event=pl.lit(name), weight=pl.lit(1.0))
            for name, hit in (("black_friday", friday), ("cyber_monday", monday))
        ]
    )
    uplift = dict(own_estimates("b", lifted, cal).events.select("key", "own").rows())
    assert abs(uplift["black_friday"] - 0.5) < 0.1 and abs(uplift["cyber_monday"]) < 0.1, uplift


def test_an_event_in_the_same_month_of_every_series_and_year_stays_in_the_profile() -> None:
    months = [date(2020 + m // 12, m % 12 + 1, 1) for m in range(48)]
    december = np.array([d.month == 12 for d in months])
    frames = [
        pl.DataFrame(
            {"unique_id": f"m{i}", "market": "FR", "ds": months, "y": 100 * np.exp(december)}
        )
        for i in range(2)
    ]
    series = pl.concat(frames)
    cal = series.filter(pl.col("ds").dt.month() == 12).select(
        "unique_id", "ds", event=pl.lit("christmas"), weight=pl.lit(1.0)
    )
    est = own_estimates("b", series, cal, "monthly")
    assert est.events.is_empty()  # not told from the season: no uplift of its own
    profile = est.season.sort(pl.col("key").cast(pl.Int16))["own"].to_numpy()
    assert profile.argmax() == 11 and profile[11] - profile[:11].mean() > 0.9
