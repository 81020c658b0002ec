"""Partial pooling vs no pooling vs full pooling on the synthetic group, against the truth.

Rolling origin: at each origin the priors are re-estimated and re-pooled from data up to
the origin only, every brand is forecast 13 weeks ahead with the same models (damped ETS on
smooth series, Croston SBA on intermittent ones) under each pooling mode, and every
forecast is scored against the actuals and against the oracle (the true expected demand
the generator drew the actuals from). Also timed: the pipeline's fits against bare
statsforecast AutoETS on the same series.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from statsforecast import StatsForecast
from statsforecast.models import MSTL, AutoETS, Naive

from forecast.engine.backtest import origins
from forecast.engine.forecasting import forecast_at
from forecast.engine.metrics import score_series
from forecast.engine.pooling import Pooling, pool_priors
from forecast.engine.priors import own_estimates
from forecast.engine.selection import default_models, is_chosen
from forecast.engine.series import prepare_series, series_id
from forecast.inputs.calendar import event_calendar
from forecast.inputs.config import BrandConfig, ModelSettings, load_brands
from forecast.inputs.synthetic import generate_sales
from forecast.vocabulary import LONG_WEEKS, SECTORS, YOUNG_WEEKS

MODES: tuple[Pooling, ...] = ("partial", "none", "full")
VARIANTS = ("snaive", "mstl", "none", "full", "partial")
INTERVAL = ("lo_80", "hi_80", "lo_95", "hi_95", "demand_class", "history_weeks")
FIXED = ModelSettings(candidates=("ets",), intermittent_candidates=("croston_sba",))


def _fixed(brands: dict[str, BrandConfig]) -> dict[str, BrandConfig]:
    return {b: c.model_copy(update={"model": FIXED}) for b, c in brands.items()}


def _mstl(sales: pl.DataFrame, origin: date, horizon: int) -> pl.DataFrame:
    """No-pooling reference outside the pipeline: MSTL(52) per series on log1p units."""
    series, _ = prepare_series(sales, origin)
    sf = StatsForecast(
        models=[MSTL(season_length=52, alias="mstl")], freq="1w", fallback_model=Naive()
    )
    fc = sf.forecast(h=horizon, df=series.select("unique_id", "ds", y=pl.col("y").log1p()))
    return fc.select(
        "unique_id", "ds", variant=pl.lit("mstl"), yhat=(pl.col("mstl").exp() - 1).clip(0)
    )


def _origin(
    brands: dict[str, BrandConfig], sales: pl.DataFrame, origin: date, calendar: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Forecasts of every variant from one origin, and the seconds each took."""
    per_brand = {b: sales.filter(pl.col("brand") == b) for b in brands}
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    estimates = []
    for b in brands:
        series, _ = prepare_series(per_brand[b], origin)
        estimates.append(own_estimates(b, series, calendar))
    timings["estimate"] = time.perf_counter() - t0
    parts = []
    for mode in MODES:
        t0 = time.perf_counter()
        priors = pool_priors(estimates, {b: c.pool for b, c in brands.items()}, list(SECTORS), mode)
        for b, cfg in brands.items():
            if per_brand[b].filter(pl.col("ds") <= origin).is_empty():
                continue
            fc = forecast_at(cfg, per_brand[b], origin, priors, calendar, mode).forecasts
            picked = fc.filter(is_chosen(default_models(cfg.model))).with_columns(
                variant=pl.lit(mode)
            )
            parts.append(picked.select("unique_id", "ds", "variant", "yhat", *INTERVAL))
            if mode == "partial":
                snaive = fc.filter(pl.col("model") == "snaive").with_columns(
                    variant=pl.lit("snaive")
                )
                parts.append(snaive.select("unique_id", "ds", "variant", "yhat"))
        timings[mode] = time.perf_counter() - t0
    t0 = time.perf_counter()
    parts.append(_mstl(sales, origin, 13))
    timings["mstl"] = time.perf_counter() - t0
    timings["bare_autoets"] = _bare_autoets_seconds(sales, origin)
    return pl.concat(parts, how="diagonal_relaxed"), timings


def _bare_autoets_seconds(sales: pl.DataFrame, origin: date) -> float:
    """Reference: the same damped AutoETS on log1p units, no priors, no pipeline."""
    series, _ = prepare_series(sales, origin)
    t0 = time.perf_counter()
    sf = StatsForecast(
        models=[AutoETS(model="ZZN", damped=True)], freq="1w", fallback_model=Naive()
    )
    sf.forecast(h=13, df=series.select("unique_id", "ds", y=pl.col("y").log1p()), level=[80, 95])
    return time.perf_counter() - t0


