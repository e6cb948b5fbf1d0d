"""Resolution-aware shading: the drawing's scale, and an analysis on a coarser grid.

Every length of a look is tuned on drawings of about 512 px with strokes 1-3.5 px wide (the
shared images).  A drawing at ``s`` times that resolution (a 600 dpi scan) is shaded at
``scale = s``: the lengths (push, reach) grow by ``s``, areas (the smallest shadow component) by
``s²``, and the smooth quantities (the spectral basis, the gating field, the void direction) are
computed on the drawing downsampled by ``s`` (area average) and brought back, so a diffusion
length ``s`` times longer costs no more heat steps, and the eigensolve ``s²`` fewer pixels.
Gates, components and painting stay at full resolution.  Every style does this: v12 through
:func:`coarse_analysis` (bilinear), brush and v6 through :func:`coarse_field` (each pixel reads
the coarse pixel it lies in), final through v12's analysis; the helpers for the styles' own
lengths are :func:`scaled_lengths`, :func:`scaled_area`, :func:`scaled_window` and
:func:`centre_offset` (docs/resolution.md lists what each style scales).

``scale="auto"`` (:func:`auto_scale`): the input's DPI over :data:`TUNED_DPI` when the file
says it is at least that; otherwise the smaller of two ratios to the tuned drawings, never below
1: the drawing's size ``sqrt(H W)`` over :data:`TUNED_EDGE`, and its stroke width
(:func:`stroke_width`) over :data:`TUNED_STROKE_WIDTH`.  Both must say "bigger": a large canvas
of 1 px lines keeps scale 1, and so does a small drawing in a thick pen.  On the shared images
(256-549 px, widths 0.8-19.6 px) auto gives 1; on toof or snek-heavy enlarged 4 times, 4.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import sparse

from fastshade.options import ShadeOptions
from fastshade.pipeline.components import label_components
from fastshade.pipeline.gates import carrier_of, contour_gates, contour_mask
from fastshade.pipeline.results import Analysis

TUNED_DPI = 150.0
"""The DPI the default lengths correspond to (a screen drawing or a 150 dpi scan)."""
TUNED_EDGE = 512.0
"""``sqrt(H W)`` of the drawings the defaults were tuned on (toof, snek-heavy: 512 x 512)."""
TUNED_STROKE_WIDTH = 0.82
"""Stroke width (:func:`stroke_width`) of toof, the finest-lined shared drawing (snek-heavy 1.81,
the ensos 1.58, the demo 2.37, red-tonegraph 9.7 and offhand_pleometric 19.6, whose fills count)."""
MIN_COARSE_PIXELS = 16
"""Smallest edge of the coarse grid."""


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in px of an ink mask: ``2 x ink pixels / ink-paper edges`` (4-neighbour
    pairs), exact for long strokes of any width (a stroke of width w and length L has about 2 L
    edges); 0 without ink.  Scales exactly with the resolution.
    """
    ink = np.asarray(ink, dtype=bool)
    edges = np.count_nonzero(ink[1:] != ink[:-1]) + np.count_nonzero(ink[:, 1:] != ink[:, :-1])
    return 2.0 * float(ink.sum()) / edges if edges else 0.0


def auto_scale(ink: np.ndarray, dpi: tuple[float, float] | None = None) -> tuple[float, str]:
    """``(scale, source)`` for ``scale="auto"`` (module docstring): ``"dpi"`` or ``"size and stroke
    width"``; rounded to 0.05, at least 1.
    """
    if dpi is not None and min(dpi) >= TUNED_DPI:
        return round(max(1.0, min(dpi) / TUNED_DPI) * 20) / 20, "dpi"
    edge = float(np.sqrt(ink.size))
    ratio = min(edge / TUNED_EDGE, stroke_width(ink) / TUNED_STROKE_WIDTH)
    return round(max(1.0, ratio) * 20) / 20, "size and stroke width"


def scaled_lengths(opts: ShadeOptions, factor: float) -> ShadeOptions:
    """``opts`` with the look's lengths times ``factor``: the shadow push, the thicken reach
    (``max(1, round(R * factor))``, 0 stays 0) and the smallest component (:func:`scaled_area`);
    the same options when ``factor == 1``.
    """
    if factor == 1.0:
        return opts
    radius = opts.thick_radius and max(1, int(round(opts.thick_radius * factor)))
    return dataclasses.replace(opts, shadow_distance=opts.shadow_distance * factor, thick_radius=radius,
                               min_component=scaled_area(opts.min_component, factor))


def scaled_area(pixels: int, scale: float) -> int:
    """A pixel count (an area) at ``scale``: ``max(1, round(pixels * scale²))``; ``pixels`` itself
    at scale 1.
    """
    return pixels if scale == 1.0 else max(1, int(round(pixels * scale * scale)))


