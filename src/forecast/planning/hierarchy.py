"""Coherent forecasts at every level of the product hierarchy: MinT reconciliation.

Levels, top to bottom (``vocabulary.LEVELS``): group → sector → brand → brand × market →
category × market → product × market (the forecast series). Every series of a level is
identified by ``unique_id`` = its key columns joined by ``/`` (``group/<sector>/<brand>/…``,
hierarchicalforecast's ``aggregate`` convention, which builds the levels and a sparse S).

Reconciliation path, recorded per run (the estimators of hierarchicalforecast's
``MinTrace``, computed by :mod:`forecast.planning.mint` without its dense n × n matrices):

* ``mint_shrink`` — W from in-sample one-step errors with Schäfer–Strimmer shrinkage
  (unconstrained), when no bottom cell comes out negative;
* ``mint_shrink+clip`` — the same, then negative bottom cells set to 0 and every level
  re-summed (non-negative and still coherent). hierarchicalforecast's ``nonnegative=True``
  is not used: on a real weekly retail panel it was refused as ill-conditioned (STACK_NOTES);
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

import numpy as np
import polars as pl
from hierarchicalforecast.utils import SMatrix, aggregate
from scipy import sparse

from forecast.planning.mint import MinT, covariance
from forecast.vocabulary import (
    BOUNDS,
    HIERARCHY_KEYS,
    INTERVAL_LEVELS,
    LEVEL_KEYS,
    MAX_MINT_AGGREGATES,
    MINT_BYTES_PER_PAIR,
    NORMAL_Z,
)

_TOP = "group"


@dataclass(frozen=True)
class Structure:
    """A hierarchy: its summing matrix, level tags and each series' key columns.

    Attributes:
        ids: ``unique_id`` of every series in S's row order: aggregates, then the bottom.
        s_a: S's aggregate rows (sparse, aggregates × bottom); its bottom rows are I.
        tags: Level name → ``unique_id`` values of that level.
        keys: ``unique_id, level`` and the key columns (null above their level).
    """

    ids: list[str]
    s_a: sparse.csr_matrix
    tags: dict[str, np.ndarray]
    keys: pl.DataFrame

    @property
    def bottom(self) -> list[str]:
        """``unique_id`` of the bottom series, in S's column order."""
        return self.ids[self.s_a.shape[0] :]

    def sum_up(self, bottom: np.ndarray) -> np.ndarray:
        """S x: every series' sum of bottom values ``bottom`` (n_bottom × k)."""
        return np.vstack([self.s_a @ bottom, bottom])


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
        summed, summing, tags = aggregate(
            frame, spec, time_col=time_col, target_cols=values, sparse_s=True
        )
    names = {"/".join(s): name for s, name in zip(spec, levels, strict=True)}
    ids, s_a = _aggregate_rows(summing)
    tags = {names[k]: v for k, v in tags.items()}
    return summed, Structure(ids, s_a, tags, _keys(frame, levels))


def _aggregate_rows(summing: SMatrix) -> tuple[list[str], sparse.csr_matrix]:
    """Row ids (aggregates first, then the bottom in column order) and S's aggregate rows."""
    rows = [str(r) for r in summing.row_labels]
    bottom = [str(c) for c in summing.col_labels]
    is_bottom = set(bottom)
    aggregates = [i for i, r in enumerate(rows) if r not in is_bottom]
    s_a = sparse.csr_matrix(summing.to_csr()[aggregates], dtype=np.float64)
    return [rows[i] for i in aggregates] + bottom, s_a


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
    hat = _Base.of(base, structure)
    if why := _too_large_for_mint(structure):
        return Reconciled(_finish(_summed(hat, structure, intervals), base), "bottom_up", why, 0)
    y_df = naive_insample(history) if insample is None else insample
    errors = _matrix(y_df.with_columns(e=pl.col("y") - pl.col("yhat")), structure, "e")
    problems: list[str] = []
    for method in METHODS:
        try:
            fc = _reconciled(method, hat, errors, structure, intervals)
            _check_stable(fc, base, structure)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
            problems.append(f"{method}: {exc}")
            continue
        return _non_negative(fc, base, structure, method, problems)
    summed = _finish(_summed(hat, structure, intervals), base)
    return Reconciled(summed, "bottom_up", "; ".join(problems), 0)


def _too_large_for_mint(structure: Structure) -> str | None:
    """Why MinT is not tried on this hierarchy (its aggregates × aggregates matrices), or None."""
    n_a = structure.s_a.shape[0]
    if n_a <= MAX_MINT_AGGREGATES:
        return None
    need = MINT_BYTES_PER_PAIR * n_a**2 / 1e9
    limit = f"above the {MAX_MINT_AGGREGATES:,} it reconciles"
    return f"{n_a:,} aggregate series: MinT would hold ~{need:,.0f} GB, {limit}; summed bottom-up"


