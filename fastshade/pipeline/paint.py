"""The two painting stages of self mode: thickening and the self shadow."""

from __future__ import annotations

import numpy as np

from fastshade.options import ShadeOptions
from fastshade.pipeline.placement import free_paper, shadow_destination
from fastshade.pipeline.results import Analysis, Placement
from fastshade.pipeline.shading import (
    basis_budget,
    gated_copy,
    hue_rotate,
    perpendicular_scatter,
)


def thicken(an: Analysis, opts: ShadeOptions) -> tuple[np.ndarray, np.ndarray]:
    """Perpendicular scatter of the high-gate pixels; returns (image, written mask).

    The reach of a source follows the budget of the original (``original-system.md`` §3.5):
    the basis energy normalised over the high-gate sources, not over the whole image.
    """
    h, w = an.shape
    sources = np.flatnonzero(an.high.ravel())
    if (an.basis is None and an.basis_energy is None) or sources.size == 0 or opts.thick_radius == 0:
        return an.rgb.copy(), np.zeros((h, w), dtype=bool)
    budget = basis_budget(an.basis, an.basis_energy, opts.thick_radius, opts.budget_attenuation,
                          sources).reshape(h, w)
    return perpendicular_scatter(an.rgb, sources, an.perp_y, an.perp_x, budget,
                                 an.contours, opts.thick_radius)


def shadow_self(out: np.ndarray, an: Analysis, opts: ShadeOptions, *,
                rounding: str = "half-up") -> list[Placement]:
    """Paint the v6-style self shadow into ``out`` (in place); return the placements.

    Each low-gate component, rotated 90° about its centroid, pushed along the void
    direction (:func:`shadow_destination`, destinations rounded by ``rounding``),
    hue-rotated, painted only on paper.
    """
    h, w = an.shape
    comps = an.components
    placements: list[Placement] = []
    free = free_paper(an, opts)
    for i in range(comps.n):
        src = comps.pixels_of(i)
        sy, sx = np.divmod(src, w)
        cy, cx = float(comps.centroids[i, 0]), float(comps.centroids[i, 1])
        colours = hue_rotate(out.reshape(-1, 3)[src], opts.hue_angle)
        dest = shadow_destination(an, sy, sx, (cy, cx), (cy, cx), opts, free, rounding)
        if dest is None:
            continue
        shift, dy, dx, inside = dest
        written = gated_copy(out, colours, dy, dx, inside, an.carrier, opts.ink_guard)
        free[(dy * w + dx)[written]] = False
        placements.append(Placement(
            target_component=i, source_component=i, source_flat=src,
            dst_flat=(dy * w + dx)[inside], attempted=inside, kept=inside.copy(), written=written,
            dst_y=dy, dst_x=dx, centroid=(cy, cx), shift=shift,
        ))
    return placements
