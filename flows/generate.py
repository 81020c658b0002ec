"""Prefect flow ``generate-sales``: synthetic demo sales (and their truth) into the warehouse."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from forecast import warehouse
from forecast.inputs.config import BrandConfig
from forecast.inputs.synthetic import generate_brand, weeks_between
from forecast.planning.products import empty_rejections
from forecast.request import Workspace

DEFAULT_START = date(2023, 1, 2)


@task(name="generate-brand", cache_policy=NO_CACHE)
def generate_task(
    db: Path, batch: str, brand: BrandConfig, weeks: list[date], seed: int, scale: float
) -> tuple[int, pl.DataFrame]:
    """Generate one brand and stage it; returns its series count and product master."""
    data = generate_brand(brand, weeks, seed, scale)
    warehouse.stage_sales(db, batch, brand.brand, data.sales, data.truth)
    return data.sales.select("region", "product").n_unique(), data.products


@task(name="publish-sales", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def publish_task(db: Path, batch: str, source: str, replace_real: bool) -> int:
    return warehouse.publish_sales(db, batch, source, replace_real)


@task(name="publish-products", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def publish_products_task(db: Path, products: pl.DataFrame, source: str) -> int:
    """The generator's product master replaces the generated brands' masters."""
    return warehouse.write_products(db, products, empty_rejections(), source, replace=True)


@flow(name="generate-sales", log_prints=True)
def generate_sales_flow(
    end: date,
    start: date = DEFAULT_START,
    seed: int = 0,
    scale: float = 1.0,
    brands: list[str] | None = None,
    warehouse_path: str | None = None,
    config_dir: str | None = None,
    replace_real: bool = False,
) -> dict[str, Any]:
    """Generate weekly sales from ``start`` to ``end`` for every brand config (or the listed).

    Brands are generated and staged one at a time, so memory stays bounded by the
    largest brand, then published together in one atomic write. Re-running with the
    same arguments rewrites identical data. A brand holding ingested (real) sales is
    refused before anything is generated, unless ``replace_real`` says to delete them.
    """
    workspace = Workspace.load(warehouse_path, config_dir)
    db, chosen = workspace.warehouse, workspace.select(brands).values()
    weeks = weeks_between(start, end)
    batch = f"generate-{flow_run.get_id() or 'local'}"
    real = warehouse.real_sales(db, [b.brand for b in chosen])
    if real and not replace_real:
        raise warehouse.WarehouseError(f"{db}: {warehouse.real_sales_message(real)}")
    generated = [generate_task(db, batch, b, weeks, seed, scale) for b in chosen]
    series = sum(n for n, _ in generated)
    rows = publish_task(db, batch, f"synthetic:seed={seed}", replace_real)
    publish_products_task(db, pl.concat([p for _, p in generated]), f"synthetic:seed={seed}")
    summary = {
        "brands": len(chosen),
        "series": series,
        "rows": rows,
        "start": str(weeks[0]),
        "end": str(weeks[-1]),
    }
    print(summary)
    return summary
