"""Plain NumPy/Python reference implementations of the shading kernels.

Written for clarity from ``original-system.md`` §3.5, §3.6, §3.8, §3.9 and the
brief's semantics A-E, independently of :mod:`fastshade.kernels.shading`.  The loop
versions are the ground truth; the ``*_numpy`` versions are vectorised (used by
the benchmarks) and are themselves tested against the loops.

Every function returns new arrays (nothing is modified in place).
"""

from __future__ import annotations

import math

import numpy as np


# --------------------------------------------------------------------------- A. thicken


def budget_ref(phi: np.ndarray, radius: int, attenuation: float = 0.7) -> np.ndarray:
    """``R·(1 − attenuation·Ê)``, ``Ê = E/(max E + 1e-8)``, ``E = Σ_{j≥2} φ_j²`` (R if k ≤ 2)."""
    n, k = phi.shape
    if k <= 2:
        return np.full(n, float(radius))
    energy = np.zeros(n)
    for j in range(2, k):
        energy += phi[:, j] ** 2
    return radius * (1.0 - attenuation * (energy / (energy.max() + 1e-8)))


def offsets_ref(radius: int) -> list[int]:
    """Offsets in enumeration order: -R, ..., -1, 1, ..., R."""
    return list(range(-radius, 0)) + list(range(1, radius + 1))


def perpendicular_scatter_ref(src, sources_flat, dir_y, dir_x, budget, contours, radius, return_count=False):
    """Loop reference of semantics A.

    Returns ``(out image, written uint8 mask)`` like
    :func:`fastshade.pipeline.shading.perpendicular_scatter`, plus the number of writes
    when ``return_count``.
    """
    height, width = contours.shape
    out = src.copy()
    written = np.zeros((height, width), dtype=np.uint8)
    count = 0
    for s in sources_flat:
        sy, sx = divmod(int(s), width)
        for o in offsets_ref(radius):
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
    return (out, written, count) if return_count else (out, written)


def _last_occurrence(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique keys and the position of the last occurrence of each (last write wins)."""
    reversed_keys = keys[::-1]
    unique, first_in_reversed = np.unique(reversed_keys, return_index=True)
    return unique, keys.size - 1 - first_in_reversed


def perpendicular_scatter_numpy(src, sources_flat, dir_y, dir_x, budget, contours, radius, return_count=False):
    """Vectorised NumPy version of :func:`perpendicular_scatter_ref` (same outputs)."""
    height, width = contours.shape
    channels = src.shape[2]
    out = src.copy()
    written = np.zeros((height, width), dtype=np.uint8)
    offsets = np.asarray(offsets_ref(radius), dtype=np.float64)
    sy, sx = np.divmod(np.asarray(sources_flat, dtype=np.int64), width)
    # (n, 2R) candidate grid; row-major order = enumeration order (source, then offset)
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
    source_pixels = sources_flat[rows[last]]
    out.reshape(-1, channels)[unique] = src.reshape(-1, channels)[source_pixels]
    written.reshape(-1)[unique] = 1
    return (out, written, int(dest.size)) if return_count else (out, written)


# --------------------------------------------------------------------------- B. hue


def hue_rotate_ref(rgb: np.ndarray, angle: float) -> np.ndarray:
    """§3.6 with the 0.333 constant, clamped to [0, 1]; any (..., 3) shape."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    m = 0.333 * (r + g + b)
    c, s = math.cos(angle), math.sin(angle)
    rr = m + c * (r - m) - s * (g - m)
    gg = m + s * (r - m) + c * (g - m)
    return np.clip(np.stack([rr, gg, b], axis=-1), 0.0, 1.0)


# --------------------------------------------------------------------------- C. placement


def rotate_quarter_ref(dy: np.ndarray, dx: np.ndarray, quarter_turns: int):
    """Apply ``quarter_turns`` times the counter-clockwise step (Δy, Δx) → (−Δx, Δy)."""
    for _ in range(quarter_turns % 4):
        dy, dx = -dx, dy
    return dy, dx


def place_component_ref(src_y, src_x, src_centroid, dst_centroid, shape, quarter_turns=1, scale=1.0, shift=(0.0, 0.0)):
    """``floor(c_d + scale·rot(p − c_s) + shift + 0.5)`` (round half up) and the inside flag (uint8);
    |v| ≥ 2**62 → -2**62."""
    ry = src_y.astype(np.float64) - src_centroid[0]
    rx = src_x.astype(np.float64) - src_centroid[1]
    ay, ax = rotate_quarter_ref(ry, rx, quarter_turns)
    vy = np.floor(dst_centroid[0] + scale * ay + shift[0] + 0.5)
    vx = np.floor(dst_centroid[1] + scale * ax + shift[1] + 0.5)
    # coordinates that do not fit in int64 become the sentinel -2**62 (flagged outside)
    with np.errstate(invalid="ignore"):
        dst_y = np.where(np.abs(vy) < 2.0**62, vy, -(2.0**62)).astype(np.int64)
        dst_x = np.where(np.abs(vx) < 2.0**62, vx, -(2.0**62)).astype(np.int64)
    inside = (dst_y >= 0) & (dst_y < shape[0]) & (dst_x >= 0) & (dst_x < shape[1])
    return dst_y, dst_x, inside.astype(np.uint8)


# --------------------------------------------------------------------------- D. affinity


def pixel_affinity_ref(phi_t, phi_s, dst_flat, src_flat, inside) -> np.ndarray:
    """Row dot products ``φ_t[dst_j]·φ_s[src_j]``; NaN where not inside."""
    out = np.full(len(dst_flat), np.nan)
    for j in range(len(dst_flat)):
        if inside[j]:
            out[j] = float(np.dot(phi_t[dst_flat[j]], phi_s[src_flat[j]]))
    return out


# --------------------------------------------------------------------------- E. gated copy


def gated_copy_ref(out, colours, dst_y, dst_x, keep, guard, guard_threshold):
    """Loop reference of semantics E. Returns (new image, copied uint8 (m,), count)."""
    out = out.copy()
    height, width = guard.shape
    copied = np.zeros(len(dst_y), dtype=np.uint8)
    for j in range(len(dst_y)):
        y, x = int(dst_y[j]), int(dst_x[j])
        if keep[j] and 0 <= y < height and 0 <= x < width and guard[y, x] > guard_threshold:
            out[y, x] = colours[j]
            copied[j] = 1
    return out, copied, int(copied.sum())


def gated_copy_numpy_into(out, colours, dst_y, dst_x, keep, guard, guard_threshold):
    """Vectorised NumPy gated copy writing ``out`` in place. Returns (copied uint8 (m,), count)."""
    height, width = guard.shape
    ok = (keep != 0) & (dst_y >= 0) & (dst_y < height) & (dst_x >= 0) & (dst_x < width)
    idx = np.nonzero(ok)[0]
    idx = idx[guard[dst_y[idx], dst_x[idx]] > guard_threshold]
    copied = np.zeros(len(dst_y), dtype=np.uint8)
    copied[idx] = 1
    unique, last = _last_occurrence(dst_y[idx] * width + dst_x[idx])
    out.reshape(-1, out.shape[2])[unique] = colours[idx[last]]
    return copied, int(idx.size)


def gated_copy_numpy(out, colours, dst_y, dst_x, keep, guard, guard_threshold):
    """Vectorised NumPy version of :func:`gated_copy_ref` (same outputs)."""
    out = out.copy()
    copied, count = gated_copy_numpy_into(out, colours, dst_y, dst_x, keep, guard, guard_threshold)
    return out, copied, count
