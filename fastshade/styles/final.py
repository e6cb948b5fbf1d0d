"""Style ``final``: the original's final pipeline (``original-system.md`` §5.3–5.5).

Per pass, on the pass's input: the gating field f (fastshade's: the seeded heat random field by
default, the Krylov column with ``--basis krylov``), its 40th percentile q, the contours
``|z(grey)| > 1``, then

* the complexity-modulated resampling thickener (high-gate contours ``f > q`` dilated by
  resampling neighbours, :func:`fastshade.pipeline.finalpaint.thicken_resample`);
* self mode: the re-tinting shadow with the cyclic shadow and front colours
  (:func:`~fastshade.pipeline.finalpaint.retint_shadow`), moved to the paper side of the
  contours (below); cross mode: segment transplants from the sample with signature matching,
  front over shadow, under the mask ``f_A ≥ q_A`` (:mod:`fastshade.pipeline.transplant`).

Envelope ``adsr`` (the default, the original's demo): effect 1 on every pass, the per-pass
dilation radius, kernel sigma ratio, fill threshold and thicken modulation from
``PassStep.overrides``.  ``decay``/``flat``: effect ``PassStep.effect`` and the ``main`` column of
§5.5 (2, 0.6, 0.1, 0.3).  Option default: ``field_smoothing`` 60 (:data:`FIELD_SMOOTHING`).
Constants of the demo: gate sharpness 10, T = 15, S = 5, segments of at
least 25 pixels, at most 40 (the sample's: 80).

Departures from the original, all deliberate:

* **Ink guard.** No stage writes on an ink pixel of the drawing (the paper/ink model of the
  first pass's input, :mod:`fastshade.pipeline.paper`, which the runner hands every pass:
  :meth:`~fastshade.styles.base.PassStep.drawing_ink`).  The original's self-mode shadow
  re-tints the contour pixels themselves
  (black ink turns teal); here each re-tint weight ``λ`` of an inked contour pixel is moved onto
  the paper pixels touching it (:func:`~fastshade.pipeline.finalpaint.paper_side`), so the
  strokes keep their ink and gain a rim of the same colours; earlier passes' marks are
  re-tinted in place, as in the original.
  ``ink_guard=0`` (``--ink-guard 0``) turns the guard off: the strokes themselves are re-tinted
  and transplants may cover ink, as in the original (any other value keeps the guard; the
  threshold itself is v12's and is not read here).
* **Labelling.** Exact 4-connected components instead of the unconverged pointer jumping.
* **Scatter.** Transplanted points outside the image are dropped, not clamped onto the border.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastshade.options import ShadeOptions
from fastshade.pipeline.finalpaint import final_contours, paper_side, retint_shadow, retint_weight, thicken_resample
from fastshade.pipeline.inputs import as_rgb_alpha
from fastshade.pipeline.paper import EDGE_REACH, colour_edges, paper_ink_model, stroke_mask
from fastshade.pipeline.resolution import scaled_area
from fastshade.pipeline.results import Analysis, ShadeResult, Timer
from fastshade.pipeline.shader import analyse_at_scale, drawing_scale
from fastshade.pipeline.stagelog import StageLog, channels_differ
from fastshade.pipeline.transplant import Segments, extract_segments, paint_transplants
from fastshade.styles.base import PassStep, Style

PERCENTILE = 0.40
"""The gate threshold q is this quantile of the field (linear interpolation)."""
GATE_SHARPNESS = 10.0
"""s of the gate ``σ(s (f − q))`` (target and sample)."""
TRANSLATION = 15.0
"""T: the front offset is ``(0.3 T e, 0.4 T e)`` (self) or ``(0.5 T e, 0.7 T e)`` (cross), (x, y)."""
SHADOW_OFFSET = 5.0
"""S: the shadow sample distance (self) or the shadow's extra ``(S e, S e)`` (cross)."""
MIN_SEGMENT_PIXELS = 25
MIN_WEIGHT = 10.0
"""The self-mode shadow is drawn when its weights sum to at least this (px, x scale²)."""
MAX_SEGMENTS = 40
"""Segments of the target (the sample gets twice as many)."""
FIELD_SMOOTHING = 60.0
"""The style's heat-field smoothing ``alpha*T`` (v12's default is 15): low-gate pieces then run
~30-50 px along a stroke, as the original's tile-constant field gives them (toof x snek-heavy: its
transplants are long thin strokes, not blobs; docs/looks-final.md).  ``--field-smoothing`` wins."""
MAIN_PASS = {"dilation_radius": 2, "kernel_sigma_ratio": 0.6, "fill_threshold": 0.1, "thicken_modulation": 0.3}
"""The per-pass thickener values outside the ADSR table (§5.5, ``main``)."""


