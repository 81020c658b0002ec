"""A run's bookkeeping: its key, what each brand produced, the run's status and summary.

Flows pass these typed records between tasks; the warehouse stores them. A
:class:`BrandOutcome`'s fields are the columns of ``run_brands`` (a test checks the two
agree), so a column is added in one place and in ``warehouse/schema.sql``.
"""

from __future__ import annotations

import hashlib
import json
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from forecast.inputs.config import BrandConfig
from forecast.vocabulary import BrandStatus, RunStatus

if TYPE_CHECKING:  # the engine's models import statsforecast: ~3 s every CLI verb would pay
    from forecast.engine.pipeline import BrandResult


def run_key(as_of: date, brands: Mapping[str, BrandConfig], pooling: str) -> tuple[str, str]:
    """``(run_id, config_hash)``: same as-of, configs and options → same run id (replaced)."""
    payload = json.dumps(
        {"brands": {b: c.config_hash for b, c in brands.items()}, "pooling": pooling}
    )
    config_hash = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return f"{as_of:%Y-%m-%d}-{config_hash[:8]}", config_hash


def skip_reason(brand: BrandConfig, as_of: date) -> str | None:
    """Why a brand has nothing to do at ``as_of`` (a replay of a week before its launch)."""
    return f"launches {brand.launch_date}, after {as_of}" if brand.launch_date > as_of else None


@dataclass(frozen=True)
class BrandOutcome:
    """One brand in one run: a row of ``run_brands`` plus its series' shrinkage weights.

    Attributes:
        status: ``succeeded``, ``failed`` (``error`` says why) or ``skipped``.
        data_rows, data_max_ds, data_hash: Lineage of the data the brand was fitted on:
            sales rows, last sales week, one hash of its sales, events and master rows.
        n_inactive: Series skipped as discontinued.
        n_imputed: Unknown weeks of the forecast series, imputed for the models.
        unknown_share: Share of the forecast series' weeks that are unknown.
        n_returns: Weeks with negative net units in the brand's sales.
        selected_model: The model chosen per segment, e.g. ``smooth: ets, smooth/young: ses``.
        series_weights: ``brand, series_weight_mean, series_weight_min, series_weight_max``
            (not a ``run_brands`` column: it goes to ``prior_weights``).
        level_base: The brand's ``BrandResult.level_base`` (not a column either: planning's
            level backtest takes it instead of fitting the bottom series again).
    """

    brand: str
    sector: str
    status: BrandStatus
    config_hash: str
    data_rows: int | None = None
    data_max_ds: date | None = None
    data_hash: str | None = None
    n_series: int | None = None
    n_inactive: int | None = None
    n_imputed: int | None = None
    unknown_share: float | None = None
    n_returns: int | None = None
    n_rows: int | None = None
    selected_model: str | None = None
    seconds: float = 0.0
    error: str | None = None
    series_weights: pl.DataFrame | None = field(default=None, compare=False, repr=False)
    level_base: pl.DataFrame | None = field(default=None, compare=False, repr=False)

    @classmethod
    def start(cls, brand: BrandConfig, status: BrandStatus, **values: Any) -> BrandOutcome:
        """An outcome of ``brand`` with its identity filled in."""
        return cls(brand.brand, brand.sector, status, brand.config_hash, **values)

    @classmethod
    def succeeded(
        cls,
        brand: BrandConfig,
        sales: pl.DataFrame,
        result: BrandResult,
        seconds: float,
        context: Sequence[pl.DataFrame] = (),
    ) -> BrandOutcome:
        """A brand that published: its lineage (see :func:`watermark`), counts and models."""
        weights = result.series_weights.select(
            brand=pl.lit(brand.brand),
            series_weight_mean=pl.col("own_weight").mean(),
            series_weight_min=pl.col("own_weight").min(),
            series_weight_max=pl.col("own_weight").max(),
        )
        return cls.start(
            brand,
            "succeeded",
            **watermark(sales, *context),
            n_series=result.n_series,
            n_inactive=result.n_inactive,
            n_imputed=result.gaps.height,
            unknown_share=round(result.unknown_share, 4),
            n_returns=result.n_returns,
            n_rows=result.forecasts.height,
            selected_model=result.selected_model,
            seconds=round(seconds, 3),
            series_weights=weights,
            level_base=result.level_base,
        )

    @classmethod
    def failed(
        cls,
        brand: BrandConfig,
        error: Exception,
        sales: pl.DataFrame | None,
        seconds: float,
        context: Sequence[pl.DataFrame] = (),
    ) -> BrandOutcome:
        """A brand whose fit raised: the error, and the lineage of the data it had read."""
        lineage = watermark(sales, *context) if sales is not None else {}
        message = f"{type(error).__name__}: {error}"
        return cls.start(brand, "failed", **lineage, seconds=round(seconds, 3), error=message)


