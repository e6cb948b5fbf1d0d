"""Exact lowest non-trivial eigenpairs by dense ``eigh`` in the complement of the constant.

Used for small graphs (:data:`fastshade.spectral.cascade.DENSE_MAX_N`), small tiles,
``spectral_basis(method="dense")`` and, through :func:`householder_vector` and
:func:`reflect_both`, the coarsest level of the cascade.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["dense_solve", "householder_vector", "reflect_both"]


def dense_solve(L: sp.spmatrix | np.ndarray, k: int,
                extra_values: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Exact lowest ``m = min(k, n - 1)`` non-trivial pairs of ``L`` by dense ``eigh``.

    Solved in the orthogonal complement of the constant vector (columns 1.. of a Householder
    reflector, deterministic).  Returns ``values`` (m + e,) ascending and ``vectors`` (n, m),
    both float64 and new, where the ``e = min(extra_values, n - 1 - m)`` extra values are the
    next eigenvalues (the spectral gap after the ``m``-th pair, for the subspace contract).
    """
    n = L.shape[0]
    Ld = L.toarray() if sp.issparse(L) else np.asarray(L, dtype=np.float64)
    m = min(k, n - 1)
    if m <= 0:
        return np.zeros(0), np.zeros((n, 0))
    # complement of the constant vector: columns 1.. of a Householder reflector (deterministic)
    v = householder_vector(np.ones(n))
    Lq = reflect_both(Ld, v)[1:, 1:]
    vals, vecs = np.linalg.eigh(0.5 * (Lq + Lq.T))
    X = np.vstack([np.zeros((1, m)), vecs[:, :m]])
    X -= np.outer(v, 2.0 * (v @ X))
    return vals[:m + max(0, min(extra_values, vals.size - m))].copy(), X


def householder_vector(b: np.ndarray) -> np.ndarray:
    """Return the unit ``v`` with ``(I - 2 v v^T) b = -sign(b_0) ||b|| e_0``.

    Columns 1.. of that reflector are an orthonormal basis of the complement of ``b`` (O(n) to
    build, O(n^2) to apply).
    """
    v = np.array(b, dtype=np.float64)
    nb = np.linalg.norm(v)
    v[0] += (1.0 if v[0] >= 0 else -1.0) * nb
    nv = np.linalg.norm(v)
    return v / nv if nv > 0 else v


def reflect_both(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``H M H`` for symmetric dense ``M`` and ``H = I - 2 v v^T`` (rank-2 update, new array)."""
    Mv = M @ v
    w = 2.0 * Mv - 2.0 * (v @ Mv) * v
    return M - np.outer(v, w) - np.outer(w, v)
