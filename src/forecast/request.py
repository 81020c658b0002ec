"""What a command works on, resolved once at the edge: files, validated brand configs, options.

The CLI builds a :class:`RunRequest` before it starts Prefect, so bad input fails in one line
and before any write; a flow started by a deployment (no CLI in front of it) builds the same
request from the same parameters through the same functions. Below this module nothing reads
the environment, the config folder or the warehouse to find out what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from forecast import warehouse
from forecast.engine.runs import run_key
from forecast.inputs.calendar import week_start
from forecast.inputs.config import BrandConfig, load_brands
from forecast.settings import Settings
from forecast.vocabulary import POOLINGS, Pooling


class RequestError(ValueError):
    """A request names something that does not exist (a brand) or an impossible option."""


def settings_for(
    warehouse_path: str | Path | None = None, config_dir: str | Path | None = None
) -> Settings:
    """Settings from the environment (``FORECAST_*``), with the given paths taking precedence."""
    given = {"warehouse": warehouse_path, "config_dir": config_dir}
    overrides: dict[str, Any] = {k: Path(v) for k, v in given.items() if v}
    return Settings(**overrides)


@dataclass(frozen=True)
class Workspace:
    """Where a command works: the warehouse file and every validated brand config.

    Attributes:
        warehouse: The analysts' DuckDB file.
        config_dir: The folder of brand files.
        brands: Brand id → validated config, for every file in ``config_dir``.
    """

    warehouse: Path
    config_dir: Path
    brands: Mapping[str, BrandConfig]

    @classmethod
    def load(
        cls, warehouse_path: str | Path | None = None, config_dir: str | Path | None = None
    ) -> Workspace:
        """Settings from the environment (``FORECAST_*``) unless given; every config validated.

        Raises:
            forecast.inputs.config.ConfigError: Listing every problem in every brand file.
        """
        settings = settings_for(warehouse_path, config_dir)
        return cls(settings.warehouse, settings.config_dir, load_brands(settings.config_dir))

    def select(self, brands: Sequence[str] | None) -> dict[str, BrandConfig]:
        """The listed brands (all when none are listed), in config order.

        Raises:
            RequestError: Naming every unknown brand and the known ones.
        """
        if not brands:
            return dict(self.brands)
        unknown = sorted(set(brands) - set(self.brands))
        if unknown:
            raise RequestError(f"unknown brand(s) {unknown}; known brands: {sorted(self.brands)}")
        return {b: self.brands[b] for b in self.brands if b in brands}


@dataclass(frozen=True)
class RunRequest:
    """One forecast run, fully resolved.

    Attributes:
        workspace: Files and every brand config.
        brands: The brands this run forecasts.
        as_of: Forecast origin: the Monday of the week given (default: the last sales week).
        pooling: ``partial`` (the product), ``none`` or ``full`` (the two extremes).
        n_jobs: Worker processes the brands are fitted in (``-1``: every core; 1: in-process).
    """

    workspace: Workspace
    brands: Mapping[str, BrandConfig]
    as_of: date
    pooling: Pooling
    n_jobs: int

    @classmethod
    def resolve(
        cls,
        workspace: Workspace,
        as_of: date | None = None,
        brands: Sequence[str] | None = None,
        pooling: Pooling = "partial",
        n_jobs: int = 1,
    ) -> RunRequest:
        """Check the options and fill in the defaults.

        Raises:
            RequestError: Unknown brand, pooling mode or worker count.
            forecast.warehouse.WarehouseError: No as-of given and no sales to default to.
        """
        if pooling not in POOLINGS:
            raise RequestError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        if n_jobs < 1 and n_jobs != -1:
            raise RequestError(f"n_jobs must be at least 1 (or -1 for every core), not {n_jobs}")
        chosen = workspace.select(brands)
        origin = week_start(as_of or warehouse.as_of_default(workspace.warehouse))
        return cls(workspace, chosen, origin, pooling, n_jobs)

    @property
    def run_id(self) -> str:
        """Same as-of, configs and pooling → same run id (a re-run replaces it)."""
        return run_key(self.as_of, self.brands, self.pooling)[0]

    @property
    def config_hash(self) -> str:
        """Hash of every brand config of the run and the pooling mode."""
        return run_key(self.as_of, self.brands, self.pooling)[1]

    def parameters(self) -> dict[str, Any]:
        """The flow parameters that resolve to this same request (see ``flows.forecast``)."""
        return {
            "as_of": self.as_of,
            "brands": list(self.brands),
            "pooling": self.pooling,
            "n_jobs": self.n_jobs,
            "warehouse_path": str(self.workspace.warehouse),
            "config_dir": str(self.workspace.config_dir),
        }
