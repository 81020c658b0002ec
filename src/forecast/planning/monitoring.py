"""Accuracy as actuals arrive: tracking-signal alarms and the brands whose accuracy moved most.

The scores themselves are warehouse views (``accuracy_by_level``, ``tracking_signals``);
this module ranks them for people: ``forecast monitor`` and the flow's Prefect artifact.
"""

from __future__ import annotations

import polars as pl

ALARM_LIMIT = 4.0  # |tracking signal| beyond this: the forecast is biased, not unlucky


def movers(brand_runs: pl.DataFrame, backtest: pl.DataFrame) -> pl.DataFrame:
    """Per brand, how its WAPE moved: latest evaluated run against the one before it.

    Args:
        brand_runs: ``run_id, as_of, brand, wape, bias, n_points`` — accuracy of each run's
            published forecasts of the brand's series on the actuals arrived so far.
        backtest: ``run_id, brand, wape`` — each run's backtest WAPE of its chosen models,
            the comparison when a brand has only one evaluated run.

    Returns:
        ``brand, run_id, as_of, wape, baseline, compared_with, change, bias, n_points``,
        largest absolute change first.
    """
    ranked = brand_runs.sort("brand", "as_of", descending=[False, True]).with_columns(
        rank=pl.int_range(pl.len()).over("brand")
    )
    latest = ranked.filter(pl.col("rank") == 0).drop("rank")
    previous = ranked.filter(pl.col("rank") == 1).select("brand", previous="wape")
    promised = backtest.select("run_id", "brand", promised="wape")
    out = latest.join(previous, on="brand", how="left").join(
        promised, on=["run_id", "brand"], how="left"
    )
    out = out.with_columns(
        baseline=pl.coalesce("previous", "promised"),
        compared_with=pl.when(pl.col("previous").is_not_null())
        .then(pl.lit("previous run"))
        .when(pl.col("promised").is_not_null())
        .then(pl.lit("backtest"))
        .otherwise(pl.lit(None, pl.String)),
    ).with_columns(change=pl.col("wape") - pl.col("baseline"))
    return out.sort(pl.col("change").abs(), descending=True, nulls_last=True).select(
        "brand",
        "run_id",
        "as_of",
        "wape",
        "baseline",
        "compared_with",
        "change",
        "bias",
        "n_points",
    )


def monitor_markdown(alarms: pl.DataFrame, moved: pl.DataFrame, limit: int = 15) -> str:
    """Markdown: alarms by level, the worst alarms, and the brands that moved most."""
    lines = ["# Forecast monitor", ""]
    if alarms.is_empty():
        lines.append(f"No tracking-signal alarm (|signal| > {ALARM_LIMIT:g}).")
    else:
        counts = alarms.group_by("level").len().sort("len", descending=True)
        lines.append(
            f"**{alarms.height} tracking-signal alarms** (|Σ error / MAD| > {ALARM_LIMIT:g}): "
            + ", ".join(f"{lvl} {n}" for lvl, n in counts.iter_rows())
        )
        lines += ["", "| level | series | weeks | signal |", "|---|---|---:|---:|"]
        for row in alarms.head(limit).iter_rows(named=True):
            lines.append(
                f"| {row['level']} | {series_label(row)} | {row['n_weeks']} | "
                f"{row['tracking_signal']:+.1f} |"
            )
    lines += ["", "## Brands whose accuracy moved most", ""]
    if moved.is_empty():
        lines.append("No published forecast has actuals yet.")
        return "\n".join(lines)
    lines += [
        "| brand | WAPE | before | compared with | change | bias |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for row in moved.head(limit).iter_rows(named=True):
        lines.append(
            f"| {row['brand']} | {_pct(row['wape'])} | {_pct(row['baseline'])} | "
            f"{row['compared_with'] or ''} | {_pct(row['change'], sign=True)} | "
            f"{_pct(row['bias'], sign=True)} |"
        )
    return "\n".join(lines)


def series_label(row: dict[str, object]) -> str:
    """``brand/market/category/product`` of a level row (``group`` at the top)."""
    parts = [row.get(k) for k in ("sector", "brand", "market", "category", "product")]
    return "/".join(str(p) for p in parts if p is not None) or "group"


def _pct(value: object, sign: bool = False) -> str:
    if value is None:
        return ""
    return f"{float(value):+.1%}" if sign else f"{float(value):.1%}"  # type: ignore[arg-type]
