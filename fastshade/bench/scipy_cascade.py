"""SciPy's LOBPCG in fastshade's AMG cascade: the bench baseline and test reference of the one product solver.

The product solves every level with its own block LOBPCG (:mod:`fastshade.spectral.lobpcg`);
:func:`scipy_cascade_basis` runs ``scipy.sparse.linalg.lobpcg`` on every level of the same
cascade instead (same hierarchy, block V-cycle preconditioner, warm starts), so the two
solvers are compared on equal terms (``fastshade bench`` row "scipy lobpcg, our AMG cascade";
``tests/test_spectral.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from fastshade.kernels.blockops import csr_matmat
from fastshade.reference import EigenResult, eigen_residuals
from fastshade.spectral.cascade import solve_graph
from fastshade.spectral.columns import finish_columns
from fastshade.spectral.lobpcg import LobpcgResult

__all__ = ["scipy_cascade_basis", "scipy_level_lobpcg"]


def scipy_level_lobpcg(L: sp.csr_matrix, B: sp.csr_matrix | None, X: np.ndarray, Y: np.ndarray,
                       precond: Callable[[np.ndarray], np.ndarray], tol: float, maxiter: int, k: int,
                       dense_updates: bool = False) -> LobpcgResult:
    """One cascade level solved by ``scipy.sparse.linalg.lobpcg`` (the ``LevelSolver`` contract).

    The contract of :func:`fastshade.spectral.lobpcg.block_lobpcg`, on SciPy's LOBPCG in
    float64.  ``L`` is applied by the Numba block product (SciPy's CSR product is about 3x
    slower for 8 columns) and the preconditioner through a ``LinearOperator`` whose ``matmat``
    applies the block V-cycle to all columns at once (PyAMG's ``aspreconditioner`` loops over
    columns, which made SciPy's LOBPCG ~300x slower here).  SciPy stops when *every* block
    column (guards included) meets ``tol``; ``tol = 0`` runs ``maxiter`` iterations;
    ``k`` and ``dense_updates`` are not used.  ``residuals`` are SciPy's own norms of the
    returned vectors; ``iterations`` counts the updates before the iterate SciPy returns.
    SciPy's ``maxiter`` counts loop passes, one more than updates, so it gets ``maxiter - 1``.
    """
    import warnings

    from scipy.sparse.linalg import LinearOperator, lobpcg

    n = L.shape[0]

    def apply_L(V: np.ndarray) -> np.ndarray:
        V = np.ascontiguousarray(V, dtype=np.float64)
        out = np.empty_like(V)
        csr_matmat(L.indptr, L.indices, L.data, V, out)
        return out

    def apply_precond(V: np.ndarray) -> np.ndarray:
        return np.asarray(precond(np.ascontiguousarray(V, dtype=np.float64)), dtype=np.float64)

    A = LinearOperator((n, n), dtype=np.float64, matvec=lambda v: apply_L(np.reshape(v, (-1, 1))).ravel(),
                       matmat=apply_L)
    M = LinearOperator((n, n), dtype=np.float64,
                       matvec=lambda v: apply_precond(np.reshape(v, (-1, 1))).ravel(),
                       matmat=apply_precond)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not reaching the requested tolerance" at maxiter
        lam, V, history = lobpcg(A, np.array(X, dtype=np.float64), B=B, M=M, Y=np.asarray(Y, dtype=np.float64),
                                 tol=tol if tol > 0 else 1e-300, maxiter=max(maxiter - 1, 0),
                                 largest=False, retResidualNormsHistory=True)
    return LobpcgResult(values=np.asarray(lam, dtype=np.float64),
                        vectors=np.ascontiguousarray(V, dtype=np.float64),
                        iterations=max(len(history) - 2, 0),
                        residuals=np.asarray(history[-1], dtype=np.float64).reshape(-1),
                        solver="scipy")


def scipy_cascade_basis(
    L: sp.spmatrix,
    k: int = 8,
    *,
    tol: float = 1e-2,
    seed: int = 42,
    guard: int = 4,
    maxiter: int = 200,
) -> EigenResult:
    """Compute the ``k`` smallest non-trivial eigenpairs by SciPy's LOBPCG on our AMG cascade.

    The product's solve (:func:`fastshade.spectral.cascade.solve_graph`: same hierarchy, block
    V-cycle preconditioner, warm starts, dense solve of small graphs) with
    ``scipy.sparse.linalg.lobpcg`` (:func:`scipy_level_lobpcg`) on every LOBPCG level in place
    of fastshade's block LOBPCG; columns in the product's conventions (ascending, unit norm,
    max-abs entry positive).  ``converged``: every true residual ``||L v - λ v||`` is
    ``<= tol``.

    Parameters
    ----------
    L : sparse (n, n) graph Laplacian
    k : int
        Pairs wanted.
    tol : float
        Pixel-level residual tolerance.
    seed, guard, maxiter
        As :func:`fastshade.spectral.spectral_basis`.
    """
    t0 = time.perf_counter()
    Lc = L.tocsr()
    Lc = Lc.astype(np.float64) if Lc.dtype != np.float64 else Lc
    n = Lc.shape[0]
    values, vectors, method, info = solve_graph(Lc, k, tol=tol, seed=seed, guard=guard, coarse_iters=3,
                                                maxiter=maxiter, solver=scipy_level_lobpcg)
    vectors, values, _ = finish_columns(values, vectors, n, k)
    seconds = time.perf_counter() - t0
    residuals = eigen_residuals(Lc, values, vectors)
    return EigenResult(values, vectors, seconds, info.get("iterations"),
                       bool(residuals.max(initial=0.0) <= tol), residuals,
                       {"solver": "scipy.sparse.linalg.lobpcg on fastshade's AMG cascade", "method": method,
                        "tol": tol, "maxiter": maxiter, "level_sizes": info.get("level_sizes")})
