"""Brand configuration: one TOML file per brand, validated once at the edge."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from forecast.inputs.markets import MarketError, Markets, shipped_markets, validate_markets
from forecast.vocabulary import (
    INACTIVE_AFTER_WEEKS,
    BrandFrequency,
    IntermittentModel,
    MissingWeeks,
    Returns,
    Sector,
    SmoothModel,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Category(_Frozen):
    """A product category and how many SKUs it carries."""

    name: str = Field(pattern=r"^[a-z0-9_]+$", description="Category id, snake_case.")
    skus: int = Field(ge=1, le=10_000, strict=True, description="Number of SKUs in the category.")


class PriorSettings(_Frozen):
    """How the brand shares seasonal learnings with others."""

    pool: Sector | Literal["sector", "none"] = Field(
        "sector",
        description="Pool to borrow from: 'sector' (own sector), another sector id, "
        "or 'none' to keep only the brand's own profile.",
    )


class ModelSettings(_Frozen):
    """Which statsforecast models compete for this brand, and how they are judged."""

    # The median of damped ETS, Theta and (with two seasons) the series' own seasonal Theta
    # and, monthly or quarterly, seasonal ETS: robust where two windows choose at random;
    # the median of the own-seasonality fits and seasonal naive where priors go stale;
    # Theta in units where the log scale's multiplicative trend and noise do not fit.
    candidates: tuple[SmoothModel, ...] = Field(
        (
            "ets",
            "theta",
            "theta_raw",
            "theta_seasonal",
            "ets_seasonal",
            "median",
            "median_seasonal",
        ),
        min_length=1,
    )
    intermittent_candidates: tuple[IntermittentModel, ...] = Field(
        ("croston_sba", "tsb"), min_length=1
    )
    backtest_windows: int = Field(
        2,
        ge=1,
        le=8,
        strict=True,
        description="Rolling origins that choose the model and calibrate the intervals: "
        "the latest one horizon apart, one a year before the forecast.",
    )
    refit_backtests: bool = Field(
        False,
        strict=True,
        description="Fit every model at every backtest origin, instead of running the models "
        "fitted at the oldest one forward at the later ones (slower; the same windows).",
    )


class SalesSettings(_Frozen):
    """What the brand's sales rows mean: weeks without a row, negative weeks, discontinuation."""

    missing_weeks: MissingWeeks = Field(
        "auto",
        description="A week without a row: 'zero' (no sale), 'unknown' (not recorded), or "
        "'auto': unknown when no product of the brand x market has a row that week (an "
        "outage), zero when a sibling has one.",
    )
    returns: Returns = Field(
        "unknown",
        description="A negative net week (returns beyond the week's sales): 'unknown' (not "
        "demand, imputed for the fits), 'floor' (demand 0), or 'refuse' (ingest refuses "
        "negative units).",
    )
    inactive_after_weeks: int = Field(
        INACTIVE_AFTER_WEEKS,
        ge=1,
        le=520,
        strict=True,
        description="Observed weeks without a sale after which a series is discontinued "
        "(unknown weeks do not count).",
    )


