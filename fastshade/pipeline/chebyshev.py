"""The Chebyshev heat filter: the explicit heat steps' polynomial in far fewer products.

:func:`fastshade.pipeline.graph.heat_diffusion` takes ``T`` explicit steps ``(I - a L)^T x``,
one product with ``L`` each; stability needs ``a <= 1 / lambda_max``, so a diffusion time
``t = a T`` costs ``T >= t lambda_max`` products.  On the multi-radius "dither" operator
(``lambda_max ~ 69``, 113 stored entries per row) the heat field (``t = 15``) would take a
thousand of them.  :func:`chebyshev_heat` applies the same polynomial as its Chebyshev
series in ``A = (2 / b) L - I`` (``b >= lambda_max``), truncated where the dropped
coefficients sum to at most ``tol``: about ``sqrt(T log(1 / tol))`` products (111 for
``T = 1036``, 50 for ``T = 207`` at the default ``tol``), on a symmetric diagonal storage of
``L`` (float32 values by default) that reads each stored value once per product
(:mod:`fastshade.kernels.chebyshev`).

Error: ``|T_k| <= 1`` on the spectrum of ``A``, so ``||f_series - f_steps||_2 <= tol ||x||_2``
for every ``x`` (plus rounding, and the float32 rounding of the stored values).  Measured
relative L2 errors of the fields and the agreement of the gates: ``docs/heat-filter.md``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from fastshade.checks import check_integer, check_real, check_real_array
from fastshade.kernels import chebyshev as chebyshev_kernels
from fastshade.kernels import fields as field_kernels
from fastshade.pipeline.graph import _csr_pieces

__all__ = ["HEAT_FILTER_TOL", "SymmetricStorage", "chebyshev_heat", "heat_series", "symmetric_storage"]

HEAT_FILTER_TOL = 1e-6
"""Default truncation of :func:`chebyshev_heat`: the dropped coefficients sum to at most this
(so ``||f_series - f_steps||_2 <= 1e-6 ||x||_2``).  On the dither operator this gives relative
L2 field errors of 8e-6 to 1e-5 (the heat field's norm is ~1 % of its noise's) and the same
gates as the explicit steps on toof and snek-heavy (``docs/heat-filter.md``)."""

CHUNK_ROWS = 4096
"""Rows per chunk of one product (its stored values and states stay in cache)."""

SymmetricStorage = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(offsets, upper, diag)``: see :mod:`fastshade.kernels.chebyshev`."""


def symmetric_storage(L: sp.spmatrix | sp.sparray,
                      dtype: type | np.dtype = np.float32) -> SymmetricStorage:
    """Symmetric diagonal storage ``(offsets, upper, diag)`` of a symmetric sparse matrix.

    ``offsets`` int64 (nd,) ascending and positive (every stored ``j - i > 0``), ``upper``
    (nd, n) in ``dtype`` with ``upper[k, i] = L[i, i + offsets[k]]``, ``diag`` float64 (n,)
    (:func:`fastshade.kernels.chebyshev.csr_upper_diagonals`).  The default float32 ``upper``
    halves the memory and makes a product ~1.6x faster (the products are bound by reading
    it); the products still sum in float64, and rounding the weights to float32 changes the
    dither heat field by ~6e-6 relative (``docs/heat-filter.md``).  Only the upper triangle is
    read: ``L`` must be symmetric (as :func:`fastshade.pipeline.graph.image_laplacian` is);
    a matrix whose stored pattern is not symmetric is refused.  Rows with unsorted or
    duplicated columns are canonicalised on a copy first.
    """
    indptr, indices, data, n = _csr_pieces(L)
    present = np.zeros(max(2 * n - 1, 0), dtype=bool)
    if n and not field_kernels.csr_diagonal_mask(indptr, indices, present):
        csr = sp.csr_matrix(L, dtype=data.dtype, copy=True)
        csr.sum_duplicates()
        csr.sort_indices()
        indptr, indices, data = csr.indptr, csr.indices, csr.data
        present[:] = False
        field_kernels.csr_diagonal_mask(indptr, indices, present)
    if not np.array_equal(present, present[::-1]):
        raise ValueError("L must be symmetric: its stored pattern is not")
    offsets = np.flatnonzero(present[n:]).astype(np.int64) + 1
    value_dtype = np.dtype(dtype)
    if value_dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {value_dtype}")
    upper = np.empty((offsets.size, n), dtype=value_dtype)
    diag = np.empty(n)
    chebyshev_kernels.csr_upper_diagonals(indptr, indices, data, offsets, upper, diag)
    return offsets, upper, diag


