"""The stages of one v6 pass (``original-system.md`` §4.1): gate, contours, thickening, segments,
their push, and the shadow and front copies.

Every rule of the original's pass, with the pass's effect ``e`` and 1-based index ``p``
(:class:`V6Pass`): gate ``sigmoid(10 (f - 0.5))`` on the min-max-normalised gating field;
contours ``|z(grey)| > 1``; dilation thickening; 4-connected eligible segments; Sobel push
``int(g/|g| * 30 e)``; the bounding-box patch rotated by ``rot90(k=1)`` and placed at the box
corner, a shadow copy ``int(7 e)`` px down-right first, then the front copy.  Segments are drawn
one after the other into the image they read from.

One departure by design: neither the copies nor the thickening write over a ``guard`` pixel, the
drawing's ink (the style passes the first pass's :func:`fastshade.pipeline.paper.paper_ink_model`
ink, or ``None`` with ``ink_guard=0``: then they write anywhere, as the original's did, which
overwrote 4.7 % of toof's ink after one pass and painted over coloured fills that are not
contours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fastshade.kernels.v6 import draw_copies, nearest_contour_fill
from fastshade.options import ShadeOptions
from fastshade.pipeline.components import Components, label_components
from fastshade.pipeline.fields import HeatOperator, field_kind, gating_field
from fastshade.pipeline.gates import zscore
from fastshade.pipeline.graph import diagonal_storage, image_laplacian
from fastshade.pipeline.resolution import coarse_field, scaled_area
from fastshade.pipeline.results import Timer
from fastshade.spectral import SpectralBasis, spectral_basis

MAX_THICKNESS = 5
"""Dilation steps at effect 1 (``max_thickness``)."""
SEARCH_MARGIN = 4
"""The colour search of a thickened pixel reaches ``thickness + SEARCH_MARGIN`` px."""
MIN_SEGMENT_PIXELS = 10
MAX_SEGMENTS = 2000
BASE_GATE_THRESHOLD = 0.65
GATE_THRESHOLD_STEP = 0.08
GATE_THRESHOLD_FLOOR = 0.25
TRANSLATION = 30.0
"""Push length in px at effect 1, along the grey Sobel gradient."""
SHADOW_OFFSET = 7.0
"""Offset of the shadow copy below and right of the front copy, px at effect 1."""
GATE_GAIN = 10.0
CONTOUR_Z = 1.0
"""Contours: ``|z(grey)| > CONTOUR_Z``."""
FIELD_EPS = 1e-8
WRITE_SHADOW, WRITE_FRONT = 0, 1
"""Codes of :func:`draw_segments`'s ``writer`` map (-1 = not written)."""


@dataclass(frozen=True)
class V6Pass:
    """The lengths and thresholds of pass ``index`` (1-based) at effect ``effect``, on a drawing
    at ``scale`` (docs/resolution.md: every length x ``scale``, the smallest segment x ``scale²``).
    """

    index: int
    effect: float
    scale: float = 1.0

    @property
    def thickness(self) -> int:
        """Dilation steps ``max(int(5 e s), 1)``."""
        return max(int(MAX_THICKNESS * self.effect * self.scale), 1)

    @property
    def search_margin(self) -> int:
        """The colour search's reach beyond the thickness: ``round(4 s)``."""
        return int(round(SEARCH_MARGIN * self.scale))

    @property
    def min_segment_pixels(self) -> int:
        """The smallest segment drawn: ``10 s²`` px (:func:`fastshade.pipeline.resolution.scaled_area`)."""
        return scaled_area(MIN_SEGMENT_PIXELS, self.scale)

    @property
    def gate_threshold(self) -> float:
        """Eligibility threshold ``max(0.65 - 0.08 (p - 1), 0.25)``."""
        return max(BASE_GATE_THRESHOLD - GATE_THRESHOLD_STEP * (self.index - 1), GATE_THRESHOLD_FLOOR)

    @property
    def max_segments(self) -> int:
        """Segment cap ``M = max(int(2000 e), 5)``."""
        return max(int(MAX_SEGMENTS * self.effect), 5)

    @property
    def push(self) -> float:
        """Push length ``30 e s`` px."""
        return TRANSLATION * self.effect * self.scale

    @property
    def shadow_offset(self) -> int:
        """Shadow offset ``int(7 e s)`` px in both axes."""
        return int(SHADOW_OFFSET * self.effect * self.scale)


