"""v6 kernels (``original-system.md`` §4.1): the thickening's nearest-contour colour search and
the sequential drawing of the shadow and front copies.

Raw kernels: module-level ``@jit``, raw arrays in, caller-allocated outputs, no validation, no
raising.  The validated wrappers are :func:`fastshade.pipeline.v6paint.thicken_v6` and
:func:`fastshade.pipeline.v6paint.draw_segments`; the plain NumPy twins are
:func:`fastshade.reference.v6.nearest_contour_fill_numpy` and
:func:`fastshade.reference.v6.draw_copies_numpy`.  With the house fast-math set (``contract``) the
tints may differ from a NumPy evaluation in the last bit; the pixel decisions are exact.
"""

from __future__ import annotations

import math

import numpy as np

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


@jit
def cyclic_tint_pixel(r, g, b, rho, kappa, rgb_out):  # pragma: no cover (compiled)
    """v6's cyclic tint of one colour ``(r, g, b)`` with phase ``rho`` and strength ``kappa`` into ``rgb_out`` (3,).

    ``l = 0.299 r + 0.587 g + 0.114 b``; ``new_c = 0.5 + 0.4 sin(2 pi l + rho pi + phi_c)`` with
    ``phi = (0, 2 pi/3, 4 pi/3)``; ``b = min(0.5 kappa, 0.9)``, ``out = (1 - b) rgb + b new``;
    contrast about the *blended* colour's mean ``m``: ``out = m + (out - m)(1 + 0.3 kappa)``;
    clipped to [0, 1].  (That mean reproduces the original's colours on black ink at e = 1:
    shadow (64, 56, 79) and front (35, 93, 40) in 8 bits, truncated as the original writes.)
    """
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    phase = 2.0 * math.pi * lum + rho * math.pi
    beta = min(0.5 * kappa, 0.9)
    o0 = (1.0 - beta) * r + beta * (0.5 + 0.4 * math.sin(phase))
    o1 = (1.0 - beta) * g + beta * (0.5 + 0.4 * math.sin(phase + 2.0 * math.pi / 3.0))
    o2 = (1.0 - beta) * b + beta * (0.5 + 0.4 * math.sin(phase + 4.0 * math.pi / 3.0))
    m = (o0 + o1 + o2) / 3.0
    gain = 1.0 + 0.3 * kappa
    rgb_out[0] = min(max(m + (o0 - m) * gain, 0.0), 1.0)
    rgb_out[1] = min(max(m + (o1 - m) * gain, 0.0), 1.0)
    rgb_out[2] = min(max(m + (o2 - m) * gain, 0.0), 1.0)


@jit
def _put(out, y, x, colour, guard, writer, code):  # pragma: no cover (compiled)
    """Write ``colour`` at ``(y, x)`` if inside and unguarded; 1 if written (``writer`` marks a change)."""
    if y < 0 or y >= out.shape[0] or x < 0 or x >= out.shape[1] or guard[y, x] != 0:
        return 0
    if out[y, x, 0] != colour[0] or out[y, x, 1] != colour[1] or out[y, x, 2] != colour[2]:
        writer[y, x] = code
    out[y, x, 0] = colour[0]
    out[y, x, 1] = colour[1]
    out[y, x, 2] = colour[2]
    return 1


@jit
def draw_copies(out, pixels, indptr, boxes, pushes, shadow_offset, effect, guard, writer, written,
                scratch):  # pragma: no cover (compiled)
    """Draw v6's shadow and front copies of segments ``0 .. m-1`` into ``out``, one after the other.

    Segment ``k``'s flat pixel indices (``y*W + x``) are ``pixels[indptr[k]:indptr[k+1]]``, its box
    ``boxes[k] = (y0, x0, y1, x1)`` (end-exclusive), its push ``pushes[k] = (t_y, t_x)``.  Its colours
    are read from ``out`` first; then each pixel ``(y, x)``, at ``(r, c) = (y - y0, x - x0)`` in the
    box, goes where ``np.rot90(k=1)`` of the box puts it, ``(x1 - x0 - 1 - c, r)``, offset by the
    box corner plus the push: the shadow (``shadow_offset`` further down and right, colour
    ``cyclic(0.3 e, 0.8 e)`` then ``B <- 0.7 B + 0.3, R <- 0.7 R``) for every pixel first, then the
    front (``cyclic(0.2 e, 0.6 e)`` then ``G <- 0.8 G + 0.2, B <- 0.8 B + 0.15, R <- 0.6 R``).
    Destinations outside the image or on ``guard`` (uint8, non-zero) are skipped.  ``writer``
    ((H, W) int8) becomes 0 (shadow) or 1 (front) where a write changed the pixel;
    ``written[k] = (shadow pixels written, front pixels written)``.

    out : (H, W, 3) float64; pixels, indptr : int64; boxes, pushes : (m, 4), (m, 2) int64;
    shadow_offset : int; effect : float; guard : (H, W) uint8; writer : (H, W) int8;
    written : (m, 2) int64; scratch : (>= largest segment, 3) float64.
    """
    w = out.shape[1]
    colour = np.empty(3)
    for k in range(indptr.shape[0] - 1):
        a = indptr[k]
        n = indptr[k + 1] - a
        y0 = boxes[k, 0]
        x0 = boxes[k, 1]
        bw = boxes[k, 3] - x0
        oy = y0 + pushes[k, 0]
        ox = x0 + pushes[k, 1]
        for i in range(n):
            p = pixels[a + i]
            scratch[i, 0] = out[p // w, p % w, 0]
            scratch[i, 1] = out[p // w, p % w, 1]
            scratch[i, 2] = out[p // w, p % w, 2]
        count = 0
        for i in range(n):
            p = pixels[a + i]
            cyclic_tint_pixel(scratch[i, 0], scratch[i, 1], scratch[i, 2], 0.3 * effect, 0.8 * effect, colour)
            colour[2] = 0.7 * colour[2] + 0.3
            colour[0] = 0.7 * colour[0]
            dy = bw - 1 - (p % w - x0)
            dx = p // w - y0
            count += _put(out, oy + dy + shadow_offset, ox + dx + shadow_offset, colour, guard, writer, 0)
        written[k, 0] = count
        count = 0
        for i in range(n):
            p = pixels[a + i]
            cyclic_tint_pixel(scratch[i, 0], scratch[i, 1], scratch[i, 2], 0.2 * effect, 0.6 * effect, colour)
            colour[1] = 0.8 * colour[1] + 0.2
            colour[2] = 0.8 * colour[2] + 0.15
            colour[0] = 0.6 * colour[0]
            dy = bw - 1 - (p % w - x0)
            dx = p // w - y0
            count += _put(out, oy + dy, ox + dx, colour, guard, writer, 1)
        written[k, 1] = count
