"""statsforecast's interval computations without repeated set-up: the same values, bit for bit.

Two private statsforecast functions get a faster twin from :func:`install`:

* ``statsforecast.utils._quantiles`` turns every fitted model's ``level`` into normal
  quantiles through a freshly built scipy frozen distribution; building one costs about
  half a millisecond, a quarter of a damped ETS fit, and a brand builds thousands. The
  quantiles depend on the levels alone, so :func:`cached_quantiles` computes them once per
  set of levels, from the same function.
* ``statsforecast.theta.compute_pi_samples`` simulates Theta's 200 sample paths a step at a
  time, drawing each step's normal errors through a call that validates its arguments again
  and, below ten residuals, builds a scipy frozen distribution: 13 of those per series and
  horizon. :func:`theta_samples` draws every step's errors at once from the same generator
  (the same numbers: a generator's draws fill in order) and runs the same recursion in the
  same precision.

Any other distribution, or parameters given, goes to statsforecast's own functions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats
from statsforecast import theta as sf_theta
from statsforecast import utils as sf_utils

# Private functions: a statsforecast without one, or whose Theta sampling takes other
# arguments than the twin below (versions before 2.1), keeps its own way (install skips it).
_ORIGINAL: Callable[..., Any] | None = getattr(sf_utils, "_quantiles", None)
_THETA_ARGUMENTS = (
    "n", "h", "states", "sigma", "alpha", "theta", "mean_y", "seed", "n_samples",
    "error_distribution", "error_params", "residuals",
)  # fmt: skip


def _theta_original() -> Callable[..., Any] | None:
    found = getattr(sf_theta, "compute_pi_samples", None)
    if found is None or tuple(inspect.signature(found).parameters) != _THETA_ARGUMENTS:
        return None
    return found


_ORIGINAL_THETA = _theta_original()
# statsforecast's rule: from ten residuals on, normal errors are drawn with the model's sigma.
_FITTED_ERRORS = 10


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


def theta_samples(
    n: int,
    h: int,
    states: np.ndarray,
    sigma: float,
    alpha: float,
    theta: float,
    mean_y: float,
    seed: int = 0,
    n_samples: int = 200,
    error_distribution: str = "normal",
    error_params: dict[str, Any] | None = None,
    residuals: np.ndarray | None = None,
) -> np.ndarray:
    """``statsforecast.theta.compute_pi_samples`` for normal errors, every step's errors
    drawn in one call; every other distribution is passed through unchanged."""
    assert _ORIGINAL_THETA is not None  # installed only where statsforecast has it
    if error_distribution != "normal" or error_params is not None:
        return np.asarray(
            _ORIGINAL_THETA(
                n, h, states, sigma, alpha, theta, mean_y, seed, n_samples,
                error_distribution, error_params, residuals,
            )
        )  # fmt: skip
    rng = np.random.default_rng(seed)
    size = (h, n_samples)
    if residuals is not None and np.count_nonzero(~np.isnan(residuals)) >= _FITTED_ERRORS:
        errors = rng.normal(0, sigma, size)
    else:
        errors = stats.norm(scale=sigma).rvs(size=size, random_state=rng)
    samples = np.full(size, fill_value=np.nan, dtype=np.float32)
    smoothed, _, a, b, _ = states[-1]
    for k in range(h):  # statsforecast's recursion, step by step
        i, row = n + k, samples[k]
        row[:] = smoothed + (1 - 1 / theta) * (
            a * ((1 - alpha) ** i) + b * (1 - (1 - alpha) ** (i + 1)) / alpha
        )
        row += errors[k]
        smoothed = alpha * row + (1 - alpha) * smoothed
        mean_y = (i * mean_y + row) / (i + 1)
        b = ((i - 1) * b + 6 * (row - mean_y) / (i + 1)) / (i + 2)
        a = mean_y - b * (i + 2) / 2
    return samples


def install() -> None:
    """Put :func:`cached_quantiles` and :func:`theta_samples` in statsforecast's place
    (idempotent; thread-safe: each swap is one attribute assignment and both functions give
    the same values)."""
    if _ORIGINAL is not None:
        sf_utils._quantiles = cached_quantiles
    if _ORIGINAL_THETA is not None:
        sf_theta.compute_pi_samples = theta_samples


def uninstall() -> None:
    """Give statsforecast its own functions back (a bare statsforecast reference run)."""
    if _ORIGINAL is not None:
        sf_utils._quantiles = _ORIGINAL
    if _ORIGINAL_THETA is not None:
        sf_theta.compute_pi_samples = _ORIGINAL_THETA
