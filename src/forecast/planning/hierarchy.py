"""Coherent forecasts at every level of the product hierarchy, reconciled by hierarchicalforecast.

Levels, top to bottom (``vocabulary.LEVELS``): group → sector → brand → brand × market →
category × market → product × market (the forecast series). Every series of a level is
identified by ``unique_id`` = its key columns joined by ``/`` (``group/<sector>/<brand>/…``,
hierarchicalforecast's ``aggregate`` convention).

Reconciliation path, recorded per run:

* ``mint_shrink`` — ``MinTrace(method="mint_shrink")`` (unconstrained; W from in-sample
  one-step errors with Schäfer–Strimmer shrinkage), when no bottom cell comes out negative;
* ``mint_shrink+clip`` — the same, then negative bottom cells set to 0 and every level
  re-summed by ``BottomUp`` (non-negative and still coherent). ``nonnegative=True`` is not
  used: on a real weekly retail panel it was refused as ill-conditioned (STACK_NOTES);
* ``wls_var`` (``+clip``) — diagonal W, when shrinkage fails or is unstable (zero-heavy or
  very short series can make the full W near-singular);
* ``bottom_up`` — when both fail: the bottom base forecasts summed up, the errors as reason.

Intervals: hierarchicalforecast's ``normality`` method (σ from the base intervals, the
reconciled distribution ``N(SPŷ, SPWPᵀSᵀ)``), clipped at 0 and widened to hold ``yhat``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from hierarchicalforecast.core import HierarchicalReconciliation
from hierarchicalforecast.methods import BottomUp, MinTrace
from hierarchicalforecast.utils import aggregate

from forecast.planning.intervals import has_projection_form, reconciled_sigma
from forecast.vocabulary import (
    HIERARCHY_KEYS,
    LEVEL_KEYS,
    MAX_RECONCILED_SERIES,
    RECONCILE_BYTES_PER_PAIR,
)

BOUNDS = ("lo_80", "hi_80", "lo_95", "hi_95")
LEVELS = (80, 95)
_Z = {80: 1.2815515655446004, 95: 1.959963984540054}  # norm.ppf(0.5 + level / 200)
_TOP = "group"


@dataclass(frozen=True)
class Structure:
    """A hierarchy: its summing matrix, level tags and each series' key columns.

    Attributes:
        summing: hierarchicalforecast ``S_df`` (``unique_id`` + one column per bottom series).
        tags: Level name → ``unique_id`` values of that level.
        keys: ``unique_id, level`` and the key columns (null above their level).
    """

    summing: pl.DataFrame
    tags: dict[str, np.ndarray]
    keys: pl.DataFrame

    @property
    def bottom(self) -> list[str]:
        """``unique_id`` of the bottom series, in S's column order."""
        return [c for c in self.summing.columns if c != "unique_id"]


@dataclass(frozen=True)
class Reconciled:
    """Reconciled forecasts of every series and how they were obtained.

    Attributes:
        forecasts: ``unique_id, ds, yhat, lo_80, hi_80, lo_95, hi_95, base``.
        path: ``mint_shrink``, ``mint_shrink+clip`` or ``bottom_up``.
        reason: Why this path (or what failed).
        n_clipped: Bottom cells that were negative and set to 0.
    """

    forecasts: pl.DataFrame
    path: str
    reason: str
    n_clipped: int


