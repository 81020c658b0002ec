"""Environment settings (prefix ``FORECAST_``), built once at the edge and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the warehouse, the brand configs and the markets file live.

    Attributes:
        warehouse: The analysts' DuckDB file (``FORECAST_WAREHOUSE``).
        config_dir: Folder of brand TOML files (``FORECAST_CONFIG_DIR``).
        markets_file: Groups of countries and where each holiday moves demand
            (``FORECAST_MARKETS_FILE``; None: the shipped ``config/markets.toml``).
        cluster: Address of a Dask scheduler runs fit their brands on
            (``FORECAST_CLUSTER``, e.g. ``tcp://10.0.0.5:8786``; None: this machine).
    """

    model_config = SettingsConfigDict(env_prefix="FORECAST_", frozen=True, extra="ignore")

    warehouse: Path = Path("warehouse/forecast.duckdb")
    config_dir: Path = Path("config/brands")
    markets_file: Path | None = None
    cluster: str | None = None
