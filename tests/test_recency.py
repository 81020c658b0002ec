"""Recency: half-lives chosen from the data, weights, and the drift the history gets."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from numpy.testing import assert_allclose

from forecast.engine.decomposition import decompose
from forecast.engine.recency import _two_sided_minus_end, choose_half_life, recency_weight
from tests.test_decomposition import NOTHING, PROFILE, effects, positions, weekly


def test_drifting_seasonality_gets_a_half_life_and_a_drift() -> None:
    n, rng = 52 * 8, np.random.default_rng(2)
    pos = positions(n)
    moving = np.linspace(1.0, -1.0, n)[:, None] * PROFILE[None, :]  # the shape turns over
    values = 4.0 + moving[np.arange(n), pos] + rng.normal(0, 0.05, n)
    dec = decompose(weekly(values), NOTHING)
    assert dec.half_life <= 2.0
    late = effects(dec.season)
    assert np.corrcoef(late, -PROFILE)[0, 1] > 0.9  # follows the recent years
    drift = dec.rows.filter(pl.col("t") < 52).select("pos", "drift")
    early = drift.sort("pos")["drift"].to_numpy()
    assert np.corrcoef(early, PROFILE - late)[0, 1] > 0.8  # the old years had the old shape


def test_static_seasonality_weighs_years_alike() -> None:
    rng = np.random.default_rng(3)
    n = 52 * 6
    frames = [
        weekly(4.0 + PROFILE[positions(n)] + rng.normal(0, 0.2, n), f"s{i}") for i in range(20)
    ]
    dec = decompose(pl.concat(frames), NOTHING)
    assert dec.half_life >= 4.0
    assert (dec.rows["drift"].abs() < 0.2).all()
    assert choose_half_life(dec.rows.filter(pl.col("t") < 100), 52) == math.inf  # < 3 seasons


def test_recency_weight_halves_every_half_life() -> None:
    frame = pl.DataFrame({"unique_id": "a", "t": [0, 52, 104]})
    w = frame.select(recency_weight(1.0, 52).alias("w"))["w"].to_numpy()
    assert_allclose(w, [0.25, 0.5, 1.0])
    flat = frame.with_columns(recency_weight(math.inf, 52).alias("w"))["w"].to_numpy()
    assert_allclose(flat, 1.0)


def test_drift_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(4)
    sizes = [1, 3, 6]
    group = np.repeat(np.arange(3), sizes)
    use = (rng.random(10) > 0.2).astype(float)
    value = use * rng.normal(0, 1, 10)
    lam = 0.6
    expected = []
    for g, size in enumerate(sizes):
        v, u = value[group == g], use[group == g]
        end = lam ** (size - 1 - np.arange(size))
        final = (end * v).sum() / max((end * u).sum(), 1e-12)
        for k in range(size):
            w = np.array([lam ** abs(k - j) if j != k else 0.0 for j in range(size)])
            den = (w * u).sum()
            expected.append((w * v).sum() / den - final if den > 1e-12 else 0.0)
    assert_allclose(_two_sided_minus_end(group, use, value, lam), expected, atol=1e-12)
