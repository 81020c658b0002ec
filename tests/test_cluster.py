"""The forecast flow on a real Dask cluster: a ``distributed.LocalCluster`` of two worker
processes, through Prefect's Dask task runner."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecast import warehouse as wh
from forecast.request import RequestError, check_cluster
from tests.conftest import END, START, write_brands

pytestmark = pytest.mark.flow

BRANDS = ["wines_a", "watches_a", "young_b"]
KEYS = ["brand", "market", "product", "model", "step"]


def _published(db: Path) -> pl.DataFrame:
    columns = "brand, market, product, model, step, yhat, lo_80, hi_80, lo_95, hi_95"
    return wh.query(db, f"SELECT {columns} FROM latest_forecasts").sort(KEYS)


def test_cluster_run_publishes_what_a_local_run_does(tmp_path: Path, prefect_harness: None) -> None:
    from distributed import Client, LocalCluster, get_task_stream

    from flows.forecast import forecast_flow
    from flows.generate import generate_sales_flow
    from flows.progress import listening

    configs, db = write_brands(tmp_path / "brands"), tmp_path / "forecast.duckdb"
    paths = {"warehouse_path": str(db), "config_dir": str(configs)}
    generate_sales_flow(end=END, start=START, brands=BRANDS, **paths)
    local = forecast_flow(brands=BRANDS, **paths)
    expected = _published(db)

    steps: list[tuple[str, int, int]] = []
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client:
        workers = set(client.run(lambda: None))  # the worker addresses
        with (
            get_task_stream(client) as stream,
            listening(lambda p, d, t, _: steps.append((p, d, t))),
        ):
            remote = forecast_flow(brands=BRANDS, cluster=cluster.scheduler_address, **paths)
    ran = {(t["key"].split("-")[0], t["worker"]) for t in stream.data}

    assert remote.status == local.status == "succeeded" and remote.run_id == local.run_id
    # Both phases of every brand ran on the cluster's workers, not in this process.
    assert {name for name, _ in ran} >= {"estimate_task", "forecast_task", "pool_task"}
    assert {worker for _, worker in ran} <= workers
    assert_frame_equal(_published(db), expected)
    run = wh.query(db, "SELECT parameters FROM forecast_runs")
    assert cluster.scheduler_address in run["parameters"][0]
    # Progress: each phase counts up to its brands (planning: to its one step), in order.
    for phase in {p for p, _, _ in steps}:
        total = 1 if phase.startswith("planning") else len(BRANDS)
        assert [(d, t) for p, d, t in steps if p == phase] == [(d, total) for d in range(total + 1)]


def test_an_unusable_cluster_is_refused_before_anything_runs() -> None:
    with pytest.raises(RequestError, match="is not a scheduler address"):
        check_cluster("localhost:8786")
    with pytest.raises(RequestError, match="no Dask scheduler answers there"):
        check_cluster("tcp://127.0.0.1:9", timeout_s=1)
