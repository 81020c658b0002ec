"""Scale benchmark, one command: ``python bench/scale.py`` (``make bench-scale``).

For each scale (default ``--scale 4`` ≈ 10k series and ``--scale 40`` ≈ 100k), in one
process tree: synthetic sales are generated into a fresh warehouse (not timed), then

* **pipeline** — ``forecast run`` end to end (DuckDB → priors → backtests → fits →
  publish → the planning step), as a user runs it;
* **reference** — bare statsforecast doing the same work on the same series, read from the
  same warehouse: every default candidate of the run (smooth, own-seasonality, intermittent
  and seasonal naive, each on every series) with 80/95 % intervals, forecast at as-of and
  cross-validated at as many windows as the run backtests, ``n_jobs=-1``.

``--n-jobs`` is passed to ``forecast run`` (default -1, the product's default: every
core); ``--no-reference`` times the pipeline only. Each is a child process; wall, CPU (the
child and everything it waited for) and peak memory of its whole process tree (PSS,
sampled from ``/proc``) are measured, with the run's own split: brands' phases and
planning. Prints and writes ``bench/out/scale.json`` and ``bench/out/scale.md``: ms per
series and the ratios of the issue-10 targets (pipeline ≤ 0.6× reference; 100k wall per
series ≤ 1.2× and peak memory ≤ 2× the 10k figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
CONFIG = ROOT / "config" / "brands"
FORECAST = Path(sys.executable).with_name("forecast")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_memory(pid: int) -> int:
    """Bytes of memory held by ``pid`` and every descendant (Linux ``/proc``): the sum of
    their proportional set sizes, so pages a forked child shares with its parent count once
    (summed RSS counts them in every process: a run whose planning step forks two fit
    workers from a 3 GB parent showed 10 GB). RSS where ``smaps_rollup`` is unreadable."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _process_memory(p)
        todo.extend(children.get(p, []))
    return total