def run(config_dir: Path, end: date, n_origins: int, seed: int = 0) -> dict[str, Any]:
    """Run the comparison; returns frames of scores and timings."""
    brands = _fixed(load_brands(config_dir))
    data = generate_sales(brands, date(2023, 1, 2), end, seed=seed)
    last = end - timedelta(weeks=13)
    cutoffs = origins(last, 13, n_origins - 1)
    calendar = event_calendar(2020, end.year + 1)
    sales = data.sales
    actual = sales.with_columns(series_id()).select("unique_id", "ds", y="units")
    truth = data.truth.with_columns(series_id()).select("unique_id", "ds", "mu")
    sectors = {b: c.sector for b, c in brands.items()}
    scored, times = [], []
    for origin in cutoffs:
        fc, timing = _origin(brands, sales, origin, calendar)
        times.append({"origin": origin, **timing})
        scored.append(_score(fc, actual, truth, sales, origin, sectors))
        print(
            f"origin {origin}: " + ", ".join(f"{k} {v:.1f}s" for k, v in timing.items()), flush=True
        )
    scores = pl.concat(scored)
    return {"scores": scores, "timings": pl.DataFrame(times), "coverage": coverage(scores)}


def history_bucket(weeks: pl.Expr) -> pl.Expr:
    """Label used in the tables: '<26w', '26-104w' or '>104w' of history at the origin."""
    return (
        pl.when(weeks < YOUNG_WEEKS)
        .then(pl.lit("<26w"))
        .when(weeks <= LONG_WEEKS)
        .then(pl.lit("26-104w"))
        .otherwise(pl.lit(">104w"))
    )


def coverage(scores: pl.DataFrame) -> pl.DataFrame:
    """Share of actuals inside the 80 % and 95 % intervals, by demand class and age."""
    age = pl.when(pl.col("weeks") < YOUNG_WEEKS).then(pl.lit("<26w")).otherwise(pl.lit(">=26w"))
    inside = {
        f"coverage_{lv}": (pl.col(f"coverage_{lv}") * pl.col("n")).sum() / pl.col("n").sum()
        for lv in (80, 95)
    }
    return (
        scores.filter(pl.col("variant") == "partial")
        .with_columns(history=age)
        .group_by("demand_class", "history")
        .agg(**inside, points=pl.col("n").sum())
        .sort("demand_class", "history")
    )


def _score(
    fc: pl.DataFrame,
    actual: pl.DataFrame,
    truth: pl.DataFrame,
    sales: pl.DataFrame,
    origin: date,
    sectors: dict[str, str],
) -> pl.DataFrame:
    """Per series and variant: the shared backtest scores, plus the oracle's mean error."""
    history = prepare_series(sales, origin)[0]
    joined = fc.join(actual, on=["unique_id", "ds"]).join(truth, on=["unique_id", "ds"])
    cv = joined.with_columns(cutoff=pl.lit(origin), model="variant")
    scores = score_series(cv, history.select("unique_id", "ds", "y")).rename({"model": "variant"})
    oracle = joined.group_by("unique_id", "variant").agg(
        oracle=(pl.col("y") - pl.col("mu")).abs().mean(),
        demand_class=pl.col("demand_class").first(),
    )
    ages = history.group_by("unique_id").agg(weeks=pl.len(), brand=pl.col("brand").first())
    return (
        scores.join(oracle, on=["unique_id", "variant"])
        .join(ages, on="unique_id")
        .with_columns(
            origin=pl.lit(origin),
            sector=pl.col("brand").replace_strict(sectors),
            bucket=history_bucket(pl.col("weeks")),
        )
    )


def summarise(scores: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Mean MASE (finite) and the oracle ratio Σ|error| / Σ|oracle error| per group."""
    table = (
        scores.filter(pl.col("mase").is_finite())
        .group_by(*by, "variant")
        .agg(
            mase=pl.col("mase").mean(),
            oracle_ratio=(pl.col("abs_err") / pl.col("n")).sum() / pl.col("oracle").sum(),
            series=pl.len(),
        )
    )
    wide = table.pivot(on="variant", index=[*by], values=["mase", "oracle_ratio"])
    order = [f"{m}_{v}" for m in ("mase", "oracle_ratio") for v in VARIANTS]
    series = table.group_by(by).agg(pl.col("series").max())
    return wide.join(series, on=by).select(*by, *order, "series").sort(by)
