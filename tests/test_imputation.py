"""Imputation of unknown weeks: local level across the gap, on the log or the rate scale."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
from numpy.testing import assert_allclose

from forecast.engine.imputation import NEIGHBOURS, impute_unknown


def _frame(y: list[float | None], **extra: object) -> pl.DataFrame:
    weeks = [date(2024, 1, 1) + timedelta(weeks=i) for i in range(len(y))]
    frame = pl.DataFrame({"unique_id": "u", "ds": weeks, "y": y, **extra})
    return frame.with_columns(pl.col("y").cast(pl.Float64))


def test_a_gap_moves_linearly_from_the_level_before_to_the_level_after() -> None:
    out = impute_unknown(_frame([9.0, 9.0, 9.0, 9.0, None, None, None, 99.0, 99.0]))
    assert out["is_imputed"].to_list() == [False] * 4 + [True] * 3 + [False] * 2
    before, after = np.log(10.0), np.log(100.0)  # means of NEIGHBOURS log1p values each side
    expected = np.expm1(before + (after - before) * np.array([1, 2, 3]) / 4)
    assert_allclose(out["y"].to_numpy()[4:7], expected)
    assert out["y"].to_list()[:4] == [9.0] * 4 and out["y"].to_list()[7:] == [99.0, 99.0]


def test_the_profile_offset_is_put_back_and_the_ends_take_the_nearest_level() -> None:
    offset = [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0]
    out = impute_unknown(_frame([None, 3.0, 3.0, 3.0, 3.0, None, None], offset=offset))
    level = np.log(4.0)  # de-seasonalised level of the observed weeks
    assert_allclose(out["y"].to_numpy(), np.expm1(level + np.array(offset)))
    assert NEIGHBOURS == 4


def test_intermittent_series_impute_their_mean_rate() -> None:
    y = [0.0, 0.0, 2.0, 0.0, None, 0.0, 1.0, 0.0, 0.0]
    out = impute_unknown(_frame(y, demand_class="intermittent"))
    assert_allclose(out["y"][4], 0.5 * (0.5 + 0.25))  # halfway between the two local rates


def test_nothing_unknown_changes_nothing_and_nothing_observed_gives_zero() -> None:
    plain = _frame([1.0, 2.0, 3.0])
    out = impute_unknown(plain)
    assert out.drop("is_imputed").equals(plain) and not out["is_imputed"].any()
    empty = impute_unknown(_frame([None, None]))
    assert empty["y"].to_list() == [0.0, 0.0]
