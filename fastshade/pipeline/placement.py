"""Where a shadow copy lands: the push along the void direction and the free-paper search.

Self (:func:`fastshade.pipeline.shadow.shadow_self`) and cross
(:func:`fastshade.pipeline.cross.shadow_cross`) placements share :func:`shadow_destination`.
"""

from __future__ import annotations

import numpy as np

from fastshade.options import ShadeOptions
from fastshade.pipeline.metrics import fragments
from fastshade.pipeline.results import Analysis
from fastshade.pipeline.shading import place_component


def component_shift(an: Analysis, centroid: tuple[float, float], distance: float) -> tuple[float, float]:
    """``distance`` times the void direction at the (truncated, clipped) centroid."""
    h, w = an.shape
    iy = min(max(int(centroid[0]), 0), h - 1)
    ix = min(max(int(centroid[1]), 0), w - 1)
    return float(distance * an.void_y[iy, ix]), float(distance * an.void_x[iy, ix])


FREE_PUSHES: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
"""``shadow_placement="free"``: push distances tried, in units of ``shadow_distance``."""

FREE_FRACTION = 0.98
"""``shadow_placement="free"``: share of a copy's pixels that must land free."""

PUSH_DIRECTIONS = {"free": 2, "fit": 2, "fit-dirs": 4, "fit-diag": 8, "fit-whole": 8}
"""How many of :func:`_push_directions` each searching placement tries; every one but
``free`` drops a shadow with no free spot instead of painting its best try."""

WHOLE_FRACTION = 0.9
"""``shadow_placement="fit-whole"``: a copy with no free spot is still drawn at its best
push when >= this share of it lands free, in one 8-connected piece."""


def free_paper(an: Analysis, opts: ShadeOptions) -> np.ndarray:
    """Where a shadow may land whole: bool (H*W,), paper (``carrier > ink_guard``); the
    shadow passes clear the pixels they write (:func:`shadow_destination`).
    """
    return an.carrier.ravel() > opts.ink_guard


def _push_directions(an: Analysis, dst_centroid: tuple[float, float],
                     count: int) -> list[tuple[float, float]]:
    """The first ``count`` unit directions of: the void direction ``v`` at ``dst_centroid``,
    ``-v``, the perpendiculars ``(v_x, -v_y)``, ``(-v_x, v_y)``, the four diagonals
    ``(±v ± v_perp)/sqrt 2``.
    """
    vy, vx = component_shift(an, dst_centroid, 1.0)
    r = 0.5 ** 0.5
    dirs = [(vy, vx), (-vy, -vx), (vx, -vy), (-vx, vy)]
    dirs += [(r * (a * vy + b * vx), r * (a * vx - b * vy))
             for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
    return dirs[:count]


def shadow_destination(an: Analysis, src_y: np.ndarray, src_x: np.ndarray,
                       src_centroid: tuple[float, float], dst_centroid: tuple[float, float],
                       opts: ShadeOptions, free: np.ndarray, rounding: str = "half-up",
                       ) -> tuple[tuple[float, float], np.ndarray, np.ndarray, np.ndarray] | None:
    """Where a shadow copy goes: ``(shift, dst_y, dst_x, inside)``, or None (skip it).

    The copy of the pixels ``(src_y, src_x)`` is rotated 90° about ``src_centroid`` and
    moved to ``dst_centroid + shift`` (:func:`~fastshade.pipeline.shading.place_component`).
    ``shadow_placement="fixed"``: ``shift`` = ``shadow_distance`` along the void direction at
    ``dst_centroid``.  ``"free"``: the first of :data:`FREE_PUSHES` along the void
    direction, then against it, whose copy has >= :data:`FREE_FRACTION` of its pixels
    inside and ``free`` (bool (H*W,): :func:`free_paper` minus the pixels earlier shadows
    wrote); the one with the most such pixels when none qualifies (first wins ties).
    ``"fit"``: as ``free`` but None when none qualifies; ``"fit-dirs"`` / ``"fit-diag"``
    also try the perpendicular (and diagonal) directions (:func:`_push_directions`);
    ``"fit-whole"``: as ``"fit-diag"`` but the best push is still taken when >=
    :data:`WHOLE_FRACTION` of the copy lands free in one 8-connected piece.
    ``rounding``: of the destinations (:data:`fastshade.pipeline.shading.ROUNDINGS`).
    Deterministic; self and cross share it.
    """
    h, w = an.shape
    if opts.shadow_placement == "fixed":
        shift = component_shift(an, dst_centroid, opts.shadow_distance)
        dy, dx, inside = place_component(src_y, src_x, src_centroid, dst_centroid, (h, w),
                                         quarter_turns=1, shift=shift, rounding=rounding)
        return shift, dy, dx, inside
    d = opts.shadow_distance
    directions = _push_directions(an, dst_centroid, PUSH_DIRECTIONS[opts.shadow_placement])
    best, best_landed, best_n = None, np.zeros(0, dtype=bool), -1
    for uy, ux in directions:
        for f in FREE_PUSHES:
            shift = (f * d * uy, f * d * ux)
            dy, dx, inside = place_component(src_y, src_x, src_centroid, dst_centroid, (h, w),
                                             quarter_turns=1, shift=shift, rounding=rounding)
            landed = inside & free[np.where(inside, dy * w + dx, 0)]
            n_landed = int(np.count_nonzero(landed))
            if n_landed >= FREE_FRACTION * src_y.size:
                return shift, dy, dx, inside
            if n_landed > best_n:  # the first wins ties
                best, best_landed, best_n = (shift, dy, dx, inside), landed, n_landed
    if opts.shadow_placement == "free":
        return best
    if (opts.shadow_placement == "fit-whole" and best is not None
            and best_n >= WHOLE_FRACTION * src_y.size
            and fragments(best[1][best_landed], best[2][best_landed]) == 1):
        return best
    return None
