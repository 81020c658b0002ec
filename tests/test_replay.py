"""A run replays exactly: same input, separate processes, other thread counts, same bits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
BRANDS = ("watches_a", "fashion_a")


def run_group(out: str) -> None:
    """Estimate, pool and run two brands of the test group; write what a run stores."""
    from forecast.engine.pipeline import run_brand
    from tests.conftest import END, group_run, pooled

    folder = Path(out)
    brands, sales, cal, own = group_run(folder / "brands")
    priors = pooled(brands, own)
    for b in BRANDS:
        own[b][END].season.write_parquet(folder / f"{b}_season.parquet")
        own[b][END].events.write_parquet(folder / f"{b}_events.parquet")
        result = run_brand(brands[b], sales.filter(pl.col("brand") == b), END, priors, cal)
        for name in ("forecasts", "metrics", "series_weights", "level_base"):
            getattr(result, name).write_parquet(folder / f"{b}_{name}.parquet")
        (folder / f"{b}_selected.txt").write_text(result.selected_model)
    priors[END].pools.write_parquet(folder / "pools.parquet")


def _replay(folder: Path, threads: int, hash_seed: int) -> None:
    folder.mkdir()
    env = os.environ | {"POLARS_MAX_THREADS": str(threads), "PYTHONHASHSEED": str(hash_seed)}
    code = f"from tests.test_replay import run_group; run_group({str(folder)!r})"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=300)


def test_two_processes_with_other_thread_counts_give_the_same_bits(tmp_path: Path) -> None:
    _replay(tmp_path / "one", threads=1, hash_seed=1)
    _replay(tmp_path / "two", threads=2, hash_seed=2)
    files = sorted(p.name for p in (tmp_path / "one").iterdir() if p.is_file())
    assert len(files) == 1 + 7 * len(BRANDS)
    for name in files:
        first, second = tmp_path / "one" / name, tmp_path / "two" / name
        if name.endswith(".txt"):
            assert first.read_text() == second.read_text(), name
            continue
        a, b = pl.read_parquet(first), pl.read_parquet(second)
        assert a.height > 0, name
        # equals() is exact: same rows in the same order, every float to the last bit
        assert a.equals(b), f"{name} differs between the two runs"
