"""Checks the CLI runs before it starts Prefect: each problem is one line naming what to fix."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from forecast.inputs.calendar import week_start
from forecast.inputs.config import BrandConfig


class InputProblem(ValueError):
    """Bad input found before anything ran; ``code`` is the exit code (2: fix the command)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def check_launches(configs: Mapping[str, BrandConfig], first_sales: Mapping[str, date]) -> None:
    """A brand's launch date may not come after the first week it has sales."""
    late = [
        f"{b}: launch_date {c.launch_date} is after its first sales week {first_sales[b]}"
        for b, c in configs.items()
        if b in first_sales and c.launch_date > first_sales[b]
    ]
    if late:
        raise InputProblem("; ".join(late) + " — set launch_date on or before it in the brand file")


def check_something_to_forecast(configs: Mapping[str, BrandConfig], as_of: date) -> date:
    """The as-of week, unless every brand launches after it (nothing would be forecast)."""
    week = week_start(as_of)
    if all(c.launch_date > week for c in configs.values()):
        launches = ", ".join(f"{b} {c.launch_date}" for b, c in configs.items())
        raise InputProblem(
            f"nothing to forecast at as-of {week}: every brand launches after it ({launches})"
        )
    return week
