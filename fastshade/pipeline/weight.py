"""Line weight: strokes grow across their direction, by a reach that varies smoothly along them.

Every paper pixel ``q`` near the ink has a nearest stroke pixel ``p`` (the Euclidean distance
transform's feature transform), so ``q - p`` points across the stroke, never along it.  ``q`` is
added when ``|q - p| <= reach(p) * lean(q - p)``: the reach is the spectral budget of the
high-gate stroke pixels smoothed along the ink (:func:`stroke_reach`), so weight swells and
tapers along a stroke instead of switching on and off, and ``lean`` makes the side facing away
from the light heavier (the illustrator's shaded line).  Growth stays out of every gap of paper
narrower than ``2 * gap + 1`` pixels (a morphological opening of the paper, :func:`open_paper`),
so strokes never merge across a narrow gap and corners are not filled; every added pixel is
8-connected, through added pixels, to the stroke it grew from (:func:`attached`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from fastshade.kernels import paper as paper_kernels
from fastshade.pipeline.filters import correlate1d, gaussian_filter
from fastshade.pipeline.paper import reach_offsets

LIGHT = (-0.6, -0.8)
"""Unit (y, x) direction towards the light: up and to the left, as a page is usually lit."""
EIGHT = np.ones((3, 3), dtype=bool)


def stroke_reach(strokes: np.ndarray, high: np.ndarray, budget: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W) float64 reach of every stroke pixel (0 elsewhere).

    The normalised convolution ``G * (high * budget) / G * strokes`` (Gaussian ``G`` of standard
    deviation ``sigma`` px): the budget of the high-gate pixels, averaged over the stroke pixels
    around, so it is the budget inside a high-gate stretch and falls smoothly to 0 across the
    low-gate stretches.
    """
    strokes = np.asarray(strokes, dtype=bool)
    num = gaussian_filter(np.where(high & strokes, budget, 0.0), sigma, mode="constant")
    den = gaussian_filter(strokes.astype(np.float64), sigma, mode="constant")
    np.divide(num, np.maximum(den, 1e-12, out=den), out=num)  # in place: no (H, W) temporaries
    num[~strokes] = 0.0
    return num


def stroke_distance(strokes: np.ndarray, reach: float) -> np.ndarray:
    """(H, W) float64: the distance of every pixel to the nearest pixel of ``strokes`` where it is
    at most ``reach`` (the values of ``ndi.distance_transform_edt(~strokes)``, 0 on strokes), +inf
    farther (:func:`fastshade.kernels.paper.spread_within_reach`: from the stroke pixels, which
    are fewer than the others).
    """
    d2 = np.full(strokes.shape, np.inf)
    dy, dx = reach_offsets(reach)
    paper_kernels.spread_within_reach(np.ascontiguousarray(strokes, dtype=bool), dy, dx, d2)
    return np.sqrt(d2)


def open_paper(distance: np.ndarray, gap: float) -> np.ndarray:
    """(H, W) bool: the paper pixels inside some disc of radius ``gap`` lying wholly on paper.

    ``distance`` is the distance of every pixel to the nearest stroke pixel (0 on strokes; it may
    be anything above ``gap`` where it is above ``gap``, such as :func:`stroke_distance`'s +inf).
    Gaps of paper narrower than ``2 * gap + 1`` px hold no such disc, so they are left out: the
    pixels within ``gap`` of a pixel farther than ``gap`` from the strokes (the values of
    ``(ndi.distance_transform_edt(~core) <= gap) & (distance > 0)``).
    """
    if gap <= 0:
        return distance > 0
    core = distance > gap
    if not core.any():
        return np.zeros(distance.shape, dtype=bool)
    near = np.full(distance.shape, np.inf, dtype=np.float32)  # (only "reached or not" is read)
    dy, dx = reach_offsets(gap)
    paper_kernels.nearest_within_reach(np.ascontiguousarray(distance > 0), core, dy, dx, False, near)
    return near != np.inf


def attached(added: np.ndarray, strokes: np.ndarray) -> np.ndarray:
    """``added`` without its 8-connected pieces that touch no stroke pixel."""
    labels, n = ndi.label(added, structure=EIGHT)
    if n == 0:
        return added
    touching = np.unique(labels[ndi.binary_dilation(strokes, EIGHT) & added])
    keep = np.zeros(n + 1, dtype=bool)
    keep[touching] = True
    keep[0] = False
    return keep[labels]


def grow_strokes(strokes: np.ndarray, reach: np.ndarray, *, free: np.ndarray | None = None,
                 gap: float = 3.0, lean: float = 0.5, max_reach: float = 3.0,
                 light: tuple[float, float] = LIGHT, smooth: float = 1.5) -> np.ndarray:
    """Grow ``strokes`` ((H, W) bool) by ``reach`` ((H, W), read on the stroke pixels).

    A paper pixel at distance ``d`` from the strokes is added when ``d <= min(R, max_reach)``.
    ``R`` is the stroke reach spread over the paper by a normalised Gaussian of ``smooth`` px
    (so the new edge is smooth, not the staircase of the nearest stroke pixel's value), times
    ``1 + lean * cos``, ``cos`` that of the angle between the direction away from the strokes
    (the negated gradient of the blurred strokes) and the direction away from the ``light``.

    Parameters
    ----------
    free
        Where growth may go (default: everywhere off the strokes); the artist's ink is never free.
    gap
        Half-width of the narrowest gap of paper that growth may enter (:func:`open_paper`).
    lean
        In [0, 1): how much heavier the shadow side of a stroke is than its lit side.

    Returns
    -------
    (H, W) bool: the new stroke pixels, every 8-connected piece touching the stroke.
    """
    strokes = np.asarray(strokes, dtype=bool)
    if not strokes.any():
        return np.zeros(strokes.shape, dtype=bool)
    distance = stroke_distance(strokes, max(max_reach, gap, 0.0))  # exact where it is read
    near = (distance > 0) & (distance <= max_reach) & open_paper(distance, gap)
    if free is not None:
        near &= free
    if not near.any():
        return near
    blurred = gaussian_filter(strokes.astype(np.float64), smooth, mode="constant")
    spread = gaussian_filter(np.where(strokes, reach, 0.0), smooth, mode="constant")
    r = spread[near] / np.maximum(blurred[near], 1e-12)
    if lean:
        diff = np.array([-0.5, 0.0, 0.5])  # central differences, any size (np.gradient needs 2 rows)
        gy = correlate1d(blurred, diff, axis=0, mode="nearest")[near]
        gx = correlate1d(blurred, diff, axis=1, mode="nearest")[near]
        norm = np.maximum(np.hypot(gy, gx), 1e-12)
        r = r * (1.0 + lean * (gy * light[0] + gx * light[1]) / norm)  # -grad points away from ink
    added = np.zeros(strokes.shape, dtype=bool)
    added[near] = distance[near] <= np.minimum(r, max_reach)
    return attached(added, strokes)
