"""Sparse products of the smoothed-aggregation setup: the smoothed prolongator ``P = (I - omega
D^-1 A) T`` (two passes), ``C1 = X1 @ Y1`` and ``C2 = X2 @ Y2`` on one pattern (the Galerkin
products ``P^T A P`` and ``P^T B P`` of one level in one index traversal), and level 0's ``P^T A
P`` without ``A P`` (:func:`galerkin_triple_product`: each row of ``A P`` formed again where
``P^T`` reads it; at 35 Mpx ``A P`` was 2 GB of fresh pages, about 5 s of system time on the
virtual machines measured, against 2.6 s of user time for forming rows again).

Raw kernels: module-level ``@jit`` functions, CSR pieces in, caller-allocated outputs and work
arrays, no validation, no raising.  The validated callers are in
:mod:`fastshade.spectral.setup_csr` and :func:`fastshade.spectral.amg.build_hierarchy`.

Gustavson products with dense per-row marker / accumulator arrays of the output's column count;
an output row lists its columns in first-touch order and sums its entries in traversal order, so
every row is the same bytes whoever computes it.  The pair product has no symbolic pass: its
outputs are sized by the bound ``sum_p rowlen_Y(x_indices[p])`` (:func:`spgemm_bound`), whose
pages past the entries written stay untouched; it stays serial (a row-parallel version writing
each chunk from its bound offset gained nothing on two cores at 35 Mpx and kept 5 GB more
resident).  The level-0 kernels (prolongator, :func:`galerkin_triple_chunks`, the mass) are
``jit_parallel``: rows in fixed chunks, each row computed whole by one task, one work array per
thread, so the bytes do not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import get_thread_id, prange

from ._jit import jit, jit_parallel
from .blockops import ROW_CHUNK  # (the one fixed partition of the parallel kernels)

__all__ = ["galerkin_identity_mass", "galerkin_triple_bound", "galerkin_triple_chunks", "galerkin_triple_product",
           "compact_chunk_rows", "smoothed_prolongator", "smoothed_prolongator_row_nnz", "spgemm_bound",
           "spgemm_pair_bounded"]


@jit_parallel
def smoothed_prolongator_row_nnz(a_indptr, a_indices, agg, pos, counts):
    """Entries per row of ``P = (I - w D^-1 A) T`` (symbolic pass), rows in parallel chunks.

    a_indptr, a_indices : CSR pattern of the square ``A`` (n, n), any int dtype.
    agg : int (n,), aggregate of every node (``0 <= agg < n_coarse``).
    pos : int64 (T, n_coarse) work array filled with -1, one row per Numba thread (``T >=
        numba.get_num_threads()``; a row's marks are its own index, so any order of rows is exact).
    counts : int64 (n,) output, entries of each row of ``P``.
    """
    n = a_indptr.size - 1
    for k in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        mark = pos[get_thread_id()]
        for i in range(k * ROW_CHUNK, min(n, (k + 1) * ROW_CHUNK)):
            c = 1
            mark[np.uintp(agg[i])] = i
            cols = a_indices[a_indptr[i]:a_indptr[i + 1]]  # the row as a 1-D view
            for p in range(cols.size):
                b = np.uintp(agg[np.uintp(cols[p])])
                if mark[b] != i:
                    mark[b] = i
                    c += 1
            counts[i] = c


@jit_parallel
def smoothed_prolongator(a_indptr, a_indices, a_data, a_shift, dinv, omega, agg, t,
                         p_indptr, pos, p_indices, p_data):
    """Numeric pass of ``P = (I - omega diag(dinv) A) T`` with ``T[i, agg[i]] = t[i]``, rows in
    parallel chunks.

    a_indptr, a_indices, a_data : CSR of ``A`` (n, n), float64 data.
    a_shift : float; not 0: ``A`` is the stored matrix plus ``a_shift I``, every row storing its
        diagonal once (each entry read as ``a + a_shift`` on the diagonal, ``a + 0.0`` off it:
        the values of the shifted matrix formed first, not formed).
    dinv : float64 (n,) (inverse diagonal of ``A``); omega : float.
    agg : int (n,); t : float64 (n,).
    p_indptr : int (n + 1,), cumulative :func:`smoothed_prolongator_row_nnz` counts.
    pos : int64 (T, n_coarse) work array, one row per Numba thread (any values: a position is
        taken only when it holds that column within the row being formed).
    p_indices : int (nnz,) output; p_data : float64 (nnz,) output.  Row ``i`` starts with
        its own aggregate, then the neighbours' aggregates in first-touch order.
    """
    n = a_indptr.size - 1
    for k in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        where = pos[get_thread_id()]
        for i in range(k * ROW_CHUNK, min(n, (k + 1) * ROW_CHUNK)):
            start = p_indptr[i]
            nz = start
            a = np.uintp(agg[i])
            where[a] = nz
            p_indices[nz] = a
            p_data[nz] = t[i]
            nz += 1
            s = -omega * dinv[i]
            p0 = a_indptr[i]
            p1 = a_indptr[i + 1]
            cols = a_indices[p0:p1]  # the row of A as 1-D views
            vals = a_data[p0:p1]
            for p in range(p1 - p0):
                j = np.uintp(cols[p])
                b = np.uintp(agg[j])
                a = vals[p]
                if a_shift != 0.0:
                    a = a + (a_shift if cols[p] == i else 0.0)
                v = s * a * t[j]
                q = where[b]
                if q < start or q >= nz or p_indices[q] != b:
                    where[b] = nz
                    p_indices[nz] = b
                    p_data[nz] = v
                    nz += 1
                else:
                    p_data[q] += v


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


@jit_parallel
def galerkin_identity_mass(pt_indptr, pt_indices, pt_data, p_indptr, p_indices, p_data,
                           c_indptr, c_indices, acc, out):
    """``P^T P`` written on the pattern of ``C = P^T (A P)`` (the level-0 mass ``P^T I P``), coarse
    rows in parallel chunks.

    The same sums, in the same order, as the second product of :func:`spgemm_pair_bounded` run
    on ``A P`` and ``I P`` (whose entries off ``P``'s pattern are zeros): for coarse row ``I``,
    the members ``i`` in ``P^T``'s row order, each adding ``P^T[I, i] P[i, b]``.  Needs every
    entry of ``P`` in ``C``'s row (``A`` stores its diagonal).  ``pt_data`` None: ``P^T``'s values
    read from ``P``'s rows (each storing a column at most once; the same floats).  acc : float64
    (T, n_coarse) zeroed work array, one row per Numba thread (left zeroed); out : float64
    (nnz(C),) output.
    """
    nc = pt_indptr.size - 1
    for k in prange((nc + ROW_CHUNK - 1) // ROW_CHUNK):
        sums = acc[get_thread_id()]
        for row in range(k * ROW_CHUNK, min(nc, (k + 1) * ROW_CHUNK)):
            for p in range(pt_indptr[row], pt_indptr[row + 1]):
                i = np.uintp(pt_indices[p])
                if pt_data is None:  # P^T's value, read from P's row i (the same float)
                    u = _row_entry(p_indptr, p_indices, p_data, i, row)
                else:
                    u = pt_data[p]
                if u == 0.0:  # as the pair kernel, which skips a zero factor
                    continue
                q0 = p_indptr[i]
                q1 = p_indptr[i + 1]
                cols = p_indices[q0:q1]  # (1-D views, as spgemm_pair_bounded)
                vals = p_data[q0:q1]
                for q in range(q1 - q0):
                    sums[np.uintp(cols[q])] += u * vals[q]
            for z in range(c_indptr[row], c_indptr[row + 1]):
                b = np.uintp(c_indices[z])
                out[z] = sums[b]
                sums[b] = 0.0


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
def _row_entry(indptr, indices, data, i, col):
    """``M[i, col]`` of a CSR matrix whose rows store each column at most once (0.0 when row ``i``
    does not store it): a transpose's value read from the matrix, by a scan of one short row.
    """
    for q in range(indptr[i], indptr[i + 1]):
        if indices[q] == col:
            return data[q]
    return 0.0


@jit
def _galerkin_triple_rows(a_indptr, a_indices, a_data, a_shift, p_indptr, p_indices, p_data,
                          pt_indptr, pt_indices, first, last, row_room,
                          mark, acc, ap_cols, ap_acc, nz, ends, c_indices, c_data):
    """Rows ``first .. last - 1`` of :func:`galerkin_triple_product` written from position ``nz`` of
    ``c_indices``, ``c_data``; ``ends[row]`` receives the position after each row.  Returns the
    first row not written (``last`` when done; earlier when ``row_room`` entries are not free).
    """
    capacity = c_indices.size
    for row in range(first, last):
        if capacity - nz < row_room:
            return row
        start = nz
        for p in range(pt_indptr[row], pt_indptr[row + 1]):
            i = np.uintp(pt_indices[p])
            u = _row_entry(p_indptr, p_indices, p_data, i, row)  # P^T's value: P's, the same float
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
        ends[row] = nz
    return last


@jit
def galerkin_triple_product(a_indptr, a_indices, a_data, a_shift, p_indptr, p_indices, p_data,
                            pt_indptr, pt_indices, first, row_room,
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
    p_indptr, p_indices, p_data : ``P`` (n, nc), each row storing a column at most once;
        pt_indptr, pt_indices : the pattern of ``P^T`` (its values are read from ``P``'s rows,
        the same floats, so the transpose's 8 B an entry need not be alive).
    first : int, the first coarse row to write (``c_indptr[first]`` holds its start).
    row_room : int, at least the length of any row of ``C``; a row starts only when
        ``row_room`` entries are free in ``c_indices`` (else the call returns that row: the caller
        grows the outputs and calls again from it).
    mark : int64 (nc,) work array filled with -1; acc : float64 (nc,) zeroed work array (left
        zeroed); ap_cols : int (r,), ap_acc : float64 (r,) work arrays, ``r`` at least the
        longest row of ``A P`` (:func:`galerkin_triple_bound`).
    c_indptr : int (nc + 1,) output; c_indices : int, c_data : float64 outputs (same size).
    """
    return _galerkin_triple_rows(a_indptr, a_indices, a_data, a_shift, p_indptr, p_indices, p_data,
                                 pt_indptr, pt_indices, first, pt_indptr.size - 1, row_room,
                                 mark, acc, ap_cols, ap_acc, c_indptr[first], c_indptr[1:], c_indices,
                                 c_data)


@jit_parallel
def galerkin_triple_chunks(a_indptr, a_indices, a_data, a_shift, p_indptr, p_indices, p_data,
                           pt_indptr, pt_indices, chunk_rows, region, row_room,
                           marks, accs, ap_cols, ap_accs, stops, ends, c_indices, c_data):
    """:func:`galerkin_triple_product` in chunks of ``chunk_rows`` coarse rows (``prange``): chunk
    ``k`` writes its rows from position ``k * region`` of ``c_indices``, ``c_data`` (``ends[row]``:
    the position after each row, from the chunk's start) and ``stops[k]``, the first row it did
    not write (its last row + 1 unless ``region`` was too small).  Each row is the bits of the
    serial kernel's, whatever the chunks and threads.

    marks, accs : (T, nc) int64 filled with -1, float64 zeroed; ap_cols, ap_accs : (T, r) work
        arrays, one row per Numba thread (``T >= numba.get_num_threads()``).
    stops : int64 (chunks,) output; ends : int64 (nc,) output; c_indices, c_data : (chunks *
        region,) outputs.
    """
    nc = pt_indptr.size - 1
    for k in prange(stops.size):
        t = get_thread_id()
        first = k * chunk_rows
        lo = k * region
        stops[k] = _galerkin_triple_rows(a_indptr, a_indices, a_data, a_shift, p_indptr, p_indices,
                                         p_data, pt_indptr, pt_indices, first,
                                         min(nc, first + chunk_rows), row_room, marks[t], accs[t],
                                         ap_cols[t], ap_accs[t], 0, ends, c_indices[lo:lo + region],
                                         c_data[lo:lo + region])


@jit
def compact_chunk_rows(chunk_rows, region, ends, offsets, c_indptr, c_indices, c_data):
    """The rows :func:`galerkin_triple_chunks` wrote, moved together into CSR in place: chunk
    ``k``'s ``offsets[k + 1] - offsets[k]`` entries from ``k * region`` down to ``offsets[k]`` of
    the same arrays, chunk after chunk (a chunk's entries fit its region, so ``offsets[k] <= k *
    region`` and the entries move left over ones already moved: no second pair of arrays),
    ``c_indptr[row + 1] = offsets[k] + ends[row]`` (``c_indptr[0]`` set by the caller).

    ends : int64 (nc,); offsets : int64 (chunks + 1,); c_indptr : int (nc + 1,) output;
    c_indices, c_data : the chunked outputs, holding the CSR entries in ``[0, offsets[-1])`` on return.
    """
    nc = ends.size
    for k in range(offsets.size - 1):
        base = offsets[k]
        for row in range(k * chunk_rows, min(nc, (k + 1) * chunk_rows)):
            c_indptr[row + 1] = base + ends[row]
        lo = k * region
        for z in range(offsets[k + 1] - base):
            c_indices[base + z] = c_indices[lo + z]
            c_data[base + z] = c_data[lo + z]
