"""Seeded synthetic weekly sales that behave like the five sectors (demo, tests, benchmarks).

Expected demand on the log scale is

    log mu = log base(series) + trend(brand) · years + season(series, week of year)
             + Σ event uplift(brand, event) · weight(event, market, week)
             + promo uplift · promo + life cycle(series, week),

where the series season is the sector archetype plus a brand deviation (size set by the
brand's ``synthetic.seasonal_deviation``) plus a small series deviation, and the moving
holidays are those of ``inputs.holidays`` on their real dates per market. Units are drawn
from a gamma–Poisson (negative binomial) around ``mu``; ``mu`` itself is kept as the truth.
The promotions and SKU launches it simulates are returned as ``events`` rows (promotions
also for the weeks after the last one, as a planner would know them). Everything is
vectorised per brand over a (series × week) grid.

Knobs that make the data look like real exports (all off by default, drawn from their own
random stream so the data without them does not change): chain-wide one-week promotion
spikes (in ``mu``), SKUs that pause (``mu`` = 0, no rows) and restart, outages of a whole
market (no rows, ``mu`` kept in the truth), and returns (net units, possibly negative; the
truth stays the demand ``mu``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from forecast.inputs.calendar import season_position, week_start
from forecast.inputs.config import BrandConfig
from forecast.inputs.holidays import event_calendar
from forecast.inputs.markets import Markets, shipped_markets

_WEEKS = np.arange(52)
# Archetypes: (centre week, amplitude on log scale, width in weeks) bumps per sector.
_BUMPS: dict[str, list[tuple[float, float, float]]] = {
    "wines_spirits": [(50.5, 0.9, 2.5), (46.0, 0.35, 3.0), (30.0, -0.2, 5.0)],
    "fashion_leather": [(9.0, 0.4, 2.5), (37.0, 0.45, 2.5), (50.0, 0.5, 2.0), (27.0, -0.25, 3.0)],
    "perfumes_cosmetics": [(50.0, 0.8, 2.0), (33.0, -0.2, 4.0)],
    "watches_jewelry": [(50.5, 0.7, 1.8), (25.0, 0.15, 4.0)],
    "selective_retailing": [(50.0, 0.6, 2.0), (30.0, 0.35, 4.0), (4.0, -0.3, 2.0)],
}
# Sector uplift (log scale) of each moving event in the markets where it applies; events not
# listed move nothing here (Christmas is in the archetypes' December bumps).
_EVENT_UPLIFT: dict[str, dict[str, float]] = {
    "wines_spirits": {"chinese_new_year": 0.8, "black_friday": 0.15, "valentines": 0.05},
    "fashion_leather": {
        "valentines": 0.2,
        "chinese_new_year": 0.3,
        "singles_day": 0.25,
        "mothers_day": 0.15,
        "black_friday": 0.1,
        "eid_al_fitr": 0.35,
    },
    "perfumes_cosmetics": {
        "valentines": 0.4,
        "mothers_day": 0.5,
        "singles_day": 0.9,
        "black_friday": 0.3,
        "chinese_new_year": 0.2,
        "eid_al_fitr": 0.5,
    },
    "watches_jewelry": {
        "valentines": 0.5,
        "mothers_day": 0.3,
        "chinese_new_year": 0.3,
        "eid_al_fitr": 0.4,
    },
    "selective_retailing": {
        "black_friday": 0.9,
        "singles_day": 0.3,
        "valentines": 0.15,
        "mothers_day": 0.2,
        "chinese_new_year": 0.2,
        "easter": 0.1,
        "eid_al_fitr": 0.3,
    },
}
# Relative volume of a market (the groups of the shipped markets file; a country 0.3).
_MARKET_WEIGHT = {
    "europe": 1.0,
    "americas": 0.9,
    "china": 0.8,
    "japan": 0.4,
    "asia_pacific": 0.5,
    "middle_east": 0.3,
    "travel_retail": 0.6,
}
_COUNTRY_WEIGHT = 0.3
_PRICE = {
    "wines_spirits": 60.0,
    "fashion_leather": 1800.0,
    "perfumes_cosmetics": 90.0,
    "watches_jewelry": 7500.0,
    "selective_retailing": 45.0,
}
_PROMO_UPLIFT = 0.4
_SERIES_DEVIATION = 0.08
_LAUNCH_WEEKS = 4  # a launch event covers the ramp-up's steepest weeks
PLANNED_WEEKS = 13  # promotions drawn (and written as events) after the last week


@dataclass(frozen=True)
class SyntheticSales:
    """Generated ``sales``, the expected demand behind them (``sales_truth``), the
    product master the generator used (``product``: each SKU's category, collection,
    launch date and price band) and the ``events`` it simulated (promotions, launches)."""

    sales: pl.DataFrame
    truth: pl.DataFrame
    products: pl.DataFrame
    events: pl.DataFrame


def sector_profile(sector: str) -> np.ndarray:
    """Archetype week-of-year profile of a sector (log scale, mean zero, length 52)."""
    dist = np.abs(_WEEKS[:, None] - np.array([b[0] for b in _BUMPS[sector]])[None, :])
    dist = np.minimum(dist, 52 - dist)  # the year wraps around
    amp = np.array([b[1] for b in _BUMPS[sector]])
    width = np.array([b[2] for b in _BUMPS[sector]])
    profile = (amp * np.exp(-0.5 * (dist / width) ** 2)).sum(axis=1)
    return profile - profile.mean()


def _smooth_deviation(rng: np.random.Generator, n: int, size: float) -> np.ndarray:
    """n random smooth yearly curves (3 harmonics), each with standard deviation ``size``."""
    k = np.arange(1, 4)
    phase = rng.uniform(0, 2 * np.pi, (n, 3))
    amp = rng.normal(0, 1, (n, 3)) / k
    curves = amp[:, :, None] * np.cos(
        2 * np.pi * k[None, :, None] * _WEEKS / 52 + phase[:, :, None]
    )
    curves = curves.sum(axis=1)
    std = curves.std(axis=1, keepdims=True)
    return size * curves / np.where(std > 0, std, 1.0)


def not_generated(brand: BrandConfig) -> str | None:
    """Why the generator cannot simulate a brand (a brand of real sales), or None."""
    if not brand.categories:
        return "no [[categories]] in its config: the generator has no SKUs to simulate"
    if brand.frequency != "weekly":
        return f"it is {brand.frequency}: the generator simulates weekly sales"
    return None


def weeks_between(start: date, end: date) -> list[date]:
    """Mondays from the week of ``start`` to the week of ``end``, inclusive."""
    first, last = week_start(start), week_start(end)
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def generate_brand(
    brand: BrandConfig,
    weeks: list[date],
    seed: int = 0,
    scale: float = 1.0,
    markets: Markets | None = None,
) -> SyntheticSales:
    """Synthetic sales of one brand over the given weeks.

    The random stream depends on (seed, brand id) only, so a brand's data does not change
    when other brands are added or removed.

    Args:
        markets: Where the brand's markets keep which holidays (default: the shipped file).

    Raises:
        ValueError: The brand has no ``[[categories]]`` (a brand of real sales only).
    """
    if why := not_generated(brand):
        raise ValueError(f"brand {brand.brand!r}: {why}")
    rng = np.random.default_rng([seed, zlib.crc32(brand.brand.encode())])
    knobs = brand.synthetic
    series = _series_table(brand, weeks, rng, scale)
    n, t = series.height, len(weeks)
    ds = pl.Series("ds", weeks, dtype=pl.Date)
    pos = pl.select(season_position(pl.lit(ds))).to_series().to_numpy()

    brand_season = (
        sector_profile(brand.sector) + _smooth_deviation(rng, 1, knobs.seasonal_deviation * 0.3)[0]
    )
    season = brand_season[None, :] + _smooth_deviation(rng, n, _SERIES_DEVIATION)
    log_mu = np.log(series["base"].to_numpy())[:, None] + season[:, pos]
    years = (np.arange(t) - (t - 1)) / 52.0
    log_mu += knobs.trend * years[None, :]
    log_mu += _event_effects(brand, series["market"].to_numpy(), weeks, rng, markets)
    promo = rng.random((n, t)) < knobs.promo_share
    log_mu += _PROMO_UPLIFT * promo
    start_idx = series["start_idx"].to_numpy()[:, None]
    end_idx = series["end_idx"].to_numpy()[:, None]
    age = np.arange(t)[None, :] - start_idx
    log_mu += np.log1p(-np.exp(-(np.maximum(age, 0) + 1) / 3.0))  # launch ramp-up
    alive = (age >= 0) & (np.arange(t)[None, :] < end_idx)
    exports = np.random.default_rng([seed, zlib.crc32(brand.brand.encode()), 1])
    series_markets, products = series["market"].to_numpy(), series["product"].to_numpy()
    log_mu += _spikes(exports, series_markets, t, knobs.spikes_per_year)
    paused = _pauses(exports, products, alive, knobs.pause_share)
    mu = np.where(paused, 0.0, np.exp(log_mu))

    shape = 1.0 / max(knobs.noise, 1e-6) ** 2
    units = rng.poisson(mu * rng.gamma(shape, 1.0 / shape, mu.shape)).astype(np.float64)
    units -= _returns(exports, mu, alive, knobs.return_share)
    recorded = alive & ~paused & ~_outages(exports, series_markets, t, knobs.outages_per_year)
    price = series["price"].to_numpy()[:, None] * np.where(promo, 0.8, 1.0)
    sales, truth = _to_frames(series, ds, recorded, alive, units, mu, price, promo)
    events = _simulated_events(brand, series, weeks, promo & alive, seed)
    return SyntheticSales(sales, truth, _product_master(brand, series, weeks), events)


def _market_weeks(
    rng: np.random.Generator, series_markets: np.ndarray, t: int, per_year: float
) -> list[tuple[np.ndarray, int]]:
    """Random (rows of a market, start week) pairs, ``per_year`` of them a market and year."""
    picks = []
    for market in np.unique(series_markets):  # a handful of markets, not a loop over rows
        for start in rng.integers(0, t, rng.poisson(per_year * t / 52)):
            picks.append((np.flatnonzero(series_markets == market), int(start)))
    return picks


def _spikes(
    rng: np.random.Generator, series_markets: np.ndarray, t: int, per_year: float
) -> np.ndarray:
    """(series × week) log uplift of chain-wide one-week promotions: 10–50× a normal week."""
    lift = np.zeros((len(series_markets), t))
    for rows, week in _market_weeks(rng, series_markets, t, per_year):
        lift[rows, week] += np.log(rng.uniform(10, 50))
    return lift


def _outages(
    rng: np.random.Generator, series_markets: np.ndarray, t: int, per_year: float
) -> np.ndarray:
    """(series × week) True where a whole market is not recorded: outages of 2–6 weeks."""
    out = np.zeros((len(series_markets), t), dtype=bool)
    for rows, start in _market_weeks(rng, series_markets, t, per_year):
        out[rows, start : start + int(rng.integers(2, 7))] = True
    return out


def _pauses(
    rng: np.random.Generator, products: np.ndarray, alive: np.ndarray, share: float
) -> np.ndarray:
    """(series × week) True where a SKU pauses (every market): once, for 8–40 weeks."""
    names, index = np.unique(products, return_inverse=True)
    t = alive.shape[1]
    pausing = rng.random(len(names)) < share
    start = rng.integers(0, t, len(names))
    length = rng.integers(8, 41, len(names))
    weeks = np.arange(t)[None, :]
    per_sku = pausing[:, None] & (weeks >= start[:, None]) & (weeks < (start + length)[:, None])
    return per_sku[index] & alive


def _returns(
    rng: np.random.Generator, mu: np.ndarray, alive: np.ndarray, share: float
) -> np.ndarray:
    """(series × week) units returned: in a ``share`` of live weeks, 0.5–3 typical weeks."""
    if share <= 0:
        return np.zeros(mu.shape)
    typical = np.nanmean(np.where(alive, mu, np.nan), axis=1, keepdims=True)
    size = rng.uniform(0.5, 3.0, mu.shape) * np.nan_to_num(typical)
    hit = (rng.random(mu.shape) < share) & alive
    return np.where(hit, rng.poisson(size), 0).astype(np.float64)


def _product_master(brand: BrandConfig, series: pl.DataFrame, weeks: list[date]) -> pl.DataFrame:
    """One ``product`` row per SKU: category, collection (fashion: the launch season), launch
    week and price band (the SKU's price against its sector's typical price)."""
    first = pl.Series(weeks, dtype=pl.Date)
    per_sku = series.group_by("product", maintain_order=True).agg(
        pl.col("category").first(), pl.col("price").first(), pl.col("start_idx").first()
    )
    launch = first.gather(per_sku["start_idx"].to_numpy())
    ratio = pl.col("price") / _PRICE[brand.sector]
    season = pl.when(pl.col("launch_date").dt.month().is_between(2, 7)).then(pl.lit("ss"))
    collection = (
        pl.concat_str(season.otherwise(pl.lit("fw")), pl.col("launch_date").dt.strftime("%y"))
        if brand.sector == "fashion_leather"
        else pl.lit("permanent")
    )
    return per_sku.with_columns(launch_date=launch).select(
        brand=pl.lit(brand.brand),
        product="product",
        category="category",
        collection=collection,
        launch_date="launch_date",
        price_band=pl.when(ratio < 0.8)
        .then(pl.lit("entry"))
        .when(ratio < 1.15)
        .then(pl.lit("core"))
        .when(ratio < 1.5)
        .then(pl.lit("premium"))
        .otherwise(pl.lit("prestige")),
    )


def _series_table(
    brand: BrandConfig, weeks: list[date], rng: np.random.Generator, scale: float
) -> pl.DataFrame:
    """One row per series: ids, base volume, price and the week indices where it lives."""
    products = [
        (cat.name, f"{cat.name}_{k:03d}")
        for cat in brand.categories
        for k in range(1, max(1, round(cat.skus * scale)) + 1)
    ]
    prod = pl.DataFrame(products, schema=["category", "product"], orient="row")
    reg = pl.DataFrame({"market": list(brand.markets)})
    series = prod.join(reg, how="cross").with_columns(brand=pl.lit(brand.brand))
    n_prod, t = prod.height, len(weeks)
    launch_idx = max(0, (brand.launch_date - weeks[0]).days // 7)
    young = rng.random(n_prod) < brand.synthetic.young_sku_share
    sku_start = np.where(young, t - rng.integers(4, 53, n_prod), 0)
    sku_start = np.clip(np.maximum(sku_start, launch_idx), 0, t - 1)
    sku_end = np.full(n_prod, t)
    if brand.sector == "fashion_leather":  # collections retire: a fifth of SKUs end early
        retire = (rng.random(n_prod) < 0.2) & (sku_start < t - 60)
        life = sku_start + 40 + (rng.random(n_prod) * np.maximum(t - 53 - sku_start, 1)).astype(int)
        sku_end = np.where(retire, life, t)
    sku_level = rng.lognormal(0, 0.5, n_prod)
    sku_price = rng.lognormal(np.log(_PRICE[brand.sector]), 0.3, n_prod).round(2)
    per_prod = pl.DataFrame(
        {
            "product": prod["product"],
            "sku_level": sku_level,
            "price": sku_price,
            "start_idx": sku_start,
            "end_idx": sku_end,
        }
    )
    series = series.join(per_prod, on="product").with_columns(
        base=brand.synthetic.volume
        * pl.col("sku_level")
        * pl.col("market").replace_strict(
            _MARKET_WEIGHT, default=_COUNTRY_WEIGHT, return_dtype=pl.Float64
        )
    )
    return series.drop("sku_level")


def _event_effects(
    brand: BrandConfig,
    markets_of: np.ndarray,
    weeks: list[date],
    rng: np.random.Generator,
    markets: Markets | None,
) -> np.ndarray:
    """(series × week) log uplift of the moving events, on their real dates per market."""
    cal = event_calendar(markets or shipped_markets(), brand.markets, weeks[0].year, weeks[-1].year)
    uplifts = {
        event: base * float(np.exp(rng.normal(0, 0.3 * brand.synthetic.seasonal_deviation)))
        for event, base in _EVENT_UPLIFT[brand.sector].items()
    }
    lift = pl.DataFrame({"event": list(uplifts), "uplift": list(uplifts.values())})
    week_idx = pl.DataFrame({"ds": weeks, "t": np.arange(len(weeks))})
    eff = (
        cal.join(lift, on="event")
        .join(week_idx, on="ds")
        .group_by("market", "t")
        .agg((pl.col("weight") * pl.col("uplift")).sum().alias("effect"))
    )
    out = np.zeros((len(markets_of), len(weeks)))
    market_rows = {r: np.flatnonzero(markets_of == r) for r in np.unique(markets_of)}
    for market, t, effect in eff.iter_rows():  # (market × event-week) cells, not per row
        if market in market_rows:
            out[market_rows[market], t] += effect
    return out


def _simulated_events(
    brand: BrandConfig, series: pl.DataFrame, weeks: list[date], promo: np.ndarray, seed: int
) -> pl.DataFrame:
    """The ``events`` the generator simulated: every promoted series-week (and the planned
    ones of the next weeks), and each SKU launched inside the window (its first weeks)."""
    rng = np.random.default_rng([seed, zlib.crc32(brand.brand.encode()), 1])  # own stream
    ahead = rng.random((series.height, PLANNED_WEEKS)) < brand.synthetic.promo_share
    future = [weeks[-1] + timedelta(weeks=k + 1) for k in range(PLANNED_WEEKS)]
    keys = series.select("market", "product")
    frames = []
    for grid, days in ((promo, weeks), (ahead, future)):
        s_idx, t_idx = np.nonzero(grid)
        starts = pl.Series(days, dtype=pl.Date).gather(t_idx)
        frames.append(keys[s_idx].with_columns(start=starts, type=pl.lit("promotion"), days=6))
    launched = series.filter(pl.col("start_idx") > 0).group_by("product").agg(pl.first("start_idx"))
    launches = launched.select(
        market=pl.lit(None, pl.String),
        product="product",
        start=pl.Series(weeks, dtype=pl.Date).gather(launched["start_idx"].to_numpy()),
    )
    frames.append(launches.with_columns(type=pl.lit("launch"), days=7 * _LAUNCH_WEEKS - 1))
    return (
        pl.concat(frames, how="diagonal_relaxed")
        .select(
            brand=pl.lit(brand.brand),
            market="market",
            category=pl.lit(None, pl.String),
            product="product",
            start="start",
            end=pl.col("start") + pl.duration(days=pl.col("days")),
            type="type",
            magnitude=pl.lit(None, pl.Float64),
            name=pl.lit("simulated"),
        )
        .sort("start", "market", "product", nulls_last=True)
    )


def _to_frames(
    series: pl.DataFrame,
    ds: pl.Series,
    recorded: np.ndarray,
    alive: np.ndarray,
    units: np.ndarray,
    mu: np.ndarray,
    price: np.ndarray,
    promo: np.ndarray,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Flatten the (series × week) grid into long ``sales`` (recorded cells) and ``truth``
    (live cells, outages and pauses included)."""

    def cells(mask: np.ndarray) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
        s_idx, t_idx = np.nonzero(mask)
        keys = series.select("brand", "market", "product")[s_idx]
        return keys.with_columns(ds=ds.gather(t_idx)), s_idx, t_idx

    long, s_idx, t_idx = cells(recorded)
    sales = long.with_columns(
        units=pl.Series(units[s_idx, t_idx]),
        price=pl.Series(price[s_idx, t_idx]),
        promo=pl.Series(promo[s_idx, t_idx]),
    )
    long, s_idx, t_idx = cells(alive)
    truth = long.with_columns(mu=pl.Series(mu[s_idx, t_idx]))
    return sales, truth


def generate_sales(
    brands: dict[str, BrandConfig],
    start: date,
    end: date,
    seed: int = 0,
    scale: float = 1.0,
    markets: Markets | None = None,
) -> SyntheticSales:
    """Synthetic sales for all brands (see :func:`generate_brand`)."""
    weeks = weeks_between(start, end)
    parts = [generate_brand(b, weeks, seed, scale, markets) for b in brands.values()]
    return SyntheticSales(
        sales=pl.concat([p.sales for p in parts]),
        truth=pl.concat([p.truth for p in parts]),
        products=pl.concat([p.products for p in parts]),
        events=pl.concat([p.events for p in parts]),
    )
