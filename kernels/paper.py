"""Kernels of the paper/ink model: colour bins, the 3x3 colour range, distances within a reach.

Raw kernels (``original-system.md`` §0.2): module-level ``@jit`` functions, raw arrays in,
**caller-allocated outputs**, no validation, no raising.  Validated wrappers:
:func:`fastshade.pipeline.paper.paper_colour`, :func:`fastshade.pipeline.paper.local_range`,
:func:`fastshade.pipeline.paper.stroke_mask`.

:func:`colour_bins` gives the counts and sums of ``np.bincount`` (sums in pixel order); the
other two give exactly the values of their SciPy forms (``ndimage.maximum_filter`` /
``minimum_filter`` of size 3, ``ndimage.distance_transform_edt``): maxima, minima and one
subtraction are exact, and a Euclidean distance transform within a reach is the nearest hit of
the disk of integer offsets within that reach (``sqrt`` of the same integer ``dy² + dx²``).

Typical use::

    out = np.empty((H, W)); work = np.empty((1, 2, W, C))
    local_range(rgb, out, work)
    d2 = np.full((H, W), np.inf)
    nearest_within_reach(ink, ~ink, dy, dx, True, d2)
"""

from __future__ import annotations

import numpy as np
from numba import get_thread_id, prange

from ._jit import jit, jit_parallel

# Signatures (documentation only; the kernels are compiled lazily):
#   colour_bins(float64[:, ::1], bool[::1], int64, int64[::1] | None, int64[::1], float64[:, ::1]) -> int64
#   local_range(float64[:, :, ::1], float64[:, ::1], float64[:, :, :, ::1]) -> None
#   nearest_within_reach(bool[:, ::1], bool[:, ::1], int64[::1], int64[::1], bool, float[:, ::1])
#       -> None
#   spread_within_reach(bool[:, ::1], int64[::1], int64[::1], float64[:, ::1]) -> None


@jit
def colour_bins(pixels, opaque, bins, codes, counts, sums):
    """Quantise the colours of the ``opaque`` pixels to ``bins`` levels per channel; count them.

    Parameters
    ----------
    pixels : float64 (N, 3), C-contiguous, in [0, 1]
    opaque : bool (N,)
        The pixels counted.
    bins : int
        Levels per channel: level ``min(int(v * bins), bins - 1)`` (truncated).
    codes : int64 (N,), caller-allocated, or None
        Receives ``(q_r * bins + q_g) * bins + q_b`` of each opaque pixel, -1 elsewhere (None:
        not written; Numba compiles that version without it).
    counts : int64 (bins³,), caller-allocated and zeroed
        Receives the pixels per code.
    sums : float64 (bins³, 3), caller-allocated and zeroed
        Receives the per-channel sum of the pixels of each code, added in pixel order (the
        sums of ``np.bincount(codes, weights=...)``).

    Returns
    -------
    int
        The number of opaque pixels.
    """
    total = 0
    for i in range(pixels.shape[0]):
        if not opaque[i]:
            if codes is not None:
                codes[i] = -1
            continue
        code = 0
        for c in range(3):
            q = min(np.int64(pixels[i, c] * bins), bins - 1)
            code = code * bins + q
        if codes is not None:
            codes[i] = code
        counts[code] += 1
        for c in range(3):
            sums[code, c] += pixels[i, c]
        total += 1
    return total


RANGE_ROWS = 64
"""Image rows per task of :func:`local_range` (the fixed partition of its parallel twin)."""


