"""Stress test of the run lifecycle: ``make stress`` (or ``python bench/stress.py [options]``).

Real ``forecast run`` processes — the same run key started concurrently and repeatedly,
other keys beside it — are killed with SIGKILL at random moments while an analyst process
reads ``latest_forecasts`` in a loop with a fresh connection per read. Checks, then prints:

* 0 failed reads, and 0 reads of an empty or partial ``latest_forecasts`` (every brand it
  shows has exactly the rows its run published);
* every published run complete (each succeeded brand has its ``n_rows`` forecasts);
* every run either published, was refused with a clear line (its key was running), or was
  killed — and no killed attempt stays ``running`` once the next run has looked;
* no process started by a run (Prefect's embedded API) outlives it.

Exit code 0 when every check holds. Everything runs on this machine in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from forecast import warehouse as wh  # noqa: E402
from forecast.engine.workers import alive  # noqa: E402
from forecast.inputs.config import load_brands  # noqa: E402
from forecast.inputs.synthetic import generate_sales  # noqa: E402

FORECAST = Path(sys.executable).with_name("forecast")
BRANDS = {
    "cognac_a": ("wines_spirits", '["europe", "china"]', "cognac", 12),
    "watch_a": ("watches_jewelry", '["europe"]', "rings", 10),
    "bag_a": ("fashion_leather", '["europe", "americas"]', "handbags", 10),
}
# Run keys: brands and as-of. The first is the one started concurrently and repeatedly.
KEYS = [
    ("cognac_a", "watch_a"),
    ("bag_a",),
    ("cognac_a", "watch_a", "@2024-09-30"),
]
ANALYST = textwrap.dedent("""
    import json, pathlib, sys, time
    import duckdb
    db, stop, out = sys.argv[1:4]
    check = '''
        WITH shown AS (SELECT run_id, brand, count(*) AS n FROM latest_forecasts GROUP BY ALL)
        SELECT (SELECT count(*) FROM shown),
               (SELECT count(*) FROM shown s JOIN run_brands b USING (run_id, brand)
                WHERE s.n <> b.n_rows)
    '''
    r = {"reads": 0, "failed": 0, "empty": 0, "partial": 0, "errors": []}
    while not pathlib.Path(stop).exists():
        r["reads"] += 1
        try:
            con = duckdb.connect(db, read_only=True)
            brands, wrong = con.execute(check).fetchall()[0]
            con.close()
            r["empty"] += brands == 0
            r["partial"] += wrong > 0
        except Exception as exc:
            r["failed"] += 1
            r["errors"] = (r["errors"] + [str(exc)[:160]])[:5]
        time.sleep(0.02)
    pathlib.Path(out).write_text(json.dumps(r))
