"""statsforecast fits on de-seasonalised series, re-seasonalised into non-negative forecasts.

Inputs are long frames that already carry each row's seasonal ``offset`` (log1p scale, from
the shrunk priors), so this module knows nothing of pooling:

* smooth series: ``z = log1p(y) - offset`` is fitted; ``expm1(ẑ + offset)`` is forecast,
  intervals transformed the same way (quantiles survive monotone maps); models on the raw
  scale (``theta_raw``) fit ``y · exp(-offset)`` and are multiplied back;
* intermittent series: ``y · exp(-offset)`` is fitted by a Croston-type rate model and
  multiplied back; intervals are negative-binomial quantiles around that rate with the
  series' own dispersion;
* the seasonal-naive baseline fits raw units (naive where history is shorter than a season).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import polars as pl
from scipy import stats
from statsforecast import StatsForecast
from statsforecast.models import Naive

from forecast.engine.forward import FittedModels, run_forward
from forecast.engine.models import (
    Family,
    Scale,
    build_models,
    fallback_model,
    family_of,
    require_family,
    runs_at,
    scale_of,
    seasonal_naive,
)
from forecast.engine.quantiles import install as install_cached_quantiles
from forecast.vocabulary import (
    BASELINE,
    BOUNDS,
    INTERVAL_LEVELS,
    NORMAL_Z,
    POLARS_INTERVAL,
    SEASON_LENGTH,
    YOUNG_WEEKS,
    Frequency,
)

FORECAST_COLUMNS = ("unique_id", "ds", "model", "yhat", *BOUNDS)

# Theta on a few weeks of history says so once per series, in whichever process fits it (a
# worker process or a cluster's worker prints straight to the console); the fit is still used.
warnings.filterwarnings("ignore", message="Too few residuals after burn-in", category=UserWarning)
install_cached_quantiles()


def future_frame(
    history: pl.DataFrame, horizon: int, frequency: Frequency = "weekly"
) -> pl.DataFrame:
    """``unique_id, ds, step`` for the ``horizon`` periods after each series' last one."""
    last = history.group_by("unique_id").agg(pl.col("ds").max())
    steps = pl.DataFrame({"step": np.arange(1, horizon + 1, dtype=np.int16)})
    unit = POLARS_INTERVAL[frequency].lstrip("1")
    offset = pl.concat_str(pl.col("step").cast(pl.String), pl.lit(unit))
    return last.join(steps, how="cross").with_columns(ds=pl.col("ds").dt.offset_by(offset))


def _wide_to_long(wide: pl.DataFrame, names: list[str], with_bounds: bool) -> pl.DataFrame:
    parts = []
    for name in names:
        cols: dict[str, Any] = {"model": pl.lit(name), "yhat": pl.col(name)}
        for b in BOUNDS:
            side, level = b.split("_")
            cols[b] = pl.col(f"{name}-{side}-{level}") if with_bounds else pl.lit(None, pl.Float64)
        parts.append(wide.select("unique_id", "ds", **cols))
    return pl.concat(parts)


def _run(
    models: list[Any],
    frame: pl.DataFrame,
    horizon: int,
    level: bool,
    n_jobs: int,
    frequency: Frequency,
    kept: FittedModels | None = None,
    fit: str = "",
) -> pl.DataFrame:
    """statsforecast's wide forecasts of ``models`` for every series of ``frame``.

    Args:
        kept: Where an earlier origin's fitted models are kept (see
            :mod:`forecast.engine.forward`): empty for ``fit``, the models are fitted and
            kept there; holding ``fit``, they run forward, and only the series they cannot
            run on are fitted. None: fitted, not kept.
    """
    levels = list(INTERVAL_LEVELS) if level else None
    frame = frame.select("unique_id", "ds", "y")
    ahead = None
    if kept is not None and kept.has(fit):
        ahead, frame = run_forward(kept, fit, frame, horizon, levels, frequency)
        if frame.is_empty():
            return ahead
    freq = POLARS_INTERVAL[frequency]
    sf = StatsForecast(models=models, freq=freq, n_jobs=n_jobs, fallback_model=fallback_model())
    if kept is None or ahead is not None:
        wide = sf.forecast(h=horizon, df=frame, level=levels)
    else:
        sf.fit(df=frame)
        wide = sf.predict(h=horizon, level=levels)
        kept.keep(fit, frame, sf)
    if ahead is None or ahead.is_empty():
        return wide
    return pl.concat([ahead, wide], how="diagonal_relaxed")