def v6_field(carrier: np.ndarray, opts: ShadeOptions, timer: Timer,
             scale: float = 1.0) -> tuple[np.ndarray, SpectralBasis | None]:
    """The gating field f of ``carrier`` ((H, W) grey) and the basis it read (or None).

    Where the original read its Ritz column 1: the seeded heat random field on the image's
    Laplacian by default (no eigensolve), the basis column with ``field="column"``, the Krylov
    column with ``basis="krylov"`` (:func:`fastshade.pipeline.fields.gating_field`).  Its sign
    carries no meaning (a random field's, an eigenvector's), yet the gate's fixed 0.5 centre reads
    it: the house column convention fixes it (the entry of largest ``|f|`` is positive,
    :func:`fastshade.spectral.columns.sign_flip`), which puts the bulk of the image below the
    centre, where the original's Ritz column put it (sparse thickening).  Timed under
    ``laplacian``, ``basis`` and ``fields``.  ``scale`` > 1: computed on the carrier ``scale``
    times coarser and interpolated back (:func:`fastshade.pipeline.resolution.coarse_field`; the
    basis, if any, is the coarse grid's; each pixel reads the coarse pixel it lies in, so the
    gate's min-max normalisation sees the coarse field's range).
    """
    graph = opts.graph()

    def smooth(grey: np.ndarray) -> tuple[np.ndarray, SpectralBasis | None]:
        """The field of ``grey`` (the carrier, or its coarse grid's) and the basis it read."""
        with timer.stage("laplacian"):
            lap = image_laplacian(grey, **graph)
        with timer.stage("fields"):
            diagonals = diagonal_storage(lap) if opts.laplacian == "grid" else None
        basis = None
        if field_kind(opts) != "heat":
            with timer.stage("basis"):
                basis = spectral_basis(grey, method=opts.basis, k=opts.k, **graph, tile_size=opts.tile_size,
                                       tile_overlap=opts.tile_overlap, seed=opts.seed,
                                       krylov_steps=opts.krylov_steps, tol=opts.tol, laplacian=lap,
                                       diagonals=diagonals,
                                       contract="check" if opts.basis == "lobpcg" else "off")
        with timer.stage("fields"):
            f = gating_field(lap, basis, grey.shape, opts, operator=HeatOperator(lap, opts, diagonals))
            if f.size and f.max() < -f.min():  # the sign convention: the largest |f| is positive
                f = -f
        return f, basis

    f, basis, _ = coarse_field(carrier, scale, smooth)
    return f, basis


def v6_gate(field: np.ndarray) -> np.ndarray:
    """``sigmoid(10 (f^ - 0.5))`` of the min-max-normalised field ``f^ = (f - min)/(max - min + 1e-8)``."""
    f = np.asarray(field, dtype=np.float64)
    if f.size == 0:
        return np.zeros_like(f)
    fhat = (f - f.min()) / (f.max() - f.min() + FIELD_EPS)
    return 0.5 * (1.0 + np.tanh(0.5 * GATE_GAIN * (fhat - 0.5)))  # = 1/(1 + exp(-10 (f^ - 0.5)))


def v6_contours(grey: np.ndarray) -> np.ndarray:
    """Contours ``|z(grey)| > 1`` (unbiased std, the spec's convention, §0.2); (H, W) bool."""
    return np.abs(zscore(grey)) > CONTOUR_Z


