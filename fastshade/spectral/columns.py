"""Conventions of returned basis columns: ascending order, unit norm, sign, padding to ``k``.

Sign convention: the entry of largest ``|value|`` of every column is positive, the lowest index
on ties (as sklearn's ``_deterministic_vector_sign_flip``).
"""

from __future__ import annotations

import numpy as np

from fastshade.kernels.blockops import column_sumsq_extrema

__all__ = ["finish_columns", "sign_flip"]


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


def finish_columns(vals: np.ndarray, vecs: np.ndarray, n: int,
                   k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort ascending, normalise, fix signs, pad to ``k`` columns (zero columns, last value).

    ``vecs`` (n, m) is not modified.  Returns new arrays ``(out_v, out_l, norms)``: vectors
    (n, k), values (k,) and the 2-norms of the returned columns before normalisation (k,), in
    output order (1 for padding / zero columns).  Sign convention of :func:`sign_flip`, decided
    on the column max / min (two read passes) with ``sign_flip`` itself on exact ties.
    """
    order = np.argsort(vals, kind="stable")
    vals = np.asarray(vals, dtype=np.float64)[order]
    nv = min(k, len(order))
    out_v = np.zeros((n, k))
    if nv:
        np.take(np.asarray(vecs, dtype=np.float64), order[:nv], axis=1, out=out_v[:, :nv],
                mode="clip")
    norms = np.zeros(k)
    hi = np.zeros(k)
    lo = np.zeros(k)
    if n:
        column_sumsq_extrema(out_v, norms, hi, lo)  # one pass, rows summed in order
        np.sqrt(norms, out=norms)
    norms[norms == 0] = 1.0
    signs = np.where(hi >= -lo, 1.0, -1.0)
    tie = (hi == -lo) & (hi != 0)
    scale = signs / norms
    out_v *= scale
    for j in np.flatnonzero(tie):  # |max| == |min|: the lower index decides (sign_flip)
        sign_flip(out_v[:, j:j + 1])
    out_l = np.zeros(k)
    out_l[:nv] = vals[:nv]
    if nv < k:
        out_l[nv:] = vals[nv - 1] if nv else 0.0
    np.nan_to_num(out_l, copy=False)
    return out_v, out_l, norms
