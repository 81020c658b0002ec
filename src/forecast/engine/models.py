"""Model registry: a statsforecast builder for every model name of the vocabulary, and a fallback.

The names a brand config may list are declared once in :mod:`forecast.vocabulary`; this
registry builds exactly those (a test checks it), so a name cannot exist in one place and
not the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from statsforecast.models import (
    ADIDA,
    IMAPA,
    MSTL,
    TSB,
    AutoETS,
    CrostonSBA,
    Naive,
    SeasonalNaive,
    Theta,
)

from forecast.vocabulary import BASELINE

Family = Literal["smooth", "seasonal", "intermittent", "combination"]
Scale = Literal["log1p", "raw"]


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model.

    Attributes:
        family: ``smooth`` models fit the series with the pooled season taken out (on the
            log1p scale, or in units divided by the season: see ``scale``) and give their
            own intervals; ``seasonal`` ones fit the series with their *own* seasonality (no
            priors) and only run on series with two full seasons; ``intermittent`` ones
            fit de-seasonalised units and get negative-binomial intervals around their rate;
            a ``combination`` is fitted by nobody: it is the median of the other smooth and
            seasonal candidates of the series (see :mod:`forecast.engine.combination`).
        build: Returns a fresh statsforecast model for (registry name, season length).
        scale: What the model fits: ``log1p`` units or ``raw`` units. For a ``seasonal``
            model on raw units multiplicative or additive forms are its own choice; a
            ``smooth`` one on raw units fits ``y · exp(−offset)``.
        max_season: The model only runs where the season length is at most this (seasonal
            ETS with 52 weekly states costs 20x its non-seasonal fit and is rarely chosen).
        members: For a combination, the families it combines (``baseline``: seasonal naive).
        combined: Whether combinations take the model among their members.
    """

    family: Family
    build: Callable[[str, int], Any]
    scale: Scale = "log1p"
    max_season: int | None = None
    members: tuple[Family | Literal["baseline"], ...] = ()
    combined: bool = True


MODELS: dict[str, ModelSpec] = {
    # Damped: on short weekly series an undamped trend extrapolates wildly.
    "ets": ModelSpec("smooth", lambda name, m: AutoETS(model="AZN", damped=True, alias=name)),
    "theta": ModelSpec("smooth", lambda name, m: Theta(alias=name)),
    # The same de-seasonalised series in units (the season divided out): a linear trend and
    # additive noise where the log scale makes both multiplicative. Not in the median: a
    # second Theta there pulled it toward Theta (measured: bench/RESULTS.md §4.16).
    "theta_raw": ModelSpec(
        "smooth", lambda name, m: Theta(alias=name), scale="raw", combined=False
    ),
    "naive": ModelSpec("smooth", lambda name, m: Naive(alias=name)),
    "ses": ModelSpec("smooth", lambda name, m: AutoETS(model="ANN", alias=name)),
    # A series' own seasonality, for long histories: seasonal ETS with 52 states is slow
    # and rarely chosen, MSTL's decomposition is cheap (~14 ms a series).
    "mstl": ModelSpec(
        "seasonal",
        lambda name, m: MSTL(
            season_length=m, trend_forecaster=AutoETS(model="ZZN", damped=True), alias=name
        ),
    ),
    # Classical multiplicative decomposition + Theta on raw units (the M3/M4 benchmark); the
    # decomposition is dropped where a seasonality test finds none.
    "theta_seasonal": ModelSpec(
        "seasonal", lambda name, m: Theta(season_length=m, alias=name), scale="raw"
    ),
    "ets_seasonal": ModelSpec(
        "seasonal",
        lambda name, m: AutoETS(season_length=m, model="ZZZ", alias=name),
        scale="raw",
        max_season=12,
    ),
    "median": ModelSpec("combination", lambda name, m: None, members=("smooth", "seasonal")),
    # The series' own seasonality only: where a pooled profile has gone stale on long
    # histories (tourism), the priors-based fits drag the plain median down.
    "median_seasonal": ModelSpec(
        "combination", lambda name, m: None, members=("seasonal", "baseline")
    ),
    "croston_sba": ModelSpec("intermittent", lambda name, m: CrostonSBA(alias=name)),
    "tsb": ModelSpec("intermittent", lambda name, m: TSB(alpha_d=0.1, alpha_p=0.1, alias=name)),
    "imapa": ModelSpec("intermittent", lambda name, m: IMAPA(alias=name)),
    "adida": ModelSpec("intermittent", lambda name, m: ADIDA(alias=name)),
}


def family_of(name: str) -> Family:
    """The family of a registered model (KeyError naming the known ones otherwise)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return MODELS[name].family


def runs_at(name: str, season_length: int) -> bool:
    """Whether a registered model runs at this season length (see ``ModelSpec.max_season``)."""
    cap = MODELS[name].max_season
    return cap is None or season_length <= cap


def members_of(name: str) -> list[str]:
    """The registered models (and the baseline) a combination takes the median of."""
    families = MODELS[name].members
    names = [n for n, spec in MODELS.items() if spec.family in families and spec.combined]
    return names + ([BASELINE] if "baseline" in families else [])


def rests_on_baseline(name: str) -> bool:
    """Whether a model's forecast is, or takes the median with, seasonal naive: from less
    than one season of history that baseline is plain naive (see ``fitting``), so a
    backtest there measures another forecast than the one the model will make."""
    return name == BASELINE or (name in MODELS and "baseline" in MODELS[name].members)


def scale_of(name: str) -> Scale:
    """The scale a registered model fits."""
    return MODELS[name].scale


def build_models(
    names: tuple[str, ...] | list[str], family: Family, season_length: int = 1
) -> list[Any]:
    """statsforecast model instances for registry names, all of the given family.

    Raises:
        KeyError: A name is unknown or belongs to another family (its input would be wrong).
    """
    require_family(names, (family,))
    return [MODELS[n].build(n, season_length) for n in names]


def require_family(names: tuple[str, ...] | list[str], families: tuple[Family, ...]) -> None:
    """Raise KeyError naming every model that is unknown or of none of ``families``."""
    wrong = [n for n in names if n not in MODELS or MODELS[n].family not in families]
    if wrong:
        label = "/".join(families)
        known = sorted(n for n, spec in MODELS.items() if spec.family in families)
        raise KeyError(f"not {label} model(s): {wrong}; {label} models: {known}")


def fallback_model() -> Any:
    """Used by statsforecast for any series where a model fails to fit."""
    return Naive()


def seasonal_naive(season_length: int) -> Any:
    """The baseline every series gets (for series of at least one season)."""
    return SeasonalNaive(season_length, alias=BASELINE)
