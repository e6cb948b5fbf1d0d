"""Tiled basis (``original-system.md`` §2.3): per-tile solves blended with ramp weights.

Tiles and blending exactly as §2.3: every tile is the Laplacian of the tile alone (sub-matrix
of ``L`` with its own degrees), solved for ``k`` vectors by the same solver as the global basis
(:func:`fastshade.spectral.cascade.solve_graph`: dense ``eigh`` for small tiles); each tile's
vectors get a seeded random sign (``tile_sign="seeded"``, like the original's per-tile random
starts) or the deterministic max-abs sign (``tile_sign="max-abs"``).  Tiles without any contour
pixel (:func:`fastshade.pipeline.gates.contour_mask`) are skipped: they add nothing to either
blend sum, so pixels covered only by skipped tiles have field value 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from fastshade.pipeline.gates import contour_mask
from fastshade.seeds import seeded_generator
from fastshade.spectral.cascade import solve_graph
from fastshade.spectral.columns import finish_columns

__all__ = ["blend_weights_1d", "tile_laplacian", "tile_starts", "tiled_solve"]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile starts along one axis (``original-system.md`` §2.3).

    ``0, step, 2 step, ...`` up to ``length - tile`` plus ``length - tile`` when the last tile
    does not reach the edge (``step = tile - overlap``); ``[0]`` when ``length <= tile``.
    """
    if length <= tile:
        return [0]
    step = max(tile - overlap, 1)
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return sorted(set(starts))


def blend_weights_1d(length: int, overlap: int) -> np.ndarray:
    """1-D blend ramp of one tile axis (§2.3), float64 (length,).

    Ones; if ``overlap > 0`` and ``length > 2 overlap`` the first ``overlap`` entries are
    ``i / (overlap + 1)``, ``i = 1..overlap``, the last ones mirrored.
    """
    w = np.ones(length)
    if overlap > 0 and length > 2 * overlap:
        ramp = np.arange(1, overlap + 1, dtype=np.float64) / (overlap + 1)
        w[:overlap] = ramp
        w[length - overlap:] = ramp[::-1]
    return w


def tile_laplacian(L: sp.csr_matrix, idx: np.ndarray) -> sp.csr_matrix:
    """Laplacian of the sub-graph on ``idx`` alone: off-diagonals of ``L``, own degrees."""
    sub = L[idx][:, idx].tocsr()
    off = sub - sp.diags(sub.diagonal())
    deg = -np.asarray(off.sum(axis=1)).ravel()
    return (off + sp.diags(deg)).tocsr()


def tiled_solve(c: np.ndarray, L: sp.csr_matrix, k: int, tile: int, overlap: int, tile_sign: str,
                solve_kw: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Blend of per-tile bases of the carrier ``c`` (H, W) with Laplacian ``L`` (H*W, H*W).

    ``tile``, ``overlap``: tile edge and overlap in pixels (validated by the caller);
    ``tile_sign``: ``"seeded"`` or ``"max-abs"``; ``solve_kw``: the keywords of
    :func:`fastshade.spectral.cascade.solve_graph` (``seed`` also seeds the tile signs).
    Returns ``vectors`` (H*W, k) (column ``j`` = blend of every tile's ``j``-th vector, unit norm
    or zero), ``values`` (k,) (blend-weighted mean of the tiles' ``j``-th eigenvalues) and the
    tile diagnostics (``rayleigh_quotients``, ``tiles_solved``, ``tiles_skipped``, ``tile_size``,
    ``tile_overlap``, ``tile_methods``, ``tile_iterations_max``, ``tile_sign``, ``n_valid``).
    """
    h, w = c.shape
    n = h * w
    contours = contour_mask(c)
    ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    acc = np.zeros((h, w, k))
    wsum = np.zeros((h, w))
    flat = np.arange(n).reshape(h, w)
    n_solved = n_skipped = 0
    val_acc = np.zeros(k)
    val_w = 0.0
    methods: dict[str, int] = {}
    iters = []
    for y0 in ys:
        for x0 in xs:
            th, tw = min(tile, h - y0), min(tile, w - x0)
            if th < 4 or tw < 4:
                n_skipped += 1
                continue
            if not contours[y0:y0 + th, x0:x0 + tw].any():
                n_skipped += 1
                continue
            idx = flat[y0:y0 + th, x0:x0 + tw].ravel()
            Lt = tile_laplacian(L, idx)
            vals, vecs, used, tinfo = solve_graph(Lt, k, **solve_kw)
            methods[used] = methods.get(used, 0) + 1
            if "iterations" in tinfo:
                iters.append(tinfo["iterations"])
            vt, lt, _ = finish_columns(vals, vecs, idx.size, k)
            if tile_sign == "seeded":
                s = seeded_generator(solve_kw["seed"], y0, x0).choice([-1.0, 1.0], size=k)
                vt *= s
            bw = np.outer(blend_weights_1d(th, overlap), blend_weights_1d(tw, overlap))
            acc[y0:y0 + th, x0:x0 + tw] += bw[:, :, None] * vt.reshape(th, tw, k)
            wsum[y0:y0 + th, x0:x0 + tw] += bw
            val_acc += bw.sum() * lt
            val_w += bw.sum()
            n_solved += 1
    vecs = (acc / np.maximum(wsum, 1e-10)[:, :, None]).reshape(n, k)
    # column j = blend of every tile's j-th vector (kept in that order, as the original);
    # values = blend-weighted mean of the tiles' j-th eigenvalues (ascending like each tile's)
    norms = np.linalg.norm(vecs, axis=0)
    unit = np.ascontiguousarray(vecs / np.where(norms > 0, norms, 1.0))
    vals = np.nan_to_num(val_acc / val_w) if val_w > 0 else np.zeros(k)
    info = dict(rayleigh_quotients=np.nan_to_num((unit * (L @ unit)).sum(axis=0)).tolist(),
                tiles_solved=n_solved, tiles_skipped=n_skipped, tile_size=tile, tile_overlap=overlap,
                tile_methods=methods, tile_iterations_max=max(iters) if iters else 0,
                tile_sign=tile_sign, n_valid=int(np.count_nonzero(norms)))
    return unit, vals, info