def _reconciled(
    method: str, hat: _Base, errors: np.ndarray, structure: Structure, intervals: bool
) -> pl.DataFrame:
    """``unique_id, ds, yhat`` and bounds of every series, reconciled by MinT ``method``."""
    mint = MinT.fit(structure.s_a, covariance(method, errors))
    points = mint.reconcile(hat.yhat)
    return hat.frame(points, mint.sd(hat.sigma) if intervals else None)


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
    """The bottom base forecasts summed to every level; bounds by ``normality`` (independent
    bottom errors: σ² summed), as hierarchicalforecast's ``BottomUp``."""
    return _finish(_summed(_Base.of(base, structure), structure, intervals), base)


def _summed(hat: _Base, structure: Structure, intervals: bool) -> pl.DataFrame:
    """See :func:`bottom_up`, from base forecasts already in matrix form."""
    n_a = structure.s_a.shape[0]
    points = structure.sum_up(hat.yhat[n_a:])
    sd = np.sqrt(structure.sum_up(hat.sigma[n_a:] ** 2)) if intervals else None
    return hat.frame(points, sd)


@dataclass(frozen=True)
class _Base:
    """Base forecasts as (series × step) matrices in the structure's row order."""

    ids: np.ndarray
    ds: pl.Series
    yhat: np.ndarray
    sigma: np.ndarray  # from the base bounds: the mean over 80/95 % of (hi − lo) / 2z

    @classmethod
    def of(cls, base: pl.DataFrame, structure: Structure) -> _Base:
        spread = [
            (pl.col(f"hi_{lv}") - pl.col(f"lo_{lv}")) / (2 * NORMAL_Z[lv]) for lv in INTERVAL_LEVELS
        ]
        frame = base.with_columns(sigma=pl.max_horizontal(pl.mean_horizontal(spread), 0.0))
        ds = frame["ds"].unique().sort()
        return cls(
            np.asarray(structure.ids),
            ds,
            _matrix(frame, structure, "yhat"),
            _matrix(frame, structure, "sigma"),
        )

    def frame(self, points: np.ndarray, sd: np.ndarray | None) -> pl.DataFrame:
        """``unique_id, ds, yhat`` and bounds (null without ``sd``) of every series."""
        out = _long(self.ids, self.ds, points)
        spread = pl.Series(sd.ravel()) if sd is not None else pl.lit(None, pl.Float64)
        bounds = {}
        for lv in INTERVAL_LEVELS:
            bounds[f"lo_{lv}"] = pl.col("yhat") - NORMAL_Z[lv] * spread
            bounds[f"hi_{lv}"] = pl.col("yhat") + NORMAL_Z[lv] * spread
        return out.with_columns(**{b: bounds[b] for b in BOUNDS})


def _matrix(frame: pl.DataFrame, structure: Structure, value: str) -> np.ndarray:
    """``unique_id, ds, <value>`` rows as a (series × period) matrix in S's row order; a
    missing cell is NaN (and refused downstream as non-finite)."""
    ids = pl.DataFrame({"unique_id": structure.ids}).with_row_index("row")
    periods = frame["ds"].unique().sort()
    grid = ids.join(pl.DataFrame({"ds": periods}), how="cross")
    cells = grid.join(frame.select("unique_id", "ds", value), on=["unique_id", "ds"], how="left")
    cells = cells.sort("row", "ds")
    return cells[value].fill_null(np.nan).to_numpy().reshape(len(structure.ids), len(periods))


def _clip_and_resum(mint: pl.DataFrame, structure: Structure) -> pl.DataFrame:
    """Bottom cells clipped at 0, every level re-summed; MinT's bounds kept."""
    n_a = structure.s_a.shape[0]
    points = _matrix(mint, structure, "yhat")
    summed = structure.sum_up(np.clip(points[n_a:], 0, None))
    resummed = _long(np.asarray(structure.ids), mint["ds"].unique().sort(), summed)
    return mint.drop("yhat").join(resummed, on=["unique_id", "ds"])


def _long(ids: np.ndarray, ds: pl.Series, values: np.ndarray) -> pl.DataFrame:
    """``unique_id, ds, yhat`` from a (series × period) matrix."""
    n, h = values.shape
    return pl.DataFrame(
        {
            "unique_id": np.repeat(ids, h),
            "ds": ds.gather(np.tile(np.arange(h), n)),
            "yhat": values.ravel(),
        }
    )


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
