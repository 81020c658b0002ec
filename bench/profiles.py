"""Season-profile estimator on real and synthetic panels, beside bare statsforecast peers.

``python bench/profiles.py [--only tcomp,aus,retail] [--baseline REV]`` prints MASE and CPU
seconds per dataset and variant and writes ``bench/out/profiles.json``. The library variants
go through the product's own path (``own_estimates`` → ``pool_priors`` → ``forecast_series``
/ ``forecast_at``) with one fixed model — damped ETS on the de-seasonalised log1p series — so
only the seasonality differs between them:

* ``partial`` — empirical-Bayes shrinkage (the product), ``none`` — each series' own
  profile, ``full`` — every member takes its pool's profile;
* ``mstl`` — the series' own MSTL on log1p (the product's own-seasonality candidate, two
  seasons of history needed); ``snaive`` — seasonal naive;
* peers, bare statsforecast on the raw scale: ``ets_damped`` (AutoETS, damped trend,
  seasonal period m; on weekly data non-seasonal, since AutoETS(52) costs 20× for nothing)
  and ``autotheta`` (AutoTheta, period m).

Datasets:

* ``tcomp``: tourism competition monthly (h = 24) and quarterly (h = 8), published split,
  MASE scaled by the in-sample seasonal naive; every series is a member of one pool.
  Seasonal naive reproduces ``tcomp_reproduction.csv`` (1.63 / 1.70) first.
* ``aus``: Australian domestic tourism, bottom level (304 series), train to 2015 Q4, h = 8,
  pools = States; published ETS base 0.98.
* ``retail``: a proxy of a real weekly retail panel — one synthetic perfume brand, 300 SKU ×
  region series, no zeros, 85, 98 (pre-Christmas) and 111 weeks of history at three
  origins, h = 13, MASE scaled by the in-sample one-step naive, oracle ratio against the
  true expected demand; also with one chain-wide week at 20× (``spike``), scored against the
  truth of the same week a year later.

Every dataset is also cut to its last 1.5 seasons of history (``short``), where pooled
seasonality has to beat each series' own and seasonal naive. ``--baseline REV`` also runs
the library variants on the estimator of git revision REV (its ``src/`` exported to a
temporary folder), in the same invocation and on the same data, and prints them beside.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, AutoTheta, Naive

from forecast.engine.backtest import origins
from forecast.engine.events import calendar_of, empty_calendar
from forecast.engine.forecasting import FitPlan, forecast_at, forecast_series
from forecast.engine.pooling import Pooling, pool_priors
from forecast.engine.priors import own_estimates
from forecast.engine.series import prepare_series, series_id
from forecast.inputs.calendar import run_calendars
from forecast.inputs.config import Category, ModelSettings, load_brands
from forecast.inputs.markets import shipped_markets
from forecast.inputs.synthetic import generate_brand, generate_sales, weeks_between
from forecast.vocabulary import POLARS_INTERVAL, SEASON_LENGTH, SECTORS, Frequency

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MODES: tuple[Pooling, ...] = ("partial", "none", "full")
NO_EVENTS = empty_calendar()
RETAIL_START = date(2023, 1, 2)
RETAIL_WEEKS = (85, 98, 111)
SPIKE_WEEK = date(2024, 3, 11)


def timed(fn: Callable[[], pl.DataFrame]) -> tuple[pl.DataFrame, float]:
    """``fn()`` and the CPU seconds it took (this process and its children)."""
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


# ---- forecasts ---------------------------------------------------------------------------


def member_forecast(
    train: pl.DataFrame, pool_by: str, mode: Pooling, plan: FitPlan, model: str = "ets"
) -> pl.DataFrame:
    """Every series its own pool member (``brand``), pooled by column ``pool_by``."""
    ids = train["unique_id"].unique().sort().to_list()
    parts = train.partition_by("unique_id", as_dict=True)
    est = [own_estimates(i, parts[(i,)], NO_EVENTS, plan.frequency) for i in ids]
    pools = dict(train.select("unique_id", pool_by).unique().iter_rows())
    priors = pool_priors(est, pools, sorted(set(pools.values())), mode, plan.frequency)
    smooth = pl.DataFrame({"unique_id": ids, "demand_class": "smooth"})
    rows = priors.brands.partition_by("brand", as_dict=True)
    out = []
    for i in ids:
        fc = forecast_series(
            parts[(i,)], smooth.filter(pl.col("unique_id") == i), rows[(i,)], NO_EVENTS, plan, mode
        )[0]
        out.append(fc.filter(pl.col("model") == model))
    return pl.concat(out).select("unique_id", "ds", "yhat")


def own_model(train: pl.DataFrame, plan: FitPlan, model: str) -> pl.DataFrame:
    """No priors: ``snaive`` or ``mstl`` through the product's fitting path."""
    smooth = train.select("unique_id").unique().with_columns(demand_class=pl.lit("smooth"))
    empty = pl.DataFrame(schema={"kind": pl.String, "key": pl.String, "shrunk": pl.Float64})
    own = FitPlan(plan.horizon, () if model == "snaive" else (model,), (), plan.frequency)
    fc = forecast_series(train, smooth, empty, NO_EVENTS, own, "none")[0]
    return fc.filter(pl.col("model") == model).select("unique_id", "ds", "yhat")