def pass_parameters(step: PassStep) -> tuple[float, dict[str, float]]:
    """``(effect, thickener values)`` of a pass: ADSR rows run at effect 1 (the original's demo)."""
    if step.overrides:
        return 1.0, {k: float(step.overrides[k]) for k in MAIN_PASS}
    return float(step.effect), {k: float(v) for k, v in MAIN_PASS.items()}


@dataclass(frozen=True)
class FieldView:
    """What the final pipeline reads of one image: its field, threshold, gate and contours."""

    rgb: np.ndarray
    analysis: Analysis
    contours: np.ndarray
    q: float

    @property
    def field(self) -> np.ndarray:
        """The gating field f."""
        return self.analysis.field

    @property
    def gate(self) -> np.ndarray:
        """``σ(s (f − q))``."""
        return 1.0 / (1.0 + np.exp(-GATE_SHARPNESS * (self.field - self.q)))


def field_view(rgb: np.ndarray, opts: ShadeOptions, timer: Timer, scale: float = 1.0) -> FieldView:
    """The gating field of ``rgb`` (no thicken or void directions; the basis only if the field reads
    it), on a grid ``scale`` times coarser above scale 1 (docs/resolution.md).
    """
    an = analyse_at_scale(rgb, opts, scale, timer, directions=False, with_basis=False)
    with timer.stage("gates"):
        contours = final_contours(rgb)
        q = float(np.quantile(an.field, PERCENTILE)) if an.field.size else 0.0
    return FieldView(rgb, an, contours, q)


