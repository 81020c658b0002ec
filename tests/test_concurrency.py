"""Analysts reading while runs write, and runs killed with SIGKILL — with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from forecast import warehouse as wh
from forecast.inputs.config import load_brands
from forecast.inputs.synthetic import generate_sales
from tests.conftest import END, START, ensure_schema, replace_sales, write_brands

pytestmark = pytest.mark.flow

ANALYST = textwrap.dedent("""
    import json, pathlib, sys, time
    import duckdb
    db, stop, out, mode = sys.argv[1:5]
    # "held": one connection for the whole run; "fresh": a new connection for every read
    # (DuckDB shares one instance per file inside a process, so this needs its own process).
    held = duckdb.connect(db, read_only=True) if mode == "held" else None
    report = {"reads": 0, "failed": 0, "seen": [], "errors": []}
    state = ("SELECT string_agg(DISTINCT run_id, ',' ORDER BY run_id), count(*) "
             "FROM latest_forecasts")
    while not pathlib.Path(stop).exists():
        report["reads"] += 1
        try:
            con = held or duckdb.connect(db, read_only=True)
            seen = list(con.execute(state).fetchall()[0])
            if held is None:
                con.close()
            if seen not in report["seen"]:
                report["seen"].append(seen)
        except Exception as exc:
            report["failed"] += 1
            report["errors"].append(str(exc)[:200])
        time.sleep(0.005)
    pathlib.Path(out).write_text(json.dumps(report))
""")


@pytest.fixture
def warehouse_with_a_run(tmp_path: Path, prefect_harness: None):  # type: ignore[no-untyped-def]
    from flows.forecast import forecast_flow

    configs = write_brands(tmp_path / "brands")
    db = tmp_path / "forecast.duckdb"
    data = generate_sales(load_brands(configs), START, END)
    replace_sales(db, data.sales, data.truth, "synthetic:seed=0")
    first = forecast_flow(warehouse_path=str(db), config_dir=str(configs), brands=["wines_a"])
    return db, configs, first


def test_analyst_holding_a_connection_never_blocks_nor_sees_a_partial_run(
    warehouse_with_a_run,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from flows.forecast import forecast_flow

    db, configs, first = warehouse_with_a_run
    stop = tmp_path / "stop"
    analysts = {
        mode: subprocess.Popen(
            [
                sys.executable,
                "-c",
                ANALYST,
                str(db),
                str(stop),
                str(tmp_path / f"{mode}.json"),
                mode,
            ]
        )
        for mode in ("held", "fresh")
    }
    time.sleep(1.0)  # the analysts are reading before the run starts
    second = forecast_flow(warehouse_path=str(db), config_dir=str(configs))
    time.sleep(0.5)
    stop.touch()
    assert all(p.wait(timeout=60) == 0 for p in analysts.values())
    held, fresh = (json.loads((tmp_path / f"{m}.json").read_text()) for m in ("held", "fresh"))
    before = [first.run_id, first.rows["forecasts"]]
    after = [second.run_id, second.rows["forecasts"]]
    assert second.status == "succeeded"
    assert held["failed"] == 0 and held["seen"] == [before]  # its snapshot, never a partial run
    assert fresh["failed"] == 0 and fresh["seen"] == [before, after]  # old, then the whole new run
    print(
        f"\nanalyst reads: held connection {held['reads']} (failed {held['failed']}), "
        f"reconnecting {fresh['reads']} (failed {fresh['failed']}); "
        f"writer run {second.seconds} s, {second.status}"
    )


KILL_MID_PUBLISH = textwrap.dedent("""
    import os, signal, sys
    from forecast import warehouse
    with warehouse.publish(sys.argv[1]) as con:
        con.execute("DELETE FROM forecasts")
        con.execute("DELETE FROM forecast_runs")
        os.kill(os.getpid(), signal.SIGKILL)
""")


def test_sigkill_mid_write_leaves_the_previous_state(warehouse_with_a_run) -> None:  # type: ignore[no-untyped-def]
    db, _, first = warehouse_with_a_run
    before = wh.query(db, "SELECT count(*) AS n FROM latest_forecasts")["n"][0]
    killed = subprocess.run([sys.executable, "-c", KILL_MID_PUBLISH, str(db)], timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert list(db.parent.glob("forecast.duckdb.*.tmp")), "the killed writer left its copy"
    assert (
        wh.query(db, "SELECT count(*) AS n FROM latest_forecasts")["n"][0]
        == before
        == first.rows["forecasts"]
    )
    ensure_schema(db)  # the next writer clears the stray copy
    assert not list(db.parent.glob("forecast.duckdb.*.tmp"))


def test_sigkill_mid_run_is_marked_abandoned_by_the_next_run(warehouse_with_a_run) -> None:  # type: ignore[no-untyped-def]
    from flows.forecast import forecast_flow

    db, configs, first = warehouse_with_a_run
    env = {**os.environ, "FORECAST_WAREHOUSE": str(db), "FORECAST_CONFIG_DIR": str(configs)}
    run = subprocess.Popen(
        [str(Path(sys.executable).with_name("forecast")), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=db.parent,
    )
    deadline = time.monotonic() + 120
    while (
        wh.query(db, "SELECT count(*) AS n FROM forecast_runs WHERE status = 'running'")["n"][0]
        == 0
    ):
        assert time.monotonic() < deadline and run.poll() is None, "the run never started"
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    assert wh.query(db, "SELECT run_id FROM latest_brand_runs")["run_id"].to_list() == [
        first.run_id
    ]
    nxt = forecast_flow(warehouse_path=str(db), config_dir=str(configs), brands=["watches_a"])
    assert nxt.status == "succeeded"
    status = dict(wh.query(db, "SELECT status, count(*) FROM forecast_runs GROUP BY 1").iter_rows())
    assert status == {"succeeded": 2, "abandoned": 1}
