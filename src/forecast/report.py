"""Human-readable run reports: the markdown summary, sector profile plots, fan and FVA charts."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import polars as pl
from matplotlib.axes import Axes

from forecast.engine.runs import BrandOutcome, RunSummary


def run_summary_markdown(summary: RunSummary, outcomes: Sequence[BrandOutcome]) -> str:
    """Markdown of a run: totals, then one line per brand (status, series, rows, time)."""
    lines = [
        f"# Forecast run `{summary.run_id}` — {summary.status}",
        "",
        f"as-of **{summary.as_of}** · {summary.brands} brands · {summary.n_series} series · "
        f"{summary.rows.get('forecasts', 0)} forecast rows · {summary.seconds} s",
        *(["", f"{summary.message}"] if summary.message else []),
        "",
        "| brand | sector | status | series | rows | imputed weeks | unknown | returns "
        "| selected model | seconds | error |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for o in sorted(outcomes, key=lambda o: (o.status != "failed", o.brand)):
        unknown = None if o.unknown_share is None else f"{o.unknown_share:.1%}"
        cells = [
            *(o.brand, o.sector, o.status, o.n_series, o.n_rows, o.n_imputed, unknown),
            *(o.n_returns, o.selected_model, o.seconds),
        ]
        error = (o.error or "").replace("|", "/")[:200]
        lines.append(
            "| " + " | ".join("" if c is None else str(c) for c in cells) + f" | {error} |"
        )
    return "\n".join(lines)


def plot_sector_profiles(priors: pl.DataFrame, weights: pl.DataFrame, pool: str) -> bytes:
    """PNG: every brand's own and shrunk season profile against its pool's profile.

    Args:
        priors: ``priors`` table rows (see ``tables.prior_rows``).
        weights: ``prior_weights`` rows, for the legend (each brand's own weight).
        pool: Sector (pool) id to draw.
    """
    season = priors.filter(pl.col("kind") == "season").with_columns(
        pos=pl.col("key").cast(pl.Int32)
    )
    brands = season.filter(pl.col("level") == "brand", pl.col("pool") == pool)
    pooled = season.filter(pl.col("level") == "sector", pl.col("pool") == pool).sort("pos")
    group = season.filter(pl.col("level") == "group").sort("pos")
    season_weights = weights.filter(pl.col("level") == "brand", pl.col("kind") == "season")
    own_weight = dict(season_weights.select("name", "own_weight").iter_rows())
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    for i, (brand, rows) in enumerate(brands.sort("pos").group_by("brand", maintain_order=True)):
        colour = f"C{i % 10}"
        name = str(brand[0])
        if rows["own"].is_not_null().any():
            ax.plot(rows["pos"], rows["own"], color=colour, lw=0.8, ls=":", alpha=0.8)
        label = f"{name} (keeps {own_weight.get(name, 0.0):.0%})"
        ax.plot(rows["pos"], rows["shrunk"], color=colour, lw=1.2, label=label)
    ax.plot(pooled["pos"], pooled["shrunk"], color="black", lw=2.5, label=f"{pool} pool")
    ax.plot(group["pos"], group["shrunk"], color="grey", lw=1.5, ls="--", label="group")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(
        xlabel="week of year",
        ylabel="seasonal effect (log scale)",
        title=f"{pool}: brand profiles (dotted: own estimate, solid: used) vs pool",
    )
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    return _png(fig)


_BLUE = "#1f5fa8"
HISTORY_WEEKS = 78  # a year and a half before the origin: last year's season and this one


def fan_chart(
    history: pl.DataFrame,
    forecast: pl.DataFrame,
    overrides: pl.DataFrame,
    title: str,
    as_of: date,
) -> bytes:
    """PNG: history, statistical forecast with 80/95 % bands, final forecast, overrides, actuals.

    Args:
        history: ``ds, actual`` (weeks up to and after the forecast origin).
        forecast: ``ds, yhat, lo_80, hi_80, lo_95, hi_95, final``.
        overrides: ``override_id, period_start, period_end, label`` shaping this series.
        title: Chart title (level and key).
        as_of: The forecast origin, drawn as a vertical line.
    """
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=100)
    first = as_of - timedelta(weeks=HISTORY_WEEKS)
    past = history.filter(pl.col("ds") <= as_of, pl.col("ds") > first)
    later = history.filter(pl.col("ds") > as_of)
    ax.plot(past["ds"], past["actual"], color="black", lw=1.2, label="actuals")
    _draw_forecast(ax, forecast)
    _draw_overrides(ax, overrides)
    if later.height:
        ax.plot(
            later["ds"],
            later["actual"],
            "o",
            color="black",
            ms=4,
            label="actuals since the forecast",
        )
    ax.axvline(float(mdates.date2num(as_of)), color="grey", lw=0.8, ls=":")
    ax.set(title=title, ylabel="units per week")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="lower left")
    fig.autofmt_xdate()
    return _png(fig)


def _draw_forecast(ax: Axes, forecast: pl.DataFrame) -> None:
    """The 95 / 80 % bands, the statistical forecast and, where it differs, the final one."""
    for level, alpha in ((95, 0.15), (80, 0.3)):
        lo, hi = forecast[f"lo_{level}"], forecast[f"hi_{level}"]
        ax.fill_between(
            forecast["ds"], lo, hi, color=_BLUE, alpha=alpha, label=f"{level} % interval"
        )
    ax.plot(forecast["ds"], forecast["yhat"], color=_BLUE, lw=2, label="statistical forecast")
    if (forecast["final"] - forecast["yhat"]).abs().max() > 1e-9:  # type: ignore[operator]
        ax.plot(
            forecast["ds"],
            forecast["final"],
            color="#d9480f",
            lw=2,
            ls="--",
            label="final (with overrides)",
        )


def _draw_overrides(ax: Axes, overrides: pl.DataFrame) -> None:
    """Each override's period shaded and labelled with its change and author."""
    for i, row in enumerate(overrides.iter_rows(named=True)):
        ax.axvspan(
            row["period_start"],
            row["period_end"],
            color="#f59f00",
            alpha=0.12,
            label="override period" if i == 0 else None,
        )
        ax.annotate(
            row["label"],
            (row["period_start"], 0.98 - 0.05 * i),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            va="top",
            color="#9c5700",
        )


def fva_chart(fva: pl.DataFrame, title: str) -> bytes:
    """PNG: WAPE of seasonal naive, statistical and final forecasts per brand (lower is better).

    Args:
        fva: ``brand, naive_wape, statistical_wape, final_wape, n_points`` (one row per brand).
    """
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    if fva.is_empty():
        ax.text(
            0.5,
            0.5,
            "no actuals yet for these forecasts",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        ax.set_title(title)
        return _png(fig)
    rows = fva.sort("brand")
    x = range(rows.height)
    width = 0.27
    for k, (col, label, colour) in enumerate(
        [
            ("naive_wape", "seasonal naive", "#adb5bd"),
            ("statistical_wape", "statistical", _BLUE),
            ("final_wape", "final (with overrides)", "#d9480f"),
        ]
    ):
        ax.bar(
            [i + (k - 1) * width for i in x],
            rows[col].fill_null(0),
            width,
            label=label,
            color=colour,
        )
    ax.set_xticks(list(x), rows["brand"].to_list(), rotation=20, ha="right", fontsize=8)
    ax.set(title=title, ylabel="WAPE (lower is better)")
    ax.legend(fontsize=8)
    return _png(fig)


def _png(fig: Any) -> bytes:
    """The figure as PNG bytes; the figure is closed (no window, no leak)."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
