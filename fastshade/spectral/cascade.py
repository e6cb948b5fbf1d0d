"""The multigrid warm-start cascade: coarse-to-fine LOBPCG on the AMG hierarchy.

:func:`cascade_solve` returns the ``k`` lowest non-trivial eigenpairs of a graph Laplacian
``L``; :func:`solve_graph` sends small graphs to the dense solve instead.

1. **Hierarchy**: :func:`fastshade.spectral.amg.build_hierarchy` (smoothed aggregation of
   ``A = L + s I``).
2. **Cascade**: the generalised problem ``P^T L P y = λ P^T P y`` is solved densely on the
   coarsest level (orthogonal complement of the coarse constant; a coarsest level of more than
   :data:`COARSE_LOBPCG_MIN` unknowns gets :data:`COARSE_LOBPCG_ITERS` LOBPCG iterations with the
   exact Cholesky solve as preconditioner instead), prolongated one level, refined by a few
   LOBPCG iterations (preconditioner: block V-cycle of the remaining hierarchy), and so on down
   to the pixel level, where LOBPCG runs until every one of the ``k`` wanted residuals
   ``||L v - λ v||_2`` (unit ``v``) is ``<= tol``.  The block carries ``guard`` extra vectors.
   Every level runs the block LOBPCG (:func:`fastshade.spectral.lobpcg.block_lobpcg`; another
   solver with its :class:`~fastshade.spectral.lobpcg.LevelSolver` contract can be passed, which
   is how the SciPy reference runs the same cascade).  Levels 2 and up get ``coarse_iters``
   iterations; level 1, the first coarse level (~n/6 unknowns, where an iteration costs as much
   as all coarser levels together), gets :data:`FIRST_COARSE_ITERS`: the pixel-level residual
   after prolongation is set by the interpolation error, which level-1 iterations do not reduce
   (toof: 5.2e-3 with 1, 2 or 3).
3. **Deflation**: the constant vector (the trivial null vector of a connected grid) is a hard
   constraint at every level (``Y`` in LOBPCG terms).  For a graph with several components (or
   effectively disconnected pieces) the other null vectors are piecewise-constant indicators
   orthogonal to the constant; they are *non-trivial* and are returned.

Determinism: the start block comes from the deterministic coarsest dense solve (a big coarsest
level starts from a block seeded by ``seed``; seeded random columns also pad the start when the
coarse space is too small); no reduction whose order depends on memory alignment (no ``einsum``
on anything returned), a single code path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from fastshade.heap import release_free_heap
from fastshade.kernels.blockops import csr_matmat
from fastshade.seeds import seeded_generator
from fastshade.spectral.amg import (
    DENSE_COARSE_MAX,
    LAZY_ROWS,
    Hierarchy,
    build_hierarchy,
    ones_level0,
    prolongate0,
    prolongation_part,
    prolongator0_reformable,
    refill_level0,
    vcycle,
)
from fastshade.spectral.contract import (
    CONTRACT_MODES,
    DEFAULT_SUBSPACE_TOL,
    RESIDUAL_FLOOR,
    subspace_error_bound,
)
from fastshade.spectral.dense import dense_solve, householder_vector, reflect_both
from fastshade.spectral.lobpcg import LevelSolver, block_lobpcg
from fastshade.threads import threaded

__all__ = [
    "COARSE_LOBPCG_ITERS",
    "COARSE_LOBPCG_MIN",
    "DENSE_MAX_N",
    "DENSE_UPDATE_NNZ",
    "FIRST_COARSE_ITERS",
    "GUIDED_FIRST_COARSE_ITERS",
    "big_level_paths",
    "cascade_solve",
    "solve_graph",
]


@contextmanager
def big_level_paths() -> Iterator[None]:
    """Within the block, every level takes the paths of a big image's levels (at least 2^20 rows:
    the hierarchy's lazy level 0 and its ``P^T A P`` without ``A P``, the banded start of the pixel
    level, ``P[0]`` applied as formed; these give the same values on any size), and a coarsest
    level of more than 0 unknowns is solved as big images' coarsest levels of 800-1300 unknowns
    are (:data:`COARSE_LOBPCG_MIN`; other values): for the warm-up, which compiles a big scan's
    kernels on a small image (:mod:`fastshade.warmup`).  Not thread-safe (module constants).
    """
    from fastshade.spectral import amg, lobpcg

    global LAZY_ROWS, COARSE_LOBPCG_MIN
    saved = (amg.LAZY_ROWS, LAZY_ROWS, lobpcg.BANDED_ROWS, COARSE_LOBPCG_MIN)
    amg.LAZY_ROWS = LAZY_ROWS = lobpcg.BANDED_ROWS = COARSE_LOBPCG_MIN = 0
    try:
        yield
    finally:
        amg.LAZY_ROWS, LAZY_ROWS, lobpcg.BANDED_ROWS, COARSE_LOBPCG_MIN = saved


DENSE_MAX_N = 600
"""Graphs with at most this many pixels are solved by dense ``numpy.linalg.eigh``."""

COARSE_LOBPCG_MIN = 800
"""A coarsest level with more unknowns than this (up to :data:`fastshade.spectral.amg.DENSE_COARSE_MAX`) is solved
by :data:`COARSE_LOBPCG_ITERS` LOBPCG iterations with the exact Cholesky solve of ``A_c`` as
preconditioner instead of the dense generalised ``eigh`` (on snek-heavy's stalled 990-unknown
level: 0.15 s instead of 0.25 s, largest principal angle of the 8 wanted vectors to the dense
solution ~3e-5, residuals at the rounding floor)."""

COARSE_LOBPCG_ITERS = 10
"""LOBPCG iterations on a big coarsest level (see :data:`COARSE_LOBPCG_MIN`).  With the exact
Cholesky preconditioner 10 give the same basis accuracy as 20 after the finer levels (snek-heavy,
990 coarse unknowns: signature Gram error 7.65e-2 either way, thicken reach 0.9999), 60 ms less."""

FIRST_COARSE_ITERS = 1
"""LOBPCG iterations on level 1 of the cascade (levels >= 2 get ``coarse_iters``).  Measured
against 1e-12 ``eigsh`` references on the shared images (1 thread): 3 -> 1 iterations cuts
the basis by 20-25 % (toof 0.67 -> 0.54 s, offhand 0.78 -> 0.59 s), the pixel-level residual
stays below the 1e-2 tolerance without pixel-level iterations, thicken-reach agreement stays
>= 0.994 on every image and the component-signature Gram error moves from 3.4 to 3.8 % (toof),
4.9 to 7.7 % (snek-heavy).  0 iterations dropped offhand's reach agreement to 0.987."""

