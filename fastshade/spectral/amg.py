"""Smoothed-aggregation AMG hierarchy of ``A = L + s I`` and its block V-cycle.

:func:`build_hierarchy` builds the levels from PyAMG's pieces (symmetric strength of
connection, standard aggregation, the constant candidate) with Jacobi-smoothed prolongators
``P = (I - w D^-1 A) T``.  The shift ``s = 1e-5 * mean degree`` (sklearn's ``amg`` recipe adds
``1e-5 I`` for the same reason) makes ``A`` positive definite so the coarsest level has a
Cholesky solve; it is 100x smaller than the eigenvalues resolved on real line art
(``~1e-6 ... 1e-4``, measured) relative to the mean degree (about 4), so the preconditioner stays
an approximate inverse of ``L`` on the wanted subspace.  The strength threshold ``theta = 0.05``
cuts edges lighter than ``0.05 sqrt(a_ii a_jj)`` (ink/paper edges, weight ``exp(-d/tau) < 0.2``),
so aggregates never straddle a stroke border and the coarse spaces can represent the nearly
piecewise-constant low modes of line art.  The prolongation damping uses the Gershgorin bound
``rho(D^-1 A) <= 2`` (``w = 2/3``, PyAMG's ``4/3 / rho``) instead of PyAMG's Arnoldi estimate
(that estimate was 90 % of PyAMG's setup).  Nodes without a strong neighbour (isolated specks)
become singleton aggregates instead of being dropped: specks are exactly the nearly
disconnected pieces that carry tiny eigenvalues.  Apart from these two changes every level up
to a stalled one (below) equals ``pyamg.smoothed_aggregation_solver``'s
(``tests/test_spectral.py::test_hierarchy_is_pyamgs_smoothed_aggregation``).

Setup products are Numba kernels (:mod:`fastshade.kernels.blockops`): ``P`` straight from the
aggregate map, and ``A_c = P^T A P``, ``B_c = P^T B P`` on one shared pattern by two Gustavson
products (``A P`` then ``P^T (A P)``), ``L_c = A_c - s B_c`` on the same pattern (no
``fit_candidates``, no SciPy sparse adds or format conversions).  A slowly coarsening stalled
level (aggregation keeps > 50 % of the nodes and ``theta = 0`` would collapse it) uses the
tentative prolongator ``T``: smoothing it there made near-dense coarse operators.

:func:`vcycle` is one block V-cycle (damped Jacobi, one pre- and one post-sweep as fused Numba
passes, Cholesky on the coarsest level), the LOBPCG preconditioner of every cascade level.

**Wide operators** (the multi-radius ``dither`` Laplacian, 113 entries per row): every edge is
weak against ``sqrt(a_ii a_jj)`` (the degree sums 112 weights), so the aggregation above stalls,
falls back to ``theta = 0`` and makes radius-6 balls (toof: 262144 -> 1880 unknowns); that coarse
space misses the lowest modes (its cascade returned eigenvalues from 0.0056 up while the operator
has 0.0024, 0.0033, 0.0036 below them) and its smoothed Galerkin products cost seconds.  Given a
``guide`` (the 4-neighbour grid Laplacian of the same image, whose edges are the dither
operator's nearest ones up to the factor 2.6), level 0 is aggregated on the guide's strength
graph instead (stroke borders respected, ~6 pixels per aggregate), with the tentative
(piecewise-constant) prolongator, so ``P^T A P`` is one pass over ``A``; the coarser levels
follow the rules above.  Level 0's smoother is then plain Jacobi (:data:`WIDE_JACOBI_OMEGA`).
Measurements: ``docs/heat-filter.md`` §6.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from fastshade.kernels.blockops import (
    csr_matmat,
    csr_matmat_add,
    jacobi_start,
    jacobi_sweep,
    prolongate_smoothed,
    strength_pattern,
)
from fastshade.kernels.galerkin import tentative_galerkin, tentative_galerkin_row_nnz
from fastshade.kernels.spgemm import galerkin_identity_mass
from fastshade.spectral.setup_csr import (
    JACOBI_OMEGA,
    constant_candidate,
    csr_from_counts,
    diagonal_stored_once,
    galerkin_triple_matrix,
    inverse_shifted,
    main_diagonal,
    smoothed_prolongator_matrix,
    spgemm_pair_matrix,
    transpose_pattern,
)
from fastshade.threads import threaded, work_rows

__all__ = [
    "DENSE_CHEAP_MAX",
    "DENSE_COARSE_MAX",
    "JACOBI_OMEGA",
    "WIDE_JACOBI_OMEGA",
    "LAZY_ROWS",
    "MAX_COARSE",
    "SHIFT_REL",
    "STRENGTH_THETA",
    "Hierarchy",
    "aggregate",
    "build_hierarchy",
    "level0_prolongator",
    "ones_level0",
    "prolongate0",
    "prolongator0_reformable",
    "vcycle",
]

SHIFT_REL = 1e-5
"""AMG shift ``s = SHIFT_REL * mean degree`` (see the module docstring)."""

STRENGTH_THETA = 0.05
"""Symmetric strength-of-connection threshold of the aggregation."""

MAX_COARSE = 400
"""Coarsening stops at this many unknowns (the coarsest level is solved densely)."""

DENSE_COARSE_MAX = 2500
"""A coarsest level larger than this (stalled coarsening) gets no dense solve / Cholesky."""

DENSE_CHEAP_MAX = 1200
"""A stalled level up to this size becomes the (dense) coarsest level instead of coarsening slowly."""

LAZY_ROWS = 1 << 20
"""Levels with at least this many rows keep only what the cascade's start needs after the setup:
``P^T`` and, on level 0 (not the coarsest), ``A = L + s I`` and its inverse diagonal are formed
again, with the same values, by the first V-cycle there (the pixel level of a big image usually
stops at its start and makes none): 79 B per pixel less at the basis's memory peak."""

