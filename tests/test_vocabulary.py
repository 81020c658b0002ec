"""One home for every word: the registry, the calendar and the generator use exactly these."""

from __future__ import annotations

from forecast.engine.models import MODELS
from forecast.inputs import holidays, synthetic
from forecast.inputs.config import brand_json_schema
from forecast.inputs.markets import shipped_markets
from forecast.vocabulary import (
    BRAND_EVENT_TYPES,
    EVENTS,
    INTERMITTENT_MODELS,
    SECTORS,
    SMOOTH_MODELS,
)


def test_the_registry_builds_exactly_the_model_names_a_config_may_list() -> None:
    assert set(MODELS) == {*SMOOTH_MODELS, *INTERMITTENT_MODELS}
    assert {MODELS[m].family for m in SMOOTH_MODELS} <= {"smooth", "seasonal", "combination"}
    assert {MODELS[m].family for m in INTERMITTENT_MODELS} == {"intermittent"}
    model = brand_json_schema()["$defs"]["ModelSettings"]["properties"]  # type: ignore[index]
    assert set(model["candidates"]["items"]["enum"]) == set(SMOOTH_MODELS)
    assert set(model["intermittent_candidates"]["items"]["enum"]) == set(INTERMITTENT_MODELS)


def test_calendar_and_generator_speak_the_same_vocabulary() -> None:
    assert set(holidays.EVENTS) == set(EVENTS) == set(shipped_markets().adoption)
    assert not set(EVENTS) & set(BRAND_EVENT_TYPES)  # one uplift key space, no collision
    assert set(synthetic._BUMPS) == set(synthetic._PRICE) == set(SECTORS)
    assert set(synthetic._EVENT_UPLIFT) == set(SECTORS)
    assert {e for u in synthetic._EVENT_UPLIFT.values() for e in u} <= set(EVENTS)
    groups = set(shipped_markets().groups) | shipped_markets().own_markets
    assert set(synthetic._MARKET_WEIGHT) <= groups
