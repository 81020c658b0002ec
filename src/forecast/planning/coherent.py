"""One run's coherent forecasts: base forecasts, reconciliation, retail periods, level backtest.

The bottom base forecast is the engine's statistical forecast (``is_selected`` rows of the
run); the levels above take :mod:`forecast.planning.levels`' fits as base. The backtest by
level forecasts every level one horizon before the as-of date — the bottom with the
engine's own backtest forecasts of its chosen models where the run passes them, the levels
above (and any bottom series without one) with the level model — and scores base,
bottom-up and the reconciled forecasts of each level on the weeks since (points only:
intervals are not reconciled there, to halve its cost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import polars as pl

from forecast.engine.series import prepare_series
from forecast.planning.hierarchy import Reconciled, Structure, bottom_up, reconcile, to_levels
from forecast.planning.levels import fit_levels, naive_scale
from forecast.planning.products import hierarchy_of
from forecast.planning.temporal import to_periods
from forecast.vocabulary import BOUNDS, HIERARCHY_KEYS, PLANNING_BYTES_PER_CELL, Granularity

KEY_COLUMNS = ["level", *HIERARCHY_KEYS]
_SERIES = ["brand", "market", "product"]


@dataclass(frozen=True)
class LevelRun:
    """Everything the warehouse stores of one run's levels (rows without ``run_id``).

    Attributes:
        forecasts: ``level_forecasts`` rows (every level, week / month / quarter).
        scales: ``level_scales`` rows.
        backtest: ``level_backtest_metrics`` rows.
        reconciled: Path, reason and clipped cells of the as-of reconciliation.
        n_series: Series at every level.
        n_bottom: Bottom series.
    """

    forecasts: pl.DataFrame
    scales: pl.DataFrame
    backtest: pl.DataFrame
    reconciled: Reconciled
    n_series: int
    n_bottom: int
    hierarchy: pl.DataFrame | None = None

    def tables(self, as_of: date, seconds: float) -> dict[str, pl.DataFrame]:
        """The run's rows of every planning table, keyed by table name (no ``run_id``)."""
        rec = self.reconciled
        record = {
            "as_of": as_of,
            "path": rec.path,
            "reason": rec.reason,
            "n_series": self.n_series,
            "n_bottom": self.n_bottom,
            "n_clipped": rec.n_clipped,
            "seconds": round(seconds, 2),
        }
        row = pl.DataFrame([record]).with_columns(reconciled_at=pl.lit(datetime.now()))
        tables = {
            "level_forecasts": self.forecasts,
            "level_scales": self.scales,
            "level_backtest_metrics": self.backtest,
            "reconciliations": row,
        }
        if self.hierarchy is not None:
            tables["series_hierarchy"] = self.hierarchy
        return tables


def too_large_to_plan(n_bottom: int, weeks: int, memory: int | None) -> str | None:
    """Why ``n_bottom`` series of ``weeks`` weeks of history are not planned on a machine of
    ``memory`` bytes (``PLANNING_BYTES_PER_CELL`` per series and week, more than half of
    it), or None."""
    need = PLANNING_BYTES_PER_CELL * n_bottom * weeks
    if memory is None or need <= memory / 2:
        return None
    return (
        f"{n_bottom:,} bottom series × {weeks} weeks: planning them would hold ~"
        f"{need / 1e9:,.0f} GB, more than half of this machine's {memory / 1e9:,.0f} GB"
    )


def plan_levels(
    statistical: pl.DataFrame,
    sales: pl.DataFrame,
    master: pl.DataFrame,
    sectors: Mapping[str, str],
    as_of: date,
    n_jobs: int = 1,
    engine_backtest: pl.DataFrame | None = None,
) -> LevelRun:
    """:func:`coherent_forecasts` from raw sales rows and the product master.

    Args:
        statistical: See :func:`coherent_forecasts`.
        sales: ``brand, market, product, ds, units`` up to ``as_of``.
        master: The ``product`` table (may be empty).
        sectors: Brand → sector.
        engine_backtest: See :func:`level_backtest`.
    """
    series, _ = prepare_series(sales, as_of)
    forecast_series = statistical.select(_SERIES).unique()
    series = series.join(forecast_series, on=_SERIES)
    hierarchy = hierarchy_of(series, master, sectors)
    run = coherent_forecasts(statistical, series, hierarchy, as_of, n_jobs, engine_backtest)
    return replace(
        run, hierarchy=hierarchy.select(*_SERIES, "sector", "category", "category_source")
    )


