"""The project's Prefect deployments, served by ``forecast serve``.

| deployment | schedule | parameters |
|---|---|---|
| ``forecast/weekly`` | Mondays 06:00 UTC | brands, pooling, n_jobs, cluster (as_of: latest week) |
| ``forecast/refresh`` | on demand | as_of (replay the past), brands, pooling, n_jobs, cluster |
| ``ingest/on-demand`` | on demand | path, mapping, as_of, date_format, week_label |
| ``generate-sales/demo`` | on demand | end, start, seed, scale, brands |

Every deployment runs one flow run at a time (``concurrency_limit=1``); warehouse writes are
serialised by its file lock in any case. Entry points are module paths, so nothing here
depends on where the repository was cloned.
"""

from __future__ import annotations

from typing import Any

from prefect import serve
from prefect.deployments.runner import EntrypointType

from flows.forecast import forecast_flow
from flows.generate import generate_sales_flow
from flows.ingest import ingest_flow

WEEKLY_CRON = "0 6 * * 1"


def deployments(every_seconds: int | None = None) -> list[Any]:
    """The deployments to serve; ``every_seconds`` adds ``forecast/every-<n>s`` (smoke tests)."""
    common: dict[str, Any] = {"concurrency_limit": 1, "entrypoint_type": EntrypointType.MODULE_PATH}
    out = [
        forecast_flow.to_deployment(
            name="weekly",
            cron=WEEKLY_CRON,
            tags=["scheduled"],
            description="Weekly forecast of every brand from the latest sales week.",
            **common,
        ),
        forecast_flow.to_deployment(
            name="refresh",
            tags=["on-demand"],
            description="Forecast on demand: any as-of date (replays the past), any brands.",
            **common,
        ),
        ingest_flow.to_deployment(
            name="on-demand",
            tags=["on-demand"],
            description="Load a CSV/Parquet file of sales; refused rows go to rejected_sales.",
            **common,
        ),
        generate_sales_flow.to_deployment(
            name="demo", tags=["on-demand"], description="Synthetic demo sales.", **common
        ),
    ]
    if every_seconds:
        out.append(
            forecast_flow.to_deployment(
                name=f"every-{every_seconds}s",
                interval=every_seconds,
                tags=["smoke-test"],
                description="Interval schedule proving the scheduler creates runs.",
                **common,
            )
        )
    return out


def serve_all(every_seconds: int | None = None) -> None:
    """Serve the deployments until interrupted (``forecast serve`` runs this in a child)."""
    serve(*deployments(every_seconds))