def forecast_smooth(
    history: pl.DataFrame,
    future: pl.DataFrame,
    names: list[str],
    n_jobs: int = 1,
    frequency: Frequency = "weekly",
    kept: FittedModels | None = None,
) -> pl.DataFrame:
    """Smooth-demand models; returns long forecasts.

    ``smooth``-family models fit ``log1p(y) - offset`` (the pooled priors removed), or on
    the raw scale ``y · exp(-offset)``;
    ``seasonal``-family ones (own seasonality) fit the log1p or raw units of the series with
    at least two full seasons only — shorter series get no rows for them, and neither do
    season lengths a model does not run at; combinations are left to the caller
    (:func:`forecast.engine.combination.add_combinations`). ``kept``: see :func:`_run`.
    """
    require_family(names, ("smooth", "seasonal", "combination"))
    m = SEASON_LENGTH[frequency]
    own = [n for n in names if family_of(n) == "seasonal" and runs_at(n, m)]
    plain = [n for n in names if family_of(n) == "smooth"]
    plain_log = [n for n in plain if scale_of(n) == "log1p"]
    plain_raw = [n for n in plain if scale_of(n) == "raw"]
    long_ids = history.group_by("unique_id").len().filter(pl.col("len") >= 2 * m)
    long = history.join(long_ids.select("unique_id"), on="unique_id").with_columns(offset=0.0)
    flat = future.with_columns(offset=0.0)
    own_log = [n for n in own if scale_of(n) == "log1p"]
    own_raw = [n for n in own if scale_of(n) == "raw"]
    return pl.concat(
        [
            _fit_deseasonalised(
                history, future, plain_log, "smooth", "log1p", n_jobs, frequency, kept
            ),
            _fit_deseasonalised(
                history, future, plain_raw, "smooth", "raw", n_jobs, frequency, kept
            ),
            _fit_deseasonalised(long, flat, own_log, "seasonal", "log1p", n_jobs, frequency, kept),
            _fit_raw_scale(long, flat, own_raw, n_jobs, frequency, kept),
        ]
    )


def _fit_raw_scale(
    history: pl.DataFrame,
    future: pl.DataFrame,
    names: list[str],
    n_jobs: int,
    frequency: Frequency,
    kept: FittedModels | None = None,
) -> pl.DataFrame:
    """Own-seasonality models on raw units; their own intervals, clipped at zero."""
    if history.is_empty() or not names:
        return _empty()
    horizon = int(future["step"].max())  # type: ignore[arg-type]
    models = build_models(names, "seasonal", SEASON_LENGTH[frequency])
    wide = _run(models, history, horizon, True, n_jobs, frequency, kept, "seasonal/raw")
    return _non_negative(_wide_to_long(wide, names, with_bounds=True))


# How each scale takes a row's seasonal ``offset`` (log scale) out of ``y`` before a fit,
# and puts it back into a fitted value.
_DESEASONALISED: dict[Scale, pl.Expr] = {
    "log1p": pl.col("y").clip(0).log1p() - pl.col("offset"),
    "raw": pl.col("y").clip(0) * (-pl.col("offset")).exp(),
}


def _reseasonalised(value: str, scale: Scale) -> pl.Expr:
    if scale == "log1p":
        return (pl.col(value) + pl.col("offset")).exp() - 1
    return pl.col(value) * pl.col("offset").exp()


