"""Style ``v6``: the original's v6 pass (``original-system.md`` §4.1), multi-pass with decay.

Per pass ``p`` with effect ``e`` (:class:`fastshade.pipeline.v6paint.V6Pass`; the default envelope
``decay`` gives ``e = max(0.75^(p-1), 0.05)``): the gate ``sigmoid(10 (f - 0.5))`` of the
min-max-normalised gating field, contours ``|z(grey)| > 1``, black dilation thickening of
``max(int(5 e), 1)`` steps where the gate is open, then every eligible 4-connected stroke segment
(contour ∧ gate < ``max(0.65 - 0.08 (p-1), 0.25)``) copied as a rotated bounding-box patch,
pushed ``30 e`` px along the grey Sobel gradient, as a purple-grey shadow ``int(7 e)`` px
down-right under a dark-green front copy (the cyclic tints, :func:`fastshade.kernels.v6.draw_copies`).

Departures from the original, all documented in ``docs/looks-v6.md``:

* the gating field is fastshade's (the seeded heat random field, or the Krylov column with
  ``--basis krylov``), not the original's 2-vector Lanczos Ritz column;
* copies and thickening never write over an ink pixel of the drawing (the paper/ink model,
  :func:`fastshade.pipeline.paper.paper_ink_model`, of the first pass's input, which the runner
  hands every pass: :meth:`~fastshade.styles.base.PassStep.drawing_ink`; the marks of earlier passes are
  this style's, not the drawing's, and later copies land on them as the original's did); the
  original's copies overwrote 4.7 % of
  toof's ink after one pass, and its thickening painted black over coloured fills that are not
  contours (offhand_pleometric's purple body).  ``ink_guard=0`` (``--ink-guard 0``) turns the
  guard off, as in the ``final`` style: thickening and copies then land on ink as the original's
  did (red-tonegraph's filled squares are copied onto themselves and re-tinted); any other value
  keeps the guard (the threshold itself is v12's and is not read here);
* no cross mode: the original v6 shades one image, so a sample is refused (one-line ``ValueError``).

Stages (``stats["changed_by_stage"]``): ``thicken``, ``shadow``, ``front``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fastshade.options import ShadeOptions
from fastshade.pipeline.gates import carrier_of
from fastshade.pipeline.inputs import as_rgb_alpha
from fastshade.pipeline.results import ShadeResult, Timer
from fastshade.pipeline.shader import drawing_scale
from fastshade.pipeline.stagelog import StageLog
from fastshade.pipeline.v6paint import (
    WRITE_FRONT,
    WRITE_SHADOW,
    V6Pass,
    draw_segments,
    select_segments,
    sobel_gradient,
    thicken_v6,
    v6_contours,
    v6_field,
    v6_gate,
)
from fastshade.spectral import SpectralBasis
from fastshade.styles.base import PassStep, Style

FIELD_SMOOTHING = 10.0
"""v6's heat-field smoothing (v12: 15): measured on toof, it gives the original's segment count and
thickening at pass 1 (27 segments and 769 thickened px; the original 22 and ~880), docs/looks-v6.md."""
NO_CROSS = "style v6 has no cross mode (the original v6 shades one image); drop the sample or use --style v12"


def paint_pass(target: Any, sample: Any, opts: ShadeOptions, step: PassStep, *,
               force_cross: bool, clock: Callable[[], float]) -> ShadeResult:
    """One v6 pass of ``target`` at ``step`` (its index and effect); a sample is refused."""
    if sample is not None or force_cross:
        raise ValueError(NO_CROSS)
    timer = Timer(clock)
    t_total = clock()
    rgb, alpha = as_rgb_alpha(target, "target")
    h, w = rgb.shape[:2]
    params = V6Pass(step.index, step.effect, drawing_scale(rgb, opts))
    with timer.stage("fields"):
        grey = carrier_of(rgb)
        contours = v6_contours(grey)
    out = rgb.copy()
    log = StageLog(rgb)
    writer = np.full((h, w), -1, dtype=np.int8)
    info: dict[str, Any] = {"segments": [], "thickened": 0, "high": 0, "low": 0, "fallback": False,
                            "components": 0}
    basis: SpectralBasis | None = None
    if contours.any() and h * w >= 4:
        field, basis = v6_field(grey, opts, timer, params.scale)
        with timer.stage("gates"):
            gate = v6_gate(field)
            guard = step.drawing_ink(rgb, alpha) if opts.ink_guard > 0.0 else None
            grad = sobel_gradient(grey)
        with timer.stage("thicken"):
            thick = thicken_v6(out, rgb, contours, gate, params.thickness, guard, params.search_margin)
        log.record("thicken", out)
        with timer.stage("components"):  # the segments are cut from the thickened image's contours
            segs = select_segments(v6_contours(carrier_of(out)), gate, params.gate_threshold,
                                   params.max_segments, params.min_segment_pixels)
        with timer.stage("shadow"):
            info["segments"] = draw_segments(out, segs, grad, params, guard, writer)
        info.update(thickened=int(thick.sum()), high=int(np.count_nonzero(contours & (gate > 0.5))),
                    low=int(segs.eligible.sum()), fallback=segs.fallback, components=int(segs.components.n))
    else:  # blank, flat or degenerate: nothing to gate, the pass returns its input
        log.record("thicken", out)
    stage_of, names = _stages(log, writer)
    if alpha is None:
        image = out
    else:  # a mark on transparent paper shows: written pixels become opaque
        a = alpha.copy()
        a[stage_of >= 0] = 1.0
        image = np.concatenate([out, a[:, :, None]], axis=2)
    timer.seconds["total"] = clock() - t_total
    stats: dict[str, Any] = {
        "mode": "self",
        "shape": [int(h), int(w)],
        "contour_pixels": int(contours.sum()),
        "high_gate_pixels": info["high"],
        "low_gate_pixels": info["low"],
        "thickened_pixels": info["thickened"],
        "skipped_shadows": 0,
        "ink_guard": opts.ink_guard > 0.0,
        "v6": {"pass": step.index, "effect": step.effect, "thickness": params.thickness,
               "gate_threshold": params.gate_threshold, "max_segments": params.max_segments,
               "push": params.push, "shadow_offset": params.shadow_offset,
               "median_fallback": info["fallback"], "eligible_components": info["components"]},
        "components": [s["pixels"] for s in info["segments"]],
        "placements": info["segments"],
        "basis": _basis_stats(basis, opts),
        "timings": {k: round(v, 6) for k, v in timer.seconds.items()},
        "options": opts.to_dict(),
        "warnings": [],
    }
    return ShadeResult(np.ascontiguousarray(image), stats, stage_of=stage_of, stage_names=names)


def _stages(log: StageLog, writer: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """The pass's last-changer map: the thickening from ``log``, the copies from ``writer``."""
    names = list(log.names)
    stage_of = log.stage_of.copy()
    for code, name in ((WRITE_SHADOW, "shadow"), (WRITE_FRONT, "front")):
        names.append(name)
        stage_of[writer == code] = len(names) - 1
    return stage_of, tuple(names)


def _basis_stats(basis: SpectralBasis | None, opts: ShadeOptions) -> dict[str, Any]:
    if basis is None:
        return {"method": "none", "requested": opts.basis,
                "reason": "v6 reads the gating field only: the heat random field needs no eigensolve"}
    return {"method": basis.method, "requested": opts.basis, "k": basis.k,
            "field": "column", "field_column": int(opts.field_column),
            "values": [float(v) for v in basis.values], "info": basis.info}


STYLE = Style(
    name="v6",
    description="the original's v6 pass: blocky black thickening and rotated stroke copies as a "
                "purple-grey shadow under a dark-green front, decaying over the passes",
    envelope="decay",
    paint_pass=paint_pass,
    defaults={"field_smoothing": FIELD_SMOOTHING},
)
"""The ``v6`` style."""