def to_levels(
    bottom: pl.DataFrame,
    values: list[str],
    levels: Mapping[str, tuple[str, ...]] | None = None,
    time_col: str = "ds",
) -> tuple[pl.DataFrame, Structure]:
    """Sum bottom rows to every level with hierarchicalforecast's ``aggregate``.

    Args:
        bottom: One row per bottom series and period, with every key column of the bottom
            level, ``time_col`` and the ``values`` to sum.
        levels: Level name → key columns, top level first (the top has none); default
            ``vocabulary.LEVEL_KEYS``.

    Returns:
        ``(frame, structure)``: ``unique_id, <time_col>, *values`` for every series of every
        level, and the hierarchy.
    """
    levels = levels or {str(k): v for k, v in LEVEL_KEYS.items()}
    key_cols = list(dict.fromkeys(c for cols in levels.values() for c in cols))
    frame = bottom.select(*key_cols, time_col, *values).with_columns(pl.lit(_TOP).alias(_TOP))
    spec = [[_TOP, *cols] for cols in levels.values()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summed, summing, tags = aggregate(frame, spec, time_col=time_col, target_cols=values)
    names = {"/".join(s): name for s, name in zip(spec, levels, strict=True)}
    return summed, Structure(summing, {names[k]: v for k, v in tags.items()}, _keys(frame, levels))


def _keys(frame: pl.DataFrame, levels: Mapping[str, tuple[str, ...]]) -> pl.DataFrame:
    """``unique_id, level`` and every key column (null above its level), per series."""
    all_cols = list(dict.fromkeys(c for cols in levels.values() for c in cols))
    parts = []
    for name, cols in levels.items():
        ids = pl.concat_str([pl.col(_TOP), *[pl.col(c) for c in cols]], separator="/")
        above = [pl.lit(None, pl.String).alias(c) for c in all_cols if c not in cols]
        rows = frame.select(*cols, unique_id=ids).unique()
        parts.append(
            rows.with_columns(*above, level=pl.lit(name)).select("unique_id", "level", *all_cols)
        )
    return pl.concat(parts)


def too_large_to_reconcile(n_bottom: int, memory: int | None) -> str | None:
    """Why ``n_bottom`` series are not reconciled on a machine of ``memory`` bytes, or None.

    The dense matrices need ``RECONCILE_BYTES_PER_PAIR · n²`` bytes at their peak; more than
    ``MAX_RECONCILED_SERIES`` series, or more than half the memory, is refused.
    """
    need = RECONCILE_BYTES_PER_PAIR * n_bottom**2
    if n_bottom > MAX_RECONCILED_SERIES:
        limit = f"above the {MAX_RECONCILED_SERIES:,} reconciled at most"
    elif memory is not None and need > memory / 2:
        limit = f"more than half of this machine's {memory / 1e9:,.0f} GB"
    else:
        return None
    return f"{n_bottom:,} bottom series: reconciling them would hold ~{need / 1e9:,.0f} GB, {limit}"


# MinTrace methods in the order tried; the reconciled bottom may move at most this share of
# its base total (Σ|change| / Σ base) before a method counts as unstable.
METHODS = ("mint_shrink", "wls_var")
MAX_ADJUSTMENT = 1.0


def reconcile(
    base: pl.DataFrame,
    history: pl.DataFrame,
    structure: Structure,
    intervals: bool = True,
    insample: pl.DataFrame | None = None,
) -> Reconciled:
    """Reconcile base forecasts of every series: MinT (shrinkage, then diagonal), else BottomUp.

    W comes from in-sample one-step naive errors of every series on the full grid (a series
    is 0 before its first week), the same estimator at every level. A method that raises,
    returns non-finite values or moves the bottom by more than ``MAX_ADJUSTMENT`` of its base
    is skipped, and why is kept in the reason.

    Args:
        base: ``unique_id, ds, yhat, lo_80, hi_80, lo_95, hi_95`` for every series.
        history: ``unique_id, ds, y`` of every series (see :func:`to_levels`).
        intervals: Reconcile the 80/95 % intervals too (normality); else bounds are null.
        insample: ``unique_id, ds, y, yhat`` fitted values to take W from instead of the
            naive errors (benchmarks compare the two).
    """
    hat = _to_hf(base)
    y_df = naive_insample(history) if insample is None else insample
    problems: list[str] = []
    for method in METHODS:
        try:
            out = _run(MinTrace(method=method), hat, y_df, structure, intervals)
            fc = out.select("unique_id", "ds", *_cols(f"yhat/MinTrace_method-{method}", intervals))
            _check_stable(fc, base, structure)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
            problems.append(f"{method}: {exc}")
            continue
        return _non_negative(fc, base, structure, method, problems)
    return Reconciled(bottom_up(base, structure), "bottom_up", "; ".join(problems), 0)


def naive_insample(history: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, ds, y, yhat`` on the full grid: y = 0 before a series starts, yhat = y_{t−1}.

    A complete grid matters: hierarchicalforecast's NaN-aware shrinkage estimator gave
    unusable reconciliations (bottom WAPE ×40 on the demo group) with gaps before launches.
    """
    grid = history.select("unique_id").unique().join(history.select("ds").unique(), how="cross")
    full = grid.join(history.select("unique_id", "ds", "y"), on=["unique_id", "ds"], how="left")
    full = full.with_columns(pl.col("y").fill_null(0.0)).sort("unique_id", "ds")
    return full.with_columns(yhat=pl.col("y").shift(1).over("unique_id").fill_null(pl.col("y")))


def _check_stable(fc: pl.DataFrame, base: pl.DataFrame, structure: Structure) -> None:
    """Raise FloatingPointError when a reconciliation is non-finite or moves the bottom too far."""
    if not np.isfinite(fc["yhat"].to_numpy()).all():
        raise FloatingPointError("non-finite reconciled values")
    ids = pl.DataFrame({"unique_id": structure.bottom})
    both = fc.join(ids, on="unique_id").join(
        base.select("unique_id", "ds", base="yhat"), on=["unique_id", "ds"]
    )
    moved = float((both["yhat"] - both["base"]).abs().sum())
    total = float(both["base"].abs().sum()) or 1.0
    if moved / total > MAX_ADJUSTMENT:
        raise FloatingPointError(
            f"unstable: moved the bottom by {moved / total:.0%} of its base forecast"
        )


def _non_negative(
    fc: pl.DataFrame, base: pl.DataFrame, structure: Structure, method: str, problems: list[str]
) -> Reconciled:
    """Clip negative bottom cells and re-sum (path ``<method>+clip``), or keep as is."""
    bottom = fc.join(pl.DataFrame({"unique_id": structure.bottom}), on="unique_id")
    n_neg = int((bottom["yhat"] < 0).sum())
    before = "; ".join(problems) + "; " if problems else ""
    if n_neg == 0:
        return Reconciled(_finish(fc, base), method, before + "no negative bottom forecast", 0)
    why = f"{before}{n_neg} negative bottom cells set to 0, levels re-summed"
    return Reconciled(_finish(_clip_and_resum(fc, structure), base), f"{method}+clip", why, n_neg)


def bottom_up(base: pl.DataFrame, structure: Structure, intervals: bool = True) -> pl.DataFrame:
    """hierarchicalforecast's ``BottomUp`` of the base forecasts (bounds by ``normality``)."""
    out = _run(BottomUp(), _to_hf(base), None, structure, intervals)
    return _finish(out.select("unique_id", "ds", *_cols("yhat/BottomUp", intervals)), base)


def _to_hf(frame: pl.DataFrame) -> pl.DataFrame:
    """Our bounds as hierarchicalforecast's ``yhat-lo-80`` … columns."""
    names = {b: f"yhat-{b.split('_')[0]}-{b.split('_')[1]}" for b in BOUNDS}
    return frame.select("unique_id", "ds", "yhat", *[pl.col(b).alias(n) for b, n in names.items()])


def _cols(model: str, intervals: bool = True) -> list[pl.Expr]:
    """A reconciler's output columns renamed back to ``yhat`` and our bounds (or nulls)."""
    out = [pl.col(model).alias("yhat")]
    for b in BOUNDS:
        side, level = b.split("_")
        bound = pl.col(f"{model}-{side}-{level}") if intervals else pl.lit(None, pl.Float64)
        out.append(bound.alias(b))
    return out


def _run(
    method: Any,
    hat: pl.DataFrame,
    y_df: pl.DataFrame | None,
    structure: Structure,
    intervals: bool = True,
) -> pl.DataFrame:
    """hierarchicalforecast's reconciliation; ``normality`` bounds from :mod:`.intervals`
    (the same numbers, without its dense n³ products), or its own where P has another form."""
    points = _reconcile_hf(method, hat, y_df, structure, intervals=False)
    if not intervals:
        return points
    summing = structure.summing.drop("unique_id").to_numpy()
    if not has_projection_form(method.P, summing):
        return _reconcile_hf(method, hat, y_df, structure, intervals=True)
    ids = structure.summing.select("unique_id")
    base = ids.join(hat, on="unique_id", how="left", maintain_order="left").sort(
        pl.col("unique_id").cast(pl.Enum(ids["unique_id"])), "ds"
    )
    horizon = base["ds"].n_unique()
    spread = [
        (base[f"yhat-hi-{lv}"] - base[f"yhat-lo-{lv}"]).to_numpy() / (2 * _Z[lv]) for lv in LEVELS
    ]
    sigma = np.maximum(np.mean(spread, axis=0), 0).reshape(-1, horizon)
    sd = reconciled_sigma(summing, method.P, getattr(method, "W", None), sigma)
    name = next(c for c in points.columns if c.startswith("yhat/"))
    scale = base.select("unique_id", "ds").with_columns(sd=pl.Series(sd.ravel()))
    out = points.join(scale, on=["unique_id", "ds"], how="left")
    bounds = {}
    for lv in LEVELS:
        bounds[f"{name}-lo-{lv}"] = pl.col(name) - _Z[lv] * pl.col("sd")
        bounds[f"{name}-hi-{lv}"] = pl.col(name) + _Z[lv] * pl.col("sd")
    return out.with_columns(**bounds).drop("sd")


def _reconcile_hf(
    method: object,
    hat: pl.DataFrame,
    y_df: pl.DataFrame | None,
    structure: Structure,
    intervals: bool,
) -> pl.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return HierarchicalReconciliation(reconcilers=[method]).reconcile(
            Y_hat_df=hat,
            Y_df=y_df,
            S_df=structure.summing,
            tags=structure.tags,
            level=list(LEVELS) if intervals else None,
            intervals_method="normality",
            is_balanced=y_df is not None,
        )


def _clip_and_resum(mint: pl.DataFrame, structure: Structure) -> pl.DataFrame:
    """Bottom cells clipped at 0, every level re-summed by BottomUp; MinT's bounds kept."""
    clipped = mint.with_columns(pl.col("yhat").clip(0))
    hat = clipped.select("unique_id", "ds", "yhat")
    summed = _run(BottomUp(), hat, None, structure, intervals=False).select(
        "unique_id", "ds", yhat=pl.col("yhat/BottomUp")
    )
    return mint.drop("yhat").join(summed, on=["unique_id", "ds"])


def _finish(fc: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """Bounds ≥ 0 around ``yhat``, and the base forecast beside the reconciled one."""
    # Null bounds (intervals not reconciled) stay null.
    given = {b: pl.col(b).is_not_null() for b in BOUNDS}
    lo = {
        b: pl.when(given[b]).then(pl.min_horizontal(b, "yhat").clip(0))
        for b in BOUNDS
        if b.startswith("lo")
    }
    hi = {
        b: pl.when(given[b]).then(pl.max_horizontal(b, "yhat"))
        for b in BOUNDS
        if b.startswith("hi")
    }
    out = fc.with_columns(pl.col("yhat").clip(0)).with_columns(**lo, **hi)
    return out.join(base.select("unique_id", "ds", base="yhat"), on=["unique_id", "ds"])


def bottom_frame(history: pl.DataFrame, hierarchy: pl.DataFrame) -> pl.DataFrame:
    """Bottom series rows with every hierarchy key column."""
    return history.join(
        hierarchy.select(*HIERARCHY_KEYS),
        on=["brand", "market", "product"],
    )
