"""CPU seconds per engine step on the synthetic group, one command: ``python bench/steps.py``.

The group's 20 brands (2,544 series) go through the product's real path at one origin
(:func:`group.product`: own estimates and pooled priors at every origin, then
:func:`run_brand` per brand: two backtest origins and the as-of fit). The engine's step
functions are wrapped with CPU-time counters (no profiler: cProfile's overhead inflates
Python-heavy code such as scipy's distribution set-up several-fold), so the figures are
where the run's CPU goes. Prints one line per step, largest first.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import group  # noqa: E402

from forecast.engine import backtest, fitting, forecasting, pipeline  # noqa: E402

END = date(2026, 11, 16)
SPENT: dict[str, float] = defaultdict(float)
# (module the step is looked up in, function, label): wrapping where it is called from.
STEPS: list[tuple[ModuleType, str, str]] = [
    (fitting, "_fit_deseasonalised", "fit de-seasonalised series (ets, theta, ses, theta_raw)"),
    (fitting, "_fit_raw_scale", "fit own seasonality, raw units (theta_seasonal)"),
    (forecasting, "forecast_intermittent", "fit intermittent (croston_sba, tsb)"),
    (forecasting, "forecast_baseline", "fit seasonal naive"),
    (forecasting, "_with_offsets", "series profiles, shrinkage and offsets"),
    (forecasting, "impute_unknown", "imputation of unknown weeks"),
    (forecasting, "add_combinations", "combinations"),
    (forecasting, "prepare_series", "prepare series"),
    (backtest, "score_folds", "backtest scoring"),
    (pipeline, "calibrate", "calibration"),
    (pipeline, "apply_calibration", "calibration"),
]


def timed(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
    """``fn`` adding its CPU seconds to ``SPENT[label]``."""

    @wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[label] += time.process_time() - started

    return inner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--origin", type=date.fromisoformat, default=END)
    args = parser.parse_args()
    for module, name, label in STEPS:
        setattr(module, name, timed(getattr(module, name), label))
    data = group.load(ROOT / "config" / "brands", END)
    brand = next(iter(data.brands.values()))
    started = time.process_time()
    for cutoff in backtest.brand_origins(args.origin, brand):
        group._priors(data, cutoff, "partial")  # cached: product() reuses them
    estimates = time.process_time() - started
    _, fits = group.product(data, args.origin, "partial")
    n_series = sum(s.select("market", "product").n_unique() for s in data.sales.values())
    print(f"{n_series:,} series, origin {args.origin}: {estimates + fits:.1f} CPU s")
    print(f"{estimates:7.1f}  own estimates and pooled priors (every origin)")
    print(f"{fits:7.1f}  run_brand, every brand, of which:")
    for label, seconds in sorted(SPENT.items(), key=lambda kv: -kv[1]):
        print(f"{seconds:7.1f}    {label}")


if __name__ == "__main__":
    main()