def dilate_cross(mask: np.ndarray, times: int) -> np.ndarray:
    """``mask`` dilated ``times`` times by the 4-neighbour cross (outside the image is background)."""
    m = np.asarray(mask, dtype=bool).copy()
    for _ in range(times):
        d = m.copy()
        d[1:] |= m[:-1]
        d[:-1] |= m[1:]
        d[:, 1:] |= m[:, :-1]
        d[:, :-1] |= m[:, 1:]
        m = d
    return m


def thicken_v6(out: np.ndarray, src: np.ndarray, contours: np.ndarray, gate: np.ndarray,
               thickness: int, guard: np.ndarray | None = None, margin: int = SEARCH_MARGIN) -> np.ndarray:
    """Dilation thickening in place; returns the (H, W) bool mask of the pixels given a colour.

    New pixels = contours dilated ``thickness`` times ∧ ¬contours ∧ ``gate > 0.5`` (∧ ¬``guard``
    when given); each takes the colour in ``src`` ((H, W, 3), the pass's input: contour pixels are
    never thickened over, so input and output agree there) of its nearest contour pixel in squares
    of radius 1 .. ``thickness + margin`` (:func:`fastshade.kernels.v6.nearest_contour_fill`).
    """
    contours = np.asarray(contours, dtype=bool)
    new = dilate_cross(contours, thickness) & ~contours & (gate > 0.5)
    if guard is not None:
        new &= ~guard
    ys, xs = np.nonzero(new)
    ys, xs = ys.astype(np.int64), xs.astype(np.int64)
    filled = np.empty(len(ys), dtype=np.uint8)
    src = np.ascontiguousarray(src[:, :, :3], dtype=np.float64)
    nearest_contour_fill(contours.view(np.uint8), ys, xs, int(thickness + margin), src, out, filled)
    done = np.zeros(contours.shape, dtype=bool)
    done[ys[filled == 1], xs[filled == 1]] = True
    return done


