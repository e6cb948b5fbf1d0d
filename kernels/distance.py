"""The exact Euclidean feature transform of a 2-D mask: every pixel's nearest background pixel,
as ``scipy.ndimage.distance_transform_edt(mask, return_indices=True)`` gives it, bit for bit.

Raw kernels: module-level ``@jit`` functions, raw arrays in, caller-allocated outputs and work
arrays, no validation, no raising.  The validated caller is
:func:`fastshade.pipeline.distance.nearest_background`.

SciPy runs Maurer's algorithm (C. R. Maurer Jr., R. Qi, V. Raghavan, "A linear time algorithm
for computing exact Euclidean distance transforms of binary images in arbitrary dimensions",
IEEE PAMI 25 (2003) 265-270) one image line at a time: first down every column, then along
every row.  Down a column every background pixel is a site and none is removed (the sites share
their column), so the first pass is the nearest background row of the column, a tie going to
the upper one: two sweeps over whole image rows here (:func:`nearest_row_in_columns`; SciPy
walks each column with a stride of a row, which misses the cache).  Along a row the sites are
the columns with a background pixel and the pass is Maurer's, step for step
(:func:`nearest_in_rows`: the same stack, the same removal test, the same ties), in int64 (SciPy
computes it in float64 on integers below 2**53: exact, so the same decisions).  Columns (first
pass) and rows (second pass) are independent: the parallel twins split them in fixed chunks and
every output is the same bytes for any thread count.
"""

from __future__ import annotations

import numpy as np
from numba import get_thread_id, prange

from ._jit import jit_parallel

__all__ = ["COLUMN_CHUNK", "nearest_in_rows", "nearest_row_in_columns"]

COLUMN_CHUNK = 256
"""Columns per task of :func:`nearest_row_in_columns` (one cache-friendly strip of every row)."""


@jit_parallel
def nearest_row_in_columns(mask, near):
    """The row of the nearest background pixel (``mask`` False) in every pixel's column.

    mask : bool (H, W), C-contiguous; True is foreground.
    near : int32 (H, W) output: the row of the nearest False pixel in column ``x`` for every
        ``(y, x)`` (``y`` itself on background; of two at the same distance the upper one), -1
        in a column without background.
    """
    h, w = mask.shape
    for k in prange((w + COLUMN_CHUNK - 1) // COLUMN_CHUNK):
        x0 = k * COLUMN_CHUNK
        x1 = min(w, x0 + COLUMN_CHUNK)
        for y in range(h):  # down: the last background row above (or here)
            for x in range(x0, x1):
                if not mask[y, x]:
                    near[y, x] = y
                elif y == 0:
                    near[y, x] = -1
                else:
                    near[y, x] = near[y - 1, x]
        for y in range(h - 2, -1, -1):  # up: the next background row below, if strictly nearer
            for x in range(x0, x1):
                below = near[y + 1, x]
                if below > y:
                    above = near[y, x]
                    if above < 0 or below - y < y - above:
                        near[y, x] = below


@jit_parallel
def nearest_in_rows(near, stack, out_y, out_x):
    """Maurer's pass along every row of :func:`nearest_row_in_columns`'s ``near``: the nearest
    background pixel of every pixel, with SciPy's ties.

    near : int32 (H, W), the first pass (-1: no background in that column).
    stack : int64 (T, W) work array, one row per Numba thread (``T >= numba.get_num_threads()``).
    out_y, out_x : int32 (H, W) outputs: the row and column of every pixel's nearest background
        pixel; where there is no background at all, -1 and 0 (SciPy's values).
    """
    h, w = near.shape
    for y in prange(h):
        g = stack[get_thread_id()]
        f = near[y]
        top = -1
        for j in range(w):  # the sites left after Maurer's removals, in column order
            if f[j] >= 0:
                dw = np.int64(f[j]) - y
                wr = dw * dw
                while top >= 1:
                    i1 = g[top]
                    i2 = g[top - 1]
                    a = i1 - i2
                    b = j - i1
                    c = a + b
                    du = np.int64(f[i2]) - y
                    dv = np.int64(f[i1]) - y
                    if c * (dv * dv) - b * (du * du) - a * wr - a * b * c <= 0:
                        break
                    top -= 1
                top += 1
                g[top] = j
        if top < 0:
            for j in range(w):
                out_y[y, j] = -1
                out_x[y, j] = 0
            continue
        m = 0
        for j in range(w):  # each pixel's site: the next one only when strictly nearer
            s = g[m]
            dy = np.int64(f[s]) - y
            dx = s - j
            d1 = dy * dy + dx * dx
            while m < top:
                s = g[m + 1]
                dy = np.int64(f[s]) - y
                dx = s - j
                d2 = dy * dy + dx * dx
                if d1 <= d2:
                    break
                d1 = d2
                m += 1
            s = g[m]
            out_y[y, j] = f[s]
            out_x[y, j] = s
