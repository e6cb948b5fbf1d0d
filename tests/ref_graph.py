"""Plain NumPy/SciPy references for ``fastshade.pipeline.graph`` (tests and benches only).

* :func:`ref_offsets`: offset table of the grid and dither graphs, the dither one
  built literally as in ``original-system.md`` §1.2 (every radius lists every
  integer offset of its disc; duplicates are summed).
* :func:`ref_image_laplacian`: ``L = D - W`` from vectorised NumPy edge lists,
  assembled as a SciPy COO matrix and converted to CSR.
* :func:`ref_expected_nnz`: stored-entry count by brute-force pixel pairs.
* :func:`ref_heat_diffusion`: ``x <- x - alpha * (L @ x)`` with SciPy mat-vecs.
* :func:`ref_forward_gradient`, :func:`ref_unit_vectors`: ``np.diff`` and NumPy.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

DITHER_RADII = (1, 2, 3, 4, 5, 6)
DITHER_WEIGHTS = (1.0, 0.6, 0.4, 0.3, 0.2, 0.1)


def ref_offsets(kind="grid", connectivity=4, radii=DITHER_RADII, radius_weights=DITHER_WEIGHTS):
    """``{(dy, dx): mult}`` over the canonical half (``dy > 0`` or ``dy == 0 < dx``)."""
    table = {}
    if kind == "grid":
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ring = abs(dy) + abs(dx) if connectivity == 4 else max(abs(dy), abs(dx))
                if ring == 1:
                    table[(dy, dx)] = 1.0
    else:
        # original-system.md §1.2: for radius r with weight rho every integer
        # (dy, dx) != 0 with dy^2 + dx^2 <= r^2 carries rho; coalescing sums them.
        for r, rho in zip(radii, radius_weights):
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    if (dy, dx) != (0, 0) and dy * dy + dx * dx <= r * r:
                        table[(dy, dx)] = table.get((dy, dx), 0.0) + rho
    return {(dy, dx): m for (dy, dx), m in table.items() if dy > 0 or (dy == 0 and dx > 0)}


def _carrier_hwc(carrier):
    c = np.asarray(carrier, dtype=np.float64)
    return c[:, :, None] if c.ndim == 2 else c


def ref_image_laplacian(carrier, offsets, tau=0.1, weight_floor=0.0, dtype=np.float64):
    """COO edge list -> CSR ``L = D - W`` (float64 maths, rounded once to ``dtype``).

    ``offsets`` is a ``{(dy, dx): mult}`` table (see :func:`ref_offsets`); grey
    carriers use ``|dc|``, multi-channel ones the Euclidean norm.
    """
    grey = np.asarray(carrier).ndim == 2
    c = _carrier_hwc(carrier)
    h, w = c.shape[:2]
    n = h * w
    index = np.arange(n).reshape(h, w)
    rows, cols, vals = [], [], []
    for (dy, dx), mult in offsets.items():
        if abs(dy) >= h or abs(dx) >= w:
            continue  # no pair of pixels this far apart
        ys = slice(max(0, -dy), min(h, h - dy))
        xs = slice(max(0, -dx), min(w, w - dx))
        yd = slice(max(0, dy), min(h, h + dy))
        xd = slice(max(0, dx), min(w, w + dx))
        diff = c[ys, xs] - c[yd, xd]
        dist = np.abs(diff[..., 0]) if grey else np.sqrt(np.sum(diff * diff, axis=-1))
        weight = np.maximum(mult * np.exp(-dist / tau), weight_floor).ravel()
        src = index[ys, xs].ravel()
        dst = index[yd, xd].ravel()
        rows += [src, dst]
        cols += [dst, src]
        vals += [weight, weight]
    rows = np.concatenate(rows + [np.zeros(0, np.int64)])
    cols = np.concatenate(cols + [np.zeros(0, np.int64)])
    vals = np.concatenate(vals + [np.zeros(0)])
    degree = np.bincount(rows, weights=vals, minlength=n)
    diag = np.arange(n)
    entries = np.concatenate([-vals, degree])
    where = (np.concatenate([rows, diag]), np.concatenate([cols, diag]))
    # tocsr() coalesces and sorts the column indices of every row (explicit zeros are kept).
    lap = sp.coo_matrix((entries, where), shape=(n, n)).tocsr()
    return sp.csr_matrix((lap.data.astype(dtype), lap.indices, lap.indptr), shape=(n, n))


def ref_expected_nnz(h, w, offsets):
    """Diagonal + both directions of every in-image pair, by brute force over pixels."""
    count = h * w
    for y in range(h):
        for x in range(w):
            for dy, dx in offsets:
                for sy, sx in ((dy, dx), (-dy, -dx)):
                    if 0 <= y + sy < h and 0 <= x + sx < w:
                        count += 1
    return count


def ref_heat_diffusion(L, x, alpha=0.1, steps=30):
    """``steps`` explicit Euler steps ``x <- x - alpha * (L @ x)`` with SciPy."""
    x = np.asarray(x, dtype=np.float64).copy()
    for _ in range(steps):
        x = x - alpha * (L @ x)
    return x


def ref_forward_gradient(f):
    """``np.diff`` forward differences, zero-padded on the last row/column."""
    f = np.asarray(f, dtype=np.float64)
    gy = np.zeros_like(f)
    gx = np.zeros_like(f)
    gy[:-1, :] = np.diff(f, axis=0)
    gx[:, :-1] = np.diff(f, axis=1)
    return gy, gx


def ref_unit_vectors(gy, gx, eps=1e-8):
    """``(gy, gx) / max(|(gy, gx)|, eps)``, the length by ``np.hypot`` (no over/underflow)."""
    gy = np.asarray(gy, dtype=np.float64)
    gx = np.asarray(gx, dtype=np.float64)
    norm = np.maximum(np.hypot(gy, gx), eps)
    return gy / norm, gx / norm
