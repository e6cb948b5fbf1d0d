"""Plain NumPy/SciPy references for ``fastshade.spectral`` (tests and benches only).

* :func:`grid_laplacian_ref`: the weighted pixel-grid Laplacian of ``original-system.md`` §1.1
  (4- or 8-connected, ``w = max(exp(-|dc|/tau), weight_floor)``), built with SciPy COO.
* :func:`dense_spectrum_ref`: the lowest eigenpairs by dense ``numpy.linalg.eigh``.
* :func:`eigsh_spectrum_ref`: the lowest eigenpairs by ``scipy.sparse.linalg.eigsh`` shift-invert.
* :func:`tile_starts_ref`, :func:`blend_weights_1d_ref`: the tiling rule of §2.3.
* :func:`gates_ref`: the v12 gates in plain NumPy.
* :func:`principal_angles`, :func:`sign_flip_ref`, :func:`gate_agreement`: comparison helpers.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def grid_laplacian_ref(carrier, connectivity=4, tau=0.1, weight_floor=0.0):
    """``L = D - W`` of the pixel grid; csr float64 (n, n), n = H*W, flat index y*W + x."""
    c = np.asarray(carrier, dtype=np.float64)
    h, w = c.shape
    idx = np.arange(h * w).reshape(h, w)
    offsets = [(0, 1), (1, 0)]
    if connectivity == 8:
        offsets += [(1, 1), (1, -1)]
    rows, cols, vals = [], [], []
    for dy, dx in offsets:
        y0, y1 = 0, h - dy
        x0, x1 = max(0, -dx), w - max(0, dx)
        if y1 <= y0 or x1 <= x0:
            continue
        a = idx[y0:y1, x0:x1].ravel()
        b = idx[y0 + dy:y1 + dy, x0 + dx:x1 + dx].ravel()
        wt = np.exp(-np.abs(c[y0:y1, x0:x1] - c[y0 + dy:y1 + dy, x0 + dx:x1 + dx]).ravel() / tau)
        wt = np.maximum(wt, weight_floor)
        rows += [a, b]
        cols += [b, a]
        vals += [wt, wt]
    n = h * w
    if rows:
        r, cc, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        r = cc = np.zeros(0, dtype=np.int64)
        v = np.zeros(0)
    W = sp.coo_matrix((v, (r, cc)), shape=(n, n)).tocsr()
    deg = np.asarray(W.sum(axis=1)).ravel()
    return (sp.diags(deg) - W).tocsr()


def dense_spectrum_ref(L, k):
    """Lowest ``k + 1`` eigenpairs of ``L`` by dense eigh: ``(values (k+1,), vectors (n, k+1))``."""
    A = L.toarray() if sp.issparse(L) else np.asarray(L)
    n = A.shape[0]
    vals, vecs = np.linalg.eigh(A)
    m = min(k + 1, n)
    return vals[:m], vecs[:, :m]


def eigsh_spectrum_ref(L, k, tol=0.0, sigma=-1e-3):
    """Lowest ``k + 1`` eigenpairs by ARPACK shift-invert around ``sigma`` (the baseline)."""
    vals, vecs = spla.eigsh(L.tocsc(), k=k + 1, sigma=sigma, which="LM", tol=tol,
                            v0=np.ones(L.shape[0]))
    order = np.argsort(vals)
    return vals[order], vecs[:, order]


def principal_angles(A, B):
    """Principal angles (radians, ascending) between span(A) and span(B)."""
    return scipy.linalg.subspace_angles(np.asarray(A, float), np.asarray(B, float))[::-1]


def sign_flip_ref(V):
    """Flip each column so its entry of largest |value| (lowest index on ties) is positive."""
    V = np.array(V, dtype=np.float64, copy=True)
    if V.size == 0:
        return V
    idx = np.argmax(np.abs(V), axis=0)
    s = np.sign(V[idx, np.arange(V.shape[1])])
    s[s == 0] = 1.0
    return V * s


def tile_starts_ref(length, tile, overlap):
    """Tile starts along one axis (§2.3): 0, step, ... <= length - tile, plus length - tile."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return sorted(set(starts))


def blend_weights_1d_ref(length, overlap):
    """1-D ramp: ones, first/last ``overlap`` entries i/(overlap+1) when length > 2*overlap."""
    w = np.ones(length)
    if overlap > 0 and length > 2 * overlap:
        ramp = np.arange(1, overlap + 1) / (overlap + 1)
        w[:overlap] = ramp
        w[-overlap:] = ramp[::-1]
    return w


def gates_ref(carrier, field):
    """v12 high/low gates in plain NumPy (``original-system.md`` §3.3-3.4): contours
    ``|c - mean| > 0.5 std`` (unbiased), ``a = 1 / (1 + exp(-10 z))`` with
    ``z = (f - mean) / (std + 1e-8)`` over all pixels, high ``1.3 a - 0.15 > a``, low
    ``1.5 a - 0.08 < a``, both on contours only."""
    c = np.asarray(carrier, dtype=np.float64)
    f = np.asarray(field, dtype=np.float64).reshape(c.shape)
    contours = np.abs(c - c.mean()) > 0.5 * c.std(ddof=1)
    z = (f - f.mean()) / (f.std(ddof=1) + 1e-8)
    with np.errstate(over="ignore"):  # exp(+large) = inf gives a = 0, as it should
        a = 1.0 / (1.0 + np.exp(-10.0 * z))
    return contours, (1.3 * a - 0.15 > a) & contours, (1.5 * a - 0.08 < a) & contours


def gate_agreement(carrier, field_a, field_b):
    """Fraction of contour pixels on which the (high, low) gates of two fields agree."""
    contours, ha, la = gates_ref(carrier, field_a)
    _, hb, lb = gates_ref(carrier, field_b)
    if not contours.any():
        return 1.0
    same = (ha == hb) & (la == lb)
    return float(same[contours].mean())
