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

Family = Literal["smooth", "seasonal", "intermittent"]


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model.

    Attributes:
        family: ``smooth`` models fit de-seasonalised log1p series and give their own
            intervals; ``seasonal`` ones fit the log1p series with their *own* seasonality
            (no priors) and only run on series with two full seasons; ``intermittent`` ones
            fit de-seasonalised units and get negative-binomial intervals around their rate.
        build: Returns a fresh statsforecast model for (registry name, season length).
    """

    family: Family
    build: Callable[[str, int], Any]


MODELS: dict[str, ModelSpec] = {
    # Damped: on short weekly series an undamped trend extrapolates wildly.
    "ets": ModelSpec("smooth", lambda name, m: AutoETS(model="ZZN", damped=True, alias=name)),
    "theta": ModelSpec("smooth", lambda name, m: Theta(alias=name)),
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


def build_models(
    names: tuple[str, ...] | list[str], family: Family, season_length: int = 1
) -> list[Any]:
    """statsforecast model instances for registry names, all of the given family.

    Raises:
        KeyError: A name is unknown or belongs to the other family (its input would be wrong).
    """
    wrong = [n for n in names if n not in MODELS or MODELS[n].family != family]
    if wrong:
        known = sorted(n for n, spec in MODELS.items() if spec.family == family)
        raise KeyError(f"not {family} model(s): {wrong}; {family} models: {known}")
    return [MODELS[n].build(n, season_length) for n in names]


def fallback_model() -> Any:
    """Used by statsforecast for any series where a model fails to fit."""
    return Naive()


def seasonal_naive(season_length: int) -> Any:
    """The baseline every series gets (for series of at least one season)."""
    return SeasonalNaive(season_length, alias=BASELINE)
