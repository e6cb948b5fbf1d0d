"""Spectral basis of the pixel-graph Laplacian: LOBPCG preconditioned by PyAMG aggregation.

:func:`spectral_basis` returns the ``k`` lowest **non-trivial** eigenvectors of the weighted
pixel-graph Laplacian ``L`` (``original-system.md`` §1), globally or per overlapping tile
(§2.3), or the original's 50-step Krylov field (``--basis krylov``, §2.1).

Global solver (``method="lobpcg"``), a multigrid *cascade*:

1. **Hierarchy.**  Smoothed aggregation on ``A = L + s I`` built from PyAMG's pieces
   (``symmetric_strength_of_connection``, ``standard_aggregation``, ``fit_candidates`` with the
   constant candidate), Jacobi-smoothed prolongators ``P = (I - w D^-1 A) T``.  The shift
   ``s = 1e-5 * mean degree`` (sklearn's ``amg`` recipe adds ``1e-5 I`` for the same reason) makes
   ``A`` positive definite so the coarsest level has a Cholesky solve; it is 100× smaller than
   the eigenvalues we resolve on real line art (``~1e-6 … 1e-4``, measured) relative to the mean
   degree (≈ 4), so the preconditioner stays an approximate inverse of ``L`` on the wanted
   subspace.  The strength threshold ``theta = 0.05`` cuts edges lighter than ``0.05·sqrt(a_ii a_jj)``
   (ink/paper edges, weight ``exp(-Δ/τ) < 0.2``), so aggregates never straddle a stroke border
   and the coarse spaces can represent the nearly piecewise-constant low modes of line art.
   The prolongation damping uses the Gershgorin bound ``rho(D^-1 A) <= 2`` (``w = 2/3``, PyAMG's
   ``4/3 / rho``) instead of PyAMG's Arnoldi estimate (that estimate was 90 % of PyAMG's setup).
   Nodes without a strong neighbour (isolated specks) become singleton aggregates instead of
   being dropped: specks are exactly the nearly disconnected pieces that carry tiny eigenvalues.
   Apart from these two changes every level up to a stalled one (below) equals
   ``pyamg.smoothed_aggregation_solver``'s
   (``tests/test_spectral.py::test_hierarchy_is_pyamgs_smoothed_aggregation``).
   Setup products are Numba kernels (:mod:`fastshade.kernels.blockops`): ``P`` straight from the
   aggregate map, and ``A_c = P^T A P``, ``B_c = P^T B P`` on one shared pattern by two
   Gustavson products (``A P`` then ``P^T (A P)``), ``L_c = A_c - s B_c`` on the same pattern
   (no ``fit_candidates``, no scipy sparse adds/format conversions).  A slowly coarsening
   stalled level (aggregation keeps > 50 % of the nodes and ``theta = 0`` would collapse it)
   uses the tentative prolongator ``T``: smoothing it there made near-dense coarse operators.
2. **Cascade.**  The generalised problem ``P^T L P y = λ P^T P y`` is solved densely on the
   coarsest level (orthogonal complement of the coarse constant; a coarsest level of more than
   :data:`COARSE_LOBPCG_MIN` unknowns gets :data:`COARSE_LOBPCG_ITERS` LOBPCG iterations with
   the exact Cholesky solve as preconditioner instead), prolongated one level, refined
   by a few LOBPCG iterations (preconditioner: block V-cycle of the remaining hierarchy), and so
   on down to the pixel level, where LOBPCG runs until every one of the ``k`` wanted residuals
   ``||L v - λ v||_2`` (unit ``v``) is ``<= tol``.  The block carries ``guard`` extra vectors.
   By default the pixel-level LOBPCG is ``scipy.sparse.linalg.lobpcg`` (float32 at loose
   tolerances, the same block V-cycle as preconditioner, started from the first ``k``
   prolongated columns; fastshade's block LOBPCG again when SciPy returns before ``tol``,
   :func:`_scipy_pixel_lobpcg`); the coarse levels use fastshade's block LOBPCG
   (``lobpcg_impl``).
   Levels 2 and up get ``coarse_iters`` (3) iterations; level 1, the first coarse level
   (~n/6 unknowns, where an iteration costs as much as all coarser levels together), gets
   :data:`FIRST_COARSE_ITERS` (1): the pixel-level residual after prolongation is set by the
   interpolation error, which level-1 iterations do not reduce (toof: 5.2e-3 with 1, 2 or 3).
3. **Deflation.**  The constant vector (the trivial null vector of a connected grid) is a hard
   constraint at every level (``Y`` in LOBPCG terms).  For a graph with several components (or
   effectively disconnected pieces) the other null vectors are piecewise-constant indicators
   orthogonal to the constant; they are *non-trivial* and are returned.

fastshade's block LOBPCG (:func:`_lobpcg`) keeps ``X``, ``W``, ``P`` as separate C-order blocks,
forms ``L V`` and ``B V`` in one fused Numba pass over the shared coarse pattern, never orthonormalises ``W``/``P``
in ``n``-space (the small Gram matrices are whitened in the Rayleigh-Ritz step) and, on coarse
levels with many entries per row, updates the products by small GEMMs.  The V-cycle smoother and
the pixel-level Ritz rotation + residual norms are fused Numba passes (:mod:`fastshade.kernels.blockops`).

Determinism: the start block comes from the deterministic coarsest dense solve (a big coarsest
level starts from a block seeded by ``seed``; seeded random columns also pad the start when the
coarse space is too small); no reduction whose order depends on memory alignment (no ``einsum``
on anything returned),
single code path, fixed sign convention (the entry of largest ``|value|`` is positive, lowest
index on ties, as sklearn's ``_deterministic_vector_sign_flip``).  Vectors of a degenerate
cluster are not unique: the returned basis of the cluster is the one this algorithm produces;
compare subspaces (principal angles) or the gates, not single vectors.

Tiled solver (``tile_size > 0``): tiles and blending exactly as ``original-system.md`` §2.3; every
tile is the Laplacian of the tile alone (sub-matrix of ``L`` with its own degrees), solved for
``k`` vectors by the same solver (dense ``eigh`` for small tiles); each tile's vectors get a
seeded random sign (``tile_sign="seeded"``, like the original's per-tile random starts) or the
deterministic max-abs sign (``tile_sign="max-abs"``).  Tiles without any contour pixel
(``fastshade.pipeline.gates.contour_mask``) are skipped: they add nothing to either blend sum, so pixels
covered only by skipped tiles have field value 0.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from fastshade.checks import check_integer, check_real
from fastshade.options import MAX_K

__all__ = [
    "SpectralBasis",
    "spectral_basis",
    "tile_starts",
    "blend_weights_1d",
    "sign_flip",
    "DEFAULT_TOL",
    "DENSE_MAX_N",
]

DEFAULT_TOL = 1e-2
"""Default residual tolerance ``||L v - λ v||_2`` per unit column, chosen by measurement.

What the shader uses the basis for (the gates come from the heat random field): the thicken
reach ``floor(3 (1 - 0.7 Ê))`` per high-gate pixel and, in cross mode, the basis-reading
quantities when they are chosen (Procrustes, affinities, ``dot``/``cosine`` scores; the default
``signature`` score reads the gating field).
Against ``eigsh`` references (tol 1e-12), thicken-reach agreement on the high-gate pixels of
every image in ``../shared/images`` was >= 99 % at every tolerance tried (the loosest, 1e-2,
usually stops right after the cascade: 0-1 pixel-level iterations):

