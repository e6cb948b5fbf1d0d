"""Swung shadows: each low-gate stroke segment casts a copy of itself, swung about one of its ends.

A segment (an 8-connected piece of the low gate) is a piece of the drawing's own stroke.  Its
shadow is the same piece rotated about its pivot end by a small angle, towards the side away
from the light, so that its far end swings out by ``spread`` pixels: the copy stays attached to
the stroke at the pivot and opens a wedge of paper between the two.  The wedge (every
intermediate angle, one pixel apart at the far end) is the shadow's ``fill``; the fully swung
copy, one pixel thicker, its ``edge``.  The pivot is the end where the gating field is higher,
and ``spread`` grows with how far below the gate the segment's field lies, so the shadows vary
along the drawing as its field does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from fastshade.pipeline.components import Components
from fastshade.pipeline.distance import nearest_background

MAX_ANGLE = 0.6
"""Largest swing (radians): short segments open no wider than this."""


@dataclass(frozen=True)
class Swing:
    """One segment's shadow (the JSON form is :meth:`summary`)."""

    component: int
    pivot: tuple[int, int]
    angle: float
    spread: float

    def summary(self) -> dict[str, float | int | list[int]]:
        """``{"component", "pivot", "angle", "spread"}``."""
        return {"component": self.component, "pivot": [int(v) for v in self.pivot],
                "angle": round(self.angle, 6), "spread": round(self.spread, 6)}


def principal_axis(cov: np.ndarray) -> np.ndarray:
    """Unit (y, x) direction of the largest spread of a 2x2 coordinate covariance."""
    values, vectors = np.linalg.eigh(cov)
    return vectors[:, int(np.argmax(values))]


def swing_segment(ys: np.ndarray, xs: np.ndarray, field: np.ndarray, spread: float,
                  away: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, tuple[int, int], float]:
    """The swung copies of one segment: (stacked y, stacked x) of the fill, the pivot, the angle.

    Row ``k`` of the (m + 1, n) outputs is the segment rotated by ``k / m`` of the angle
    (row 0 is the segment itself); ``m`` keeps neighbouring rows one pixel apart at the far end.
    """
    pts = np.stack([ys, xs], axis=1).astype(np.float64)
    centre = pts.mean(axis=0)
    cov = np.cov(pts.T, bias=True) if len(pts) > 1 else np.zeros((2, 2))
    u = principal_axis(cov)
    t = (pts - centre) @ u
    lo, hi = int(np.argmin(t)), int(np.argmax(t))
    if field[ys[hi], xs[hi]] > field[ys[lo], xs[lo]]:  # pivot on the end where the field is higher
        u, lo, hi, t = -u, hi, lo, -t
    pivot = pts[lo]
    length = max(float(t[hi] - t[lo]), 1.0)
    n = np.array([u[1], -u[0]])
    if n @ np.asarray(away) < 0:
        n = -n
    angle = min(spread / length, MAX_ANGLE)
    steps = max(1, int(np.ceil(angle * length)))
    rel = pts - pivot
    along, across = rel @ u, rel @ n
    theta = angle * np.arange(steps + 1)[:, None] / steps
    c, s = np.cos(theta), np.sin(theta)
    # rotate u towards n: (a, b) in the (u, n) frame -> (a c - b s, a s + b c)
    a_new, b_new = along * c - across * s, along * s + across * c
    yy = np.rint(pivot[0] + a_new * u[0] + b_new * n[0]).astype(np.int64)
    xx = np.rint(pivot[1] + a_new * u[1] + b_new * n[1]).astype(np.int64)
    return yy, xx, (int(pivot[0]), int(pivot[1])), float(angle)


def mask_window(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The bounding box of the (non-empty) ``mask`` grown by ``margin`` px, clipped to the image."""
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    h, w = mask.shape
    return (slice(max(int(ys[0]) - margin, 0), min(int(ys[-1]) + margin + 1, h)),
            slice(max(int(xs[0]) - margin, 0), min(int(xs[-1]) + margin + 1, w)))


def swung_shadows(components: Components, field: np.ndarray, spread: float,
                  away: tuple[float, float], width: int = 2,
                  ) -> tuple[np.ndarray, np.ndarray, list[Swing], np.ndarray]:
    """The fill and edge masks ((H, W) bool) of every component's swung shadow, the swings, and
    the owner map ((H, W) int32: the index of the last swing that covers a pixel, -1 none; an edge
    pixel belongs to the swing whose fully swung copy is nearest).

    ``spread`` (px) is the far-end swing of the segment whose field lies lowest; the others swing
    ``spread * (0.5 + 0.5 * rank)``, ``rank`` in [0, 1] from the highest mean field to the lowest.
    The edge is the fully swung copy grown ``width - 1`` times by its 4-neighbours (``width`` 2:
    once); the fill is the wedge it sweeps.
    Neither mask is clipped to paper (the caller paints on paper only).
    """
    h, w = field.shape
    fill = np.zeros((h, w), dtype=bool)
    last = np.zeros((h, w), dtype=bool)
    owner = np.full((h, w), -1, dtype=np.int32)
    last_owner = np.full((h, w), -1, dtype=np.int32)
    swings: list[Swing] = []
    if components.n == 0 or spread <= 0:
        return fill, last, swings, owner
    means = np.array([field.ravel()[components.pixels_of(i)].mean() for i in range(components.n)])
    order = np.argsort(np.argsort(-means, kind="stable"), kind="stable")
    rank = order / max(components.n - 1, 1)
    for i in range(components.n):
        ys, xs = np.divmod(components.pixels_of(i), w)
        yy, xx, pivot, angle = swing_segment(ys, xs, field, spread * (0.5 + 0.5 * rank[i]), away)
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        fill[yy[inside], xx[inside]] = True
        owner[yy[inside], xx[inside]] = len(swings)
        end = inside[-1]
        last[yy[-1][end], xx[-1][end]] = True
        last_owner[yy[-1][end], xx[-1][end]] = len(swings)
        swings.append(Swing(i, pivot, angle, float(spread * (0.5 + 0.5 * rank[i]))))
    if not last.any():
        return fill, last, swings, owner
    # the edge and its owners inside the box of ``last`` grown past the edge's reach (width - 1
    # px): the same dilation and nearest ``last`` pixels as over the whole image, which hold no
    # other ``last`` pixel
    win = mask_window(last, width + 1)
    box = last[win]
    edge = np.zeros((h, w), dtype=bool)
    edge[win] = (ndi.binary_dilation(box, ndi.generate_binary_structure(2, 1), iterations=width - 1)
                 if width > 1 else box)
    iy, ix = nearest_background(~box)
    inner = edge[win]
    owner[win][inner] = last_owner[win][iy[inner], ix[inner]]
    return fill, edge, swings, owner