def coherent_forecasts(
    statistical: pl.DataFrame,
    history: pl.DataFrame,
    hierarchy: pl.DataFrame,
    as_of: date,
    n_jobs: int = 1,
    engine_backtest: pl.DataFrame | None = None,
) -> LevelRun:
    """Reconcile a run's statistical forecasts through every level and period.

    Args:
        statistical: The run's forecasts of the bottom series: ``brand, market, product, ds,
            step, model, is_selected, yhat`` and bounds (selected rows and ``snaive`` rows).
        history: ``brand, market, product, ds, y`` of those series, up to ``as_of``.
        hierarchy: ``brand, market, product, sector, category`` (see
            ``products.hierarchy_of``).
        engine_backtest: See :func:`level_backtest`.
    """
    selected = statistical.filter(pl.col("is_selected"))
    horizon = int(selected["step"].max())  # type: ignore[arg-type]
    bottom = history.join(selected.select(_SERIES).unique(), on=_SERIES)
    levels_history, structure = to_levels(_keyed(bottom, hierarchy), ["y"])
    upper = levels_history.join(_bottom_ids(structure), on="unique_id", how="anti")
    model = fit_levels(upper, horizon, n_jobs=n_jobs)
    base = _base(model, _keyed(selected, hierarchy))
    rec = reconcile(base, levels_history, structure)
    snaive, _ = to_levels(
        _keyed(statistical.filter(pl.col("model") == "snaive"), hierarchy).rename(
            {"yhat": "snaive"}
        ),
        ["snaive"],
    )
    steps = selected.select("ds", "step").unique()
    weekly = (
        rec.forecasts.join(snaive, on=["unique_id", "ds"], how="left")
        .join(steps, on="ds")
        .join(structure.keys, on="unique_id")
    )
    scales = naive_scale(levels_history).join(structure.keys, on="unique_id")
    cutoff = as_of - timedelta(weeks=horizon)
    return LevelRun(
        forecasts=_all_periods(weekly),
        scales=scales.select(*KEY_COLUMNS, "scale"),
        backtest=level_backtest(bottom, hierarchy, cutoff, horizon, n_jobs, engine_backtest),
        reconciled=rec,
        n_series=structure.keys.height,
        n_bottom=len(structure.bottom),
    )


def _keyed(frame: pl.DataFrame, hierarchy: pl.DataFrame) -> pl.DataFrame:
    """Bottom rows with every hierarchy key column."""
    extra = [c for c in HIERARCHY_KEYS if c not in _SERIES]
    return frame.join(hierarchy.select(*_SERIES, *extra), on=_SERIES)


def _bottom_ids(structure: Structure) -> pl.DataFrame:
    return pl.DataFrame({"unique_id": structure.bottom})


def _base(model: pl.DataFrame, selected: pl.DataFrame) -> pl.DataFrame:
    """Base forecasts: the level model's above the bottom, the engine's at the bottom."""
    bottom = selected.select(unique_id=_bottom_id(), ds="ds", yhat="yhat", **{b: b for b in BOUNDS})
    return pl.concat([model.select(bottom.columns), bottom])


def _bottom_id() -> pl.Expr:
    """A keyed bottom row's ``unique_id`` (hierarchicalforecast's ``aggregate`` convention)."""
    return pl.concat_str([pl.lit("group"), *[pl.col(c) for c in HIERARCHY_KEYS]], separator="/")


def _all_periods(weekly: pl.DataFrame) -> pl.DataFrame:
    """Weekly rows plus their retail months and quarters, with ``granularity``."""
    values = ["yhat", *BOUNDS, "base", "snaive"]
    week = weekly.select(
        *KEY_COLUMNS,
        "ds",
        "step",
        *values,
        weeks=pl.lit(1, pl.Int16),
        period_weeks=pl.lit(1, pl.Int16),
    )
    parts = [week.with_columns(granularity=pl.lit("week"))]
    coarse: tuple[Granularity, ...] = ("month", "quarter")
    for granularity in coarse:
        periods = to_periods(week.drop("weeks", "period_weeks"), KEY_COLUMNS, granularity)
        parts.append(periods.with_columns(granularity=pl.lit(granularity)).select(parts[0].columns))
    return pl.concat(parts)


