"""Shade an image in a style, one or more passes: the public :func:`shade` and :func:`shade_arrays`."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fastshade.heap import page_pool
from fastshade.options import ShadeOptions, as_options
from fastshade.pipeline.drawing_checks import drawing_warnings, tone_score
from fastshade.pipeline.inputs import as_rgb_alpha
from fastshade.pipeline.paper import local_range, marks_over_paper, over_white, paper_ink_model
from fastshade.pipeline.resolution import auto_scale
from fastshade.pipeline.results import ShadeResult
from fastshade.pipeline.stagelog import quantised_change
from fastshade.styles.base import PassStep
from fastshade.styles.catalog import resolve_options, style_of
from fastshade.styles.envelope import pass_schedule
from fastshade.threads import limit_threads

THICKEN_STAGE = "thicken"
"""The stage-log name of the thickening: every other logged stage paints placements (v12's
``shadow``; v6's and final's ``shadow`` and ``front`` copies)."""

POOL_MIN_PIXELS = 1 << 20
"""Images of at least this many pixels are shaded with NumPy's big arrays in a page pool
(:func:`fastshade.heap.page_pool`: freed pages reused, not faulted again; the same bytes)."""

POOL_BYTES_PER_PIXEL = 56
"""The page pool's cap per pixel: 1.9 GB at 35 Mpx, where the shading faulted 12 GiB of fresh
pages instead of 35 GiB (system time 28 -> 19 s) with the same peak; a 3 GB cap cut more (9.5 GiB,
12.5 s) but raised the peak by 530 MB (the pool holding freed pages while an array made before
the free was written)."""

PassCallback = Callable[[PassStep, ShadeResult], None]
"""Called after every pass with its step and result (``--save-passes`` writes each pass's image)."""


def shade_arrays(
    target: Any,
    sample: Any = None,
    options: ShadeOptions | dict[str, Any] | None = None,
    *,
    force_cross: bool = False,
    clock: Callable[[], float] = time.perf_counter,
    on_pass: PassCallback | None = None,
    dpi: tuple[float, float] | None = None,
    analyses: bool = True,
) -> ShadeResult:
    """Shade ``target`` (self mode) or ``target`` with ``sample`` (cross mode) in ``options.style``.

    Each of ``options.passes`` passes shades the previous pass's output (the sample, in cross
    mode, stays the same), with the effect of :func:`~fastshade.styles.envelope.pass_schedule`.
    Returns the last pass's :class:`ShadeResult`; its ``stats`` add ``style``, ``envelope`` and
    ``passes`` (one summary per pass), the stage timings are summed over the passes (their
    ``total`` is the whole call, once-per-drawing work included) and
    ``stats["options"]`` are the resolved options (the style's defaults applied).  ``force_cross``
    and ``clock`` as in :func:`fastshade.pipeline.shader.shade_arrays`.  Every style follows
    ``options.scale`` (docs/resolution.md: its lengths x scale, its areas x scale², its smooth
    fields on a grid scale times coarser); ``dpi`` (the input file's, when it has one) decides
    ``scale="auto"`` (:func:`fastshade.pipeline.resolution.auto_scale`), which is measured once,
    on the input, for every pass; ``stats["scale"]`` is the scale used and
    ``stats["scale_source"]`` where it came from.  BLAS/OpenMP run on one
    thread for the duration of the call, so the bytes are the command line's.

    Every style but v12 paints a transparent target composited over white (opaque RGB), and the
    result becomes RGBA again through :func:`~fastshade.pipeline.paper.marks_over_paper`: each
    mark gets its coverage as alpha, every untouched pixel keeps its RGBA exactly.  For every
    style, the per-placement ``written_pixels``/``visible_pixels`` count what changed in the
    pass's output (8-bit), a pass where no placement changed a pixel reports ``placements: []``
    (``invisible_placements``: how many did nothing), and the warnings of
    :func:`~fastshade.pipeline.drawing_checks.drawing_warnings` (once per image, on the input's
    paper/ink model ``stats["paper"]`` and ``stats["tone_score"]``) join ``stats["warnings"]``,
    their codes ``stats["warning_codes"]``.  ``analyses=False``: the caller reads the image and
    the stats only, so the passes may keep less of their analyses (``ShadeResult.target`` and
    ``sample``: v12's target basis is then the thicken budget's energy alone when nothing else
    reads the basis, 64 B a pixel less at k = 8; :attr:`~fastshade.styles.base.PassStep.lean`).
    """
    t_call = clock()
    opts = resolve_options(options)
    style = style_of(opts)
    per_pass: list[dict[str, Any]] = []
    warnings: list[str] = []
    timings: dict[str, float] = {}
    result: ShadeResult | None = None
    stages = StageMerge()
    with limit_threads(), contextlib.ExitStack() as pooled:
        rgb, alpha = as_rgb_alpha(target, "target")  # (validated before the pool reads its size)
        pixels = rgb.shape[0] * rgb.shape[1]
        pooled.enter_context(page_pool(POOL_BYTES_PER_PIXEL * pixels if pixels >= POOL_MIN_PIXELS else 0))
        current = original = rgb if alpha is None else np.concatenate([rgb, alpha[:, :, None]], axis=2)
        seen = over_white(rgb, alpha)
        span = local_range(seen)  # once, for the model's edges and the tone score
        model = paper_ink_model(rgb, alpha, span=span)
        # the tone score now: the local range (and a transparent drawing's copy over white, when
        # no pass paints on it) are not alive through the passes (8-32 B a pixel at their peaks)
        score = tone_score(seen, span)
        del span
        scale_source = "option"
        if opts.scale == "auto":
            value, scale_source = auto_scale(model.ink, dpi)
            opts = dataclasses.replace(opts, scale=value)
        as_paper = alpha is not None and opts.style != "v12"
        drawing = model  # the model of what the styles paint on in pass 1
        if as_paper:
            current = seen  # (over_white(rgb, alpha), formed above)
            drawing = paper_ink_model(current)
        del seen
        memo: dict[str, Any] = {}  # the styles' per-call memo (PassStep.memo)
        for step in pass_schedule(opts.envelope, opts.passes):
            step = dataclasses.replace(step, drawing=drawing, memo=memo, lean=not analyses)
            result = style.paint_pass(current, sample, opts, step, force_cross=force_cross, clock=clock)
            honest_placements(result, current)
            painted = result.image  # over white, when as_paper: the next pass's input
            if as_paper:
                assert alpha is not None
                result = dataclasses.replace(result, image=with_alpha(rgb, alpha, painted))
            stages.add(result)
            per_pass.append(pass_summary(step, result.stats))
            warnings += [w for w in result.stats.get("warnings", []) if w not in warnings]
            for name, sec in result.stats.get("timings", {}).items():
                timings[name] = timings.get(name, 0.0) + sec
            if on_pass is not None:
                on_pass(step, result)
            current = painted
    assert result is not None  # passes >= 1 (validated)
    stats = dict(result.stats)
    stats.update(style=opts.style, envelope=opts.envelope, passes=per_pass, warnings=warnings,
                 options=opts.to_dict(), scale=float(opts.scale), scale_source=scale_source)
    if len(per_pass) > 1:
        stats["timings"] = {k: round(v, 6) for k, v in timings.items()}
    changed = quantised_change(original, result.image)
    stats["changed_pixels"] = int(changed.sum())
    stats["changed_by_stage"] = stages.counts(changed)
    found = drawing_warnings(model, score, stats, opts.style)
    stats.update(paper=model.stats(), tone_score=round(score, 4), warning_codes=[w.code for w in found])
    stats["warnings"] = [w.line for w in found] + warnings
    # the whole call: the passes plus the once-per-drawing work (paper/ink model, warnings,
    # the honest counts), which the passes' own totals leave out
    stats["timings"] = dict(stats.get("timings", {}), total=round(clock() - t_call, 6))
    return dataclasses.replace(result, stats=stats, stage_of=stages.stage_of, stage_names=tuple(stages.names))


def with_alpha(rgb: np.ndarray, alpha: np.ndarray, shaded: np.ndarray) -> np.ndarray:
    """The RGBA image of a style's opaque ``shaded`` composite of the input ``rgb``, ``alpha``."""
    out_rgb, out_alpha = marks_over_paper(rgb, alpha, shaded[:, :, :3])
    return np.ascontiguousarray(np.concatenate([out_rgb, out_alpha[:, :, None]], axis=2))


def honest_placements(result: ShadeResult, before: np.ndarray) -> None:
    """Make ``result.stats["placements"]`` count what changed from ``before`` (8-bit), in place.

    ``written_pixels``: the distinct pixels a placement wrote that differ in the output, last
    changed by a placement stage (any logged stage but :data:`THICKEN_STAGE`, when the style keeps
    a stage log);
    ``visible_pixels``: those it owns last (``result.owner``).  When no placement changed a pixel,
    ``placements`` (and ``components``) become ``[]`` and ``invisible_placements`` says how many
    there were.  Left alone when the style keeps no placement log matching its stats.
    """
    summaries = result.stats.get("placements")
    if not summaries or result.owner is None or len(summaries) != len(result.placements):
        return
    changed = quantised_change(before, result.image).ravel()
    if result.stage_of is not None:  # not thickening's change
        placing = [i for i, name in enumerate(result.stage_names) if name != THICKEN_STAGE]
        changed &= np.isin(result.stage_of.ravel(), placing)
    owner = result.owner.ravel()
    visible = np.bincount(owner[changed & (owner >= 0)], minlength=len(summaries))
    w = result.owner.shape[1]
    for index, (summary, placement) in enumerate(zip(summaries, result.placements)):
        flat = np.unique((placement.dst_y * w + placement.dst_x)[placement.written])
        summary["written_pixels"] = int(np.count_nonzero(changed[flat]))
        summary["visible_pixels"] = int(visible[index])
    if not visible.any():
        result.stats["invisible_placements"] = len(summaries)
        result.stats["placements"] = []
        if "components" in result.stats:
            result.stats["components"] = []


class StageMerge:
    """The last stage, over every pass, that changed each pixel (stage names shared by the passes)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.stage_of: np.ndarray | None = None

    def add(self, result: ShadeResult) -> None:
        """Merge one pass's :class:`~fastshade.pipeline.stagelog.StageLog` result."""
        if result.stage_of is None:
            return
        if self.stage_of is None:
            self.stage_of = np.full(result.stage_of.shape, -1, dtype=np.int8)
        for index, name in enumerate(result.stage_names):
            if name not in self.names:
                self.names.append(name)
            self.stage_of[result.stage_of == index] = self.names.index(name)

    def counts(self, changed: np.ndarray) -> dict[str, int]:
        """Changed pixels per stage; they sum to ``changed.sum()`` (``unattributed``: a changed pixel
        no recorded stage wrote, which a style that logs every stage never has).
        """
        if self.stage_of is None:
            return {"unattributed": int(changed.sum())} if changed.any() else {}
        out = {name: int(np.count_nonzero(changed & (self.stage_of == i))) for i, name in enumerate(self.names)}
        rest = int(np.count_nonzero(changed & (self.stage_of < 0)))
        if rest:
            out["unattributed"] = rest
        return out


def pass_summary(step: PassStep, stats: dict[str, Any]) -> dict[str, Any]:
    """The JSON summary of one pass in ``stats["passes"]``."""
    return {
        "pass": step.index,
        "effect": step.effect,
        "overrides": dict(step.overrides),
        "thickened_pixels": stats.get("thickened_pixels"),
        "placements": len(stats.get("placements", [])),
        "skipped_shadows": stats.get("skipped_shadows"),
        "timings": stats.get("timings", {}),
    }


def shade(target: Any, sample: Any = None, options: ShadeOptions | dict[str, Any] | None = None,
          **overrides: Any) -> tuple[Any, dict[str, Any]]:
    """Apply the spectral shader in a style.

    Parameters
    ----------
    target, sample
        Images: (H,W), (H,W,2) grey+alpha, (H,W,3) or (H,W,4) arrays (uint8 and other integers in
        0..255, uint16 at full 16-bit scale, bool, or float in [0,1]) or paths. ``sample=None`` is
        self mode.
    options
        A :class:`~fastshade.ShadeOptions` or a dict of its fields (``{"style": "v12"}``);
        keyword ``overrides`` replace fields of it (and count as set explicitly).

    Returns
    -------
    image : (H, W, 3) or (H, W, 4) float64 in [0, 1] (alpha carried through)
    stats : JSON-serialisable dict (style, passes, gates, components, placements, basis, timings)
    """
    opts = as_options(options)
    if overrides:
        opts = opts.replace(**overrides)
    res = shade_arrays(target, sample, opts)
    return res.image, res.stats