def sobel_gradient(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(g_y, g_x)``: 3x3 Sobel derivatives of ``grey`` (edge-repeating border, as
    ``scipy.ndimage.sobel``'s default ``reflect`` mode); unnormalised (only the direction is read).
    """
    p = np.pad(np.asarray(grey, dtype=np.float64), 1, mode="symmetric")
    dy = p[2:, :] - p[:-2, :]
    gy = dy[:, :-2] + 2.0 * dy[:, 1:-1] + dy[:, 2:]
    dx = p[:, 2:] - p[:, :-2]
    gx = dx[:-2, :] + 2.0 * dx[1:-1, :] + dx[2:, :]
    return gy, gx


@dataclass(frozen=True)
class Segments:
    """The eligible pixels, their 4-connected components and the ones drawn."""

    eligible: np.ndarray
    """(H, W) bool: contour ∧ gate < threshold (or the median fallback)."""
    fallback: bool
    """True when fewer than ``3 * MIN_SEGMENT_PIXELS`` pixels passed and the median was used."""
    components: Components
    """Every 4-connected component of ``eligible`` (label ids 1..n, raster order)."""
    chosen: np.ndarray
    """Indices (0-based) of the components drawn, in label order."""


def select_segments(contours: np.ndarray, gate: np.ndarray, threshold: float, max_segments: int,
                    min_pixels: int = MIN_SEGMENT_PIXELS) -> Segments:
    """The v6 segments: eligible = contour ∧ ``gate < threshold``; fewer than ``3 min_pixels``
    such pixels: contour ∧ gate < the median gate over the contours.  4-connected components;
    only label ids 1 .. min(n, 2 max_segments - 1) are examined; of those, the ones with
    ``>= min_pixels`` pixels, at most ``max_segments`` of them.
    """
    contours = np.asarray(contours, dtype=bool)
    eligible = contours & (gate < threshold)
    fallback = False
    if np.count_nonzero(eligible) < 3 * min_pixels and contours.any():
        eligible = contours & (gate < np.median(gate[contours]))
        fallback = True
    comps = label_components(eligible, connectivity=4, min_size=1)
    examined = min(comps.n, 2 * max_segments - 1)
    chosen = np.flatnonzero(comps.sizes[:examined] >= min_pixels)[:max_segments]
    return Segments(eligible, fallback, comps, chosen)


def segment_pushes(gy: np.ndarray, gx: np.ndarray, centroids: np.ndarray, push: float) -> np.ndarray:
    """(m, 2) int64 ``(t_y, t_x) = int(g / |g| * push)`` per axis (truncation toward zero), ``g``
    the gradient at each truncated centroid ((m, 2) ``(y, x)``); ``(0, 0)`` where it vanishes.
    """
    c = np.asarray(centroids, dtype=np.float64).reshape(-1, 2).astype(np.int64)
    g_y, g_x = gy[c[:, 0], c[:, 1]], gx[c[:, 0], c[:, 1]]
    norm = np.hypot(g_y, g_x)
    safe = np.where(norm > 0.0, norm, 1.0)
    out = np.stack([g_y / safe * push, g_x / safe * push], axis=1).astype(np.int64)
    out[~(norm > 0.0)] = 0
    return out


def draw_segments(out: np.ndarray, segments: Segments, grad: tuple[np.ndarray, np.ndarray],
                  step: V6Pass, guard: np.ndarray | None, writer: np.ndarray) -> list[dict[str, Any]]:
    """Draw every chosen segment's shadow copy and then its front copy into ``out``, in order.

    Per segment (:func:`fastshade.kernels.v6.draw_copies`): the bounding-box patch of the
    *current* ``out`` and the segment's mask in it, both turned by ``np.rot90(k=1)`` (90°
    counter-clockwise as displayed); the push :func:`segment_pushes`; the turned patch's top-left
    corner at the box corner plus the push ``(y0 + t_y, x0 + t_x)`` for the front copy and
    ``int(7 e)`` px further down and right for the shadow copy, drawn first.  Colours: the shadow
    and front tints (:func:`fastshade.kernels.v6.cyclic_tint_pixel`, then the per-copy channel
    changes) of the segment's colours, read before
    its shadow is drawn.  ``out`` is (H, W, 3) float64, C-contiguous; ``guard`` pixels are never
    written; ``writer`` ((H, W) int8) gets :data:`WRITE_SHADOW`/:data:`WRITE_FRONT` where a write
    changed a pixel.  Returns one JSON-able summary per segment.
    """
    comps = segments.components
    chosen = segments.chosen
    m = len(chosen)
    if m == 0:
        return []
    pushes = segment_pushes(grad[0], grad[1], comps.centroids[chosen], step.push)
    starts, ends = comps.indptr[chosen], comps.indptr[chosen + 1]
    indptr = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
    pixels = np.concatenate([comps.pixels[a:b] for a, b in zip(starts.tolist(), ends.tolist())])
    boxes = np.ascontiguousarray(comps.bbox[chosen], dtype=np.int64)
    written = np.zeros((m, 2), dtype=np.int64)
    g = np.zeros(out.shape[:2], dtype=np.uint8) if guard is None else np.ascontiguousarray(guard).view(np.uint8)
    scratch = np.empty((int((ends - starts).max()), 3))
    draw_copies(out, pixels, indptr, boxes, pushes, int(step.shadow_offset), float(step.effect), g, writer,
                written, scratch)
    corners = boxes[:, :2] + pushes
    return [{"segment": int(i) + 1, "pixels": int(comps.sizes[i]), "box": boxes[k].tolist(),
             "centroid": [float(comps.centroids[i][0]), float(comps.centroids[i][1])],
             "push": pushes[k].tolist(), "corner": corners[k].tolist(),
             "shadow_written": int(written[k, 0]), "front_written": int(written[k, 1])}
            for k, i in enumerate(chosen.tolist())]
