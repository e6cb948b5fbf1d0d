"""Sparse products of the smoothed-aggregation setup: ``C1 = X1 @ Y1`` and ``C2 = X2 @ Y2`` on one
pattern (the Galerkin products ``P^T A P`` and ``P^T B P`` of one level in one index traversal),
and level 0's ``P^T A P`` without ``A P`` (:func:`galerkin_triple_product`: each row of ``A P``
formed again where ``P^T`` reads it; at 35 Mpx ``A P`` was 2 GB of fresh pages, about 5 s of system
time on the virtual machines measured, against 2.6 s of user time for forming rows again).

Raw kernels: module-level ``@jit`` functions, CSR pieces in, caller-allocated outputs and work
arrays, no validation, no raising.  The validated caller is
:func:`fastshade.spectral.amg.build_hierarchy` (through :func:`fastshade.spectral.setup_csr.spgemm_pair_matrix`).

Gustavson products with dense per-row marker / accumulator arrays of the output's column count;
an output row lists its columns in first-touch order and sums its entries in traversal order, so
every row is the same bytes whoever computes it.  No symbolic pass: the outputs are sized by the
bound ``sum_p rowlen_Y(x_indices[p])`` (:func:`spgemm_bound`), whose pages past the entries
written stay untouched.

Serial on purpose: a row-parallel version (each chunk of rows written from its bound offset,
then moved together) gained nothing on two cores at 35 Mpx and kept 5 GB more resident (every
transparent huge page of the bound-sized outputs gets touched); a parallel one needs a symbolic
pass first.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

__all__ = ["galerkin_identity_mass", "galerkin_triple_bound", "galerkin_triple_product", "spgemm_bound",
           "spgemm_pair_bounded"]


@jit
def spgemm_bound(x_indices, y_indptr):
    """Upper bound of ``nnz(X @ Y)``: ``sum_p rowlen_Y(x_indices[p])`` (returned, int64).

    x_indices : int (nnz(X),), the column indices of ``X``; y_indptr : int (s + 1,) of ``Y``.
    """
    total = np.int64(0)
    for p in range(x_indices.size):
        j = np.uintp(x_indices[p])
        total += y_indptr[j + 1] - y_indptr[j]
    return total


@jit
def spgemm_pair_bounded(x_indptr, x_indices, x1, x_shift, x2, y_indptr, y_indices, y1, y2,
                        mark, acc1, acc2, c_indptr, c_indices, c1, c2):
    """``C1 = X1 @ Y1`` and ``C2 = X2 @ Y2`` on their shared pattern, one Gustavson pass;
    returns ``nnz``.

    ``X1, X2`` share the pattern ``(x_indptr, x_indices)`` (r, s) with data ``x1, x2``;
    ``Y1, Y2`` share ``(y_indptr, y_indices)`` (s, c) with data ``y1, y2``.  The output
    pattern is structural (numerical cancellation is not dropped), columns of a row in
    first-touch order.  Entries with ``x2[p] == 0`` skip their ``C2`` updates (finite
    ``y2``: the same sums).  No symbolic pass: the caller sizes ``c_indices``, ``c1``, ``c2`` by
    the bound ``sum_p rowlen_Y(x_indices[p])`` (at least ``nnz``).  ``x2``, ``y2``, ``acc2`` and
    ``c2`` all None: ``C1`` alone (Numba compiles that version without the second product).
    ``x_shift`` not 0: ``X1`` is the stored square matrix plus ``x_shift I``, every row storing
    its diagonal once (each entry read as ``x + x_shift`` on the diagonal, ``x + 0.0`` off it: the
    values of the shifted matrix formed first, not formed); ``X2`` is read as stored.

    mark : int64 (c,) work array filled with -1; acc1, acc2 : float64 (c,) zeroed work
        arrays (left zeroed on return).
    c_indptr : int (r + 1,) output; c_indices : int (bound,) output; c1, c2 : float64
        (bound,) outputs; only the first ``nnz`` entries are written.
    """
    r = x_indptr.size - 1
    nz = 0
    c_indptr[0] = 0
    for i in range(r):
        start = nz
        for p in range(x_indptr[i], x_indptr[i + 1]):
            j = np.uintp(x_indices[p])
            u1 = x1[p]
            if x_shift != 0.0:
                u1 = u1 + (x_shift if x_indices[p] == i else 0.0)
            u2 = 0.0
            if x2 is not None:
                u2 = x2[p]
            skip2 = u2 == 0.0  # adds only zeros to C2 (the identity mass at the pixel level)
            q0 = y_indptr[j]
            q1 = y_indptr[j + 1]
            cols = y_indices[q0:q1]  # the row of Y as 1-D views, one loop per case (~10 % faster)
            vals = y1[q0:q1]
            if y2 is not None and not skip2:  # (compiled out for the single product)
                vals2 = y2[q0:q1]
                for q in range(q1 - q0):
                    b = np.uintp(cols[q])
                    acc1[b] += u1 * vals[q]
                    acc2[b] += u2 * vals2[q]
                    if mark[b] != i:
                        mark[b] = i
                        c_indices[nz] = b
                        nz += 1
            else:
                for q in range(q1 - q0):
                    b = np.uintp(cols[q])
                    acc1[b] += u1 * vals[q]
                    if mark[b] != i:
                        mark[b] = i
                        c_indices[nz] = b
                        nz += 1
        for z in range(start, nz):
            b = np.uintp(c_indices[z])
            c1[z] = acc1[b]
            acc1[b] = 0.0
            if c2 is not None:
                c2[z] = acc2[b]
                acc2[b] = 0.0
        c_indptr[i + 1] = nz
    return nz


@jit
def galerkin_identity_mass(pt_indptr, pt_indices, pt_data, p_indptr, p_indices, p_data,
                           c_indptr, c_indices, acc, out):
    """``P^T P`` written on the pattern of ``C = P^T (A P)`` (the level-0 mass ``P^T I P``).

    The same sums, in the same order, as the second product of :func:`spgemm_pair_bounded` run
    on ``A P`` and ``I P`` (whose entries off ``P``'s pattern are zeros): for coarse row ``I``,
    the members ``i`` in ``P^T``'s row order, each adding ``P^T[I, i] P[i, b]``.  Needs every
    entry of ``P`` in ``C``'s row (``A`` stores its diagonal).  acc : float64 (n_coarse,) zeroed
    work array (left zeroed); out : float64 (nnz(C),) output.
    """
    for row in range(pt_indptr.size - 1):
        for p in range(pt_indptr[row], pt_indptr[row + 1]):
            i = np.uintp(pt_indices[p])
            u = pt_data[p]
            if u == 0.0:  # as the pair kernel, which skips a zero factor
                continue
            q0 = p_indptr[i]
            q1 = p_indptr[i + 1]
            cols = p_indices[q0:q1]  # (1-D views, as spgemm_pair_bounded)
            vals = p_data[q0:q1]
            for q in range(q1 - q0):
                acc[np.uintp(cols[q])] += u * vals[q]
        for z in range(c_indptr[row], c_indptr[row + 1]):
            b = np.uintp(c_indices[z])
            out[z] = acc[b]
            acc[b] = 0.0


@jit
def galerkin_triple_bound(a_indptr, a_indices, p_indptr):
    """Bounds for :func:`galerkin_triple_product`: ``(total, longest)`` (int64), where ``total =
    sum_i rowlen_P(i) * r_i`` bounds ``nnz(P^T A P)`` and ``longest = max_i r_i`` bounds a row of
    ``A P``, with ``r_i = sum_{j in A row i} rowlen_P(j)``.

    a_indptr, a_indices : CSR pattern of ``A`` (n, n); p_indptr : int (n + 1,) of ``P``.
    """
    total = np.int64(0)
    longest = np.int64(0)
    for i in range(a_indptr.size - 1):
        r = np.int64(0)
        for a in range(a_indptr[i], a_indptr[i + 1]):
            j = np.uintp(a_indices[a])
            r += p_indptr[j + 1] - p_indptr[j]
        total += (p_indptr[i + 1] - p_indptr[i]) * r
        longest = max(longest, r)
    return total, longest


@jit
def galerkin_triple_product(a_indptr, a_indices, a_data, a_shift, p_indptr, p_indices, p_data,
                            pt_indptr, pt_indices, pt_data, first, row_room,
                            mark, acc, ap_cols, ap_acc, c_indptr, c_indices, c_data):
    """Rows ``first ..`` of ``C = P^T (A P)`` without forming ``A P``; returns the first row not
    written (``nc`` when done).

    The bits of :func:`spgemm_pair_bounded` run twice, on ``A P`` and then on ``P^T (A P)``
    (single products): row ``i`` of ``A P`` is formed again, in ``ap_acc``, for every coarse row
    whose ``P^T`` row lists ``i`` (each entry summed in the same order, its columns in the same
    first-touch order, found by a scan of the few columns so far), and added into ``C``'s row as
    the second product adds it.

    a_indptr, a_indices, a_data, a_shift : ``A`` (n, n) as :func:`spgemm_pair_bounded`'s ``X``
        (``a_shift`` not 0: the stored matrix plus ``a_shift I``, every row storing its diagonal
        once).
    p_indptr, p_indices, p_data : ``P`` (n, nc); pt_indptr, pt_indices, pt_data : ``P^T``.
    first : int, the first coarse row to write (``c_indptr[first]`` holds its start).
    row_room : int, at least the length of any row of ``C``; a row starts only when
        ``row_room`` entries are free in ``c_indices`` (else the call returns that row: the caller
        grows the outputs and calls again from it).
    mark : int64 (nc,) work array filled with -1; acc : float64 (nc,) zeroed work array (left
        zeroed); ap_cols : int (r,), ap_acc : float64 (r,) work arrays, ``r`` at least the
        longest row of ``A P`` (:func:`galerkin_triple_bound`).
    c_indptr : int (nc + 1,) output; c_indices : int, c_data : float64 outputs (same size).
    """
    nc = pt_indptr.size - 1
    capacity = c_indices.size
    nz = c_indptr[first]
    for row in range(first, nc):
        if capacity - nz < row_room:
            return row
        start = nz
        for p in range(pt_indptr[row], pt_indptr[row + 1]):
            i = np.uintp(pt_indices[p])
            u = pt_data[p]
            # row i of A P, as spgemm_pair_bounded forms it (its few columns found by a scan)
            m = 0
            for a in range(a_indptr[i], a_indptr[i + 1]):
                j = np.uintp(a_indices[a])
                w = a_data[a]
                if a_shift != 0.0:
                    w = w + (a_shift if a_indices[a] == i else 0.0)
                q0 = p_indptr[j]
                q1 = p_indptr[j + 1]
                cols = p_indices[q0:q1]
                vals = p_data[q0:q1]
                for q in range(q1 - q0):
                    b = cols[q]
                    z = 0
                    while z < m and ap_cols[z] != b:
                        z += 1
                    if z == m:
                        ap_cols[m] = b
                        ap_acc[m] = 0.0
                        m += 1
                    ap_acc[z] += w * vals[q]
            # ... added into row `row` of C, as the second product adds it
            for z in range(m):
                b = np.uintp(ap_cols[z])
                acc[b] += u * ap_acc[z]
                if mark[b] != row:
                    mark[b] = row
                    c_indices[nz] = b
                    nz += 1
        for z in range(start, nz):
            b = np.uintp(c_indices[z])
            c_data[z] = acc[b]
            acc[b] = 0.0
        c_indptr[row + 1] = nz
    return nc