=============  ======  ======  ======  ======  ====================================
image          1e-2    3e-3    1e-3    1e-4    signature Gram rel. err. at 1e-2/1e-4
=============  ======  ======  ======  ======  ====================================
toof           1.0000  1.0000  1.0000  1.0000  3.4e-2 / 9.7e-3
enso           1.0000  1.0000  1.0000  1.0000  2.5e-2 / 3.7e-4
enso-ii        1.0000  1.0000  1.0000  1.0000  2.4e-2 / 4.0e-4
red-tonegraph  1.0000  1.0000  1.0000  1.0000  2.7e-2 / 4.0e-4
snek-heavy     0.9999  0.9999  0.9999  1.0000  4.9e-2 / 2.7e-2
offhand        0.9986  0.9999  0.9999  1.0000  1.5e-1 / 1.2e-3
1bit redraw    0.9952  0.9948  0.9953  1.0000  6.3e-1 / 1.4e-2
=============  ======  ======  ======  ======  ====================================

(full table with subspace angles and CPU times in ``/work/notes/spectral_findings.md``,
section "Tolerance for the shader"; the 1e-2 column re-measured after the Numba setup, the
others are from the scipy-setup hierarchy; the current build gives offhand 0.9998 and 1bit
redraw 0.9940 at 1e-2, checked by ``tests/test_tolerance_shared.py``).  The signatures are *not*
converged at 1e-2 (relative errors of a few % and 63 % on the dithered 1bit image, whose
near-zero cluster the cascade does not resolve); pass ``tol=1e-4`` when cross-mode affinities
must match the exact basis.
"""

DENSE_MAX_N = 600
"""Graphs with at most this many pixels are solved by dense ``numpy.linalg.eigh``."""

SHIFT_REL = 1e-5
"""AMG shift ``s = SHIFT_REL * mean degree`` (see module docstring)."""

STRENGTH_THETA = 0.05
"""Symmetric strength-of-connection threshold of the aggregation."""

MAX_COARSE = 400
"""Coarsening stops at this many unknowns (the coarsest level is solved densely)."""

DENSE_COARSE_MAX = 2500
"""A coarsest level larger than this (stalled coarsening) gets no dense solve / Cholesky."""

DENSE_CHEAP_MAX = 1200
"""A stalled level up to this size becomes the (dense) coarsest level instead of coarsening slowly."""

JACOBI_OMEGA = 2.0 / 3.0
"""Damping of the prolongation smoother and of the V-cycle smoother (``4/3 / rho``, ``rho <= 2``)."""


COARSE_LOBPCG_MIN = 800
"""A coarsest level with more unknowns than this (up to :data:`DENSE_COARSE_MAX`) is solved
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

DENSE_UPDATE_NNZ = 12
"""Coarse levels with more stored entries per row than this update ``L X``, ``B X``, ``L P``,
``B P`` densely in LOBPCG (sparse products there cost more than the small GEMMs)."""

RR_CUT = 1e-10
"""Rayleigh-Ritz drops basis directions whose whitened mass Gram eigenvalue is below this
(relative to the largest): numerically dependent ``W``/``P`` columns."""


@dataclass(frozen=True)
class SpectralBasis:
    """``k`` non-trivial basis vectors of the pixel-graph Laplacian of an ``(H, W)`` image.

    vectors : float64 (H*W, k); column ``j`` is the ``j``-th non-trivial vector (the constant
        vector is excluded), unit 2-norm (zero columns only as padding, see ``info["n_valid"]``).
    values : float64 (k,), ascending Rayleigh quotients, NaN-free.
    shape : (H, W).
    method : "lobpcg", "lobpcg-tiled", "krylov", "dense" or "trivial".
    info : JSON-serialisable diagnostics (iterations, residuals, tol, timings, warnings).
    """

    vectors: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]
    method: str
    info: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------


