"""Environment settings (prefix ``FORECAST_``), built once at the edge and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the warehouse and the brand configs live.

    Attributes:
        warehouse: The analysts' DuckDB file (``FORECAST_WAREHOUSE``).
        config_dir: Folder of brand TOML files (``FORECAST_CONFIG_DIR``).
    """

    model_config = SettingsConfigDict(env_prefix="FORECAST_", frozen=True, extra="ignore")

    warehouse: Path = Path("warehouse/forecast.duckdb")
    config_dir: Path = Path("config/brands")
