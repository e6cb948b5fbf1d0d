"""Plain NumPy twin of :func:`fastshade.spectral.krylov.krylov_basis` (``original-system.md`` §2.1).

Slow on purpose: a dense copy of the operator, Python loops over the Lanczos vectors,
classical Gram-Schmidt written out, no BLAS tricks.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import DTypeLike

__all__ = ["krylov_basis_numpy"]

RITZ_FLOOR = 1e-6
"""Ritz values at or below this are dropped (the constant direction and rounding noise)."""


def krylov_basis_numpy(
    L: sp.spmatrix | sp.sparray | np.ndarray,
    k: int = 8,
    *,
    steps: int = 50,
    seed: int = 42,
    dtype: DTypeLike = np.float64,
    tol: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray]:
    """Ritz basis of an unrestarted, mean-deflated, fully re-orthogonalised Lanczos run.

    ``m = min(steps, n - 1)`` steps from a seeded standard-normal start vector made mean-free
    (an alternating ±1 vector when that vanishes); every step subtracts ``alpha v_t`` and
    ``beta v_{t-1}``, re-orthogonalises against all earlier vectors (classical Gram-Schmidt,
    every coefficient from the same ``w``) and removes the mean; it stops when ``beta < tol``.
    The eigenpairs of the tridiagonal ``T`` above :data:`RITZ_FLOOR` give the Ritz pairs.

    Returns
    -------
    vectors : (n, k) float64
        The first ``k`` kept Ritz vectors, ascending Ritz value; zero columns pad.
    values : (k,) float64
        Their Ritz values, 0.0 for padding.
    """
    dt = np.dtype(dtype)
    Ld = (L.toarray() if sp.issparse(L) else np.asarray(L)).astype(dt)
    n = Ld.shape[0]
    vectors = np.zeros((n, k))
    values = np.zeros(k)
    m = min(steps, n - 1)
    if m < 2:
        return vectors, values

    v = np.random.default_rng(seed).standard_normal(n).astype(dt)
    v = v - v.mean(dtype=dt)
    if not np.linalg.norm(v) >= tol:
        v = np.array([1.0 if i % 2 == 0 else -1.0 for i in range(n)], dtype=dt)
        v = v - v.mean(dtype=dt)
    v = v / np.linalg.norm(v)

    V = [v]
    alphas: list[float] = []
    betas: list[float] = []
    for t in range(m):
        w = Ld @ V[t]
        a = V[t] @ w
        w = w - a * V[t]
        if t > 0:
            w = w - betas[t - 1] * V[t - 1]
            coeffs = [V[j] @ w for j in range(t + 1)]
            for j in range(t + 1):
                w = w - coeffs[j] * V[j]
        w = w - w.mean(dtype=dt)
        b = np.linalg.norm(w)
        alphas.append(a)
        betas.append(b)
        if not b >= tol:
            break
        V.append(w / b)

    s = len(alphas)
    if s < 2:
        return vectors, values
    T = np.zeros((s, s), dtype=dt)
    for i in range(s):
        T[i, i] = alphas[i]
        if i + 1 < s:
            T[i, i + 1] = T[i + 1, i] = betas[i]
    theta, Y = np.linalg.eigh(T)
    keep = [i for i in range(s) if theta[i] > RITZ_FLOOR][:k]
    Vm = np.array(V[:s]).T  # (n, s)
    for col, i in enumerate(keep):
        vectors[:, col] = Vm @ Y[:, i]
        values[col] = theta[i]
    return vectors, values