def sign_flip(vectors: np.ndarray) -> np.ndarray:
    """Flip columns in place so the entry of largest ``|value|`` is positive (lowest index wins).

    ``vectors`` float (n, m), modified and returned.  Zero columns are left alone.
    """
    if vectors.size == 0:
        return vectors
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    vectors *= signs
    return vectors


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile starts along one axis (``original-system.md`` §2.3).

    ``0, step, 2 step, ...`` up to ``length - tile`` plus ``length - tile`` when the last tile
    does not reach the edge (``step = tile - overlap``); ``[0]`` when ``length <= tile``.
    """
    if length <= tile:
        return [0]
    step = max(tile - overlap, 1)
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return sorted(set(starts))


def blend_weights_1d(length: int, overlap: int) -> np.ndarray:
    """1-D blend ramp (§2.3): ones; if ``overlap > 0`` and ``length > 2 overlap`` the first
    ``overlap`` entries are ``i / (overlap + 1)``, ``i = 1..overlap``, the last ones mirrored."""
    w = np.ones(length)
    if overlap > 0 and length > 2 * overlap:
        ramp = np.arange(1, overlap + 1, dtype=np.float64) / (overlap + 1)
        w[:overlap] = ramp
        w[length - overlap:] = ramp[::-1]
    return w


def _residual_norms(L: sp.csr_matrix, values: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    if vectors.shape[1] == 0:
        return np.zeros(0)
    r = L @ vectors - vectors * values[None, :]
    return np.linalg.norm(r, axis=0)


# ----------------------------------------------------------------------------------------
# smoothed-aggregation hierarchy (PyAMG pieces)
# ----------------------------------------------------------------------------------------


@dataclass
class _Hierarchy:
    """Levels ``l = 0..nl``: operators ``L[l]``, mass ``B[l]`` (None = identity at level 0),
    shifted ``A[l] = L[l] + s B[l]``, prolongators ``P[l]`` (level l+1 -> l), constants ``Y[l]``."""

    L: list
    B: list
    A: list
    P: list
    PT: list
    Y: list
    Dinv: list
    shift: float
    coarse_factor: Any = None
    notes: list = field(default_factory=list)


def _aggregate(A: sp.csr_matrix, theta: float) -> tuple[np.ndarray, int]:
    """Aggregate of every node (int64 (n,)) and the aggregate count, from PyAMG's standard
    aggregation on the symmetric strength graph; unaggregated nodes become singletons
    (numbered after PyAMG's aggregates, in node order)."""
    from pyamg.aggregation import standard_aggregation

    from fastshade.kernels.blockops import strength_pattern

    # the pattern of pyamg.strength.symmetric_strength_of_connection (standard aggregation
    # reads only the pattern; the values and their row scaling are not formed)
    s_indptr = np.empty_like(A.indptr)
    s_indices = np.empty_like(A.indices)
    nnz = strength_pattern(A.indptr, A.indices, A.data, np.abs(A.diagonal()), float(theta),
                           s_indptr, s_indices)
    S = sp.csr_array((np.ones(nnz), s_indices[:nnz], s_indptr), shape=A.shape)
    agg_op = standard_aggregation(S)[0].tocsr()
    n = A.shape[0]
    counts = np.diff(agg_op.indptr)
    agg = np.empty(n, dtype=np.int64)
    has = counts > 0
    agg[has] = agg_op.indices[agg_op.indptr[:-1][has]]
    lonely = np.flatnonzero(~has)
    agg[lonely] = agg_op.shape[1] + np.arange(lonely.size)
    return agg, int(agg_op.shape[1] + lonely.size)


def _index_dtype(nnz: int) -> type:
    return np.int32 if nnz < np.iinfo(np.int32).max else np.int64


def _csr_from_counts(counts: np.ndarray) -> np.ndarray:
    indptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr


def _symbolic_csr(rows: int, cols: int, count_rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First pass of a two-pass CSR kernel: ``count_rows(pos, counts)`` fills the row counts;
    returns the reset marker array ``pos`` (-1, (cols,)), ``indptr`` and empty ``indices``
    (int32 when the sizes allow)."""
    pos = np.full(cols, -1, dtype=np.int64)
    counts = np.empty(rows, dtype=np.int64)
    count_rows(pos, counts)
    indptr = _csr_from_counts(counts)
    nnz = int(indptr[-1])
    idx_t = _index_dtype(max(nnz, cols))
    pos.fill(-1)
    return pos, indptr.astype(idx_t), np.empty(nnz, dtype=idx_t)


def _smoothed_prolongator(A: sp.csr_matrix, dinv: np.ndarray, agg: np.ndarray, t: np.ndarray,
                          nc: int) -> sp.csr_matrix:
    """``P = (I - w D^-1 A) T``, ``T[i, agg[i]] = t[i]`` (Numba kernel, two passes)."""
    from fastshade.kernels.blockops import smoothed_prolongator, smoothed_prolongator_row_nnz

    n = A.shape[0]
    pos, indptr, indices = _symbolic_csr(
        n, nc, lambda pos, counts: smoothed_prolongator_row_nnz(A.indptr, A.indices, agg,
                                                                pos, counts))
    data = np.empty(indices.size)
    smoothed_prolongator(A.indptr, A.indices, A.data, dinv, JACOBI_OMEGA, agg, t,
                         indptr, pos, indices, data)
    return sp.csr_matrix((data, indices, indptr), shape=(n, nc))


def _spgemm_pair(X: sp.csr_matrix, x2: np.ndarray, Y: sp.csr_matrix,
                 y2: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """``X @ Y`` and the data of ``X2 @ Y2`` on the same pattern (``X2``, ``Y2``: data ``x2``,
    ``y2`` on the patterns of ``X``, ``Y``); one-pass Numba Gustavson kernel into outputs
    sized by the bound ``sum_p rowlen_Y(x_indices[p])`` (pages past ``nnz`` stay untouched)."""
    from fastshade.kernels.blockops import spgemm_pair_bounded

    from fastshade.kernels.blockops import spgemm_bound

    r, c = X.shape[0], Y.shape[1]
    bound = int(spgemm_bound(X.indices[:X.nnz], Y.indptr))
    idx_t = _index_dtype(max(bound, c, r))
    indptr = np.empty(r + 1, dtype=idx_t)
    indices = np.empty(bound, dtype=idx_t)
    c1 = np.empty(bound)
    c2 = np.empty(bound)
    nnz = spgemm_pair_bounded(X.indptr, X.indices, X.data, x2, Y.indptr, Y.indices, Y.data, y2,
                              np.full(c, -1, dtype=np.int64), np.zeros(c), np.zeros(c),
                              indptr, indices, c1, c2)
    # shrink the bound-sized buffers in place (SciPy would copy views of larger arrays)
    for buf in (indices, c1, c2):
        buf.resize(nnz, refcheck=False)
    return sp.csr_matrix((c1, indices, indptr), shape=(r, c)), c2


def _build_hierarchy(L: sp.csr_matrix, theta: float | None = None,
                     max_coarse: int | None = None, max_levels: int = 12,
                     min_coarse: int = 0) -> _Hierarchy:
    theta = STRENGTH_THETA if theta is None else theta
    max_coarse = MAX_COARSE if max_coarse is None else max_coarse
    n = L.shape[0]
    diag = L.diagonal()
    mean_deg = float(diag.mean()) if n else 0.0
    shift = SHIFT_REL * mean_deg if mean_deg > 0 else 1.0
    # A = L + s I: when every row stores its diagonal once (the image Laplacians do), add s on
    # L's own pattern (same values as the sparse sum); the mass data on that pattern is the
    # identity's diagonal
    on_diag = L.indices == np.repeat(np.arange(n, dtype=L.indices.dtype), np.diff(L.indptr))
    if np.array_equal(np.bincount(L.indices[on_diag], minlength=n), np.ones(n, dtype=np.int64)):
        A0 = sp.csr_matrix((L.data + shift * on_diag, L.indices, L.indptr), shape=L.shape)
        bdata = on_diag.astype(np.float64)
    else:
        A0 = (L + shift * sp.identity(n, format="csr")).tocsr()
        rows0 = np.repeat(np.arange(n), np.diff(A0.indptr))
        bdata = (A0.indices == rows0).astype(np.float64)
    H = _Hierarchy(L=[L], B=[None], A=[A0], P=[], PT=[], Y=[np.ones((n, 1))],
                   Dinv=[1.0 / (diag + shift)], shift=shift)
    cand = np.ones(n)
    while H.A[-1].shape[0] > max_coarse and len(H.P) < max_levels:
        A = H.A[-1]
        agg, nc = _aggregate(A, theta)
        smooth = True
        if nc > 0.5 * A.shape[0] and theta > 0:
            # stalled (e.g. dithered screentone: every edge is weak): aggregate across all
            # edges, unless that collapses the level below the start block; then a small
            # level is solved densely here, a big one keeps the slow theta coarsening (the
            # dense coarsest solve costs O(n^3); slowly coarsened small levels get dense
            # Galerkin products, which cost more than the dense solve)
            agg0, nc0 = _aggregate(A, 0.0)
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
        norms = np.sqrt(np.bincount(agg, weights=cand * cand, minlength=nc))
        t = cand / norms[agg]
        if smooth:
            P = _smoothed_prolongator(A, H.Dinv[-1], agg, t, nc)
        else:
            P = sp.csr_matrix((t, agg.astype(A.indices.dtype), np.arange(A.shape[0] + 1,
                               dtype=A.indices.dtype)), shape=(A.shape[0], nc))
            H.notes.append(f"level {len(H.P)}: slow coarsening, tentative prolongator")
        PT = P.T.tocsr()
        # Galerkin products A_c = P^T A P and B_c = P^T B P on one pattern, L_c = A_c - s B_c
        AP, bp = _spgemm_pair(A, bdata, P, P.data)
        Ac, bdata = _spgemm_pair(PT, PT.data, AP, bp)
        Bc = sp.csr_matrix((bdata, Ac.indices, Ac.indptr), shape=Ac.shape)
        Lc = sp.csr_matrix((Ac.data - shift * bdata, Ac.indices, Ac.indptr), shape=Ac.shape)
        H.P.append(P)
        H.PT.append(PT)
        H.L.append(Lc)
        H.B.append(Bc)
        H.A.append(Ac)
        H.Y.append(norms.reshape(-1, 1))
        H.Dinv.append(1.0 / Ac.diagonal())
        cand = norms
    if H.A[-1].shape[0] <= DENSE_COARSE_MAX:
        H.coarse_factor = sla.cho_factor(H.A[-1].toarray(), lower=False)
    return H


def _vcycle(H: _Hierarchy, level: int, R: np.ndarray) -> np.ndarray:
    """One block V-cycle for ``A[level] X = R`` from ``X = 0`` (damped Jacobi, 1 pre + 1 post)."""
    if level == len(H.P):
        if H.coarse_factor is not None:
            return sla.cho_solve(H.coarse_factor, R, check_finite=False)
        dinv = H.Dinv[level][:, None]  # coarsest level too big for Cholesky: 4 Jacobi sweeps
        X = (JACOBI_OMEGA * dinv) * R
        for _ in range(3):
            X += (JACOBI_OMEGA * dinv) * (R - H.A[level] @ X)
        return X
    from fastshade.kernels.blockops import csr_matmat, csr_residual, jacobi_sweep

    A, P, PT = H.A[level], H.P[level], H.PT[level]
    wdinv = JACOBI_OMEGA * H.Dinv[level]
    R = np.require(R, dtype=np.float64, requirements="C")
    X = R * wdinv[:, None]
    T = np.empty_like(R)
    csr_residual(A.indptr, A.indices, A.data, X, R, T)
    Rc = np.empty((PT.shape[0], R.shape[1]))
    csr_matmat(PT.indptr, PT.indices, PT.data, T, Rc)
    Xc = _vcycle(H, level + 1, Rc)
    csr_matmat(P.indptr, P.indices, P.data, Xc, T)
    X += T
    jacobi_sweep(A.indptr, A.indices, A.data, wdinv, X, R, T)
    return T


# ----------------------------------------------------------------------------------------
# LOBPCG (block, generalised, with a constraint)
# ----------------------------------------------------------------------------------------


def _small_rr(GA: np.ndarray, GB: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Lowest ``m`` Ritz pairs of a basis ``S`` given ``GA = S^T A S`` and ``GB = S^T B S``.

    ``S`` need not be B-orthonormal: its columns are scaled to unit B-norm, ``GB`` is
    whitened by its eigendecomposition and directions with eigenvalues below
    ``RR_CUT * max`` (numerically dependent columns) are dropped.  Returns ``(values,
    C)`` with ``C`` (ncol, <= m) so that ``S C`` are the Ritz vectors (B-orthonormal), or
    None when nothing is left.
    """
    GA = 0.5 * (GA + GA.T)
    GB = 0.5 * (GB + GB.T)
    d = np.diag(GB).copy()
    s = np.zeros_like(d)
    pos = d > 0
    s[pos] = 1.0 / np.sqrt(d[pos])
    w, U = np.linalg.eigh(GB * s[:, None] * s[None, :])
    if not np.isfinite(w).all() or w[-1] <= 0:
        return None
    keep = w > RR_CUT * w[-1]
    T = (s[:, None] * U[:, keep]) / np.sqrt(w[keep])
    G = T.T @ GA @ T
    lam, Z = np.linalg.eigh(0.5 * (G + G.T))
    mm = min(m, Z.shape[1])
    return lam[:mm], T @ Z[:, :mm]


def _lobpcg(L, B, X, Y, precond, tol: float, maxiter: int, k: int,
            dense_updates: bool = False) -> dict:
    """Smallest eigenpairs of ``L v = λ B v`` with ``v ⟂_B Y``; ``X`` (n, m) start block.

    ``B = None`` means the identity (no mass products are formed).  Stops when the first
    ``k`` residual norms ``||L x - λ B x||`` are ``<= tol`` or after ``maxiter`` iterations.
    ``W`` is projected against ``Y`` and ``X`` in ``n``-space; ``W`` and ``P`` are never
    orthonormalised there: the Rayleigh-Ritz step whitens the small Gram matrices instead
    (:func:`_small_rr`).  ``L V`` and ``B V`` of every block come from one fused sparse pass
    (:func:`fastshade.kernels.blockops.csr_matmat_pair` on the shared pattern of coarse levels), so the
    residuals are those of fresh products; with ``dense_updates`` (coarse levels with many
    entries per row) only ``W``'s products are sparse and ``L X, B X, L P, B P`` are updated
    from the Ritz coefficients by small GEMMs instead.  ``X`` may be overwritten.  Returns a dict with
    ``values`` (m,), ``vectors`` (n, m), ``iterations``, ``residuals`` (m,) of the returned
    vectors; when the start block already meets ``tol`` with ``B = None`` only the first
    ``min(k, m)`` pairs are formed and returned.
    """
    from fastshade.kernels.blockops import (csr_matmat, csr_matmat_pair, ritz_residual, rotate_residual,
                                  subtract_outer)

    identity = B is None
    shared = (not identity and B.indptr is L.indptr and B.indices is L.indices)

    def products(V, AV, BV):
        if identity:
            csr_matmat(L.indptr, L.indices, L.data, V, AV)
        elif shared:
            csr_matmat_pair(L.indptr, L.indices, L.data, B.data, V, AV, BV)
        else:
            csr_matmat(L.indptr, L.indices, L.data, V, AV)
            csr_matmat(B.indptr, B.indices, B.data, V, BV)

    n = X.shape[0]
    BY = Y if identity else B @ Y
    YBYinv = np.linalg.inv(Y.T @ BY)

    def project(V):
        coef = YBYinv @ (BY.T @ V)
        if Y.shape[1] == 1:  # the constant (or its coarse image): no (n, m) temporary
            subtract_outer(V, Y[:, 0], coef[0])
        else:
            V -= Y @ coef
        return V

    X0 = project(np.require(X, dtype=np.float64, requirements="C"))
    m0 = X0.shape[1]
    AX0 = np.empty_like(X0)
    BX0 = X0 if identity else np.empty_like(X0)
    products(X0, AX0, BX0)
    rr = _small_rr(X0.T @ AX0, X0.T @ BX0, m0)
    if rr is None:
        raise np.linalg.LinAlgError("start block is rank deficient")
    lam, C = rr
    m = C.shape[1]  # rank-deficient start: keep what we have
    if identity:
        # pixel level: the k wanted Ritz vectors and their residual norms in one pass (the
        # usual stop: the cascade's start is already within tol); the whole block only if we
        # go on, with AX = AX0 C
        kk = min(k, m)
        X = np.empty((n, kk))
        rsq = np.empty(kk)
        rotate_residual(X0, AX0, np.ascontiguousarray(C[:, :kk]), lam[:kk], X, rsq)
        rn = np.sqrt(rsq)
        if maxiter == 0 or rn.max(initial=0.0) <= tol:
            return dict(values=lam[:kk], vectors=X, iterations=0, residuals=rn)
        X = np.empty((n, m))
        rsq = np.empty(m)
        rotate_residual(X0, AX0, C, lam, X, rsq)
        AX = AX0 @ C
        BX = X
    else:
        X, AX, BX = X0 @ C, AX0 @ C, BX0 @ C
    del X0, AX0, BX0
    R = np.empty((n, m))
    rsq = np.empty(m)
    P = AP = BP = None
    it = 0
    rn = np.full(m, np.inf)
    for it in range(maxiter + 1):
        ritz_residual(AX, BX, lam, R, rsq)
        rn = np.sqrt(rsq)
        if it == maxiter or rn[:k].max() <= tol:
            break
        W = project(precond(R))
        W -= X @ (BX.T @ W)
        AW = np.empty_like(W)
        BW = W if identity else np.empty_like(W)
        products(W, AW, BW)
        blocks = [(X, AX, BX), (W, AW, BW)] + ([] if P is None else [(P, AP, BP)])
        nb = len(blocks)
        GA = np.empty((nb * m, nb * m))
        GB = np.empty((nb * m, nb * m))
        # X holds B-orthonormal Ritz vectors: X^T L X = diag(lam), X^T B X = I (as SciPy's)
        GA[:m, :m] = np.diag(lam)
        GB[:m, :m] = np.eye(m)
        for i in range(nb):
            for j in range(i, nb):
                if i == j == 0:
                    continue
                si, sj = slice(i * m, (i + 1) * m), slice(j * m, (j + 1) * m)
                GA[si, sj] = blocks[i][0].T @ blocks[j][1]
                GB[si, sj] = blocks[i][0].T @ blocks[j][2]
                GA[sj, si] = GA[si, sj].T
                GB[sj, si] = GB[si, sj].T
        rr = _small_rr(GA, GB, m)
        if rr is None or rr[1].shape[1] < m:
            break
        lam, C = rr
        # X <- S C, P <- (W, P) part of S C; their L and B products by fresh sparse passes
        Cw, Cp, Cx = C[m:2 * m], C[2 * m:], C[:m]
        Pn = W @ Cw
        if nb == 3:
            Pn += P @ Cp
        if dense_updates:
            APn = AW @ Cw
            BPn = None if identity else BW @ Cw
            if nb == 3:
                APn += AP @ Cp
                if not identity:
                    BPn += BP @ Cp
            AX = AX @ Cx
            AX += APn
            if not identity:
                BX = BX @ Cx
                BX += BPn
            AP, BP = APn, (Pn if identity else BPn)
        P = Pn
        X = X @ Cx
        X += P
        if identity:
            BX = X
        if not dense_updates:
            AX = np.empty_like(X)
            BX = X if identity else np.empty_like(X)
            products(X, AX, BX)
            AP = np.empty_like(P)
            BP = P if identity else np.empty_like(P)
            products(P, AP, BP)
    return dict(values=lam, vectors=X, iterations=it, residuals=rn)


# ----------------------------------------------------------------------------------------
# solvers
# ----------------------------------------------------------------------------------------


def _dense_solve(L: sp.spmatrix, k: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Exact lowest ``min(k, n-1)`` non-trivial pairs by dense ``eigh`` in the constant's complement."""
    n = L.shape[0]
    Ld = L.toarray() if sp.issparse(L) else np.asarray(L, dtype=np.float64)
    m = min(k, n - 1)
    if m <= 0:
        return np.zeros(0), np.zeros((n, 0)), {}
    # complement of the constant vector: columns 1.. of a Householder reflector (deterministic)
    v = _householder_vector(np.ones(n))
    Lq = _reflect_both(Ld, v)[1:, 1:]
    vals, vecs = np.linalg.eigh(0.5 * (Lq + Lq.T))
    X = np.vstack([np.zeros((1, m)), vecs[:, :m]])
    X -= np.outer(v, 2.0 * (v @ X))
    return vals[:m].copy(), X, {}


def _householder_vector(b: np.ndarray) -> np.ndarray:
    """Unit ``v`` with ``(I - 2 v v^T) b = -sign(b_0) ||b|| e_0``; columns 1.. of that reflector
    are an orthonormal basis of the complement of ``b`` (O(n) to build, O(n^2) to apply)."""
    v = np.array(b, dtype=np.float64)
    nb = np.linalg.norm(v)
    v[0] += (1.0 if v[0] >= 0 else -1.0) * nb
    nv = np.linalg.norm(v)
    return v / nv if nv > 0 else v


def _reflect_both(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``H M H`` for symmetric dense ``M`` and ``H = I - 2 v v^T`` (rank-2 update, new array)."""
    Mv = M @ v
    w = 2.0 * Mv - 2.0 * (v @ Mv) * v
    return M - np.outer(v, w) - np.outer(w, v)


LOBPCG_IMPLS = ("scipy-pixel", "block", "scipy")
"""``lobpcg_impl`` choices.  ``"scipy-pixel"`` (the default): ``scipy.sparse.linalg.lobpcg``
for the pixel-level (full-size) solve, preconditioned by the block V-cycle and warm-started
by the cascade's coarse levels, which run fastshade's block LOBPCG (:func:`_scipy_pixel_lobpcg`;
the block LOBPCG also takes over when SciPy returns before ``tol``).
``"block"``: fastshade's block LOBPCG (:func:`_lobpcg`) on every level, SciPy's nowhere
(the basis 6-36 % faster on the shared images and the 1152x832 demo: it makes fewer
passes over the full-size block).  ``"scipy"``: SciPy's on
every level."""


SINGLE_PRECISION_MIN_TOL = 1e-4
"""The pixel-level SciPy solve of ``lobpcg_impl="scipy-pixel"`` runs in float32 when ``tol`` is
at least this: float32 rounding moves a residual norm ``||L v - λ v||`` of a unit column of a
512² line-art Laplacian by ~1e-6, two orders below this bound.  Tighter tolerances run in
float64."""


def _scipy_lobpcg(L, B, X, Y, precond, tol: float, maxiter: int, k: int,
                  dense_updates: bool = False, single: bool = False) -> dict:
    """:func:`_lobpcg`'s contract on ``scipy.sparse.linalg.lobpcg``.

    The preconditioner is a ``LinearOperator`` whose ``matmat`` applies the block V-cycle to
    all columns at once (PyAMG's ``aspreconditioner`` loops over columns, which made SciPy's
    LOBPCG ~300x slower here).  SciPy stops when *every* block column (guards included)
    meets ``tol``; ``tol = 0`` runs ``maxiter`` iterations.  ``dense_updates`` is ignored.
    ``single``: SciPy iterates in float32 (operators, block and preconditioned residuals;
    the V-cycle itself runs in float64), as its documentation describes for a float32 ``X``.
    Returned ``values``/``vectors`` are float64; ``residuals`` are SciPy's own norms of the
    returned vectors (its final Rayleigh-Ritz step); ``iterations`` counts the LOBPCG updates
    before the iterate SciPy returns.  SciPy's ``maxiter`` counts loop passes, one more than
    updates, so it gets ``maxiter - 1``: at most ``maxiter`` updates, as :func:`_lobpcg` (but
    one for ``maxiter = 0``, where SciPy cannot stop before its first pass).
    """
    from scipy.sparse.linalg import LinearOperator, lobpcg

    from fastshade.kernels.blockops import csr_matmat

    dtype = np.float32 if single else np.float64
    n = L.shape[0]
    a_data = L.data.astype(dtype, copy=False)

    def apply_L(V):  # the Numba block product (SciPy's CSR product is ~3x slower for 8 columns)
        V = np.ascontiguousarray(V, dtype=dtype)
        out = np.empty_like(V)
        csr_matmat(L.indptr, L.indices, a_data, V, out)
        return out

    A = LinearOperator((n, n), dtype=dtype, matvec=lambda v: apply_L(np.reshape(v, (-1, 1))).ravel(),
                       matmat=apply_L)
    Bd = None if B is None else (B.astype(dtype) if B.dtype != dtype else B)

    def apply_precond(V):
        return np.asarray(precond(np.ascontiguousarray(V, dtype=np.float64)), dtype=dtype)

    M = LinearOperator((n, n), dtype=dtype,
                       matvec=lambda v: apply_precond(np.reshape(v, (-1, 1))).ravel(),
                       matmat=apply_precond)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not reaching the requested tolerance" at maxiter
        lam, V, history = lobpcg(A, np.array(X, dtype=dtype), B=Bd, M=M,
                                 Y=np.asarray(Y, dtype=dtype),
                                 tol=tol if tol > 0 else 1e-300, maxiter=max(maxiter - 1, 0),
                                 largest=False, retResidualNormsHistory=True)
    return dict(values=np.asarray(lam, dtype=np.float64),
                vectors=np.ascontiguousarray(V, dtype=np.float64),
                iterations=max(len(history) - 2, 0),
                residuals=np.asarray(history[-1], dtype=np.float64).reshape(-1))


def _scipy_pixel_lobpcg(L, B, X, Y, precond, tol: float, maxiter: int, k: int,
                        dense_updates: bool = False) -> dict:
    """The pixel-level solve of ``lobpcg_impl="scipy-pixel"`` (the default):
    ``scipy.sparse.linalg.lobpcg`` (:func:`_scipy_lobpcg`) started from the first ``k`` columns
    of the prolongated block (the ``k`` lowest Ritz vectors of the first coarse level; SciPy
    stops only when *every* block column meets ``tol``, so the guard columns, which serve the
    coarse levels, are not passed on), in float32 when ``tol >= SINGLE_PRECISION_MIN_TOL``.

    At 512² the warm start usually meets the tolerance, so SciPy's Rayleigh-Ritz step on it
    is all that runs; its constraint handling, orthonormalisation and two Rayleigh-Ritz passes
    over the full-size block are what it costs over :func:`_lobpcg` (float32 halves them).

    SciPy can return before its residuals meet ``tol``: it retires block columns by index the
    first time they converge (a Ritz re-sort can bring the residual of that index back up) and
    returns its iterate of smallest *mean* residual.  When the returned residuals (SciPy's own
    final ones) miss ``tol``, fastshade's block LOBPCG solves again from the same warm start
    (guard columns included, ``maxiter`` updates) and the pair set with the smaller largest
    residual is returned; ``solver`` in the result says which.
    """
    res = _scipy_lobpcg(L, B, X[:, :k], Y, precond, tol=tol, maxiter=maxiter, k=k,
                        single=tol >= SINGLE_PRECISION_MIN_TOL)
    res["solver"] = "scipy"
    worst = float(res["residuals"][:k].max(initial=0.0))
    if worst <= tol and tol > 0:
        return res
    block = _lobpcg(L, B, X, Y, precond, tol=tol, maxiter=maxiter, k=k)
    if float(block["residuals"][:k].max(initial=0.0)) < worst:
        block["solver"] = f"block (scipy stopped at residual {worst:.2g})"
        return block
    return res


def _cascade_solve(L: sp.csr_matrix, k: int, *, tol: float, seed: int, guard: int,
                   coarse_iters: int, maxiter: int,
                   lobpcg_impl: str = "scipy-pixel") -> tuple[np.ndarray, np.ndarray, dict]:
    """Lowest ``k`` non-trivial pairs of ``L`` by the AMG cascade (see module docstring)."""
    solve = _scipy_lobpcg if lobpcg_impl == "scipy" else _lobpcg
    pixel_solve = _scipy_pixel_lobpcg if lobpcg_impl == "scipy-pixel" else solve
    from fastshade.kernels.blockops import csr_matmat

    t0 = time.perf_counter()
    n = L.shape[0]
    m = min(k + guard, n - 1)
    H = _build_hierarchy(L, min_coarse=5 * m)
    t_setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    nl = len(H.P)
    nc = H.L[-1].shape[0]
    if COARSE_LOBPCG_MIN < nc <= DENSE_COARSE_MAX and nc > 5 * m:
        # big coarsest level (stalled coarsening): the dense generalised eigh costs O(nc^3);
        # LOBPCG preconditioned by the exact Cholesky solve of A_c from a seeded random start
        start = np.random.default_rng(seed).standard_normal((nc, m))
        res = solve(H.L[-1], H.B[-1], start, H.Y[-1],
                      lambda R: sla.cho_solve(H.coarse_factor, R, check_finite=False), tol=0.0,
                      maxiter=COARSE_LOBPCG_ITERS, k=k, dense_updates=True)
        X = res["vectors"]
        mc = X.shape[1]
        levels = [dict(n=int(nc), iterations=int(res["iterations"]),
                       seconds=time.perf_counter() - t1)]
    elif nc <= DENSE_COARSE_MAX:
        # coarsest level: dense generalised problem in the complement of the coarse constant
        Lc = H.L[-1].toarray()
        Bc = np.eye(nc) if H.B[-1] is None else H.B[-1].toarray()
        v = _householder_vector(Bc @ H.Y[-1][:, 0])
        Lq, Bq = _reflect_both(Lc, v)[1:, 1:], _reflect_both(Bc, v)[1:, 1:]
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
        rng = np.random.default_rng(seed)
        X = np.hstack([X, rng.standard_normal((nc, m - mc))])
    if nc > DENSE_COARSE_MAX and nl > 0:
        res = solve(H.L[-1], H.B[-1], X, H.Y[-1], lambda R: _vcycle(H, nl, R),
                      tol=0.0, maxiter=4 * coarse_iters, k=k,
                      dense_updates=H.L[-1].nnz > DENSE_UPDATE_NNZ * nc)
        X = res["vectors"]
        levels.append(dict(n=int(nc), iterations=int(res["iterations"]),
                           seconds=time.perf_counter() - t1))
    for lev in range(nl - 1, -1, -1):
        t1 = time.perf_counter()
        PX = np.empty((H.P[lev].shape[0], X.shape[1]))
        csr_matmat(H.P[lev].indptr, H.P[lev].indices, H.P[lev].data, X, PX)
        X = PX
        fine = lev == 0
        level_solve = pixel_solve if fine else solve
        res = level_solve(H.L[lev], H.B[lev], X, H.Y[lev],
                          lambda R, lev=lev: _vcycle(H, lev, R),
                          tol=tol if fine else 0.0,
                          maxiter=maxiter if fine else (FIRST_COARSE_ITERS if lev == 1 else coarse_iters),
                          k=k,
                          dense_updates=not fine and H.L[lev].nnz > DENSE_UPDATE_NNZ * X.shape[0])
        X = res["vectors"]
        levels.append(dict(n=int(X.shape[0]), iterations=int(res["iterations"]),
                           seconds=time.perf_counter() - t1))
    if nl == 0:
        res = pixel_solve(L, None, X, H.Y[0], lambda R: _vcycle(H, 0, R), tol=tol,
                          maxiter=maxiter, k=k)
        levels.append(dict(n=n, iterations=int(res["iterations"])))
    vals = res["values"][:k]
    vecs = res["vectors"][:, :k]
    info = dict(
        levels=levels,
        level_sizes=[int(a.shape[0]) for a in H.A],
        iterations=int(res["iterations"]),
        block_size=int(m),
        shift=float(H.shift),
        converged=bool(res["residuals"][:k].max() <= tol),
        residuals_k=np.asarray(res["residuals"][:k], dtype=np.float64),
        setup_seconds=t_setup,
        hierarchy_notes=list(H.notes),
        pixel_solver=res.get("solver", "scipy" if lobpcg_impl == "scipy" else "block"),
    )
    return vals, vecs, info


def _solve_graph(L: sp.csr_matrix, k: int, *, tol: float, seed: int, guard: int,
                 coarse_iters: int, maxiter: int,
                 lobpcg_impl: str = "scipy-pixel") -> tuple[np.ndarray, np.ndarray, str, dict]:
    """Dispatch dense / cascade for one graph; returns (values, vectors, method, info)."""
    n = L.shape[0]
    if n <= DENSE_MAX_N or min(k + guard, n - 1) * 5 >= n:
        vals, vecs, info = _dense_solve(L, k)
        return vals, vecs, "dense", info
    vals, vecs, info = _cascade_solve(L, k, tol=tol, seed=seed, guard=guard,
                                      coarse_iters=coarse_iters, maxiter=maxiter,
                                      lobpcg_impl=lobpcg_impl)
    return vals, vecs, "lobpcg", info


def _finish(vals: np.ndarray, vecs: np.ndarray, n: int, k: int,
            return_norms: bool = False):
    """Sort ascending, normalise, fix signs, pad to ``k`` columns (zero columns, last value).

    ``vecs`` (n, m) is not modified; ``(out_v, out_l)`` are new arrays (n, k), (k,).  With
    ``return_norms`` also the 2-norms of the returned columns before normalisation (k,), in
    output order (1 for padding / zero columns).  Sign convention of :func:`sign_flip`,
    decided on the column max / min (two read passes) with ``sign_flip`` itself on exact ties.
    """
    order = np.argsort(vals, kind="stable")
    vals = np.asarray(vals, dtype=np.float64)[order]
    nv = min(k, len(order))
    out_v = np.zeros((n, k))
    if nv:
        np.take(np.asarray(vecs, dtype=np.float64), order[:nv], axis=1, out=out_v[:, :nv],
                mode="clip")
    norms = np.zeros(k)
    hi = np.zeros(k)
    lo = np.zeros(k)
    if n:
        from fastshade.kernels.blockops import column_sumsq_extrema

        column_sumsq_extrema(out_v, norms, hi, lo)  # one pass, rows summed in order
        np.sqrt(norms, out=norms)
    norms[norms == 0] = 1.0
    signs = np.where(hi >= -lo, 1.0, -1.0)
    tie = (hi == -lo) & (hi != 0)
    scale = signs / norms
    out_v *= scale
    for j in np.flatnonzero(tie):  # |max| == |min|: the lower index decides (sign_flip)
        sign_flip(out_v[:, j:j + 1])
    out_l = np.zeros(k)
    out_l[:nv] = vals[:nv]
    if nv < k:
        out_l[nv:] = vals[nv - 1] if nv else 0.0
    np.nan_to_num(out_l, copy=False)
    if return_norms:
        return out_v, out_l, norms
    return out_v, out_l


# ----------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------


def _check_carrier(carrier: np.ndarray) -> np.ndarray:
    c = np.asarray(carrier)
    if c.ndim != 2:
        raise ValueError(f"carrier must be a 2-D (H, W) array, got shape {c.shape}")
    if c.dtype.kind not in "biuf":
        raise ValueError(f"carrier must have a real dtype, got {c.dtype}")
    c = c.astype(np.float64, copy=False)
    if c.size == 0:
        raise ValueError(f"carrier must have at least one pixel, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("carrier contains NaN or inf")
    return c


def _laplacian(carrier, *, connectivity, kind, tau, weight_floor) -> sp.csr_matrix:
    from fastshade.pipeline.graph import image_laplacian

    return image_laplacian(carrier, connectivity=connectivity, kind=kind, tau=tau,
                           weight_floor=weight_floor).tocsr()


def _tile_laplacian(L: sp.csr_matrix, idx: np.ndarray) -> sp.csr_matrix:
    """Laplacian of the sub-graph on ``idx`` alone: off-diagonals of ``L``, own degrees."""
    sub = L[idx][:, idx].tocsr()
    off = sub - sp.diags(sub.diagonal())
    deg = -np.asarray(off.sum(axis=1)).ravel()
    return (off + sp.diags(deg)).tocsr()


def spectral_basis(
    carrier: np.ndarray,
    *,
    method: str = "lobpcg",
    k: int = 8,
    connectivity: int = 4,
    kind: str = "grid",
    tau: float = 0.1,
    weight_floor: float = 0.0,
    tile_size: int = 0,
    tile_overlap: int = 16,
    seed: int = 42,
    tol: float | None = None,
    krylov_steps: int = 50,
    laplacian: sp.spmatrix | None = None,
    guard: int = 4,
    tile_sign: str = "seeded",
    maxiter: int = 200,
    lobpcg_impl: str = "block",
    diagonals: tuple | None = None,
) -> SpectralBasis:
    """The ``k`` lowest non-trivial eigenvectors (or the Krylov field) of an image's graph.

    Parameters
    ----------
    carrier : array (H, W), real, finite (usually in [0, 1])
    method : {"lobpcg", "krylov", "dense"}
        ``lobpcg``: AMG-cascade LOBPCG (global, or tiled when ``tile_size > 0``);
        ``krylov``: :func:`fastshade.spectral.krylov.krylov_basis` (the original's Lanczos field);
        ``dense``: exact dense ``eigh`` (small images / reference only).
    k : int in [1, ``fastshade.options.MAX_K``]
        Number of non-trivial vectors (zero-padded beyond ``H*W - 1``).
    connectivity, kind, tau, weight_floor
        Passed to :func:`fastshade.pipeline.graph.image_laplacian` (ignored when ``laplacian`` is given).
    tile_size, tile_overlap : int
        ``tile_size = 0``: global solve; ``>= 4``: tiled basis (§2.3), ``0 <= overlap < tile``.
    seed : int
        Seed of the Krylov start, of padding start columns and of the per-tile signs.
    tol : float or None
        Residual tolerance ``||L v - λ v||_2`` for every unit column; None = :data:`DEFAULT_TOL`.
    krylov_steps : int
        Lanczos steps of ``method="krylov"``.
    laplacian : scipy sparse (H*W, H*W) or None
        Prebuilt Laplacian of ``carrier`` (not modified).
    guard : int >= 0
        Extra LOBPCG block vectors beyond ``k`` (faster convergence of the ``k``-th pair).
    tile_sign : {"seeded", "max-abs"}
        Per-tile sign: seeded random ±1 after the max-abs convention, or max-abs only.
    maxiter : int
        LOBPCG iteration cap on the pixel level (``info["converged"]`` reports the outcome).
    diagonals : tuple or None
        ``fastshade.pipeline.graph.diagonal_storage(laplacian)`` if the caller has it (used by
        ``method="krylov"`` for its mat-vecs; saves converting the graph twice).
    lobpcg_impl : {"scipy-pixel", "block", "scipy"}
        The LOBPCG of the cascade (:data:`LOBPCG_IMPLS`).  ``"scipy-pixel"`` (default):
        ``scipy.sparse.linalg.lobpcg`` for the full-size solve (float32 when
        ``tol >= SINGLE_PRECISION_MIN_TOL``), from the first ``k`` columns of the prolongated
        block, the coarse levels by fastshade's block LOBPCG; ``"block"``: fastshade's block
        LOBPCG on every level (stops on the first ``k`` residuals); ``"scipy"``: SciPy's on
        every level (stops when every block column, guards included, meets ``tol``).  Same
        subspace (``tests/test_spectral.py``); ``fastshade bench`` times all three.

    Returns
    -------
    SpectralBasis
        ``vectors`` float64 (H*W, k) newly allocated, ``values`` float64 (k,).
    """
    t_start = time.perf_counter()
    c = _check_carrier(carrier)
    h, w = c.shape
    n = h * w
    k = check_integer("k", k, 1, MAX_K)
    if method not in ("lobpcg", "krylov", "dense"):
        raise ValueError(f"method must be 'lobpcg', 'krylov' or 'dense', got {method!r}")
    tile_size = check_integer("tile_size", tile_size, 0)
    if 0 < tile_size < 4:
        raise ValueError(f"tile_size must be 0 (global) or >= 4, got {tile_size}")
    if tile_size:
        tile_overlap = check_integer("tile_overlap", tile_overlap, 0, tile_size - 1)
    tol = check_real("tol", DEFAULT_TOL if tol is None else tol, 0.0)
    guard = check_integer("guard", guard, 0)
    maxiter = check_integer("maxiter", maxiter, 0)
    if tile_sign not in ("seeded", "max-abs"):
        raise ValueError(f"tile_sign must be 'seeded' or 'max-abs', got {tile_sign!r}")
    if laplacian is None:
        L = _laplacian(c, connectivity=connectivity, kind=kind, tau=tau, weight_floor=weight_floor)
    else:
        if not sp.issparse(laplacian) or laplacian.shape != (n, n):
            raise ValueError(f"laplacian must be a sparse ({n}, {n}) matrix, got "
                             f"{type(laplacian).__name__} {getattr(laplacian, 'shape', None)}")
        L = laplacian.tocsr()
        if not np.isfinite(L.data).all():
            raise ValueError("laplacian contains NaN or inf")
    L = L.astype(np.float64) if L.dtype != np.float64 else L
    info: dict[str, Any] = dict(tol=float(tol), k=k, guard=int(guard), warnings=[], n_valid=min(k, n - 1))

    if n == 1:
        info["seconds"] = time.perf_counter() - t_start
        info["n_valid"] = 0
        return SpectralBasis(np.zeros((1, k)), np.zeros(k), (h, w), "trivial", info)

    if method == "krylov":
        from fastshade.spectral.krylov import krylov_basis

        vecs, vals = krylov_basis(L, k, steps=krylov_steps, seed=seed, diagonals=diagonals)
        vecs = np.ascontiguousarray(vecs, dtype=np.float64)
        vals = np.nan_to_num(np.asarray(vals, dtype=np.float64))
        info.update(steps=int(krylov_steps), seed=int(seed), n_valid=int(np.count_nonzero(vals)))
        info["seconds"] = time.perf_counter() - t_start
        return SpectralBasis(vecs, vals, (h, w), "krylov", info)

    if lobpcg_impl not in LOBPCG_IMPLS:
        raise ValueError(f"lobpcg_impl must be one of {', '.join(LOBPCG_IMPLS)}, got {lobpcg_impl!r}")
    solve_kw = dict(tol=float(tol), seed=int(seed), guard=int(guard), coarse_iters=3,
                    maxiter=maxiter, lobpcg_impl=lobpcg_impl)
    if tile_size == 0 or method == "dense":
        if method == "dense":
            vals, vecs, _ = _dense_solve(L, k)
            used = "dense"
            sinfo: dict = {}
        else:
            vals, vecs, used, sinfo = _solve_graph(L, k, **solve_kw)
        res_k = sinfo.pop("residuals_k", None)
        info.update(sinfo)
        vecs_out, vals_out, norms = _finish(vals, vecs, n, k, return_norms=True)
        if res_k is not None and res_k.size == k:
            # the pixel-level LOBPCG residuals ||L x - λ x|| of exactly these columns (computed
            # from a fresh sparse L x), in _finish's order and scaled by its normalisation
            order = np.argsort(np.asarray(vals, dtype=np.float64), kind="stable")
            info["residuals"] = (res_k[order] / norms).tolist()
        else:
            info["residuals"] = _residual_norms(L, vals_out, vecs_out).tolist()
        if used == "lobpcg" and not sinfo.get("converged", True):
            info["warnings"].append(f"LOBPCG stopped at maxiter={maxiter} before tol={tol}")
        info["seconds"] = time.perf_counter() - t_start
        return SpectralBasis(vecs_out, vals_out, (h, w), used, info)

    return _tiled(c, L, k, tile_size, int(tile_overlap), tile_sign, solve_kw, info, t_start)


def _tiled(c, L, k, tile, overlap, tile_sign, solve_kw, info, t_start) -> SpectralBasis:
    from fastshade.pipeline.gates import contour_mask

    h, w = c.shape
    n = h * w
    contours = contour_mask(c)
    ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    acc = np.zeros((h, w, k))
    wsum = np.zeros((h, w))
    flat = np.arange(n).reshape(h, w)
    n_solved = n_skipped = 0
    val_acc = np.zeros(k)
    val_w = 0.0
    methods: dict[str, int] = {}
    iters = []
    for ty, y0 in enumerate(ys):
        for tx, x0 in enumerate(xs):
            th, tw = min(tile, h - y0), min(tile, w - x0)
            if th < 4 or tw < 4:
                n_skipped += 1
                continue
            if not contours[y0:y0 + th, x0:x0 + tw].any():
                n_skipped += 1
                continue
            idx = flat[y0:y0 + th, x0:x0 + tw].ravel()
            Lt = _tile_laplacian(L, idx)
            vals, vecs, used, tinfo = _solve_graph(Lt, k, **solve_kw)
            methods[used] = methods.get(used, 0) + 1
            if "iterations" in tinfo:
                iters.append(tinfo["iterations"])
            vt, lt = _finish(vals, vecs, idx.size, k)
            if tile_sign == "seeded":
                s = np.random.default_rng([solve_kw["seed"], y0, x0]).choice([-1.0, 1.0], size=k)
                vt *= s
            bw = np.outer(blend_weights_1d(th, overlap), blend_weights_1d(tw, overlap))
            acc[y0:y0 + th, x0:x0 + tw] += bw[:, :, None] * vt.reshape(th, tw, k)
            wsum[y0:y0 + th, x0:x0 + tw] += bw
            val_acc += bw.sum() * lt
            val_w += bw.sum()
            n_solved += 1
    vecs = (acc / np.maximum(wsum, 1e-10)[:, :, None]).reshape(n, k)
    # column j = blend of every tile's j-th vector (kept in that order, as the original);
    # values = blend-weighted mean of the tiles' j-th eigenvalues (ascending like each tile's)
    norms = np.linalg.norm(vecs, axis=0)
    unit = np.ascontiguousarray(vecs / np.where(norms > 0, norms, 1.0))
    vals = np.nan_to_num(val_acc / val_w) if val_w > 0 else np.zeros(k)
    info["rayleigh_quotients"] = np.nan_to_num((unit * (L @ unit)).sum(axis=0)).tolist()
    info.update(tiles_solved=n_solved, tiles_skipped=n_skipped, tile_size=tile, tile_overlap=overlap,
                tile_methods=methods, tile_iterations_max=max(iters) if iters else 0,
                tile_sign=tile_sign, n_valid=int(np.count_nonzero(norms)))
    info["seconds"] = time.perf_counter() - t_start
    return SpectralBasis(unit, vals, (h, w), "lobpcg-tiled", info)