def level_backtest(
    bottom: pl.DataFrame,
    hierarchy: pl.DataFrame,
    cutoff: date,
    horizon: int,
    n_jobs: int = 1,
    engine_backtest: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Base, bottom-up and MinT forecasts from ``cutoff``, scored per level on the weeks after.

    Args:
        engine_backtest: The engine's backtest forecasts of bottom series (``brand, market,
            product, cutoff, ds, yhat`` and bounds; see ``BrandResult.level_base``): a series
            with every week of the horizon from ``cutoff`` there takes them as its base
            forecast; the others, and every level above, are fitted with the level model.

    Returns:
        ``level_backtest_metrics`` rows (``cutoff, level, method``, counts and scores); empty
        when no series has history up to the cutoff.
    """
    train = bottom.filter(pl.col("ds") <= cutoff)
    if train.is_empty():
        return empty_level_metrics()
    # Only series that existed at the cutoff: a later launch has no forecast to score.
    later = bottom.filter(pl.col("ds") > cutoff).join(train.select(_SERIES).unique(), on=_SERIES)
    actual, _ = to_levels(_keyed(later, hierarchy), ["y"])
    history, structure = to_levels(_keyed(train, hierarchy), ["y"])
    model = _backtest_base(history, hierarchy, cutoff, horizon, n_jobs, engine_backtest)
    rec = reconcile(model, history, structure, intervals=False)
    methods = {
        "base": model,
        "bottom_up": bottom_up(model, structure, intervals=False),
        rec.path.split("+")[0]: rec.forecasts,
    }
    scores = [
        score_levels(fc, actual, naive_scale(history), structure.keys).with_columns(
            method=pl.lit(name)
        )
        for name, fc in methods.items()
    ]
    return pl.concat(scores).with_columns(cutoff=pl.lit(cutoff))


def _backtest_base(
    history: pl.DataFrame,
    hierarchy: pl.DataFrame,
    cutoff: date,
    horizon: int,
    n_jobs: int,
    engine_backtest: pl.DataFrame | None,
) -> pl.DataFrame:
    """Base forecasts from ``cutoff`` of every series of ``history`` (see
    :func:`level_backtest`): the engine's where it gave the whole horizon, else fitted."""
    if engine_backtest is None or engine_backtest.is_empty():
        return fit_levels(history, horizon, n_jobs=n_jobs)
    at_cutoff = engine_backtest.filter(pl.col("cutoff") == cutoff)
    whole = at_cutoff.filter(pl.len().over(_SERIES) == horizon)
    given = _keyed(whole, hierarchy).select(
        unique_id=_bottom_id(), ds="ds", yhat="yhat", **{b: b for b in BOUNDS}
    )
    given = given.join(history.select("unique_id").unique(), on="unique_id")
    rest = history.join(given.select("unique_id").unique(), on="unique_id", how="anti")
    fitted = fit_levels(rest, horizon, n_jobs=n_jobs)
    return pl.concat([fitted.select(given.columns), given])


def score_levels(
    forecasts: pl.DataFrame, actual: pl.DataFrame, scale: pl.DataFrame, keys: pl.DataFrame
) -> pl.DataFrame:
    """Per level: MASE (mean over series), WAPE, bias (Σ error / Σ actual), coverage.

    Args:
        forecasts: ``unique_id, ds, yhat`` and bounds.
        actual: ``unique_id, ds, y``.
        scale: ``unique_id, scale`` (see ``levels.naive_scale``).
        keys: ``unique_id, level``.
    """
    both = forecasts.join(actual, on=["unique_id", "ds"]).with_columns(
        err=pl.col("yhat") - pl.col("y")
    )
    per_series = (
        both.group_by("unique_id")
        .agg(
            mae=pl.col("err").abs().mean(),
            abs_err=pl.col("err").abs().sum(),
            err=pl.col("err").sum(),
            sum_actual=pl.col("y").abs().sum(),
            n=pl.len(),
            in_80=pl.col("y").is_between(pl.col("lo_80"), pl.col("hi_80")).sum(),
            in_95=pl.col("y").is_between(pl.col("lo_95"), pl.col("hi_95")).sum(),
            n_bounds=pl.col("lo_80").is_not_null().sum(),
        )
        .join(scale, on="unique_id", how="left")
        .join(keys.select("unique_id", "level"), on="unique_id")
    )
    mase = pl.col("mae") / pl.col("scale")
    return per_series.group_by("level").agg(
        n_series=pl.len(),
        n_points=pl.col("n").sum(),
        sum_actual=pl.col("sum_actual").sum(),
        mase=mase.filter(mase.is_finite()).mean(),
        wape=pl.col("abs_err").sum() / pl.col("sum_actual").sum(),
        bias=pl.col("err").sum() / pl.col("sum_actual").sum(),
        coverage_80=_share("in_80"),
        coverage_95=_share("in_95"),
    )


def _share(inside: str) -> pl.Expr:
    """Share of points inside an interval; null where no interval was given."""
    n = pl.col("n_bounds").sum()
    return pl.when(n > 0).then(pl.col(inside).sum() / n)


def empty_level_metrics() -> pl.DataFrame:
    """``level_backtest_metrics`` rows with no rows."""
    schema: dict[str, pl.DataType] = {
        "cutoff": pl.Date(),
        "level": pl.String(),
        "method": pl.String(),
    }
    schema.update({"n_series": pl.UInt32(), "n_points": pl.UInt32()})
    schema.update(
        {
            c: pl.Float64()
            for c in ("sum_actual", "mase", "wape", "bias", "coverage_80", "coverage_95")
        }
    )
    return pl.DataFrame(schema=schema)