@jit_parallel
def local_range(image, out, work):
    """The largest per-channel range (max - min) over each pixel's 3x3 neighbourhood.

    The neighbourhood is clipped to the image (SciPy's ``mode="reflect"`` for a size-3 filter
    repeats the edge pixel, which changes neither the maximum nor the minimum).  Rows in
    parallel chunks of :data:`RANGE_ROWS` (each pixel's value is its own: the same bytes).

    Parameters
    ----------
    image : float64 (H, W, C), C-contiguous, finite
    out : float64 (H, W), caller-allocated
        Receives ``max(0, max_c (max_3x3 image[..., c] - min_3x3 image[..., c]))``.
    work : float64 (P, 2, W, C), caller-allocated scratch, C-contiguous
        The column maxima and minima of one image row, one scratch per thread (``P >=
        numba.get_num_threads()``; 1 for the serial kernel).
    """
    height = image.shape[0]
    for t in prange((height + RANGE_ROWS - 1) // RANGE_ROWS):
        first = t * RANGE_ROWS
        _local_range_rows(image, out, work[get_thread_id()], first, min(height, first + RANGE_ROWS))


@jit
def _local_range_rows(image, out, work, first, last):
    """:func:`local_range` of rows ``first .. last - 1`` with one (2, W, C) scratch."""
    height, width, channels = image.shape
    vmax = work[0]
    vmin = work[1]
    size = width * channels
    flat_max = vmax.reshape(size)  # (contiguous rows as 1-D views: the first pass vectorises)
    flat_min = vmin.reshape(size)
    for y in range(first, last):
        above = image[max(y - 1, 0)].reshape(size)
        row = image[y].reshape(size)
        below = image[min(y + 1, height - 1)].reshape(size)
        for i in range(size):  # column extrema over rows y-1 .. y+1
            a = above[i]
            b = row[i]
            d = below[i]
            flat_max[i] = max(max(a, b), d)
            flat_min[i] = min(min(a, b), d)
        for x in range(width):
            left = max(x - 1, 0)
            right = min(x + 1, width - 1)
            best = 0.0
            for c in range(channels):
                hi = max(max(vmax[left, c], vmax[x, c]), vmax[right, c])
                lo = min(min(vmin[left, c], vmin[x, c]), vmin[right, c])
                span = hi - lo
                if span > best:
                    best = span
            out[y, x] = best


@jit
def nearest_within_reach(where, target, offset_dy, offset_dx, outside, out):
    """The squared distance to the nearest ``target`` pixel within a reach, for the pixels of
    ``where`` not reached yet.

    Parameters
    ----------
    where, target : bool (H, W)
        The pixels to measure, the pixels to look for.
    offset_dy, offset_dx : int64 (K,)
        The offsets looked at, nearest first (for a reach ``r``: every ``(dy, dx)`` with
        ``sqrt(dy² + dx²) <= r``, the centre included, by ascending ``dy² + dx²``).
    outside : bool
        Whether an offset that leaves the image counts as a hit (the image's border as target).
    out : float64 or float32 (H, W), caller-allocated
        Where ``where[y, x]`` and ``out[y, x]`` is +inf, receives ``dy² + dx²`` of the first
        offset that hits (the square of the Euclidean distance transform's value, when it is
        within the reach); other entries are left as they are (+inf: no hit).
    """
    height, width = where.shape
    for y in range(height):
        for x in range(width):
            if not where[y, x] or out[y, x] != np.inf:
                continue
            for k in range(offset_dy.shape[0]):
                dy = offset_dy[k]
                dx = offset_dx[k]
                yy = y + dy
                xx = x + dx
                if 0 <= yy < height and 0 <= xx < width:
                    hit = target[yy, xx]
                else:
                    hit = outside
                if hit:
                    out[y, x] = np.float64(dy) * np.float64(dy) + np.float64(dx) * np.float64(dx)
                    break


@jit
def spread_within_reach(target, offset_dy, offset_dx, out):
    """Lower ``out`` to the squared distance of the nearest ``target`` pixel within a reach.

    The values :func:`nearest_within_reach` gives every pixel (``where`` all true, ``outside``
    false), from the other side: each ``target`` pixel lowers ``out`` at every offset of the
    (symmetric) disk around it to ``dy² + dx²``, the minimum of which is the first hit of the
    nearest-first search.  Cheaper when the targets are few (strokes on paper).

    Parameters
    ----------
    target : bool (H, W)
        The pixels to look for.
    offset_dy, offset_dx : int64 (K,)
        The offsets of the reach, closed under negation (a disk: ``reach_offsets``).
    out : float64 (H, W), caller-allocated
        Receives ``min(out, dy² + dx²)`` over the target pixels within the offsets (+inf
        initially: +inf where no target pixel is within the reach).
    """
    height, width = target.shape
    for y in range(height):
        for x in range(width):
            if not target[y, x]:
                continue
            for k in range(offset_dy.shape[0]):
                dy = offset_dy[k]
                dx = offset_dx[k]
                yy = y + dy
                xx = x + dx
                if 0 <= yy < height and 0 <= xx < width:
                    d2 = np.float64(dy) * np.float64(dy) + np.float64(dx) * np.float64(dx)
                    if d2 < out[yy, xx]:
                        out[yy, xx] = d2
