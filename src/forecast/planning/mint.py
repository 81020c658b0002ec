"""MinT reconciliation with W as diagonal + low rank: no series × series matrix at any size.

hierarchicalforecast's ``MinTrace`` holds W, J and Uᵀ as dense arrays and forms Uᵀ W
(n_a · n² flops for n series, n_a of them aggregates): 9 GB and minutes at 10,000 bottom
series, out of reach at 100,000. Its two estimators used here have structure it does not use:

* ``wls_var``: W = diag(Σ_t e_t² / T + 2e-8) of the in-sample errors e;
* ``mint_shrink`` (Schäfer–Strimmer): W = (1 − λ) Σ + λ diag(Σ), Σ = X Xᵀ / (T − 1) of the
  centred errors X (n × T): W = D + F Fᵀ with D diagonal and F = √((1 − λ)/(T − 1)) X. λ
  needs sums over all pairs of series, which are Frobenius norms of T × T Gram matrices.

With Uᵀ = [I, −S_a] (S_a: the aggregate rows of S) and C = Uᵀ W U (n_a × n_a), the
reconciled forecasts of every series are ``S P ŷ = ŷ − W U C⁻¹ Uᵀ ŷ``, and their normal
variances the diagonal of ``M G Mᵀ`` (M = I − W U C⁻¹ Uᵀ; G = diag(e) W diag(e), e = base
σ / √diag W: hierarchicalforecast's ``normality``), which takes n × T products and entries of
n_a × n_a matrices summed over each series' ancestors. The same numbers as
hierarchicalforecast (tests compare them) in O(n·T + n_a²) memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse

_EPS = 2e-8  # hierarchicalforecast's jitter and ridge
_CHUNK = 20_000_000  # dense cells per block when summing over ancestors


@dataclass(frozen=True)
class Covariance:
    """W = diag(``diagonal``) + ``factor`` ``factor``ᵀ (``factor``: n × r, r ≥ 0)."""

    diagonal: np.ndarray
    factor: np.ndarray

    def times(self, x: np.ndarray) -> np.ndarray:
        """W x."""
        return self.diagonal[:, None] * x + self.factor @ (self.factor.T @ x)

    def variances(self) -> np.ndarray:
        """diag W."""
        return self.diagonal + np.einsum("ij,ij->i", self.factor, self.factor)


def covariance(method: str, errors: np.ndarray) -> Covariance:
    """W of ``method`` (``mint_shrink`` or ``wls_var``) from in-sample errors (n × T).

    Raises:
        ValueError: Non-finite errors, or errors (nearly) all zero, which
            hierarchicalforecast refuses too.
    """
    if not np.isfinite(errors).all():
        raise ValueError("non-finite in-sample errors")
    if np.mean(np.abs(errors.sum(axis=1)) < 1e-4) > 0.98:
        raise ValueError("in-sample errors close to 0 for nearly every series")
    n, T = errors.shape
    if method == "wls_var":
        return Covariance((errors**2).sum(axis=1) / T + _EPS, np.empty((n, 0)))
    if method != "mint_shrink":
        raise ValueError(f"unknown MinT method {method!r}")
    X = errors - errors.mean(axis=1, keepdims=True)
    var = (X**2).sum(axis=1) / (T - 1)
    keep = 1.0 - _shrinkage(X)
    diagonal = np.maximum(var, _EPS) - keep * var
    return Covariance(diagonal, np.sqrt(keep / (T - 1)) * X)


def _shrinkage(X: np.ndarray) -> float:
    """Schäfer–Strimmer λ of centred errors X (n × T), as hierarchicalforecast computes it:
    the off-diagonal sums of Var(r_ij) and r_ij², via Frobenius norms of T × T matrices."""
    T = X.shape[1]
    Z = X / (np.sqrt((X**2).mean(axis=1)) + _EPS)[:, None]
    Z2 = Z**2
    gram = Z.T @ Z  # Σ_ij (z_i · z_j)² = ‖Zᵀ Z‖²
    cross = float((gram**2).sum()) - float((Z2.sum(axis=1) ** 2).sum())
    fourth = float((Z2.sum(axis=0) ** 2).sum()) - float((Z2**2).sum())
    sum_var = 0.5 * (fourth - cross / T)
    sum_sq = 0.5 * cross / T**2
    return float(np.clip(sum_var / (T * (T - 1)) / (sum_sq + _EPS), 0.0, 1.0))


@dataclass(frozen=True)
class MinT:
    """MinT fitted to a hierarchy (aggregate rows ``s_a``, n_a × n_b) and its W."""

    s_a: sparse.csr_matrix
    w: Covariance
    chol: tuple[np.ndarray, bool]
    v: np.ndarray  # Uᵀ F

    @classmethod
    def fit(cls, s_a: sparse.csr_matrix, w: Covariance) -> MinT:
        """Factor C = Uᵀ W U.

        Raises:
            numpy.linalg.LinAlgError: C is not positive definite.
        """
        v = _ut(s_a, w.factor)
        try:
            chol = linalg.cho_factor(_inner(s_a, w.diagonal, v), lower=True)
        except linalg.LinAlgError as exc:
            raise np.linalg.LinAlgError(f"C = UᵀWU is not positive definite ({exc})") from exc
        return cls(s_a, w, chol, v)

    def reconcile(self, y_hat: np.ndarray) -> np.ndarray:
        """``S P ŷ`` for base forecasts ``y_hat`` (n × h), every series."""
        return y_hat - self._wu(linalg.cho_solve(self.chol, _ut(self.s_a, y_hat)))

    def sd(self, sigma: np.ndarray) -> np.ndarray:
        """Standard deviations of the reconciled forecasts (n × h) from base σ (n × h)."""
        root = np.sqrt(self.w.variances())
        c_inv = linalg.cho_solve(self.chol, np.eye(self.s_a.shape[0]))
        pairs_c = _ancestor_sums(self.s_a, c_inv)  # step-free parts of every step's sum
        c_inv_v = linalg.cho_solve(self.chol, self.v)
        out = np.empty_like(sigma, dtype=np.float64)
        for step in range(sigma.shape[1]):
            e = sigma[:, step] / root
            out[:, step] = np.sqrt(np.maximum(self._variance(e, pairs_c, c_inv_v), 0.0))
        return out

    def _variance(self, e: np.ndarray, pairs_c: np.ndarray, c_inv_v: np.ndarray) -> np.ndarray:
        """diag(M G Mᵀ) for G = diag(e) W diag(e) = diag(g) + H Hᵀ (see the module)."""
        s_a, d, F = self.s_a, self.w.diagonal, self.w.factor
        g, H = e**2 * d, e[:, None] * F
        v_h = _ut(s_a, H)
        c_inv_vh = linalg.cho_solve(self.chol, v_h)
        # − 2 diag(W U C⁻¹ Uᵀ G)
        twice = (
            d * g * pairs_c
            + d * _rowdot(_u(s_a, c_inv_vh), H)
            + g * _rowdot(_u(s_a, c_inv_v), F)
            + _rowdot(F @ (self.v.T @ c_inv_vh), H)
        )
        # + diag(W U N Uᵀ W), N = C⁻¹ (Uᵀ G U) C⁻¹
        k = _inner(s_a, g, v_h)
        N = linalg.cho_solve(self.chol, linalg.cho_solve(self.chol, k).T)
        n_v = N @ self.v
        back = (
            d**2 * _ancestor_sums(s_a, N)
            + 2 * d * _rowdot(_u(s_a, n_v), F)
            + _rowdot(F @ (self.v.T @ n_v), F)
        )
        return e**2 * self.w.variances() - 2 * twice + back

    def _wu(self, x: np.ndarray) -> np.ndarray:
        """W U x for x (n_a × k)."""
        return self.w.times(_u(self.s_a, x))


def _ut(s_a: sparse.csr_matrix, x: np.ndarray) -> np.ndarray:
    """Uᵀ x = x_a − S_a x_b (x: n × k, aggregates first)."""
    n_a = s_a.shape[0]
    return x[:n_a] - s_a @ x[n_a:]


def _u(s_a: sparse.csr_matrix, x: np.ndarray) -> np.ndarray:
    """U x = [x; −S_aᵀ x] (x: n_a × k)."""
    return np.vstack([x, -(s_a.T @ x)])


def _inner(s_a: sparse.csr_matrix, diagonal: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Uᵀ (diag(``diagonal``) + F Fᵀ) U for ``v`` = Uᵀ F: D_a + S_a D_b S_aᵀ + v vᵀ."""
    n_a = s_a.shape[0]
    spread = (s_a @ sparse.diags(diagonal[n_a:]) @ s_a.T).toarray()
    return spread + np.diag(diagonal[:n_a]) + v @ v.T


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def _ancestor_sums(s_a: sparse.csr_matrix, m: np.ndarray) -> np.ndarray:
    """``(U M Uᵀ)_ii`` for symmetric M (n_a × n_a): M_ii for an aggregate, the sum of M over
    every pair of a bottom series' ancestors for a bottom one; in blocks of bottom series."""
    s_at = sparse.csr_matrix(s_a.T)
    block = max(1, _CHUNK // max(1, m.shape[0]))
    bottom = [
        np.asarray(s_at[i : i + block].multiply(s_at[i : i + block] @ m).sum(axis=1)).ravel()
        for i in range(0, s_at.shape[0], block)
    ]
    return np.concatenate([np.diag(m), *bottom])
