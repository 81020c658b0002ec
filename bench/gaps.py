"""Real sales as they come, on synthetic exports whose truth is known: ``make bench-gaps``.

The group's 20 brand configs with the export knobs of ``[synthetic]`` on — outages of whole
regions (2–6 weeks, ``outages_per_year``), returns (``return_share`` of series-weeks get
0.5–3 typical weeks back, net units may be negative), chain-wide one-week promotion spikes
(10–50×), SKUs that pause for 8–40 weeks and restart — are forecast through
:func:`run_brand` at a few origins 13 weeks apart, with every brand's ``[sales]`` set to:

* ``today``: a missing week is 0 and a negative week is 0 (what the product did before:
  ingest refused negative units and the refused week became a 0);
* ``auto``: the defaults — an outage of the whole brand × region is unknown, a lone missing
  week is 0, a negative week is unknown;
* ``auto_floor``: the same, but a negative week is demand 0;
* ``unknown``: every missing week and every negative week unknown.

The forecasts a planner uses (``is_selected``) are scored against the true expected demand
``mu`` (MASE on the one-step scale of the observed history, WAPE against the truth) —
overall and on the series-origins whose last 13 weeks before the origin held an outage
(``after a gap``) — and against the recorded actuals (interval coverage, observed weeks
only). ``dropped`` counts series not forecast as discontinued that had demand (Σ mu ≥ 1) in
the 13 weeks after the origin. Last, the season-profile leak of single-week spikes: each
brand's own profile estimated with and without the spikes (same data otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from forecast.engine.backtest import origins  # noqa: E402
from forecast.engine.events import calendar_of  # noqa: E402
from forecast.engine.metrics import score_series  # noqa: E402
from forecast.engine.pipeline import estimate_brand, run_brand, series_profiles  # noqa: E402
from forecast.engine.pooling import pool_priors  # noqa: E402
from forecast.engine.priors import own_estimates  # noqa: E402
from forecast.engine.series import prepare_series, series_id  # noqa: E402
from forecast.inputs.calendar import run_calendars  # noqa: E402
from forecast.inputs.config import BrandConfig, SalesSettings, load_brands  # noqa: E402
from forecast.inputs.markets import shipped_markets  # noqa: E402
from forecast.inputs.synthetic import generate_sales  # noqa: E402
from forecast.vocabulary import SECTORS  # noqa: E402

warnings.filterwarnings("ignore", category=UserWarning)
START, END, HORIZON = date(2023, 1, 2), date(2026, 11, 16), 13
EXPORTS = {
    "outages_per_year": 2.0,
    "return_share": 0.02,
    "spikes_per_year": 1.0,
    "pause_share": 0.1,
}
VARIANTS = {
    "today": SalesSettings(missing_weeks="zero", returns="floor"),
    "auto": SalesSettings(),
    "auto_floor": SalesSettings(returns="floor"),
    "unknown": SalesSettings(missing_weeks="unknown"),
}


def with_knobs(brands: dict[str, BrandConfig], **knobs: float) -> dict[str, BrandConfig]:
    """The brands with the given ``[synthetic]`` knobs."""
    return {
        b: c.model_copy(update={"synthetic": c.synthetic.model_copy(update=knobs)})
        for b, c in brands.items()
    }


def true_history(sales: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, ds, y, outage``: what was really observable — the recorded units (net,
    floored at 0), 0 in a pause (no demand, no row), null in an outage (demand, no row)."""
    rows = sales.with_columns(series_id()).select("unique_id", "ds", "units")
    live = truth.with_columns(series_id()).select("unique_id", "market", "ds", "mu")
    joined = live.join(rows, on=["unique_id", "ds"], how="left")
    outage = pl.col("units").is_null() & (pl.col("mu") > 0)
    return joined.select(
        "unique_id",
        "market",
        "ds",
        "mu",
        y=pl.when(~outage).then(pl.col("units").fill_null(0.0).clip(0.0)),
        outage=outage,
    )


def forecast_variant(
    brands: dict[str, BrandConfig],
    sales: dict[str, pl.DataFrame],
    holidays: pl.DataFrame,
    origin: date,
) -> tuple[pl.DataFrame, float]:
    """Selected forecasts of every brand from ``origin`` (priors re-estimated per cutoff)."""
    started = time.process_time()
    calendars = {b: calendar_of(sales[b], holidays) for b in brands}
    cutoffs = sorted({c for b in brands.values() for c in origins(origin, b.horizon, 2)})
    own = {b: estimate_brand(c, sales[b], cutoffs, calendars[b]) for b, c in brands.items()}
    pools = {b: c.pool for b, c in brands.items()}
    priors = {c: pool_priors([own[b][c] for b in brands], pools, list(SECTORS)) for c in cutoffs}
    parts = []
    for b, cfg in brands.items():
        if sales[b].filter(pl.col("ds") <= origin).is_empty():
            continue
        mine = {c: priors[c] for c in origins(origin, cfg.horizon, 2)}
        result = run_brand(cfg, sales[b], origin, mine, calendars[b], known=series_profiles(own[b]))
        parts.append(result.forecasts.filter(pl.col("is_selected")))
    return pl.concat(parts), time.process_time() - started