def heat_series(alpha: float, steps: int, bound: float, tol: float = HEAT_FILTER_TOL) -> np.ndarray:
    """Chebyshev coefficients of ``g(lambda) = (1 - alpha lambda)^steps`` on ``[0, bound]``.

    ``g`` is a polynomial of degree ``steps``; its ``steps + 1`` coefficients in
    ``T_k(2 lambda / bound - 1)`` are exact (up to rounding) from one type-I DCT of its values
    at the Chebyshev-Lobatto points.  Returned: the shortest leading run ``c[:m]`` (``m >= 1``)
    whose dropped tail ``sum_{k >= m} |c_k|`` is at most ``tol`` (``tol = 0``: all of them).
    For ``alpha * bound = 1`` they are ``c_0 = C(2T, T) / 4^T``,
    ``c_k = 2 (-1)^k C(2T, T - k) / 4^T``.
    """
    alpha = check_real("alpha", alpha, 0.0, lo_open=True)
    steps = check_integer("steps", steps, 0)
    bound = check_real("bound", bound, 0.0, lo_open=True)
    tol = check_real("tol", tol, 0.0)
    if steps == 0:
        return np.ones(1)
    t = np.cos(np.pi * np.arange(steps + 1) / steps)
    values = (1.0 - alpha * bound * (1.0 + t) / 2.0) ** steps
    import scipy.fft  # (loads on first use: only the dither operator's series needs it)

    coeffs = scipy.fft.dct(values, type=1) / steps
    coeffs[0] /= 2.0
    coeffs[-1] /= 2.0
    tail = np.cumsum(np.abs(coeffs[::-1]))[::-1]  # tail[m] = sum_{k >= m} |c_k|
    dropped = np.flatnonzero(tail <= tol)
    keep = max(1, int(dropped[0])) if dropped.size else steps + 1
    return np.ascontiguousarray(coeffs[:keep])


def chebyshev_heat(
    L: sp.spmatrix | sp.sparray, x: np.ndarray, *, alpha: float, steps: int, bound: float,
    tol: float = HEAT_FILTER_TOL, storage: SymmetricStorage | None = None,
) -> np.ndarray:
    """``(I - alpha L)^steps x`` as a truncated Chebyshev series (see the module docstring).

    Parameters
    ----------
    L : scipy.sparse matrix (n, n)
        Symmetric, spectrum inside ``[0, bound]`` (a graph Laplacian;
        :func:`fastshade.pipeline.graph.laplacian_bound` gives ``bound`` for an image's).
    x : array, real dtype, ``x.size == n``
        Initial state, any shape (e.g. an ``(H, W)`` image).
    alpha, steps : float, int
        The explicit schedule whose polynomial is applied (``alpha > 0``, ``steps >= 0``).
    bound : float
        Upper bound of ``lambda_max(L)``.  An eigenvalue above it is amplified, not damped:
        it must be a true bound, not an estimate.
    tol : float
        Truncation (:func:`heat_series`): ``||result - (I - alpha L)^steps x||_2 <= tol ||x||_2``.
    storage : tuple, optional
        ``symmetric_storage(L)`` when the caller has it (several fields on one graph).

    Returns
    -------
    numpy.ndarray, float64, shape of ``x``, newly allocated.
    """
    n = L.shape[0] if sp.issparse(L) else -1
    signal = check_real_array("x", x)
    if n < 0 or L.shape[1] != n:
        raise ValueError(f"L must be a square scipy.sparse matrix, got {type(L).__name__}")
    if signal.size != n:
        raise ValueError(f"x must have {n} entries, got shape {signal.shape}")
    coeffs = heat_series(alpha, steps, bound, tol)
    offsets, upper, diag = storage if storage is not None else symmetric_storage(L)
    if upper.shape[1:] != (n,) or diag.shape != (n,) or upper.shape[0] != offsets.size:
        raise ValueError(f"storage does not match L ({n} rows): upper {upper.shape}, diag {diag.shape}")
    flat = np.ascontiguousarray(signal, dtype=np.float64).reshape(n)
    out = np.empty(n)
    cur = np.empty(n)
    prev = np.empty(n)
    acc = np.empty(max(1, min(CHUNK_ROWS, n)))
    chebyshev_kernels.chebyshev_filter(offsets, upper, diag, flat, coeffs, 2.0 / bound, out, cur,
                                       prev, acc)
    return out.reshape(signal.shape)
