"""Plain NumPy/SciPy versions of the shader's stages, for ``fastshade bench``.

Each function does the same job as one compiled stage, written the obvious
way with vectorised NumPy or a stock SciPy routine, so that ``fastshade bench``
can print "how much faster than the straightforward code" per stage.  They
are part of the installed package (``tests/`` is not installed); the test
suite checks that each one gives the same result as the stage it mirrors.

=====================================  ======================================================
shader stage                           baseline here
=====================================  ======================================================
Laplacian (:func:`graph.image_laplacian`)  :func:`laplacian_coo`: weights in NumPy, ``scipy.sparse`` COO -> CSR
basis (:func:`spectral.spectral_basis`)    :func:`eigsh_basis` (ARPACK shift-invert),
                                           :func:`lobpcg_basis` (LOBPCG without preconditioner) and
                                           :func:`scipy_cascade_basis` (SciPy's LOBPCG, our cascade)
components (:func:`components.label_components`)  :func:`label_components_scipy`: ``scipy.ndimage.label`` + ``bincount``
thicken (:func:`shader.thicken`)       :func:`thicken_numpy`
shadow (:func:`shader.shadow_self`)    :func:`shadow_self_numpy`
=====================================  ======================================================

These are reference *timings*, not alternative implementations: they do
little validation and are not used by the shader.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from fastshade.kernels.blockops import csr_matmat
from fastshade.spectral.cascade import solve_graph
from fastshade.spectral.columns import finish_columns
from fastshade.spectral.lobpcg import LobpcgResult

__all__ = [
    "EigenResult",
    "LabelResult",
    "eigen_residuals",
    "eigsh_basis",
    "hue_rotate_numpy",
    "label_components_scipy",
    "laplacian_coo",
    "lobpcg_basis",
    "scipy_cascade_basis",
    "scipy_level_lobpcg",
    "shadow_self_numpy",
    "thicken_numpy",
    "thickening_budget_numpy",
]

HUE_MEAN_WEIGHT = 0.333
"""Grey mean weight of the hue rotation, ``m = 0.333 (r + g + b)`` (as the original)."""

BUDGET_EPS = 1e-8
"""``Ê = E / (max E + 1e-8)`` in the thickening budget."""


# ----------------------------------------------------------------------------------------
# Laplacian
# ----------------------------------------------------------------------------------------


def laplacian_coo(
    carrier: np.ndarray,
    *,
    connectivity: int = 4,
    kind: str = "grid",
    tau: float = 0.1,
    weight_floor: float = 0.0,
) -> sp.csr_matrix:
    """``L = D - W`` of the weighted pixel graph, assembled the SciPy way.

    Same definition as :func:`fastshade.pipeline.graph.image_laplacian` for a 2-D
    carrier: edge weight ``max(mult * exp(-|c_i - c_j| / tau), weight_floor)``
    for every offset of :func:`fastshade.pipeline.graph.laplacian_offsets`.  All edge
    weights are computed with NumPy slicing, stacked into COO triplets (both
    directions plus the diagonal) and converted with ``tocsr()``.

    Parameters
    ----------
    carrier : (H, W) float array
    connectivity, kind, tau, weight_floor
        As :func:`fastshade.pipeline.graph.image_laplacian`.

    Returns
    -------
    scipy.sparse.csr_matrix (H*W, H*W), float64, newly allocated
    """
    from fastshade.pipeline.graph import laplacian_offsets

    c = np.asarray(carrier, dtype=np.float64)
    h, w = c.shape
    index = np.arange(h * w, dtype=np.int64).reshape(h, w)
    rows, cols, vals = [], [], []
    for dy, dx, mult in zip(*laplacian_offsets(kind, connectivity)):
        dy, dx = int(dy), int(dx)
        y1 = h - dy
        x0, x1 = max(0, -dx), w - max(0, dx)
        if y1 <= 0 or x1 <= x0:
            continue
        a = c[0:y1, x0:x1]
        b = c[dy:dy + y1, x0 + dx:x1 + dx]
        weight = np.maximum(mult * np.exp(-np.abs(a - b) / tau), weight_floor).ravel()
        i = index[0:y1, x0:x1].ravel()
        j = index[dy:dy + y1, x0 + dx:x1 + dx].ravel()
        rows += [i, j]
        cols += [j, i]
        vals += [-weight, -weight]
    if rows:
        off_r, off_c, off_v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        off_r = off_c = np.zeros(0, dtype=np.int64)
        off_v = np.zeros(0)
    degree = -np.bincount(off_r, weights=off_v, minlength=h * w)
    diag = np.arange(h * w, dtype=np.int64)
    coo = sp.coo_matrix(
        (np.concatenate([off_v, degree]), (np.concatenate([off_r, diag]), np.concatenate([off_c, diag]))),
        shape=(h * w, h * w),
    )
    return coo.tocsr()


# ----------------------------------------------------------------------------------------
# spectral basis
# ----------------------------------------------------------------------------------------


@dataclass
class EigenResult:
    """Result of an eigen baseline: ``k`` non-trivial pairs, ascending."""

    values: np.ndarray  # (k,)
    vectors: np.ndarray  # (n, k), unit columns
    seconds: float
    iterations: int | None  # LOBPCG iterations (None for ARPACK)
    converged: bool
    residuals: np.ndarray  # (k,) ||L v - lambda v|| per column
    info: dict[str, Any] = field(default_factory=dict)


def eigen_residuals(L: sp.spmatrix, values: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``||L v_j - λ_j v_j||_2 / ||v_j||_2`` for every column ``j`` (float64 (k,))."""
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] == 0:
        return np.zeros(0)
    lam = np.asarray(values, dtype=np.float64)
    r = L @ v - v * lam[None, :]
    norms = np.linalg.norm(v, axis=0)
    norms[norms == 0] = 1.0
    return np.linalg.norm(r, axis=0) / norms


