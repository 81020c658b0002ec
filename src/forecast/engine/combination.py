"""Combinations of candidate forecasts: robust where choosing one model from few windows is not.

The M4 competition's lesson: a median (or mean) of a few good models beats picking one of
them when the evidence for the pick is thin. A combination is fitted by nobody; its point
forecast and every bound are the median, per series and period, of the models that
forecast that series (the median is monotone, so ordered bounds stay ordered).
"""

from __future__ import annotations

import polars as pl

from forecast.engine.models import family_of, members_of

_VALUES = ("yhat", "lo_80", "hi_80", "lo_95", "hi_95")


def combine(forecasts: pl.DataFrame, name: str) -> pl.DataFrame:
    """The median of every model in ``forecasts``, per series and period, as model ``name``.

    Args:
        forecasts: Long forecasts ``unique_id, ds, model, yhat, lo_80, hi_80, lo_95, hi_95``
            of the members (a series forecast by one model only gets that model's values).

    Returns:
        The same columns, one row per series and period, ``model = name``.
    """
    if forecasts.is_empty():
        return forecasts.clear()
    medians = forecasts.group_by("unique_id", "ds").agg(pl.col(c).median() for c in _VALUES)
    ordered = medians.select("unique_id", "ds", pl.lit(name).alias("model"), *_VALUES)
    return ordered.sort("unique_id", "ds")


def add_combinations(forecasts: pl.DataFrame, names: list[str], ids: pl.Series) -> pl.DataFrame:
    """``forecasts`` plus, for the series in ``ids``, every combination named in ``names``
    (each the median of its members, see :func:`forecast.engine.models.members_of`)."""
    combos = [n for n in names if family_of(n) == "combination"]
    if not combos:
        return forecasts
    mine = forecasts.filter(pl.col("unique_id").is_in(ids.implode()))
    parts = [combine(mine.filter(pl.col("model").is_in(members_of(n))), n) for n in combos]
    return pl.concat([forecasts, *parts])