_FRAMES = ("series_weights", "level_base")
RUN_BRAND_COLUMNS = tuple(f.name for f in fields(BrandOutcome) if f.name not in _FRAMES)
_DTYPES: dict[Any, pl.DataType] = {
    str: pl.String(),
    int: pl.Int64(),
    float: pl.Float64(),
    date: pl.Date(),
}


def _dtype(hint: Any) -> pl.DataType:
    """Polars dtype of a field's annotation (``X | None`` → X, a Literal → String)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is Literal:
        return pl.String()
    return _dtype(args[0]) if args else _DTYPES[hint]


def run_brand_rows(outcomes: Sequence[BrandOutcome]) -> pl.DataFrame:
    """``run_brands`` rows of a run (one per brand, skipped and failed ones included)."""
    hints = typing.get_type_hints(BrandOutcome)
    schema = {c: _dtype(hints[c]) for c in RUN_BRAND_COLUMNS}
    rows = [{c: getattr(o, c) for c in RUN_BRAND_COLUMNS} for o in outcomes]
    return pl.DataFrame(rows, schema=schema)


def series_weight_rows(outcomes: Sequence[BrandOutcome]) -> pl.DataFrame:
    """The fitted brands' series-weight summaries, one row per brand."""
    frames = [o.series_weights for o in outcomes if o.series_weights is not None]
    return pl.concat(frames) if frames else pl.DataFrame(schema={"brand": pl.String})


def level_base_rows(outcomes: Sequence[BrandOutcome]) -> pl.DataFrame | None:
    """The fitted brands' ``level_base`` forecasts together (None when no brand has any)."""
    frames = [o.level_base for o in outcomes if o.level_base is not None]
    return pl.concat(frames) if frames else None


def watermark(sales: pl.DataFrame, *context: pl.DataFrame) -> dict[str, Any]:
    """Lineage of the data a brand was fitted on: sales rows, last week, and one content
    hash of the sales and the ``context`` frames (its events, its product master rows)."""
    frames = [sales, *(f for f in context if f.height)]
    digest = sum(f.hash_rows(seed=i).sum() for i, f in enumerate(frames) if f.height)
    return {
        "data_rows": sales.height,
        "data_max_ds": sales["ds"].max() if sales.height else None,
        "data_hash": f"{int(digest) % (1 << 64):016x}",
    }


def run_status(outcomes: Sequence[BrandOutcome]) -> tuple[RunStatus, str | None]:
    """The run's status and message from its brands.

    ``failed`` when no brand that ran succeeded (or every brand was skipped), ``partial``
    when some failed, ``succeeded`` otherwise.
    """
    failed = [o for o in outcomes if o.status == "failed"]
    ran = [o for o in outcomes if o.status != "skipped"]
    if not ran:
        why = "; ".join(f"{o.brand}: {o.error}" for o in outcomes)
        return "failed", f"every brand was skipped ({why})"
    # The first reason travels with the run: a run whose brands all failed publishes no
    # run_brands rows, so forecast_runs.message is where its reason is kept.
    first = f" ({failed[0].brand}: {(failed[0].error or '')[:400]})" if failed else ""
    message = f"failed brands: {', '.join(o.brand for o in failed)}{first}" if failed else None
    if len(failed) == len(ran):
        return "failed", message
    return ("partial" if failed else "succeeded"), message


@dataclass(frozen=True)
class RunSummary:
    """What a finished run reports (the flow's return value and its Prefect artifact).

    Attributes:
        rows: Rows written per result table.
        imputed: Brand → unknown weeks imputed for its models (brands with any).
    """

    run_id: str
    as_of: date
    status: RunStatus
    brands: int
    failed: list[str]
    n_series: int
    rows: dict[str, int]
    seconds: float
    message: str | None = None
    imputed: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        run_id: str,
        as_of: date,
        outcomes: Sequence[BrandOutcome],
        rows: dict[str, int],
        seconds: float,
    ) -> RunSummary:
        """Summarise a run from its brands' outcomes and the rows it published."""
        status, message = run_status(outcomes)
        return cls(
            run_id=run_id,
            as_of=as_of,
            status=status,
            brands=len(outcomes),
            failed=[o.brand for o in outcomes if o.status == "failed"],
            n_series=sum(o.n_series or 0 for o in outcomes),
            rows=rows,
            seconds=round(seconds, 1),
            message=message,
            imputed={o.brand: o.n_imputed for o in outcomes if o.n_imputed},
        )

    def to_json(self) -> str:
        """One line of JSON (printed at the end of every run)."""
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, default=str)