def _process_memory(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0  # the process ended between listing and reading


def measure(cmd: list[str], log: Path) -> dict[str, Any]:
    """Run ``cmd``; wall seconds, CPU seconds and peak tree memory (MB); raises on failure."""
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.2):
            peak = max(peak, tree_memory(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}; see {log}")
    return {
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_mem_mb": round(peak / 2**20),
    }


def reference(db: Path) -> None:
    """The same-work bare statsforecast run (a child process of the benchmark)."""
    import polars as pl
    from statsforecast import StatsForecast

    from forecast import warehouse
    from forecast.engine.backtest import window_offsets
    from forecast.engine.models import build_models, fallback_model, family_of, seasonal_naive
    from forecast.engine.quantiles import uninstall
    from forecast.inputs.config import ModelSettings

    uninstall()  # bare statsforecast: its own interval quantiles, not the run's cached ones
    settings, horizon = ModelSettings(), 13
    sales = warehouse.read_sales(db, list(warehouse.first_sales(db)), warehouse.as_of_default(db))
    series = sales.select(
        unique_id=pl.concat_str("brand", "market", "product", separator="/"),
        ds="ds",
        y=pl.col("units").clip(0).cast(pl.Float64),
    )
    grid = _complete(series)
    smooth = [n for n in settings.candidates if family_of(n) == "smooth"] + ["ses"]
    own = [n for n in settings.candidates if family_of(n) == "seasonal" and n != "ets_seasonal"]
    sparse = build_models(settings.intermittent_candidates, "intermittent")
    windows = len(window_offsets(horizon, settings.backtest_windows, 52))
    log = grid.with_columns(y=pl.col("y").log1p())
    # As the run: own-seasonality models on series with two seasons, a naive fallback.
    lengths = log.group_by("unique_id").len()
    long = log.join(lengths.filter(pl.col("len") >= 104 + windows * horizon), on="unique_id")
    calls = (
        (log, [*build_models(smooth, "smooth"), seasonal_naive(52)], [80, 95]),
        (long.drop("len"), build_models(own, "seasonal", 52), [80, 95]),
        (log, sparse, None),
    )
    for frame, models, level in calls:
        sf = StatsForecast(models=models, freq="1w", n_jobs=-1, fallback_model=fallback_model())
        sf.forecast(df=frame, h=horizon, level=level)
        cv = {"h": horizon, "n_windows": windows, "step_size": horizon, "level": level}
        # Series with history before the oldest window only (statsforecast 2.1 fails on
        # shorter ones with polars input); the run does not backtest those either.
        old = frame.group_by("unique_id").len().filter(pl.col("len") > (windows + 1) * horizon)
        sf.cross_validation(df=frame.join(old.select("unique_id"), on="unique_id"), **cv)
    print(json.dumps({"series": grid["unique_id"].n_unique(), "rows": grid.height}))


def _complete(series: Any) -> Any:
    """Every series on a complete weekly grid from its first week (no row = 0 units)."""
    import polars as pl

    weeks = series.select(pl.col("ds").unique())
    first = series.group_by("unique_id").agg(start=pl.col("ds").min())
    grid = first.join(weeks, how="cross").filter(pl.col("ds") >= pl.col("start")).drop("start")
    joined = grid.join(series, on=["unique_id", "ds"], how="left")
    return joined.with_columns(pl.col("y").fill_null(0.0)).sort("unique_id", "ds")


def one_scale(scale: float, work: Path, n_jobs: int, with_reference: bool) -> dict[str, Any]:
    """Generate, then measure the pipeline (``forecast run --n-jobs n_jobs``) and the
    reference at one scale."""
    db = work / f"scale{scale:g}" / "forecast.duckdb"
    db.parent.mkdir(parents=True)
    where = ["--warehouse", str(db), "--config-dir", str(CONFIG)]
    gen = [str(FORECAST), "generate", "--scale", f"{scale:g}", *where]
    subprocess.run(gen, check=True, capture_output=True, cwd=ROOT)
    load = os.getloadavg()[0]
    run = [str(FORECAST), "run", "--n-jobs", str(n_jobs), *where]
    pipeline = measure(run, db.parent / "run.log") | _phases(db)
    print(f"scale {scale:g}: pipeline {pipeline}", flush=True)
    n = pipeline.pop("n_series")
    result = {
        "scale": scale,
        "series": n,
        "n_jobs": n_jobs,
        "load_before": round(load, 2),
        "pipeline": pipeline,
        "pipeline_ms_per_series": round(1000 * pipeline["wall_s"] / max(n, 1), 2),
    }
    if with_reference:
        ref = measure([sys.executable, __file__, "--reference", str(db)], db.parent / "ref.log")
        print(f"scale {scale:g}: reference {ref}", flush=True)
        result |= {
            "reference": ref,
            "reference_ms_per_series": round(1000 * ref["wall_s"] / max(n, 1), 2),
            "ratio_wall": round(pipeline["wall_s"] / ref["wall_s"], 3),
            "ratio_cpu": round(pipeline["cpu_s"] / ref["cpu_s"], 3),
        }
    return result | {"load_after": round(os.getloadavg()[0], 2)}


def _phases(db: Path) -> dict[str, Any]:
    """Series and the run's own timings: the brands' phases (its summary line in the Prefect
    log) and the planning step (``reconciliations.seconds``)."""
    from forecast import warehouse

    log = db.parent / ".prefect" / "forecast.log"
    lines = [line for line in log.read_text().splitlines() if '"run_id"' in line]
    summary = json.loads(lines[-1][lines[-1].index("{") :]) if lines else {}
    planning = warehouse.query(
        db, "SELECT max(seconds) AS s, max(path) AS path FROM reconciliations"
    )
    return {
        "n_series": summary.get("n_series") or 0,
        "brands_s": summary.get("seconds"),
        "planning_s": planning["s"][0],
        "reconciliation": planning["path"][0],
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """The results as the table of bench/RESULTS.md."""
    head = (
        "| series | --n-jobs | load (before/after) | pipeline wall / CPU / peak memory | "
        "brands / planning | ms/series | reference wall / CPU / peak memory | ms/series | "
        "pipeline ÷ reference (wall / CPU) |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in results:
        p, f = r["pipeline"], r.get("reference")
        ref = (
            f"{f['wall_s']} s / {f['cpu_s']} s / {f['peak_mem_mb']} MB | "
            f"{r['reference_ms_per_series']} | {r['ratio_wall']} / {r['ratio_cpu']}"
            if f
            else "not run | | "
        )
        rows.append(
            f"| {r['series']:,} | {r['n_jobs']} | {r['load_before']} / {r['load_after']} | "
            f"{p['wall_s']} s / {p['cpu_s']} s / {p['peak_mem_mb']} MB | "
            f"{p['brands_s']} s / {p['planning_s']} s | {r['pipeline_ms_per_series']} | {ref} |"
        )
    text = head + "\n".join(rows) + "\n"
    if len(results) == 2:
        small, big = results
        per = big["pipeline_ms_per_series"] / small["pipeline_ms_per_series"]
        rss = big["pipeline"]["peak_mem_mb"] / small["pipeline"]["peak_mem_mb"]
        text += f"\n{big['series']:,} vs {small['series']:,} series: wall per series "
        text += f"{per:.2f}×, peak memory {rss:.2f}× (targets ≤ 1.2× and ≤ 2×)\n"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, nargs="+", default=[4.0, 40.0])
    parser.add_argument("--n-jobs", type=int, default=-1, help="forecast run --n-jobs")
    parser.add_argument(
        "--no-reference", action="store_true", help="time the pipeline only (no bare run)"
    )
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference:
        reference(args.reference)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    work = Path(tempfile.mkdtemp(prefix="scale-"))
    results = []
    for scale in args.scale:
        results.append(one_scale(scale, work, args.n_jobs, not args.no_reference))
        print(json.dumps(results[-1]), flush=True)
    shutil.rmtree(work)  # kept, with every log, when a step failed
    (OUT / "scale.json").write_text(json.dumps({"machine": machine, "results": results}))
    text = f"Machine: {machine}\n\n" + markdown(results)
    (OUT / "scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
