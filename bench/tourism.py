"""Real grouped data: Australian domestic tourism, Regions pooled within States or Purposes.

Same split as the published table (FPP3 §11.4, Table 11.2): train 1998 Q1 – 2015 Q4,
test 2016 Q1 – 2017 Q4 (h = 8), bottom level = 304 Region × Purpose series, MASE scaled by
the in-sample seasonal naive (m = 4), averaged over series. Each series is a pool member of
its own; the pool is its State (or its Purpose). Also run on a *short* history — only the
last 6 training quarters kept — where a series cannot estimate its own seasonality.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from forecast.engine.events import empty_calendar
from forecast.engine.forecasting import FitPlan, forecast_series
from forecast.engine.metrics import score_series
from forecast.engine.pooling import Pooling, pool_priors
from forecast.engine.priors import own_estimates

TRAIN_END = date(2015, 10, 1)
PLAN = FitPlan(horizon=8, smooth=("ets",), intermittent=("croston_sba",), frequency="quarterly")


def load(path: Path) -> pl.DataFrame:
    """``unique_id, State, Purpose, ds, y`` from the tsibble tourism CSV."""
    raw = pl.read_csv(path)
    year = pl.col("Quarter").str.slice(0, 4).cast(pl.Int32)
    quarter = pl.col("Quarter").str.slice(6, 1).cast(pl.Int32)
    return raw.select(
        unique_id=pl.concat_str("Region", "Purpose", separator="/"),
        State="State",
        Purpose="Purpose",
        ds=pl.date(year, 3 * (quarter - 1) + 1, 1),
        y="Trips",
    ).sort("unique_id", "ds")


def forecast(train: pl.DataFrame, pool_by: str, mode: Pooling) -> pl.DataFrame:
    """ETS forecasts of every series with priors pooled by ``pool_by`` (State or Purpose)."""
    calendar = empty_calendar()
    ids = train["unique_id"].unique().to_list()
    estimates = [
        own_estimates(i, train.filter(pl.col("unique_id") == i), calendar, "quarterly") for i in ids
    ]
    pools = dict(train.select("unique_id", pool_by).unique().iter_rows())
    priors = pool_priors(estimates, pools, sorted(set(pools.values())), mode, "quarterly")
    classes = train.select("unique_id").unique().with_columns(demand_class=pl.lit("smooth"))
    out = []
    for member in ids:  # each series is its own pool member: no within-member shrinkage
        rows = train.filter(pl.col("unique_id") == member)
        mine = priors.brands.filter(pl.col("brand") == member)
        fc, _, _ = forecast_series(
            rows, classes.filter(pl.col("unique_id") == member), mine, calendar, PLAN, mode
        )
        out.append(fc.filter(pl.col("model") == "ets"))
    return pl.concat(out).select("unique_id", "ds", "yhat")


def unpooled(train: pl.DataFrame, model: str) -> pl.DataFrame:
    """No priors at all, through the same code path: ``snaive`` (m = 4) or ``mstl`` (the
    series' own seasonality)."""
    calendar = empty_calendar()
    classes = train.select("unique_id").unique().with_columns(demand_class=pl.lit("smooth"))
    empty = pl.DataFrame(schema={"kind": pl.String, "key": pl.String, "shrunk": pl.Float64})
    plan = FitPlan(8, (model,) if model != "snaive" else (), (), "quarterly")
    fc, _, _ = forecast_series(train, classes, empty, calendar, plan, "none")
    return fc.filter(pl.col("model") == model).select("unique_id", "ds", "yhat")


def mase(fc: pl.DataFrame, test: pl.DataFrame, train: pl.DataFrame) -> float:
    """Mean over series of MAE / in-sample seasonal-naive MAE (m = 4); NaN without rows."""
    cv = fc.join(test, on=["unique_id", "ds"]).with_columns(
        cutoff=pl.lit(TRAIN_END), model=pl.lit("fc")
    )
    per = score_series(cv, train.select("unique_id", "ds", "y"), seasonality=4)["mase"]
    finite = per.filter(per.is_finite())
    return float(finite.mean()) if finite.len() else float("nan")  # type: ignore[arg-type]


def run(path: Path) -> dict[str, Any]:
    data = load(path)
    train, test = data.filter(pl.col("ds") <= TRAIN_END), data.filter(pl.col("ds") > TRAIN_END)
    short = train.filter(pl.col("ds") > date(2014, 4, 1))  # last 6 quarters
    rows = []
    for history, label in ((train, "full (72 quarters)"), (short, "short (6 quarters)")):
        for model in ("snaive", "mstl"):
            value = mase(unpooled(history, model), test, train)
            rows.append({"history": label, "pool": "-", "variant": model, "mase": value})
        for pool_by in ("State", "Purpose"):
            for mode in ("partial", "none", "full"):
                value = mase(forecast(history, pool_by, mode), test, train)
                rows.append({"history": label, "pool": pool_by, "variant": mode, "mase": value})
                print(f"tourism {label} pool={pool_by} {mode}: MASE {value:.3f}", flush=True)
    return {"scores": pl.DataFrame(rows)}
