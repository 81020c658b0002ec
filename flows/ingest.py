"""Prefect flow ``ingest``: a CSV/Parquet file of real sales, validated row by row, into DuckDB."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from forecast import warehouse
from forecast.inputs.files import IngestError, read_table
from forecast.inputs.ingest import (
    ValidatedSales,
    rename_columns,
    returned_series,
    validate_sales,
)
from forecast.planning.products import refuse_unmastered
from forecast.request import Workspace
from forecast.vocabulary import WeekLabel


@task(name="write-sales", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def write_task(db: Path, checked: ValidatedSales, source: str) -> dict[str, int]:
    return warehouse.upsert_sales(db, checked.accepted, checked.rejected, source)


@flow(name="ingest", log_prints=True)
def ingest_flow(
    path: str,
    mapping: dict[str, str] | None = None,
    as_of: date | None = None,
    date_format: str | None = None,
    week_label: WeekLabel = "monday",
    warehouse_path: str | None = None,
    config_dir: str | None = None,
    encoding: str = "utf-8",
) -> dict[str, Any]:
    """Load one file of weekly sales; refused rows go to ``rejected_sales`` with a reason.

    Args:
        path: CSV or Parquet, long format ``brand, market, product, ds, units``.
        mapping: Our column name → the file's, for other layouts.
        as_of: Rows dated after it are refused.
        date_format: strftime format of the ``ds`` column (ISO by default).
        week_label: How a weekly brand's ``ds`` dates its week: ``monday``, or its first
            (``start``) or last (``end``) day, any weekday.
        encoding: Text encoding of a CSV file.

    Raises:
        IngestError: The file cannot be read, lacks a column, or no row could be loaded
            (the refusals are still recorded).
    """
    workspace = Workspace.load(warehouse_path, config_dir)
    source = str(Path(path))
    raw = rename_columns(read_table(Path(path), encoding), mapping or {}, source)
    latest = date.today() + timedelta(weeks=1)  # a week's margin for clocks and time zones
    # Returns are bounded by what their series sold before: read those series' stored sales.
    stored = warehouse.read_series_sales(workspace.warehouse, returned_series(raw))
    checked = validate_sales(
        raw, workspace.brands, as_of, date_format, latest, workspace.markets, stored, week_label
    )
    checked = refuse_unmastered(checked, warehouse.read_products(workspace.warehouse))
    counts = write_task(workspace.warehouse, checked, source)
    returns = checked.accepted.filter(pl.col("units") < 0).height
    summary = {"source": source, "rows": raw.height, **counts, "returns": returns}
    reasons = checked.rejected.group_by("reason").len().sort("len", descending=True).head(10)
    lines = [f"# Ingest of `{source}`", "", "```json", json.dumps(summary, indent=1), "```", ""]
    lines += ["| refused because | rows |", "|---|---:|"]
    lines += [f"| {r} | {n} |" for r, n in reasons.iter_rows()]
    create_markdown_artifact("\n".join(lines), key="ingest-summary")
    print(json.dumps(summary))
    if checked.accepted.is_empty():
        first = "; ".join(
            # Rows refused after summing per market (a product not in the master) have no number.
            (f"row {n}: {r}" if n is not None else r)
            for n, r in checked.rejected.head(3).select("row_number", "reason").iter_rows()
        )
        raise IngestError(
            f"{source}: no row could be loaded, all {raw.height} refused — {first}"
            + (" …(all in rejected_sales)" if raw.height > 3 else "")
        )
    return summary