def peers(train: pl.DataFrame, h: int, frequency: Frequency) -> pl.DataFrame:
    """Bare statsforecast on raw values: damped AutoETS and AutoTheta, clipped at zero."""
    m = SEASON_LENGTH[frequency]
    ets_m = 1 if m == 52 else m
    models = [
        AutoETS(season_length=ets_m, damped=True, alias="ets_damped"),
        AutoTheta(season_length=m, alias="autotheta"),
    ]
    sf = StatsForecast(models=models, freq=POLARS_INTERVAL[frequency], fallback_model=Naive())
    fc = sf.forecast(h=h, df=train.select("unique_id", "ds", "y"))
    return fc.unpivot(
        index=["unique_id", "ds"], on=["ets_damped", "autotheta"], variable_name="variant"
    ).select("unique_id", "ds", "variant", yhat=pl.col("value").clip(0))


# ---- scores ------------------------------------------------------------------------------


def mase(fc: pl.DataFrame, test: pl.DataFrame, scale_from: pl.DataFrame, lag: int) -> float:
    """Mean over series of MAE / in-sample MAE of the lag-``lag`` naive."""
    scale = scale_from.sort("ds").group_by("unique_id").agg(s=pl.col("y").diff(lag).abs().mean())
    err = (
        fc.join(test, on=["unique_id", "ds"])
        .group_by("unique_id")
        .agg(e=(pl.col("y") - pl.col("yhat")).abs().mean())
    )
    per = err.join(scale, on="unique_id").filter(pl.col("s") > 0)
    return float((per["e"] / per["s"]).mean()) if per.height else float("nan")  # type: ignore[arg-type]


def last_seasons(train: pl.DataFrame, seasons: float, frequency: Frequency) -> pl.DataFrame:
    """Each series cut to its last ``seasons`` seasons."""
    keep = int(seasons * SEASON_LENGTH[frequency])
    return train.sort("unique_id", "ds").group_by("unique_id", maintain_order=True).tail(keep)


# ---- datasets ----------------------------------------------------------------------------


