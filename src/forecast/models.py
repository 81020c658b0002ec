"""Model registry: statsforecast models by name, by demand class, always with a fallback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from statsforecast.models import (
    ADIDA,
    IMAPA,
    TSB,
    AutoETS,
    CrostonSBA,
    Naive,
    SeasonalNaive,
    Theta,
)

Family = Literal["smooth", "intermittent"]


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model.

    Attributes:
        family: ``smooth`` models fit de-seasonalised log1p series and give their own
            intervals; ``intermittent`` ones fit de-seasonalised units and get
            negative-binomial intervals around their rate.
        build: Returns a fresh statsforecast model carrying the registry name as alias.
    """

    family: Family
    build: Callable[[str], Any]


MODELS: dict[str, ModelSpec] = {
    # Damped: on short weekly series an undamped trend extrapolates wildly.
    "ets": ModelSpec("smooth", lambda name: AutoETS(model="ZZN", damped=True, alias=name)),
    "theta": ModelSpec("smooth", lambda name: Theta(alias=name)),
    "naive": ModelSpec("smooth", lambda name: Naive(alias=name)),
    "ses": ModelSpec("smooth", lambda name: AutoETS(model="ANN", alias=name)),
    "croston_sba": ModelSpec("intermittent", lambda name: CrostonSBA(alias=name)),
    "tsb": ModelSpec("intermittent", lambda name: TSB(alpha_d=0.1, alpha_p=0.1, alias=name)),
    "imapa": ModelSpec("intermittent", lambda name: IMAPA(alias=name)),
    "adida": ModelSpec("intermittent", lambda name: ADIDA(alias=name)),
}
BASELINE = "snaive"


def build_models(names: tuple[str, ...] | list[str], family: Family) -> list[Any]:
    """statsforecast model instances for registry names, all of the given family.

    Raises:
        KeyError: A name is unknown or belongs to the other family (its input would be wrong).
    """
    wrong = [n for n in names if n not in MODELS or MODELS[n].family != family]
    if wrong:
        known = sorted(n for n, spec in MODELS.items() if spec.family == family)
        raise KeyError(f"not {family} model(s): {wrong}; {family} models: {known}")
    return [MODELS[n].build(n) for n in names]


def fallback_model() -> Any:
    """Used by statsforecast for any series where a model fails to fit."""
    return Naive()


def seasonal_naive(season_length: int) -> Any:
    """The baseline every series gets (for series of at least one season)."""
    return SeasonalNaive(season_length, alias=BASELINE)
