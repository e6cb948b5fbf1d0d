"""Plain NumPy twin of the v6 kernel (:mod:`fastshade.kernels.v6`), written from
``original-system.md`` §4.1 independently of it: the thickening's nearest-contour colour search.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nearest_contour_fill_numpy"]


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