WIDE_JACOBI_OMEGA = 1.0
"""Damping of the level-0 V-cycle smoother of a guided (wide-operator) hierarchy: the largest
weight whose Jacobi error factor ``|1 - w mu|`` stays <= 1 for every ``mu`` in the Gershgorin
range ``[0, 2]`` of ``D^-1 A``.  ``2/3`` assumes ``rho = 2``; on the dither operator
``rho(D^-1 A) ~ 1.1`` (``lambda_max = 69`` over degrees up to 64) and ``2/3`` damped the
high frequencies by 0.3 at best (toof: 2 pixel-level iterations at ``2/3``, 1 at ``1``)."""


@dataclass
class Hierarchy:
    """The levels ``l = 0..nl`` of the smoothed-aggregation hierarchy.

    Operators ``L[l]``, mass matrices ``B[l]`` (None = identity at level 0), shifted
    ``A[l] = L[l] + s B[l]``, prolongators ``P[l]`` (level ``l + 1`` -> ``l``) and their
    transposes ``PT[l]``, coarse images of the constant ``Y[l]`` ((n_l, 1)), inverse diagonals
    ``Dinv[l]`` of ``A[l]``, the shift ``s``, the Cholesky factor of the coarsest ``A`` (None
    when that level is too big), notes on stalled coarsening and the level-0 smoother damping
    ``omega0`` (:data:`JACOBI_OMEGA`, or :data:`WIDE_JACOBI_OMEGA` for a guided hierarchy).  On a
    level of at least :data:`LAZY_ROWS` rows ``PT`` (and on level 0 ``A`` and ``Dinv``) are None
    until a V-cycle there forms them; on such a level 0 smoothed-aggregated from an ``L`` that
    stores its diagonal ``P[0]`` is None too, formed again by :func:`level0_prolongator` from the
    kept aggregates ``agg0`` (int32) when the cascade prolongates to the pixel level or a V-cycle
    runs there, and ``Y[0]`` (the constant) is None until the pixel level's solve
    (:func:`ones_level0`).
    """

    L: list[sp.csr_matrix]
    B: list[sp.csr_matrix | None]
    A: list[sp.csr_matrix | None]
    P: list[sp.csr_matrix]
    PT: list[sp.csr_matrix | None]
    Y: list[np.ndarray | None]
    Dinv: list[np.ndarray | None]
    shift: float
    coarse_factor: tuple[np.ndarray, bool] | None = None
    notes: list[str] = field(default_factory=list)
    omega0: float = JACOBI_OMEGA
    theta: float = STRENGTH_THETA
    """The strength threshold the levels were aggregated with (:func:`level0_prolongator`)."""
    agg0: np.ndarray | None = None
    """Level 0's aggregates (int32), kept when ``P[0]`` is dropped after the setup."""
    reform0: Callable[[], sp.csr_matrix] | None = None
    """Forms ``L[0]`` again (the same arrays), when the setup was given it: a big lazy level 0 then
    empties ``L[0]``'s arrays once its products are formed (:func:`refill_level0` puts them back;
    nothing may read them before)."""


