"""Plain NumPy/SciPy twins of :mod:`fastshade.pipeline.graph`: offsets, Laplacian, heat, gradients.

Written from ``original-system.md`` §0.2 (forward differences), §1.1 (weighted grid
Laplacian), §1.2 (multi-radius "dither" operator) and §2.4 (heat diffusion), independently of
the kernels: the offset table is built literally from the radii, the Laplacian from NumPy edge
lists through one SciPy ``coo_matrix(...).tocsr()``, the heat steps with SciPy mat-vecs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import comb

import numpy as np
import scipy.sparse as sp
from numpy.typing import DTypeLike

__all__ = [
    "DITHER_RADII",
    "DITHER_WEIGHTS",
    "chebyshev_series_scipy",
    "forward_gradient_numpy",
    "heat_diffusion_scipy",
    "heat_series_binomial",
    "lattice_symbol_max_numpy",
    "laplacian_coo",
    "laplacian_nnz_loop",
    "laplacian_offset_table",
    "unit_vectors_numpy",
]

DITHER_RADII: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
"""Radii of the dither operator (``original-system.md`` §1.2)."""
DITHER_WEIGHTS: tuple[float, ...] = (1.0, 0.6, 0.4, 0.3, 0.2, 0.1)
"""Weight of each radius of the dither operator (``original-system.md`` §1.2)."""


def laplacian_offset_table(
    kind: str = "grid",
    connectivity: int = 4,
    radii: Sequence[int] = DITHER_RADII,
    radius_weights: Sequence[float] = DITHER_WEIGHTS,
) -> dict[tuple[int, int], float]:
    """Offset table ``{(dy, dx): mult}`` of a pixel graph, each undirected pair once.

    ``grid``: the 4- or 8-neighbours, multiplier 1.  ``dither`` (§1.2, built literally): for
    every radius ``r`` with weight ``rho``, every integer ``(dy, dx) != 0`` with
    ``dy^2 + dx^2 <= r^2`` carries ``rho``; duplicates are summed in the order of ``radii``.

    Returns
    -------
    dict
        Keys in the canonical half (``dy > 0`` or ``dy == 0 < dx``), values the multipliers.
    """
    table: dict[tuple[int, int], float] = {}
    if kind == "grid":
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ring = abs(dy) + abs(dx) if connectivity == 4 else max(abs(dy), abs(dx))
                if ring == 1:
                    table[(dy, dx)] = 1.0
    else:
        for r, rho in zip(radii, radius_weights, strict=True):
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    if (dy, dx) != (0, 0) and dy * dy + dx * dx <= r * r:
                        table[(dy, dx)] = table.get((dy, dx), 0.0) + rho
    return {(dy, dx): m for (dy, dx), m in table.items() if dy > 0 or (dy == 0 and dx > 0)}


def laplacian_coo(
    carrier: np.ndarray,
    *,
    connectivity: int = 4,
    kind: str = "grid",
    tau: float = 0.1,
    weight_floor: float = 0.0,
    offsets: Mapping[tuple[int, int], float] | None = None,
    dtype: DTypeLike = np.float64,
) -> sp.csr_matrix:
    """``L = D - W`` of the weighted pixel graph, assembled the SciPy way.

    Same definition as :func:`fastshade.pipeline.graph.image_laplacian`: edge weight
    ``max(mult * exp(-|c_i - c_j| / tau), weight_floor)`` for every offset of the table, ``|.|``
    the absolute difference of a 2-D carrier or the Euclidean norm over the channels of an
    (H, W, C) one.  The edge weights of each offset come from NumPy slicing; all of them are
    stacked into COO triplets (both directions plus the diagonal degrees) and converted with
    ``tocsr()``, which sorts every row and keeps explicit zeros (underflowed weights).

    Parameters
    ----------
    carrier : (H, W) or (H, W, C) array
        Real values (converted to float64).
    connectivity, kind, tau, weight_floor
        As :func:`fastshade.pipeline.graph.image_laplacian`.
    offsets : mapping, optional
        ``{(dy, dx): mult}`` table; default :func:`laplacian_offset_table` of ``kind`` and
        ``connectivity``.
    dtype : float dtype
        Of the values: float64 maths, rounded once at the end.

    Returns
    -------
    scipy.sparse.csr_matrix
        (H*W, H*W), flat index ``y * W + x``, newly allocated.
    """
    table = laplacian_offset_table(kind, connectivity) if offsets is None else offsets
    c = np.asarray(carrier, dtype=np.float64)
    h, w = c.shape[:2]
    n = h * w
    index = np.arange(n, dtype=np.int64).reshape(h, w)
    rows, cols, vals = [], [], []
    for (dy, dx), mult in sorted(table.items()):
        if abs(dy) >= h or abs(dx) >= w:
            continue  # no pair of pixels this far apart
        ys, xs = slice(max(0, -dy), min(h, h - dy)), slice(max(0, -dx), min(w, w - dx))
        yd, xd = slice(max(0, dy), min(h, h + dy)), slice(max(0, dx), min(w, w + dx))
        diff = c[ys, xs] - c[yd, xd]
        dist = np.abs(diff) if c.ndim == 2 else np.sqrt(np.sum(diff * diff, axis=-1))
        weight = np.maximum(mult * np.exp(-dist / tau), weight_floor).ravel()
        src, dst = index[ys, xs].ravel(), index[yd, xd].ravel()
        rows += [src, dst]
        cols += [dst, src]
        vals += [weight, weight]
    row = np.concatenate([*rows, np.zeros(0, np.int64)])
    col = np.concatenate([*cols, np.zeros(0, np.int64)])
    val = np.concatenate([*vals, np.zeros(0)])
    degree = np.bincount(row, weights=val, minlength=n)
    diag = np.arange(n, dtype=np.int64)
    entries = (np.concatenate([-val, degree]), (np.concatenate([row, diag]), np.concatenate([col, diag])))
    lap = sp.coo_matrix(entries, shape=(n, n)).tocsr()
    if np.dtype(dtype) == np.float64:
        return lap
    return sp.csr_matrix((lap.data.astype(dtype), lap.indices, lap.indptr), shape=(n, n))


def laplacian_nnz_loop(h: int, w: int, offsets: Mapping[tuple[int, int], float]) -> int:
    """Count the stored entries of the Laplacian: the diagonal, both directions of every pair.

    By brute force over the pixels and the offsets (keys of ``offsets``) inside the image.
    """
    count = h * w
    for y in range(h):
        for x in range(w):
            for dy, dx in offsets:
                for sy, sx in ((dy, dx), (-dy, -dx)):
                    if 0 <= y + sy < h and 0 <= x + sx < w:
                        count += 1
    return count


def heat_diffusion_scipy(L: sp.spmatrix | sp.sparray, x: np.ndarray, alpha: float = 0.1,
                         steps: int = 30) -> np.ndarray:
    """Diffuse: ``steps`` explicit Euler steps ``x <- x - alpha * (L @ x)``, SciPy mat-vecs (§2.4).

    Returns a new float64 array shaped like ``x``.
    """
    x = np.asarray(x, dtype=np.float64).copy()
    for _ in range(steps):
        x = x - alpha * (L @ x)
    return x


def chebyshev_series_scipy(L: sp.spmatrix | sp.sparray, x: np.ndarray, coeffs: Sequence[float],
                           scale: float) -> np.ndarray:
    """``sum_k coeffs[k] T_k(scale L - I) x``: the three-term recurrence with SciPy mat-vecs.

    ``y_0 = x``, ``y_1 = A x``, ``y_{k+1} = 2 A y_k - y_{k-1}``, ``A = scale L - I``.  Returns a
    new float64 array shaped like ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    flat = x.ravel()
    out = coeffs[0] * flat
    prev, cur = flat, None
    for k in range(1, len(coeffs)):
        if cur is None:
            cur = scale * (L @ flat) - flat
        else:
            prev, cur = cur, 2.0 * (scale * (L @ cur) - cur) - prev
        out = out + coeffs[k] * cur
    return out.reshape(x.shape)


