"""Unknown weeks filled for the models that need a regular grid, and flagged as imputed.

Unknown weeks (``y`` null, see :mod:`forecast.engine.series`) are never demand: profiles,
levels, interval scales and scores skip them. statsforecast models need every week of a
grid, so those weeks get a value from the series' own level and its seasonal ``offset``
(the shrunk profile and events, log1p scale): the level just before the gap is the mean of
the de-seasonalised values of the ``NEIGHBOURS`` observed weeks before it, the level just
after the mean of the ``NEIGHBOURS`` after it, and inside the gap the level moves linearly
from one to the other (at either end of a series the one that exists). Smooth series work
on the log scale, ``z = log1p(y) − offset``, ``y = expm1(level + offset)``; intermittent
ones on the rate scale, ``y · exp(−offset)``, so that mostly-zero neighbours give their mean
rate rather than the lower mean of their logs.
"""

from __future__ import annotations

import polars as pl

NEIGHBOURS = 4
_KEYS = ["unique_id", "ds"]


def impute_unknown(history: pl.DataFrame) -> pl.DataFrame:
    """Fill null ``y`` from the series' level and offset; add ``is_imputed``.

    Args:
        history: ``unique_id, ds, y`` with ``y`` null on unknown weeks; optional ``offset``
            (log1p scale, 0 when absent) and ``demand_class`` (``intermittent`` rows work on
            the rate scale, all others on the log scale).

    Returns:
        ``history`` sorted by id and week with ``y`` filled (≥ 0) and ``is_imputed``. A series
        with no observed week at all gets 0.
    """
    offset = pl.col("offset") if "offset" in history.columns else pl.lit(0.0)
    rate = (
        pl.col("demand_class") == "intermittent"
        if "demand_class" in history.columns
        else pl.lit(False)
    )
    frame = history.sort(_KEYS).with_columns(
        is_imputed=pl.col("y").is_null(),
        _v=pl.when(rate)
        .then(pl.col("y").clip(0.0) * (-offset).exp())
        .otherwise(pl.col("y").clip(0.0).log1p() - offset),
    )
    if not frame["is_imputed"].any():
        return frame.drop("_v")
    level = pl.col("_level")
    value = pl.when(rate).then(level * offset.exp()).otherwise((level + offset).exp() - 1)
    filled = pl.when(pl.col("is_imputed")).then(value.fill_null(0.0).clip(0.0))
    return _with_gap_level(frame).with_columns(y=filled.otherwise(pl.col("y"))).drop("_v", "_level")


def _with_gap_level(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` plus ``_level``: on unknown weeks, the level interpolated across their gap."""
    t = pl.int_range(pl.len()).over("unique_id")
    observed = frame.filter(~pl.col("is_imputed")).select(
        *_KEYS,
        _before=pl.col("_v").rolling_mean(NEIGHBOURS, min_samples=1).over("unique_id"),
        _after=pl.col("_v")
        .reverse()
        .rolling_mean(NEIGHBOURS, min_samples=1)
        .reverse()
        .over("unique_id"),
    )
    seen = ~pl.col("is_imputed")
    edges = (
        frame.with_columns(_t=t)
        .join(observed, on=_KEYS, how="left")
        .with_columns(
            _prev=pl.col("_before").forward_fill().over("unique_id"),
            _prev_t=pl.when(seen).then(pl.col("_t")).forward_fill().over("unique_id"),
            _next=pl.col("_after").backward_fill().over("unique_id"),
            _next_t=pl.when(seen).then(pl.col("_t")).backward_fill().over("unique_id"),
        )
    )
    share = (pl.col("_t") - pl.col("_prev_t")) / (pl.col("_next_t") - pl.col("_prev_t"))
    between = pl.col("_prev") + (pl.col("_next") - pl.col("_prev")) * share
    level = pl.when(pl.col("_prev").is_not_null() & pl.col("_next").is_not_null()).then(between)
    return edges.with_columns(_level=level.otherwise(pl.coalesce("_prev", "_next"))).select(
        *frame.columns, "_level"
    )