def _empty_level0(H: Hierarchy) -> None:
    """Empty ``L[0]``'s arrays in place (the same matrix object, its shape kept, an empty
    ``indptr`` marking it; 64 B a pixel of a 4-connected grid's float64 Laplacian), to be formed
    again by ``H.reform0``.
    """
    L = H.L[0]
    L.data, L.indices, L.indptr = L.data[:0].copy(), L.indices[:0].copy(), L.indptr[:0].copy()


def refill_operator(L: sp.csr_matrix, reform: Callable[[], sp.csr_matrix] | None) -> None:
    """Put back the arrays of a level-0 operator the setup emptied (``build_hierarchy(reform=)``;
    an empty ``indptr``), formed again by ``reform`` (the same values, the same matrix object);
    nothing when they are there.  RuntimeError when the matrix formed again is not the same
    shape, dtype and index type (a ``reform`` that broke its contract).
    """
    if L.indptr.size or reform is None:
        return
    again = reform().tocsr()
    if again.shape != L.shape or again.dtype != L.dtype or again.indptr.dtype != L.indptr.dtype:
        raise RuntimeError(f"the level-0 operator formed again is {again.shape} {again.dtype}, "
                           f"not {L.shape} {L.dtype}")
    L.data, L.indices, L.indptr = again.data, again.indices, again.indptr


def refill_level0(H: Hierarchy) -> None:
    """:func:`refill_operator` of ``H.L[0]`` with ``H.reform0``."""
    refill_operator(H.L[0], H.reform0)


def prolongation_part(H: Hierarchy) -> Hierarchy:
    """The part of ``H`` the prolongation to level 0 and the pixel level's start read: ``L[0]``,
    ``P[0]`` (or the aggregates ``agg0`` and ``Y[1]`` it is formed again from), ``Y[0]``, the
    shift, the damping and the notes; every coarser level dropped.  A V-cycle needs the whole
    hierarchy again (:func:`build_hierarchy` forms the same levels: the setup is deterministic).
    """
    return Hierarchy(L=[H.L[0]], B=[None], A=[None], P=[H.P[0]], PT=[None], Y=[H.Y[0], H.Y[1]],
                     Dinv=[None], shift=H.shift, notes=H.notes, omega0=H.omega0, theta=H.theta,
                     agg0=H.agg0)


def prolongator0_reformable(H: Hierarchy) -> bool:
    """Whether :func:`level0_prolongator` forms ``H.P[0]`` again: level 0 was PyAMG's plain
    smoothed aggregation of ``A = L + s I`` (no guide, no stalled-level fallback).
    """
    return bool(H.P) and H.omega0 == JACOBI_OMEGA and not any(n.startswith("level 0") for n in H.notes)


def level0_prolongator(H: Hierarchy) -> sp.csr_matrix:
    """``P[0]`` formed again from ``L[0]`` with the same values (:func:`build_hierarchy`'s plain
    level 0: the aggregation of ``A = L + s I``, the constant candidate, the Jacobi-smoothed
    ``T``, each read as the setup read it); the aggregates are the kept ``H.agg0`` when the setup
    kept them, else formed again.  For a big level 0, which drops ``P[0]`` after the setup
    (:data:`LAZY_ROWS`), when the cascade prolongates to it or a V-cycle there needs it.
    """
    L = H.L[0]
    if H.agg0 is not None:
        return _plain_prolongator0(L, H.shift, H.agg0, np.ascontiguousarray(H.Y[1][:, 0]))
    A, shift = _level0_operator(L, H.shift)
    agg, nc = aggregate(A, H.theta, shift=shift)
    return _plain_prolongator0(L, H.shift, agg, constant_candidate(agg, nc)[0])


