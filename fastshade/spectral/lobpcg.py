"""Block LOBPCG for ``L v = λ B v`` with a constraint, the eigensolver of every cascade level.

:func:`block_lobpcg` keeps ``X``, ``W``, ``P`` as separate C-order blocks, forms ``L V`` and
``B V`` in one fused Numba pass over the shared coarse pattern, never orthonormalises ``W`` or
``P`` in ``n``-space (the small Gram matrices are whitened in the Rayleigh-Ritz step,
:func:`small_rr`) and, on coarse levels with many entries per row, updates the products by small
GEMMs.  The pixel-level Ritz rotation and residual norms are fused Numba passes
(:mod:`fastshade.kernels.blockops`).

It is the only LOBPCG of the product: on the shared images it gives the same shaded pixels as
``scipy.sparse.linalg.lobpcg`` at the pixel level and is faster (fewer passes over the
full-size block).  SciPy's LOBPCG remains the test reference and a ``fastshade bench`` baseline
(:func:`fastshade.reference.scipy_cascade_basis`, which runs it through the same cascade with
the :class:`LevelSolver` contract).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TypedDict

import numpy as np
import scipy.sparse as sp

from fastshade.kernels.blockops import (
    csr_matmat,
    csr_matmat_pair,
    ritz_residual,
    rotate_residual,
    subtract_outer,
)
from fastshade.threads import threaded

__all__ = ["BAND_ROWS", "BANDED_ROWS", "RR_CUT", "LevelSolver", "LobpcgResult", "banded_gram",
           "banded_ritz_residuals", "block_lobpcg", "pixel_iteration_check", "small_rr"]

BANDED_ROWS = 1 << 20
"""A pixel level with at least this many rows never forms ``L X0`` whole (``block_lobpcg``): the
start's Gram matrices ``X0^T L X0``, ``X0^T X0`` and the Ritz residuals are summed over bands of
:data:`BAND_ROWS` rows, and the Ritz vectors are written over ``X0``'s first columns (row by row:
a row of ``X0 C`` reads only that row).  One ``(n, m)`` block less at the memory peak of the
basis's last stage, for one more sparse pass; the sums are grouped by band, so the values agree
with the whole-block products to rounding, not bit for bit.  When the level goes on iterating,
``L X0`` is formed whole then."""

BAND_ROWS = 1 << 16
"""Rows per band of a banded start (:data:`BANDED_ROWS`): a fixed partition (the same sums for
any thread count), ``BAND_ROWS x m`` floats of work space."""

_PIXEL_ITERATION_CHECK: ContextVar[Callable[[int, int], None] | None] = ContextVar(
    "fastshade_pixel_iteration_check", default=None)


@contextmanager
def pixel_iteration_check(check: Callable[[int, int], None]) -> Iterator[None]:
    """Within the block, a pixel level (``B`` the identity) whose start is not within ``tol``
    calls ``check(rows, columns)`` before it iterates; the check may raise (a job with the
    default memory limit: :func:`fastshade.io.memory.check_pixel_iteration`).  The values never
    depend on it: the level iterates as without it, or the exception stops the solve.
    """
    token = _PIXEL_ITERATION_CHECK.set(check)
    try:
        yield
    finally:
        _PIXEL_ITERATION_CHECK.reset(token)


RR_CUT = 1e-10
"""Rayleigh-Ritz drops basis directions whose whitened mass Gram eigenvalue is below this
(relative to the largest): numerically dependent ``W``/``P`` columns."""


class LobpcgResult(TypedDict):
    """What a level solve returns (see :class:`LevelSolver`)."""

    values: np.ndarray
    """(m,) Ritz values, ascending."""
    vectors: np.ndarray
    """(n, m) Ritz vectors, B-orthonormal, orthogonal to ``Y`` in the B inner product."""
    iterations: int
    """LOBPCG updates made."""
    residuals: np.ndarray
    """(m,) norms ``||L x - λ B x||`` of the returned pairs."""
    solver: str
    """Name of the implementation (``"block"`` for :func:`block_lobpcg`)."""


class LevelSolver(Protocol):
    """The contract of a cascade level solve (:func:`block_lobpcg`'s signature).

    Smallest eigenpairs of ``L v = λ B v`` (``B = None``: identity) with ``v`` B-orthogonal
    to the columns of ``Y``, from the start block ``X`` (n, m), preconditioned by ``precond``
    (a block ``R`` (n, m) -> (n, m)); stops when the first ``k`` residual norms are ``<= tol``
    or after ``maxiter`` updates.  ``dense_updates`` is a performance hint.
    """

    def __call__(self, L: sp.csr_matrix, B: sp.csr_matrix | None, X: np.ndarray, Y: np.ndarray,
                 precond: Callable[[np.ndarray], np.ndarray], tol: float, maxiter: int, k: int,
                 dense_updates: bool = False) -> LobpcgResult:
        """Solve one level (see the class docstring)."""
        ...


def small_rr(GA: np.ndarray, GB: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray] | None:
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


def _same_pattern(L: sp.csr_matrix, B: sp.csr_matrix) -> bool:
    """True when ``B`` stores its entries on ``L``'s own index arrays (the coarse levels of the
    hierarchy: SciPy's constructor may hand out views of the one pattern, not the objects).
    """
    def same(a: np.ndarray, b: np.ndarray) -> bool:
        return a is b or (a.shape == b.shape and a.dtype == b.dtype and a.strides == b.strides
                          and a.ctypes.data == b.ctypes.data)
    return same(L.indptr, B.indptr) and same(L.indices, B.indices)


def _bands(matmat: Callable[..., None], L: sp.csr_matrix, X: np.ndarray
           ) -> Iterator[tuple[slice, np.ndarray]]:
    """The bands of :data:`BAND_ROWS` rows in order, each with its rows of ``L X`` (a view of one
    work block, overwritten by the next band): from the band's slice of ``L.indptr`` and the
    whole ``X`` (float64 (n, m), C order), by ``matmat`` (``csr_matmat`` or its parallel twin).
    """
    n, m = X.shape
    work = np.empty((min(n, BAND_ROWS), m))
    for r0 in range(0, n, BAND_ROWS):
        r1 = min(n, r0 + BAND_ROWS)
        LX = work[:r1 - r0]
        matmat(L.indptr[r0:r1 + 1], L.indices, L.data, X, LX)
        yield slice(r0, r1), LX


def banded_gram(matmat: Callable[..., None], L: sp.csr_matrix, X: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(X^T L X, X^T X)`` summed over bands of :data:`BAND_ROWS` rows, ``L X`` never whole.

    ``matmat`` is :func:`fastshade.kernels.blockops.csr_matmat` (or its parallel twin), ``L``
    CSR (n, n), ``X`` float64 (n, m) C order; the bands' products are added in band order.
    """
    m = X.shape[1]
    GA = np.zeros((m, m))
    GB = np.zeros((m, m))
    for rows, LX in _bands(matmat, L, X):
        GA += X[rows].T @ LX
        GB += X[rows].T @ X[rows]
    return GA, GB


def banded_ritz_residuals(matmat: Callable[..., None], rotate: Callable[..., None],
                          L: sp.csr_matrix, X: np.ndarray, C: np.ndarray, lam: np.ndarray
                          ) -> np.ndarray:
    """Squared residual norms ``||L X C[:, j] - lam[j] X C[:, j]||^2`` over bands of rows.

    ``rotate`` is :func:`fastshade.kernels.blockops.rotate_residual` (or its twin); ``X``
    float64 (n, m) C order, ``C`` (m, kk) C order, ``lam`` (kk,).  Neither ``L X`` nor ``X C``
    is formed whole; the bands' sums are added in band order.  Returns (kk,).
    """
    kk = C.shape[1]
    rotated = np.empty((min(X.shape[0], BAND_ROWS), kk))
    rsq, part = np.zeros(kk), np.empty(kk)
    for rows, LX in _bands(matmat, L, X):
        rotate(X[rows], LX, C, lam, rotated[:LX.shape[0]], part)
        rsq += part
    return rsq


def block_lobpcg(L: sp.csr_matrix, B: sp.csr_matrix | None, X: np.ndarray, Y: np.ndarray,
                 precond: Callable[[np.ndarray], np.ndarray], tol: float, maxiter: int, k: int,
                 dense_updates: bool = False,
                 accept: Callable[[np.ndarray, np.ndarray, np.ndarray], bool] | None = None,
                 monitor: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None] | None = None,
                 final_residuals: bool = True) -> LobpcgResult:
    """Smallest eigenpairs of ``L v = λ B v`` with ``v ⟂_B Y``; ``X`` (n, m) start block.

    ``B = None`` means the identity (no mass products are formed).  Stops when the first
    ``k`` residual norms ``||L x - λ B x||`` are ``<= tol`` or after ``maxiter`` iterations.
    ``W`` is projected against ``Y`` and ``X`` in ``n``-space; ``W`` and ``P`` are never
    orthonormalised there: the Rayleigh-Ritz step whitens the small Gram matrices instead
    (:func:`small_rr`).  ``L V`` and ``B V`` of every block come from one fused sparse pass
    (:func:`fastshade.kernels.blockops.csr_matmat_pair` on the shared pattern of coarse
    levels), so the residuals are those of fresh products; with ``dense_updates`` (coarse levels with many
    entries per row) only ``W``'s products are sparse and ``L X, B X, L P, B P`` are updated
    from the Ritz coefficients by small GEMMs instead.  ``X`` may be overwritten.  Returns
    ``values`` (m,), ``vectors`` (n, m), ``iterations``, ``residuals`` (m,) of the returned
    vectors (:class:`LobpcgResult`, ``solver="block"``); when the start block already meets
    ``tol`` with ``B = None`` only the first ``min(k, m)`` pairs are formed and returned (with
    the Ritz values of the whole block).

    ``accept(values, residual_norms, T R)`` (optional, the subspace contract of
    :mod:`fastshade.spectral.contract`) is asked once the residuals meet ``tol``, with the
    preconditioned residual block ``T R`` of all ``m`` columns; the iteration stops only when
    it returns True (``T R`` is then reused as the next ``W``).  ``monitor(iteration, values,
    X, residual_norms)`` (optional, for studies) sees every iterate of the loop.
    ``final_residuals=False`` (a cascade's coarse level, which reads the vectors only): the
    ``maxiter``-th update is returned without the sparse products and the residual pass that
    would only measure it (``residuals`` NaN; the same values and vectors).
    """
    identity = B is None
    shared = not identity and _same_pattern(L, B)
    n = X.shape[0]
    matmat, matmat_pair = threaded(csr_matmat, n), threaded(csr_matmat_pair, n)
    rotate, residual, subtract = (threaded(rotate_residual, n), threaded(ritz_residual, n),
                                  threaded(subtract_outer, n))

    def products(V: np.ndarray, AV: np.ndarray, BV: np.ndarray) -> None:
        if identity:
            matmat(L.indptr, L.indices, L.data, V, AV)
        elif shared:
            matmat_pair(L.indptr, L.indices, L.data, B.data, V, AV, BV)
        else:
            matmat(L.indptr, L.indices, L.data, V, AV)
            matmat(B.indptr, B.indices, B.data, V, BV)

    BY = Y if identity else B @ Y
    YBYinv = np.linalg.inv(Y.T @ BY)

    def project(V: np.ndarray) -> np.ndarray:
        coef = YBYinv @ (BY.T @ V)
        if Y.shape[1] == 1:  # the constant (or its coarse image): no (n, m) temporary
            subtract(V, Y[:, 0], coef[0])
        else:
            V -= Y @ coef
        return V

    X0 = project(np.require(X, dtype=np.float64, requirements="C"))
    m0 = X0.shape[1]
    banded = identity and n >= BANDED_ROWS  # a big pixel level: L X0 is not formed whole
    if banded:
        AX0 = BX0 = None
        GA, GB = banded_gram(matmat, L, X0)
    else:
        AX0 = np.empty_like(X0)
        BX0 = X0 if identity else np.empty_like(X0)
        products(X0, AX0, BX0)
        GA, GB = X0.T @ AX0, X0.T @ BX0
    rr = small_rr(GA, GB, m0)
    if rr is None:
        raise np.linalg.LinAlgError("start block is rank deficient")
    lam, C = rr
    m = C.shape[1]  # rank-deficient start: keep what we have
    if identity:
        # pixel level: the k wanted Ritz vectors and their residual norms in one pass (the
        # usual stop: the cascade's start is already within tol); the whole block only if we
        # go on, with AX = AX0 C
        kk = min(k, m)
        Ck = np.ascontiguousarray(C[:, :kk])
        if banded:
            rsq = banded_ritz_residuals(matmat, rotate, L, X0, Ck, lam[:kk])
        else:
            X = np.empty((n, kk))
            rsq = np.empty(kk)
            rotate(X0, AX0, Ck, lam[:kk], X, rsq)
        rn = np.sqrt(rsq)
        if maxiter == 0 or (accept is None and rn.max(initial=0.0) <= tol):
            if banded:  # X0 C over X0's first kk columns (rows are independent: the kernel reads
                # row i whole before writing it; with X0 as its own product the residual output
                # is not a residual and is not read)
                X = X0[:, :kk]
                rotate(X0, X0, Ck, lam[:kk], X, np.empty(kk))
            return LobpcgResult(values=lam, vectors=X, iterations=0, residuals=rn, solver="block")
        check = _PIXEL_ITERATION_CHECK.get()
        if check is not None:  # e.g. a job with the default limit counted this level's start only
            check(n, m)
        if banded:  # going on: L X0 whole, as on any level
            AX0 = np.empty_like(X0)
            BX0 = X0
            products(X0, AX0, BX0)
        # the whole block (column by column the same sums as the kk columns above; one C-order
        # output, so the kernel compiles for one layout)
        X = np.empty((n, m))
        rotate(X0, AX0, np.ascontiguousarray(C), lam, X, np.empty(m))
        AX = AX0 @ C
        BX = X
    else:  # one product at a time, each source dropped once read: 5 blocks at once, not 6
        X = X0 @ C
        AX, AX0 = AX0 @ C, None
        BX, BX0 = BX0 @ C, None
    # the start block is read no more, but the caller (the cascade) still holds it: its storage
    # becomes the residual block of every iteration, then X (X^T B W) and L W (``X`` may be
    # overwritten), one block less and no temporary
    spare = X0 if X0.shape == (n, m) else None
    del X0, AX0, BX0
    rsq = np.empty(m)
    P = AP = BP = None
    it = 0
    rn = np.full(m, np.inf)
    stale_p = False  # P's products are formed only when another iteration needs them
    # every (n, m) block is dropped as soon as it is read no more (R once W is formed, the old
    # L X, B X and the products of W and P before the new P is formed, W once it is), and P's
    # products are formed after the V-cycle: an iterating pixel level holds 6 blocks at once
    # instead of 12 (and the caller's start block), the same values
    for it in range(maxiter + 1):
        R = np.empty((n, m)) if spare is None else spare
        residual(AX, BX, lam, R, rsq)
        if not dense_updates:  # read no more: the Gram blocks need L W and L P, not L X
            AX = None  # (formed again for the next iteration; not alive at the V-cycle's peak)
        rn = np.sqrt(rsq)
        if monitor is not None:
            monitor(it, lam, X, rn)
        pre = None
        if it == maxiter or rn[:k].max() <= tol:
            if accept is None or it == maxiter:
                break
            pre = precond(R)
            if accept(lam, rn, pre):
                break
        W = project(precond(R) if pre is None else pre)
        R = pre = None  # type: ignore[assignment]
        if stale_p:  # formed after the V-cycle (not alive at its peak)
            AP = np.empty_like(P)
            BP = P if identity else np.empty_like(P)
            products(P, AP, BP)
            stale_p = False
        coef = BX.T @ W
        W -= X @ coef if spare is None else np.matmul(X, coef, out=spare)  # the same product
        AW = np.empty_like(W) if spare is None else spare  # the spare block, read no more
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
        rr = small_rr(GA, GB, m)
        del blocks
        if rr is None or rr[1].shape[1] < m:
            break
        lam, C = rr
        # X <- S C, P <- (W, P) part of S C; their L and B products by fresh sparse passes
        Cw, Cp, Cx = C[m:2 * m], C[2 * m:], C[:m]
        if not dense_updates:  # formed again below (P's when another iteration needs them)
            AX = BX = AP = BP = AW = BW = None  # type: ignore[assignment]
        Pn = W @ Cw
        if nb == 3:
            Pn += P @ Cp
        last = it + 1 == maxiter and not final_residuals  # (no products of the returned update)
        if dense_updates and not last:
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
        W = AW = BW = None  # type: ignore[assignment]
        P = Pn
        X = X @ Cx
        X += P
        if identity:
            BX = X
        if last:  # the returned update: nothing reads its products
            it = maxiter
            rn = np.full(m, np.nan)
            break
        if not dense_updates:
            AX = np.empty_like(X)
            BX = X if identity else np.empty_like(X)
            products(X, AX, BX)
            stale_p = True
    return LobpcgResult(values=lam, vectors=X, iterations=it, residuals=rn, solver="block")

