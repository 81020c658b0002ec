"""Benchmarks, one command: ``make bench`` (or ``python bench/run.py [--quick]``).

Prints every table and writes them to bench/out/results.md; bench/RESULTS.md keeps the
figures of a reference run with the machine described.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import pooling  # noqa: E402
import tourism  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
END = date(2026, 11, 16)


def _md(frame: pl.DataFrame, digits: int = 3) -> str:
    cols = frame.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.iter_rows():
        lines.append(
            "| "
            + " | ".join(f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 origins instead of 4")
    parser.add_argument("--skip-tourism", action="store_true")
    args = parser.parse_args()
    pl.Config.set_tbl_rows(50)
    pl.Config.set_tbl_cols(20)
    started = time.perf_counter()
    out = [
        f"# Benchmark run {date.today()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "",
    ]

    result = pooling.run(ROOT / "config" / "brands", END, n_origins=2 if args.quick else 4)
    scores, timings = result["scores"], result["timings"]
    for title, by in (
        ("overall", ["all"]),
        ("by sector", ["sector"]),
        ("by history at the origin", ["bucket"]),
    ):
        frame = scores.with_columns(all=pl.lit("all")) if by == ["all"] else scores
        table = pooling.summarise(frame, by)
        print(f"\nSynthetic group — {title}\n{table}")
        out += [f"## Synthetic group — {title}", "", _md(table), ""]
    t = timings.select(pl.exclude("origin").sum())
    ratio = t.with_columns(
        (pl.col(c) / pl.col("bare_autoets")).alias(f"{c}_vs_bare")
        for c in ("partial", "none", "full", "mstl")
    )
    print(f"\nTimings (s, summed over origins) and ratio to bare statsforecast AutoETS:\n{ratio}")
    out += ["## Timings (seconds, summed over origins)", "", _md(ratio, 2), ""]
    print(f"\nInterval coverage, partial pooling:\n{result['coverage']}")
    out += ["## Interval coverage (partial pooling)", "", _md(result["coverage"]), ""]

    if not args.skip_tourism and (DATA / "aus_tourism" / "tourism.csv").exists():
        tour = tourism.run(DATA / "aus_tourism" / "tourism.csv")["scores"]
        published = pl.read_csv(
            DATA / "aus_tourism" / "published_reconciliation_accuracy.csv"
        ).filter(
            pl.col("metric") == "MASE", pl.col("level") == "Bottom", pl.col("method") == "Base"
        )
        print(f"\nAustralian tourism, bottom level MASE (h=8):\n{tour}\npublished:\n{published}")
        out += [
            "## Australian tourism — bottom level (304 series), MASE, h = 8",
            "",
            _md(tour),
            "",
            _md(published.select("source", "value")),
            "",
        ]
    out.append(f"Total wall time: {time.perf_counter() - started:.0f} s")
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "results.md").write_text("\n".join(out) + "\n")
    print(f"\nwrote bench/out/results.md ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
