"""Plain NumPy twins of the v6 kernels (:mod:`fastshade.kernels.v6`), written from
``original-system.md`` §4.1 independently of them: the thickening's nearest-contour colour search
and the drawing of the shadow and front copies (bounding-box patches turned by ``np.rot90``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["cyclic_tint_numpy", "draw_copies_numpy", "nearest_contour_fill_numpy"]


def nearest_contour_fill_numpy(contours: np.ndarray, ys: np.ndarray, xs: np.ndarray, max_radius: int,
                               src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(colours (n, C), filled (n,) bool)``: the colour of each pixel's nearest contour pixel.

    Squares of radius 1 .. ``max_radius`` around ``(ys[k], xs[k])``, clipped to the image; the
    first square with a contour pixel decides; in it, the smallest Euclidean distance, ties to the
    first in raster order (``np.argmin`` over ``np.argwhere``'s raster order).  Rows of pixels with
    no contour pixel in any square are zero and ``filled`` False.
    """
    contours = np.asarray(contours, dtype=bool)
    h, w = contours.shape
    colours = np.zeros((len(ys), src.shape[2]), dtype=np.float64)
    filled = np.zeros(len(ys), dtype=bool)
    for k, (y, x) in enumerate(zip(np.asarray(ys).tolist(), np.asarray(xs).tolist())):
        for r in range(1, max_radius + 1):
            y0, x0 = max(y - r, 0), max(x - r, 0)
            hits = np.argwhere(contours[y0:min(y + r, h - 1) + 1, x0:min(x + r, w - 1) + 1])
            if len(hits):
                d = (hits[:, 0] + y0 - y) ** 2 + (hits[:, 1] + x0 - x) ** 2
                by, bx = hits[int(np.argmin(d))] + (y0, x0)
                colours[k] = src[by, bx]
                filled[k] = True
                break
    return colours, filled


def cyclic_tint_numpy(rgb: np.ndarray, rho: float, kappa: float) -> np.ndarray:
    """v6's cyclic tint of (..., 3) colours (§4.1), clipped to [0, 1]."""
    lum = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    phase = 2 * np.pi * lum[..., None] + rho * np.pi + np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
    beta = min(0.5 * kappa, 0.9)
    out = (1 - beta) * rgb + beta * (0.5 + 0.4 * np.sin(phase))
    m = out.mean(axis=-1, keepdims=True)
    return np.clip(m + (out - m) * (1 + 0.3 * kappa), 0.0, 1.0)


def draw_copies_numpy(out: np.ndarray, labels: np.ndarray, segments: list[tuple[int, tuple[int, int, int, int],
                      tuple[int, int]]], shadow_offset: int, effect: float,
                      guard: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(out, writer, written)``: v6's copies of ``segments`` drawn one after the other into a copy of ``out``.

    Each segment is ``(label, (y0, x0, y1, x1), (t_y, t_x))``: the pixels ``labels == label`` of the
    box.  Patch and mask are turned by ``np.rot90`` and put with their top-left corner at
    ``(y0 + t_y, x0 + t_x)`` (front) and ``shadow_offset`` further down and right (shadow, drawn
    first), skipping the outside and ``guard``.  ``writer`` is 0/1 (shadow/front) where a write
    changed the pixel, -1 elsewhere; ``written`` (m, 2) the pixels written per copy.
    """
    out = np.array(out, dtype=np.float64, copy=True)
    h, w = out.shape[:2]
    writer = np.full((h, w), -1, dtype=np.int8)
    written = np.zeros((len(segments), 2), dtype=np.int64)
    for k, (label, (y0, x0, y1, x1), (ty, tx)) in enumerate(segments):
        mask = np.rot90(labels[y0:y1, x0:x1] == label)
        patch = np.rot90(out[y0:y1, x0:x1]).copy()
        shadow = cyclic_tint_numpy(patch, 0.3 * effect, 0.8 * effect)
        shadow[..., 2] = 0.7 * shadow[..., 2] + 0.3
        shadow[..., 0] *= 0.7
        front = cyclic_tint_numpy(patch, 0.2 * effect, 0.6 * effect)
        front[..., 1] = 0.8 * front[..., 1] + 0.2
        front[..., 2] = 0.8 * front[..., 2] + 0.15
        front[..., 0] *= 0.6
        for code, colours, (cy, cx) in ((0, shadow, (y0 + ty + shadow_offset, x0 + tx + shadow_offset)),
                                        (1, front, (y0 + ty, x0 + tx))):
            for (i, j) in zip(*np.nonzero(mask)):
                y, x = cy + i, cx + j
                if 0 <= y < h and 0 <= x < w and not guard[y, x]:
                    if (out[y, x] != colours[i, j]).any():
                        writer[y, x] = code
                    out[y, x] = colours[i, j]
                    written[k, code] += 1
    return out, writer, written
