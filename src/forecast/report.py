"""Human-readable run reports: the markdown summary and the per-sector profile plots."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import polars as pl

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
        "| brand | sector | status | series | rows | selected model | seconds | error |",
        "|---|---|---|---:|---:|---|---:|---|",
    ]
    for o in sorted(outcomes, key=lambda o: (o.status != "failed", o.brand)):
        cells = [o.brand, o.sector, o.status, o.n_series, o.n_rows, o.selected_model, o.seconds]
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


def _png(fig: Any) -> bytes:
    """The figure as PNG bytes; the figure is closed (no window, no leak)."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