""")


def _setup(root: Path) -> dict[str, str]:
    """Brand files, three years of synthetic sales, and the environment of every run."""
    folder = root / "brands"
    folder.mkdir()
    for brand, (sector, regions, category, skus) in BRANDS.items():
        (folder / f"{brand}.toml").write_text(
            f'name = "{brand}"\nsector = "{sector}"\nmarkets = {regions}\n'
            f'launch_date = 2015-01-05\n[[categories]]\nname = "{category}"\nskus = {skus}\n'
        )
    db = root / "forecast.duckdb"
    data = generate_sales(load_brands(folder), date(2022, 1, 3), date(2024, 12, 30))
    wh.stage_sales(db, "stress", "all", data.sales, data.truth)
    wh.publish_sales(db, "stress", "synthetic:seed=0", replace_real=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "FORECAST_"))}
    return {**env, "FORECAST_WAREHOUSE": str(db), "FORECAST_CONFIG_DIR": str(folder)}


def _args(key: tuple[str, ...]) -> list[str]:
    out = ["run"]
    for part in key:
        out += ["--as-of", part[1:]] if part.startswith("@") else ["--brand", part]
    return out


def _descendants(pid: int) -> set[int]:
    table = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    pairs = [tuple(map(int, line.split())) for line in table.splitlines() if line.strip()]
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in pairs if parent in frontier} - found
        found |= frontier
    return found


class Runs:
    """The run processes of the stress test, their fates, and every child they started."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.live: list[tuple[subprocess.Popen[str], bool]] = []
        self.children: set[int] = set()
        self.fates: dict[str, int] = {"published": 0, "refused": 0, "killed": 0, "other": 0}
        self.other: list[str] = []
        self.kills = {"mid_run": 0, "before_open": 0}
        self._stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._stop.is_set():  # children seen while their parent lives
            for proc, _ in list(self.live):
                if proc.poll() is None:
                    self.children |= _descendants(proc.pid)
            time.sleep(0.2)

    def start(self, key: tuple[str, ...], kill_after: float | None, mid_run: bool) -> None:
        """Start a run; SIGKILL it ``kill_after`` s after it starts (or after it opened its
        attempt, when ``mid_run``)."""
        proc = subprocess.Popen(
            [str(FORECAST), *_args(key)],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.live.append((proc, kill_after is not None))
        if kill_after is not None:
            threading.Thread(target=self._kill, args=[proc, kill_after, mid_run]).start()

    def _opened(self, proc: subprocess.Popen[str]) -> bool:
        sql = "SELECT count(*) AS n FROM forecast_runs WHERE status = 'running' AND pid = ?"
        try:
            return bool(wh.query(Path(self.env["FORECAST_WAREHOUSE"]), sql, [proc.pid])["n"][0])
        except wh.WarehouseError:
            return False

    def _kill(self, proc: subprocess.Popen[str], after: float, mid_run: bool) -> None:
        """SIGKILL, noting whether the run had opened its attempt (it was writing) or not."""
        while mid_run and proc.poll() is None and not self._opened(proc):
            time.sleep(0.05)
        time.sleep(after)
        if proc.poll() is not None:
            return
        opened = self._opened(proc)
        proc.kill()
        self.kills["mid_run" if opened else "before_open"] += 1

    def wait(self) -> None:
        for proc, _ in self.live:
            out, err = proc.communicate(timeout=900)
            if proc.returncode == -signal.SIGKILL:
                self.fates["killed"] += 1
            elif proc.returncode == 0:
                self.fates["published"] += 1
            elif "is already running" in err and len(err.strip().splitlines()) == 1:
                self.fates["refused"] += 1
            else:
                self.fates["other"] += 1
                self.other.append(f"exit {proc.returncode}: {(out + err).strip()[-300:]}")
        self.live.clear()

    def close(self) -> None:
        self._stop.set()


def _published_complete(db: Path) -> tuple[int, int]:
    """(published runs, incomplete brand results among them)."""
    runs = wh.query(
        db, "SELECT count(*) AS n FROM forecast_runs WHERE status IN ('succeeded', 'partial')"
    )["n"][0]
    wrong = wh.query(
        db,
        "SELECT count(*) AS n FROM run_brands b JOIN forecast_runs r USING (run_id) "
        "LEFT JOIN (SELECT run_id, brand, count(*) AS n FROM forecasts GROUP BY ALL) f "
        "USING (run_id, brand) WHERE r.status IN ('succeeded', 'partial') "
        "AND b.status = 'succeeded' AND (f.n IS NULL OR f.n <> b.n_rows OR b.n_rows = 0)",
    )["n"][0]
    return int(runs), int(wrong)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="waves of concurrent runs")
    parser.add_argument("--concurrent", type=int, default=3, help="runs started per wave")
    parser.add_argument("--kill-share", type=float, default=0.4, help="share of runs killed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="forecast-stress-") as tmp:
        root = Path(tmp)
        env = _setup(root)
        db = Path(env["FORECAST_WAREHOUSE"])
        (root / "cwd").mkdir()
        runs = Runs(env, root / "cwd")
        runs.start(KEYS[0], None, False)  # something published before the analyst starts
        runs.wait()
        stop, report = root / "stop", root / "analyst.json"
        analyst = subprocess.Popen([sys.executable, "-c", ANALYST, str(db), str(stop), str(report)])
        for _ in range(args.rounds):
            for i in range(args.concurrent):
                key = KEYS[0] if i < 2 else rng.choice(KEYS)  # two of each wave share a key
                killed, mid_run = rng.random() < args.kill_share, rng.random() < 0.7
                kill = rng.uniform(0.0, 3.0) if mid_run else rng.uniform(1.0, 20.0)
                runs.start(key, kill if killed else None, mid_run)
                time.sleep(rng.uniform(0.0, 0.5))
            runs.wait()
        runs.start(KEYS[1], None, False)  # the next run marks the killed attempts abandoned
        runs.wait()
        time.sleep(1.0)
        stop.touch()
        analyst.wait(timeout=120)
        runs.close()
        reads = json.loads(report.read_text())
        published, incomplete = _published_complete(db)
        stuck = wh.query(db, "SELECT count(*) AS n FROM forecast_runs WHERE status = 'running'")
        abandoned = wh.query(
            db, "SELECT count(*) AS n FROM forecast_runs WHERE status = 'abandoned'"
        )["n"][0]
        orphans = sorted(pid for pid in runs.children if alive(pid))
    figures = {
        "runs": sum(runs.fates.values()),
        **runs.fates,
        "killed_mid_run": runs.kills["mid_run"],
        "killed_before_its_run_opened": runs.kills["before_open"],
        "abandoned_recorded": int(abandoned),
        "still_running": int(stuck["n"][0]),
        "reads": reads["reads"],
        "failed_reads": reads["failed"],
        "empty_reads": reads["empty"],
        "partial_reads": reads["partial"],
        "published_runs_in_warehouse": published,
        "incomplete_published_brands": incomplete,
        "children_seen": len(runs.children),
        "orphaned_processes": len(orphans),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(figures, indent=1))
    for line in runs.other + reads["errors"]:
        print("  ", line)
    ok = (
        reads["failed"] == reads["empty"] == reads["partial"] == 0
        and incomplete == 0
        and not orphans
        and runs.fates["other"] == 0
        and figures["still_running"] == 0
    )
    print("all checks hold" if ok else "CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