def scaled_window(size: int, scale: float) -> int:
    """An odd window side ``size`` (3, 7, ...) at ``scale``: ``2 round((size - 1) / 2 * scale) + 1``
    (the half-width scaled, at least 1); ``size`` itself at scale 1.
    """
    return size if scale == 1.0 else 2 * max(1, int(round((size - 1) / 2 * scale))) + 1


def area_downsample(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float -> ``shape`` + (C,): the mean of each destination pixel's footprint
    (exact box averaging for integer factors, linear weights otherwise).
    """
    h, w, c = rgb.shape
    rows = area_weights(h, shape[0]) @ rgb.reshape(h, w * c)             # (hc, W*C)
    cols = area_weights(w, shape[1]) @ rows.reshape(shape[0], w, c).transpose(1, 0, 2).reshape(w, -1)
    return np.ascontiguousarray(cols.reshape(shape[1], shape[0], c).transpose(1, 0, 2))


def area_weights(n: int, m: int) -> sparse.csr_matrix:
    """(m, n) sparse matrix of 1-D area averaging from n to m <= n samples: row j weights source
    pixel i by the overlap of ``[i, i+1)`` with ``[j n/m, (j+1) n/m)``, over ``n/m``.
    """
    step = n / m
    rows, cols, vals = [], [], []
    for j in range(m):
        lo, hi = j * step, (j + 1) * step
        i = np.arange(int(np.floor(lo)), min(n, int(np.ceil(hi))))
        wgt = (np.minimum(hi, i + 1) - np.maximum(lo, i)) / step
        keep = wgt > 0
        rows.append(np.full(int(keep.sum()), j))
        cols.append(i[keep])
        vals.append(wgt[keep])
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, n))


def linear_weights(n: int, m: int) -> sparse.csr_matrix:
    """(m, n) sparse matrix of 1-D linear interpolation from n to m samples, pixel centres
    aligned, the edges held (``mode="nearest"``): two weights per row summing to 1.
    """
    pos = np.clip((np.arange(m) + 0.5) * (n / m) - 0.5, 0.0, n - 1.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    rows = np.repeat(np.arange(m), 2)
    cols = np.stack([lo, hi], axis=1).ravel()
    vals = np.stack([1.0 - frac, frac], axis=1).ravel()
    return sparse.csr_matrix((vals, (rows, cols)), shape=(m, n))


def upsample(field: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation of a coarse (h, w) field onto ``shape``, pixel centres aligned, the
    edges held (as ``scipy.ndimage.map_coordinates(order=1, mode="nearest")``), computed as two
    sparse 1-D passes.
    """
    h, w = field.shape
    rows = linear_weights(h, shape[0]) @ np.asarray(field, dtype=np.float64)
    return np.ascontiguousarray((linear_weights(w, shape[1]) @ rows.T).T)


def block_upsample(field: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A coarse (h, w) field onto ``shape``: every pixel takes the value of the coarse pixel whose
    footprint holds its centre (row ``floor((i + 0.5) h / H)``), so a fine pixel reads the coarse
    pixel it lies in (for an integer factor s, each coarse pixel becomes an s x s block).
    """
    h, w = field.shape
    rows = np.minimum(((np.arange(shape[0]) + 0.5) * (h / shape[0])).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) * (w / shape[1])).astype(np.int64), w - 1)
    return np.ascontiguousarray(np.asarray(field, dtype=np.float64)[rows[:, None], cols[None, :]])


def centre_offset(scale: float) -> float:
    """``(scale - 1) / 2``: what a scaled threshold on a distance between pixel centres gives back.

    A rule ``d <= r`` on such distances keeps whole pixels: on average ``r - 1/2`` px beyond a
    stroke at scale 1, but ``r s - 1/2`` px of the finer grid at scale ``s``, half a pixel of
    scale 1 more.  So a reach scales to ``r s - (s - 1)/2`` and the half-width of a gap (a width
    of ``2 g + 1`` px) to ``g s + (s - 1)/2``.  0 at scale 1.
    """
    return (scale - 1.0) / 2.0


def coarse_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """The grid ``scale`` times coarser than ``shape`` on which the smooth fields are computed
    (each side at least :data:`MIN_COARSE_PIXELS`, never more than the image's).
    """
    h, w = shape
    coarse = (max(MIN_COARSE_PIXELS, int(round(h / scale))), max(MIN_COARSE_PIXELS, int(round(w / scale))))
    return (min(coarse[0], h), min(coarse[1], w))


def upsampled_energy(basis: Any, small: tuple[int, int], shape: tuple[int, int],
                     interpolate: Callable[[np.ndarray, tuple[int, int]], np.ndarray] = upsample,
                     ) -> np.ndarray | None:
    """(H*W,) the energy of the basis columns 2.. (``sum phi[:, j]²``, the thicken budget's
    :func:`~fastshade.pipeline.shading.thickening_budget`) of a basis of the ``small`` grid,
    brought onto ``shape`` by ``interpolate``; None without a basis or with 2 columns or fewer.
    """
    if basis is None or basis.vectors.shape[1] <= 2:
        return None
    return interpolate((basis.vectors[:, 2:] ** 2).sum(axis=1).reshape(small), shape).ravel()


def coarse_field(carrier: np.ndarray, scale: float,
                 smooth: Callable[[np.ndarray], tuple[np.ndarray, Any]]) -> tuple[np.ndarray, Any, np.ndarray | None]:
    """``(field, basis, energy)``: the smooth field of ``carrier`` ((H, W) in [0, 1]) at ``scale``.

    ``smooth(carrier)`` returns ``(field (h, w), basis or None)`` of the carrier it is given (a
    style's Laplacian, basis and heat field).  At ``scale <= 1`` it runs on ``carrier`` itself:
    ``energy`` is None (read the basis).  Above, it runs on ``carrier`` area-averaged onto
    :func:`coarse_shape`; every pixel reads the field and the energy of the basis columns 2..
    of the coarse pixel it lies in (:func:`block_upsample`), and the basis stays on the coarse
    grid.  Not bilinear, as v12's :func:`coarse_analysis`: the field changes sharply across a
    stroke (the graph's weak ink edges), and the gates read it on the strokes; an interpolated
    field mixes a stroke's value with the paper's beside it (on toof enlarged 4 times, v6 then
    finds 35 segments instead of 27; read per block, 27).
    """
    if scale <= 1.0:
        field, basis = smooth(carrier)
        return field, basis, None
    shape = carrier.shape
    small = area_downsample(np.asarray(carrier, dtype=np.float64)[:, :, None], coarse_shape(shape, scale))[:, :, 0]
    field, basis = smooth(np.ascontiguousarray(small))
    return (block_upsample(field, shape), basis,
            upsampled_energy(basis, small.shape, shape, interpolate=block_upsample))


def coarse_analysis(rgb: np.ndarray, opts: ShadeOptions, scale: float, analyse: Any, timer: Any, *,
                    directions: bool = True, cross: bool = False) -> Analysis:
    """The full-resolution :class:`Analysis` of ``rgb`` with its smooth parts from a grid ``scale``
    times coarser.

    ``analyse(small_rgb, opts, timer, directions=..., cross=...)`` analyses the coarse image (the
    pipeline's :func:`~fastshade.pipeline.shader.analyse`).  The gating field, the basis energy and
    the thicken and void directions are interpolated back (directions renormalised); the carrier,
    the contours, the gates and the components (smallest ``min_component * scale²``) are computed
    at full resolution.  ``Analysis.basis`` is None; ``Analysis.basis_energy`` carries the energy.
    """
    h, w = rgb.shape[:2]
    small = analyse(area_downsample(rgb, coarse_shape((h, w), scale)), opts, timer, directions=directions,
                    cross=cross)
    with timer.stage("upsample"):
        carrier = carrier_of(rgb)
        contours = contour_mask(carrier, opts.contour_sigma)
        field = upsample(small.field, (h, w))
        energy = upsampled_energy(small.basis, small.shape, (h, w))

        def direction(ay: np.ndarray, ax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Interpolated unit directions (zero where the interpolated vector vanishes)."""
            if not directions:
                return np.zeros((h, w)), np.zeros((h, w))
            vy, vx = upsample(ay, (h, w)), upsample(ax, (h, w))
            norm = np.hypot(vy, vx)
            np.divide(vy, norm, out=vy, where=norm > 0)
            np.divide(vx, norm, out=vx, where=norm > 0)
            return vy, vx

        perp_y, perp_x = direction(small.perp_y, small.perp_x)
        void_y, void_x = direction(small.void_y, small.void_x)
    with timer.stage("gates"):
        if contours.any() and small.contours.any():
            high, low = contour_gates(field, contours, opts.gate_gain, opts.gamma_h, opts.bias_h,
                                      opts.gamma_l, opts.bias_l)
        else:
            high = low = np.zeros((h, w), dtype=bool)
    with timer.stage("components"):
        comps = label_components(low, connectivity=8, min_size=scaled_area(opts.min_component, scale))
    return Analysis(rgb, carrier, contours, None, field, perp_y, perp_x, void_y, void_x, high, low, comps,
                    basis_energy=energy)
