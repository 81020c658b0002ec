"""Trend + season-position decomposition: tiny series whose answer is known by construction."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
from numpy.testing import assert_allclose

from forecast.engine.decomposition import decompose
from forecast.inputs.calendar import season_position

NOTHING = pl.DataFrame(schema={"unique_id": pl.String, "ds": pl.Date})
START = date(2021, 1, 4)
# One bump at week 40 plus a trough in spring; mean zero over the 52 positions.
_RAW = 0.6 * np.exp(-0.5 * ((np.arange(52) - 40) / 3.0) ** 2) - 0.3 * np.exp(
    -0.5 * ((np.arange(52) - 12) / 5.0) ** 2
)
PROFILE = _RAW - _RAW.mean()


def weekly(log_values: np.ndarray, uid: str = "a", start: date = START) -> pl.DataFrame:
    """A weekly series whose log1p is ``log_values``."""
    weeks = [start + timedelta(weeks=i) for i in range(len(log_values))]
    return pl.DataFrame({"unique_id": uid, "ds": weeks, "y": np.expm1(log_values)})


def positions(n: int, start: date = START) -> np.ndarray:
    weeks = pl.Series([start + timedelta(weeks=i) for i in range(n)])
    return pl.select(season_position(pl.lit(weeks))).to_series().to_numpy()


def effects(dec_season: pl.DataFrame, uid: str = "a") -> np.ndarray:
    """The 52 position effects of one series (NaN where it has none), centred."""
    rows = dec_season.filter(pl.col("unique_id") == uid)
    out = np.full(52, np.nan)
    out[rows["key"].to_numpy()] = rows["own"].to_numpy()
    return out - np.nanmean(out)


def test_pure_seasonal_series_is_recovered() -> None:
    n = 156
    dec = decompose(weekly(4.0 + PROFILE[positions(n)]), NOTHING)
    assert_allclose(effects(dec.season), PROFILE, atol=1e-3)  # backfitting: 4 iterations


def test_linear_trend_does_not_leak_into_the_profile() -> None:
    for n in (78, 95, 160):  # 1.5 seasons, the retail case, three seasons
        t = np.arange(n)
        dec = decompose(weekly(3.0 + 0.6 * t / 52 + PROFILE[positions(n)]), NOTHING)
        assert_allclose(effects(dec.season), PROFILE, atol=1e-3, err_msg=f"{n} weeks")


def test_a_bent_trend_over_five_years_does_not_leak() -> None:
    n = 260
    t = np.arange(n)
    trend = np.where(t < 130, 0.5 * t / 52, 1.25 - 0.3 * (t - 130) / 52)
    dec = decompose(weekly(3.0 + trend + PROFILE[positions(n)]), NOTHING)
    assert np.abs(effects(dec.season) - PROFILE).max() < 0.03


def test_one_thirty_fold_week_barely_moves_the_profile() -> None:
    n = 95
    rng = np.random.default_rng(0)
    base = 4.0 + PROFILE[positions(n)] + rng.normal(0, 0.1, n)
    clean = effects(decompose(weekly(base), NOTHING).season)
    for week in (20, 70):  # a position seen once (week 20) and one seen twice (70 and 18)
        spiked = base.copy()
        spiked[week] = np.log1p(30 * np.expm1(base[week]))
        moved = np.abs(effects(decompose(weekly(spiked), NOTHING).season) - clean).max()
        assert moved < 0.1, (week, moved)  # the noise sd; unchecked it would be ~1.7


def test_a_chain_wide_twenty_fold_week_beside_event_weeks_barely_moves_the_profile() -> None:
    # Mothering Sunday covers the week before the spike's position every year and the
    # spike's own position the other year: the week has neither a neighbour on that side
    # nor another year to be judged against, and noisy low-volume series (sd 0.3) let a
    # 20× week through their own bound. Shared by every series, it is the chain's week.
    n, spike = 111, 62
    rng = np.random.default_rng(1)
    pos = positions(n)
    frames, spiked_frames = [], []
    for i in range(12):
        base = 2.5 + PROFILE[pos] + rng.normal(0, 0.3, n)
        frames.append(weekly(base, f"s{i}"))
        lifted = base.copy()
        lifted[spike] = np.log1p(20 * np.expm1(base[spike]))
        spiked_frames.append(weekly(lifted, f"s{i}"))
    clean, spiked = pl.concat(frames), pl.concat(spiked_frames)
    same_pos = [w for w in range(n) if pos[w] == pos[spike] and w != spike]
    events = [w for w in range(n) if pos[w] == pos[spike] - 1] + same_pos
    weeks = pl.Series([START + timedelta(weeks=w) for w in events], dtype=pl.Date)
    exclude = clean.select("unique_id").unique().join(pl.DataFrame({"ds": weeks}), how="cross")

    def profile(frame: pl.DataFrame) -> np.ndarray:
        season = decompose(frame, exclude).season
        return np.mean([effects(season, f"s{i}") for i in range(12)], axis=0)  # NaN: excluded

    moved = np.abs(profile(spiked) - profile(clean))
    assert np.nanmax(moved) < 0.15, moved[pos[spike]]  # let through: ~2.5 at its position


def test_a_recurring_peak_is_not_an_outlier() -> None:
    n = 160
    peak = np.where(positions(n) == 50, np.log(8.0), 0.0)  # an 8× week, every year
    dec = decompose(weekly(4.0 + peak), NOTHING)
    assert effects(dec.season)[50] > 0.95 * np.log(8.0)


def test_positions_seen_once_get_a_larger_variance() -> None:
    n = 85
    rng = np.random.default_rng(1)
    pos = positions(n)
    dec = decompose(weekly(4.0 + PROFILE[pos] + rng.normal(0, 0.2, n)), NOTHING)
    var = dict(dec.season.select("key", "var").iter_rows())
    counts = np.bincount(pos, minlength=52)
    once = [var[k] for k in range(52) if counts[k] == 1]
    twice = [var[k] for k in range(52) if counts[k] == 2]
    assert_allclose(np.mean(once), 2 * np.mean(twice), rtol=1e-9)
    assert 0.02 < np.mean(once) < 0.08  # about the noise variance 0.04


def test_a_short_series_noise_is_not_inflated_by_what_the_trend_missed() -> None:
    # 18 months, noise 0.1 in log: 6 months seen twice (variance 0.01 / 2), 6 seen once
    # (0.01), so 0.0075 on average. The year-to-year changes behind the noise estimate
    # also hold the error of an 18-month trend line, common to every position (0.0108
    # before it was taken out).
    shape = 0.4 * np.cos(2 * np.pi * np.arange(12) / 12)
    months = [date(2015 + m // 12, m % 12 + 1, 1) for m in range(18)]
    means = []
    for seed in range(20):
        noise = np.random.default_rng(seed).normal(0, 0.1, 18)
        y = np.expm1(5 + shape[np.arange(18) % 12] + noise)
        frame = pl.DataFrame({"unique_id": "m", "ds": months, "y": y})
        means.append(decompose(frame, NOTHING, "monthly").season["var"].mean())
    assert 0.8 * 0.0075 < np.mean(means) < 1.15 * 0.0075


def test_excluded_and_unknown_weeks_are_left_out() -> None:
    n = 104
    values = 4.0 + PROFILE[positions(n)]
    frame = weekly(values).with_columns(
        y=pl.when(pl.int_range(pl.len()) == 30).then(None).otherwise(pl.col("y"))
    )
    frame = frame.with_columns(
        y=pl.when(pl.int_range(pl.len()) == 60).then(1e6).otherwise(pl.col("y"))
    )
    exclude = frame.slice(60, 1).select("unique_id", "ds")
    dec = decompose(frame, exclude)
    assert_allclose(effects(dec.season), PROFILE, atol=1e-3)


def test_a_series_shorter_than_a_season_aligns_to_the_reference() -> None:
    reference = pl.DataFrame({"key": np.arange(52), "ref": PROFILE})
    # 30 weeks from week 20 on: a rising level and the reference shape, plus a bump of its own.
    start = START + timedelta(weeks=20)
    pos = positions(30, start)
    own = np.where(pos == 35, 0.3, 0.0)
    young = weekly(2.0 + 0.02 * np.arange(30) + PROFILE[pos] + own, "young", start)
    assert decompose(young, NOTHING).season.is_empty()  # nothing to measure it against
    dec = decompose(young, NOTHING, reference=reference)
    got = dec.season.sort("key")
    expected = PROFILE[got["key"].to_numpy()] + np.where(got["key"].to_numpy() == 35, 0.3, 0.0)
    assert got.height == 30 and not got["full"].any()
    assert np.abs(got["own"].to_numpy() - expected).max() < 0.03


def test_monthly_and_quarterly_series_decompose_too() -> None:
    months = [date(2015 + m // 12, m % 12 + 1, 1) for m in range(60)]
    shape = 0.4 * np.cos(2 * np.pi * np.arange(12) / 12)
    t = np.arange(60)
    frame = pl.DataFrame(
        {"unique_id": "m", "ds": months, "y": np.expm1(5 + 0.01 * t + shape[t % 12])}
    )
    dec = decompose(frame, NOTHING, "monthly")
    got = dec.season.sort("key")["own"].to_numpy()
    assert_allclose(got - got.mean(), shape - shape.mean(), atol=1e-3)
    quarters = [date(2012 + q // 4, 3 * (q % 4) + 1, 1) for q in range(30)]
    peaks = np.log([1.0, 1.6, 1.0, 0.6])
    q = np.arange(30)
    frame = pl.DataFrame(
        {"unique_id": "q", "ds": quarters, "y": np.expm1(4 + 0.02 * q + peaks[q % 4])}
    )
    got = decompose(frame, NOTHING, "quarterly").season.sort("key")["own"].to_numpy()
    assert_allclose(got - got.mean(), peaks - peaks.mean(), atol=1e-3)