def _level0_operator(L: sp.csr_matrix, shift: float) -> tuple[sp.csr_matrix, float]:
    """``(A, a_shift)`` for reading level 0's ``L + shift I`` as the setup reads it: ``(L,
    shift)`` when every row stores its diagonal once (the kernels add the shift as they read),
    else the shifted matrix formed and 0.
    """
    if diagonal_stored_once(L, np.empty(L.nnz, dtype=bool)):
        return L, shift
    return _shifted(L, shift, mass=False)[0], 0.0


def _plain_prolongator0(L: sp.csr_matrix, shift: float, agg: np.ndarray, norms: np.ndarray) -> sp.csr_matrix:
    """Level 0's smoothed prolongator of the constant candidate from its aggregates ``agg``
    (int (n,)) and their norms ``norms`` ((nc,)): ``P[0]`` as :func:`build_hierarchy` forms it
    (``D^-1`` of ``L + shift I``, ``t = 1 / norms[agg]``), bit for bit.
    """
    A, a_shift = _level0_operator(L, shift)
    return smoothed_prolongator_matrix(A, inverse_shifted(main_diagonal(L), shift), np.asarray(agg, dtype=np.int64),
                                 constant_candidate(agg, int(norms.size), norms)[1], int(norms.size),
                                 shift=a_shift)


def ones_level0(H: Hierarchy) -> np.ndarray:
    """``H.Y[0]``, the constant vector of level 0 ((n, 1) ones), formed on first use (a big level 0
    does not keep it through the setup and the coarse levels: 8 B a pixel at their peaks).
    """
    if H.Y[0] is None:
        H.Y[0] = np.ones((H.L[0].shape[0], 1))
    return H.Y[0]


def prolongate0(H: Hierarchy, X: np.ndarray) -> np.ndarray:
    """``P[0] @ X`` (float64 (n, m)) for a level 0 that dropped ``P[0]`` and kept ``H.agg0``,
    without forming ``P[0]``: its rows are formed one at a time from ``L``, the shift, the
    aggregates and the level-1 image of the constant (``H.Y[1]``, the aggregates' norms) and
    multiplied as they are (:func:`~fastshade.kernels.blockops.prolongate_smoothed`; the bits of
    :func:`level0_prolongator` followed by the sparse product).  ``X`` (n_1, m) float64.
    """
    L = H.L[0]
    assert H.agg0 is not None
    Y = np.empty((L.shape[0], X.shape[1]))
    threaded(prolongate_smoothed, Y.shape[0])(
        L.indptr, L.indices, L.data, float(H.shift), JACOBI_OMEGA, H.agg0,
        np.ascontiguousarray(H.Y[1][:, 0]), np.ascontiguousarray(X, dtype=np.float64), Y)
    return Y


def aggregate(A: sp.csr_matrix, theta: float, shift: float = 0.0) -> tuple[np.ndarray, int]:
    """Aggregate of every node (int64 (n,)) and the aggregate count.

    PyAMG's standard aggregation on the symmetric strength graph of ``A + shift I`` (threshold
    ``theta``; the shift changes only the diagonal the off-diagonal entries are measured
    against); nodes it leaves unaggregated become singletons, numbered after PyAMG's aggregates
    in node order.
    """
    # the pattern of pyamg.strength.symmetric_strength_of_connection (standard aggregation
    # reads only the pattern; the values and their row scaling are not formed)
    s_indptr = np.empty_like(A.indptr)
    s_indices = np.empty_like(A.indices)
    diag = main_diagonal(A)
    if shift != 0.0:
        diag += shift
    nnz = strength_pattern(A.indptr, A.indices, A.data, np.abs(diag, out=diag), float(theta), s_indptr,
                           s_indices)
    del diag
    # pyamg.aggregation.standard_aggregation's own call, without its (n, aggregates) operator:
    # Tj[i] is node i's aggregate, -1 when it is left alone
    from pyamg import amg_core  # (PyAMG loads on first use)

    n = A.shape[0]
    tj = np.empty(n, dtype=s_indptr.dtype)
    cpts = np.empty(n, dtype=s_indptr.dtype)
    count = int(amg_core.standard_aggregation(n, s_indptr, s_indices[:nnz], tj, cpts))
    count = max(count, 1)  # nothing aggregated: PyAMG's operator still has one (empty) column
    agg = tj.astype(np.int64)
    lonely = np.flatnonzero(tj < 0)
    agg[lonely] = count + np.arange(lonely.size)
    return agg, count + int(lonely.size)


