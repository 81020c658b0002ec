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
from forecast.inputs.config import BrandConfig, ConfigError, load_brands
from forecast.inputs.holidays import event_problems
from forecast.inputs.markets import MarketError, Markets, default_markets_file, load_markets
from forecast.inputs.synthetic import not_generated
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


def read_markets(path: Path | None) -> Markets:
    """The markets file (the shipped one when ``path`` is None), checked with its events.

    Raises:
        ConfigError: Every problem of the file, one line each, before any brand is read.
    """
    path = path or default_markets_file()
    try:
        markets = load_markets(path)
    except MarketError as exc:
        raise ConfigError(exc.problems) from exc
    except OSError as exc:
        raise ConfigError(
            [f"{path}: cannot read the markets file ({exc.strerror or exc})"]
        ) from exc
    if problems := event_problems(markets):
        raise ConfigError(problems)
    return markets


@dataclass(frozen=True)
class Workspace:
    """Where a command works: the warehouse file and every validated brand config.

    Attributes:
        warehouse: The analysts' DuckDB file.
        config_dir: The folder of brand files.
        brands: Brand id → validated config, for every file in ``config_dir``.
        markets: The markets file the brands' markets were checked against.
        cluster: The Dask scheduler runs use unless told otherwise (None: this machine).
    """

    warehouse: Path
    config_dir: Path
    brands: Mapping[str, BrandConfig]
    markets: Markets
    cluster: str | None = None

    @classmethod
    def load(
        cls, warehouse_path: str | Path | None = None, config_dir: str | Path | None = None
    ) -> Workspace:
        """Settings from the environment (``FORECAST_*``) unless given; every config validated.

        Raises:
            forecast.inputs.config.ConfigError: Listing every problem of the markets file or
                of every brand file.
        """
        settings = settings_for(warehouse_path, config_dir)
        markets = read_markets(settings.markets_file)
        brands = load_brands(settings.config_dir, markets)
        return cls(settings.warehouse, settings.config_dir, brands, markets, settings.cluster)

    def flow_paths(self) -> dict[str, str]:
        """The ``warehouse_path`` and ``config_dir`` parameters every flow takes."""
        return {"warehouse_path": str(self.warehouse), "config_dir": str(self.config_dir)}

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


def synthetic_brands(workspace: Workspace, brands: Sequence[str] | None) -> dict[str, BrandConfig]:
    """The brands ``forecast generate`` simulates: the listed ones, or every brand the
    generator can simulate (brands of real sales only — no ``[[categories]]``, monthly —
    are left out).

    Raises:
        RequestError: A listed brand is unknown or cannot be simulated, with the reason.
    """
    chosen = workspace.select(brands)
    cannot = {b: why for b, c in chosen.items() if (why := not_generated(c))}
    if brands and cannot:
        raise RequestError(
            "; ".join(f"cannot generate brand {b!r}: {w}" for b, w in cannot.items())
        )
    out = {b: c for b, c in chosen.items() if b not in cannot}
    if not out:
        raise RequestError("no brand config the generator can simulate (each needs [[categories]])")
    return out


def check_cluster(address: str, timeout_s: float = 10) -> None:
    """Refuse a Dask scheduler address that cannot be used, before anything is written.

    Raises:
        RequestError: Not an address, the cluster extra is not installed, or no scheduler
            answers there within ``timeout_s``.
    """
    if "://" not in address:
        raise RequestError(f"cluster {address!r} is not a scheduler address, e.g. tcp://host:8786")
    try:
        from distributed import Client
    except ImportError as exc:
        raise RequestError(
            f"cluster {address}: running on Dask needs the cluster extra: "
            "pip install 'maison-forecast[cluster]'"
        ) from exc
    try:
        Client(address, timeout=timeout_s, set_as_default=False).close()
    except (OSError, ValueError) as exc:
        raise RequestError(
            f"cluster {address}: no Dask scheduler answers there ({exc}); start one with "
            "`dask scheduler` and its workers with `dask worker`, or run without a cluster"
        ) from exc


@dataclass(frozen=True)
class RunRequest:
    """One forecast run, fully resolved.

    Attributes:
        workspace: Files and every brand config.
        brands: The brands this run forecasts.
        as_of: Forecast origin: the Monday of the week given (default: the last sales week).
        pooling: ``partial`` (the product), ``none`` or ``full`` (the two extremes).
        n_jobs: Worker processes the brands are fitted in (``-1``: every core; 1: in-process).
        cluster: Address of the Dask scheduler whose workers fit the brands (None: this
            machine, in ``n_jobs`` processes).
    """

    workspace: Workspace
    brands: Mapping[str, BrandConfig]
    as_of: date
    pooling: Pooling
    n_jobs: int
    cluster: str | None = None

    @classmethod
    def resolve(
        cls,
        workspace: Workspace,
        as_of: date | None = None,
        brands: Sequence[str] | None = None,
        pooling: Pooling = "partial",
        n_jobs: int = -1,
        cluster: str | None = None,
    ) -> RunRequest:
        """Check the options and fill in the defaults (``cluster``: the workspace's).

        Raises:
            RequestError: Unknown brand, pooling mode, worker count or cluster address.
            forecast.warehouse.WarehouseError: No as-of given and no sales to default to.
        """
        if pooling not in POOLINGS:
            raise RequestError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        if n_jobs < 1 and n_jobs != -1:
            raise RequestError(f"n_jobs must be at least 1 (or -1 for every core), not {n_jobs}")
        chosen = workspace.select(brands)
        monthly = [b for b, c in workspace.brands.items() if c.frequency == "monthly"]
        origin = week_start(as_of or warehouse.as_of_default(workspace.warehouse, monthly))
        address = cluster or workspace.cluster
        if address is not None:
            check_cluster(address)
        return cls(workspace, chosen, origin, pooling, n_jobs, address)

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
            "cluster": self.cluster,
            **self.workspace.flow_paths(),
        }
