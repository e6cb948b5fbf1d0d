"""CSR pieces of the AMG setup (:func:`fastshade.spectral.amg.build_hierarchy`): index types,
row counts to ``indptr``, the two-pass smoothed prolongator, the one-pass Gustavson pair product
and the level-0 Galerkin product ``P^T A P`` around their Numba kernels, and the level-0 arrays
formed without temporaries.

Big images pay for every fresh page (on the virtual machines measured, 1-2.7 s per GB of system
time: memory the kernel returned to the host is faulted in again), so these write over arrays
that are read no more where they can (the inverse diagonal over the diagonal, ``1 / norms[agg]``
over the gathered norms), and a big level 0's ``P^T A P`` never forms ``A P``
(:func:`galerkin_triple_matrix`); the values are those of the plain expressions.  On more than
one Numba thread a big level 0's prolongator, ``P^T A P`` and mass run in row chunks (the same
bytes: each row is computed whole by one task).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from fastshade.heap import small_pages
from fastshade.kernels.blockops import csr_diagonal, main_diagonal_entries
from fastshade.kernels.spgemm import (
    compact_chunk_rows,
    galerkin_triple_bound,
    galerkin_triple_chunks,
    galerkin_triple_product,
    smoothed_prolongator,
    smoothed_prolongator_row_nnz,
    spgemm_bound,
    spgemm_pair_bounded,
)
from fastshade.threads import threaded, work_rows

__all__ = ["constant_candidate", "csr_from_counts", "diagonal_stored_once", "galerkin_triple_matrix", "index_dtype",
           "inverse_shifted", "main_diagonal", "smoothed_prolongator_matrix", "spgemm_pair_matrix",
           "transpose_pattern"]

GALERKIN_ROW_GUESS = 16
"""Entries a row of ``P^T A P`` is first given room for (:func:`galerkin_triple_matrix`; an image
grid's level 0 has about 10; the room doubles when a level needs more)."""

GALERKIN_CHUNK_ROWS = 16384
"""Coarse rows per task of the parallel :func:`galerkin_triple_matrix` (any partition gives the
same bytes: each row is computed whole by one task)."""

JACOBI_OMEGA = 2.0 / 3.0
"""Damping of the prolongation smoother and of the V-cycle smoother (``4/3 / rho``, ``rho <= 2``)."""


def main_diagonal(A: sp.csr_matrix) -> np.ndarray:
    """``A.diagonal()`` (float64 (n,), a new array): SciPy's, or for a big square float64 CSR
    matrix on several threads the same values with its rows on the threads
    (:func:`~fastshade.kernels.blockops.csr_diagonal`'s parallel twin; on one thread SciPy's
    loop is faster than the serial kernel: 0.84 against 1.2-1.4 ms at 512²).
    """
    kernel = threaded(csr_diagonal, A.shape[0])
    if kernel is csr_diagonal or not (sp.isspmatrix_csr(A) and A.dtype == np.float64
                                      and A.shape[0] == A.shape[1]):
        return A.diagonal()
    out = np.empty(A.shape[0])
    kernel(A.indptr, A.indices, A.data, out)
    return out


def diagonal_stored_once(A: sp.csr_matrix, on_diag: np.ndarray) -> bool:
    """Whether every row of the square CSR ``A`` stores its diagonal entry exactly once; ``on_diag``
    (bool (nnz,), written) marks the stored diagonal entries
    (:func:`~fastshade.kernels.blockops.main_diagonal_entries`, a big matrix's rows on the threads).
    """
    n = A.shape[0]
    return int(threaded(main_diagonal_entries, n)(A.indptr, A.indices, on_diag)) == n


def inverse_shifted(diag: np.ndarray, shift: float) -> np.ndarray:
    """``1.0 / (diag + shift)`` written over ``diag`` (float64 (n,), returned; no temporaries)."""
    np.add(diag, shift, out=diag)
    return np.divide(1.0, diag, out=diag)


def constant_candidate(agg: np.ndarray, nc: int, norms: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``(norms, t)`` of the constant candidate ``c = 1`` on the aggregates ``agg`` (int (n,)):
    ``sqrt(bincount(agg, c * c))`` (nc,; or ``norms``) and ``c / norms[agg]`` (n,), without
    forming ``c`` and ``c * c`` (the sums of ones are the counts; ``1.0 / x`` is ``c / x``).
    """
    if norms is None:
        norms = np.sqrt(np.bincount(agg, minlength=nc).astype(np.float64))
    t = norms[agg]
    return norms, np.divide(1.0, t, out=t)


def index_dtype(nnz: int) -> type:
    """Index dtype of a CSR array with ``nnz`` entries: int32 when it fits, else int64."""
    return np.int32 if nnz < np.iinfo(np.int32).max else np.int64


def csr_from_counts(counts: np.ndarray, cols: int) -> np.ndarray:
    """CSR ``indptr`` ((rows + 1,), :func:`index_dtype` of the entries and ``cols``) of the row
    counts ``counts``, summed in that type (the running sums fit it).
    """
    indptr = np.empty(counts.size + 1, dtype=index_dtype(max(int(counts.sum()), cols)))
    indptr[0] = 0
    np.cumsum(counts, out=indptr[1:], dtype=indptr.dtype)
    return indptr


def smoothed_prolongator_matrix(A: sp.csr_matrix, dinv: np.ndarray, agg: np.ndarray, t: np.ndarray,
                                nc: int, shift: float = 0.0) -> sp.csr_matrix:
    """``P = (I - w D^-1 (A + shift I)) T``, ``T[i, agg[i]] = t[i]`` (Numba kernels, two passes,
    rows in parallel for a big ``A`` on more than one thread; ``shift`` not 0: every row of ``A``
    stores its diagonal once).
    """
    n = A.shape[0]
    count = threaded(smoothed_prolongator_row_nnz, n)
    pos = np.full((work_rows(count, smoothed_prolongator_row_nnz), nc), -1, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    count(A.indptr, A.indices, agg, pos, counts)
    indptr = csr_from_counts(counts, nc)
    del counts
    indices = np.empty(int(indptr[-1]), dtype=indptr.dtype)
    data = np.empty(indices.size)
    threaded(smoothed_prolongator, n)(A.indptr, A.indices, A.data, float(shift), dinv, JACOBI_OMEGA, agg, t,
                                      indptr, pos, indices, data)
    return sp.csr_matrix((data, indices, indptr), shape=(n, nc))


def spgemm_pair_matrix(X: sp.csr_matrix, x2: np.ndarray | None, Y: sp.csr_matrix,
                       y2: np.ndarray | None, x_shift: float = 0.0) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """``(X + x_shift I) @ Y`` and the data of ``X2 @ Y2`` on the same pattern (None when ``x2``
    is None: the product alone; ``x_shift`` not 0: a square ``X`` storing its diagonal once).

    ``X2``, ``Y2``: data ``x2``, ``y2`` on the patterns of ``X``, ``Y``.  One-pass Numba
    Gustavson kernel into outputs sized by the bound ``sum_p rowlen_Y(x_indices[p])`` (pages
    past ``nnz`` stay untouched).
    """
    r, c = X.shape[0], Y.shape[1]
    bound = int(spgemm_bound(X.indices[:X.nnz], Y.indptr))
    idx_t = index_dtype(max(bound, c, r))
    indptr = np.empty(r + 1, dtype=idx_t)
    indices = np.empty(bound, dtype=idx_t)
    c1 = np.empty(bound)
    pair = x2 is not None
    c2 = np.empty(bound) if pair else None
    nnz = spgemm_pair_bounded(X.indptr, X.indices, X.data, float(x_shift), x2, Y.indptr, Y.indices,
                              Y.data, y2,
                              np.full(c, -1, dtype=np.int64), np.zeros(c), np.zeros(c) if pair else None,
                              indptr, indices, c1, c2)
    # shrink the bound-sized buffers in place (SciPy would copy views of larger arrays)
    for buf in (indices, c1, c2):
        if buf is not None:
            buf.resize(nnz, refcheck=False)
    return sp.csr_matrix((c1, indices, indptr), shape=(r, c)), c2


def transpose_pattern(M: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, indices)`` of ``M.T`` in CSR (SciPy's transpose; its values are not kept)."""
    T = M.T.tocsr()
    return T.indptr, T.indices


def galerkin_triple_matrix(A: sp.csr_matrix, P: sp.csr_matrix, pt_indptr: np.ndarray, pt_indices: np.ndarray,
                           a_shift: float = 0.0) -> sp.csr_matrix:
    """``P^T (A + a_shift I) P`` without forming ``A P``: the arrays of :func:`spgemm_pair_matrix`
    run on ``A P`` and then on ``P^T (A P)`` (its index type aside, chosen from a larger bound), row
    ``i`` of ``A P`` formed again for each coarse row that reads it (Numba kernel
    :func:`~fastshade.kernels.spgemm.galerkin_triple_product`).  ``pt_indptr``, ``pt_indices``:
    the pattern of ``P.T`` in CSR (:func:`transpose_pattern`), its values read from ``P``'s rows
    (each storing a column at most once: the same floats, without the transpose's values alive);
    ``a_shift`` not 0: a square ``A`` storing its diagonal once.

    The outputs start with room for :data:`GALERKIN_ROW_GUESS` entries a row (never more than
    the bound) and grow in place (``realloc``) when a level needs more.  On more than one Numba
    thread a big level's rows are formed in parallel chunks (:func:`_galerkin_in_chunks`), the
    same bytes.
    """
    n, nc = P.shape
    total, longest = (int(v) for v in galerkin_triple_bound(A.indptr, A.indices, P.indptr))
    members = int(np.diff(pt_indptr).max()) if nc else 0
    row_room = min(nc, longest * members, total)
    idx_t = index_dtype(max(total, nc))
    room_ap = max(1, min(nc, longest))
    operands = (A.indptr, A.indices, A.data, float(a_shift), P.indptr, P.indices, P.data,
                pt_indptr, pt_indices)
    chunks = threaded(galerkin_triple_chunks, n)
    if chunks is not galerkin_triple_chunks:  # more than one thread, a big level
        C = _galerkin_in_chunks(chunks, operands, nc, row_room, idx_t, room_ap)
        if C is not None:
            return C
    capacity = min(total, max(GALERKIN_ROW_GUESS * nc, row_room))
    indptr = np.empty(nc + 1, dtype=idx_t)
    indptr[0] = 0
    indices = np.empty(capacity, dtype=idx_t)
    data = np.empty(capacity)
    work = (np.full(nc, -1, dtype=np.int64), np.zeros(nc), np.empty(room_ap, dtype=idx_t), np.empty(room_ap))
    row = 0
    while True:
        room = 0 if capacity >= total else row_room  # (the bound holds every row that is left)
        row = galerkin_triple_product(*operands, row, room, *work, indptr, indices, data)
        if row == nc:
            break
        capacity = min(total, max(2 * capacity, int(indptr[row]) + row_room))
        for buf in (indices, data):
            buf.resize(capacity, refcheck=False)  # (realloc: the pages written stay where they are)
    nnz = int(indptr[-1])
    for buf in (indices, data):
        buf.resize(nnz, refcheck=False)
    return sp.csr_matrix((data, indices, indptr), shape=(nc, nc))


def _galerkin_in_chunks(kernel: Any, operands: tuple, nc: int, row_room: int, idx_t: type,
                        room_ap: int) -> sp.csr_matrix | None:
    """:func:`galerkin_triple_matrix` on Numba's threads: chunks of :data:`GALERKIN_CHUNK_ROWS`
    coarse rows, each with room for :data:`GALERKIN_ROW_GUESS` entries a row, then moved together
    in place (:func:`~fastshade.kernels.spgemm.compact_chunk_rows`) and the arrays shrunk to the
    entries (no second pair of arrays: 20 B a pixel less at 35 Mpx, and no fresh pages); None
    when a chunk needed more room (the caller forms the product serially).
    """
    threads = work_rows(kernel, galerkin_triple_chunks)
    count = -(-nc // GALERKIN_CHUNK_ROWS)
    region = GALERKIN_ROW_GUESS * GALERKIN_CHUNK_ROWS + row_room  # (a row starts with row_room free)
    # (each chunk fills about 60 % of its room: on 4 KiB pages the rest is never resident; NumPy's
    # huge pages made it so, 10 B a pixel at 35 Mpx)
    indices = small_pages(np.empty(count * region, dtype=idx_t))
    data = small_pages(np.empty(count * region))
    stops = np.empty(count, dtype=np.int64)
    ends = np.empty(nc, dtype=np.int64)
    kernel(*operands, GALERKIN_CHUNK_ROWS, region, row_room, np.full((threads, nc), -1, dtype=np.int64),
           np.zeros((threads, nc)), np.empty((threads, room_ap), dtype=idx_t), np.empty((threads, room_ap)),
           stops, ends, indices, data)
    lasts = np.minimum(nc, (np.arange(count, dtype=np.int64) + 1) * GALERKIN_CHUNK_ROWS)
    if not np.array_equal(stops, lasts):
        return None
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(ends[lasts - 1], out=offsets[1:])
    indptr = np.empty(nc + 1, dtype=idx_t)
    indptr[0] = 0
    compact_chunk_rows(GALERKIN_CHUNK_ROWS, region, ends, offsets, indptr, indices, data)
    for buf in (indices, data):
        buf.resize(int(offsets[-1]), refcheck=False)  # (realloc: the entries stay where they are)
    return sp.csr_matrix((data, indices, indptr), shape=(nc, nc))
