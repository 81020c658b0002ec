"""The project's vocabulary, each word defined once: sectors, events, models, ages, keys.

Everything else imports these names instead of spelling them again: the brand config's
allowed values, the model registry, the holiday calendar, the synthetic generator and the
warehouse columns. A test checks that the registry, the calendar and the generator cover
exactly the names declared here. Markets are not a closed list: they are ISO 3166 codes and
the groups of ``config/markets.toml`` (see ``forecast.inputs.markets``).
"""

from __future__ import annotations

from typing import Literal, get_args

Sector = Literal[
    "wines_spirits",
    "fashion_leather",
    "perfumes_cosmetics",
    "watches_jewelry",
    "selective_retailing",
]
SECTORS: tuple[Sector, ...] = get_args(Sector)

# Moving holidays placed by their real date each year per market (see inputs.holidays).
Event = Literal[
    "valentines",
    "easter",
    "good_friday",
    "mothers_day",
    "chinese_new_year",
    "golden_week",
    "singles_day",
    "black_friday",
    "cyber_monday",
    "ramadan_start",
    "eid_al_fitr",
    "diwali",
    "christmas",
    "new_year",
]
EVENTS: tuple[Event, ...] = get_args(Event)
# A brand's own events (``forecast ingest-events``): learned per type, pooled across brands.
# A stockout is not an uplift: its weeks leave the fit and are not read as zero demand.
BrandEventType = Literal[
    "launch", "promotion", "price_change", "store_opening", "stockout", "custom"
]
BRAND_EVENT_TYPES: tuple[BrandEventType, ...] = get_args(BrandEventType)
STOCKOUT: BrandEventType = "stockout"

Frequency = Literal["weekly", "monthly", "quarterly"]
BrandFrequency = Literal["weekly", "monthly"]  # what a brand's sales may come in
BRAND_FREQUENCIES: tuple[BrandFrequency, ...] = get_args(BrandFrequency)
HOLIDAYS_FROM = 1950  # the first year holidays are placed in (their rules hold from then on)
# How a weekly sales file dates its weeks: by their Monday (the default), or by any first
# or last day (weeks ending on Saturday or Sunday, weeks starting on Sunday).
WeekLabel = Literal["monday", "start", "end"]
WEEK_LABELS: tuple[WeekLabel, ...] = get_args(WeekLabel)
SEASON_LENGTH: dict[Frequency, int] = {"weekly": 52, "monthly": 12, "quarterly": 4}
# Weights of a season position and its two neighbours when profiles (and their drift) are
# smoothed: adjacent weeks only — a week-of-year mean from 2-3 years is noisy; months and
# quarters are far enough apart to stand alone.
SEASON_KERNEL: dict[Frequency, tuple[float, float, float]] = {
    "weekly": (0.25, 0.5, 0.25),
    "monthly": (0.0, 1.0, 0.0),
    "quarterly": (0.0, 1.0, 0.0),
}
POLARS_INTERVAL: dict[Frequency, str] = {"weekly": "1w", "monthly": "1mo", "quarterly": "1q"}
# Weeks in one period: ages (history_weeks, the 26 / 104-week limits) are counted in weeks.
WEEKS_PER_PERIOD: dict[Frequency, float] = {"weekly": 1.0, "monthly": 52 / 12, "quarterly": 13.0}

# Model names a brand config may list, by the demand class they compete on. The registry
# (engine.models) builds exactly these; ``theta_raw`` fits the de-seasonalised series in
# units rather than on the log scale; ``mstl``, ``theta_seasonal`` and ``ets_seasonal``
# fit a series' own seasonality; ``median`` and ``median_seasonal`` combine others.
SmoothModel = Literal[
    "ets",
    "theta",
    "theta_raw",
    "ses",
    "naive",
    "mstl",
    "theta_seasonal",
    "ets_seasonal",
    "median",
    "median_seasonal",
]
IntermittentModel = Literal["croston_sba", "tsb", "imapa", "adida"]
SMOOTH_MODELS: tuple[SmoothModel, ...] = get_args(SmoothModel)
INTERMITTENT_MODELS: tuple[IntermittentModel, ...] = get_args(IntermittentModel)
BASELINE = "snaive"  # seasonal naive: fitted on every series, the yardstick of every table
COLD_START_MODEL: SmoothModel = "ses"  # level only: the default for young smooth series
SELECTED = "selected"  # backtest_metrics' name for "each series' chosen model"