def _shifted(L: sp.csr_matrix, shift: float, mass: bool = True) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """``A = L + s I`` (CSR) and the identity's data on ``A``'s pattern (the level-0 mass, uint8
    0/1: the Galerkin kernel's products ``1 * p`` and ``0 * p`` are the float64 ones, at 1 byte
    an entry instead of 8; None when ``mass`` is False).

    When every row stores its diagonal once (the image Laplacians do), ``s`` is added on ``L``'s
    own pattern (the same values as the sparse sum, formed in one array).
    """
    n = L.shape[0]
    on_diag = np.empty(L.nnz, dtype=bool)
    if diagonal_stored_once(L, on_diag):
        data = shift * on_diag
        np.add(L.data, data, out=data)  # = L.data + shift * on_diag, without a second array
        return (sp.csr_matrix((data, L.indices, L.indptr), shape=L.shape),
                on_diag.view(np.uint8) if mass else None)
    A0 = (L + shift * sp.identity(n, format="csr")).tocsr()
    if not mass:
        return A0, None
    rows0 = np.repeat(np.arange(n), np.diff(A0.indptr))
    return A0, (A0.indices == rows0).view(np.uint8)


def _tentative_galerkin(L: sp.csr_matrix, PT: sp.csr_matrix, agg: np.ndarray,
                        t: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """``L_c = T^T L T`` of the tentative prolongator ``T[i, agg[i]] = t[i]`` and the data of
    ``B_c = T^T T`` on its pattern.

    ``PT`` is ``T^T`` in CSR (the members of each aggregate); ``t`` has unit norm on every
    aggregate, so ``B_c`` is the identity (1 on the diagonal of ``L_c``'s pattern, which every
    row holds: an aggregate's members store their own diagonal).  Two Numba passes over ``L``
    (:mod:`fastshade.kernels.galerkin`).
    """
    nc = PT.shape[0]
    pos = np.full(nc, -1, dtype=np.int64)
    counts = np.empty(nc, dtype=np.int64)
    tentative_galerkin_row_nnz(L.indptr, L.indices, PT.indptr, PT.indices, agg, pos, counts)
    indptr = csr_from_counts(counts, nc)
    idx_t = indptr.dtype
    indices = np.empty(int(indptr[-1]), dtype=idx_t)
    data = np.empty(indices.size)
    pos.fill(-1)
    tentative_galerkin(L.indptr, L.indices, L.data, PT.indptr, PT.indices, agg, t, pos,
                       np.empty(nc), indptr, indices, data)
    rows = np.repeat(np.arange(nc, dtype=idx_t), counts)
    return sp.csr_matrix((data, indices, indptr), shape=(nc, nc)), (indices == rows).astype(np.float64)


def build_hierarchy(L: sp.csr_matrix, theta: float | None = None,
                    max_coarse: int | None = None, max_levels: int = 12,
                    min_coarse: int = 0, guide: sp.csr_matrix | None = None,
                    reform: Callable[[], sp.csr_matrix] | None = None) -> Hierarchy:
    """Smoothed-aggregation hierarchy of ``A = L + s I`` (see the module docstring).

    Parameters
    ----------
    L : scipy.sparse.csr_matrix (n, n)
        Graph Laplacian, float64 (not modified; level 0 of the hierarchy).
    theta : float or None
        Strength threshold; None = :data:`STRENGTH_THETA`.
    max_coarse : int or None
        Coarsening stops at this many unknowns; None = :data:`MAX_COARSE`.
    max_levels : int
        At most this many prolongators.
    min_coarse : int
        A level that would coarsen below this (the start block must fit) and is at most
        :data:`DENSE_COARSE_MAX` large becomes the coarsest level.
    guide : scipy.sparse.csr_matrix (n, n) or None
        A narrow operator on the same nodes (the 4-neighbour grid Laplacian of the image of a
        wide ``L``): level 0 is aggregated on its strength graph, with the tentative
        prolongator and the level-0 smoother :data:`WIDE_JACOBI_OMEGA` (module docstring).
        None: every level as PyAMG's smoothed aggregation.
    reform : callable or None
        Forms ``L`` again (the same arrays; e.g. the image Laplacian's assembly).  Given it, a big
        unguided level 0 (:data:`LAZY_ROWS`) empties ``L``'s arrays in place once its products
        are formed, so ``L`` is not alive while the coarser levels are set up and solved;
        :func:`refill_level0` puts them back (the cascade does, before it prolongates to level 0).

    Returns
    -------
    Hierarchy
        With the Cholesky factor of the coarsest ``A`` when it has at most
        :data:`DENSE_COARSE_MAX` unknowns.
    """
    theta = STRENGTH_THETA if theta is None else theta
    max_coarse = MAX_COARSE if max_coarse is None else max_coarse
    n = L.shape[0]
    diag = main_diagonal(L)
    mean_deg = float(diag.mean()) if n else 0.0
    shift = SHIFT_REL * mean_deg if mean_deg > 0 else 1.0
    if guide is not None:
        if guide.shape != L.shape:
            raise ValueError(f"guide must be {L.shape}, got {guide.shape}")
        # a guided level 0 smooths with L itself (the shift only makes the coarsest level
        # definite; a shifted dither operator and its mass were 0.7 GB), no mass data
        A0, a_shift0 = L, 0.0
    else:  # A = L + s I is read through L (its products add s on the diagonal: the values of
        # the shifted matrix; 45 B a pixel less at the setup's peak), formed after them if kept
        A0, a_shift0 = _level0_operator(L, shift)
    H = Hierarchy(L=[L], B=[None], A=[A0 if a_shift0 == 0.0 else None], P=[], PT=[],
                  Y=[None if n >= LAZY_ROWS else np.ones((n, 1))],  # (big: ones_level0 forms it)
                  Dinv=[inverse_shifted(diag, shift)], shift=shift,
                  omega0=JACOBI_OMEGA if guide is None else WIDE_JACOBI_OMEGA, theta=theta)
    del diag
    bdata = None  # level 0's mass is the identity: its products need no mass data
    level_A, level_shift = A0, a_shift0  # the operator coarsened next, as its products read it
    del A0
    # a big unguided level 0 drops A, 1 / diag and mass data once its products are formed
    # (the first V-cycle there forms them again: vcycle)
    lazy0 = n >= LAZY_ROWS and guide is None
    cand = None  # level 0's candidate, the constant (constant_candidate); then the norms
    while level_A.shape[0] > max_coarse and len(H.P) < max_levels:
        A, a_shift = level_A, level_shift
        guided = guide is not None and not H.P
        if guided:
            agg, nc = aggregate(guide, theta)
            if nc > 0.5 * n:  # the guide's edges are weak too: level 0 as without a guide
                guided = False
                A, bdata = _shifted(L, shift)
                a_shift = 0.0
                H.A[0] = A
                H.omega0 = JACOBI_OMEGA
                H.notes.append("level 0: the guide graph's aggregation stalled, not used")
        if not guided:
            agg, nc = aggregate(A, theta, shift=a_shift)
        smooth = not guided
        if guided:
            H.notes.append("level 0: aggregated on the guide graph, tentative prolongator")
        elif nc > 0.5 * A.shape[0] and theta > 0:
            # stalled (e.g. dithered screentone: every edge is weak): aggregate across all edges,
            # unless that collapses the level below the start block; then a small level is solved
            # densely here (slowly coarsened small levels get dense Galerkin products, which cost
            # more than the O(n^3) dense solve), a big one keeps the slow theta coarsening
            agg0, nc0 = aggregate(A, 0.0, shift=a_shift)
            if nc0 >= min_coarse or nc > 0.85 * A.shape[0]:
                agg, nc = agg0, nc0
                H.notes.append(f"level {len(H.P)}: strength theta {theta} stalled, used 0")
            elif A.shape[0] <= DENSE_CHEAP_MAX:
                break
            else:
                # slow coarsening: the tentative (unsmoothed) prolongator keeps the next
                # level as sparse as this one (smoothing made near-dense Galerkin products)
                smooth = False
        if nc == 0 or nc > 0.85 * A.shape[0]:
            H.notes.append(f"level {len(H.P)}: coarsening stalled at {A.shape[0]}")
            break
        if nc < min_coarse and A.shape[0] <= DENSE_COARSE_MAX:
            break  # the next level could not hold the start block: solve this one densely
        # tentative prolongator of the (single) candidate: T[i, agg_i] = cand_i / ||cand|agg||
        if cand is None:
            norms, t = constant_candidate(agg, nc)
        else:
            norms = np.sqrt(np.bincount(agg, weights=cand * cand, minlength=nc))
            t = cand / norms[agg]
        del cand
        if smooth:
            P = smoothed_prolongator_matrix(A, H.Dinv[-1], agg, t, nc, shift=a_shift)
        else:
            P = sp.csr_matrix((t, agg.astype(A.indices.dtype), np.arange(A.shape[0] + 1,
                               dtype=A.indices.dtype)), shape=(A.shape[0], nc))
            if not guided:
                H.notes.append(f"level {len(H.P)}: slow coarsening, tentative prolongator")
        if guided:
            PT = P.T.tocsr()
            Lc, bdata = _tentative_galerkin(L, PT, agg, t)
            Ac = sp.csr_matrix((Lc.data + shift * bdata, Lc.indices, Lc.indptr), shape=Lc.shape)
        else:
            # A_c = P^T A P and B_c = P^T B P on one pattern, L_c = A_c - s B_c; on level 0 (B = I)
            # B_c = P^T P on A_c's pattern; a big level 0 forms A_c without A P (its rows formed
            # again as P^T reads them, in parallel on threads: the same bits, no A P arrays, 57 B
            # a pixel; a small one, in cache, forms A P: fewer operations)
            identity = not H.P
            if identity:
                if lazy0 and smooth and a_shift != 0.0 and nc < np.iinfo(np.int32).max:
                    H.agg0 = agg.astype(np.int32)  # P[0] is formed again from them (level0_prolongator)
                del bdata, agg, t
                if lazy0:  # level 0's 1 / diag and mass data: read no more here
                    H.A[0] = H.Dinv[0] = None
                    PT = None  # (a big level keeps no P^T: a V-cycle there forms it again)
                    # P^T's pattern alone: its values are read from P's rows (the same floats;
                    # 22 B a pixel less through the Galerkin product and the mass)
                    pt = (*transpose_pattern(P), None)
                    Ac = galerkin_triple_matrix(A, P, pt[0], pt[1], a_shift)
                else:
                    AP = spgemm_pair_matrix(A, None, P, None, x_shift=a_shift)[0]
                    PT = P.T.tocsr()
                    pt = (PT.indptr, PT.indices, PT.data)
                    Ac = spgemm_pair_matrix(PT, None, AP, None)[0]
                    del AP
                del A
                if lazy0 and reform is not None:  # L's last read here: the cascade's prolongation
                    H.reform0 = reform  # to level 0 reads it again (emptied before the mass and
                    _empty_level0(H)  # the coarser levels: 64 B a pixel less at their peaks)
                bdata = np.empty(Ac.nnz)
                mass = threaded(galerkin_identity_mass, n)
                mass(*pt, P.indptr, P.indices, P.data, Ac.indptr, Ac.indices,
                     np.zeros((work_rows(mass, galerkin_identity_mass), Ac.shape[1])), bdata)
                del pt
            else:
                AP, bp = spgemm_pair_matrix(A, bdata, P, P.data)
                del A, bdata, agg, t
                PT = P.T.tocsr()  # formed once A P is (not alive at that product's peak)
                Ac, bdata = spgemm_pair_matrix(PT, PT.data, AP, bp)
                del AP, bp
            Lc = sp.csr_matrix((Ac.data - shift * bdata, Ac.indices, Ac.indptr), shape=Ac.shape)
        Bc = sp.csr_matrix((bdata, Ac.indices, Ac.indptr), shape=Ac.shape)
        H.P.append(P)
        # a big level's transpose is needed only by a V-cycle there (the pixel level of a big
        # image usually makes none): dropped now, formed again on demand (vcycle)
        H.PT.append(None if P.shape[0] >= LAZY_ROWS else PT)
        del PT
        H.L.append(Lc)
        H.B.append(Bc)
        H.A.append(Ac)
        level_A, level_shift = Ac, 0.0
        H.Y.append(norms.reshape(-1, 1))
        H.Dinv.append(1.0 / Ac.diagonal())
        cand = norms
    del level_A
    if H.A[0] is None and not H.P:  # level 0 is the coarsest: its factor reads A now
        H.A[0] = _shifted(L, shift, mass=False)[0]
    # (otherwise level 0's A = L + s I, read through L by the setup, is formed by the first
    # V-cycle there, with the same values: a pixel level that stops at its start, as most do,
    # never forms it; toof 4 ms)
    if H.A[-1].shape[0] <= DENSE_COARSE_MAX:
        H.coarse_factor = sla.cho_factor(H.A[-1].toarray(), lower=False)
    if H.P and lazy0:  # formed again by the first V-cycle on level 0
        # (vcycle; a guided level 0 smooths with L itself, which the shader keeps anyway)
        H.A[0] = None
        H.Dinv[0] = None
        if H.agg0 is not None:
            # read by no coarser level: formed again from the aggregates when the cascade
            # prolongates to level 0 (34 B a pixel less while the coarse levels are solved)
            H.P[0] = None  # type: ignore[call-overload]
    return H


def level_operator(H: Hierarchy, level: int) -> sp.csr_matrix:
    """``H.A[level]``, formed (with its inverse diagonal ``H.Dinv[level]``) when the setup left it
    to the first V-cycle there (level 0, read through ``L`` by the setup; a big level): the same
    values as the setup read.
    """
    if H.A[level] is None:
        H.A[level] = _shifted(H.L[level], H.shift, mass=False)[0]
        H.Dinv[level] = inverse_shifted(main_diagonal(H.L[level]), H.shift)
    return H.A[level]


def vcycle(H: Hierarchy, level: int, R: np.ndarray) -> np.ndarray:
    """One block V-cycle for ``H.A[level] X = R`` from ``X = 0``.

    Damped Jacobi, one pre- and one post-sweep; the coarsest level is solved by its Cholesky
    factor (four Jacobi sweeps when it has none).  ``R`` (n_level, m) is not modified; returns a
    new (n_level, m) float64 block.
    """
    if level == len(H.P):
        if H.coarse_factor is not None:  # (C order: the kernels compile for one layout)
            return np.ascontiguousarray(sla.cho_solve(H.coarse_factor, R, check_finite=False))
        dinv = H.Dinv[level][:, None]  # coarsest level too big for Cholesky: 4 Jacobi sweeps
        X = (JACOBI_OMEGA * dinv) * R
        for _ in range(3):
            X += (JACOBI_OMEGA * dinv) * (R - H.A[level] @ X)
        return X
    level_operator(H, level)
    if H.P[level] is None:  # dropped by the cascade once the pixel level's start was formed
        H.P[level] = level0_prolongator(H)
    if H.PT[level] is None:
        H.PT[level] = H.P[level].T.tocsr()
    A, P, PT = H.A[level], H.P[level], H.PT[level]
    wdinv = (H.omega0 if level == 0 else JACOBI_OMEGA) * H.Dinv[level]
    R = np.require(R, dtype=np.float64, requirements="C")
    X = np.empty_like(R)
    T = np.empty_like(R)
    n = R.shape[0]
    threaded(jacobi_start, n)(A.indptr, A.indices, A.data, wdinv, R, X, T)  # X = wdinv R, T = R - A X
    Rc = np.empty((PT.shape[0], R.shape[1]))
    threaded(csr_matmat, PT.shape[0])(PT.indptr, PT.indices, PT.data, T, Rc)
    Xc = vcycle(H, level + 1, Rc)
    threaded(csr_matmat_add, n)(P.indptr, P.indices, P.data, Xc, X)
    threaded(jacobi_sweep, n)(A.indptr, A.indices, A.data, wdinv, X, R, T)
    return T

