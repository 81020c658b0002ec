"""Weeks → retail months → quarters on the 4-4-5 calendar, so every period is whole weeks.

Weeks do not nest in calendar months. Rather than apportion a straddling week's units by
days — which assumes sales spread evenly over the week (retail weeks are weekend-heavy) and
makes a month's total depend on that assumption — periods follow the retail 4-4-5 calendar
on ISO weeks: a quarter is 13 weeks (ISO weeks 1–13, 14–26, 27–39, 40–52), its months 4, 4
and 5 weeks; in a 53-week ISO year the 53rd week joins the last month and quarter. Every
month and quarter is then an exact sum of weeks, the same weeks every year (year-on-year
comparisons see the same number of weekends), and temporal coherence holds by construction.

A period's interval assumes independent weekly errors: σ² of the period is Σ σ² of its weeks
(σ read from each week's 95 % interval). It is a lower bound when errors are correlated.
"""

from __future__ import annotations

import polars as pl

from forecast.vocabulary import NORMAL_Z, Granularity

_MONTH_FIRST_WEEK = (0, 4, 8)  # weeks into the quarter where its 4-4-5 months start


def _position(ds: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Zero-based ISO week, quarter (0–3) and month of the quarter (0–2) of a Monday."""
    week = ds.dt.week() - 1
    quarter = pl.min_horizontal(week // 13, pl.lit(3))
    within = week - 13 * quarter
    month = pl.when(within < 4).then(0).when(within < 8).then(1).otherwise(2)
    return week, quarter, month


def period_start(ds: pl.Expr, granularity: Granularity) -> pl.Expr:
    """The Monday that starts the retail month or quarter of week ``ds`` (itself for weeks)."""
    if granularity == "week":
        return ds
    week, quarter, month = _position(ds)
    first = 13 * quarter
    if granularity == "month":
        first = first + month.replace_strict(dict(enumerate(_MONTH_FIRST_WEEK)))
    return ds.dt.offset_by(pl.format("-{}w", week - first))


def period_weeks(ds: pl.Expr, granularity: Granularity) -> pl.Expr:
    """How many weeks the period of week ``ds`` has (4, 5 or 6 for months, 13 or 14 quarters)."""
    if granularity == "week":
        return pl.lit(1)
    _, quarter, month = _position(ds)
    long_year = pl.date(ds.dt.iso_year(), 12, 28).dt.week() == 53
    extra = (long_year & (quarter == 3)).cast(pl.Int32)
    if granularity == "quarter":
        return 13 + extra
    return pl.when(month == 2).then(5 + extra).otherwise(4)


def to_periods(weekly: pl.DataFrame, keys: list[str], granularity: Granularity) -> pl.DataFrame:
    """Sum weekly forecasts into retail months or quarters.

    Args:
        weekly: ``*keys, ds, step, yhat, lo_80, hi_80, lo_95, hi_95`` and any other summable
            value columns (``base``, ``snaive``).
        keys: Series key columns.

    Returns:
        One row per series and period: ``ds`` = the period's first Monday, ``step`` = that of
        its first forecast week, ``weeks`` (forecast weeks inside), ``period_weeks``, summed
        values and intervals from the summed weekly variances.
    """
    sigma = (pl.col("hi_95") - pl.col("lo_95")) / (2 * NORMAL_Z[95])
    values = [
        c
        for c in weekly.columns
        if c not in (*keys, "ds", "step", "lo_80", "hi_80", "lo_95", "hi_95")
    ]
    tagged = weekly.with_columns(
        period=period_start(pl.col("ds"), granularity),
        period_weeks=period_weeks(pl.col("ds"), granularity),
        var=sigma.pow(2),
    )
    summed = tagged.group_by(*keys, "period", maintain_order=True).agg(
        *[pl.col(v).sum() for v in values],
        step=pl.col("step").min(),
        weeks=pl.len().cast(pl.Int16),
        period_weeks=pl.col("period_weeks").first().cast(pl.Int16),
        sd=pl.col("var").sum().sqrt(),
    )
    bounds = {
        f"{side}_{level}": (pl.col("yhat") + sign * NORMAL_Z[level] * pl.col("sd")).clip(0)
        for level in NORMAL_Z
        for side, sign in (("lo", -1), ("hi", 1))
    }
    out = summed.with_columns(**bounds).with_columns(
        lo_80=pl.min_horizontal("lo_80", "yhat"), lo_95=pl.min_horizontal("lo_95", "yhat")
    )
    return out.rename({"period": "ds"}).drop("sd")