Pooling = Literal["partial", "none", "full"]
POOLINGS: tuple[Pooling, ...] = get_args(Pooling)
GROUP = "group"  # the pool of pools (all sectors)

DemandClass = Literal["smooth", "intermittent"]  # by average inter-demand interval (1.32)
DEMAND_CLASSES: tuple[DemandClass, ...] = get_args(DemandClass)
RunStatus = Literal["running", "succeeded", "partial", "failed", "abandoned"]
BrandStatus = Literal["succeeded", "failed", "skipped"]

# Ages of a series, in weeks of history at the forecast origin.
YOUNG_WEEKS = 26  # below: a trend cannot be told from noise or a launch ramp-up
LONG_WEEKS = 104  # from two full seasons: own-seasonality models can run
INACTIVE_AFTER_WEEKS = 26  # observed weeks without a sale: discontinued, not forecast

# What a week without a sales row means (brand config ``[sales] missing_weeks``), and how a
# negative net week (returns beyond the week's sales) is taken (``[sales] returns``).
MissingWeeks = Literal["zero", "unknown", "auto"]
MISSING_WEEKS: tuple[MissingWeeks, ...] = get_args(MissingWeeks)
Returns = Literal["unknown", "floor", "refuse"]
RETURNS: tuple[Returns, ...] = get_args(Returns)
# Why a series-week is unknown (not demand): no row for any product of its brand × market,
# no row at all under ``missing_weeks = "unknown"``, a negative net week, or a stockout event.
GapReason = Literal["outage", "missing", "return", "stockout"]
GAP_REASONS: tuple[GapReason, ...] = get_args(GapReason)
MAX_UNKNOWN_SHARE = 0.5  # a brand with more of its series-weeks unknown is not forecast

SERIES_KEYS = ("brand", "market", "product")  # a series; unique_id joins them with "/"
SALES_KEYS = (*SERIES_KEYS, "ds")  # one row of sales

# The planning hierarchy, top to bottom (see forecast.planning.hierarchy); each level names
# the key columns that are not null at that level.
Level = Literal["group", "sector", "brand", "brand_market", "category_market", "product_market"]
LEVELS: tuple[Level, ...] = get_args(Level)
LEVEL_KEYS: dict[Level, tuple[str, ...]] = {
    "group": (),
    "sector": ("sector",),
    "brand": ("sector", "brand"),
    "brand_market": ("sector", "brand", "market"),
    "category_market": ("sector", "brand", "market", "category"),
    "product_market": ("sector", "brand", "market", "category", "product"),
}
HIERARCHY_KEYS = LEVEL_KEYS["product_market"]
# MinT holds about six dense aggregates × aggregates float64 matrices at once (planning.mint:
# C, its factor and inverse, a step's K and N) — ~48 bytes per pair by count, not measured;
# 4.8 GB at 10,000 aggregate series — and memory linear in the series; above this many
# aggregate series the levels are summed bottom-up instead.
MAX_MINT_AGGREGATES = 10_000
MINT_BYTES_PER_PAIR = 48
# The planning step holds each bottom series' weekly history at every level, as polars
# frames with string keys: measured ~1.2 KB per (bottom series, week) at its peak (3.1 GB at
# 9,870 series × 204 weeks; 98,567 × 204 passed 24 GB). A run whose estimate passes half
# the machine's memory publishes its statistical forecasts and no level forecasts.
PLANNING_BYTES_PER_CELL = 1_200
# Prediction intervals every forecast table carries: their levels, bound columns and each
# level's two-sided normal quantile (norm.ppf(0.5 + level / 200)).
INTERVAL_LEVELS = (80, 95)
BOUNDS = ("lo_80", "hi_80", "lo_95", "hi_95")
NORMAL_Z = {80: 1.2815515655446004, 95: 1.959963984540054}
Granularity = Literal["week", "month", "quarter"]
GRANULARITIES: tuple[Granularity, ...] = get_args(Granularity)
PriceBand = Literal["entry", "core", "premium", "prestige"]
PRICE_BANDS: tuple[PriceBand, ...] = get_args(PriceBand)
