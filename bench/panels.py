"""Benchmark panels: real datasets with published splits, and a long weekly proxy for M4.

Every loader returns a :class:`Panel`: training rows ``unique_id, member, ds, y``
(``member`` is the pool member a series belongs to: its brand in the product's terms) and
test rows ``unique_id, ds, y``, with the frequency and horizon of the published split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from forecast.vocabulary import SEASON_LENGTH, Frequency


@dataclass(frozen=True)
class Panel:
    """One benchmark dataset: training and test rows, frequency and horizon."""

    name: str
    train: pl.DataFrame
    test: pl.DataFrame
    frequency: Frequency
    horizon: int

    @property
    def season_length(self) -> int:
        return SEASON_LENGTH[self.frequency]


def _frame(ids: pl.Expr, member: pl.Expr, ds: pl.Expr, y: pl.Expr) -> list[pl.Expr]:
    return [
        ids.alias("unique_id"),
        member.alias("member"),
        ds.alias("ds"),
        y.cast(pl.Float64).alias("y"),
    ]


def tourism_competition(folder: Path, frequency: Frequency) -> Panel:
    """Kaggle tourism competition, monthly (h = 24) or quarterly (h = 8); one pool."""
    raw = pl.read_csv(folder / f"{frequency}_long.csv")
    period = pl.col("period")
    if frequency == "monthly":
        ds = period.str.to_date("%Y-%m")
    else:
        quarter = period.str.slice(6, 1).cast(pl.Int32)
        ds = pl.date(period.str.slice(0, 4).cast(pl.Int32), 3 * (quarter - 1) + 1, 1)
    rows = raw.select(*_frame(pl.col("unique_id"), pl.lit("all"), ds, pl.col("y")), "split")
    rows = rows.sort("unique_id", "ds")
    train = rows.filter(pl.col("split") == "train").drop("split")
    test = rows.filter(pl.col("split") == "test").select("unique_id", "ds", "y")
    horizon = 24 if frequency == "monthly" else 8
    return Panel(f"tourism_{frequency}", train, test, frequency, horizon)


def aus_tourism(path: Path) -> Panel:
    """Australian domestic tourism, 304 Region × Purpose series; members are States.

    Published split (FPP3 §11.4): train to 2015 Q4, test 2016 Q1 – 2017 Q4 (h = 8).
    """
    raw = pl.read_csv(path)
    year = pl.col("Quarter").str.slice(0, 4).cast(pl.Int32)
    quarter = pl.col("Quarter").str.slice(6, 1).cast(pl.Int32)
    rows = raw.select(
        *_frame(
            pl.concat_str("Region", "Purpose", separator="/"),
            pl.col("State"),
            pl.date(year, 3 * (quarter - 1) + 1, 1),
            pl.col("Trips"),
        )
    ).sort("unique_id", "ds")
    end = date(2015, 10, 1)
    train = rows.filter(pl.col("ds") <= end)
    test = rows.filter(pl.col("ds") > end).select("unique_id", "ds", "y")
    return Panel("aus_tourism", train, test, "quarterly", 8)


def carparts(path: Path, missing: Literal["zero", "unknown"] = "zero") -> Panel:
    """2,674 monthly car-part series (51 months); the last 12 held out, as the Monash
    archive does. Its 6,122 missing months (165 parts no longer recorded after their first
    ~14 months) count as zero sales, as in the archive's version without missing values, or
    stay unknown (``y`` null: never demand, never scored) with ``missing="unknown"``."""
    wide = pl.read_csv(path, infer_schema_length=0)
    month_col = wide.columns[0]
    long = wide.unpivot(index=month_col, variable_name="part", value_name="units")
    units = pl.col("units").cast(pl.Float64, strict=False)
    units = units.fill_null(0.0) if missing == "zero" else units
    ds = pl.col(month_col).str.to_date("%Y-%m")
    rows = long.select(*_frame(pl.col("part"), pl.lit("all"), ds, units))
    rows = rows.sort("unique_id", "ds")
    last = rows["ds"].unique().sort()[-12]
    train = rows.filter(pl.col("ds") < last)
    test = rows.filter(pl.col("ds") >= last).select("unique_id", "ds", "y")
    name = "carparts" if missing == "zero" else "carparts_unknown"
    return Panel(name, train, test, "monthly", 12)


def long_weekly(n_series: int = 300, seed: int = 7) -> Panel:
    """A proxy for M4 weekly: long weekly series (80–1,500 weeks, h = 13) whose seasonal
    shape drifts year by year and whose trend changes at random points.

    Each series: log level = piecewise-linear trend (2–5 change points) + a yearly shape
    from four Fourier pairs whose coefficients follow a random walk, + AR(1) noise;
    units = exp of that, times a level of 100–10,000. Seasonal amplitude varies by series
    (some nearly flat), as in M4's weekly finance and demographic series.
    """
    rng = np.random.default_rng(seed)
    frames, tests = [], []
    end = date(2019, 12, 30)
    for i in range(n_series):
        n = int(rng.integers(80, 1500)) + 13
        t = np.arange(n)
        log_y = _trend(rng, n) + _drifting_season(rng, t) + _ar_noise(rng, n)
        y = np.exp(log_y) * rng.uniform(100, 10_000)
        ds = [end - timedelta(weeks=int(n - 1 - k)) for k in t]
        frame = pl.DataFrame({"unique_id": f"w{i:03d}", "ds": ds, "y": y})
        frames.append(frame.head(n - 13))
        tests.append(frame.tail(13))
    train = pl.concat(frames).select(
        *_frame(pl.col("unique_id"), pl.lit("all"), pl.col("ds"), pl.col("y"))
    )
    return Panel("long_weekly", train, pl.concat(tests), "weekly", 13)


def _trend(rng: np.random.Generator, n: int) -> np.ndarray:
    knots = np.sort(rng.choice(np.arange(20, n - 20), size=int(rng.integers(2, 6)), replace=False))
    slopes = rng.normal(0.0, 0.004, size=knots.size + 1)
    per_week = slopes[np.searchsorted(knots, np.arange(n))]
    return np.cumsum(per_week)


def _drifting_season(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    amplitude = rng.choice([0.02, 0.15, 0.35])
    years = t // 52 + 1
    season = np.zeros(t.size)
    for k in range(1, 5):
        walk = np.cumsum(rng.normal(0, 0.25, size=(years.max() + 1, 2)), axis=0) + rng.normal(
            0, 1, size=2
        )
        coef = walk[years] * amplitude / k
        angle = 2 * np.pi * k * t / 52.18
        season += coef[:, 0] * np.sin(angle) + coef[:, 1] * np.cos(angle)
    return season


def _ar_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    eps = rng.normal(0, rng.uniform(0.02, 0.12), size=n)
    out = np.empty(n)
    out[0] = eps[0]
    for k in range(1, n):
        out[k] = 0.5 * out[k - 1] + eps[k]
    return out


def short_history(panel: Panel, seasons: float = 1.5) -> Panel:
    """The same panel with only its last ``seasons`` seasons of training kept."""
    keep = round(seasons * panel.season_length)
    train = panel.train.filter(pl.int_range(pl.len()).reverse().over("unique_id") < keep)
    return replace(panel, name=f"{panel.name}_short", train=train)
