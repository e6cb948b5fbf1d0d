"""Plain NumPy twins of :mod:`fastshade.pipeline.shading` and the two painting stages.

Written from ``original-system.md`` §3.5 (thickening budget), §3.6 (hue rotation), §3.8–3.9
(placement, affinity, gated copy), independently of :mod:`fastshade.kernels.shading`:

* thicken: :func:`thickening_budget_numpy`, the perpendicular scatter
  (:func:`perpendicular_scatter_numpy`) and the stage (:func:`thicken_numpy`);
* shadow: :func:`hue_rotate_numpy`, :func:`place_component_numpy` (either rounding),
  :func:`pixel_affinity_numpy`, :func:`gated_copy_numpy` and the self-mode stage
  (:func:`shadow_self_numpy`).

The two scatters where the last write wins also have a loop version
(:func:`perpendicular_scatter_loop`, :func:`gated_copy_loop`): the ground truth their vectorised
versions (and the kernels) are tested against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "BUDGET_EPS",
    "COORD_LIMIT",
    "COORD_SENTINEL",
    "HUE_MEAN_WEIGHT",
    "ROUNDINGS",
    "gated_copy_loop",
    "gated_copy_numpy",
    "hue_rotate_numpy",
    "perpendicular_scatter_loop",
    "perpendicular_scatter_numpy",
    "pixel_affinity_numpy",
    "place_component_numpy",
    "shadow_self_numpy",
    "thicken_numpy",
    "thickening_budget_numpy",
]

BUDGET_EPS = 1e-8
"""``Ê = E / (max E + 1e-8)`` in the thickening budget."""

HUE_MEAN_WEIGHT = 0.333
"""Grey mean weight of the hue rotation, ``m = 0.333 (r + g + b)`` (as the original)."""

ROUNDINGS = ("half-up", "half-even")
"""Destination roundings: the pipeline's ``floor(v + 0.5)``, the original's ``rint(v)``."""

COORD_LIMIT = 2.0**62
"""Destination coordinates of at least this magnitude (or NaN) become :data:`COORD_SENTINEL`."""
COORD_SENTINEL = -(2**62)
"""Stored for a coordinate beyond :data:`COORD_LIMIT`, flagged outside (the int64 cast stays defined)."""


# --------------------------------------------------------------------------- thicken


def thickening_budget_numpy(phi: np.ndarray, radius: int, attenuation: float = 0.7,
                            sources: np.ndarray | None = None) -> np.ndarray:
    """``R (1 - attenuation Ê)``, ``Ê = E / (max_s E_s + 1e-8)``, ``E = Σ_{j>=2} φ_j²``; (n,) float64.

    The maximum runs over the ``sources`` (flat indices; every pixel when None), as the
    original's loop over the high-gate pixels does.  ``E`` is summed column by column; ``R``
    everywhere when ``φ`` has at most two columns.
    """
    phi = np.asarray(phi, dtype=np.float64)
    n, k = phi.shape
    if k <= 2 or n == 0:
        return np.full(n, float(radius))
    energy = np.zeros(n)
    for j in range(2, k):
        energy += phi[:, j] ** 2
    peak = energy.max() if sources is None else max((energy[s] for s in np.asarray(sources)), default=0.0)
    return radius * (1.0 - attenuation * (energy / (peak + BUDGET_EPS)))


def _scatter_offsets(radius: int) -> list[int]:
    """Offsets in enumeration order: ``-R, ..., -1, 1, ..., R``."""
    return list(range(-radius, 0)) + list(range(1, radius + 1))


def perpendicular_scatter_loop(
    src: np.ndarray, sources_flat: np.ndarray, dir_y: np.ndarray, dir_x: np.ndarray,
    budget: np.ndarray, contours: np.ndarray, radius: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Perpendicular scatter, one candidate at a time (the ground truth).

    For every source ``s`` (flat index, in the order given) and offset ``o`` of
    ``-R..-1, 1..R``: ``q = s + o d_s``; accepted iff ``|o| <= budget[s]``, ``0 <= q < (H, W)``
    on the real values and the truncated pixel is not a contour; the colour of ``s`` (read
    from ``src``) goes to the truncated pixel, so the last accepted candidate wins.

    Returns
    -------
    out : (H, W, C) new array, dtype of ``src``
    written : (H, W) uint8
    count : int
        Accepted candidates (writes).
    """
    height, width = contours.shape
    out = src.copy()
    written = np.zeros((height, width), dtype=np.uint8)
    count = 0
    for s in sources_flat:
        sy, sx = divmod(int(s), width)
        for o in _scatter_offsets(radius):
            if not abs(o) <= budget[sy, sx]:
                continue
            qy = sy + o * float(dir_y[sy, sx])
            qx = sx + o * float(dir_x[sy, sx])
            if not (0 <= qy < height and 0 <= qx < width):
                continue
            iy, ix = int(qy), int(qx)  # truncation toward zero
            if contours[iy, ix] != 0:
                continue
            out[iy, ix] = src[sy, sx]
            written[iy, ix] = 1
            count += 1
    return out, written, count


