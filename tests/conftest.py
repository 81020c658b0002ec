"""Shared fixtures: isolated environment, tiny brand configs, one seeded panel factory."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

# Prefect reads its settings at import: point it at a throwaway home before any test imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="prefect-test-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own FORECAST_* settings never decide a test result."""
    for key in list(os.environ):
        if key.startswith("FORECAST_"):
            monkeypatch.delenv(key)


BRAND_TEMPLATE: dict[str, dict[str, Any]] = {
    "wines_spirits": {
        "markets": ["europe", "china"],
        "categories": [("cognac", 3)],
        "synthetic": {"volume": 80, "noise": 0.2},
    },
    "fashion_leather": {
        "markets": ["europe", "americas"],
        "categories": [("handbags", 3)],
        "synthetic": {"volume": 20, "noise": 0.3},
    },
    "perfumes_cosmetics": {
        "markets": ["europe", "china"],
        "categories": [("parfum", 3)],
        "synthetic": {"volume": 120, "noise": 0.2, "promo_share": 0.1},
    },
    "watches_jewelry": {
        "markets": ["europe"],
        "categories": [("rings", 4)],
        "synthetic": {"volume": 0.8, "noise": 0.5},
    },
    "selective_retailing": {
        "markets": ["europe", "americas"],
        "categories": [("beauty", 3)],
        "synthetic": {"volume": 300, "noise": 0.15},
    },
}


def replace_sales(path: Path, sales: pl.DataFrame, truth: pl.DataFrame | None, source: str) -> int:
    """Replace all sales (and truth) of the brands in ``sales``, as generation does."""
    from forecast import warehouse as wh

    batch = f"test-{os.getpid()}-{time.time_ns()}"
    wh.stage_sales(path, batch, "all", sales, truth)
    return wh.publish_sales(path, batch, source, replace_real=True)


def ensure_schema(path: Path) -> None:
    """Create the warehouse (or bring its schema and views up to date), writing nothing else."""
    from forecast import warehouse as wh

    with wh.publish(path):
        pass


def brand_toml(brand: str, sector: str, launch: str = "2015-01-05", **extra: Any) -> str:
    """A small valid brand file for ``sector``; ``extra`` adds or overrides top-level keys."""
    spec = BRAND_TEMPLATE[sector]
    lines = [
        f'name = "{brand.title()}"',
        f'sector = "{sector}"',
        f"markets = {spec['markets']!r}".replace("'", '"'),
        f"launch_date = {launch}",
    ]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items() if not isinstance(v, dict)]
    for cat, n in spec["categories"]:
        lines += ["[[categories]]", f'name = "{cat}"', f"skus = {n}"]
    for table, values in [("synthetic", spec["synthetic"])] + [
        (k, v) for k, v in extra.items() if isinstance(v, dict)
    ]:
        lines.append(f"[{table}]")
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in values.items()]
    return "\n".join(lines) + "\n"


def write_brands(folder: Path) -> Path:
    """Six brands: one per sector plus a young perfume brand launched 10 weeks before END."""
    folder.mkdir(parents=True, exist_ok=True)
    for sector in BRAND_TEMPLATE:
        brand = f"{sector.split('_')[0]}_a"
        (folder / f"{brand}.toml").write_text(brand_toml(brand, sector))
    (folder / "young_b.toml").write_text(
        brand_toml("young_b", "perfumes_cosmetics", launch="2024-10-21")
    )
    return folder


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return write_brands(tmp_path / "brands")


END = date(2024, 12, 30)
START = date(2022, 1, 3)


def panel(
    n_series: int = 4,
    weeks: int = 120,
    seed: int = 0,
    season: float = 0.5,
    level: float = 50.0,
    start: date = START,
) -> pl.DataFrame:
    """Seeded weekly panel ``unique_id, brand, market, product, ds, y`` with a yearly cycle."""
    rng = np.random.default_rng(seed)
    ds = pl.Series("ds", [start + timedelta(weeks=i) for i in range(weeks)], dtype=pl.Date)
    t = np.arange(weeks)
    frames = []
    for i in range(n_series):
        mu = level * np.exp(season * np.sin(2 * np.pi * t / 52))
        frames.append(
            pl.DataFrame(
                {
                    "unique_id": f"b/europe/p{i}",
                    "brand": "b",
                    "market": "europe",
                    "product": f"p{i}",
                    "ds": ds,
                    "y": rng.poisson(mu).astype(float),
                }
            )
        )
    return pl.concat(frames)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (flows run for real against it)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def holidays_of(markets: list[str], first_year: int, last_year: int) -> pl.DataFrame:
    """Weekly moving holidays of ``markets`` from the shipped markets file."""
    from forecast.inputs.holidays import event_calendar
    from forecast.inputs.markets import shipped_markets

    return event_calendar(shipped_markets(), markets, first_year, last_year)


def group_run(folder: Path) -> tuple[dict[str, Any], pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """The six brands of :func:`write_brands` as a run sees them at ``END``, two origins:
    ``(brands, sales, calendar, own)`` (``own``: brand → origin → own estimates)."""
    from forecast.engine.backtest import origins
    from forecast.engine.events import calendar_of
    from forecast.engine.pipeline import estimate_brand
    from forecast.inputs.config import load_brands
    from forecast.inputs.synthetic import generate_sales

    brands = load_brands(write_brands(folder))
    sales = generate_sales(brands, START, END).sales
    cal = calendar_of(sales, holidays_of(["europe", "china", "americas"], 2021, 2026))
    cutoffs = origins(END, 13, 2)
    own = {
        b: estimate_brand(c, sales.filter(pl.col("brand") == b), cutoffs, cal)
        for b, c in brands.items()
    }
    return brands, sales, cal, own


def pooled(brands: dict[str, Any], own: dict[str, Any]) -> dict[date, Any]:
    """Priors per origin pooled from the brands' own estimates (see :func:`group_run`)."""
    from forecast.engine.pooling import pool_priors
    from forecast.vocabulary import SECTORS

    pools = {b: c.pool for b, c in brands.items()}
    cutoffs = next(iter(own.values()))
    return {c: pool_priors([own[b][c] for b in brands], pools, list(SECTORS)) for c in cutoffs}
