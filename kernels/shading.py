"""Shading kernels: perpendicular scatter (thicken), hue rotation, component
placement, per-pixel affinity and the gated copy.

Raw kernels (``original-system.md`` §3.5, §3.6, §3.8, §3.9, §8; spec README §1
steps 6, 8, 9): module-level ``@jit`` functions, raw arrays in,
**caller-allocated outputs**, no validation, no raising.  The validated,
allocating wrappers live in :mod:`fastshade.pipeline.shading`.

Conventions (``original-system.md`` §0.2):

* images are ``(H, W, C)`` float64 (C = 3 for RGB; any C works), pixel
  ``(y, x)``, flat index ``i = y*W + x``;
* every scatter is sequential in enumeration order, so on a collision the
  **last write wins** (the rule §0.2 recommends);
* thicken destinations are **truncated** toward zero (``int(q)``), placement
  destinations are **rounded half up** (``floor(v + 0.5)``), a deliberate
  departure from v12's half-to-even ``torch.round`` (§8): half up is
  translation-consistent, half to even maps ``k + 0.5`` and ``k + 1.5`` to one
  integer and leaves gaps (see ``docs/cross-attention.md``).

Typical use (what :mod:`fastshade.pipeline.shading` does)::

    out = image.copy(); written = np.zeros((H, W), np.uint8)
    perpendicular_scatter(image, out, sources, dir_y, dir_x, budget, contours, 3, written)

    dst_y = np.empty(m, np.int64); dst_x = np.empty(m, np.int64); inside = np.empty(m, np.uint8)
    place_component(src_y, src_x, cy, cx, cy, cx, 1, 1.0, ty, tx, H, W, dst_y, dst_x, inside)
    colours = np.empty((m, 3)); hue_rotate(out[src_y, src_x], 1.0, colours)
    copied = np.empty(m, np.uint8); keep = np.ones(m, np.uint8)
    gated_copy(out, colours, dst_y, dst_x, keep, carrier, 0.3, copied)

Floating-point note: the house fast-math set (:mod:`fastshade.kernels._jit`) includes
``contract``, so on CPUs with FMA a product followed by a sum (``s + o*d``,
``m + cos*(r - m)``, ``c + scale*r``) may be evaluated with one rounding
instead of two.  Results can therefore differ from a NumPy evaluation of the
same formula in the last bit.  Consequences: :func:`hue_rotate` and
:func:`pixel_affinity` agree with NumPy to ~1e-16 relative, not bit for bit;
:func:`place_component` is bit-exact whenever ``scale == 1.0`` (a product by 1
is exact, so fusing it changes nothing); :func:`perpendicular_scatter` is
exact for offsets ``|o| <= 2`` (products by 1 or 2 are exact) and for larger
offsets differs only if ``s + o*d`` lies within one ulp of an integer.  The
integer decisions (which pixel, which write) and the copies themselves are
exact.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit

HUE_MEAN_WEIGHT = 0.333
"""Weight of the grey mean in the hue rotation: ``m = 0.333*(r+g+b)`` (the original's 0.333, not 1/3)."""

COORD_LIMIT = 2.0**62
"""Placement coordinates at or beyond this magnitude (or NaN) become :data:`COORD_SENTINEL`."""

COORD_SENTINEL = -(2**62)
"""Destination written for a coordinate that does not fit in int64 (always flagged outside)."""

# Signatures (documentation only; the kernels are compiled lazily):
#   perpendicular_scatter(float64[:, :, ::1], float64[:, :, ::1], int64[::1], float64[:, ::1],
#                         float64[:, ::1], float64[:, ::1], uint8[:, ::1], int64, uint8[:, ::1]) -> int64
#   hue_rotate(float64[:, ::1], float64, float64[:, ::1]) -> None
#   place_component(int64[::1], int64[::1], float64, float64, float64, float64, int64, float64,
#                   float64, float64, int64, int64, int64[::1], int64[::1], uint8[::1]) -> int64
#   pixel_affinity(float64[:, ::1], float64[:, ::1], int64[::1], int64[::1], uint8[::1],
#                  float64[::1]) -> None
#   gated_copy(float64[:, :, ::1], float64[:, ::1], int64[::1], int64[::1], uint8[::1],
#              float64[:, ::1], float64, uint8[::1]) -> int64


@jit
def channel_sum(rgb, out):
    """Per-pixel sum of the channels, left to right: ``out[y, x] = c_0 + c_1 + ...``.

    ``rgb`` float (H, W, C), any strides; ``out`` float64 (H, W), caller-allocated.  (The
    mean is left to the caller: the house fast-math flags allow ``x / C`` to become
    ``x * (1 / C)``, which NumPy's ``mean`` does not do.)
    """
    height, width, channels = rgb.shape
    for y in range(height):
        for x in range(width):
            total = 0.0
            for c in range(channels):
                total += rgb[y, x, c]
            out[y, x] = total


@jit
def column_energy(phi, first, out):
    """Row energy of the trailing columns: ``out[i] = sum_{j >= first} phi[i, j]**2``.

    ``phi`` float (n, k), any strides; ``out`` float64 (n,), caller-allocated (0 where
    ``first >= k``).  Summed left to right (a contraction to fused multiply-adds may differ
    from NumPy's ``square(...).sum(axis=1)`` in the last bit).
    """
    n, k = phi.shape
    for i in range(n):
        total = 0.0
        for j in range(first, k):
            v = phi[i, j]
            total += v * v
        out[i] = total


@jit
def perpendicular_scatter(source_rgb, out_rgb, sources_flat, dir_y, dir_x, budget, contours, radius, written):
    """Thicken: scatter each source pixel's colour along its direction (§3.5).

    For each source ``s`` (in the given order) and each offset ``o`` in
    ``-R, ..., -1, 1, ..., R`` (in that order), the real destination is
    ``q = s + o*d_s`` with ``d_s = (dir_y[s], dir_x[s])``.  It is accepted iff
    ``|o| <= budget[s]``, ``0 <= q_y < H`` and ``0 <= q_x < W`` (on the real
    values) and ``contours[int(q_y), int(q_x)] == 0`` (truncation); then
    ``out_rgb[int(q_y), int(q_x)] = source_rgb[s]``.  Colours are read from
    ``source_rgb`` only, so all writes happen "at once"; on a collision the
    last write in enumeration order wins.  NaN directions or budgets produce
    no writes.

    Parameters
    ----------
    source_rgb : (H, W, C) float64 array, C-contiguous
        Colours to scatter.  Read only; must not alias ``out_rgb``.
    out_rgb : (H, W, C) float64 array, caller-allocated
        Output image; only accepted destinations are written (the caller
        usually initialises it with a copy of ``source_rgb``).
    sources_flat : (n,) int64 array
        Flat indices ``y*W + x`` of the source pixels, each in ``[0, H*W)``
        (the shader passes the high gate in raster order).
    dir_y, dir_x : (H, W) float64 arrays
        Scatter direction per pixel (the shader passes the perpendicular
        ``(-t_x, t_y)`` of the unit "tangent" t).
    budget : (H, W) float64 array
        Largest allowed ``|o|`` per pixel (see
        :func:`fastshade.pipeline.shading.thickening_budget`).
    contours : (H, W) uint8 array
        Non-zero on pixels that must never be written.
    radius : int
        ``R >= 0``, the largest offset.
    written : (H, W) uint8 array, caller-allocated and zeroed by the caller
        Set to 1 on every written pixel (never cleared, so calls accumulate).

    Returns
    -------
    int
        Number of writes (collisions counted every time).
    """
    height = source_rgb.shape[0]
    width = source_rgb.shape[1]
    channels = source_rgb.shape[2]
    fheight = float(height)
    fwidth = float(width)
    count = 0
    for n in range(sources_flat.shape[0]):
        s = sources_flat[n]
        sy = s // width
        sx = s - sy * width
        dy = dir_y[sy, sx]
        dx = dir_x[sy, sx]
        reach = budget[sy, sx]
        fy = float(sy)
        fx = float(sx)
        for i in range(2 * radius):
            o = i - radius if i < radius else i - radius + 1
            if not abs(o) <= reach:
                continue
            fo = float(o)
            qy = fy + fo * dy
            qx = fx + fo * dx
            if not (qy >= 0.0 and qy < fheight and qx >= 0.0 and qx < fwidth):
                continue
            iy = int(qy)
            ix = int(qx)
            if contours[iy, ix] != 0:
                continue
            for c in range(channels):
                out_rgb[iy, ix, c] = source_rgb[sy, sx, c]
            written[iy, ix] = 1
            count += 1
    return count


@jit
def _unit_clamp(v):
    """``v`` clamped to [0, 1]; NaN stays NaN (as ``np.clip``)."""
    if v < 0.0:
        return 0.0
    if v > 1.0:
        return 1.0
    return v


@jit
def hue_rotate(rgb, angle, out):
    """Rotate colours about the grey axis by ``angle`` radians (§3.6).

    ``m = 0.333*(r+g+b)``; ``r' = m + cos(θ)(r-m) - sin(θ)(g-m)``;
    ``g' = m + sin(θ)(r-m) + cos(θ)(g-m)``; ``b' = b``; all three clamped to
    [0, 1].

    Parameters
    ----------
    rgb : (m, 3) float64 array
        Colours.  Read only (may be the same array as ``out``: each row is read
        before it is written).
    angle : float
        θ in radians (v12 uses 1.0).
    out : (m, 3) float64 array, caller-allocated
        Rotated colours; fully overwritten.
    """
    cos_t = math.cos(angle)
    sin_t = math.sin(angle)
    for i in range(rgb.shape[0]):
        r = rgb[i, 0]
        g = rgb[i, 1]
        b = rgb[i, 2]
        m = HUE_MEAN_WEIGHT * (r + g + b)
        rr = m + cos_t * (r - m) - sin_t * (g - m)
        gg = m + sin_t * (r - m) + cos_t * (g - m)
        out[i, 0] = _unit_clamp(rr)
        out[i, 1] = _unit_clamp(gg)
        out[i, 2] = _unit_clamp(b)


@jit
def place_component(
    src_y, src_x, src_cy, src_cx, dst_cy, dst_cx, quarter_turns, scale, shift_y, shift_x,
    height, width, half_even, dst_y, dst_x, inside,
):
    """Rotate, scale and move a component's pixels; round half up (§3.8, §3.9).

    ``dst = floor(c_d + scale*rot(p - c_s) + shift + 0.5)`` per coordinate
    (``half_even``: ``rint(...)`` instead, the original's ``torch.round``),
    evaluated left to right, where ``rot`` is ``quarter_turns`` counter-clockwise
    (as displayed) quarter turns: one turn maps ``(Δy, Δx) → (-Δx, Δy)``.
    Half up (not the original's half to even) is translation-consistent: half to
    even maps ``k + 0.5`` and ``k + 1.5`` to one integer and leaves gaps in a
    rigidly moved stroke (see ``docs/cross-attention.md``).

    Parameters
    ----------
    src_y, src_x : (m,) int64 arrays
        Source pixel coordinates.
    src_cy, src_cx : float
        Source centroid (the rotation centre).
    dst_cy, dst_cx : float
        Destination centroid.
    quarter_turns : int
        Number of counter-clockwise quarter turns; taken modulo 4 (so 4 ≡ 0,
        -1 ≡ 3).
    scale : float
        Isotropic scale about the centroid (1.0 = none).
    shift_y, shift_x : float
        Translation added after rotation and scaling.
    height, width : int
        Destination image shape, for ``inside``.
    half_even : bool
        Round half to even (the original's rounding; an experiment of
        ``fastshade diagnose --rounding``) instead of half up.
    dst_y, dst_x : (m,) int64 arrays, caller-allocated
        Rounded destination coordinates (also for pixels outside the image).
        A coordinate whose magnitude reaches ``COORD_LIMIT`` = 2**62 (or is
        NaN) is stored as ``COORD_SENTINEL`` = -2**62 and flagged outside, so
        the int64 conversion is always defined.
    inside : (m,) uint8 array, caller-allocated
        1 where ``0 <= dst_y < height`` and ``0 <= dst_x < width``, else 0.

    Returns
    -------
    int
        Number of destinations inside the image.
    """
    turns = quarter_turns % 4
    count = 0
    for j in range(src_y.shape[0]):
        ry = src_y[j] - src_cy
        rx = src_x[j] - src_cx
        if turns == 0:
            ay = ry
            ax = rx
        elif turns == 1:
            ay = -rx
            ax = ry
        elif turns == 2:
            ay = -ry
            ax = -rx
        else:
            ay = rx
            ax = -ry
        if half_even:
            vy = np.rint(dst_cy + scale * ay + shift_y)
            vx = np.rint(dst_cx + scale * ax + shift_x)
        else:
            vy = np.floor(dst_cy + scale * ay + shift_y + 0.5)
            vx = np.floor(dst_cx + scale * ax + shift_x + 0.5)
        iy = np.int64(vy) if abs(vy) < COORD_LIMIT else np.int64(COORD_SENTINEL)
        ix = np.int64(vx) if abs(vx) < COORD_LIMIT else np.int64(COORD_SENTINEL)
        dst_y[j] = iy
        dst_x[j] = ix
        if iy >= 0 and iy < height and ix >= 0 and ix < width:
            inside[j] = 1
            count += 1
        else:
            inside[j] = 0
    return count


@jit
def pixel_affinity(phi_t, phi_s, dst_flat, src_flat, inside, out):
    """Per-pixel spectral affinity ``φ_t[dst_j] · φ_s[src_j]`` (handoff v12, H1).

    Parameters
    ----------
    phi_t : (n_t, k) float64 array, C-contiguous
        Target basis (rows = target pixels, flat index).
    phi_s : (n_s, k) float64 array, C-contiguous
        Source basis (the target's own basis in self mode, the aligned sample
        basis in cross mode).
    dst_flat : (m,) int64 array
        Flat destination index per pixel; must be in ``[0, n_t)`` where
        ``inside`` is set (ignored elsewhere).
    src_flat : (m,) int64 array
        Flat source index per pixel; must be in ``[0, n_s)`` where ``inside``
        is set (ignored elsewhere).
    inside : (m,) uint8 array
        Pixels with 0 get NaN.
    out : (m,) float64 array, caller-allocated
        Affinity (sum over the k columns in order), NaN where ``inside == 0``.
    """
    k = phi_t.shape[1]
    for j in range(out.shape[0]):
        if inside[j] == 0:
            out[j] = np.nan
            continue
        d = dst_flat[j]
        s = src_flat[j]
        acc = 0.0
        for c in range(k):
            acc += phi_t[d, c] * phi_s[s, c]
        out[j] = acc


@jit
def gated_copy(out_rgb, colours, dst_y, dst_x, keep, guard, guard_threshold, copied):
    """Copy colours to destinations where kept, inside and the guard allows (§3.8).

    Sequentially for ``j = 0..m-1``: ``out_rgb[dst_y[j], dst_x[j]] = colours[j]``
    iff ``keep[j] != 0``, the destination is inside the image and
    ``guard[dst] > guard_threshold`` (NaN guard never passes).  The guard is
    a separate read-only carrier (the original target carrier), so pixels
    that fail it (ink) are never overwritten, while earlier copies can be.
    Last write wins.  Colours are copied verbatim: the caller applies any hue
    rotation first (:func:`hue_rotate`).

    Parameters
    ----------
    out_rgb : (H, W, C) float64 array
        Image written in place.
    colours : (m, C) float64 array
        Colour per pixel; must not alias ``out_rgb``.
    dst_y, dst_x : (m,) int64 arrays
        Destination coordinates (any values; outside ones are skipped).
    keep : (m,) uint8 array
        Per-pixel gate (e.g. ``affinity > mean``); 0 = skip.
    guard : (H, W) float64 array
        Guard carrier.
    guard_threshold : float
        Writes need ``guard[dst] > guard_threshold`` (v12: 0.3).
    copied : (m,) uint8 array, caller-allocated
        1 where pixel j was written, else 0; fully overwritten.

    Returns
    -------
    int
        Number of writes.
    """
    height = out_rgb.shape[0]
    width = out_rgb.shape[1]
    channels = out_rgb.shape[2]
    count = 0
    for j in range(dst_y.shape[0]):
        y = dst_y[j]
        x = dst_x[j]
        if keep[j] != 0 and y >= 0 and y < height and x >= 0 and x < width and guard[y, x] > guard_threshold:
            for c in range(channels):
                out_rgb[y, x, c] = colours[j, c]
            copied[j] = 1
            count += 1
        else:
            copied[j] = 0
    return count
