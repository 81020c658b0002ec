"""Normal intervals of reconciled forecasts, per series, without dense n × n × n products.

hierarchicalforecast's ``normality`` method forms the reconciled covariance ``S P C_h Pᵀ Sᵀ``
of every series for every step ``h`` (``C_h = D_h R D_h``: the correlations ``R`` of its W,
``D_h`` the base standard deviations) and keeps the diagonal: two dense n³ products and an
n × n matrix per step — minutes and gigabytes at 10,000 series. Only the diagonal is needed,
and the reconcilers used here (MinTrace, BottomUp) have ``P = J − L Uᵀ`` with ``Uᵀ = [I, −S_a]``
(``S_a``: the aggregate rows of S, ``L = −P[:, :n_a]``), so with ``G = C_h``:

    P G Pᵀ = G_bb − U_bᵀ Lᵀ − L U_b + L Q Lᵀ,   U = Uᵀ G,  Q = U (Uᵀ)ᵀ,  U_b: U's bottom columns

and the diagonal of ``S (P G Pᵀ) Sᵀ`` needs products with the sparse ``S_a`` and the thin
``L`` only: O(n_a · n) per step instead of O(n³). Same numbers as hierarchicalforecast (a
test compares them), negative variances clipped at 0 as there.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


def has_projection_form(P: np.ndarray, summing: np.ndarray | sparse.spmatrix) -> bool:
    """Whether ``P`` is ``J − L Uᵀ`` for the aggregate rows of ``summing`` (MinT, BottomUp),
    with the bottom rows of ``summing`` the identity."""
    n_hiers, n_bottom = summing.shape
    n_aggs = n_hiers - n_bottom
    s = sparse.csr_matrix(summing)
    if (s[n_aggs:] != sparse.identity(n_bottom, format="csr")).nnz:
        return False
    # P_b = I − P_a S_a, checked on random vectors (no m × m matrix at 10,000 series)
    probe = np.random.default_rng(0).standard_normal((n_bottom, 3))
    expected = probe - P[:, :n_aggs] @ (s[:n_aggs] @ probe)
    return bool(np.allclose(P[:, n_aggs:] @ probe, expected, atol=1e-6))


def reconciled_sigma(
    summing: np.ndarray | sparse.spmatrix,
    P: np.ndarray,
    W: np.ndarray | None,
    sigma: np.ndarray,
) -> np.ndarray:
    """Standard deviations of the reconciled forecasts, ``(n_series, horizon)``.

    Args:
        summing: S, ``(n_series, n_bottom)``: aggregate rows first, then the identity.
        P: The reconciler's ``(n_bottom, n_series)`` matrix (see :func:`has_projection_form`).
        W: Its ``(n_series, n_series)`` covariance (None: identity, as for BottomUp).
        sigma: Base forecast standard deviations, ``(n_series, horizon)``.
    """
    n_hiers, n_bottom = summing.shape
    n_aggs = n_hiers - n_bottom
    s_a = sparse.csr_matrix(summing[:n_aggs])
    L = -P[:, :n_aggs]  # (n_bottom, n_aggs)
    V = np.asarray(s_a @ L)  # S_a L: (n_aggs, n_aggs)
    if W is None:
        W = np.eye(n_hiers)
    std = np.sqrt(np.diag(W))
    out = np.empty_like(sigma, dtype=np.float64)
    for step in range(sigma.shape[1]):
        d = sigma[:, step] / std
        out[:, step] = np.sqrt(np.maximum(_diagonal(W, d, s_a, L, V, n_aggs), 0.0))
    return out


def _diagonal(
    W: np.ndarray, d: np.ndarray, s_a: sparse.csr_matrix, L: np.ndarray, V: np.ndarray, n_a: int
) -> np.ndarray:
    """The diagonal of ``S P G Pᵀ Sᵀ`` with ``G = diag(d) W diag(d)`` (see the module)."""
    G_b = W[n_a:] * d[n_a:, None] * d[None, :]  # bottom rows of G: (n_bottom, n_series)
    R = np.asarray(s_a @ G_b)  # S_a G_b: (n_aggs, n_series)
    U = W[:n_a] * d[:n_a, None] * d[None, :] - R  # Uᵀ G: (n_aggs, n_series)
    U_b = U[:, n_a:]
    SU = np.asarray(s_a @ U_b.T)  # S_a U_bᵀ: (n_aggs, n_aggs)
    Q = U[:, :n_a] - SU.T  # Uᵀ G U: (n_aggs, n_aggs)
    LQ = L @ Q
    bottom = (
        np.diag(G_b[:, n_a:]) - 2 * np.einsum("ij,ji->i", L, U_b) + np.einsum("ij,ij->i", LQ, L)
    )
    upper = (
        np.asarray(s_a.multiply(R[:, n_a:]).sum(axis=1)).ravel()
        - 2 * np.einsum("ij,ij->i", SU, V)
        + np.einsum("ij,ij->i", V @ Q, V)
    )
    return np.concatenate([upper, bottom])
