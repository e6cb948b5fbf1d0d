"""The painting stages of the ``brush`` style: line weight and swung shadows, under the ink.

Both stages paint only where the drawing has no ink of the artist's (the paper, and in a later
pass the marks of an earlier one): :func:`weight_stage` grows the high-gate strokes
(:mod:`fastshade.pipeline.weight`) in their own ink colour, :func:`shadow_stage` lays the swung
shadows of the low-gate segments (:mod:`fastshade.pipeline.castshadow`) in the palette's
colours, and :func:`drop_small` removes any piece of either that is too small to read as a
mark (no specks).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from fastshade.pipeline.castshadow import Swing, mask_window, swung_shadows
from fastshade.pipeline.distance import background_distance, nearest_background
from fastshade.pipeline.inkgates import InkAnalysis
from fastshade.pipeline.resolution import centre_offset, scaled_window
from fastshade.pipeline.shading import basis_budget
from fastshade.pipeline.weight import LIGHT, grow_strokes, stroke_reach

REACH_SIGMA = 4.0
"""Standard deviation (px) of the smoothing of the reach along the strokes (every length here is
at scale 1: the stages multiply it by the drawing's scale)."""
CROP_MARGIN = 24
"""Margin (px) of the strokes' bounding box in which the line weight is computed: wider than the
reach smoothing's Gaussian (4 sigma = 16 px) and the gap opening, so the result is the whole image's."""
MIN_PIECE = 12
"""Smallest 8-connected piece of added pixels that is painted (px, at scale 1: x scale²)."""
SMOOTH = 1.5
"""Standard deviation (px) of the spreading of the reach over the paper (:func:`grow_strokes`)."""
EDGE_WIDTH = 2
"""Width (px) of a swung shadow's edge: the swung copy grown by its 4-neighbours."""


def paintable(an: InkAnalysis) -> np.ndarray:
    """(H, W) bool: where the style may paint: off the artist's ink (paper and earlier marks)."""
    return ~an.strokes


def weight_stage(an: InkAnalysis, radius: int, attenuation: float, effect: float,
                 lean: float = 0.7, later: bool = False, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Line weight: (added mask (H, W), (count, 3) colours of the added pixels in row-major order,
    as ``image[added] = colours`` paints them; not an (H, W, 3) image: 24 B a pixel).

    The reach of a high-gate stroke pixel is the spectral budget ``R (1 - attenuation Ê)``
    (:func:`fastshade.pipeline.shading.thickening_budget`, normalised over the high-gate pixels)
    times ``effect``, less the stroke's width beyond one pixel when ``later`` (a later pass tops
    up the weight of a stroke instead of piling more on), smoothed along the strokes; growth
    keeps out of paper gaps narrower than ``2 R + 1`` px.  An added pixel takes the colour of the
    nearest full-strength ink pixel.  ``scale``: the drawing's (``radius`` is already scaled); the
    smoothing lengths, the window's margin and the later pass's "one pixel" are times ``scale``,
    the reach and the gap move by :func:`~fastshade.pipeline.resolution.centre_offset`.
    """
    h, w = an.shape
    if an.basis is None or radius == 0 or not an.high.any():
        return np.zeros((h, w), dtype=bool), np.zeros((0, 3))
    sources = np.flatnonzero(an.high.ravel())
    budget = basis_budget(an.basis, an.energy, radius, attenuation, sources).reshape(h, w)
    budget *= effect
    margin = CROP_MARGIN if scale == 1.0 else int(np.ceil(CROP_MARGIN * scale))
    win = mask_window(an.strokes, margin + radius)  # all work inside the strokes' box: same result
    strokes, high = an.strokes[win], an.high[win]
    offset = centre_offset(scale)  # 0 at scale 1: a reach a little shorter, a gap a little wider
    if later:
        side = scaled_window(3, scale)
        half = ndi.grey_dilation(background_distance(strokes), size=(side, side))
        if offset:  # the half-width between centres, as at scale 1
            half += offset
        budget = np.maximum(budget[win] - 2.0 * (half - scale), 0.0)
    else:
        budget = budget[win]
    reach = stroke_reach(strokes, high, budget, REACH_SIGMA * scale)
    if offset:
        reach -= offset
    grown = grow_strokes(strokes, reach, free=paintable(an)[win], gap=float(radius) + offset, lean=lean,
                         max_reach=float(radius) - offset, smooth=SMOOTH * scale)
    added = np.zeros((h, w), dtype=bool)
    added[win] = grown
    colours = np.zeros((0, 3))
    if grown.any():  # (the window's row-major order of grown pixels is the image's of added ones)
        dist = an.model.distance[win]
        core = strokes & (dist >= np.median(dist[strokes]))
        cy, cx = nearest_background(~core)
        colours = an.rgb[win][cy[grown], cx[grown]]
    return added, colours


def shadow_stage(an: InkAnalysis, spread: float, effect: float, taken: np.ndarray,
                 scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, list[Swing], np.ndarray]:
    """Swung shadows of the low-gate segments: (fill mask, edge mask, swings, owner map), off the
    ink and off ``taken`` (the line weight just added, which stays on top).  ``spread`` is already
    scaled; the edge's width is ``1 + round(scale)`` px.
    """
    away = (-LIGHT[0], -LIGHT[1])
    width = EDGE_WIDTH if scale == 1.0 else 1 + max(1, int(round((EDGE_WIDTH - 1) * scale)))
    fill, edge, swings, owner = swung_shadows(an.components, an.field, spread * effect, away, width)
    free = paintable(an) & ~taken & ~an.marks  # on paper: never over an earlier pass's shadow
    return fill & free & ~edge, edge & free, swings, owner


def drop_small(masks: list[np.ndarray], min_piece: int = MIN_PIECE) -> list[np.ndarray]:
    """``masks`` less every 8-connected piece of their union smaller than ``min_piece`` px."""
    union = np.logical_or.reduce(masks)
    labels, n = ndi.label(union, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return masks
    big = np.bincount(labels.ravel(), minlength=n + 1) >= min_piece
    big[0] = False
    keep = big[labels]
    return [m & keep for m in masks]
