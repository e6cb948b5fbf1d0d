"""Run self mode and every cross strategy on one (target, sample) pair, sharing one analysis."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fastshade.diagnose.affinity import affinity_stats, cross_affinities, self_affinities
from fastshade.diagnose.results import Diagnosis, RunRecord, jsonable
from fastshade.diagnose.strategies import BASELINE, CROSS_FIELDS, config_label, preset_strategies
from fastshade.options import ShadeOptions
from fastshade.pipeline.cross import shadow_cross
from fastshade.pipeline.metrics import goal_check, owner_map, parity, result_metrics
from fastshade.pipeline.paint import shadow_self, thicken
from fastshade.pipeline.results import Analysis, Placement, ShadeResult
from fastshade.pipeline.shader import analyse
from fastshade.pipeline.shading import ROUNDINGS

__all__ = ["diagnose_arrays"]


def _parity_reasons(self_m: dict[str, Any], cross_m: dict[str, Any], info: dict[str, Any]) -> list[str]:
    """Plain-language causes of a parity gap (derived from the placement logs)."""
    reasons = []
    rs, rc = self_m["placements"], cross_m["placements"]
    if info.get("active_components", len(rs)) < len(rs):
        reasons.append(f"gate-only activated {info['active_components']} of {len(rs)} target components")
    other = sum(1 for r in rc if r["source_component"] != r["target_component"])
    if other:
        reasons.append(f"{other} of {len(rc)} placements matched another component than themselves "
                       f"(score {info.get('score')})")
    dropped = sum(r["attempted_pixels"] - r["kept_pixels"] for r in rc)
    if dropped:
        reasons.append(f"affinity gate '{info.get('affinity_threshold')}' dropped {dropped} pixels self keeps")
    if not reasons:
        reasons.append("placements differ (geometry or order)")
    return reasons


def _run_one(label: str, opts: ShadeOptions, thick: np.ndarray, an_t: Analysis, an_s: Analysis,
             keep_image: bool, rounding: str) -> tuple[RunRecord, list[Placement]]:
    """Cross shadows of ``opts`` painted over ``thick``, measured; the image kept if ``keep_image``."""
    out = thick.copy()
    t0 = time.perf_counter()
    placements, info = shadow_cross(out, an_t, an_s, opts, rounding=rounding)
    owner = owner_map(placements, an_t.shape)
    res = ShadeResult(out, {}, placements, an_t, an_s, owner)
    metrics = result_metrics(res)
    seconds = time.perf_counter() - t0
    rec = RunRecord(label, opts, metrics, info, out if keep_image else None,
                    owner if keep_image else None, seconds)
    return rec, placements


def diagnose_arrays(
    target: np.ndarray,
    sample: np.ndarray | None,
    options: ShadeOptions | None = None,
    strategies: Sequence[tuple[str, ShadeOptions]] | None = None,
    *,
    grid: Sequence[tuple[str, ShadeOptions]] = (),
    analyses: tuple[Analysis, Analysis | None] | None = None,
    records: bool = True,
    rounding: str = "half-up",
    progress: bool = False,
) -> Diagnosis:
    """Self mode plus every strategy on one (target, sample) pair, one shared analysis.

    Parameters
    ----------
    target, sample : (H, W, 3) float64 RGB in [0, 1]
        ``sample=None`` (or an identical image) runs the cross path with the target as
        its own sample and reports exact parity with self mode for every strategy.
    options : ShadeOptions
        Analysis options (basis, gates, ...); the cross toggles come from ``strategies``.
    strategies : list of (label, ShadeOptions)
        Default :func:`preset_strategies` of ``options``.  Kept with images for the
        contact sheet.
    grid : list of (label, ShadeOptions)
        Extra runs reported in ``report["grid"]`` (summaries only, no images).
    analyses : (Analysis, Analysis or None)
        Precomputed target and sample analyses (the study reuses them).
    records : bool
        Include the per-placement records in the report.
    rounding : str
        ``half-up`` (the pipeline) or ``half-even`` (the original's rounding,
        passed to every shadow placement).

    Returns
    -------
    Diagnosis
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    return _diagnose(target, sample, options, strategies, grid, analyses, records, rounding, progress)