def _fit_deseasonalised(
    history: pl.DataFrame,
    future: pl.DataFrame,
    names: list[str],
    family: Family,
    scale: Scale,
    n_jobs: int,
    frequency: Frequency,
    kept: FittedModels | None = None,
) -> pl.DataFrame:
    """Fit ``log1p(y) − offset`` (scale ``log1p``) or ``y · exp(−offset)`` (``raw``: units
    with the season divided out); forecasts and bounds get the offset back the same way."""
    if history.is_empty() or not names:
        return _empty()
    horizon = int(future["step"].max())  # type: ignore[arg-type]
    z = history.with_columns(y=_DESEASONALISED[scale])
    models = build_models(names, family, SEASON_LENGTH[frequency])
    wide = _run(models, z, horizon, True, n_jobs, frequency, kept, f"{family}/{scale}")
    long = (
        _wide_to_long(wide, names, with_bounds=True)
        .join(future.select("unique_id", "ds", "step", "offset"), on=["unique_id", "ds"])
        .join(_series_scale(observed_only(z)), on="unique_id")
    )
    back = {c: _reseasonalised(c, scale) for c in ("yhat", *BOUNDS)}
    return _non_negative(_guard_intervals(long).with_columns(**back))


def observed_only(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``y`` null on imputed weeks (``is_imputed``), so that scales, spreads
    and dispersions are estimated from observed weeks and their observed changes only."""
    if "is_imputed" not in frame.columns:
        return frame
    return frame.with_columns(y=pl.when(~pl.col("is_imputed")).then(pl.col("y")))


def _series_scale(z: pl.DataFrame) -> pl.DataFrame:
    """Per series on the fitted scale: observed weeks ``n``, the sd of its one-step changes
    (``sd_step``) and of its values around their mean (``sd_level``); null ``y`` is skipped.

    Series with fewer than five points take the median of the others (their brand's).
    """
    per = (
        z.sort("unique_id", "ds")
        .group_by("unique_id")
        .agg(
            n=pl.col("y").count(),
            sd_step=pl.col("y").diff().drop_nulls().std(),
            sd_level=pl.col("y").std(),
        )
    )
    own = pl.col("n") >= 5
    fill = {}
    for col in ("sd_step", "sd_level"):
        typical = per.filter(own)[col].median()
        fallback = float(typical) if typical is not None else 0.5  # type: ignore[arg-type]
        fill[col] = pl.when(own & pl.col(col).is_finite()).then(pl.col(col)).otherwise(fallback)
    return per.with_columns(**fill)


def _guard_intervals(long: pl.DataFrame) -> pl.DataFrame:
    """Keep log-scale intervals sane where a model's variance estimate is not.

    With less than ``YOUNG_WEEKS`` (26) periods of history a model's residual variance
    rests on a handful of points (ETS can divide by almost zero, Theta can be far too
    narrow): such series get level intervals, ``± z · sd_level · √(1 + h / n)`` — noise
    around a level known from ``n`` points. Longer series keep their model's intervals,
    capped at twice a random walk's, ``2 · z · sd_step · √h``.
    """
    h = pl.col("step").cast(pl.Float64)
    young = pl.col("n") < YOUNG_WEEKS
    guarded = {}
    for lv in INTERVAL_LEVELS:
        level = NORMAL_Z[lv] * pl.col("sd_level") * (1 + h / pl.col("n")).sqrt()
        cap = 2 * NORMAL_Z[lv] * pl.col("sd_step") * h.sqrt()
        lo, hi = pl.col(f"lo_{lv}").fill_nan(None), pl.col(f"hi_{lv}").fill_nan(None)
        guarded[f"lo_{lv}"] = (
            pl.when(young)
            .then(pl.col("yhat") - level)
            .otherwise(pl.max_horizontal(lo, pl.col("yhat") - cap))
        )
        guarded[f"hi_{lv}"] = (
            pl.when(young)
            .then(pl.col("yhat") + level)
            .otherwise(pl.min_horizontal(hi, pl.col("yhat") + cap))
        )
    return long.with_columns(**guarded)


def forecast_intermittent(
    history: pl.DataFrame, future: pl.DataFrame, names: list[str], frequency: Frequency = "weekly"
) -> pl.DataFrame:
    """Croston-type rate models on ``y · exp(-offset)``; negative-binomial intervals."""
    if history.is_empty() or not names:
        return _empty()
    horizon = int(future["step"].max())  # type: ignore[arg-type]
    adjusted = history.with_columns(y=pl.col("y").clip(0) * (-pl.col("offset")).exp())
    models = build_models(names, "intermittent")
    wide = _run(models, adjusted, horizon, level=False, n_jobs=1, frequency=frequency)
    dispersion = (
        observed_only(adjusted)
        .group_by("unique_id")
        .agg(
            phi=(pl.col("y").var() / pl.col("y").mean())
            .fill_nan(1.0)
            .fill_null(1.0)
            .clip(1.0, 50.0)
        )
    )
    long = (
        _wide_to_long(wide, names, with_bounds=False)
        .join(future.select("unique_id", "ds", "offset"), on=["unique_id", "ds"])
        .join(dispersion, on="unique_id", how="left")
        .with_columns(yhat=pl.col("yhat").clip(0) * pl.col("offset").exp())
    )
    return _non_negative(_negative_binomial_bounds(long))


def _negative_binomial_bounds(long: pl.DataFrame) -> pl.DataFrame:
    """Interval bounds from NB(mean = yhat, variance = phi · yhat); Poisson when phi = 1."""
    mu = long["yhat"].to_numpy()
    phi = long["phi"].fill_null(1.0).to_numpy()
    mean = np.maximum(mu, 1e-9)
    n = mean / np.maximum(phi - 1.0, 1e-6)  # NB(n, p): mean n(1-p)/p, var mean/p
    p = 1.0 / np.maximum(phi, 1.0 + 1e-6)
    bounds = {}
    for level in INTERVAL_LEVELS:
        tail = (100 - level) / 200
        bounds[f"lo_{level}"] = stats.nbinom.ppf(tail, n, p)
        bounds[f"hi_{level}"] = stats.nbinom.ppf(1 - tail, n, p)
    return long.with_columns(**{k: pl.Series(v, dtype=pl.Float64) for k, v in bounds.items()})


def forecast_baseline(
    history: pl.DataFrame, horizon: int, frequency: Frequency = "weekly"
) -> pl.DataFrame:
    """Seasonal naive on raw units; naive stands in where history is shorter than a season."""
    if history.is_empty():
        return _empty()
    season_length = SEASON_LENGTH[frequency]
    lengths = history.group_by("unique_id").len()
    parts = []
    for long_enough, models in (
        (True, [seasonal_naive(season_length)]),
        (False, [Naive(alias=BASELINE)]),
    ):
        ids = lengths.filter((pl.col("len") >= season_length) == long_enough).select("unique_id")
        if ids.height:
            frame = history.join(ids, on="unique_id")
            wide = _run(models, frame, horizon, level=True, n_jobs=1, frequency=frequency)
            parts.append(_wide_to_long(wide, [BASELINE], with_bounds=True))
    return _non_negative(pl.concat(parts))


def _non_negative(long: pl.DataFrame) -> pl.DataFrame:
    """Clip point forecasts and bounds at zero; keep bounds ordered around the point."""
    clipped = long.with_columns(pl.col(c).fill_nan(None).clip(0.0) for c in ("yhat", *BOUNDS))
    return clipped.with_columns(
        lo_80=pl.min_horizontal("lo_80", "yhat"),
        hi_80=pl.max_horizontal("hi_80", "yhat"),
        lo_95=pl.min_horizontal("lo_95", "lo_80", "yhat"),
        hi_95=pl.max_horizontal("hi_95", "hi_80", "yhat"),
    ).select(FORECAST_COLUMNS)


def _empty() -> pl.DataFrame:
    schema = {"unique_id": pl.String, "ds": pl.Date, "model": pl.String}
    schema.update({c: pl.Float64 for c in ("yhat", *BOUNDS)})
    return pl.DataFrame(schema=schema)