class SyntheticSettings(_Frozen):
    """Knobs of the demo data generator for this brand (ignored for real sales)."""

    volume: float = Field(
        50.0, gt=0, strict=True, description="Mean weekly units of one SKU in one market."
    )
    trend: float = Field(
        0.0, ge=-1, le=1, strict=True, description="Yearly growth on the log scale."
    )
    noise: float = Field(
        0.25, ge=0, le=3, strict=True, description="Gamma-Poisson noise (coef. of variation)."
    )
    seasonal_deviation: float = Field(
        0.3,
        ge=0,
        le=3,
        strict=True,
        description="How far the brand's seasonality departs from its sector's.",
    )
    young_sku_share: float = Field(
        0.15, ge=0, le=1, strict=True, description="Share of SKUs launched within the last year."
    )
    promo_share: float = Field(
        0.0, ge=0, le=1, strict=True, description="Share of weeks on promotion."
    )
    # Real exports, off by default: what the generator leaves out or adds is kept as truth.
    outages_per_year: float = Field(
        0.0,
        ge=0,
        le=12,
        strict=True,
        description="Outages per market and year: 2-6 weeks without a row for any product "
        "of the market (closure, data not recorded); the demand stays in sales_truth.",
    )
    return_share: float = Field(
        0.0,
        ge=0,
        le=0.5,
        strict=True,
        description="Share of series-weeks where returns of 0.5-3 typical weeks come back "
        "(net units may be negative).",
    )
    spikes_per_year: float = Field(
        0.0,
        ge=0,
        le=12,
        strict=True,
        description="Chain-wide one-week promotions per market and year selling 10-50x a "
        "normal week.",
    )
    pause_share: float = Field(
        0.0,
        ge=0,
        le=1,
        strict=True,
        description="Share of SKUs that pause once for 8-40 weeks (no demand, no rows) and "
        "restart.",
    )


# Periods a brand forecasts unless its file says otherwise: a quarter of weeks, a year of months.
DEFAULT_HORIZON: dict[BrandFrequency, int] = {"weekly": 13, "monthly": 12}


class BrandConfig(_Frozen):
    """One maison: identity, markets, forecasting settings and demo-data knobs.

    Keys that matter for real (ingested) sales: ``sector``, ``markets``, ``frequency``,
    ``launch_date``, ``horizon``, ``[priors]``, ``[model]``. ``[[categories]]`` and
    ``[synthetic]`` drive the demo generator only. ``regions`` (the earlier name of
    ``markets``) is still read: its values are groups of ``config/markets.toml``.
    """

    brand: str = Field(pattern=r"^[a-z0-9_]+$", description="Brand id; equals the file stem.")
    name: str = Field(min_length=1)
    sector: Sector
    markets: tuple[str, ...] = Field(
        min_length=1,
        description="Where it sells: ISO 3166 country codes ('FR'), subdivisions ('US-CA'), "
        "groups or markets of their own of config/markets.toml ('europe', 'travel_retail'). "
        "'regions' is read as this key.",
    )
    channels: tuple[str, ...] = ("retail",)
    categories: tuple[Category, ...] = Field(
        (), description="Demo generator only: categories and SKU counts to simulate."
    )
    launch_date: date
    frequency: BrandFrequency = Field(
        "weekly", description="weekly (ds = Mondays) or monthly (ds = first day of a month)."
    )
    horizon: int = Field(
        13,
        gt=0,
        le=104,
        strict=True,
        description="Periods to forecast, in the brand's frequency (default 13 weeks, 12 months).",
    )
    priors: PriorSettings = PriorSettings()
    model: ModelSettings = ModelSettings()
    sales: SalesSettings = SalesSettings()
    synthetic: SyntheticSettings = SyntheticSettings()

    @model_validator(mode="before")
    @classmethod
    def _earlier_names_and_defaults(cls, data: Any) -> Any:
        """``regions`` is read as ``markets``; the default horizon follows the frequency."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "regions" in data and "markets" in data:
            raise ValueError("give 'markets' or its earlier name 'regions', not both")
        if "regions" in data:
            data["markets"] = data.pop("regions")
        if "horizon" not in data and data.get("frequency") in DEFAULT_HORIZON:
            data["horizon"] = DEFAULT_HORIZON[data["frequency"]]
        return data

    @property
    def pool(self) -> str | None:
        """The pool id this brand shrinks toward, or None when it opts out."""
        if self.priors.pool == "none":
            return None
        return self.sector if self.priors.pool == "sector" else self.priors.pool

    @property
    def config_hash(self) -> str:
        """Stable short hash of the validated settings, recorded with every run."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