def _diagnose(target: np.ndarray, sample: np.ndarray | None, options: ShadeOptions | None,
              strategies: Sequence[tuple[str, ShadeOptions]] | None, grid: Sequence[tuple[str, ShadeOptions]],
              analyses: tuple[Analysis, Analysis | None] | None, records: bool, rounding: str,
              progress: bool) -> Diagnosis:
    """:func:`diagnose_arrays` after its arguments were checked."""
    opts = options or ShadeOptions(style="v12")
    strategies = list(strategies) if strategies is not None else preset_strategies(opts)
    same = sample is None or (sample.shape == target.shape and bool(np.array_equal(sample, target)))
    t0 = time.perf_counter()
    if analyses is not None:
        an_t, an_s = analyses
        an_s = an_t if (same or an_s is None) else an_s
    else:
        an_t = analyse(target, opts)
        an_s = an_t if same else analyse(sample, opts)
    t_analyse = time.perf_counter() - t0
    thick, _ = thicken(an_t, opts)

    out = thick.copy()
    placements = shadow_self(out, an_t, opts, rounding=rounding)
    owner = owner_map(placements, an_t.shape)
    self_metrics = result_metrics(ShadeResult(out, {}, placements, an_t, None, owner))
    self_run = RunRecord("self", None, self_metrics, {"strategy": "self"}, out, owner)
    aff_self, keep_self = self_affinities(an_t, placements)
    self_summary = self_metrics["summary"]

    base_opts = opts.replace(**BASELINE)
    _, base_placements = _run_one("baseline", base_opts, thick, an_t, an_s, False, rounding)
    aff_cross, keep_cross = cross_affinities(base_placements)

    def entry(rec: RunRecord) -> dict[str, Any]:
        e: dict[str, Any] = {
            "label": rec.label,
            "config": config_label(rec.options) if rec.options else "self",
            "options": {k: getattr(rec.options, k) for k in CROSS_FIELDS} if rec.options else None,
            "info": rec.info,
            "summary": rec.metrics["summary"],
            "goal": goal_check(rec.metrics["summary"], self_summary),
            "seconds": round(rec.seconds, 4),
        }
        if rec.image is not None and self_run.image is not None:
            diff = np.any(np.abs(rec.image - self_run.image) > 1.0 / 255.0, axis=2)
            e["pixels_differing_from_self"] = int(diff.sum())
        if same:
            par = parity(self_metrics, rec.metrics)
            if not par["exact"]:
                par["reasons"] = _parity_reasons(self_metrics, rec.metrics, rec.info)
            e["parity"] = par
        if records:
            e["placements"] = rec.metrics["placements"]
        return e

    runs: list[RunRecord] = []
    bar = _progress(len(strategies) + len(grid), progress)
    for label, sopts in strategies:
        rec, _ = _run_one(label, sopts, thick, an_t, an_s, True, rounding)
        runs.append(rec)
        bar(label)
    grid_entries = []
    for label, sopts in grid:
        rec, _ = _run_one(label, sopts, thick, an_t, an_s, False, rounding)
        e = entry(rec)
        e.pop("placements", None)
        grid_entries.append(e)
        bar(label)
    bar(None)

    report: dict[str, Any] = {
        "target_shape": list(an_t.shape),
        "sample_shape": list(an_s.shape),
        "sample_is_target": same,
        "rounding": rounding,
        "options": opts.to_dict(),
        "analysis_seconds": round(t_analyse, 3),
        "target_components": int(an_t.components.n),
        "sample_candidates": int(an_s.components.n),
        "goal": {"run_ratio_min_relative_to_self": 0.9, "max_fragments": 1.2, "min_retention": 0.9,
                 "max_source_share": 0.5, "when_candidates_at_least": 4},
        "self": {"summary": self_summary, **({"placements": self_metrics["placements"]} if records else {})},
        "affinity": {
            "self": affinity_stats(aff_self, keep_self),
            "cross_baseline": affinity_stats(aff_cross, keep_cross),
            "note": "self: phi_t[dst].phi_t[src] of the self placements (the handoff's self gate); "
                    "cross: the baseline's phi_t[dst].phi_s[src] (Procrustes-aligned); "
                    "gate keep fraction: share above the placement's mean",
        },
        "strategies": [entry(r) for r in runs],
    }
    if grid_entries:
        report["grid"] = grid_entries
    return Diagnosis(jsonable(report), target, self_run, runs, aff_self, aff_cross, keep_self, keep_cross)


def _progress(total: int, enabled: bool) -> Callable[[str | None], None]:
    """Return a step advancing a tqdm bar on stderr by one run (``None`` closes it); a no-op when off."""
    if not enabled or total == 0:
        return lambda _label: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc="strategies", unit="run", file=sys.stderr, dynamic_ncols=True,
               disable=None)  # None: no bar when stderr is not a terminal

    def step(label: str | None) -> None:
        if label is None:
            bar.close()
            return
        bar.set_postfix_str(label[:30])
        bar.update(1)

    return step
