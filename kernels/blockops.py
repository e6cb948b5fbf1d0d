"""Sparse setup products of the smoothed-aggregation hierarchy (``fastshade.spectral``).

Raw kernels: module-level ``@jit`` functions, CSR pieces in, **caller-allocated
outputs and work arrays**, no validation, no raising.  The validated caller is
:func:`fastshade.spectral._build_hierarchy`.

Every product is two-pass (a symbolic pass counts the entries of each output row,
the caller allocates, a numeric pass fills) with dense per-row marker / accumulator
arrays of the output's column count (Gustavson's algorithm).  Output rows list their
columns in first-touch order (not sorted); entries are summed in traversal
order, so the result is deterministic.

* :func:`smoothed_prolongator` builds ``P = (I - omega D^-1 A) T`` for an
  aggregation ``T[i, agg[i]] = t[i]`` (one entry per row) straight from
  ``agg`` and ``t``.
* :func:`spgemm_pair` forms two products on one pattern,
  ``C1 = X1 @ Y1`` and ``C2 = X2 @ Y2``, where ``X1, X2`` share the CSR
  pattern ``(x_indptr, x_indices)`` and ``Y1, Y2`` share ``(y_indptr,
  y_indices)``: the Galerkin products ``P^T A P`` and ``P^T B P`` of one level
  cost one index traversal.  Entries of ``C2`` outside ``X2 @ Y2``'s own
  pattern are explicit zeros.

Typical use::

    pos = np.full(n_cols, -1, np.int64); counts = np.empty(n_rows, np.int64)
    spgemm_row_nnz(x_indptr, x_indices, y_indptr, y_indices, pos, counts)
    c_indptr = np.zeros(n_rows + 1, np.int64); np.cumsum(counts, out=c_indptr[1:])
    c_indices = np.empty(c_indptr[-1], np.int64); c1 = np.empty(c_indptr[-1]); c2 = ...
    pos.fill(-1); acc1 = np.zeros(n_cols); acc2 = np.zeros(n_cols)
    spgemm_pair(x_indptr, x_indices, x1, x2, y_indptr, y_indices, y1, y2,
                c_indptr, pos, acc1, acc2, c_indices, c1, c2)
"""

from __future__ import annotations

from kernels._jit import jit


@jit
def smoothed_prolongator_row_nnz(a_indptr, a_indices, agg, pos, counts):
    """Entries per row of ``P = (I - w D^-1 A) T`` (symbolic pass).

    a_indptr, a_indices : CSR pattern of the square ``A`` (n, n), any int dtype.
    agg : int (n,), aggregate of every node (``0 <= agg < n_coarse``).
    pos : int64 (n_coarse,) work array, filled with -1 by the caller.
    counts : int64 (n,) output, entries of each row of ``P``.
    """
    n = a_indptr.size - 1
    for i in range(n):
        c = 1
        pos[agg[i]] = i
        for p in range(a_indptr[i], a_indptr[i + 1]):
            b = agg[a_indices[p]]
            if pos[b] != i:
                pos[b] = i
                c += 1
        counts[i] = c


@jit
def smoothed_prolongator(a_indptr, a_indices, a_data, dinv, omega, agg, t,
                         p_indptr, pos, p_indices, p_data):
    """Numeric pass of ``P = (I - omega diag(dinv) A) T`` with ``T[i, agg[i]] = t[i]``.

    a_indptr, a_indices, a_data : CSR of ``A`` (n, n), float64 data.
    dinv : float64 (n,) (inverse diagonal of ``A``); omega : float.
    agg : int (n,); t : float64 (n,).
    p_indptr : int64 (n + 1,), cumulative :func:`smoothed_prolongator_row_nnz` counts.
    pos : int64 (n_coarse,) work array, filled with -1 by the caller.
    p_indices : int64 (nnz,) output; p_data : float64 (nnz,) output.  Row ``i`` starts with
        its own aggregate, then the neighbours' aggregates in first-touch order.
    """
    n = a_indptr.size - 1
    for i in range(n):
        start = p_indptr[i]
        nz = start
        a = agg[i]
        pos[a] = nz
        p_indices[nz] = a
        p_data[nz] = t[i]
        nz += 1
        s = -omega * dinv[i]
        for p in range(a_indptr[i], a_indptr[i + 1]):
            j = a_indices[p]
            b = agg[j]
            v = s * a_data[p] * t[j]
            q = pos[b]
            if q < start:
                pos[b] = nz
                p_indices[nz] = b
                p_data[nz] = v
                nz += 1
            else:
                p_data[q] += v


@jit
def spgemm_row_nnz(x_indptr, x_indices, y_indptr, y_indices, pos, counts):
    """Entries per row of ``X @ Y`` (symbolic pass; numerical cancellation is not dropped).

    x_indptr, x_indices : CSR pattern of ``X`` (r, s); y_indptr, y_indices : of ``Y`` (s, c).
    pos : int64 (c,) work array, filled with -1 by the caller.
    counts : int64 (r,) output.
    """
    r = x_indptr.size - 1
    for i in range(r):
        c = 0
        for p in range(x_indptr[i], x_indptr[i + 1]):
            j = x_indices[p]
            for q in range(y_indptr[j], y_indptr[j + 1]):
                b = y_indices[q]
                if pos[b] != i:
                    pos[b] = i
                    c += 1
        counts[i] = c


@jit
def spgemm_pair(x_indptr, x_indices, x1, x2, y_indptr, y_indices, y1, y2,
                c_indptr, mark, acc1, acc2, c_indices, c1, c2):
    """Numeric pass of ``C1 = X1 @ Y1`` and ``C2 = X2 @ Y2`` on the shared pattern.

    x1, x2 : float64 (nnz_x,) data of ``X1, X2`` on ``(x_indptr, x_indices)`` (r, s).
    y1, y2 : float64 (nnz_y,) data of ``Y1, Y2`` on ``(y_indptr, y_indices)`` (s, c).
    c_indptr : int (r + 1,), cumulative :func:`spgemm_row_nnz` counts.
    mark : int64 (c,) work array, filled with -1 by the caller.
    acc1, acc2 : float64 (c,) work arrays (dense row accumulators), zeroed by the caller
        (left zeroed on return).
    c_indices : int (nnz_c,) output; c1, c2 : float64 (nnz_c,) outputs.
    """
    r = x_indptr.size - 1
    for i in range(r):
        start = c_indptr[i]
        nz = start
        for p in range(x_indptr[i], x_indptr[i + 1]):
            j = x_indices[p]
            u1 = x1[p]
            u2 = x2[p]
            for q in range(y_indptr[j], y_indptr[j + 1]):
                b = y_indices[q]
                acc1[b] += u1 * y1[q]
                acc2[b] += u2 * y2[q]
                if mark[b] != i:
                    mark[b] = i
                    c_indices[nz] = b
                    nz += 1
        for z in range(start, nz):
            b = c_indices[z]
            c1[z] = acc1[b]
            c2[z] = acc2[b]
            acc1[b] = 0.0
            acc2[b] = 0.0
