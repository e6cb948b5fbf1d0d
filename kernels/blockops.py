"""Sparse and block kernels of the smoothed-aggregation LOBPCG (``fastshade.spectral``).

Raw kernels: module-level ``@jit`` functions, CSR pieces and dense blocks in,
**caller-allocated outputs and work arrays**, no validation, no raising.  The
validated callers are :func:`fastshade.spectral._build_hierarchy`,
:func:`fastshade.spectral._vcycle` and :func:`fastshade.spectral._lobpcg`.
Entries are summed in traversal order, so every result is deterministic.  Indices read
from index arrays are converted to ``np.uintp`` before they index another array, so Numba
emits no negative-index wraparound for them (the Gustavson products run ~30 % faster;
same results).

Hierarchy setup (Gustavson products with dense per-row marker / accumulator arrays
of the output's column count; output rows list their columns in first-touch order):

* the smoothed prolongator ``P = (I - omega D^-1 A) T`` and the Galerkin products ``P^T A P``
  and ``P^T B P`` of one level: :mod:`fastshade.kernels.spgemm`.
* :func:`strength_pattern`: PyAMG's symmetric strength pattern.

Block iteration: :func:`csr_matmat`, :func:`csr_matmat_pair` (``A X`` and ``B X``
on a shared pattern), :func:`csr_residual`, :func:`jacobi_sweep` (the V-cycle),
:func:`rotate_residual` (Ritz vectors and residual norms without forming
``A X C``), :func:`ritz_residual` (residual block and norms), :func:`subtract_outer`
(the constraint projection) and
:func:`column_sumsq_extrema` (column norms and signs of the result) and
:func:`gather_scaled_columns` (the result's columns, reordered and scaled); the main diagonal:
:func:`csr_diagonal` (its values), :func:`main_diagonal_entries` (its stored entries).

The block-iteration kernels (not the setup products, not :func:`column_sumsq_extrema`) are
parallel (``jit_parallel``) over fixed chunks of :data:`ROW_CHUNK` rows: a row's values do not
depend on the thread count, and the column sums of squares add per-chunk partial sums in chunk
order, so the bytes are the same for any number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import jit, jit_parallel

ROW_CHUNK = 4096
"""Rows per task of the parallel kernels: the fixed partition that makes their bytes
independent of the thread count (a sum over rows adds per-chunk partial sums in chunk order)."""


@jit_parallel
def prolongate_smoothed(a_indptr, a_indices, a_data, a_shift, omega, agg, norms, X, Y):
    """``Y = P @ X`` for the level-0 smoothed prolongator, without forming ``P``.

    ``P = (I - omega diag(dinv) (A + a_shift I)) T``, ``T[i, agg[i]] = 1 / norms[agg[i]]`` (the
    constant candidate), ``dinv[i] = 1 / (a_ii + a_shift)``.  Row ``i`` of ``P`` is formed in a
    row buffer as :func:`~fastshade.kernels.spgemm.smoothed_prolongator` forms it (own aggregate first, then the
    neighbours' aggregates in first-touch order, each value accumulated in ``A``'s order) and
    multiplied with ``X`` as :func:`csr_matmat` does (entries in that order): the bits of the two
    kernels in a row, without ``P``'s arrays or ``dinv`` and ``t``.

    a_indptr, a_indices, a_data : CSR of ``A`` (n, n), every row storing its diagonal once.
    a_shift, omega : float.  agg : int (n,) aggregates; norms : float64 (nc,).
    X : float64 (nc, m), any strides; Y : float64 (n, m) output.  Rows in parallel chunks of
        :data:`ROW_CHUNK`.
    """
    n = a_indptr.size - 1
    m = X.shape[1]
    for c0 in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        r0, r1 = c0 * ROW_CHUNK, min(n, (c0 + 1) * ROW_CHUNK)
        width = 1
        for i in range(r0, r1):
            width = max(width, a_indptr[i + 1] - a_indptr[i] + 1)
        cols = np.empty(width, dtype=np.int64)
        vals = np.empty(width)
        acc = np.empty(m)
        for i in range(r0, r1):
            p0 = a_indptr[i]
            p1 = a_indptr[i + 1]
            d = 0.0
            for p in range(p0, p1):
                if a_indices[p] == i:
                    d = a_data[p]
            s = -omega * (1.0 / (d + a_shift))
            own = np.uintp(agg[i])
            cols[0] = own
            vals[0] = 1.0 / norms[own]
            nz = 1
            for p in range(p0, p1):
                j = np.uintp(a_indices[p])
                b = np.uintp(agg[j])
                a = a_data[p]
                if a_shift != 0.0:
                    a = a + (a_shift if a_indices[p] == i else 0.0)
                v = s * a * (1.0 / norms[b])
                q = -1
                for z in range(nz):
                    if cols[z] == b:
                        q = z
                        break
                if q < 0:
                    cols[nz] = b
                    vals[nz] = v
                    nz += 1
                else:
                    vals[q] += v
            # the row's product written out as csr_matmat writes it (the same sums in the same
            # order; as a called helper the row product ran ~40 % slower there)
            for c in range(m):
                acc[c] = 0.0
            for z in range(nz):
                u = vals[z]
                xj = X[np.uintp(cols[z])]
                for c in range(m):
                    acc[c] += u * xj[c]
            yi = Y[i]
            for c in range(m):
                yi[c] = acc[c]


@jit_parallel
def csr_matmat(indptr, indices, data, X, Y):
    """``Y = A @ X`` for a CSR ``A`` (r, s) and a dense block ``X`` (s, m).

    indptr, indices, data : CSR of ``A``, float64 data.
    X : float64 (s, m), any strides (e.g. a column slice of a stacked block).
    Y : float64 (r, m) output, any strides, allocated by the caller; every entry written.
        Row ``i`` sums its entries in CSR order.  Rows in parallel chunks of
        :data:`ROW_CHUNK`.
    """
    r = indptr.size - 1
    m = X.shape[1]
    for t in prange((r + ROW_CHUNK - 1) // ROW_CHUNK):
        acc = np.empty(m)  # the row's sums stay in cache, not in ``Y`` (same values)
        for i in range(t * ROW_CHUNK, min(r, (t + 1) * ROW_CHUNK)):
            # (the row product written out here and in csr_matmat_add: as a called helper
            # it ran ~40 % slower; rows of X and Y as 1-D views vectorise)
            for c in range(m):
                acc[c] = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                u = data[p]
                xj = X[np.uintp(indices[p])]
                for c in range(m):
                    acc[c] += u * xj[c]
            yi = Y[i]
            for c in range(m):
                yi[c] = acc[c]


@jit_parallel
def csr_matmat_pair(indptr, indices, a_data, b_data, X, AX, BX):
    """``AX = A @ X`` and ``BX = B @ X`` for two CSR matrices on one pattern.

    indptr, indices : shared CSR pattern (r, s); a_data, b_data : float64 (nnz,).
    X : float64 (s, m), any strides.
    AX, BX : float64 (r, m) outputs, any strides, allocated by the caller.  Rows in parallel
        chunks of :data:`ROW_CHUNK` (each row's sums in a local pair of accumulators).
    """
    r = indptr.size - 1
    m = X.shape[1]
    for t in prange((r + ROW_CHUNK - 1) // ROW_CHUNK):
        acc_a = np.empty(m)
        acc_b = np.empty(m)
        for i in range(t * ROW_CHUNK, min(r, (t + 1) * ROW_CHUNK)):
            for c in range(m):
                acc_a[c] = 0.0
                acc_b[c] = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                u = a_data[p]
                v = b_data[p]
                xj = X[np.uintp(indices[p])]
                for c in range(m):
                    x = xj[c]
                    acc_a[c] += u * x
                    acc_b[c] += v * x
            ai = AX[i]
            bi = BX[i]
            for c in range(m):
                ai[c] = acc_a[c]
                bi[c] = acc_b[c]


@jit_parallel
def csr_residual(indptr, indices, data, X, R, out):
    """``out = R - A @ X`` for a square CSR ``A`` (n, n) and dense blocks (n, m).

    indptr, indices, data : CSR of ``A``, float64 data.
    X, R : float64 (n, m), any strides.
    out : float64 (n, m) output allocated by the caller (must not alias ``X``).  Rows in
        parallel chunks of :data:`ROW_CHUNK`.
    """
    n = indptr.size - 1
    m = X.shape[1]
    for t in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        acc = np.empty(m)
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            _residual_row(indptr, indices, data, X, R, acc, i)
            oi = out[i]
            for c in range(m):
                oi[c] = acc[c]


@jit
def _residual_row(indptr, indices, data, X, R, acc, i):
    """Row ``i`` of ``R - A @ X`` into ``acc`` (m,) (entries of ``A``'s row in stored order)."""
    m = X.shape[1]
    ri = R[i]
    for c in range(m):
        acc[c] = ri[c]
    for p in range(indptr[i], indptr[i + 1]):
        u = data[p]
        xj = X[np.uintp(indices[p])]
        for c in range(m):
            acc[c] -= u * xj[c]


@jit_parallel
def jacobi_sweep(indptr, indices, data, wdinv, X, R, out):
    """One damped Jacobi sweep ``out = X + wdinv * (R - A @ X)`` (row scaling by ``wdinv``).

    indptr, indices, data : CSR of the square ``A`` (n, n), float64 data.
    wdinv : float64 (n,), ``omega / diag(A)``.
    X, R : float64 (n, m), any strides.
    out : float64 (n, m) output allocated by the caller (must not alias ``X``).  Rows in
        parallel chunks of :data:`ROW_CHUNK`.
    """
    m = X.shape[1]
    n = indptr.size - 1
    for t in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        acc = np.empty(m)
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            ri = R[i]  # (the residual row written out: as a called helper it ran slower)
            for c in range(m):
                acc[c] = ri[c]
            for p in range(indptr[i], indptr[i + 1]):
                u = data[p]
                xj = X[np.uintp(indices[p])]
                for c in range(m):
                    acc[c] -= u * xj[c]
            w = wdinv[i]
            xi = X[i]
            oi = out[i]
            for c in range(m):
                oi[c] = xi[c] + w * acc[c]


@jit_parallel
def jacobi_start(indptr, indices, data, wdinv, R, X, out):
    """The first smoothing step of a V-cycle from zero, in one pass.

    ``X = wdinv * R`` (row scaling) and ``out = R - A @ X``; the neighbours' ``X`` entries
    are formed on the fly (the same products as reading them back), so the results equal
    ``X = R * wdinv[:, None]`` followed by :func:`csr_residual`.

    indptr, indices, data : CSR of the square ``A`` (n, n), float64 data.
    wdinv : float64 (n,); R : float64 (n, m), any strides.
    X, out : float64 (n, m) outputs allocated by the caller (neither may alias ``R``).  Rows
        in parallel chunks of :data:`ROW_CHUNK`.
    """
    m = R.shape[1]
    n = indptr.size - 1
    for t in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        acc = np.empty(m)
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            w = wdinv[i]
            ri = R[i]
            xi = X[i]
            for c in range(m):
                xi[c] = ri[c] * w
                acc[c] = ri[c]
            for p in range(indptr[i], indptr[i + 1]):
                j = np.uintp(indices[p])
                u = data[p]
                wj = wdinv[j]
                rj = R[j]
                for c in range(m):
                    acc[c] -= u * (rj[c] * wj)
            oi = out[i]
            for c in range(m):
                oi[c] = acc[c]


@jit_parallel
def csr_matmat_add(indptr, indices, data, X, Y):
    """``Y += A @ X`` for a CSR ``A`` (r, s) and dense blocks; ``A @ X`` is rounded first.

    indptr, indices, data : CSR of ``A``, float64 data.
    X : float64 (s, m), any strides.  Y : float64 (r, m), updated (must not alias ``X``).
    Row ``i`` of ``A @ X`` sums its entries in CSR order (as :func:`csr_matmat`), then is
    added to ``Y``'s row: the same values as ``T = A @ X; Y += T``.  Rows in parallel chunks
    of :data:`ROW_CHUNK`.
    """
    r = indptr.size - 1
    m = X.shape[1]
    for t in prange((r + ROW_CHUNK - 1) // ROW_CHUNK):
        acc = np.empty(m)
        for i in range(t * ROW_CHUNK, min(r, (t + 1) * ROW_CHUNK)):
            for c in range(m):  # (csr_matmat's row product)
                acc[c] = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                u = data[p]
                xj = X[np.uintp(indices[p])]
                for c in range(m):
                    acc[c] += u * xj[c]
            yi = Y[i]
            for c in range(m):
                yi[c] += acc[c]


@jit
def strength_pattern(a_indptr, a_indices, a_data, diag_abs, theta, s_indptr, s_indices):
    """Pattern of PyAMG's symmetric strength of connection; returns its entry count.

    Keeps the diagonal and every ``a_ij`` with ``a_ij^2 >= theta^2 |a_ii| |a_jj|``, in the
    order of ``A`` (the same pattern as ``pyamg.strength.symmetric_strength_of_connection``;
    its values are not formed, standard aggregation reads the pattern only).

    a_indptr, a_indices, a_data : CSR of the square ``A`` (n, n), float64 data.
    diag_abs : float64 (n,), ``|a_ii|``; theta : float >= 0.
    s_indptr : int (n + 1,) output; s_indices : int (>= nnz(A),) output (first
        ``s_indptr[n]`` entries written).
    """
    n = a_indptr.size - 1
    t2 = theta * theta
    nnz = 0
    s_indptr[0] = 0
    for i in range(n):
        e = t2 * diag_abs[i]
        p0 = a_indptr[i]
        p1 = a_indptr[i + 1]
        cols = a_indices[p0:p1]  # the row as 1-D views
        vals = a_data[p0:p1]
        for p in range(p1 - p0):
            j = cols[p]
            v = vals[p]
            if j == i or v * v >= e * diag_abs[np.uintp(j)]:
                s_indices[nnz] = j
                nnz += 1
        s_indptr[i + 1] = nnz
    return nnz


@jit
def _sum_chunks(part, out):
    """``out[j] = sum_t part[t, j]``, the chunks added in order."""
    for j in range(part.shape[1]):
        out[j] = 0.0
    for t in range(part.shape[0]):
        for j in range(part.shape[1]):
            out[j] += part[t, j]


@jit
def _rotate_row(X0, AX0, C, lam, xrow, rsq, i):
    """Row ``i`` of :func:`rotate_residual` into ``xrow`` (m,); adds its squared residuals to ``rsq``."""
    p = X0.shape[1]
    m = C.shape[1]
    j = 0
    while j + 4 <= m:
        s0 = s1 = s2 = s3 = 0.0
        t0 = t1 = t2 = t3 = 0.0
        for q in range(p):
            x = X0[i, q]
            a = AX0[i, q]
            c0 = C[q, j]
            c1 = C[q, j + 1]
            c2 = C[q, j + 2]
            c3 = C[q, j + 3]
            s0 += x * c0
            s1 += x * c1
            s2 += x * c2
            s3 += x * c3
            t0 += a * c0
            t1 += a * c1
            t2 += a * c2
            t3 += a * c3
        xrow[j] = s0
        xrow[j + 1] = s1
        xrow[j + 2] = s2
        xrow[j + 3] = s3
        r = t0 - lam[j] * s0
        rsq[j] += r * r
        r = t1 - lam[j + 1] * s1
        rsq[j + 1] += r * r
        r = t2 - lam[j + 2] * s2
        rsq[j + 2] += r * r
        r = t3 - lam[j + 3] * s3
        rsq[j + 3] += r * r
        j += 4
    while j < m:
        s0 = t0 = 0.0
        for q in range(p):
            s0 += X0[i, q] * C[q, j]
            t0 += AX0[i, q] * C[q, j]
        xrow[j] = s0
        r = t0 - lam[j] * s0
        rsq[j] += r * r
        j += 1


@jit_parallel
def rotate_residual(X0, AX0, C, lam, X, rsq):
    """Ritz vectors ``X = X0 @ C`` and the squared residual norms of ``(lam, X)``.

    ``rsq[j] = sum_i ((AX0 @ C)[i, j] - lam[j] X[i, j])^2`` without forming ``AX0 @ C``
    (identity mass matrix).

    X0, AX0 : float64 (n, p), any strides (a block and its product with the operator).
    C : float64 (p, m) coefficients; lam : float64 (m,).
    X : float64 (n, m) output allocated by the caller; it may be the first ``m`` columns of
        ``X0`` or ``AX0`` (a row is written after it is read); rsq : float64 (m,) output
        (overwritten).  Every entry of ``X`` sums its ``p`` products in order ``q = 0..p-1``
        (the same sums column by column as over all ``m`` columns at once), four columns at
        a time in scalar accumulators (registers, not memory).  Rows in parallel chunks of
        :data:`ROW_CHUNK`; ``rsq`` sums each chunk's rows in order, then the chunks in order.
    """
    n = X0.shape[0]
    m = C.shape[1]
    nt = (n + ROW_CHUNK - 1) // ROW_CHUNK
    part = np.zeros((nt, m))
    for t in prange(nt):
        xrow = np.empty(m)
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            _rotate_row(X0, AX0, C, lam, xrow, part[t], i)
            for j in range(m):
                X[i, j] = xrow[j]
    _sum_chunks(part, rsq)


@jit_parallel
def ritz_residual(AX, BX, lam, R, rsq):
    """Residual block ``R = AX - BX * lam`` (column ``j`` scaled by ``lam[j]``) and its
    squared column norms ``rsq[j] = sum_i R[i, j]^2``, in one pass.

    AX, BX : float64 (n, m), any strides; lam : float64 (m,).
    R : float64 (n, m) output, any strides (may alias neither input); rsq : float64 (m,)
        output (overwritten).  Rows in parallel chunks of :data:`ROW_CHUNK`; ``rsq`` sums
        each chunk's rows in order, then the chunks in order.
    """
    n = AX.shape[0]
    m = AX.shape[1]
    nt = (n + ROW_CHUNK - 1) // ROW_CHUNK
    part = np.zeros((nt, m))
    for t in prange(nt):
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            for j in range(m):
                r = AX[i, j] - lam[j] * BX[i, j]
                R[i, j] = r
                part[t, j] += r * r
    _sum_chunks(part, rsq)


@jit_parallel
def subtract_outer(V, y, c):
    """In place ``V -= outer(y, c)``: removes the component along ``y`` with coefficients ``c``.

    V : float64 (n, m), any strides, updated; y : float64 (n,); c : float64 (m,).  Rows in
    parallel chunks of :data:`ROW_CHUNK`.
    """
    n = V.shape[0]
    m = V.shape[1]
    for t in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            yi = y[i]
            for j in range(m):
                V[i, j] -= yi * c[j]


@jit
def column_sumsq_extrema(V, sumsq, vmax, vmin):
    """Per-column sum of squares, maximum and minimum of ``V`` in one read pass.

    V : float64 (n, m), any strides, ``n >= 1``, finite.
    sumsq, vmax, vmin : float64 (m,) outputs (overwritten).  Rows are summed in order.
    """
    n = V.shape[0]
    m = V.shape[1]
    for j in range(m):
        v = V[0, j]
        sumsq[j] = v * v
        vmax[j] = v
        vmin[j] = v
    for i in range(1, n):
        for j in range(m):
            v = V[i, j]
            sumsq[j] += v * v
            if v > vmax[j]:
                vmax[j] = v
            if v < vmin[j]:
                vmin[j] = v


@jit_parallel
def gather_scaled_columns(V, order, scale, out):
    """``out[:, j] = V[:, order[j]] * scale[j]`` for ``j < len(order)``, 0 in the other columns,
    rows in parallel chunks (the twin: a big basis's columns, first written on every thread).

    V : float64 (n, p), any strides; order : int64 (nv,), ``0 <= order < p``, ``nv <= k``;
    scale : float64 (nv,); out : float64 (n, k) output (every entry written).  One product per
    entry: the values of ``out[:, :nv] = V[:, order] * scale`` in one pass, without the copy.
    """
    n = out.shape[0]
    k = out.shape[1]
    nv = order.shape[0]
    for t in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            for j in range(nv):
                out[i, j] = V[i, np.uintp(order[j])] * scale[j]
            for j in range(nv, k):
                out[i, j] = 0.0


@jit_parallel
def scaled_column_energy(V, order, scale, first, out):
    """``out[i] = sum_{first <= j < len(order)} (V[i, order[j]] * scale[j])**2``, rows in parallel
    chunks: the row energy :func:`fastshade.kernels.shading.column_energy` reads from the output of
    :func:`gather_scaled_columns` (its zero columns add nothing), without forming it.

    V : float64 (n, p), any strides; order : int64 (nv,), ``0 <= order < p``; scale : float64
    (nv,); first : int >= 0; out : float64 (n,) output.  Each product is the one
    :func:`gather_scaled_columns` writes, the squares are added left to right as ``column_energy``
    adds them: the same bits.
    """
    n = out.shape[0]
    nv = order.shape[0]
    for t in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            total = 0.0
            for j in range(first, nv):
                v = V[i, np.uintp(order[j])] * scale[j]
                total += v * v
            out[i] = total


@jit_parallel
def main_diagonal_entries(indptr, indices, on_diag):
    """Mark the stored entries on the main diagonal; returns how many rows store it exactly once
    (rows in parallel chunks of :data:`ROW_CHUNK`; an integer count, the same in any order).

    on_diag : bool (nnz,) output, ``on_diag[p] = indices[p] == row of p``.
    """
    n = indptr.size - 1
    once = 0
    for t in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        part = 0
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            count = 0
            p0 = indptr[i]
            p1 = indptr[i + 1]
            cols = indices[p0:p1]  # the row as 1-D views
            marks = on_diag[p0:p1]
            for p in range(p1 - p0):
                hit = cols[p] == i
                marks[p] = hit
                count += hit
            part += count == 1
        once += part
    return once


@jit_parallel
def csr_diagonal(indptr, indices, data, out):
    """``out[i]``: the sum of row ``i``'s stored entries in column ``i``, added to 0.0 in stored
    order (SciPy's ``csr_matrix.diagonal()``, bit for bit), rows in parallel chunks.

    indptr, indices, data : CSR of a square matrix (n, n); out : float64 (n,) output.
    """
    n = indptr.size - 1
    for t in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            total = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                if indices[p] == i:
                    total += data[p]
            out[i] = total
