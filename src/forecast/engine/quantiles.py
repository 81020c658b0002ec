"""statsforecast's normal interval quantiles computed once per set of levels, not once per fit.

statsforecast 2 turns every fitted model's ``level`` into quantiles through a freshly built
scipy frozen distribution (``statsforecast.utils._quantiles``); building one costs about half
a millisecond, a quarter of a damped ETS fit, and a brand builds thousands. The quantiles
of the normal distribution depend on the levels alone, so :func:`install` puts a cached twin
in its place: the same values, bit for bit, from the same function, computed once per levels.
Any other distribution, or parameters given, goes to statsforecast's own function.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from statsforecast import utils as sf_utils

# A private function: a statsforecast without it keeps its own way (install does nothing).
_ORIGINAL: Callable[..., Any] | None = getattr(sf_utils, "_quantiles", None)


@lru_cache(maxsize=32)
def _normal(levels: tuple[float, ...]) -> np.ndarray:
    assert _ORIGINAL is not None  # installed only where statsforecast has it
    return np.asarray(_ORIGINAL(np.asarray(levels)))


def cached_quantiles(level: Any, *args: Any, **kwargs: Any) -> np.ndarray:
    """``statsforecast.utils._quantiles``, cached for the normal distribution without
    parameters; every other call is passed through unchanged."""
    assert _ORIGINAL is not None  # installed only where statsforecast has it
    normal = not args and all(v in (None, "normal") for v in kwargs.values())
    levels = np.asarray(level, dtype=float)
    if not normal or levels.ndim != 1:
        return np.asarray(_ORIGINAL(level, *args, **kwargs))
    return _normal(tuple(levels.tolist())).copy()


def install() -> None:
    """Put :func:`cached_quantiles` in statsforecast's place (idempotent; thread-safe: the
    swap is one attribute assignment and both functions give the same values)."""
    if _ORIGINAL is not None:
        sf_utils._quantiles = cached_quantiles


def uninstall() -> None:
    """Give statsforecast its own function back (a bare statsforecast reference run)."""
    if _ORIGINAL is not None:
        sf_utils._quantiles = _ORIGINAL
