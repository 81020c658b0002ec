"""The one package that talks to DuckDB: schema, staged writes, atomic publishing, queries.

Everything else reaches the warehouse through the names below (``from forecast import
warehouse; warehouse.read_sales(...)``); the modules split it by what is stored:

* :mod:`~forecast.warehouse.store`: connections, schema, the copy → write → replace publish;
* :mod:`~forecast.warehouse.queries`: named read queries and the locked-down ``forecast sql``;
* :mod:`~forecast.warehouse.sales`: sales in (synthetic batches, ingest upserts) and out;
* :mod:`~forecast.warehouse.events`: brand events in (ingested, generated) and out;
* :mod:`~forecast.warehouse.runs`: run attempts, staged results, the publish swap;
* :mod:`~forecast.warehouse.planning`: product master, level forecasts, overrides, monitoring.
"""

from __future__ import annotations

from forecast.warehouse.store import (
    SCHEMA_VERSION,
    WarehouseError,
    publish,
    query,
    reader,
    staging_dir,
)
from forecast.warehouse.queries import (
    ANALYST_STATEMENTS,
    analyst_query,
    as_of_default,
    brand_statuses,
    first_sales,
    latest_by_sector,
    recent_runs,
    refusal_summary,
)
from forecast.warehouse.sales import (
    publish_sales,
    read_sales,
    read_series_sales,
    real_sales,
    real_sales_message,
    stage_sales,
    upsert_sales,
)
from forecast.warehouse.events import (
    read_events,
    replace_generated_events,
    upsert_events,
)
from forecast.warehouse.runs import (
    Attempt,
    RESULT_TABLES,
    RunInProgress,
    finish_run,
    open_run,
    stage,
)
from forecast.warehouse.planning import (
    PLANNING_TABLES,
    largest_brands,
    latest_reconciled_run,
    monitor_frames,
    read_fan,
    read_level_weeks,
    read_overrides,
    read_products,
    read_run_forecasts,
    read_sector_fva,
    read_sold_products,
    withdraw_overrides,
    write_final,
    write_levels,
    write_overrides,
    write_products,
)

__all__ = [
    "ANALYST_STATEMENTS",
    "Attempt",
    "PLANNING_TABLES",
    "RESULT_TABLES",
    "RunInProgress",
    "SCHEMA_VERSION",
    "WarehouseError",
    "analyst_query",
    "as_of_default",
    "brand_statuses",
    "finish_run",
    "first_sales",
    "largest_brands",
    "latest_by_sector",
    "latest_reconciled_run",
    "monitor_frames",
    "open_run",
    "publish",
    "publish_sales",
    "query",
    "read_events",
    "read_fan",
    "read_level_weeks",
    "read_overrides",
    "read_products",
    "read_run_forecasts",
    "read_sales",
    "read_series_sales",
    "read_sector_fva",
    "read_sold_products",
    "reader",
    "real_sales",
    "real_sales_message",
    "recent_runs",
    "refusal_summary",
    "replace_generated_events",
    "stage",
    "stage_sales",
    "staging_dir",
    "upsert_events",
    "upsert_sales",
    "withdraw_overrides",
    "write_final",
    "write_levels",
    "write_overrides",
    "write_products",
]
