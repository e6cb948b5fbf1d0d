"""Conventions of returned basis columns: ascending order, unit norm, sign, padding to ``k``.

Sign convention: the entry of largest ``|value|`` of every column is positive, the lowest index
on ties (as sklearn's ``_deterministic_vector_sign_flip``).
"""

from __future__ import annotations

import numpy as np

from fastshade.kernels.blockops import column_sumsq_extrema, gather_scaled_columns, scaled_column_energy
from fastshade.threads import threaded

__all__ = ["finish_columns", "finish_energy", "sign_flip"]


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


def _column_scales(vals: np.ndarray, vecs: np.ndarray, n: int, k: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(vecs, chosen, scale, tie, out_l, norms)`` of :func:`finish_columns`: the vectors as its
    kernels read them, the returned columns (int64 (nv,), ascending values), their sign over
    norm (nv,), the columns whose sign an exact tie leaves to :func:`sign_flip` (bool (k,)), the
    returned values (k,) and norms (k,).  One read pass over the vectors (each column's sum of
    squares in row order, its extrema).
    """
    order = np.argsort(vals, kind="stable")
    vals = np.asarray(vals, dtype=np.float64)[order]
    nv = min(k, len(order))
    vecs = np.asarray(vecs, dtype=np.float64)
    if not (vecs.flags.c_contiguous or vecs.strides[1] == vecs.itemsize):
        # (the kernels compile for few layouts); a column slice of a C-order block, the Ritz
        # vectors of a big pixel level, is read where it is: no (n, k) copy at the basis's end
        vecs = np.ascontiguousarray(vecs)
    chosen = np.ascontiguousarray(order[:nv], dtype=np.int64)
    norms = np.zeros(k)
    hi = np.zeros(k)
    lo = np.zeros(k)
    if n and nv:
        sumsq, vmax, vmin = np.empty(vecs.shape[1]), np.empty(vecs.shape[1]), np.empty(vecs.shape[1])
        column_sumsq_extrema(vecs, sumsq, vmax, vmin)
        norms[:nv], hi[:nv], lo[:nv] = np.sqrt(sumsq[chosen]), vmax[chosen], vmin[chosen]
    norms[norms == 0] = 1.0
    signs = np.where(hi >= -lo, 1.0, -1.0)
    tie = (hi == -lo) & (hi != 0)
    out_l = np.zeros(k)
    out_l[:nv] = vals[:nv]
    if nv < k:
        out_l[nv:] = vals[nv - 1] if nv else 0.0
    np.nan_to_num(out_l, copy=False)
    return vecs, chosen, (signs / norms)[:nv], tie, out_l, norms


def finish_columns(vals: np.ndarray, vecs: np.ndarray, n: int,
                   k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort ascending, normalise, fix signs, pad to ``k`` columns (zero columns, last value).

    ``vecs`` (n, m) is not modified.  Returns new arrays ``(out_v, out_l, norms)``: vectors
    (n, k), values (k,) and the 2-norms of the returned columns before normalisation (k,), in
    output order (1 for padding / zero columns).  Sign convention of :func:`sign_flip`, decided
    on the column max / min with ``sign_flip`` itself on exact ties.  Two passes over the
    vectors: their column sums of squares and extrema, then the returned columns reordered and
    scaled (:func:`~fastshade.kernels.blockops.gather_scaled_columns`).
    """
    vecs, chosen, scale, tie, out_l, norms = _column_scales(vals, vecs, n, k)
    out_v = np.empty((n, k))
    threaded(gather_scaled_columns, n)(vecs, chosen, scale, out_v)
    for j in np.flatnonzero(tie):  # |max| == |min|: the lower index decides (sign_flip)
        sign_flip(out_v[:, j:j + 1])
    return out_v, out_l, norms


def finish_energy(vals: np.ndarray, vecs: np.ndarray, n: int, k: int,
                  first: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(energy, out_l, norms)``: the row energy ``sum_{j >= first} out_v[:, j]**2`` of the columns
    :func:`finish_columns` returns (float64 (n,), the sums of
    :func:`~fastshade.kernels.shading.column_energy` on them, bit for bit), without forming them
    (:func:`~fastshade.kernels.blockops.scaled_column_energy`; a sign does not change a square);
    ``out_l`` and ``norms`` as :func:`finish_columns`.  ``vecs`` is not modified.
    """
    vecs, chosen, scale, _, out_l, norms = _column_scales(vals, vecs, n, k)
    energy = np.empty(n)
    threaded(scaled_column_energy, n)(vecs, chosen, scale, first, energy)
    return energy, out_l, norms
