"""The synthetic group through the product's real path: :func:`run_brand` per brand.

At each evaluation origin (13 weeks apart), own estimates and pooled priors are computed
at every backtest origin the brands need, each brand runs its backtest, model choice and
calibrated forecast, and the forecasts a planner would use (``is_selected``) are scored
against the actuals and against the true expected demand. Bare statsforecast peers are
fitted on the same series at the same origins.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import peers
import polars as pl
from panels import Panel
from pooling import coverage, history_bucket

from forecast.engine.backtest import origins
from forecast.engine.events import calendar_of
from forecast.engine.metrics import score_series
from forecast.engine.pipeline import run_brand, series_profiles
from forecast.engine.pooling import Pooling, Priors, pool_priors
from forecast.engine.priors import OwnEstimates, own_estimates
from forecast.engine.series import prepare_series, series_id
from forecast.inputs.calendar import run_calendars
from forecast.inputs.config import BrandConfig, ModelSettings, load_brands
from forecast.inputs.markets import shipped_markets
from forecast.inputs.synthetic import generate_sales
from forecast.vocabulary import SECTORS

HORIZON = 13
START = date(2023, 1, 2)


@dataclass
class Group:
    """The generated group, each brand's calendar and the caches of estimates and priors
    per origin."""

    brands: dict[str, BrandConfig]
    sales: dict[str, pl.DataFrame]
    actual: pl.DataFrame
    truth: pl.DataFrame
    calendars: dict[str, pl.DataFrame]
    estimates: dict[date, dict[str, OwnEstimates]]
    priors: dict[tuple[date, Pooling], Priors]
    events: pl.DataFrame


def load(config_dir: Path, end: date, seed: int = 0, with_events: bool = False) -> Group:
    """Generate the group's sales from the brand configs; ``with_events``: the promotions
    and launches the generator simulated enter each brand's calendar as ``events`` rows."""
    brands = load_brands(config_dir)
    data = generate_sales(brands, START, end, seed=seed)
    per_brand = {b: data.sales.filter(pl.col("brand") == b) for b in brands}
    actual = data.sales.with_columns(series_id()).select("unique_id", "ds", y="units")
    truth = data.truth.with_columns(series_id()).select("unique_id", "ds", "mu")
    holidays = run_calendars(shipped_markets(), brands.values(), 2020, end.year + 1)["weekly"]
    calendars = {
        b: calendar_of(
            per_brand[b],
            holidays,
            data.events.filter(pl.col("brand") == b) if with_events else None,
        )
        for b in brands
    }
    return Group(brands, per_brand, actual, truth, calendars, {}, {}, data.events)


def _priors(group: Group, cutoff: date, mode: Pooling) -> Priors:
    if cutoff not in group.estimates:
        group.estimates[cutoff] = {
            b: own_estimates(b, prepare_series(s, cutoff)[0], group.calendars[b])
            for b, s in group.sales.items()
        }
    if (cutoff, mode) not in group.priors:
        pools = {b: c.pool for b, c in group.brands.items()}
        group.priors[cutoff, mode] = pool_priors(
            list(group.estimates[cutoff].values()), pools, list(SECTORS), mode
        )
    return group.priors[cutoff, mode]


def product(
    group: Group,
    origin: date,
    mode: Pooling,
    settings: ModelSettings | dict[str, Any] | None = None,
) -> tuple[pl.DataFrame, float]:
    """Selected forecasts of every brand from ``origin``, and the CPU seconds they took
    (estimates and priors included). ``settings``: the ``[model]`` every brand uses instead
    of its own, or fields changed in each brand's own (a dict); None: the configs' own."""
    started = time.process_time()
    parts = []
    for b, cfg in group.brands.items():
        if group.sales[b].filter(pl.col("ds") <= origin).is_empty():
            continue
        brand = cfg if settings is None else cfg.model_copy(update={"model": _model(cfg, settings)})
        cutoffs = origins(origin, brand.horizon, brand.model.backtest_windows)
        priors = {c: _priors(group, c, mode) for c in cutoffs}
        known = series_profiles({c: group.estimates[c][b] for c in cutoffs})
        result = run_brand(
            brand, group.sales[b], origin, priors, group.calendars[b], mode, known=known
        )
        parts.append(result.forecasts.filter(pl.col("is_selected")))
    return pl.concat(parts), time.process_time() - started


