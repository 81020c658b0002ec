"""Reconciliation by level: Australian tourism beside its published table, and the synthetic group.

One command: ``python bench/hierarchy.py`` (writes bench/out/hierarchy.md).

1. Australian domestic tourism (FPP3 §11.4, Table 11.2): train 1998 Q1 – 2015 Q4, test
   2016 Q1 – 2017 Q4 (h = 8), ETS base forecasts (statsforecast AutoETS, season 4, as the
   Nixtla replication), MASE scaled by the in-sample seasonal naive (m = 4), mean over the
   series of each level. Bottom-up and MinT(shrink) through forecast.planning.hierarchy,
   MinT with W from the ETS residuals (the published method) and with the pipeline's own
   W (one-step naive errors). The published figures are printed beside, same run.
2. Synthetic group (20 brands): the engine's statistical forecast of every SKU × market
   from one origin 13 weeks before the end, reconciled through every level exactly as a run
   does (forecast.planning.coherent); base vs bottom-up vs reconciled per level. The rule:
   reconciliation may not worsen the bottom level by more than 1 %.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from statsforecast import StatsForecast
from statsforecast.models import AutoETS

from forecast.engine.forecasting import forecast_at
from forecast.engine.pooling import pool_priors
from forecast.engine.priors import own_estimates
from forecast.engine.selection import default_models, is_chosen
from forecast.engine.series import prepare_series
from forecast.inputs.calendar import event_calendar
from forecast.inputs.config import load_brands
from forecast.inputs.synthetic import generate_sales
from forecast.planning.coherent import coherent_forecasts, score_levels
from forecast.planning.hierarchy import bottom_up, reconcile, to_levels
from forecast.planning.products import hierarchy_of
from forecast.vocabulary import LEVEL_KEYS, SECTORS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "aus_tourism"
END = date(2026, 11, 16)
TOURISM_LEVELS = {
    "Total": (),
    "State": ("State",),
    "Purpose": ("Purpose",),
    "Regions": ("State", "Region"),
    "State x Purpose": ("State", "Purpose"),
    "Bottom": ("State", "Region", "Purpose"),
}
SHOWN = ("Total", "Purpose", "State", "Regions", "Bottom", "All series")


def tourism() -> pl.DataFrame:
    """MASE per level and method on the tourism test quarters, beside the published table."""
    raw = pl.read_csv(DATA / "tourism.csv")
    quarter = pl.col("Quarter").str.slice(6, 1).cast(pl.Int32)
    bottom = raw.select(
        "State",
        "Region",
        "Purpose",
        ds=pl.date(pl.col("Quarter").str.slice(0, 4).cast(pl.Int32), 3 * quarter - 2, 1),
        y="Trips",
    )
    history, structure = to_levels(bottom, ["y"], TOURISM_LEVELS)
    train = history.filter(pl.col("ds") <= date(2015, 10, 1))
    test = history.filter(pl.col("ds") > date(2015, 10, 1))
    sf = StatsForecast(models=[AutoETS(season_length=4, alias="ets")], freq="1q")
    wide = sf.forecast(h=8, df=train, level=[80, 95], fitted=True)
    base = wide.select(
        "unique_id",
        "ds",
        yhat="ets",
        **{f"{s}_{lv}": f"ets-{s}-{lv}" for s in ("lo", "hi") for lv in (80, 95)},
    )
    fitted = sf.forecast_fitted_values().select("unique_id", "ds", "y", yhat="ets")
    scale = (
        train.sort("unique_id", "ds")
        .group_by("unique_id")
        .agg(scale=pl.col("y").diff(4).abs().mean())
    )
    methods = {
        "Base": base,
        "Bottom-up": bottom_up(base, structure),
        "MinT(shrink), W from ETS residuals": reconcile(
            base, train, structure, insample=fitted
        ).forecasts,
        "MinT(shrink), W from naive errors (pipeline)": reconcile(base, train, structure).forecasts,
    }
    keys = structure.keys.select("unique_id", "level")
    rows = []
    for name, fc in methods.items():
        by_level = score_levels(fc, test, scale, keys)
        overall = score_levels(fc, test, scale, keys.with_columns(level=pl.lit("All series")))
        rows.append(
            pl.concat([by_level, overall]).select("level", "mase").with_columns(method=pl.lit(name))
        )
    ours = pl.concat(rows).filter(pl.col("level").is_in(SHOWN))
    published = (
        pl.read_csv(DATA / "published_reconciliation_accuracy.csv")
        .filter(
            pl.col("metric") == "MASE",
            pl.col("method").is_in(["Base", "Bottom-up", "MinT(shrink)"]),
        )
        .with_columns(
            level=pl.col("level").replace({"Overall": "All series"}),
            method=pl.concat_str(
                pl.col("method"), pl.lit(" — "), pl.col("source").str.split(" (").list.first()
            ),
        )
        .select("level", mase="value", method="method")
    )
    table = pl.concat([ours, published]).pivot(on="level", index="method", values="mase")
    return table.select("method", *SHOWN)


def synthetic() -> tuple[pl.DataFrame, str]:
    """Per level: base, bottom-up and reconciled accuracy on the synthetic group, one origin."""
    brands = load_brands(ROOT / "config" / "brands")
    data = generate_sales(brands, date(2023, 1, 2), END)
    origin = END - timedelta(weeks=13)
    calendar = event_calendar(2020, END.year + 1)
    per_brand = {b: data.sales.filter(pl.col("brand") == b) for b in brands}
    estimates = [
        own_estimates(b, prepare_series(per_brand[b], origin)[0], calendar) for b in brands
    ]
    priors = pool_priors(
        estimates, {b: c.pool for b, c in brands.items()}, list(SECTORS), "partial"
    )
    parts = []
    for b, cfg in brands.items():
        if per_brand[b].filter(pl.col("ds") <= origin).is_empty():
            continue  # launched after the origin
        fc = forecast_at(cfg, per_brand[b], origin, priors, calendar).forecasts
        chosen = fc.filter(is_chosen(default_models(cfg.model))).with_columns(
            is_selected=pl.lit(True)
        )
        parts += [
            chosen,
            fc.filter(pl.col("model") == "snaive").with_columns(is_selected=pl.lit(False)),
        ]
    statistical = pl.concat(parts, how="diagonal_relaxed")
    series, _ = prepare_series(data.sales, origin)
    series = series.join(
        statistical.select("brand", "region", "product").unique(), on=["brand", "region", "product"]
    )
    hierarchy = hierarchy_of(series, data.products, {b: c.sector for b, c in brands.items()})
    started = time.perf_counter()
    run = coherent_forecasts(
        statistical, series.select("brand", "region", "product", "ds", "y"), hierarchy, origin
    )
    seconds = time.perf_counter() - started
    weekly = run.forecasts.filter(pl.col("granularity") == "week")
    actual = _level_actuals(data.sales, hierarchy, origin)
    keyed = weekly.with_columns(unique_id=_id())
    scale = run.scales.with_columns(unique_id=_id()).select("unique_id", "scale")
    keys = keyed.select("unique_id", "level").unique()
    methods = {
        "base": keyed.with_columns(yhat="base"),
        "bottom_up": _bottom_up_of(keyed),
        run.reconciled.path: keyed,
    }
    rows = [
        score_levels(fc, actual, scale, keys).with_columns(method=pl.lit(name))
        for name, fc in methods.items()
    ]
    rec = run.reconciled
    note = f"path {rec.path} ({rec.reason}); levels and level backtest in {seconds:.0f} s"
    return pl.concat(rows).select("level", "method", "n_series", "mase", "wape", "bias"), note


def _id() -> pl.Expr:
    cols = ["level", "sector", "brand", "market", "category", "product"]
    return pl.concat_str([pl.col(c) for c in cols], separator="/", ignore_nulls=True)


def _level_actuals(sales: pl.DataFrame, hierarchy: pl.DataFrame, origin: date) -> pl.DataFrame:
    later = sales.filter(pl.col("ds") > origin).join(hierarchy, on=["brand", "region", "product"])
    frames = []
    for level, keys in LEVEL_KEYS.items():
        frames.append(
            later.group_by(*keys, "ds")
            .agg(y=pl.col("units").sum())
            .with_columns(level=pl.lit(level))
        )
    return (
        pl.concat(frames, how="diagonal")
        .with_columns(unique_id=_id())
        .select("unique_id", "ds", "y")
    )


def _bottom_up_of(keyed: pl.DataFrame) -> pl.DataFrame:
    """Bottom base forecasts summed to each level (bounds left out)."""
    bottom = keyed.filter(pl.col("level") == "product_market")
    frames = [
        bottom.group_by(*keys, "ds")
        .agg(yhat=pl.col("base").sum())
        .with_columns(level=pl.lit(level))
        for level, keys in LEVEL_KEYS.items()
    ]
    out = pl.concat(frames, how="diagonal").with_columns(unique_id=_id())
    return out.with_columns(
        **{b: pl.lit(None, pl.Float64) for b in ("lo_80", "hi_80", "lo_95", "hi_95")}
    )


def main() -> None:
    pl.Config.set_tbl_rows(60)
    pl.Config.set_tbl_cols(12)
    pl.Config.set_fmt_float("full")
    started = time.perf_counter()
    out = ["# Reconciliation benchmark", ""]
    if (DATA / "tourism.csv").exists():
        table = tourism().with_columns(pl.exclude("method").round(3))
        print(f"Australian tourism, MASE (h = 8):\n{table}")
        out += ["## Australian tourism, MASE by level (h = 8)", "", _md(table), ""]
    else:
        print(f"{DATA} not found: tourism part skipped", file=sys.stderr)
    syn, note = synthetic()
    syn = syn.sort("level", "method").with_columns(pl.col("mase", "wape", "bias").round(4))
    print(f"\nSynthetic group, one origin ({note}):\n{syn}")
    bottom = syn.filter(pl.col("level") == "product_market")
    base = bottom.filter(pl.col("method") == "base").row(0, named=True)
    rec = bottom.filter(~pl.col("method").is_in(["base", "bottom_up"])).row(0, named=True)
    change = {m: rec[m] / base[m] - 1 for m in ("mase", "wape")}
    verdict = "PASS" if max(change.values()) <= 0.01 else "FAIL"
    line = (
        f"bottom level, reconciled vs base: MASE {change['mase']:+.2%}, WAPE {change['wape']:+.2%} "
        f"→ {verdict} (limit +1 %)"
    )
    print(line)
    out += ["## Synthetic group by level, one origin", "", note, "", _md(syn), "", line, ""]
    out.append(f"Wall time: {time.perf_counter() - started:.0f} s")
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "hierarchy.md").write_text("\n".join(out) + "\n")


def _md(frame: pl.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    for row in frame.iter_rows():
        lines.append("| " + " | ".join("" if v is None else str(v) for v in row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