def _start_block(n: int, k: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, k))


def eigsh_basis(
    L: sp.spmatrix,
    k: int = 8,
    *,
    tol: float = 0.0,
    sigma: float = -1e-6,
    seed: int = 42,
) -> EigenResult:
    """The ``k`` smallest non-trivial eigenpairs by ARPACK shift-invert (``eigsh``).

    Solves for ``k + 1`` eigenvalues nearest ``sigma`` (a small negative shift
    keeps ``L - sigma I`` positive definite, so SuperLU factorises it) and
    drops the smallest, the constant vector of the connected pixel grid.
    The shift is of the order of the wanted eigenvalues of line-art Laplacians
    (1e-7 … 1e-4): ``1 / (lambda - sigma)`` then separates the near-zero
    cluster, and ARPACK converges in fewer restarts than with ``sigma = -1e-3``
    (512² demo, tol 1e-2: 4.2 s against 6.6 s; tol 1e-8 on the shared images:
    6–10 s against 20–80 s).
    ``(L - sigma I)^-1`` is applied through one ``splu`` factorisation with
    the symmetric ``MMD_AT_PLUS_A`` ordering, about twice as fast on pixel
    grids as the ``COLAMD`` default ``eigsh`` would use (a strong baseline,
    not a strawman).  The factorisation is part of the time.

    Parameters
    ----------
    L : sparse (n, n) graph Laplacian
    k : int
        Non-trivial pairs wanted (``k + 1 < n``).
    tol : float
        ARPACK relative tolerance (0 = machine precision).
    sigma : float
        Shift.
    seed : int
        Seed of the start vector ``v0``.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh, splu

    n = L.shape[0]
    t0 = time.perf_counter()
    v0 = np.random.default_rng(seed).standard_normal(n)
    lu = splu((L - sigma * sp.eye(n, format="csr")).tocsc(), permc_spec="MMD_AT_PLUS_A")
    inverse = LinearOperator((n, n), matvec=lu.solve, dtype=np.float64)
    values, vectors = eigsh(L, k=k + 1, sigma=sigma, which="LM", tol=tol, v0=v0, OPinv=inverse)
    order = np.argsort(values)[1:]
    seconds = time.perf_counter() - t0
    values, vectors = values[order], vectors[:, order]
    return EigenResult(values, vectors, seconds, None, True, eigen_residuals(L, values, vectors),
                       {"solver": "scipy.sparse.linalg.eigsh", "sigma": sigma, "tol": tol,
                        "ordering": "MMD_AT_PLUS_A"})


def lobpcg_basis(
    L: sp.spmatrix,
    k: int = 8,
    *,
    tol: float = 1e-5,
    maxiter: int = 500,
    seed: int = 42,
) -> EigenResult:
    """The ``k`` smallest non-trivial eigenpairs by LOBPCG, **no preconditioner**.

    ``scipy.sparse.linalg.lobpcg(L, X, Y=1/sqrt(n), largest=False)`` from a
    seeded standard-normal block; the constant vector is deflated through the
    constraint ``Y``.  ``converged`` is False when the largest residual is still
    above ``tol`` after ``maxiter`` iterations (the pairs are then returned as
    they are; SciPy's warning is silenced).

    Parameters
    ----------
    L : sparse (n, n) graph Laplacian
    k : int
        Block size = pairs wanted.
    tol : float
        Residual tolerance (SciPy's absolute ``||L x - λ x||`` criterion).
    maxiter : int
        Iteration cap.
    seed : int
        Seed of the start block.
    """
    import warnings

    from scipy.sparse.linalg import lobpcg

    n = L.shape[0]
    t0 = time.perf_counter()
    x = _start_block(n, k, seed)
    y = np.full((n, 1), 1.0 / np.sqrt(n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values, vectors, history = lobpcg(L, x, Y=y, tol=tol, maxiter=maxiter, largest=False,
                                          retResidualNormsHistory=True)
    seconds = time.perf_counter() - t0
    order = np.argsort(values)
    values, vectors = values[order], vectors[:, order]
    vectors = vectors / np.linalg.norm(vectors, axis=0)[None, :]
    residuals = eigen_residuals(L, values, vectors)
    iterations = min(max(len(history) - 1, 0), maxiter)  # history: initial residuals + one per iteration
    return EigenResult(values, vectors, seconds, iterations, bool(residuals.max(initial=0.0) <= tol),
                       residuals, {"solver": "scipy.sparse.linalg.lobpcg", "tol": tol, "maxiter": maxiter,
                                   "preconditioner": None})


# ----------------------------------------------------------------------------------------
# spectral basis: SciPy's LOBPCG in fastshade's AMG cascade
# ----------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------
# components
# ----------------------------------------------------------------------------------------


@dataclass
class LabelResult:
    """Components of a mask (same contract as :class:`fastshade.pipeline.components.Components`)."""

    labels: np.ndarray  # (H, W) int32, 0 background, 1..n in raster order of first pixel
    n: int
    sizes: np.ndarray  # (n,) int64
    bbox: np.ndarray  # (n, 4) int64 [y0, x0, y1, x1)
    centroids: np.ndarray  # (n, 2) float64 (y, x)
    covariances: np.ndarray  # (n, 2, 2) float64, population covariance
    indptr: np.ndarray  # (n + 1,) int64
    pixels: np.ndarray  # flat pixel indices, grouped by component, raster order inside

    def pixels_of(self, i: int) -> np.ndarray:
        """Flat indices of component ``i`` (0-based), raster order."""
        return self.pixels[self.indptr[i]:self.indptr[i + 1]]


def label_components_scipy(mask: np.ndarray, *, connectivity: int = 8, min_size: int = 1) -> LabelResult:
    """Label a mask with ``scipy.ndimage.label``; statistics with ``bincount``.

    Components smaller than ``min_size`` are dropped and the rest renumbered
    1..n in raster order of their first pixel (``ndimage.label`` numbers in that
    order already).  Centroids and population covariances come from a
    two-pass ``bincount`` (mean first, then centred second moments).
    """
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    h, w = m.shape
    structure = np.ones((3, 3), dtype=bool) if connectivity == 8 else ndimage.generate_binary_structure(2, 1)
    raw, n_raw = ndimage.label(m, structure=structure)
    sizes_raw = np.bincount(raw.ravel(), minlength=n_raw + 1)
    keep = sizes_raw >= min_size
    keep[0] = False
    relabel = np.zeros(n_raw + 1, dtype=np.int32)
    relabel[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    labels = relabel[raw]
    n = int(keep.sum())
    flat = labels.ravel()
    fg = np.flatnonzero(flat)
    lab = flat[fg] - 1
    ys, xs = np.divmod(fg, w)
    sizes = np.bincount(lab, minlength=n).astype(np.int64)
    safe = np.maximum(sizes, 1)
    cy = np.bincount(lab, weights=ys, minlength=n) / safe
    cx = np.bincount(lab, weights=xs, minlength=n) / safe
    dy, dx = ys - cy[lab], xs - cx[lab]
    cov = np.empty((n, 2, 2))
    cov[:, 0, 0] = np.bincount(lab, weights=dy * dy, minlength=n) / safe
    cov[:, 1, 1] = np.bincount(lab, weights=dx * dx, minlength=n) / safe
    cov[:, 0, 1] = cov[:, 1, 0] = np.bincount(lab, weights=dy * dx, minlength=n) / safe
    bbox = np.zeros((n, 4), dtype=np.int64)
    for i, sl in enumerate(ndimage.find_objects(labels, max_label=n)):
        if sl is not None:
            bbox[i] = [sl[0].start, sl[1].start, sl[0].stop, sl[1].stop]
    order = np.argsort(lab, kind="stable")
    pixels = fg[order].astype(np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    return LabelResult(labels.astype(np.int32), n, sizes, bbox, np.stack([cy, cx], axis=1), cov, indptr, pixels)


# ----------------------------------------------------------------------------------------
# thicken
# ----------------------------------------------------------------------------------------


def thickening_budget_numpy(phi: np.ndarray, radius: int, attenuation: float = 0.7) -> np.ndarray:
    """``R (1 - attenuation Ê)``, ``Ê = E / (max E + 1e-8)``, ``E = Σ_{j>=2} φ_j²``; (n,) float64."""
    phi = np.asarray(phi, dtype=np.float64)
    if phi.shape[1] <= 2 or phi.shape[0] == 0:
        return np.full(phi.shape[0], float(radius))
    energy = np.square(phi[:, 2:]).sum(axis=1)
    return radius * (1.0 - attenuation * (energy / (energy.max() + BUDGET_EPS)))


def _last_writes(dst: np.ndarray) -> np.ndarray:
    """Positions of the last occurrence of each distinct value of ``dst`` ("last write wins")."""
    if dst.size == 0:
        return np.zeros(0, dtype=np.int64)
    _, first_in_reversed = np.unique(dst[::-1], return_index=True)
    return dst.size - 1 - first_in_reversed


def thicken_numpy(
    rgb: np.ndarray,
    high: np.ndarray,
    dir_y: np.ndarray,
    dir_x: np.ndarray,
    phi: np.ndarray,
    contours: np.ndarray,
    radius: int = 3,
    attenuation: float = 0.7,
) -> tuple[np.ndarray, np.ndarray]:
    """Perpendicular scatter of the high-gate pixels, all candidates at once.

    For every source ``s`` (high gate, raster order) and offset
    ``o = -R..-1, 1..R``: ``q = s + o d_s``; accepted iff ``|o| <= budget[s]``,
    ``0 <= q < (H, W)`` on the real values and the truncated pixel is not a
    contour; the colour of ``s`` (read from ``rgb``) goes to the truncated
    pixel, the last accepted candidate in (source, offset) order winning.

    Returns
    -------
    image : (H, W, 3) float64 new array
    written : (H, W) bool
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    h, w, c = rgb.shape
    out = rgb.copy()
    written = np.zeros(h * w, dtype=bool)
    sources = np.flatnonzero(np.asarray(high).ravel())
    if sources.size == 0 or radius == 0:
        return out, written.reshape(h, w)
    budget = thickening_budget_numpy(phi, radius, attenuation)[sources]
    sy, sx = np.divmod(sources, w)
    offsets = np.concatenate([np.arange(-radius, 0), np.arange(1, radius + 1)]).astype(np.float64)
    qy = sy[:, None] + offsets[None, :] * np.asarray(dir_y, dtype=np.float64).ravel()[sources][:, None]
    qx = sx[:, None] + offsets[None, :] * np.asarray(dir_x, dtype=np.float64).ravel()[sources][:, None]
    ok = (np.abs(offsets)[None, :] <= budget[:, None]) & (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
    src = np.broadcast_to(sources[:, None], qy.shape)[ok]
    dst = qy[ok].astype(np.int64) * w + qx[ok].astype(np.int64)
    free = ~np.asarray(contours, dtype=bool).ravel()[dst]
    src, dst = src[free], dst[free]
    last = _last_writes(dst)
    out.reshape(-1, c)[dst[last]] = rgb.reshape(-1, c)[src[last]]
    written[dst] = True
    return out, written.reshape(h, w)


# ----------------------------------------------------------------------------------------
# shadow
# ----------------------------------------------------------------------------------------


def hue_rotate_numpy(rgb: np.ndarray, angle: float) -> np.ndarray:
    """Rotate ``(m, 3)`` colours about the grey axis (``m = 0.333 (r+g+b)``, blue kept, clipped)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    m = HUE_MEAN_WEIGHT * (r + g + b)
    cos_t, sin_t = np.cos(angle), np.sin(angle)
    out = np.empty_like(rgb)
    out[:, 0] = m + cos_t * (r - m) - sin_t * (g - m)
    out[:, 1] = m + sin_t * (r - m) + cos_t * (g - m)
    out[:, 2] = b
    return np.clip(out, 0.0, 1.0)


def shadow_self_numpy(
    out: np.ndarray,
    component_pixels: list[np.ndarray],
    centroids: np.ndarray,
    void_y: np.ndarray,
    void_x: np.ndarray,
    carrier: np.ndarray,
    *,
    distance: float = 15.0,
    hue_angle: float = 1.0,
    ink_guard: float = 0.3,
) -> np.ndarray:
    """Self-mode shadow in NumPy, one vectorised step per component (in place).

    For component ``i`` in order: its pixels ``p`` (flat, raster order) take the
    hue-rotated colours of ``out[p]``, are turned a quarter turn
    counter-clockwise about the centroid ``c`` (``(Δy, Δx) -> (-Δx, Δy)``),
    shifted by ``distance * void[int(c)]`` and rounded half to even; they are
    written where the destination is inside and ``carrier > ink_guard`` (last
    write wins).  Components are processed in order because a later one reads
    colours an earlier one may have written.

    Returns
    -------
    (H, W, 3) float64: ``out`` itself, modified in place.
    """
    h, w = carrier.shape
    flat_out = out.reshape(-1, out.shape[2])
    guard = np.asarray(carrier, dtype=np.float64)
    for i, src in enumerate(component_pixels):
        sy, sx = np.divmod(src, w)
        cy, cx = float(centroids[i, 0]), float(centroids[i, 1])
        iy, ix = min(max(int(cy), 0), h - 1), min(max(int(cx), 0), w - 1)
        shift_y, shift_x = distance * float(void_y[iy, ix]), distance * float(void_x[iy, ix])
        colours = hue_rotate_numpy(flat_out[src], hue_angle)
        dst_y = np.rint(cy + 1.0 * -(sx - cx) + shift_y).astype(np.int64)
        dst_x = np.rint(cx + 1.0 * (sy - cy) + shift_x).astype(np.int64)
        inside = (dst_y >= 0) & (dst_y < h) & (dst_x >= 0) & (dst_x < w)
        keep = np.flatnonzero(inside)
        keep = keep[guard[dst_y[keep], dst_x[keep]] > ink_guard]
        dst = dst_y[keep] * w + dst_x[keep]
        last = _last_writes(dst)
        flat_out[dst[last]] = colours[keep[last]]
    return out