def _last_occurrence(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the unique keys and where each occurs last (last write wins)."""
    unique, first_in_reversed = np.unique(keys[::-1], return_index=True)
    return unique, keys.size - 1 - first_in_reversed


def perpendicular_scatter_numpy(
    src: np.ndarray, sources_flat: np.ndarray, dir_y: np.ndarray, dir_x: np.ndarray,
    budget: np.ndarray, contours: np.ndarray, radius: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`perpendicular_scatter_loop` with every candidate at once (same outputs).

    The ``(sources, 2R)`` candidate grid is filtered in row-major order (= the loop's order);
    of the candidates landing on one pixel the last one is written.
    """
    height, width = contours.shape
    channels = src.shape[2]
    out = src.copy()
    written = np.zeros((height, width), dtype=np.uint8)
    sources_flat = np.asarray(sources_flat, dtype=np.int64)
    offsets = np.asarray(_scatter_offsets(radius), dtype=np.float64)
    sy, sx = np.divmod(sources_flat, width)
    qy = sy[:, None] + offsets[None, :] * dir_y[sy, sx][:, None]
    qx = sx[:, None] + offsets[None, :] * dir_x[sy, sx][:, None]
    with np.errstate(invalid="ignore"):
        in_budget = np.abs(offsets)[None, :] <= budget[sy, sx][:, None]
        ok = in_budget & (qy >= 0) & (qy < height) & (qx >= 0) & (qx < width)
    rows, _ = np.nonzero(ok)
    iy = qy[ok].astype(np.int64)
    ix = qx[ok].astype(np.int64)
    free = contours[iy, ix] == 0
    rows, iy, ix = rows[free], iy[free], ix[free]
    dest = iy * width + ix
    unique, last = _last_occurrence(dest)
    out.reshape(-1, channels)[unique] = src.reshape(-1, channels)[sources_flat[rows[last]]]
    written.reshape(-1)[unique] = 1
    return out, written, int(dest.size)


def thicken_numpy(
    rgb: np.ndarray,
    high: np.ndarray,
    dir_y: np.ndarray,
    dir_x: np.ndarray,
    phi: np.ndarray,
    contours: np.ndarray,
    radius: int = 3,
    attenuation: float = 0.7,
) -> tuple[np.ndarray, np.ndarray]:
    """Thicken: :func:`perpendicular_scatter_numpy` of the high-gate pixels (the stage).

    Sources: the pixels of ``high`` in raster order; budget
    :func:`thickening_budget_numpy` of ``phi`` (one row per pixel), normalised over the sources.

    Returns
    -------
    image : (H, W, 3) float64 new array
    written : (H, W) bool
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    h, w = rgb.shape[:2]
    sources = np.flatnonzero(np.asarray(high).ravel())
    budget = thickening_budget_numpy(phi, radius, attenuation, sources).reshape(h, w)
    image, written, _ = perpendicular_scatter_numpy(
        rgb, sources, np.asarray(dir_y, dtype=np.float64),
        np.asarray(dir_x, dtype=np.float64), budget, np.asarray(contours), radius)
    return image, written.astype(bool)


# --------------------------------------------------------------------------- shadow


def hue_rotate_numpy(rgb: np.ndarray, angle: float) -> np.ndarray:
    """Rotate ``(..., 3)`` colours about the grey axis (§3.6): ``m = 0.333 (r + g + b)``.

    ``r' = m + cos(θ)(r - m) - sin(θ)(g - m)``, ``g' = m + sin(θ)(r - m) + cos(θ)(g - m)``,
    blue kept; all three clipped to [0, 1].  A new float64 array.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    m = HUE_MEAN_WEIGHT * (r + g + b)
    c, s = math.cos(angle), math.sin(angle)
    out = np.empty_like(rgb)
    out[..., 0] = m + c * (r - m) - s * (g - m)
    out[..., 1] = m + s * (r - m) + c * (g - m)
    out[..., 2] = b
    return np.clip(out, 0.0, 1.0, out=out)


def place_component_numpy(src_y: np.ndarray, src_x: np.ndarray, src_centroid: Sequence[float],
                          dst_centroid: Sequence[float], shape: Sequence[int], *,
                          quarter_turns: int = 1, scale: float = 1.0,
                          shift: Sequence[float] = (0.0, 0.0),
                          rounding: str = "half-up") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate a component about its centroid, scale, move and round (§3.8, §3.9).

    ``v = c_d + scale * rot(p - c_s) + shift``, evaluated left to right, where ``rot`` is
    ``quarter_turns`` (any integer, modulo 4) counter-clockwise quarter turns, one mapping
    ``(Δy, Δx) -> (-Δx, Δy)``; then ``half-up``: ``floor(v + 0.5)`` (the pipeline's) or
    ``half-even``: ``rint(v)`` (the original's ``torch.round``).  Half up is
    translation-consistent; when every coordinate of a component lands on ``k + 0.5``, half
    even sends neighbours ``k + 0.5`` and ``k + 1.5`` both to the same even integer and
    leaves a gap.  A coordinate of magnitude >= :data:`COORD_LIMIT` (or NaN) becomes
    :data:`COORD_SENTINEL`.

    Returns
    -------
    dst_y, dst_x : (m,) int64
        Rounded destinations (also for pixels outside the image).
    inside : (m,) bool
        True where ``0 <= dst_y < shape[0]`` and ``0 <= dst_x < shape[1]``.
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    ry = np.asarray(src_y, dtype=np.float64) - float(src_centroid[0])
    rx = np.asarray(src_x, dtype=np.float64) - float(src_centroid[1])
    ay, ax = ry, rx
    for _ in range(int(quarter_turns) % 4):
        ay, ax = -ax, ay
    vy = float(dst_centroid[0]) + scale * ay + float(shift[0])
    vx = float(dst_centroid[1]) + scale * ax + float(shift[1])
    if rounding == "half-up":
        vy, vx = np.floor(vy + 0.5), np.floor(vx + 0.5)
    else:
        vy, vx = np.rint(vy), np.rint(vx)
    with np.errstate(invalid="ignore"):
        dst_y = np.where(np.abs(vy) < COORD_LIMIT, vy, COORD_SENTINEL).astype(np.int64)
        dst_x = np.where(np.abs(vx) < COORD_LIMIT, vx, COORD_SENTINEL).astype(np.int64)
    inside = (dst_y >= 0) & (dst_y < int(shape[0])) & (dst_x >= 0) & (dst_x < int(shape[1]))
    return dst_y, dst_x, inside


def pixel_affinity_numpy(phi_t: np.ndarray, phi_s: np.ndarray, dst_flat: np.ndarray, src_flat: np.ndarray,
                         inside: np.ndarray) -> np.ndarray:
    """Row dot products ``φ_t[dst_j] · φ_s[src_j]`` (``einsum``); NaN where not ``inside``."""
    inside = np.asarray(inside) != 0
    out = np.full(inside.shape[0], np.nan)
    out[inside] = np.einsum("ij,ij->i", phi_t[np.asarray(dst_flat)[inside]], phi_s[np.asarray(src_flat)[inside]])
    return out


def gated_copy_loop(out: np.ndarray, colours: np.ndarray, dst_y: np.ndarray, dst_x: np.ndarray,
                    keep: np.ndarray, guard: np.ndarray, guard_threshold: float) -> tuple[np.ndarray, int]:
    """Gated copy, one colour at a time (the ground truth), into ``out`` in place.

    Colour ``j`` goes to ``(dst_y[j], dst_x[j])`` iff ``keep[j]``, the pixel is inside and
    ``guard > guard_threshold`` there (NaN fails); the last such colour wins.

    Returns
    -------
    copied : (m,) uint8
        1 for every colour copied.
    count : int
    """
    height, width = guard.shape
    copied = np.zeros(len(dst_y), dtype=np.uint8)
    for j in range(len(dst_y)):
        y, x = int(dst_y[j]), int(dst_x[j])
        if keep[j] and 0 <= y < height and 0 <= x < width and guard[y, x] > guard_threshold:
            out[y, x] = colours[j]
            copied[j] = 1
    return copied, int(copied.sum())


def gated_copy_numpy(out: np.ndarray, colours: np.ndarray, dst_y: np.ndarray, dst_x: np.ndarray,
                     keep: np.ndarray, guard: np.ndarray, guard_threshold: float) -> tuple[np.ndarray, int]:
    """:func:`gated_copy_loop` with all colours at once (same outputs), ``out`` in place.

    ``out`` must be C-contiguous (it is written through a flat view).
    """
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous: it is written in place")
    height, width = guard.shape
    ok = (np.asarray(keep) != 0) & (dst_y >= 0) & (dst_y < height) & (dst_x >= 0) & (dst_x < width)
    idx = np.flatnonzero(ok)
    flat = dst_y[idx] * width + dst_x[idx]
    passed = guard.ravel()[flat] > guard_threshold
    idx, flat = idx[passed], flat[passed]
    copied = np.zeros(len(dst_y), dtype=np.uint8)
    copied[idx] = 1
    unique, last = _last_occurrence(flat)
    out.reshape(-1, out.shape[-1])[unique] = colours[idx[last]]
    return copied, int(idx.size)


def shadow_self_numpy(
    out: np.ndarray,
    component_pixels: list[np.ndarray],
    centroids: np.ndarray,
    void_y: np.ndarray,
    void_x: np.ndarray,
    carrier: np.ndarray,
    *,
    distance: float = 15.0,
    hue_angle: float = 1.0,
    ink_guard: float = 0.3,
    rounding: str = "half-up",
) -> np.ndarray:
    """Self-mode shadow with the fixed push, one vectorised step per component (in place).

    For component ``i`` in order: its pixels ``p`` (flat, raster order) take the hue-rotated
    colours of ``out[p]`` (:func:`hue_rotate_numpy`), are turned a quarter turn about the
    centroid ``c`` and shifted by ``distance * void[int(c)]`` (:func:`place_component_numpy`),
    and are copied where ``carrier > ink_guard`` (:func:`gated_copy_numpy`).  Components are
    processed in order because a later one reads colours an earlier one may have written.

    Returns
    -------
    (H, W, 3) float64: ``out`` itself, modified in place.
    """
    h, w = carrier.shape
    guard = np.asarray(carrier, dtype=np.float64)
    for i, src in enumerate(component_pixels):
        sy, sx = np.divmod(src, w)
        cy, cx = float(centroids[i, 0]), float(centroids[i, 1])
        iy, ix = min(max(int(cy), 0), h - 1), min(max(int(cx), 0), w - 1)
        shift = (distance * float(void_y[iy, ix]), distance * float(void_x[iy, ix]))
        colours = hue_rotate_numpy(out[sy, sx], hue_angle)
        dst_y, dst_x, inside = place_component_numpy(sy, sx, (cy, cx), (cy, cx), (h, w), quarter_turns=1,
                                                     shift=shift, rounding=rounding)
        gated_copy_numpy(out, colours, dst_y, dst_x, inside, guard, ink_guard)
    return out
