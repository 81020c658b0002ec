"""Pools and shrinkage: properties that must always hold, and the estimator against a loop."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from numpy.testing import assert_allclose

from forecast.engine.events import calendar_of, empty_calendar
from forecast.engine.pooling import between_variance, pool_priors, shrink_series
from forecast.engine.priors import OwnEstimates, own_estimates, series_estimates
from forecast.engine.series import prepare_series
from forecast.inputs.config import load_brands
from forecast.inputs.synthetic import generate_sales
from forecast.vocabulary import SECTORS
from tests.conftest import END, START, holidays_of, panel

WEEKS = np.arange(52)
EMPTY_EVENTS = pl.DataFrame(
    schema={"brand": pl.String, "key": pl.String, "own": pl.Float64, "var": pl.Float64}
)
PLACES = {"brand": pl.String, "event": pl.String, "pos": pl.Int16, "carried": pl.Boolean}
NO_PLACES = pl.DataFrame(schema=PLACES)


def own(brand: str, profile: np.ndarray | None, var: float = 0.01) -> OwnEstimates:
    """Hand-made own estimates; ``profile=None`` means no history of its own."""
    season = (
        pl.DataFrame(schema=EMPTY_EVENTS.schema)
        if profile is None
        else pl.DataFrame(
            {"brand": brand, "key": WEEKS.astype(str), "own": profile - profile.mean(), "var": var}
        )
    )
    stats = pl.DataFrame(
        {
            "brand": [brand],
            "history_weeks": [0 if profile is None else 156],
            "n_series": [1],
            "n_profiled": [0 if profile is None else 1],
        }
    )
    return OwnEstimates(season=season, events=EMPTY_EVENTS, stats=stats, places=NO_PLACES)


def wave(phase: float, amp: float = 0.5) -> np.ndarray:
    return amp * np.cos(2 * np.pi * (WEEKS - phase) / 52)


def season_of(priors, brand: str, column: str = "shrunk") -> np.ndarray:  # type: ignore[no-untyped-def]
    rows = priors.brands.filter(pl.col("brand") == brand, pl.col("kind") == "season")
    return rows.with_columns(pl.col("key").cast(int)).sort("key")[column].to_numpy()


def sector_profile_of(priors, sector: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    rows = priors.pools.filter(
        pl.col("level") == "sector", pl.col("pool") == sector, pl.col("kind") == "season"
    )
    return rows.with_columns(pl.col("key").cast(int)).sort("key")["shrunk"].to_numpy()


def weight_of(priors, name: str, kind: str = "season") -> float:  # type: ignore[no-untyped-def]
    row = priors.weights.filter(pl.col("name") == name, pl.col("kind") == kind)
    return float(row["own_weight"][0])


@pytest.fixture
def three_brands() -> list[OwnEstimates]:
    rng = np.random.default_rng(1)
    return [own(f"b{i}", wave(40 + 8 * i) + rng.normal(0, 0.05, 52)) for i in range(3)]


def test_brand_without_history_takes_its_pool_profile_exactly(
    three_brands: list[OwnEstimates],
) -> None:
    estimates = [*three_brands, own("newcomer", None)]
    pools = {e.stats["brand"][0]: "wines_spirits" for e in estimates}
    priors = pool_priors(estimates, pools, list(SECTORS))
    assert weight_of(priors, "newcomer") == 0.0
    assert_allclose(
        season_of(priors, "newcomer"), sector_profile_of(priors, "wines_spirits"), atol=1e-12
    )


def test_weights_in_unit_interval_and_precise_brands_keep_their_own(
    three_brands: list[OwnEstimates],
) -> None:
    precise = own("precise", wave(20), var=1e-9)
    priors = pool_priors(
        [*three_brands, precise],
        {**{f"b{i}": "wines_spirits" for i in range(3)}, "precise": "wines_spirits"},
        list(SECTORS),
    )
    weights = priors.weights["own_weight"].to_numpy()
    assert ((weights >= 0) & (weights <= 1)).all()
    assert weight_of(priors, "precise") > 0.999
    assert_allclose(season_of(priors, "precise"), season_of(priors, "precise", "own"), atol=1e-3)


def test_noisier_brand_borrows_more(three_brands: list[OwnEstimates]) -> None:
    noisy = own("noisy", wave(30), var=1.0)
    pools = {**{f"b{i}": "wines_spirits" for i in range(3)}, "noisy": "wines_spirits"}
    priors = pool_priors([*three_brands, noisy], pools, list(SECTORS))
    assert weight_of(priors, "noisy") < min(weight_of(priors, f"b{i}") for i in range(3))


def test_profiles_stay_normalised(three_brands: list[OwnEstimates]) -> None:
    priors = pool_priors(
        three_brands, {f"b{i}": "fashion_leather" for i in range(3)}, list(SECTORS)
    )
    for i in range(3):
        assert abs(season_of(priors, f"b{i}").mean()) < 1e-12
    assert abs(sector_profile_of(priors, "fashion_leather").mean()) < 1e-12


def test_opted_out_brand_is_untouched_and_lends_nothing(three_brands: list[OwnEstimates]) -> None:
    loner = own("loner", wave(10, amp=2.0))
    pools = {f"b{i}": "wines_spirits" for i in range(3)}
    with_loner = pool_priors([*three_brands, loner], {**pools, "loner": None}, list(SECTORS))
    without = pool_priors(three_brands, pools, list(SECTORS))
    assert_allclose(season_of(with_loner, "loner"), season_of(with_loner, "loner", "own"))
    assert weight_of(with_loner, "loner") == 1.0
    assert_allclose(
        sector_profile_of(with_loner, "wines_spirits"), sector_profile_of(without, "wines_spirits")
    )


def test_single_brand_pool_and_empty_sectors_are_defined(three_brands: list[OwnEstimates]) -> None:
    solo = own("solo", wave(40))
    pools = {**{f"b{i}": "wines_spirits" for i in range(3)}, "solo": "watches_jewelry"}
    priors = pool_priors([*three_brands, solo], pools, list(SECTORS))
    for table in (priors.brands, priors.pools, priors.weights):
        numeric = table.select(pl.col(pl.Float64).exclude("own", "noise_var"))
        assert numeric.null_count().sum_horizontal()[0] == 0
        assert all(np.isfinite(numeric[c].to_numpy()).all() for c in numeric.columns)
    group = priors.pools.filter(pl.col("level") == "group", pl.col("kind") == "season")
    group_profile = group.with_columns(pl.col("key").cast(int)).sort("key")["shrunk"].to_numpy()
    assert_allclose(sector_profile_of(priors, "selective_retailing"), group_profile)


def test_nobody_has_history_gives_flat_profiles() -> None:
    priors = pool_priors(
        [own("a", None), own("b", None)],
        {"a": "wines_spirits", "b": "wines_spirits"},
        list(SECTORS),
    )
    assert_allclose(season_of(priors, "a"), np.zeros(52))


def test_extremes_are_the_two_ends(three_brands: list[OwnEstimates]) -> None:
    pools = {f"b{i}": "wines_spirits" for i in range(3)}
    none = pool_priors(three_brands, pools, list(SECTORS), pooling="none")
    full = pool_priors(three_brands, pools, list(SECTORS), pooling="full")
    assert_allclose(season_of(none, "b0"), season_of(none, "b0", "own"))
    assert_allclose(season_of(full, "b0"), sector_profile_of(full, "wines_spirits"))


def test_between_variance_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(5)
    rows = [
        ("g", f"m{m}", k, rng.normal(0, 0.3), rng.uniform(0.01, 0.05))
        for m in range(4)
        for k in range(6)
    ]
    est = pl.DataFrame(rows, schema=["g", "member", "key", "own", "var"], orient="row")
    q = df = c = 0.0
    for k in range(6):
        v = np.array([r[3] for r in rows if r[2] == k])
        w = 1 / np.array([r[4] for r in rows if r[2] == k])
        mean = (w * v).sum() / w.sum()
        q += (w * (v - mean) ** 2).sum()
        df += len(v) - 1
        c += w.sum() - (w**2).sum() / w.sum()
    expected = max(0.0, (q - df) / c)
    assert_allclose(between_variance(est, "g")["tau2"][0], expected, rtol=1e-10)


def test_series_shrink_toward_their_brand() -> None:
    series = panel(n_series=4, weeks=156, seed=9)
    per_series = series_estimates(series, empty_calendar()).measured.profiles
    brand = pl.DataFrame({"key": WEEKS.astype(str), "shrunk": wave(13)})
    ids = pl.Series(["b/europe/p0", "b/europe/p1", "b/europe/p2", "b/europe/p3", "b/europe/new"])
    profiles, weights = shrink_series(per_series, brand, ids)
    w = dict(weights.iter_rows())
    assert w["b/europe/new"] == 0.0 and all(0 <= v <= 1 for v in w.values())
    new = profiles.filter(pl.col("unique_id") == "b/europe/new").sort("pos")["season"].to_numpy()
    assert_allclose(new, wave(13))


def test_real_brands_borrow_by_history(config_dir: Path) -> None:
    brands = load_brands(config_dir)
    sales = generate_sales(brands, START, END, seed=0).sales
    cal = calendar_of(sales, holidays_of(["europe", "china", "americas"], 2021, 2025))
    estimates = []
    for b in brands:
        series, _ = prepare_series(sales.filter(pl.col("brand") == b), END)
        estimates.append(own_estimates(b, series, cal))
    priors = pool_priors(estimates, {b: c.pool for b, c in brands.items()}, list(SECTORS))
    assert weight_of(priors, "young_b") == 0.0  # 10 weeks: borrows everything
    assert weight_of(priors, "perfumes_a") > 0.5  # 3 years of high volume: keeps most of its own
    assert_allclose(season_of(priors, "young_b"), sector_profile_of(priors, "perfumes_cosmetics"))
    # Event uplifts pool the same way: the young brand gets its sector's Singles' Day uplift.
    events = priors.brands.filter(pl.col("kind") == "event", pl.col("key") == "singles_day")
    young = events.filter(pl.col("brand") == "young_b")
    assert young["own_weight" if "own_weight" in young.columns else "shrunk"][0] is not None
    assert young["shrunk"][0] > 0.3


def test_member_with_part_of_a_profile_borrows_the_rest(three_brands: list[OwnEstimates]) -> None:
    partial = own("partial", wave(40), var=0.01)
    seen = partial.season.filter(pl.col("key").cast(int) < 20)
    partial = OwnEstimates(season=seen, events=EMPTY_EVENTS, stats=partial.stats, places=NO_PLACES)
    pools = {f"b{i}": "wines_spirits" for i in range(3)} | {"partial": "wines_spirits"}
    priors = pool_priors([*three_brands, partial], pools, list(SECTORS))
    shrunk, pooled = season_of(priors, "partial"), season_of(priors, "partial", "pooled")
    assert_allclose(shrunk[20:], pooled[20:])  # positions it never saw: the pool's
    assert 0 < weight_of(priors, "partial") < 1
    assert np.abs(shrunk[:20] - pooled[:20]).max() > 1e-3  # what it saw moved it


def test_a_pool_carries_an_event_where_most_of_its_lenders_that_held_it_there_do(
    three_brands: list[OwnEstimates],
) -> None:
    # Two of three wine brands carry Christmas in their profile at week 51 (they could not
    # tell it apart there), the third told it apart; one fashion brand carries Easter. A
    # brand that borrows reads its sector's places, the group's for events its sector never
    # held; one that opted out borrows nothing, and without pooling nobody does.
    rows = [("b0", "christmas", 51, True), ("b1", "christmas", 51, True),
            ("b2", "christmas", 51, False), ("b2", "christmas", 50, False),
            ("f", "easter", 14, True)]  # fmt: skip
    places = pl.DataFrame(rows, schema=PLACES, orient="row")
    brands = {"f": own("f", wave(10)), "new": own("new", None), "alone": own("alone", None)}
    brands |= {f"b{i}": e for i, e in enumerate(three_brands)}
    estimates = [
        replace(e, places=places.filter(pl.col("brand") == name)) for name, e in brands.items()
    ]
    pools = {"b0": "wines_spirits", "b1": "wines_spirits", "b2": "wines_spirits",
             "f": "fashion_leather", "new": "wines_spirits", "alone": None}  # fmt: skip
    priors = pool_priors(estimates, pools, list(SECTORS))
    lent = priors.borrowed_places("new").select("event", "pos").rows()
    assert lent == [("christmas", 51), ("easter", 14)]
    assert priors.borrowed_places("alone").is_empty()
    none = pool_priors(estimates, pools, list(SECTORS), "none")
    assert none.borrowed_places("new").is_empty()
