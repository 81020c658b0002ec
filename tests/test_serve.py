"""Operations end to end: `forecast serve`, a run from the Prefect CLI, a schedule that fires.

Everything is real and local: a Prefect server bound to 127.0.0.1 on a free port, the
project's deployments served against it, `prefect deployment run … --watch` from another
process, and a short interval schedule that must create and complete a run by itself (a
broken scheduler fails silently otherwise).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from forecast import warehouse as wh
from forecast.inputs.config import load_brands
from forecast.inputs.synthetic import generate_sales
from tests.conftest import END, START, replace_sales, write_brands

pytestmark = pytest.mark.flow
FORECAST = Path(sys.executable).with_name("forecast")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(api: str, path: str, body: dict) -> list[dict]:  # type: ignore[type-arg]
    req = urllib.request.Request(
        f"{api}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("serve")
    configs = write_brands(root / "brands")
    db = root / "forecast.duckdb"
    data = generate_sales(load_brands(configs), START, END)
    replace_sales(db, data.sales, data.truth, "synthetic:seed=0")
    api = f"http://127.0.0.1:{_free_port()}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(root / "prefect"),
        "PREFECT_API_URL": api,
        "FORECAST_WAREHOUSE": str(db),
        "FORECAST_CONFIG_DIR": str(configs),
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    with open(root / "serve.log", "wb") as log:
        proc = subprocess.Popen(
            [str(FORECAST), "serve", "--api-url", api, "--every", "20"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
        try:
            _wait(lambda: _deployments(api) >= 5, 180, "the five deployments")
            yield api, env, db, proc, root
        finally:
            if proc.poll() is None:
                proc.kill()


def _deployments(api: str) -> int:
    try:
        return len(_post(api, "/deployments/filter", {}))
    except OSError:
        return 0


def test_prefect_cli_run_completes_and_publishes(served) -> None:  # type: ignore[no-untyped-def]
    _, env, db, _, root = served
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "prefect",
            "deployment",
            "run",
            "forecast/refresh",
            "-p",
            "as_of=2024-09-30",
            "-p",
            'brands=["wines_a","watches_a"]',
            "--watch",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Completed" in done.stdout
    runs = wh.query(
        db,
        "SELECT run_id, as_of, status, flow_run_id FROM forecast_runs WHERE as_of = '2024-09-30'",
    )
    assert runs["status"].to_list() == ["succeeded"] and runs["flow_run_id"][0]
    # The interval deployment may publish a later run of every brand meanwhile: look at ours.
    brands = wh.query(
        db, "SELECT DISTINCT brand FROM forecasts WHERE run_id = ? ORDER BY 1", [runs["run_id"][0]]
    )["brand"].to_list()
    assert brands == ["watches_a", "wines_a"]
    print(f"\nprefect deployment run → completed in {seconds:.1f} s")


def test_interval_schedule_creates_and_completes_runs(served) -> None:  # type: ignore[no-untyped-def]
    api, _, db, _, _ = served
    body = {
        "deployments": {"name": {"any_": ["every-20s"]}},
        "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
    }
    _wait(
        lambda: len(_post(api, "/flow_runs/filter", body)) >= 1, 300, "a scheduled run to complete"
    )
    auto = _post(api, "/flow_runs/filter", body)[0]
    assert auto["auto_scheduled"] is True
    assert (
        wh.query(db, "SELECT count(*) AS n FROM forecast_runs WHERE flow_run_id = ?", [auto["id"]])[
            "n"
        ][0]
        == 1
    )


def test_sigterm_stops_serving_then_the_server(served) -> None:  # type: ignore[no-untyped-def]
    api, _, _, proc, root = served
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{api}/health", timeout=2)
    log = (root / "serve.log").read_text()
    assert log.index("stopping serving deployments") < log.index("stopping Prefect server")