class ConfigError(ValueError):
    """Raised when brand configs are invalid; lists every problem with file and key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in brand configs:\n{lines}")


BRAND_ID = re.compile(r"^[a-z0-9_]+$")
BRAND_ID_RULE = "brand ids (file names) use lowercase letters, digits and _"


def load_brands(config_dir: Path, markets: Markets | None = None) -> dict[str, BrandConfig]:
    """Load and validate every ``*.toml`` brand file in ``config_dir``.

    Args:
        config_dir: Folder with one ``<brand>.toml`` per brand (UTF-8, a BOM is allowed).
        markets: The markets file every brand's ``markets`` must be known to (default: the
            shipped ``config/markets.toml``).

    Returns:
        Brand id → validated config, sorted by brand id.

    Raises:
        ConfigError: With every problem found (file, key, message), before anything is used.
    """
    if not config_dir.is_dir():
        raise ConfigError([f"{config_dir}: no such folder of brand files"])
    entries = sorted(config_dir.glob("*.toml"))
    problems = [f"{p.name}: is a folder, not a brand file" for p in entries if not p.is_file()]
    files = [p for p in entries if p.is_file()]
    if not files and not problems:
        raise ConfigError([f"{config_dir}: no brand files (*.toml) found"])
    stems = {path.stem: path.name for path in files}
    markets = markets or shipped_markets()
    brands: dict[str, BrandConfig] = {}
    for path in files:
        brand, file_problems = _load_one(path, stems, markets)
        problems.extend(file_problems)
        if brand is not None:
            brands[brand.brand] = brand
    if problems:
        raise ConfigError(problems)
    return dict(sorted(brands.items()))


def _load_one(
    path: Path, stems: dict[str, str], markets: Markets
) -> tuple[BrandConfig | None, list[str]]:
    """Parse one brand file; return the config or the list of its problems."""
    if not BRAND_ID.match(path.stem):
        return None, [f"{path.name}: {BRAND_ID_RULE}; rename it, e.g. {_brand_id(path.stem)}.toml"]
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, [f"{path.name}: not valid TOML ({exc})"]
    except OSError as exc:
        return None, [f"{path.name}: cannot read ({exc.strerror or exc})"]
    problems = []
    declared = raw.get("brand", path.stem)
    if declared != path.stem and declared in stems:
        problems.append(
            f"{path.name}: key 'brand': duplicate brand id {declared!r}, already defined by "
            f"{stems[declared]}"
        )
    elif declared != path.stem:
        problems.append(
            f"{path.name}: key 'brand' is {raw['brand']!r} but must equal the file name "
            f"{path.stem!r} (brand ids are unique because file names are)"
        )
    raw.setdefault("brand", path.stem)
    try:
        brand = BrandConfig.model_validate(raw)
    except ValidationError as exc:
        problems += [_problem(path, err) for err in exc.errors()]
        return None, problems
    key = "regions" if "regions" in raw else "markets"
    try:
        validate_markets(markets, brand.markets, f"{path.name}: key '{key}'")
    except MarketError as exc:
        problems += exc.problems
    return (None if problems else brand), problems


def _problem(path: Path, err: Any) -> str:
    """One validation error as ``file: key 'a.b': message``, in the user's words."""
    key = ".".join(str(p) for p in err["loc"]) or "<file>"
    message = err["msg"]
    if err["type"] == "string_pattern_mismatch":
        message = "use lowercase letters, digits and _"
    return f"{path.name}: key '{key}': {message}"


def _brand_id(stem: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_") or "brand"


def brand_json_schema() -> dict[str, object]:
    """JSON Schema of a brand file, for editor validation (see config/brand.schema.json)."""
    schema = BrandConfig.model_json_schema()
    schema["title"] = "maison-forecast brand config"
    # Files of earlier versions say `regions`: an editor accepts either name, not both.
    properties: dict[str, Any] = schema["properties"]
    properties["regions"] = {
        **properties["markets"],
        "title": "Regions",
        "description": "Earlier name of 'markets', still read.",
        "deprecated": True,
    }
    schema["required"] = [k for k in schema["required"] if k != "markets"]
    schema["oneOf"] = [{"required": ["markets"]}, {"required": ["regions"]}]
    return schema
