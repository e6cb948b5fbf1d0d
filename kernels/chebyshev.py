"""Chebyshev heat-filter kernels: symmetric diagonal storage and the three-term recurrence.

Raw kernels (``original-system.md`` §2.4; ``docs/heat-filter.md``): module-level ``@jit``
functions, raw arrays in, **caller-allocated outputs**, no validation, no raising.  Validated,
allocating wrappers: :func:`fastshade.pipeline.chebyshev.symmetric_storage` and
:func:`fastshade.pipeline.chebyshev.chebyshev_heat`.

The explicit heat steps ``(I - a L)^T x`` need ``T ~ t * lambda_max`` products; on the wide
multi-radius "dither" operator (113 stored diagonals, ``lambda_max ~ 69``) that is about a
thousand.  The same polynomial written as a Chebyshev series in ``A = (2 / b) L - I`` (``b``
an upper bound of the spectrum) converges after ``~ sqrt(T log(1 / tol))`` terms, each term
one product with ``L``.

**Symmetric diagonal storage** of a symmetric ``n x n`` matrix ``L``: ``offsets`` int64
``(nd,)``, ascending and positive; ``upper`` float32 or float64 ``(nd, n)`` with
``upper[k, i] = L[i, i + offsets[k]]`` (0 where not stored, and for ``i + offsets[k] >= n``);
``diag`` float64 ``(n,)``, the main diagonal.  Row ``i`` of ``L x`` is
``diag[i] x[i] + sum_k (upper[k, i] x[i + d_k] + upper[k, i - d_k] x[i - d_k])``: half the
storage of the full diagonals, each stored value read once per product and used twice.

Typical use::

    upper = np.empty((offsets.size, n)); diag = np.empty(n)
    csr_upper_diagonals(L.indptr, L.indices, L.data, offsets, upper, diag)
    out = np.empty(n); cur = np.empty(n); prev = np.empty(n); acc = np.empty(4096)
    chebyshev_filter(offsets, upper, diag, x, coeffs, 2.0 / b, out, cur, prev, acc)
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

# Signatures (documentation only; the kernels are compiled lazily):
#   csr_upper_diagonals(int32|int64[::1], int32|int64[::1], float32|float64[::1], int64[::1],
#                       float32|float64[:, ::1], float64[::1]) -> None
#   sym_dia_matvec(int64[::1], float32|float64[:, ::1], float64[::1], float64[::1], float64[::1],
#                  float64[::1]) -> None
#   chebyshev_filter(int64[::1], float32|float64[:, ::1], float64[::1], float64[::1], float64[::1],
#                    float64, float64[::1], float64[::1], float64[::1], float64[::1]) -> None


@jit
def csr_upper_diagonals(indptr, indices, data, offsets, upper, diag):
    """Symmetric diagonal storage of a CSR matrix: its main diagonal and upper diagonals.

    The columns of every row must be strictly ascending and ``offsets`` (int64 (nd,),
    ascending, positive) must hold every positive ``j - i`` of a stored entry ``(i, j)``
    (both from :func:`fastshade.kernels.fields.csr_diagonal_mask`).  ``upper`` (nd, n) and
    ``diag`` (n,), caller-allocated, are written in full: ``upper[k, i] = A[i, i + offsets[k]]``
    and ``diag[i] = A[i, i]`` (0 where not stored).  Entries below the diagonal are not read
    (the matrix is taken to be symmetric).
    """
    nd = offsets.shape[0]
    for k in range(nd):  # zeros first, one diagonal at a time (contiguous)
        for i in range(upper.shape[1]):
            upper[k, i] = 0.0
    for i in range(indptr.shape[0] - 1):
        diag[i] = 0.0
        k = 0
        for e in range(np.intp(indptr[i]), np.intp(indptr[i + 1])):
            d = np.intp(indices[e]) - i
            if d == 0:
                diag[i] = data[e]
            elif d > 0:
                while offsets[k] < d:
                    k += 1
                upper[k, i] = data[e]


@jit
def _sym_rows_edge(offsets, upper, diag, y, start, stop, acc):
    """``acc[i - start] = (L y)_i`` for rows ``start <= i < stop``, any rows (bounds checked
    per diagonal): the rows within one bandwidth of the first or last row.
    """
    n = y.shape[0]
    for i in range(start, stop):
        acc[i - start] = diag[i] * y[i]
    for k in range(offsets.shape[0]):
        d = offsets[k]
        for i in range(start, min(stop, n - d)):
            acc[i - start] += upper[k, i] * y[i + d]
        for i in range(max(start, d), stop):
            acc[i - start] += upper[k, i - d] * y[i - d]


@jit
def _sym_rows_inner(offsets, upper, diag, y, start, stop, acc):
    """``acc[i - start] = (L y)_i`` for rows at least one bandwidth from both ends of the
    matrix (``start >= offsets[-1]``, ``stop <= n - offsets[-1]``): four diagonals per pass
    over the rows (eight streams of the stored values and of ``y``), which vectorises.
    """
    m = stop - start
    for r in range(m):
        acc[r] = diag[start + r] * y[start + r]
    nd = offsets.shape[0]
    s = start
    e = stop
    k = 0
    while k + 4 <= nd:
        d0 = offsets[k]
        d1 = offsets[k + 1]
        d2 = offsets[k + 2]
        d3 = offsets[k + 3]
        u0 = upper[k, s:e]
        u1 = upper[k + 1, s:e]
        u2 = upper[k + 2, s:e]
        u3 = upper[k + 3, s:e]
        v0 = upper[k, s - d0:e - d0]
        v1 = upper[k + 1, s - d1:e - d1]
        v2 = upper[k + 2, s - d2:e - d2]
        v3 = upper[k + 3, s - d3:e - d3]
        f0 = y[s + d0:e + d0]
        f1 = y[s + d1:e + d1]
        f2 = y[s + d2:e + d2]
        f3 = y[s + d3:e + d3]
        b0 = y[s - d0:e - d0]
        b1 = y[s - d1:e - d1]
        b2 = y[s - d2:e - d2]
        b3 = y[s - d3:e - d3]
        for r in range(m):
            acc[r] += ((u0[r] * f0[r] + v0[r] * b0[r] + u1[r] * f1[r] + v1[r] * b1[r])
                       + (u2[r] * f2[r] + v2[r] * b2[r] + u3[r] * f3[r] + v3[r] * b3[r]))
        k += 4
    while k < nd:
        d0 = offsets[k]
        u0 = upper[k, s:e]
        v0 = upper[k, s - d0:e - d0]
        f0 = y[s + d0:e + d0]
        b0 = y[s - d0:e - d0]
        for r in range(m):
            acc[r] += u0[r] * f0[r] + v0[r] * b0[r]
        k += 1


@jit
def _chunk_stop(start, n, band, width):
    """End of the chunk of at most ``width`` rows that starts at ``start`` and does not cross
    ``band`` or ``n - band`` (so that a chunk is all edge rows or all inner rows).
    """
    if start < band:
        return min(band, n, start + width)
    if start < n - band:
        return min(n - band, start + width)
    return min(n, start + width)


@jit
def _sym_rows(offsets, upper, diag, y, start, stop, band, acc):
    """``acc[i - start] = (L y)_i`` for the rows of one chunk (see :func:`_chunk_stop`)."""
    n = y.shape[0]
    if start >= band and stop <= n - band:
        _sym_rows_inner(offsets, upper, diag, y, start, stop, acc)
    else:
        _sym_rows_edge(offsets, upper, diag, y, start, stop, acc)


@jit
def sym_dia_matvec(offsets, upper, diag, x, out, acc):
    """``out = L @ x`` for ``L`` in symmetric diagonal storage (see the module docstring).

    Parameters
    ----------
    offsets, upper, diag : int64 (nd,), float32 or float64 (nd, n), float64 (n,)
        ``L`` from :func:`csr_upper_diagonals`.
    x : float64 (n,)
        Input vector.
    out : float64 (n,), caller-allocated
        Receives ``L @ x``; must not alias ``x``.
    acc : float64 (b,), caller-allocated scratch, ``b >= 1``
        Rows go in chunks of ``b`` (a few thousand keeps a chunk in cache).
    """
    n = x.shape[0]
    band = offsets[offsets.shape[0] - 1] if offsets.shape[0] > 0 else 0
    width = acc.shape[0]
    start = 0
    while start < n:
        stop = _chunk_stop(start, n, band, width)
        _sym_rows(offsets, upper, diag, x, start, stop, band, acc)
        for r in range(stop - start):
            out[start + r] = acc[r]
        start = stop


@jit
def chebyshev_filter(offsets, upper, diag, x, coeffs, scale, out, cur, prev, acc):
    """``out = sum_k coeffs[k] T_k(A) x`` with ``A = scale * L - I`` (Chebyshev series of ``L``).

    The three-term recurrence ``y_0 = x``, ``y_1 = A x``, ``y_{k+1} = 2 A y_k - y_{k-1}``,
    one product with ``L`` per term after the first, fused with the update of ``out`` chunk
    by chunk (``y_{k+1}`` overwrites ``y_{k-1}`` row by row).  With ``scale = 2 / b`` and the
    spectrum of ``L`` inside ``[0, b]``, ``A``'s is inside ``[-1, 1]`` where ``|T_k| <= 1``.

    Parameters
    ----------
    offsets, upper, diag : int64 (nd,), float32 or float64 (nd, n), float64 (n,)
        ``L`` in symmetric diagonal storage (:func:`csr_upper_diagonals`).
    x : float64 (n,)
        Input vector (read only).
    coeffs : float64 (m,), ``m >= 1``
        Series coefficients.
    scale : float
        ``A = scale * L - I``.
    out : float64 (n,), caller-allocated
        Receives the series.
    cur, prev : float64 (n,), caller-allocated scratch
        ``x``, ``out``, ``cur`` and ``prev`` must not alias one another.
    acc : float64 (b,), caller-allocated scratch, ``b >= 1``
        Rows go in chunks of ``b``.
    """
    n = x.shape[0]
    m = coeffs.shape[0]
    band = offsets[offsets.shape[0] - 1] if offsets.shape[0] > 0 else 0
    width = acc.shape[0]
    c0 = coeffs[0]
    for i in range(n):
        prev[i] = x[i]
        out[i] = c0 * x[i]
    for term in range(1, m):
        src = prev if term == 1 else cur
        c = coeffs[term]
        start = 0
        while start < n:
            stop = _chunk_stop(start, n, band, width)
            _sym_rows(offsets, upper, diag, src, start, stop, band, acc)
            if term == 1:  # y_1 = A x into cur (prev still holds y_0 = x)
                for r in range(stop - start):
                    v = scale * acc[r] - src[start + r]
                    cur[start + r] = v
                    out[start + r] += c * v
            else:  # y_{k+1} = 2 A y_k - y_{k-1}, over y_{k-1} (read at row i only)
                for r in range(stop - start):
                    i = start + r
                    v = 2.0 * (scale * acc[r] - src[i]) - prev[i]
                    prev[i] = v
                    out[i] += c * v
            start = stop
        if term > 1:
            cur, prev = prev, cur
