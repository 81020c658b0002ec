"""One home for every word: the registry, the calendar and the generator use exactly these."""

from __future__ import annotations

from forecast.engine.models import MODELS
from forecast.inputs import calendar, synthetic
from forecast.inputs.config import brand_json_schema
from forecast.vocabulary import (
    EVENTS,
    INTERMITTENT_MODELS,
    REGIONS,
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
    assert set(calendar.EVENT_RULES) == set(EVENTS)
    assert {r for regions, _ in calendar.EVENT_RULES.values() for r in regions} <= set(REGIONS)
    assert set(synthetic._BUMPS) == set(synthetic._PRICE) == set(SECTORS)
    assert set(synthetic._EVENT_UPLIFT) == set(SECTORS)
    assert {e for u in synthetic._EVENT_UPLIFT.values() for e in u} <= set(EVENTS)
    assert set(synthetic._REGION_WEIGHT) == set(REGIONS)
