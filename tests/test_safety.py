"""Nothing lost, nothing left behind — with real `forecast` processes, real kills, real files.

Commands run from an empty folder outside the project (they must work and leave nothing
there); a re-run killed with SIGKILL while an analyst reads never changes what the analyst
sees; a second live run of the same run key is refused; no process outlives its parent.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from forecast import warehouse as wh
from forecast.inputs.config import load_brands
from forecast.inputs.synthetic import generate_sales
from tests.conftest import END, START, brand_toml

pytestmark = pytest.mark.flow
FORECAST = Path(sys.executable).with_name("forecast")
BRANDS = {"wines_a": "wines_spirits", "watches_a": "watches_jewelry"}


def _env(root: Path, **extra: str) -> dict[str, str]:
    """The user's environment: no Prefect settings of the test session, our two paths."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "FORECAST_"))}
    env.update(FORECAST_WAREHOUSE=str(root / "wh" / "forecast.duckdb"))
    env.update(FORECAST_CONFIG_DIR=str(root / "brands"), **extra)
    return env


def _forecast(root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FORECAST), *args],
        env=_env(root, **extra),
        cwd=root / "elsewhere",
        capture_output=True,
        text=True,
        timeout=600,
    )


def _start(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(FORECAST), *args],
        env=_env(root),
        cwd=root / "elsewhere",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _children(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        kids = [c for c, p in parents.items() if p in frontier]
        found += kids
        frontier = kids
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return status != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def _wait_running(db: Path, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    sql = "SELECT count(*) AS n FROM forecast_runs WHERE status = 'running' AND pid = ?"
    while wh.query(db, sql, [proc.pid])["n"][0] == 0:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """`forecast ingest` then `forecast run` of two brands, both from an empty foreign folder."""
    root = tmp_path_factory.mktemp("safety")
    (root / "brands").mkdir()
    (root / "elsewhere").mkdir()
    for brand, sector in BRANDS.items():
        (root / "brands" / f"{brand}.toml").write_text(brand_toml(brand, sector))
    data = generate_sales(load_brands(root / "brands"), START, END)
    data.sales.select("brand", "region", "product", "ds", "units").write_csv(root / "sales.csv")
    ingest = _forecast(root, "ingest", str(root / "sales.csv"))
    run = _forecast(root, "run")
    db = root / "wh" / "forecast.duckdb"
    return root, db, ingest, run


def test_commands_work_from_any_folder_and_leave_nothing_there(published) -> None:  # type: ignore[no-untyped-def]
    root, db, ingest, run = published
    assert ingest.returncode == 0, ingest.stderr
    assert run.returncode == 0, run.stderr
    assert "succeeded" in run.stdout and ingest.stderr == run.stderr == ""
    assert list((root / "elsewhere").iterdir()) == []
    assert (db.parent / ".prefect" / "forecast.log").is_file(), "Prefect's home is beside it"
    assert wh.query(db, "SELECT count(DISTINCT brand) AS n FROM latest_forecasts")["n"][0] == 2


def test_a_failed_ingest_prints_one_line_not_prefects_log(published) -> None:  # type: ignore[no-untyped-def]
    root, db, *_ = published
    bad = root / "bad.csv"
    bad.write_text(
        "brand,region,product,ds,units\nx,europe,p,2024-06-03,1\ny,europe,p,2024-06-03,2\n"
    )
    out = _forecast(root, "ingest", str(bad))
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == [
        f"nothing loaded: {bad}: no row could be loaded, all 2 refused — row 1: unknown "
        f"brand 'x'; row 2: unknown brand 'y' (Prefect log: {db.parent / '.prefect'}"
        "/forecast.log)"
    ]
    assert "ERROR" in (db.parent / ".prefect" / "forecast.log").read_text()


def test_an_unreachable_prefect_api_is_named_with_the_fix(published) -> None:  # type: ignore[no-untyped-def]
    root, *_ = published
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/api"
    out = _forecast(root, "run", "--brand", "wines_a", PREFECT_API_URL=url)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"PREFECT_API_URL={url}: no Prefect API answers there — unset PREFECT_API_URL to use "
        "the embedded API, or start one with `forecast serve`"
    ]


def test_a_second_live_run_of_one_key_is_refused_and_the_first_publishes(published) -> None:  # type: ignore[no-untyped-def]
    root, db, _, first = published
    before = wh.query(db, "SELECT count(*) AS n FROM latest_forecasts")["n"][0]
    one = _start(root, "run")
    _wait_running(db, one)
    one.send_signal(signal.SIGSTOP)  # holds the run key, deterministically, while two starts
    try:
        two = _forecast(root, "run")
    finally:
        one.send_signal(signal.SIGCONT)
    _, errors = one.communicate(timeout=600)
    assert one.returncode == 0, errors
    assert two.returncode == 1 and len(two.stderr.splitlines()) == 1, two.stderr
    assert f"is already running (pid {one.pid} on " in two.stderr
    runs = wh.query(db, "SELECT status FROM forecast_runs WHERE run_id = ?", [_run_id(first)])
    assert runs["status"].to_list() == ["succeeded"]
    assert wh.query(db, "SELECT count(*) AS n FROM latest_forecasts")["n"][0] == before


def _run_id(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout.split("run ", 1)[1].split()[0]


ANALYST = textwrap.dedent("""
    import json, pathlib, sys, time
    import duckdb
    db, stop, out = sys.argv[1:4]
    report = {"reads": 0, "failed": 0, "counts": []}
    while not pathlib.Path(stop).exists():
        report["reads"] += 1
        try:
            con = duckdb.connect(db, read_only=True)
            n = con.execute("SELECT count(*) FROM latest_forecasts").fetchall()[0][0]
            con.close()
            if n not in report["counts"]:
                report["counts"].append(n)
        except Exception as exc:
            report["failed"] += 1
        time.sleep(0.01)
    pathlib.Path(out).write_text(json.dumps(report))
""")


def test_a_killed_rerun_changes_nothing_an_analyst_sees_and_leaves_no_process(published) -> None:  # type: ignore[no-untyped-def]
    root, db, *_ = published
    before = wh.query(db, "SELECT count(*) AS n FROM latest_forecasts")["n"][0]
    stop, report = root / "stop", root / "analyst.json"
    analyst = subprocess.Popen([sys.executable, "-c", ANALYST, str(db), str(stop), str(report)])
    rerun = _start(root, "run")
    _wait_running(db, rerun)
    time.sleep(random.uniform(0.2, 2.0))  # somewhere in estimate → fit → stage
    children = _children(rerun.pid)
    assert children, "the run has its embedded Prefect API as a child"
    rerun.send_signal(signal.SIGKILL)
    rerun.communicate(timeout=60)
    deadline = time.monotonic() + 20
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    stop.touch()
    assert analyst.wait(timeout=60) == 0
    seen = json.loads(report.read_text())
    assert [c for c in children if _alive(c)] == [], "a child outlived the killed run"
    assert seen["failed"] == 0 and seen["counts"] == [before], seen
    assert wh.query(db, "SELECT count(*) AS n FROM latest_forecasts")["n"][0] == before


def test_generation_never_deletes_ingested_sales(published, prefect_harness: None) -> None:  # type: ignore[no-untyped-def]
    from flows.generate import generate_sales_flow

    root, db, *_ = published
    rows = wh.query(db, "SELECT count(*) AS n FROM sales")["n"][0]
    kwargs = {"warehouse_path": str(db), "config_dir": str(root / "brands"), "end": END}
    with pytest.raises(wh.WarehouseError, match=r"would delete ingested sales of wines_a \("):
        generate_sales_flow(brands=["wines_a"], **kwargs)
    assert wh.query(db, "SELECT count(*) AS n FROM sales")["n"][0] == rows
    copy = root / "copy.duckdb"
    copy.write_bytes(db.read_bytes())
    kwargs["warehouse_path"] = str(copy)
    generate_sales_flow(brands=["wines_a"], replace_real=True, start=START, **kwargs)
    sources = wh.query(copy, "SELECT DISTINCT brand, source FROM sales ORDER BY 1").rows()
    assert sources == [("watches_a", str(root / "sales.csv")), ("wines_a", "synthetic:seed=0")]
