"""Synthetic sales: deterministic, sector-shaped, young brands and SKUs, truth kept."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from forecast.inputs.config import load_brands
from forecast.inputs.synthetic import generate_brand, generate_sales, sector_profile, weeks_between
from tests.conftest import END, START


def test_deterministic_and_independent_of_other_brands(config_dir: Path) -> None:
    brands = load_brands(config_dir)
    one = generate_sales(brands, START, END, seed=3)
    again = generate_sales(brands, START, END, seed=3)
    assert_frame_equal(one.sales, again.sales)
    alone = generate_brand(brands["wines_a"], weeks_between(START, END), seed=3)
    assert_frame_equal(one.sales.filter(pl.col("brand") == "wines_a"), alone.sales)
    other = generate_sales(brands, START, END, seed=4)
    assert not one.sales["units"].equals(other.sales["units"])


def test_shape_keys_and_truth(config_dir: Path) -> None:
    data = generate_sales(load_brands(config_dir), START, END)
    assert data.sales.columns == ["brand", "market", "product", "ds", "units", "price", "promo"]
    keys = ["brand", "market", "product", "ds"]
    assert data.sales.select(keys).is_unique().all()
    assert_frame_equal(data.sales.select(keys), data.truth.select(keys))
    assert (data.truth["mu"] > 0).all() and (data.sales["units"] >= 0).all()
    assert (data.sales["ds"].dt.weekday() == 1).all()


def test_young_brand_starts_at_launch(config_dir: Path) -> None:
    data = generate_sales(load_brands(config_dir), START, END)
    young = data.sales.filter(pl.col("brand") == "young_b")
    assert young["ds"].min() == date(2024, 10, 21)
    assert young["ds"].n_unique() == 11


def test_watches_are_intermittent_and_spirits_are_not(config_dir: Path) -> None:
    data = generate_sales(load_brands(config_dir), START, END)
    zeros = data.sales.group_by("brand").agg(z=(pl.col("units") == 0).mean())
    share = dict(zeros.iter_rows())
    assert share["watches_a"] > 0.3
    assert share["wines_a"] < 0.01


def test_spirits_peak_in_december_and_events_move_with_their_dates(config_dir: Path) -> None:
    profile = sector_profile("wines_spirits")
    assert profile.argmax() in (49, 50, 51) and abs(profile.mean()) < 1e-12
    data = generate_sales(load_brands(config_dir), START, END)
    truth = data.truth.filter(pl.col("brand") == "wines_a", pl.col("market") == "china")
    weekly = truth.group_by("ds").agg(pl.col("mu").sum()).sort("ds")
    cny_2023, cny_2024 = date(2023, 1, 16), date(2024, 2, 5)  # weeks of 22 Jan 2023 / 10 Feb 2024

    def mu(day: date) -> float:
        return float(weekly.filter(pl.col("ds") == day)["mu"][0])

    # Same week of the year, the other year (no New Year then): the uplift follows the date.
    assert mu(cny_2023) > 1.5 * mu(date(2024, 1, 15))
    assert mu(cny_2024) > 1.5 * mu(date(2023, 2, 6))


def test_scale_multiplies_series(config_dir: Path) -> None:
    brand = load_brands(config_dir)["wines_a"]
    weeks = weeks_between(START, END)
    small = generate_brand(brand, weeks, scale=1.0).sales.select("market", "product").n_unique()
    big = generate_brand(brand, weeks, scale=4.0).sales.select("market", "product").n_unique()
    assert big == 4 * small
    assert np.isfinite(generate_brand(brand, weeks, scale=4.0).truth["mu"].to_numpy()).all()