def _model(brand: BrandConfig, settings: ModelSettings | dict[str, Any]) -> ModelSettings:
    if isinstance(settings, dict):
        return brand.model.model_copy(update=settings)
    return settings


def bare(group: Group, origin: date) -> tuple[pl.DataFrame, dict[str, float]]:
    """Bare peers (seasonal naive, damped ETS, AutoTheta, their median) from ``origin``."""
    series = pl.concat([prepare_series(s, origin)[0] for s in group.sales.values()])
    train = series.select("unique_id", member=pl.lit("all"), ds="ds", y="y")
    panel = Panel("group", train, group.actual.head(0), "weekly", HORIZON)
    return peers.forecast(panel, ("snaive", "ets", "theta"))


def score(group: Group, forecasts: pl.DataFrame, origin: date) -> pl.DataFrame:
    """Per series and variant: the shared backtest scores (MASE on the one-step naive
    scale, coverage) plus the error sum of the oracle (the true expected demand)."""
    history = pl.concat([prepare_series(s, origin)[0] for s in group.sales.values()])
    joined = forecasts.join(group.actual, on=["unique_id", "ds"]).join(
        group.truth, on=["unique_id", "ds"]
    )
    cv = joined.with_columns(cutoff=pl.lit(origin), model="variant")
    scores = score_series(cv, history.select("unique_id", "ds", "y")).rename({"model": "variant"})
    classes = [pl.col("demand_class").first()] if "demand_class" in joined.columns else []
    oracle = joined.group_by("unique_id", "variant").agg(
        *classes, oracle=(pl.col("y") - pl.col("mu")).abs().sum()
    )
    ages = history.group_by("unique_id").agg(weeks=pl.len())
    return (
        scores.join(oracle, on=["unique_id", "variant"])
        .join(ages, on="unique_id")
        .filter(pl.col("mase").is_finite())
        .with_columns(origin=pl.lit(origin), bucket=history_bucket(pl.col("weeks")))
    )


def summarise(scored: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Mean MASE and the oracle ratio Σ|error| / Σ|oracle error| per group and variant."""
    return (
        scored.group_by(*by, "variant")
        .agg(
            mase=pl.col("mase").mean(),
            oracle_ratio=pl.col("abs_err").sum() / pl.col("oracle").sum(),
            series=pl.len(),
        )
        .sort(*by, "variant")
    )


def run(
    config_dir: Path,
    end: date,
    n_origins: int,
    variants: dict[str, tuple[Pooling, Any]],
    with_events: bool = False,
    with_peers: bool = True,
) -> dict[str, Any]:
    """Score every variant (name → pooling mode and ``settings`` of :func:`product`) and,
    ``with_peers``, the bare peers at ``n_origins`` origins 13 weeks apart; ``with_events``:
    the brands' calendars hold the generator's events (see :func:`load`)."""
    group = load(config_dir, end, with_events=with_events)
    last = end - timedelta(weeks=HORIZON)
    evaluation = [last - timedelta(weeks=HORIZON * k) for k in range(n_origins - 1, -1, -1)]
    scored, seconds = [], {}
    for origin in evaluation:
        for name, (mode, settings) in variants.items():
            fc, cpu = product(group, origin, mode, settings)
            seconds[name] = seconds.get(name, 0.0) + cpu
            fc = fc.with_columns(variant=pl.lit(name))
            scored.append(score(group, fc, origin))
            print(f"group {origin} {name}: {cpu:.1f} cpu s", flush=True)
        if not with_peers:
            continue
        fc, cpu_by_peer = bare(group, origin)
        for peer, cpu in cpu_by_peer.items():
            seconds[f"bare_{peer}"] = seconds.get(f"bare_{peer}", 0.0) + cpu
        scored.append(score(group, fc.with_columns(variant="bare_" + pl.col("model")), origin))
    rows = pl.concat(scored, how="diagonal_relaxed")
    product_rows = rows.filter(pl.col("variant") == "product")
    n_series = product_rows.height
    return {
        "scores": rows,
        "seconds": seconds,
        "series_origins": n_series,
        "coverage": coverage(product_rows.with_columns(variant=pl.lit("partial"))),
        "origins": evaluation,
    }