GUIDED_FIRST_COARSE_ITERS = 3
"""LOBPCG iterations on level 1 of a guided hierarchy (a wide operator, ``guide`` given).  Its
level 1 keeps ~1/6 of the pixels with ~60 entries per row, and the pixel level costs 113 per
row: on toof's dither operator 3 level-1 iterations leave 1 pixel-level iteration (1 gave 3)."""

DENSE_UPDATE_NNZ = 12
"""Coarse levels with more stored entries per row than this update ``L X``, ``B X``, ``L P``,
``B P`` densely in LOBPCG (sparse products there cost more than the small GEMMs)."""


def cascade_solve(L: sp.csr_matrix, k: int, *, tol: float, seed: int, guard: int,
                  coarse_iters: int, maxiter: int, solver: LevelSolver = block_lobpcg,
                  contract: str = "off", subspace_tol: float = DEFAULT_SUBSPACE_TOL,
                  guide: sp.csr_matrix | None = None, reform: Callable[[], sp.csr_matrix] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Lowest ``k`` non-trivial pairs of ``L`` by the AMG cascade (see the module docstring).

    Parameters
    ----------
    L : scipy.sparse.csr_matrix (n, n)
        Graph Laplacian, float64, with ``n > 5 min(k + guard, n - 1)`` (not modified).
    k : int
        Wanted pairs; the stopping test reads their residuals only.
    tol : float
        Pixel-level residual tolerance ``||L v - λ v||_2`` per unit column.
    seed : int
        Seed of a random start on a big coarsest level and of padding start columns.
    guard : int
        Extra block columns beyond ``k``.
    coarse_iters : int
        LOBPCG iterations on levels 2 and up.
    maxiter : int
        Pixel-level LOBPCG update cap.
    solver : LevelSolver
        The LOBPCG of every level (default: the product's :func:`block_lobpcg`).
    contract : {"enforce", "check", "off"}
        The subspace contract (:mod:`fastshade.spectral.contract`): ``check`` forms the bound
        of the returned span once (one sparse product and one V-cycle of ``k`` columns);
        ``enforce`` also keeps the pixel level iterating until the bound is at most
        ``subspace_tol`` (needs a solver with :func:`block_lobpcg`'s ``accept``); ``off``
        forms nothing.
    subspace_tol : float
        The contract's bound on ``sin θ_max``.
    guide : scipy.sparse.csr_matrix (n, n) or None
        Narrow operator on the same pixels for the level-0 aggregation of a wide ``L``
        (:func:`fastshade.spectral.amg.build_hierarchy`); with it level 1 gets
        :data:`GUIDED_FIRST_COARSE_ITERS` iterations and the pixel level updates ``L X`` and
        ``L P`` by small GEMMs (one sparse product per iteration fewer).
    reform : callable or None
        Forms ``L`` again (the same arrays): a big image's ``L`` is then emptied in place while
        the coarse levels are set up and solved, and refilled before the pixel level
        (:func:`fastshade.spectral.amg.build_hierarchy`; the caller's matrix, the same object, has
        its arrays back when this returns, and when it raises after the setup: the caller
        refills it, :func:`fastshade.spectral.amg.refill_operator`).

    Returns
    -------
    values : ndarray (<= k,)
        Ritz values in the solver's order (ascending for :func:`block_lobpcg`).
    vectors : ndarray (n, <= k)
        The matching Ritz vectors, no sign convention yet (see
        :func:`fastshade.spectral.columns.finish_columns`).
    info : dict
        ``levels`` (per level: size, iterations, seconds), ``level_sizes``, ``iterations``
        (pixel level), ``block_size``, ``shift``, ``residuals_met`` (every wanted residual
        ``<= tol``), ``residuals_k`` (ndarray, the pixel-level residuals of the returned
        columns), ``guard_values`` (the guard Ritz values ``θ_{k+1}..``), ``setup_seconds``,
        ``hierarchy_notes``, ``pixel_solver`` (the solver's name); unless ``contract="off"``,
        ``subspace_error_bound`` (float or None) and ``contract_seconds``.
    """
    if contract not in CONTRACT_MODES:
        raise ValueError(f"contract must be one of {', '.join(CONTRACT_MODES)}, got {contract!r}")
    t0 = time.perf_counter()
    n = L.shape[0]
    m = min(k + guard, n - 1)
    # (read before the setup: a big L is emptied while the coarse levels are solved)
    floor = RESIDUAL_FLOOR * float(abs(L).sum(axis=1).max()) if contract == "enforce" else 0.0
    H = build_hierarchy(L, min_coarse=5 * m, guide=guide, reform=reform)
    first_iters = FIRST_COARSE_ITERS if guide is None else GUIDED_FIRST_COARSE_ITERS
    # a coarse level's residuals are read by nothing: the product LOBPCG skips measuring its last
    # update (the same vectors; another solver keeps the LevelSolver contract as it is)
    coarse_kw: dict[str, Any] = {"final_residuals": False} if solver is block_lobpcg else {}
    t_setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    nl = len(H.P)
    nc = H.L[-1].shape[0]
    if COARSE_LOBPCG_MIN < nc <= DENSE_COARSE_MAX and nc > 5 * m:
        # big coarsest level (stalled coarsening): the dense generalised eigh costs O(nc^3);
        # LOBPCG preconditioned by the exact Cholesky solve of A_c from a seeded random start
        start = seeded_generator(seed).standard_normal((nc, m))
        res = solver(H.L[-1], H.B[-1], start, H.Y[-1],
                     lambda R: sla.cho_solve(H.coarse_factor, R, check_finite=False), tol=0.0,
                     maxiter=COARSE_LOBPCG_ITERS, k=k, dense_updates=True, **coarse_kw)
        X = res["vectors"]
        mc = X.shape[1]
        levels = [dict(n=int(nc), iterations=int(res["iterations"]),
                       seconds=time.perf_counter() - t1)]
    elif nc <= DENSE_COARSE_MAX:
        # coarsest level: dense generalised problem in the complement of the coarse constant
        Lc = H.L[-1].toarray()
        Bc = np.eye(nc) if H.B[-1] is None else H.B[-1].toarray()
        v = householder_vector(Bc @ H.Y[-1][:, 0])
        Lq, Bq = reflect_both(Lc, v)[1:, 1:], reflect_both(Bc, v)[1:, 1:]
        mc = min(m, nc - 1)
        _, Z = sla.eigh(0.5 * (Lq + Lq.T), 0.5 * (Bq + Bq.T), subset_by_index=[0, mc - 1])
        X = np.vstack([np.zeros((1, mc)), Z])
        X -= np.outer(v, 2.0 * (v @ X))  # X = H [0; Z]: back to coarse coordinates
        levels = [dict(n=int(nc), iterations=0, seconds=time.perf_counter() - t1)]
    else:
        # coarsening stalled on a big level: seeded random start, LOBPCG on that level
        X = np.zeros((nc, 0))
        mc = 0
        levels = []
    if mc < m:  # coarse space too small: pad with seeded random columns
        rng = seeded_generator(seed)
        X = np.hstack([X, rng.standard_normal((nc, m - mc))])
    if nc > DENSE_COARSE_MAX and nl > 0:
        res = solver(H.L[-1], H.B[-1], X, H.Y[-1], lambda R: vcycle(H, nl, R),
                     tol=0.0, maxiter=4 * coarse_iters, k=k,
                     dense_updates=H.L[-1].nnz > DENSE_UPDATE_NNZ * nc, **coarse_kw)
        X = res["vectors"]
        levels.append(dict(n=int(nc), iterations=int(res["iterations"]),
                           seconds=time.perf_counter() - t1))
    fine_kw: dict[str, Any] = {}
    if contract == "enforce":
        def accept(lam: np.ndarray, rn: np.ndarray, TR: np.ndarray) -> bool:
            if rn[:k].max() <= floor:  # nothing left to gain: the bound cannot improve
                return True
            bound = subspace_error_bound(lam, k, H.shift, float(np.linalg.norm(TR[:, :k])))
            return bound is not None and bound <= subspace_tol

        fine_kw["accept"] = accept
    level_sizes = [int(a.shape[0]) for a in H.L]
    for lev in range(nl - 1, -1, -1):
        t1 = time.perf_counter()
        # the coarser level is solved: its operator and mass matrix are read again by nothing
        # (the V-cycles read A, P, P^T and Dinv), nor is its result once prolongated
        H.L[lev + 1] = H.B[lev + 1] = None  # type: ignore[call-overload]
        if n >= LAZY_ROWS:  # a big image: the coarser levels' freed blocks leave the peak
            release_free_heap()
        X = np.ascontiguousarray(X)  # a dense coarsest solve's is in F order: one kernel layout
        if lev == 0:  # L's arrays back, if the setup emptied them (formed again: the same values,
            refill_level0(H)  # where the coarse levels' blocks were just freed)
        precond = partial(vcycle, H, lev)
        if lev == 0 and contract == "off" and guide is None and n >= LAZY_ROWS:
            # a big pixel level usually stops at its start, and without a contract nothing after
            # it reads the hierarchy: the coarser levels are dropped (their operators, ~30 B a
            # pixel at the start's peak) and set up again, the same, by a V-cycle there
            H = prolongation_part(H)
            precond = _pixel_vcycle(L, m)
        if H.P[lev] is None:  # a big level 0's, dropped after the setup: applied row by row as
            # it is formed, never whole (the same bits; 34 B a pixel less at the pixel level's start)
            PX = prolongate0(H, X)
        else:
            PX = np.empty((H.P[lev].shape[0], X.shape[1]))
            threaded(csr_matmat, PX.shape[0])(H.P[lev].indptr, H.P[lev].indices, H.P[lev].data, X, PX)
        X = PX
        # (the name PX would keep this level's start block alive until the next prolongation)
        PX = res = None  # type: ignore[assignment]
        if lev == 0 and n >= LAZY_ROWS and prolongator0_reformable(H):
            # a big pixel level usually stops at its start: P[0] is formed again (the same
            # values) only by a V-cycle there (34 B per pixel less at the start's peak)
            H.P[0] = None  # type: ignore[call-overload]
        fine = lev == 0
        res = solver(H.L[lev], H.B[lev], X, ones_level0(H) if lev == 0 else H.Y[lev], precond,
                     tol=tol if fine else 0.0,
                     maxiter=maxiter if fine else (first_iters if lev == 1 else coarse_iters),
                     k=k,
                     dense_updates=(guide is not None if fine
                                    else H.L[lev].nnz > DENSE_UPDATE_NNZ * X.shape[0]),
                     **(fine_kw if fine else coarse_kw))
        X = res["vectors"]
        levels.append(dict(n=int(X.shape[0]), iterations=int(res["iterations"]),
                           seconds=time.perf_counter() - t1))
    if nl == 0:
        res = solver(L, None, X, ones_level0(H), lambda R: vcycle(H, 0, R), tol=tol,
                     maxiter=maxiter, k=k, **fine_kw)
        levels.append(dict(n=n, iterations=int(res["iterations"])))
    vals = res["values"][:k]
    vecs = res["vectors"][:, :k]
    info = dict(
        levels=levels,
        level_sizes=level_sizes if nl else [int(a.shape[0]) for a in H.L],
        iterations=int(res["iterations"]),
        block_size=int(m),
        shift=float(H.shift),
        residuals_met=bool(res["residuals"][:k].max() <= tol),
        residuals_k=np.asarray(res["residuals"][:k], dtype=np.float64),
        guard_values=[float(v) for v in res["values"][k:]],
        setup_seconds=t_setup,
        hierarchy_notes=list(H.notes),
        pixel_solver=res["solver"],
    )
    if contract != "off":
        t1 = time.perf_counter()
        info["subspace_error_bound"] = _span_bound(L, H, res["values"], vecs, k)
        info["contract_seconds"] = time.perf_counter() - t1
    return vals, vecs, info


def _pixel_vcycle(L: sp.csr_matrix, m: int) -> Callable[[np.ndarray], np.ndarray]:
    """The V-cycle of the pixel level of ``L`` whose coarser levels were dropped
    (:func:`~fastshade.spectral.amg.prolongation_part`): the first call sets the hierarchy up again
    (:func:`~fastshade.spectral.amg.build_hierarchy` of ``L`` with the cascade's ``min_coarse``:
    the same levels, so the same bits), without the coarse operators and mass matrices the
    V-cycles do not read.
    """
    whole: list[Hierarchy] = []

    def precond(R: np.ndarray) -> np.ndarray:
        if not whole:
            H = build_hierarchy(L, min_coarse=5 * m)
            H.L[1:] = H.B[1:] = [None] * (len(H.L) - 1)  # type: ignore[list-item]
            whole.append(H)
        return vcycle(whole[0], 0, R)

    return precond


def _span_bound(L: sp.csr_matrix, H: Hierarchy, values: np.ndarray, vecs: np.ndarray,
                k: int) -> float | None:
    """:func:`fastshade.spectral.contract.subspace_error_bound` of the returned span.

    ``values`` (m,) Ritz values of the whole block (guards included), ``vecs`` (n, k) the
    returned Ritz vectors; ``R = L X - X diag(θ)`` is formed by one sparse product of the unit
    columns and ``T R`` by one block V-cycle of the hierarchy.
    """
    X = np.array(vecs, dtype=np.float64, order="C")  # (one copy, its columns scaled in place)
    X /= np.linalg.norm(X, axis=0)[None, :]
    R = np.empty_like(X)
    threaded(csr_matmat, R.shape[0])(L.indptr, L.indices, L.data, X, R)
    R -= X * np.asarray(values[:k], dtype=np.float64)[None, :]
    del X  # (not alive through the V-cycle, which forms level 0's A, P and P^T: 64 B/px at k = 8)
    return subspace_error_bound(values, k, H.shift, float(np.linalg.norm(vcycle(H, 0, R))))


def solve_graph(L: sp.csr_matrix, k: int, *, tol: float, seed: int, guard: int,
                coarse_iters: int, maxiter: int, solver: LevelSolver = block_lobpcg,
                contract: str = "off", subspace_tol: float = DEFAULT_SUBSPACE_TOL,
                guide: sp.csr_matrix | None = None, reform: Callable[[], sp.csr_matrix] | None = None
                ) -> tuple[np.ndarray, np.ndarray, str, dict[str, Any]]:
    """Lowest ``k`` non-trivial pairs of one graph: dense ``eigh`` or the cascade.

    Graphs of at most :data:`DENSE_MAX_N` nodes, or too small for the block (``5 (k + guard)
    >= n``), go to :func:`fastshade.spectral.dense.dense_solve` (method ``"dense"``; info empty,
    or with the exact ``guard_values`` (the next eigenvalue) unless ``contract="off"``); the
    others to :func:`cascade_solve` (method ``"lobpcg"``).  Returns ``(values, vectors, method,
    info)``; keywords as :func:`cascade_solve`.
    """
    n = L.shape[0]
    if n <= DENSE_MAX_N or min(k + guard, n - 1) * 5 >= n:
        vals, vecs = dense_solve(L, k, extra_values=1 if contract != "off" else 0)
        m = vecs.shape[1]
        return vals[:m], vecs, "dense", ({} if contract == "off" else {"guard_values": vals[m:].tolist()})
    vals, vecs, info = cascade_solve(L, k, tol=tol, seed=seed, guard=guard,
                                     coarse_iters=coarse_iters, maxiter=maxiter, solver=solver,
                                     contract=contract, subspace_tol=subspace_tol, guide=guide,
                                     reform=reform)
    return vals, vecs, "lobpcg", info

