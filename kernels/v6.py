"""v6 kernel: the thickening's nearest-contour colour search (``original-system.md`` §4.1).

Raw kernel: module-level ``@jit``, raw arrays in, caller-allocated outputs, no validation, no
raising.  The validated wrapper is :func:`fastshade.pipeline.v6paint.thicken_v6`; the plain
NumPy twin is :func:`fastshade.reference.v6.nearest_contour_fill_numpy`.
"""

from __future__ import annotations

from ._jit import jit


@jit
def nearest_contour_fill(contours, ys, xs, max_radius, src, out, filled):  # pragma: no cover (compiled)
    """Give each pixel ``(ys[k], xs[k])`` the colour of its nearest contour pixel.

    The search grows squares of radius ``r = 1 .. max_radius`` (clipped to the image) around the
    pixel and stops at the first square holding a contour pixel; of that square's contour pixels
    the one at the smallest Euclidean distance wins, ties to the first in raster order.  The
    winner's colour ``src[y, x, :]`` is written to ``out[ys[k], xs[k], :]`` and ``filled[k] = 1``;
    ``filled[k] = 0`` (and ``out`` untouched) when no square holds a contour pixel.

    contours : (H, W) uint8 (non-zero = contour); ys, xs : (n,) int64; max_radius : int;
    src, out : (H, W, C) float64 (may not alias); filled : (n,) uint8.
    """
    h, w = contours.shape
    c = src.shape[2]
    for k in range(ys.shape[0]):
        y = ys[k]
        x = xs[k]
        found = False
        by = 0
        bx = 0
        for r in range(1, max_radius + 1):
            y0 = max(y - r, 0)
            y1 = min(y + r, h - 1)
            x0 = max(x - r, 0)
            x1 = min(x + r, w - 1)
            best = -1
            for yy in range(y0, y1 + 1):
                for xx in range(x0, x1 + 1):
                    if contours[yy, xx] != 0:
                        d = (yy - y) * (yy - y) + (xx - x) * (xx - x)
                        if best < 0 or d < best:
                            best = d
                            by = yy
                            bx = xx
            if best >= 0:
                found = True
                break
        if found:
            for ch in range(c):
                out[y, x, ch] = src[by, bx, ch]
            filled[k] = 1
        else:
            filled[k] = 0