class SampleCache:
    """The sample's field and segments, computed once per distinct sample and options.

    The original's AR wrapper computes B's field once for all passes; the runner calls a style
    once per pass, so the last few samples are kept here, keyed by their bytes and the options.
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._items: dict[tuple[Any, ...], tuple[FieldView, Segments]] = {}

    def get(self, rgb: np.ndarray, opts: ShadeOptions, timer: Timer,
            scale: float = 1.0) -> tuple[FieldView, Segments]:
        """The cached ``(FieldView, Segments)`` of ``rgb`` at ``scale``, computing them on a miss."""
        key = (hashlib.blake2b(np.ascontiguousarray(rgb).tobytes(), digest_size=16).hexdigest(),
               rgb.shape, tuple(sorted(opts.to_dict().items(), key=lambda kv: kv[0])).__repr__(), scale)
        if key not in self._items:
            view = field_view(rgb, opts, timer, scale)
            # issue 20: a sample's candidates are its strokes (ink near paper or a colour edge),
            # never the inside of its fills (pipeline.paper.PaperInk.strokes)
            model = paper_ink_model(rgb)
            strokes = model.strokes if scale == 1.0 else stroke_mask(model.ink, EDGE_REACH * scale, colour_edges(rgb))
            segs = extract_segments(view.contours & strokes, view.field, view.q, view.gate,
                                    min_pixels=scaled_area(MIN_SEGMENT_PIXELS, scale), max_segments=2 * MAX_SEGMENTS)
            while len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = (view, segs)
        return self._items[key]


SAMPLES = SampleCache()


def basis_stats(analysis: Analysis, opts: ShadeOptions) -> dict[str, Any]:
    """``stats["basis"]``: the final style reads only the gating field, so a basis exists only
    when the field is one of its columns (``--field column``, ``--basis krylov``).
    """
    basis = analysis.basis
    if basis is None:
        return {"method": "none", "requested": opts.basis,
                "reason": "the final style reads only the gating field (the heat random field)"}
    return {"method": basis.method, "requested": opts.basis, "k": basis.k,
            "field": "column", "values": [float(v) for v in basis.values]}




def paint_pass(target: Any, sample: Any, opts: ShadeOptions, step: PassStep, *,
               force_cross: bool, clock: Callable[[], float] = time.perf_counter) -> ShadeResult:
    """One pass of the final pipeline on ``target`` (with ``sample`` in cross mode), its lengths
    times the drawing's scale (``opts.scale``, docs/resolution.md).
    """
    timer = Timer(clock)
    t_total = clock()
    rgb, alpha = as_rgb_alpha(target, "target")
    cross = sample is not None or force_cross
    effect, thick = pass_parameters(step)
    scale = drawing_scale(rgb, opts)
    min_pixels = scaled_area(MIN_SEGMENT_PIXELS, scale)
    guard = opts.ink_guard > 0.0
    with timer.stage("paper"):
        ink = step.drawing_ink(rgb, alpha) if guard else np.zeros(rgb.shape[:2], dtype=bool)
    view = field_view(rgb, opts, timer, scale)
    out = rgb.copy()
    log = StageLog(rgb)
    with timer.stage("thicken"):
        fill = thicken_resample(out, view.field, view.q, view.contours, ink,
                                radius=max(1, int(thick["dilation_radius"] * effect * scale)),
                                sigma_ratio=thick["kernel_sigma_ratio"],
                                fill_threshold=thick["fill_threshold"], modulation=thick["thicken_modulation"],
                                scale=scale)
    log.record("thicken", out)
    placements: list = []
    retinted = 0
    segments = 0
    if cross:
        with timer.stage("transplant"):
            if sample is None:
                sample_rgb = rgb
                sample_view = view
                sample_segs = extract_segments(view.contours, view.field, view.q, view.gate,
                                               min_pixels=min_pixels, max_segments=2 * MAX_SEGMENTS)
            else:
                sample_rgb, _ = as_rgb_alpha(sample, "sample")
                sample_view, sample_segs = SAMPLES.get(sample_rgb, opts, timer, scale)
            target_segs = extract_segments(view.contours, view.field, view.q, view.gate,
                                           min_pixels=min_pixels, max_segments=MAX_SEGMENTS)
            segments = target_segs.n
            allowed = (view.field >= view.q) & ~ink  # the underpaint mask, minus the ink
            placements = paint_transplants(out, target_segs, sample_segs, sample_view.rgb, allowed,
                                           effect=effect, translation=TRANSLATION * scale,
                                           shadow_offset=SHADOW_OFFSET * scale, log=log)
    else:
        with timer.stage("shadow"):
            weight = retint_weight(view.field, view.q, view.contours, GATE_SHARPNESS)
            if guard:
                weight = paper_side(weight, ink, scale)
                weight[channels_differ(out, rgb)] = 0.0  # this pass's thickening: not a contour yet
            retinted = retint_shadow(out, view.field, weight, effect=effect, shadow_offset=SHADOW_OFFSET * scale,
                                     translation=TRANSLATION * scale, min_weight=MIN_WEIGHT * scale * scale,
                                     log=log)
    h, w = rgb.shape[:2]
    owner = np.full(h * w, -1, dtype=np.int32)
    for idx, p in enumerate(placements):
        owner[(p.dst_y * w + p.dst_x)[p.written]] = idx
    visible = [int(np.count_nonzero(owner[(p.dst_y * w + p.dst_x)[p.written]] == i))
               for i, p in enumerate(placements)]
    image = out if alpha is None else np.concatenate([out, alpha[:, :, None]], axis=2)
    timer.seconds["total"] = clock() - t_total
    stats: dict[str, Any] = {
        "mode": "cross" if cross else "self",
        "shape": [int(h), int(w)],
        "contour_pixels": int(view.contours.sum()),
        "high_gate_pixels": int(np.count_nonzero(view.contours & (view.field > view.q))),
        "low_gate_pixels": int(np.count_nonzero(view.contours & (view.field < view.q))),
        "field_threshold": view.q,
        "effect": effect,
        "thicken": {k: thick[k] for k in MAIN_PASS},
        "thickened_pixels": int(fill.sum()),
        "retinted_pixels": retinted,
        "ink_guard": guard,
        "segments": segments,
        "skipped_shadows": 0,
        "placements": [dict(p.summary(), visible_pixels=v) for p, v in zip(placements, visible)],
        "timings": {k: round(v, 6) for k, v in timer.seconds.items()},
        "basis": basis_stats(view.analysis, opts),
        "options": opts.to_dict(),
        "warnings": [],
    }
    if cross:
        stats["sample_segments"] = int(sample_segs.n)
        stats["cross"] = {"matched_sources": sorted({p.source_component for p in placements})}
    return ShadeResult(np.ascontiguousarray(image), stats, placements, view.analysis,
                       sample_view.analysis if cross else None, owner.reshape(h, w),
                       log.stage_of, tuple(log.names))


STYLE = Style(
    name="final",
    description="the original's final pipeline: resampling thickening, cyclic-tinted shadow rims "
                "(self) or rotated segment transplants under an underpaint mask (cross), 4-pass ADSR",
    envelope="adsr",
    paint_pass=paint_pass,
    defaults={"field_smoothing": FIELD_SMOOTHING},
)