def score(fc: pl.DataFrame, history: pl.DataFrame, origin: date) -> pl.DataFrame:
    """Per series: MASE and absolute errors against the truth, coverage against the actuals,
    and whether an outage touched its region in the 13 weeks before the origin."""
    past = history.filter(pl.col("ds") <= origin)
    recent = origin - timedelta(weeks=HORIZON)
    after_gap = past.group_by("unique_id").agg(
        after_gap=(pl.col("outage") & (pl.col("ds") > recent)).any()
    )
    future = history.filter(pl.col("ds") > origin)
    cv = fc.join(future, on=["unique_id", "ds"]).with_columns(
        cutoff=pl.lit(origin), model=pl.lit("selected")
    )
    train = past.select("unique_id", "ds", "y")
    truth = score_series(cv.with_columns(y=pl.col("mu")), train).select(
        "unique_id", "mase", "abs_err", abs_mu="abs_y"
    )
    actual = score_series(cv.drop_nulls("y"), train).select(
        "unique_id", "coverage_80", "coverage_95"
    )
    return truth.join(actual, on="unique_id", how="left").join(after_gap, on="unique_id")


def dropped(fc: pl.DataFrame, history: pl.DataFrame, origin: date) -> int:
    """Series alive at the origin, not forecast, with demand (Σ mu ≥ 1) in the next weeks."""
    end = origin + timedelta(weeks=HORIZON)
    window = history.filter(pl.col("ds") > origin, pl.col("ds") <= end)
    demand = window.group_by("unique_id").agg(mu=pl.col("mu").sum()).filter(pl.col("mu") >= 1)
    started = history.filter(pl.col("ds") <= origin).select("unique_id").unique()
    wanted = demand.join(started, on="unique_id")
    return wanted.join(fc.select("unique_id").unique(), on="unique_id", how="anti").height


def summarise(rows: pl.DataFrame) -> dict[str, Any]:
    """Mean MASE (finite), WAPE against the truth and coverage, overall and after a gap."""
    out: dict[str, Any] = {}
    for name, part in (("all", rows), ("after_gap", rows.filter(pl.col("after_gap")))):
        finite = part.filter(pl.col("mase").is_finite())
        out[f"mase_{name}"] = finite["mase"].mean()
        out[f"wape_{name}"] = part["abs_err"].sum() / part["abs_mu"].sum()
        out[f"series_{name}"] = part.height
    out["coverage_80"] = rows["coverage_80"].mean()
    out["coverage_95"] = rows["coverage_95"].mean()
    return out


def spike_leak(brands: dict[str, BrandConfig], holidays: pl.DataFrame) -> dict[str, float]:
    """How far one-week spikes move each brand's own season profile (log scale): RMS and
    largest change over positions, mean over brands, beside the profiles' own RMS size."""
    profiles = []
    for spikes in (0.0, EXPORTS["spikes_per_year"]):
        data = generate_sales(with_knobs(brands, spikes_per_year=spikes), START, END)
        season = []
        for b, c in brands.items():
            mine = data.sales.filter(pl.col("brand") == b)
            series, _ = prepare_series(mine, END, c.sales)
            season.append(own_estimates(b, series, calendar_of(mine, holidays)).season)
        profiles.append(pl.concat(season).select("brand", "key", "own"))
    both = profiles[0].join(profiles[1], on=["brand", "key"], suffix="_spiky")
    per_brand = both.group_by("brand").agg(
        rms=((pl.col("own_spiky") - pl.col("own")) ** 2).mean().sqrt(),
        largest=(pl.col("own_spiky") - pl.col("own")).abs().max(),
        size=(pl.col("own") ** 2).mean().sqrt(),
    )
    return {k: float(per_brand[k].mean()) for k in ("rms", "largest", "size")}  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--origins", type=int, default=2, help="evaluation origins")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    started = time.perf_counter()
    brands = load_brands(ROOT / "config" / "brands")
    calendar = run_calendars(shipped_markets(), brands.values(), 2020, END.year + 1)["weekly"]
    data = generate_sales(with_knobs(brands, **EXPORTS), START, END)
    history = true_history(data.sales, data.truth)
    per_brand = {b: data.sales.filter(pl.col("brand") == b) for b in brands}
    last = END - timedelta(weeks=HORIZON)
    evaluation = [last - timedelta(weeks=HORIZON * k) for k in range(args.origins - 1, -1, -1)]
    results: dict[str, Any] = {
        "exports": EXPORTS,
        "origins": [str(o) for o in evaluation],
        "negative_weeks": int((data.sales["units"] < 0).sum()),
        "outage_weeks": int(history["outage"].sum()),
        "series_weeks": history.height,
    }
    for name in args.variants:
        configs = {b: c.model_copy(update={"sales": VARIANTS[name]}) for b, c in brands.items()}
        scored, lost, cpu = [], 0, 0.0
        for origin in evaluation:
            fc, seconds = forecast_variant(configs, per_brand, calendar, origin)
            scored.append(score(fc, history, origin))
            lost += dropped(fc, history, origin)
            cpu += seconds
            print(f"{name} {origin}: {seconds:.0f} cpu s", flush=True)
        results[name] = {**summarise(pl.concat(scored)), "dropped": lost, "cpu_seconds": cpu}
        print(name, json.dumps(results[name], default=str), flush=True)
    results["spike_leak"] = spike_leak(brands, calendar)
    results["wall_seconds"] = time.perf_counter() - started
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "gaps.json").write_text(json.dumps(results, indent=1, default=str))
    print(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