def load_tcomp(kind: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(train, test)`` of the tourism competition, ``unique_id, pool, market, ds, y``."""
    raw = pl.read_csv(DATA / "tourism_competition" / f"{kind}_long.csv")
    year = pl.col("period").str.slice(0, 4).cast(pl.Int32)
    if kind == "monthly":
        month = pl.col("period").str.slice(5, 2).cast(pl.Int32)
    else:
        month = 3 * (pl.col("period").str.slice(6, 1).cast(pl.Int32) - 1) + 1
    frame = raw.select(
        "unique_id",
        pool=pl.lit("all"),
        market=pl.lit("europe"),
        ds=pl.date(year, month, 1),
        y="y",
        split="split",
    ).sort("unique_id", "ds")
    return (
        frame.filter(pl.col("split") == "train").drop("split"),
        frame.filter(pl.col("split") == "test").drop("split"),
    )


def load_aus() -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(train, test)`` of Australian tourism, bottom level, pools = States."""
    raw = pl.read_csv(DATA / "aus_tourism" / "tourism.csv")
    year = pl.col("Quarter").str.slice(0, 4).cast(pl.Int32)
    quarter = pl.col("Quarter").str.slice(6, 1).cast(pl.Int32)
    frame = raw.select(
        unique_id=pl.concat_str("Region", "Purpose", separator="/"),
        pool="State",
        market=pl.lit("europe"),
        ds=pl.date(year, 3 * (quarter - 1) + 1, 1),
        y="Trips",
    ).sort("unique_id", "ds")
    cut = date(2015, 10, 1)
    return frame.filter(pl.col("ds") <= cut), frame.filter(pl.col("ds") > cut)


def run_members(
    train: pl.DataFrame,
    test: pl.DataFrame,
    frequency: Frequency,
    h: int,
    with_peers: bool,
) -> list[dict[str, Any]]:
    """Every variant on a member-per-series dataset, full history and last 1.5 seasons."""
    m = SEASON_LENGTH[frequency]
    plan = FitPlan(h, ("ets", "theta"), (), frequency)
    rows = []
    for label, history in (("full", train), ("short", last_seasons(train, 1.5, frequency))):
        runs: dict[str, Callable[[], pl.DataFrame]] = {
            mode: partial(member_forecast, history, "pool", mode, plan) for mode in MODES
        }
        if with_peers:
            runs["snaive"] = partial(own_model, history, plan, "snaive")
            runs["mstl"] = partial(own_model, history, plan, "mstl")
        for variant, fn in runs.items():
            fc, cpu = timed(fn)
            rows.append(
                {"history": label, "variant": variant, "mase": mase(fc, test, train, m), "cpu": cpu}
            )
        if with_peers:
            fc, cpu = timed(partial(peers, history, h, frequency))
            for variant, part in fc.partition_by("variant", as_dict=True).items():
                value = mase(part, test, train, m)
                rows.append({"history": label, "variant": variant[0], "mase": value, "cpu": cpu})
        print(f"  {label} done", flush=True)
    return rows


def retail_sales(spike: bool) -> tuple[Any, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One perfume brand, 100 SKUs × 3 regions, no young SKUs; optionally one 20× week.

    Returns ``(brand, sales as given to the product, actual units without the spike,
    true expected demand)``.
    """
    base = load_brands(ROOT / "config" / "brands")["rouge_absolu"]
    brand = base.model_copy(
        update={
            "markets": ("europe", "americas", "china"),
            "categories": (Category(name="fragrance", skus=100),),
            "synthetic": base.synthetic.model_copy(update={"young_sku_share": 0.0, "volume": 40.0}),
            "model": ModelSettings(candidates=("ets", "theta"), intermittent_candidates=("tsb",)),
        }
    )
    weeks = weeks_between(RETAIL_START, RETAIL_START + timedelta(weeks=max(RETAIL_WEEKS) + 13))
    data = generate_brand(brand, weeks, seed=3)
    sales = data.sales
    if spike:
        bump = pl.when(pl.col("ds") == SPIKE_WEEK).then(20.0).otherwise(1.0)
        sales = sales.with_columns(units=pl.col("units") * bump)
    actual = data.sales.with_columns(series_id()).select("unique_id", "ds", y="units")
    mu = data.truth.with_columns(series_id()).select("unique_id", "ds", "mu")
    return brand, sales, actual, mu


def run_retail(with_peers: bool) -> list[dict[str, Any]]:
    """The retail proxy: three origins, clean and with a spike, full and short history."""
    holidays = run_calendars(shipped_markets(), [retail_sales(False)[0]], 2022, 2026)["weekly"]
    rows = []
    for spiked in (False, True):
        brand, sales, actual, mu = retail_sales(spiked)
        calendar = calendar_of(sales, holidays)
        for weeks in RETAIL_WEEKS:
            origin = RETAIL_START + timedelta(weeks=weeks - 1)
            for label, keep in (("full", None), ("short", 78)):
                history = sales if keep is None else _cut(sales, origin, keep)
                scored = _retail_origin(
                    brand, history, origin, calendar, actual, mu, with_peers and not spiked
                )
                rows += [
                    {**r, "origin": str(origin), "history": label, "spike": spiked} for r in scored
                ]
        print(f"  retail spike={spiked} done", flush=True)
    return rows


def _cut(sales: pl.DataFrame, origin: date, weeks: int) -> pl.DataFrame:
    return sales.filter(pl.col("ds") > origin - timedelta(weeks=weeks))


def _retail_origin(
    brand: Any,
    sales: pl.DataFrame,
    origin: date,
    calendar: pl.DataFrame,
    actual: pl.DataFrame,
    truth: pl.DataFrame,
    with_peers: bool,
) -> list[dict[str, Any]]:
    """Scores of every variant at one origin of the retail proxy."""
    series, _ = prepare_series(sales, origin)
    scale_from = actual.filter(pl.col("ds") <= origin)  # clean units: spikes leave the scale
    rows = []
    for mode in MODES:

        def run(mode: Pooling = mode) -> pl.DataFrame:
            est = own_estimates(brand.brand, series, calendar)
            priors = pool_priors([est], {brand.brand: brand.sector}, list(SECTORS), mode)
            return forecast_at(brand, sales, origin, priors, calendar, mode).forecasts

        fc, cpu = timed(run)
        for model in ("ets", "theta"):
            part = fc.filter(pl.col("model") == model).select("unique_id", "ds", "yhat")
            rows.append(_retail_score(part, f"{mode}/{model}", cpu, actual, truth, scale_from))
        if with_peers and mode == "partial":
            part = fc.filter(pl.col("model") == "snaive").select("unique_id", "ds", "yhat")
            rows.append(_retail_score(part, "snaive", 0.0, actual, truth, scale_from))
    if with_peers:
        plan = FitPlan(13, (), (), "weekly")
        fc, cpu = timed(lambda: own_model(series, plan, "mstl"))
        rows.append(_retail_score(fc, "mstl", cpu, actual, truth, scale_from))
        fc, cpu = timed(lambda: peers(series, 13, "weekly"))
        for (variant,), part in fc.partition_by("variant", as_dict=True).items():
            rows.append(_retail_score(part, str(variant), cpu, actual, truth, scale_from))
    return rows


def _retail_score(
    fc: pl.DataFrame,
    variant: str,
    cpu: float,
    actual: pl.DataFrame,
    truth: pl.DataFrame,
    scale_from: pl.DataFrame,
) -> dict[str, Any]:
    """MASE (one-step naive scale) and oracle ratio Σ|y − ŷ| / Σ|y − μ|."""
    joined = fc.join(actual, on=["unique_id", "ds"]).join(truth, on=["unique_id", "ds"])
    err = (pl.col("y") - pl.col("yhat")).abs().sum() / (pl.col("y") - pl.col("mu")).abs().sum()
    oracle = float(joined.select(err).item()) if joined.height else float("nan")
    value = mase(fc, actual, scale_from, 1)
    return {"variant": variant, "mase": value, "oracle": oracle, "cpu": cpu}


def run_group_short(n_origins: int = 2) -> list[dict[str, Any]]:
    """The synthetic group cut to its last 78 weeks before each origin (bench/pooling.py's
    variants, 1.5 seasons of history): pooled seasonality against each series' own."""
    sys.path.insert(0, str(ROOT / "bench"))
    import pooling  # the group benchmark's own helpers

    brands = pooling._fixed(load_brands(ROOT / "config" / "brands"))
    end = date(2026, 11, 16)
    data = generate_sales(brands, date(2023, 1, 2), end, seed=0)
    calendar = run_calendars(shipped_markets(), brands.values(), 2020, end.year + 1)["weekly"]
    actual = data.sales.with_columns(series_id()).select("unique_id", "ds", y="units")
    truth = data.truth.with_columns(series_id()).select("unique_id", "ds", "mu")
    sectors = {b: c.sector for b, c in brands.items()}
    cutoffs = origins(end - timedelta(weeks=13), 13, 3)[-n_origins:]
    rows = []
    for origin in cutoffs:
        cut = _cut(data.sales, origin, 78)
        fc, timing = pooling._origin(brands, cut, origin, calendar)
        scores = pooling._score(fc, actual, truth, data.sales, origin, sectors)
        table = pooling.summarise(scores.with_columns(all=pl.lit("all")), ["all"])
        for variant in pooling.VARIANTS:
            rows.append(
                {
                    "history": "short",
                    "origin": str(origin),
                    "variant": variant,
                    "mase": table[f"mase_{variant}"][0],
                    "oracle": table[f"oracle_ratio_{variant}"][0],
                    "cpu": timing.get(variant, 0.0),
                }
            )
        print(f"  group short {origin} done", flush=True)
    return rows


# ---- driver ------------------------------------------------------------------------------


def run(only: set[str], with_peers: bool) -> dict[str, Any]:
    """Every selected dataset; returns ``dataset → rows``."""
    out: dict[str, Any] = {}
    if "tcomp" in only:
        for kind, freq, h in (("monthly", "monthly", 24), ("quarterly", "quarterly", 8)):
            print(f"tourism competition {kind}", flush=True)
            train, test = load_tcomp(kind)
            out[f"tcomp_{kind}"] = run_members(train, test, freq, h, with_peers)  # type: ignore[arg-type]
    if "aus" in only:
        print("australian tourism", flush=True)
        train, test = load_aus()
        out["aus_tourism"] = run_members(train, test, "quarterly", 8, with_peers)
    if "retail" in only:
        print("retail proxy", flush=True)
        out["retail"] = run_retail(with_peers)
    if "group_short" in only:
        print("synthetic group, last 78 weeks", flush=True)
        out["group_short"] = run_group_short()
    return out


def _baseline(rev: str, only: str) -> dict[str, Any]:
    """Library variants of revision ``rev``: its src/ (and the config/ its package reads,
    the markets file) exported, this script run against it."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "src", "config"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        result = Path(tmp) / "out.json"
        cmd = [sys.executable, __file__, "--only", only, "--no-peers", "--json", str(result)]
        subprocess.run(cmd, check=True, env=env)
        return dict(json.loads(result.read_text())["new"])


def _label(row: dict[str, Any]) -> str:
    parts = [str(row["history"])]
    if row.get("origin") and "spike" not in row:
        parts.append(str(row["origin"])[2:])
    if "spike" in row:
        parts.insert(0, "spike" if row["spike"] else "clean")
        parts.append(str(row["origin"])[2:])
    return " ".join(parts)


def tables(results: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, pl.DataFrame]:
    """Per dataset: one row per variant (``old:`` = the baseline's), MASE per column, CPU s."""
    out = {}
    for dataset, rows in results.items():
        frames = [pl.DataFrame(rows)]
        if baseline and dataset in baseline:
            old = pl.DataFrame(baseline[dataset])
            frames.append(old.with_columns(variant=pl.lit("old:") + pl.col("variant")))
        frame = pl.concat(frames, how="diagonal_relaxed")
        frame = frame.with_columns(
            column=pl.Series([_label(r) for r in frame.iter_rows(named=True)])
        )
        table = frame.pivot(on="column", index="variant", values="mase", aggregate_function="mean")
        cpu = frame.group_by("variant").agg(cpu_s=pl.col("cpu").sum())
        out[dataset] = table.join(cpu, on="variant", how="left")
    return out


def _markdown(frame: pl.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * frame.width
    body = [
        "| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in frame.iter_rows()
    ]
    return "\n".join([head, *body])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="tcomp,aus,retail")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--baseline", help="git revision whose estimator runs beside")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "profiles.json")
    args = parser.parse_args()
    pl.Config.set_tbl_rows(60)
    pl.Config.set_tbl_cols(20)
    results = run(set(args.only.split(",")), not args.no_peers)
    baseline = _baseline(args.baseline, args.only) if args.baseline else None
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"new": results, "baseline": baseline}, default=str))
    for dataset, table in tables(results, baseline).items():
        print(f"\n### {dataset} — MASE (CPU seconds summed over columns)\n\n{_markdown(table)}")


if __name__ == "__main__":
    main()