def heat_series_binomial(steps: int, terms: int) -> np.ndarray:
    """Chebyshev coefficients of ``((1 - t) / 2)^T`` on ``[-1, 1]`` (the heat steps
    ``(1 - lambda / b)^T`` on ``[0, b]``), from ``sin^{2T}(theta / 2)``: ``c_0 = C(2T, T) / 4^T``,
    ``c_k = 2 (-1)^k C(2T, T - k) / 4^T`` (exact integers, then one division).
    """
    scale = 4 ** steps
    coeffs = [comb(2 * steps, steps - k) * (2 if k else 1) * (-1) ** k / scale if k <= steps else 0.0
              for k in range(terms)]
    return np.array(coeffs, dtype=np.float64)


def lattice_symbol_max_numpy(offsets: Mapping[tuple[int, int], float], weight_floor: float = 0.0,
                             grid: int = 256) -> float:
    """Largest value of ``S(w) = sum_o 2 max(m_o, floor) (1 - cos(w . o))`` on a ``grid`` x ``grid``
    frequency grid over ``[0, 2 pi)^2``, summed term by term (the infinite-lattice spectrum of
    a pixel graph whose every edge has its full weight).
    """
    w = 2.0 * np.pi * np.arange(grid) / grid
    wy, wx = np.meshgrid(w, w, indexing="ij")
    symbol = np.zeros((grid, grid))
    for (dy, dx), mult in offsets.items():
        symbol += 2.0 * max(mult, weight_floor) * (1.0 - np.cos(wy * dy + wx * dx))
    return float(symbol.max())


def forward_gradient_numpy(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.diff`` forward differences ``(gy, gx)``, zero on the last row / column (§0.2)."""
    f = np.asarray(f, dtype=np.float64)
    gy = np.zeros_like(f)
    gx = np.zeros_like(f)
    gy[:-1, :] = np.diff(f, axis=0)
    gx[:, :-1] = np.diff(f, axis=1)
    return gy, gx


def unit_vectors_numpy(gy: np.ndarray, gx: np.ndarray, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """``(gy, gx) / max(|(gy, gx)|, eps)``, the length by ``np.hypot`` (no over- or underflow)."""
    gy = np.asarray(gy, dtype=np.float64)
    gx = np.asarray(gx, dtype=np.float64)
    norm = np.maximum(np.hypot(gy, gx), eps)
    return gy / norm, gx / norm
