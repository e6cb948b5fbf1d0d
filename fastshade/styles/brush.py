"""Style ``brush`` (the default): line weight and swung shadows, in colours of the drawing's own.

The spectral gates keep their roles.  High-gate strokes gain weight: they grow across their
direction by the basis-energy budget smoothed along the stroke, heavier on the side away from
the light, never into a paper gap narrower than the reach (:mod:`fastshade.pipeline.weight`).
Low-gate segments cast shadows: each is swung about one end, and the wedge it sweeps is shaded
in a light tone with the swung copy as a deep-toned edge (:mod:`fastshade.pipeline.castshadow`),
in a palette derived from the ink and paper (:mod:`fastshade.pipeline.palette`, ``--palette``).
Every mark goes on paper, under the artist's ink, which is never overwritten; pieces too small
to read as marks are dropped.  Later passes re-analyse the image (its Laplacian, a gating field
of their own, gates and segments) and recognise the earlier marks by their palette colours, so
they add weight and shadows to the strokes only (``decay`` envelope: each pass lighter than the
last); the line weight's budget stays the drawing's (pass 1's basis, which only the budget
reads: a later pass tops the strokes up to it, and costs about half of pass 1).  In cross mode
the sample gives the shadows' hue (its ink's, when it has one: the handoff's fix A, "copy target
structure, colour from sample").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from fastshade.options import ShadeOptions
from fastshade.pipeline.brush import MIN_PIECE, drop_small, shadow_stage, weight_stage
from fastshade.pipeline.fields import field_kind
from fastshade.pipeline.inkgates import InkAnalysis, ink_analysis, ink_colour
from fastshade.pipeline.inputs import as_rgb_alpha
from fastshade.pipeline.resolution import scaled_area, scaled_lengths
from fastshade.pipeline.results import ShadeResult, Timer
from fastshade.pipeline.shader import basis_use, basis_warnings, drawing_scale
from fastshade.pipeline.stagelog import StageLog, channels_differ
from fastshade.styles.base import PassStep, Style

DEFAULTS: dict[str, Any] = {"min_component": 20, "shadow_distance": 14.0}
"""``min_component``: the shortest low-gate segment that casts a shadow (px);
``shadow_distance``: how far (px) the far end of the lowest-field segment swings."""


DRAWING_BASIS = "brush.basis"
"""``PassStep.memo`` key of pass 1's basis, which later passes read for the line weight's budget."""


def reads_budget_only(opts: ShadeOptions) -> bool:
    """Whether only the line weight's budget reads the LOBPCG basis (not the gating field:
    :func:`~fastshade.pipeline.shader.basis_use`; brush's cross mode reads only the sample's hue).
    """
    return opts.basis == "lobpcg" and basis_use(opts) is None


def paint_pass(target: Any, sample: Any, opts: ShadeOptions, step: PassStep, *,
               force_cross: bool, clock: Callable[[], float]) -> ShadeResult:
    """One brush pass of ``target``, lengths scaled by ``step.effect`` and by the drawing's scale
    (``opts.scale``, docs/resolution.md: lengths x scale, areas x scale², the field and the basis
    on a grid ``scale`` times coarser).
    """
    timer = Timer(clock)
    t_total = clock()
    rgb, alpha = as_rgb_alpha(target, "target")
    cross = sample is not None or force_cross
    scale = drawing_scale(rgb, opts)
    opts = scaled_lengths(opts, scale)
    # each pass draws its own gating field, so a later pass weights and shades other segments
    pass_opts = opts if step.index == 1 else dataclasses.replace(opts, seed=opts.seed + step.index - 1)
    # and later, lighter passes cast shadows from longer segments only
    hue_source = None
    if sample is not None:  # cross mode: the marks take the sample's ink hue
        with timer.stage("sample_fields"):
            hue_source = ink_colour(*as_rgb_alpha(sample, "sample"))
    # the line weight's budget is the drawing's: a later pass reads pass 1's basis (when only
    # the budget reads it: the heat field) and tops the strokes up to it
    drawing_basis = step.memo.get(DRAWING_BASIS) if reads_budget_only(opts) else None
    an = ink_analysis(rgb, alpha, pass_opts, timer, opts.palette,
                      min_segment=int(np.ceil(opts.min_component / max(step.effect, 0.05))),
                      hue_source=hue_source, scale=scale, drawing=step.drawing,
                      drawing_is_input=step.drawing_is_input, basis=drawing_basis)
    if step.index == 1 and an.basis is not None:
        step.memo[DRAWING_BASIS] = an.basis
    out = rgb.copy()
    log = StageLog(rgb)
    with timer.stage("thicken"):
        added, colours = weight_stage(an, opts.thick_radius, opts.budget_attenuation, step.effect,
                                       later=step.index > 1, scale=scale)
    with timer.stage("shadow"):
        fill, edge, swings, owner = shadow_stage(an, opts.shadow_distance, step.effect, added, scale)
        grown = added  # (the pixels `colours` lists, in row-major order)
        added, fill, edge = drop_small([added, fill, edge], scaled_area(MIN_PIECE, scale))
        out[fill] = an.palette.fill
        out[edge] = an.palette.edge
    log.record("shadow", out)
    # what each swing changed in the pass's output (its pixels are its own: the swings' masks are
    # painted once, each pixel owned by the last swing over it)
    shadow_changed = (log.stage_of == log.names.index("shadow")) & ~added
    pixels = np.bincount(owner[shadow_changed & (owner >= 0)], minlength=len(swings))
    out[added] = colours[added[grown]]  # the colours of the added pixels drop_small kept
    log.record("thicken", out)
    image = out
    if alpha is not None:  # marks on transparent paper are opaque (where they changed the colour)
        painted = channels_differ(out, rgb)
        image = np.concatenate([out, np.where(painted, 1.0, alpha)[:, :, None]], axis=2)
    timer.seconds["total"] = clock() - t_total
    stats = pass_stats(an, added, swings, timer, opts, cross)
    if an.basis is not None:  # the pass that solved the basis this one read
        stats["basis"]["solved_in_pass"] = 1 if an.basis is drawing_basis else step.index
    stats["placements"] = [dict(p, written_pixels=int(n), visible_pixels=int(n))
                           for p, n in zip(stats["placements"], pixels)]
    return ShadeResult(np.ascontiguousarray(image), stats, [], None, None, None,
                       log.stage_of, tuple(log.names))


def pass_stats(an: InkAnalysis, added: np.ndarray, swings: list, timer: Timer, opts: ShadeOptions,
               cross: bool) -> dict[str, Any]:
    """The JSON stats of one pass (the keys the drivers read, as v12's)."""
    h, w = an.shape
    basis: dict[str, Any] = {"method": "none", "reason": "no ink", "requested": opts.basis}
    if an.basis is not None:
        use = basis_use(opts)
        purpose = (f"eigenvectors, read by {use}: the subspace contract is checked" if use else
                   "thicken budget only (the line weight's reach): the subspace contract is not checked")
        basis = {"method": an.basis.method, "requested": opts.basis, "k": an.basis.k,
                 "field": field_kind(opts), "purpose": purpose, "values": [float(v) for v in an.basis.values],
                 "info": an.basis.info}
    return {
        "mode": "cross" if cross else "self",
        "shape": [int(h), int(w)],
        "contour_pixels": int(an.strokes.sum()),
        "high_gate_pixels": int(an.high.sum()),
        "low_gate_pixels": int(an.low.sum()),
        "thickened_pixels": int(added.sum()),
        "skipped_shadows": 0,
        "components": [int(s) for s in an.components.sizes],
        "placements": [s.summary() for s in swings],
        "paper": an.model.stats(),
        "palette": an.palette.stats(),
        "basis": basis,
        "timings": {k: round(v, 6) for k, v in timer.seconds.items()},
        "options": opts.to_dict(),
        "warnings": basis_warnings(an.basis, None, opts),
    }


STYLE = Style(
    name="brush",
    description="fastshade's own look (the default): high-gate strokes gain a smooth line weight, "
                "low-gate segments cast swung shadows in a palette of the drawing's own, all under the ink",
    envelope="decay",
    paint_pass=paint_pass,
    defaults=DEFAULTS,
)
