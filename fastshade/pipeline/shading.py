"""Shading operations: thicken, hue rotation, component placement, affinity, gated copy.

Validated, allocating wrappers over :mod:`fastshade.kernels.shading`
(``original-system.md`` §3.5, §3.6, §3.8, §3.9; spec README §1 steps 6, 8, 9).
Every function checks dtypes and shapes (one-line ``ValueError``), converts to
C-contiguous float64 / int64 / uint8 and calls one kernel.

How the shader strings them together (self path, one component)::

    out, _ = perpendicular_scatter(image, high_flat, -t_x, t_y,
                                   thickening_budget(phi, 3), contours, 3)
    dst_y, dst_x, inside = place_component(ys, xs, c, c, (H, W), quarter_turns=1,
                                           shift=15 * void_at_centroid)
    colours = hue_rotate(out[ys, xs], 1.0)
    gated_copy(out, colours, dst_y, dst_x, keep, carrier, 0.3)

In the cross path ``keep`` is the affinity gate
``affinity > nanmean(affinity)`` with ``affinity = pixel_affinity(...)``
(NaN, i.e. outside, compares False).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastshade.checks import check_integer, check_real, check_real_array
from fastshade.kernels import shading as _kernels

__all__ = [
    "basis_budget",
    "budget_from_energy",
    "gated_copy",
    "hue_rotate",
    "perpendicular_scatter",
    "pixel_affinity",
    "place_component",
    "thickening_budget",
]

ROUNDINGS = ("half-up", "half-even")
"""Destination roundings of :func:`place_component`: the pipeline's, and the original's."""

BUDGET_EPS = 1e-8
"""``Ê = E / (max E + 1e-8)`` in the thickening budget (``original-system.md`` §3.5)."""



# --------------------------------------------------------------------------- helpers


def _contiguous(a: np.ndarray, name: str, kinds: str, dtype: type, what: str) -> np.ndarray:
    """``a`` as a C-contiguous ``dtype`` array if its dtype kind is in ``kinds`` (no copy
    when it already is), else a one-line ``ValueError`` naming ``what`` was expected.
    """
    a = np.asarray(a)
    if a.dtype.kind not in kinds:
        raise ValueError(f"{name} must be {what}, got dtype {a.dtype}")
    if a.dtype == dtype and a.flags.c_contiguous:
        return a
    return np.ascontiguousarray(a, dtype=dtype)


def _float_array(a: np.ndarray, name: str) -> np.ndarray:
    """Real numeric array -> C-contiguous float64 (no copy when it already is)."""
    return _contiguous(a, name, "fiu", np.float64, "a real numeric array")


def _int_array(a: np.ndarray, name: str) -> np.ndarray:
    """1-D integer array -> C-contiguous int64 (no copy when it already is)."""
    a = _contiguous(a, name, "iu", np.int64, "an integer array")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    return a


def _finite_float_array(a: np.ndarray, name: str) -> np.ndarray:
    """:func:`_float_array` that also rejects NaN and inf (colours and images)."""
    return check_real_array(name, _float_array(a, name))


def _mask_array(a: np.ndarray, name: str) -> np.ndarray:
    """Bool or integer mask -> C-contiguous uint8 0/1 (a bool array is viewed, not copied)."""
    a = np.asarray(a)
    if a.dtype.kind not in "biu":
        raise ValueError(f"{name} must be a bool or integer mask, got dtype {a.dtype}")
    if a.dtype == np.bool_ and a.flags.c_contiguous:
        return a.view(np.uint8)
    return np.ascontiguousarray(a != 0, dtype=np.uint8)


def _pixel_field(a: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    """Per-pixel float field given as (H, W) or flat (H*W,) -> (H, W) float64."""
    f = _float_array(a, name)
    if f.shape == shape:
        return f
    if f.ndim == 1 and f.shape[0] == shape[0] * shape[1]:
        return f.reshape(shape)
    raise ValueError(f"{name} must have shape {shape} or ({shape[0] * shape[1]},), got {f.shape}")


def _pair(v: Sequence[float] | np.ndarray, name: str) -> tuple[float, float]:
    """A (y, x) pair of finite floats."""
    size = v.size if isinstance(v, np.ndarray) else (len(v) if hasattr(v, "__len__") else -1)
    if size != 2 or (isinstance(v, np.ndarray) and v.ndim != 1):
        raise ValueError(f"{name} must be a (y, x) pair, got {v!r}")
    return check_real(f"{name}[0]", v[0]), check_real(f"{name}[1]", v[1])


# --------------------------------------------------------------------------- thicken


def thickening_budget(phi: np.ndarray, radius: int, attenuation: float = 0.7,
                      sources: np.ndarray | None = None) -> np.ndarray:
    """Per-pixel thickening reach ``R·(1 − attenuation·Ê)`` (``original-system.md`` §3.5).

    ``E = Σ_{j=2}^{k−1} φ[:, j]²`` (the energy of the higher basis columns),
    ``Ê = E / (max_s E_s + 1e-8)`` with the maximum over the thickening ``sources`` (the
    high-gate pixels, as the original: ``:46-49`` of v12), or over every pixel when
    ``sources`` is None.  With 2 or fewer columns the budget is ``R`` everywhere.

    Parameters
    ----------
    phi : (n, k) float array
        Spectral basis, one row per pixel (flat index); columns 2.. must be finite (the
        others are not read).
    radius : int
        ``R >= 0``.
    attenuation : float
        In ``[0, 1]`` (so the budget is never negative); v12 uses 0.7 (budget in ``[0.3 R, R]``
        at the sources).
    sources : (m,) int array or None
        Flat indices of the pixels that scatter; the energy is normalised by their maximum
        (the budget of other pixels may then be below ``(1 - attenuation) R``; it is never
        read).  None: every pixel.

    Returns
    -------
    (n,) float64 ndarray
        Newly allocated budget; reshape to (H, W) or pass flat to
        :func:`perpendicular_scatter`.
    """
    phi = _float_array(phi, "phi")
    if phi.ndim != 2:
        raise ValueError(f"phi must be 2-D (n, k), got shape {phi.shape}")
    radius = check_integer("radius", radius, 0)
    attenuation = check_real("attenuation", attenuation, 0.0, 1.0)
    n, k = phi.shape
    if k <= 2 or n == 0:
        return np.full(n, float(radius))
    energy = np.empty(n)
    _kernels.column_energy(phi, 2, energy)
    return budget_from_energy(energy, radius, attenuation, sources)


def basis_budget(basis: Any, energy: np.ndarray | None, radius: int, attenuation: float = 0.7,
                 sources: np.ndarray | None = None) -> np.ndarray:
    """The thicken budget ((n,) float64) of an analysis: :func:`budget_from_energy` of ``energy``
    (a coarse basis's, interpolated) or of the ``basis``'s own energy (a
    :class:`~fastshade.spectral.SpectralBasis` that returned it alone), else
    :func:`thickening_budget` of the basis's columns; the same values either way.
    """
    if energy is None and basis is not None:
        energy = basis.energy
    if energy is None:
        return thickening_budget(basis.vectors, radius, attenuation, sources)
    return budget_from_energy(energy, radius, attenuation, sources)


def budget_from_energy(energy: np.ndarray, radius: int, attenuation: float = 0.7,
                       sources: np.ndarray | None = None) -> np.ndarray:
    """:func:`thickening_budget` from the per-pixel energy ``E`` ((n,) float) of the basis columns 2..
    (what a coarse analysis interpolates back instead of the basis itself).
    """
    energy = np.asarray(energy, dtype=np.float64)
    radius = check_integer("radius", radius, 0)
    attenuation = check_real("attenuation", attenuation, 0.0, 1.0)
    n = energy.shape[0]
    check_real_array("the squared column energies of phi", energy)  # NaN/inf, or overflowing squares
    if sources is None:
        peak = energy.max()
    else:
        src = _int_array(sources, "sources")
        if src.size and (src.min() < 0 or src.max() >= n):
            raise ValueError(f"sources must be flat pixel indices in [0, {n}), got {src.min()}..{src.max()}")
        peak = energy[src].max(initial=0.0)
    normalised = energy / (peak + BUDGET_EPS)
    return radius * (1.0 - attenuation * normalised)


def perpendicular_scatter(
    image: np.ndarray,
    sources_flat: np.ndarray,
    dir_y: np.ndarray,
    dir_x: np.ndarray,
    budget: np.ndarray,
    contours: np.ndarray,
    radius: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Thicken: copy each source pixel's colour to ``s + o·d``, ``o = ±1..±R`` (§3.5).

    Accepts destination ``q = s + o·d_s`` iff ``|o| <= budget[s]``, ``q`` lies
    in the image (real values) and the truncated pixel ``(int q_y, int q_x)``
    is not a contour pixel.  Colours are read from ``image`` (all writes "at
    once"); collisions: last write in order (sources, then offsets
    ``-R..-1, 1..R``) wins.  See :func:`fastshade.kernels.shading.perpendicular_scatter`.

    Parameters
    ----------
    image : (H, W, C) float array
        Source colours (C = 3 for RGB).  Not modified.
    sources_flat : (n,) int array
        Flat indices ``y*W + x`` in ``[0, H*W)`` (the high gate, raster order).
    dir_y, dir_x : (H, W) or (H*W,) float arrays
        Scatter direction (the perpendicular ``(-t_x, t_y)`` of the unit
        tangent t).
    budget : (H, W) or (H*W,) float array
        Reach per pixel (:func:`thickening_budget`).
    contours : (H, W) bool or integer array
        Pixels never written.
    radius : int
        ``R >= 0``.

    Returns
    -------
    image_out : (H, W, C) float64 ndarray
        New image (a thickened copy of ``image``).
    written : (H, W) bool ndarray
        True where the scatter wrote.
    """
    rgb = _finite_float_array(image, "image")
    if rgb.ndim != 3 or rgb.shape[2] < 1:
        raise ValueError(f"image must be (H, W, C), got shape {rgb.shape}")
    shape = (rgb.shape[0], rgb.shape[1])
    sources = _int_array(sources_flat, "sources_flat")
    n_pixels = shape[0] * shape[1]
    if sources.size and (sources.min() < 0 or sources.max() >= n_pixels):
        raise ValueError(f"sources_flat must lie in [0, {n_pixels}), got range [{sources.min()}, {sources.max()}]")
    dy = _pixel_field(dir_y, shape, "dir_y")
    dx = _pixel_field(dir_x, shape, "dir_x")
    reach = _pixel_field(budget, shape, "budget")
    walls = _mask_array(contours, "contours")
    if walls.shape != shape:
        raise ValueError(f"contours must have shape {shape}, got {walls.shape}")
    radius = check_integer("radius", radius, 0)
    out = rgb.copy()
    written = np.zeros(shape, dtype=np.uint8)
    _kernels.perpendicular_scatter(rgb, out, sources, dy, dx, reach, walls, radius, written)
    return out, written.view(np.bool_)


# --------------------------------------------------------------------------- colour


def hue_rotate(rgb: np.ndarray, angle: float) -> np.ndarray:
    """Rotate colours about the grey axis (§3.6): ``m = 0.333·(r+g+b)``, blue kept, clamped.

    Parameters
    ----------
    rgb : (..., 3) float array
        Colours in [0, 1] (any leading shape).
    angle : float
        Rotation in radians (v12: 1.0).

    Returns
    -------
    (..., 3) float64 ndarray
        Newly allocated rotated colours, same shape as ``rgb``.
    """
    a = _finite_float_array(rgb, "rgb")
    if a.ndim < 1 or a.shape[-1] != 3:
        raise ValueError(f"rgb must have shape (..., 3), got {a.shape}")
    angle = check_real("angle", angle)
    flat = a.reshape(-1, 3)
    out = np.empty_like(flat)
    _kernels.hue_rotate(flat, angle, out)
    return out.reshape(a.shape)


# --------------------------------------------------------------------------- placement


def place_component(
    src_y: np.ndarray,
    src_x: np.ndarray,
    src_centroid: Sequence[float] | np.ndarray,
    dst_centroid: Sequence[float] | np.ndarray,
    shape: Sequence[int],
    *,
    quarter_turns: int = 1,
    scale: float = 1.0,
    shift: Sequence[float] | np.ndarray = (0.0, 0.0),
    rounding: str = "half-up",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate a component about its centroid, scale, move, round half up (§3.8, §3.9).

    ``dst = floor(c_d + scale·rot(p − c_s) + shift + 0.5)`` (half up, not the
    original's half to even: translation-consistent, see
    ``docs/cross-attention.md``); one counter-clockwise
    quarter turn maps ``(Δy, Δx) → (−Δx, Δy)`` (a pixel right of the centroid
    goes above it).  Self path: ``c_d = c_s``, ``shift = 15·void``.

    Parameters
    ----------
    src_y, src_x : (m,) int arrays
        Source pixel coordinates.
    src_centroid, dst_centroid : (y, x) pairs of finite floats
        Rotation centre and where it lands.
    shape : (H, W) or (H, W, C)
        Destination image shape, for ``inside``.
    quarter_turns : int
        Counter-clockwise quarter turns, any integer (taken modulo 4).
    scale : float
        Isotropic scale (1.0 = none; "scale normalise" experiments).
    shift : (y, x) pair of finite floats
        Translation.
    rounding : {"half-up", "half-even"}
        ``half-up`` (the pipeline) or ``half-even`` (the original's rounding, an
        experiment of ``fastshade diagnose --rounding``; it leaves gaps in moved strokes).

    Returns
    -------
    dst_y, dst_x : (m,) int64 ndarrays
        Rounded destinations (also for pixels outside the image; a coordinate
        of magnitude >= 2**62 becomes -2**62, see
        :data:`fastshade.kernels.shading.COORD_SENTINEL`).
    inside : (m,) bool ndarray
        True where the destination lies in the image.
    """
    ys = _int_array(src_y, "src_y")
    xs = _int_array(src_x, "src_x")
    if ys.shape != xs.shape:
        raise ValueError(f"src_y and src_x must have the same shape, got {ys.shape} and {xs.shape}")
    cs = _pair(src_centroid, "src_centroid")
    cd = _pair(dst_centroid, "dst_centroid")
    sh = _pair(shift, "shift")
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must be (H, W) or (H, W, C), got {tuple(shape)}")
    height = check_integer("shape[0]", shape[0], 0)
    width = check_integer("shape[1]", shape[1], 0)
    turns = check_integer("quarter_turns", quarter_turns) % 4
    scale = check_real("scale", scale)
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    m = ys.shape[0]
    dst_y = np.empty(m, dtype=np.int64)
    dst_x = np.empty(m, dtype=np.int64)
    inside = np.empty(m, dtype=np.uint8)
    _kernels.place_component(
        ys, xs, cs[0], cs[1], cd[0], cd[1], turns, scale, sh[0], sh[1], height, width,
        rounding == "half-even", dst_y, dst_x, inside
    )
    return dst_y, dst_x, inside.view(np.bool_)


# --------------------------------------------------------------------------- affinity and copy


def pixel_affinity(
    phi_t: np.ndarray,
    phi_s: np.ndarray,
    dst_flat: np.ndarray,
    src_flat: np.ndarray,
    inside: np.ndarray,
) -> np.ndarray:
    """Per-pixel affinity ``φ_t[dst_j] · φ_s[src_j]``, NaN where not inside (handoff v12).

    The affinity gate is then ``keep = affinity > np.nanmean(affinity)``.

    Parameters
    ----------
    phi_t : (n_t, k) float array
        Target basis.
    phi_s : (n_s, k) float array
        Source basis (same k; aligned sample basis in cross mode).
    dst_flat : (m,) int array
        Destination flat index; checked to lie in ``[0, n_t)`` where inside.
    src_flat : (m,) int array
        Source flat index; checked to lie in ``[0, n_s)`` where inside.
    inside : (m,) bool or integer array
        Pixels to evaluate (from :func:`place_component`).

    Returns
    -------
    (m,) float64 ndarray
        Newly allocated affinities.
    """
    pt = _float_array(phi_t, "phi_t")
    ps = _float_array(phi_s, "phi_s")
    if pt.ndim != 2 or ps.ndim != 2:
        raise ValueError(f"phi_t and phi_s must be 2-D, got shapes {pt.shape} and {ps.shape}")
    if pt.shape[1] != ps.shape[1]:
        raise ValueError(f"phi_t and phi_s must have the same number of columns, got {pt.shape[1]} and {ps.shape[1]}")
    dst = _int_array(dst_flat, "dst_flat")
    src = _int_array(src_flat, "src_flat")
    ins = _mask_array(inside, "inside")
    if not dst.shape == src.shape == ins.shape:
        raise ValueError(
            f"dst_flat, src_flat and inside must have the same shape, got {dst.shape}, {src.shape}, {ins.shape}"
        )
    sel = ins.view(np.bool_)
    if sel.any():
        d, s = dst[sel], src[sel]
        if d.min() < 0 or d.max() >= pt.shape[0]:
            raise ValueError(f"dst_flat must lie in [0, {pt.shape[0]}) where inside")
        if s.min() < 0 or s.max() >= ps.shape[0]:
            raise ValueError(f"src_flat must lie in [0, {ps.shape[0]}) where inside")
    out = np.empty(dst.shape[0], dtype=np.float64)
    _kernels.pixel_affinity(pt, ps, dst, src, ins, out)
    return out


def gated_copy(
    out: np.ndarray,
    colours: np.ndarray,
    dst_y: np.ndarray,
    dst_x: np.ndarray,
    keep: np.ndarray | None,
    guard: np.ndarray,
    guard_threshold: float,
) -> np.ndarray:
    """Copy colours into ``out`` **in place** where kept, inside and ``guard > threshold``.

    The one copy of the self and cross shadow paths (§3.8): sequential, last
    write wins; pixels with ``guard[dst] <= guard_threshold`` (ink, when the
    guard is the original carrier and the threshold 0.3) are never written.
    Colours are written verbatim; apply :func:`hue_rotate` first.

    Parameters
    ----------
    out : (H, W, C) float64 C-contiguous writable ndarray
        Image, **modified in place** (no conversion is done, so other dtypes
        or layouts are rejected).
    colours : (m, C) float array
        One colour per pixel.
    dst_y, dst_x : (m,) int arrays
        Destinations (outside ones are skipped).
    keep : (m,) bool or integer array, or None
        Per-pixel gate (None = keep all).
    guard : (H, W) float array
        Guard carrier (the original target carrier).
    guard_threshold : float
        Writes need ``guard[dst] > guard_threshold``.

    Returns
    -------
    (m,) bool ndarray
        True where pixel j was written.
    """
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.ndim != 3:
        raise ValueError("out must be an (H, W, C) float64 ndarray (it is modified in place)")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be C-contiguous and writeable (it is modified in place)")
    height, width, channels = out.shape
    cols = _finite_float_array(colours, "colours")
    if cols.ndim != 2 or cols.shape[1] != channels:
        raise ValueError(f"colours must have shape (m, {channels}), got {cols.shape}")
    ys = _int_array(dst_y, "dst_y")
    xs = _int_array(dst_x, "dst_x")
    m = cols.shape[0]
    if ys.shape != (m,) or xs.shape != (m,):
        raise ValueError(f"dst_y and dst_x must have shape ({m},), got {ys.shape} and {xs.shape}")
    gate = np.ones(m, dtype=np.uint8) if keep is None else _mask_array(keep, "keep")
    if gate.shape != (m,):
        raise ValueError(f"keep must have shape ({m},), got {gate.shape}")
    carrier = _float_array(guard, "guard")
    if carrier.shape != (height, width):
        raise ValueError(f"guard must have shape {(height, width)}, got {carrier.shape}")
    try:
        threshold = float(guard_threshold)
    except (TypeError, ValueError):
        raise ValueError(f"guard_threshold must be a real number, got {guard_threshold!r}") from None
    if math.isnan(threshold):
        raise ValueError("guard_threshold must not be NaN (+-inf are allowed)")
    if np.may_share_memory(cols, out):
        cols = cols.copy()
    copied = np.empty(m, dtype=np.uint8)
    _kernels.gated_copy(out, cols, ys, xs, gate, carrier, threshold, copied)
    return copied.view(np.bool_)
