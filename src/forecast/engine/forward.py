"""Backtests that fit once: the oldest origin's models run forward at the later ones.

A brand is forecast from every backtest origin (oldest first) and from its forecast origin,
and fitting every model at every origin is most of what a run spends. The models fitted at
the oldest backtest origin are kept (:class:`FittedModels`); at each later backtest origin
every one runs forward over the series' longer history: the smoothing parameters and
initial states stay, the states are filtered again up to that origin, and the forecast
starts from there (statsforecast's ``forward``, what its ``cross_validation(refit=False)``
does). Nothing after an origin reaches its forecast, so the windows stay out of sample.

A series the oldest origin did not fit, or fitted on fewer than ``MIN_FITTED`` periods, or
whose model cannot run on it, is fitted where it is forecast, as before. The forecast
origin always fits every model. ``[model] refit_backtests = true`` in a brand file fits
every model at every backtest origin instead (see docs/models.md §3).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from forecast.vocabulary import POLARS_INTERVAL, Frequency

# Parameters fitted on fewer periods are not carried forward: the series is fitted again.
MIN_FITTED = 26


@dataclass
class FittedModels:
    """statsforecast models fitted at one origin, per fit (e.g. ``smooth/log1p``), each
    with the row of every series it fitted; empty until that origin has been fitted."""

    fits: dict[str, tuple[dict[str, int], list[str], np.ndarray]] = field(default_factory=dict)

    def keep(self, fit: str, frame: pl.DataFrame, sf: Any) -> None:
        """Keep one fit's models (``sf``: a fitted ``StatsForecast``, ``fitted_`` series ×
        models) for the series of ``frame`` with at least ``MIN_FITTED`` periods."""
        sizes = dict(frame.group_by("unique_id").len().iter_rows())
        rows = {str(u): i for i, u in enumerate(sf.uids) if sizes[u] >= MIN_FITTED}
        self.fits[fit] = (rows, [m.alias for m in sf.models], sf.fitted_)

    def has(self, fit: str) -> bool:
        """Whether the origin fitted this fit."""
        return fit in self.fits


def run_forward(
    models: FittedModels,
    fit: str,
    frame: pl.DataFrame,
    horizon: int,
    levels: list[int] | None,
    frequency: Frequency,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The kept models of ``fit`` run forward over each series of ``frame``.

    Args:
        frame: ``unique_id, ds, y`` up to a later origin.

    Returns:
        The forecasts in statsforecast's wide form (``unique_id, ds``, a column per model
        and bound), and the rows of ``frame`` of the series that still need a fit.
    """
    rows, names, fitted = models.fits[fit]
    frame = frame.sort("unique_id", "ds")
    sizes = frame.group_by("unique_id", maintain_order=True).agg(
        n=pl.len(), last=pl.col("ds").last()
    )
    ends = np.cumsum(sizes["n"].to_numpy())
    y = frame["y"].to_numpy()
    columns = _columns(names, levels)
    done: list[str] = []
    values: list[np.ndarray] = []
    for uid, start, end in zip(sizes["unique_id"], ends - sizes["n"].to_numpy(), ends, strict=True):
        row = rows.get(uid)
        if row is None:
            continue
        out = _forward(fitted[row], y[start:end], horizon, levels)
        if out is not None:
            done.append(uid)
            values.append(out)
    left = frame.filter(~pl.col("unique_id").is_in(done))
    if not done:
        return pl.DataFrame(), left
    unit = POLARS_INTERVAL[frequency].lstrip("1")
    steps = pl.int_range(1, horizon + 1, eager=True).cast(pl.String) + unit
    keys = (
        sizes.filter(pl.col("unique_id").is_in(done))
        .join(pl.DataFrame({"offset": steps}), how="cross")
        .select("unique_id", ds=pl.col("last").dt.offset_by(pl.col("offset")))
    )
    matrix = np.concatenate(values, axis=0)
    return keys.with_columns(
        pl.Series(c, matrix[:, k], dtype=pl.Float64) for k, c in enumerate(columns)
    ), left


def _columns(names: list[str], levels: list[int] | None) -> list[str]:
    """statsforecast's wide column names, per model: the mean, then each bound."""
    bounds = [f"-{side}-{lv}" for lv in levels or () for side in ("lo", "hi")]
    return [f"{n}{b}" for n in names for b in ("", *bounds)]


def _forward(
    models: np.ndarray, y: np.ndarray, horizon: int, levels: list[int] | None
) -> np.ndarray | None:
    """``horizon × columns`` of every model of one series run forward over ``y``; None when
    one of them cannot run on it (too short for its states): the series is fitted instead."""
    parts = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for model in models:
            try:
                out = model.forward(y=y, h=horizon, level=levels)
            except Exception:
                return None
            parts.append(out["mean"])
            for lv in levels or ():
                parts.extend((out[f"lo-{lv}"], out[f"hi-{lv}"]))
    return np.column_stack(parts)
