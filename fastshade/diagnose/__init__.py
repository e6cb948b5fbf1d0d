"""Measure why cross mode fragments, and compare the cross strategies.

Runs self mode and a ladder of cross strategies on one target (and sample) with
the same spectral analysis, measures every placement (original-system.md §7:
placed components and sizes, retention, run length along the principal axis,
fragments per placement, reuse entropy, size ratio, score margin, self/cross
parity) and writes, into DIR:

  report.json     every metric for self and each strategy, the acceptance goal,
                  parity (when SAMPLE is omitted or equals TARGET), affinity stats
  affinity.png    affinity histograms, self vs cross (the handoff's test D)
  strategies.png  contact sheet: input, self, each strategy, metrics under each

and prints a table.  The figures need matplotlib (pip install 'fastshade[plots]');
without it only report.json is written.  Without SAMPLE the target is its own
sample through the cross code path: the parity test of every strategy.

Strategy specs (--strategy, repeatable) are NAME[,key=value...] with NAME one of
unified, recolor, warp, gate-only and keys score, affinity (affinity-threshold),
procrustes, scale (scale-normalise); unspecified keys come from the shader flags.

examples:
  fastshade diagnose toof.png snek-heavy.png -o diag/
  fastshade diagnose toof.png -o parity/                   # sample = target
  fastshade diagnose toof.png snek-heavy.png -o d/ --basis krylov \\
      --strategy unified --strategy warp,score=signature,affinity=none
  fastshade diagnose toof.png snek-heavy.png -o d/ --grid  # every toggle combination
  fastshade diagnose toof.png snek-heavy.png -o d/ --rounding half-even # original's rounding
  fastshade diagnose --study ../shared/images -o docs/figures \
      --study-rounding half-up,half-even                      # docs/cross-attention.md
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from fastshade.cli_args import add_shade_options, options_from_args
from fastshade.pipeline.cross import SCORES, STRATEGIES, parse_affinity_threshold, self_gate_fraction, shadow_cross
from fastshade.pipeline.metrics import goal_check, owner_map, parity, result_metrics
from fastshade.io import write_file
from fastshade.options import ShadeOptions
from fastshade.pipeline.shading import ROUNDINGS, pixel_affinity

__all__ = [
    "BASELINE",
    "PRESETS",
    "STUDY_PAIRS",
    "Diagnosis",
    "diagnose_arrays",
    "format_table",
    "grid_strategies",
    "parse_strategy",
    "ROUNDINGS",
    "place_component_numpy",
    "rank_configs",
    "run_study",
    "write_outputs",
]

CROSS_FIELDS = ("cross_strategy", "score", "affinity_threshold", "procrustes", "scale_normalise")
"""The ShadeOptions fields a strategy spec sets."""

BASELINE: dict[str, Any] = {"cross_strategy": "unified", "score": "dot", "affinity_threshold": "mean",
                            "procrustes": True, "scale_normalise": False}
"""The handoff's v12 "unified placement" (fastshade/cross.py docstring)."""

PRESETS: list[tuple[str, dict[str, Any]]] = [
    ("baseline", {}),
    ("H5 cosine", {"score": "cosine"}),
    ("H5 signature", {"score": "signature"}),
    ("H1 gate none", {"affinity_threshold": "none"}),
    ("D gate calibrated", {"affinity_threshold": "calibrated"}),
    ("self geom + gate", {"cross_strategy": "recolor", "score": "signature"}),
    ("H3 Procrustes off", {"procrustes": False}),
    ("H4 scale-normalise", {"scale_normalise": True}),
    ("unified+fixes", {"score": "signature", "affinity_threshold": "none", "scale_normalise": True}),
    ("A recolor", {"cross_strategy": "recolor", "score": "signature", "affinity_threshold": "none"}),
    ("B warp", {"cross_strategy": "warp", "score": "signature", "affinity_threshold": "none"}),
    ("C gate-only", {"cross_strategy": "gate-only", "score": "signature", "affinity_threshold": "none"}),
]
"""The default ladder: the baseline, one hypothesis toggled at a time, then the fixes.
Each entry overrides :data:`BASELINE`.  "self geom + gate" copies the target's own
components (recolor, matched by signature) through the baseline's ``mean`` affinity
gate: self-mode geometry with the cross path's gate, the control for H1."""

STUDY_PAIRS = [("toof.png", "snek-heavy.png"), ("snek-heavy.png", "red-tonegraph.png"),
               ("red-tonegraph.png", "snek-heavy.png"), ("toof.png", "1bit redraw.png")]
"""The cross pairs of docs/cross-attention.md (plus every image with itself)."""

GRID_AFFINITY = ("mean", "none", "calibrated", "quantile:0.25")

STUDY_JSON_RANKS = 25
"""study.json keeps the best 25 configurations of each ranking (study.md shows 15)."""


_KEY_ALIASES = {"strategy": "cross_strategy", "cross-strategy": "cross_strategy", "score": "score",
                "affinity": "affinity_threshold", "affinity-threshold": "affinity_threshold",
                "affinity_threshold": "affinity_threshold", "procrustes": "procrustes",
                "scale": "scale_normalise", "scale-normalise": "scale_normalise",
                "scale_normalise": "scale_normalise"}


# ----------------------------------------------------------------------------------------
# strategy specs
# ----------------------------------------------------------------------------------------


def config_label(opts: ShadeOptions) -> str:
    """Compact name of the five cross toggles, e.g. ``unified/dot/mean/P+/S-``."""
    return (f"{opts.cross_strategy}/{opts.score}/{opts.affinity_threshold}/"
            f"P{'+' if opts.procrustes else '-'}/S{'+' if opts.scale_normalise else '-'}")


def parse_strategy(spec: str, base: ShadeOptions) -> tuple[str, ShadeOptions]:
    """``NAME[,key=value...]`` -> (label, options); keys not given keep ``base``'s values.

    Keys: ``score``, ``affinity`` (``affinity-threshold``), ``procrustes`` (on/off),
    ``scale`` (``scale-normalise``, on/off), ``strategy``.  Raises ``ValueError``.
    """
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise ValueError("empty --strategy spec")
    changes: dict[str, Any] = {}
    name, rest = parts[0], parts[1:]
    if "=" in name:
        rest, name = parts, base.cross_strategy
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r} in {spec!r}; choose from {', '.join(STRATEGIES)}")
    changes["cross_strategy"] = name
    for item in rest:
        key, sep, value = item.partition("=")
        fieldname = _KEY_ALIASES.get(key.strip().lower())
        if not sep or fieldname is None:
            raise ValueError(f"bad key in strategy spec {spec!r}: {item!r} "
                             "(use score=, affinity=, procrustes=, scale=)")
        value = value.strip()
        if fieldname in ("procrustes", "scale_normalise"):
            if value not in ("on", "off"):
                raise ValueError(f"{key} must be on or off in {spec!r}")
            changes[fieldname] = value == "on"
        else:
            changes[fieldname] = value
    opts = base.replace(**changes)
    return spec, opts


def preset_strategies(base: ShadeOptions) -> list[tuple[str, ShadeOptions]]:
    """:data:`PRESETS` applied to ``base`` (analysis options kept, cross toggles from the preset)."""
    return [(label, base.replace(**{**BASELINE, **over}))
            for label, over in PRESETS]


def grid_strategies(base: ShadeOptions) -> list[tuple[str, ShadeOptions]]:
    """Every strategy × score × affinity gate × Procrustes × scale combination that is not
    an exact duplicate (Procrustes only where the sample basis is used; scale only for unified)."""
    out = []
    for strat, score, aff, proc, scale in itertools.product(
            STRATEGIES, SCORES, GRID_AFFINITY, (True, False), (False, True)):
        if scale and strat != "unified":
            continue
        uses_sample_basis = score in ("dot", "cosine") or (aff != "none" and strat in ("unified", "warp"))
        if not proc and not uses_sample_basis:
            continue
        opts = base.replace(
            cross_strategy=strat, score=score, affinity_threshold=aff, procrustes=proc,
            scale_normalise=scale)
        out.append((config_label(opts), opts))
    return out


# ----------------------------------------------------------------------------------------
# the rounding experiment
# ----------------------------------------------------------------------------------------


def place_component_numpy(src_y: np.ndarray, src_x: np.ndarray, src_centroid: Sequence[float],
                          dst_centroid: Sequence[float], shape: Sequence[int], *,
                          quarter_turns: int = 1, scale: float = 1.0,
                          shift: Sequence[float] = (0.0, 0.0),
                          rounding: str = "half-up") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NumPy twin of :func:`fastshade.pipeline.shading.place_component` with a choice of rounding.

    ``v = c_d + scale * rot(p - c_s) + shift`` (same evaluation order as the kernel),
    then ``half-up``: ``floor(v + 0.5)`` (the pipeline's, identical to the kernel) or
    ``half-even``: ``rint(v)`` (the original's ``torch.round``, the experiment).  Half-up
    is translation-consistent; when every coordinate of a component lands on ``k + 0.5``
    (a half-integer centroid sum and an axis-aligned shift), half-even sends neighbours
    ``k + 0.5`` and ``k + 1.5`` both to the same even integer and leaves a gap.  No
    sentinel for huge coordinates (a diagnostic).  Returns ``(dst_y, dst_x, inside)``
    (int64, int64, bool).
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    ry = np.asarray(src_y, dtype=np.float64) - float(src_centroid[0])
    rx = np.asarray(src_x, dtype=np.float64) - float(src_centroid[1])
    ay, ax = ((ry, rx), (-rx, ry), (-ry, -rx), (rx, -ry))[int(quarter_turns) % 4]
    vy = float(dst_centroid[0]) + scale * ay + float(shift[0])
    vx = float(dst_centroid[1]) + scale * ax + float(shift[1])
    if rounding == "half-up":
        vy, vx = np.floor(vy + 0.5), np.floor(vx + 0.5)
    else:
        vy, vx = np.rint(vy), np.rint(vx)
    vy, vx = vy.astype(np.int64), vx.astype(np.int64)
    inside = (vy >= 0) & (vy < int(shape[0])) & (vx >= 0) & (vx < int(shape[1]))
    return vy, vx, inside


# ----------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """One shading run inside a diagnosis (self or one strategy)."""

    label: str
    options: ShadeOptions | None
    metrics: dict[str, Any]
    info: dict[str, Any]
    image: np.ndarray | None = None
    owner: np.ndarray | None = None
    seconds: float = 0.0


@dataclass
class Diagnosis:
    """Result of :func:`diagnose_arrays`: the JSON report plus what the figures need."""

    report: dict[str, Any]
    target_rgb: np.ndarray
    self_run: RunRecord
    runs: list[RunRecord] = field(default_factory=list)
    affinity_self: np.ndarray = field(default_factory=lambda: np.zeros(0))
    affinity_cross: np.ndarray = field(default_factory=lambda: np.zeros(0))
    keep_self: np.ndarray = field(default_factory=lambda: np.zeros(0))
    keep_cross: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def _rounded(obj: Any, digits: int = 5) -> Any:
    """Floats to ``digits`` significant digits, recursively (keeps study.json small)."""
    if isinstance(obj, dict):
        return {k: _rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v, digits) for v in obj]
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    return obj


def _affinity_stats(values: np.ndarray, keep: np.ndarray) -> dict[str, Any]:
    if values.size == 0:
        return {"pixels": 0}
    return {"pixels": int(values.size), "mean": float(values.mean()), "median": float(np.median(values)),
            "std": float(values.std()), "share_positive": float(np.mean(values > 0)),
            "placements": int(keep.size),
            "mean_gate_keep_fraction": float(keep.mean()) if keep.size else None}


def _self_affinities(an_t: Any, placements: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Affinities ``phi_t[dst] . phi_t[src]`` the handoff's self gate would see, and the
    per-placement fraction its ``mean`` gate would keep."""
    if an_t.basis is None or not placements:
        return np.zeros(0), np.zeros(0)
    phi = np.ascontiguousarray(an_t.basis.vectors)
    w = an_t.shape[1]
    vals, keep = [], []
    for p in placements:
        dst = np.where(p.attempted, p.dst_y * w + p.dst_x, 0)
        if not p.attempted.any():
            continue
        vals.append(pixel_affinity(phi, phi, dst, p.source_flat, p.attempted)[p.attempted])
        keep.append(self_gate_fraction(phi, p.source_flat, dst, p.attempted))
    return (np.concatenate(vals) if vals else np.zeros(0)), np.asarray(keep, dtype=np.float64)


def _cross_affinities(placements: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    vals, keep = [], []
    for p in placements:
        if p.affinity is None or not p.attempted.any():
            continue
        a = p.affinity[p.attempted]
        vals.append(a)
        keep.append(float(np.mean(a > a.mean())))
    return (np.concatenate(vals) if vals else np.zeros(0)), np.asarray(keep, dtype=np.float64)


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


def _run_one(label: str, opts: ShadeOptions, thick: np.ndarray, an_t: Any, an_s: Any,
             keep_image: bool, rounding: str) -> tuple[RunRecord, list[Any]]:
    from fastshade.pipeline.results import ShadeResult

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
    analyses: tuple[Any, Any] | None = None,
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
              analyses: tuple[Any, Any] | None, records: bool, rounding: str, progress: bool) -> Diagnosis:
    from fastshade.pipeline.paint import shadow_self, thicken
    from fastshade.pipeline.results import ShadeResult
    from fastshade.pipeline.shader import analyse

    opts = options or ShadeOptions()
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
    aff_self, keep_self = _self_affinities(an_t, placements)
    self_summary = self_metrics["summary"]

    base_opts = opts.replace(**BASELINE)
    _, base_placements = _run_one("baseline", base_opts, thick, an_t, an_s, False, rounding)
    aff_cross, keep_cross = _cross_affinities(base_placements)

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
            "self": _affinity_stats(aff_self, keep_self),
            "cross_baseline": _affinity_stats(aff_cross, keep_cross),
            "note": "self: phi_t[dst].phi_t[src] of the self placements (the handoff's self gate); "
                    "cross: the baseline's phi_t[dst].phi_s[src] (Procrustes-aligned); "
                    "gate keep fraction: share above the placement's mean",
        },
        "strategies": [entry(r) for r in runs],
    }
    if grid_entries:
        report["grid"] = grid_entries
    return Diagnosis(_jsonable(report), target, self_run, runs, aff_self, aff_cross, keep_self, keep_cross)


def _progress(total: int, enabled: bool) -> Callable[[str | None], None]:
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


# ----------------------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------------------


def _fmt(v: Any, spec: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, spec)


def format_table(report: dict[str, Any], *, include_grid: bool = False) -> str:
    """Plain-text table of self and every strategy (one row each)."""
    head = (f"{'strategy':<22} {'config':<34} {'place':>5} {'run':>5} {'Δrun':>6} {'frag':>5} "
            f"{'ret':>5} {'gate':>5} {'share':>5} {'H':>5} {'size':>5} {'margin':>6} {'goal':<5} parity")
    lines = [head, "-" * len(head)]
    notes = ("goal: PASS = all four bars; as-self:X = bar X missed but within 10 % of self's "
             "figure (inherited from the target); fail:X = missed")

    def row(label: str, config: str, s: dict[str, Any], goal: dict[str, Any] | None,
            par: dict[str, Any] | None) -> str:
        rel = goal.get("run_ratio_rel") if goal else None
        if goal is None:
            g = "ref"
        elif goal["passed"]:
            g = "PASS"
        else:
            failed = ",".join(k for k, ok in goal["checks"].items() if not ok)
            g = ("as-self:" if goal.get("passed_relative_to_self") else "fail:") + failed
        p = "" if par is None else ("exact" if par["exact"] else "differs")
        return (f"{label[:22]:<22} {config[:34]:<34} {s['placements']:>5} {_fmt(s['median_run_ratio'], '.3f'):>5} "
                f"{_fmt(None if rel is None else 100 * rel, '+.0f') + ('%' if rel is not None else ''):>6} "
                f"{_fmt(s['mean_fragments'], '.2f'):>5} {_fmt(s['mean_retention'], '.3f'):>5} "
                f"{_fmt(s['mean_gate_retention'], '.2f'):>5} {_fmt(s['max_source_share'], '.2f'):>5} "
                f"{_fmt(s['usage_entropy_bits'], '.2f'):>5} {_fmt(s['median_size_ratio'], '.2f'):>5} "
                f"{_fmt(s['median_score_margin'], '.3f'):>6} {g:<5} {p}")

    lines.append(row("self", "self", report["self"]["summary"], None, None))
    for e in report["strategies"]:
        lines.append(row(e["label"], e["config"], e["summary"], e["goal"], e.get("parity")))
    if include_grid and report.get("grid"):
        lines.append("-" * len(head))
        for e in report["grid"]:
            lines.append(row("grid", e["config"], e["summary"], e["goal"], e.get("parity")))
    lines.append(notes)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# figures (optional matplotlib)
# ----------------------------------------------------------------------------------------

MAX_FIGURE_BYTES = 300_000
"""Figures are re-encoded with fewer colours / lower resolution until they fit."""


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _save_small_png(fig: Any, path: Path, dpi: int = 90) -> None:
    """Save a figure as PNG under :data:`MAX_FIGURE_BYTES` (adaptive palette, then lower dpi)."""
    from PIL import Image

    for d in (dpi, int(dpi * 0.8), int(dpi * 0.65), int(dpi * 0.5)):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=d)
        buf.seek(0)
        im = Image.open(buf).convert("RGB")
        for colours in (256, 128, 64):
            out = io.BytesIO()
            im.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
            if out.tell() <= MAX_FIGURE_BYTES:
                write_file(path, out.getvalue(), "PNG")
                return
    write_file(path, out.getvalue(), "PNG")


def _crop_box(diag: Diagnosis, margin: int = 12) -> tuple[int, int, int, int]:
    h, w = diag.target_rgb.shape[:2]
    ys, xs = [], []
    for rec in [diag.self_run, *diag.runs]:
        if rec.owner is not None and (rec.owner >= 0).any():
            yy, xx = np.nonzero(rec.owner >= 0)
            ys += [yy.min(), yy.max()]
            xs += [xx.min(), xx.max()]
    if not ys:
        return 0, h, 0, w
    return (max(min(ys) - margin, 0), min(max(ys) + margin + 1, h),
            max(min(xs) - margin, 0), min(max(xs) + margin + 1, w))


def _tile(rec: RunRecord, box: tuple[int, int, int, int]) -> np.ndarray:
    """Output image with the visible shadow pixels tinted by placement (tab20 cycle)."""
    from matplotlib import colormaps

    y0, y1, x0, x1 = box
    img = rec.image[y0:y1, x0:x1, :3].copy()
    own = rec.owner[y0:y1, x0:x1]
    vis = own >= 0
    if vis.any():
        cmap = colormaps["tab20"]
        colours = np.asarray([cmap(i % 20)[:3] for i in range(int(own.max()) + 1)])
        img[vis] = colours[own[vis]]
    return img


def _caption(summary: dict[str, Any], goal: dict[str, Any] | None) -> str:
    s = summary
    text = (f"run {_fmt(s['median_run_ratio'], '.2f')}  frag {_fmt(s['mean_fragments'], '.2f')}\n"
            f"ret {_fmt(s['mean_retention'], '.2f')}  share {_fmt(s['max_source_share'], '.2f')}"
            f"  n {s['placements']}")
    if goal is not None:
        text += "  " + ("PASS" if goal["passed"] else "fail")
    return text


def plot_strategies(diag: Diagnosis, path: Path, title: str = "") -> None:
    """Contact sheet: input, self, every strategy (visible shadow pixels coloured by placement)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    box = _crop_box(diag)
    y0, y1, x0, x1 = box
    tiles: list[tuple[str, np.ndarray, str]] = [("input", diag.target_rgb[y0:y1, x0:x1, :3], "")]
    tiles.append(("self", _tile(diag.self_run, box), _caption(diag.self_run.metrics["summary"], None)))
    for rec, e in zip(diag.runs, diag.report["strategies"]):
        tiles.append((rec.label, _tile(rec, box), _caption(e["summary"], e["goal"])))
    cols = 4
    rows = math.ceil(len(tiles) / cols)
    aspect = (y1 - y0) / max(x1 - x0, 1)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * (3.2 * aspect + 0.75)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (label, img, cap) in zip(axes.ravel(), tiles):
        ax.imshow(np.clip(img, 0, 1), interpolation="antialiased")
        ax.set_title(label, fontsize=9)
        ax.text(0.5, -0.02, cap, transform=ax.transAxes, ha="center", va="top", fontsize=7.5,
                family="monospace")
    fig.suptitle((title + "\n" if title else "") + "visible shadow pixels coloured by placement", fontsize=10)
    fig.tight_layout()
    _save_small_png(fig, path)
    plt.close(fig)


def plot_affinity(diag: Diagnosis, path: Path, title: str = "") -> None:
    """Test D: affinity histograms self vs cross, z-scores within placements, gate keep fractions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    a_s, a_c = diag.affinity_self, diag.affinity_cross
    ax = axes[0]
    if a_s.size or a_c.size:
        both = np.concatenate([a_s, a_c])
        lo, hi = np.percentile(both, [0.5, 99.5]) if both.size else (0, 1)
        bins = np.linspace(lo, hi if hi > lo else lo + 1e-12, 60)
        for vals, lab, col in ((a_s, "self", "tab:blue"), (a_c, "cross (baseline)", "tab:red")):
            if vals.size:
                ax.hist(np.clip(vals, lo, hi), bins=bins, density=True, alpha=0.55, color=col,
                        label=f"{lab}: n={vals.size}, mean {vals.mean():.2e}")
                ax.axvline(vals.mean(), color=col, lw=1)
        ax.legend(fontsize=7)
    ax.set_title("per-pixel affinity φt[dst]·φ[src]", fontsize=9)
    ax = axes[1]
    for placements_vals, lab, col in ((a_s, "self", "tab:blue"), (a_c, "cross", "tab:red")):
        if placements_vals.size > 1:
            z = (placements_vals - placements_vals.mean()) / (placements_vals.std() + 1e-30)
            ax.hist(np.clip(z, -4, 4), bins=np.linspace(-4, 4, 41), density=True, alpha=0.55, color=col,
                    label=f"{lab}: share > mean {np.mean(z > 0):.2f}")
    ax.axvline(0, color="k", lw=0.8)
    ax.legend(fontsize=7)
    ax.set_title("affinity, z-score over all pixels", fontsize=9)
    ax = axes[2]
    bins = np.linspace(0, 1, 21)
    for vals, lab, col in ((diag.keep_self, "self", "tab:blue"), (diag.keep_cross, "cross", "tab:red")):
        if vals.size:
            ax.hist(vals, bins=bins, alpha=0.55, color=col, label=f"{lab}: mean {vals.mean():.2f}")
    ax.legend(fontsize=7)
    ax.set_title("fraction kept by the 'mean' gate, per placement", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save_small_png(fig, path)
    plt.close(fig)


def write_outputs(diag: Diagnosis, outdir: Path, *, prefix: str = "", title: str = "",
                  plots: bool = True) -> list[Path]:
    """Write ``report.json`` (and ``affinity.png``, ``strategies.png`` when matplotlib is
    available and ``plots``) into ``outdir``; names get ``prefix``.  Returns the paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    rep = outdir / f"{prefix}report.json"
    write_file(rep, json.dumps(diag.report, indent=1, sort_keys=False, allow_nan=False), "JSON")
    written.append(rep)
    if plots:
        if not _have_matplotlib():
            print("fastshade: note: matplotlib is not installed, so only report.json was written "
                  "(pip install 'fastshade[plots]' for the figures)", file=sys.stderr)
        else:
            for name, fn in (("affinity.png", plot_affinity), ("strategies.png", plot_strategies)):
                p = outdir / f"{prefix}{name}"
                fn(diag, p, title)
                written.append(p)
    return written


# ----------------------------------------------------------------------------------------
# the study of docs/cross-attention.md
# ----------------------------------------------------------------------------------------


def _slug(name: str) -> str:
    return Path(name).stem.replace(" ", "-")


def _compact(e: dict[str, Any]) -> dict[str, Any]:
    s, g = e["summary"], e["goal"]
    out = {"label": e["label"], "config": e["config"], "passed": g["passed"],
           "passed_relative_to_self": g["passed_relative_to_self"],
           "failed": [k for k, ok in g["checks"].items() if not ok],
           "median_run_ratio": s["median_run_ratio"], "run_ratio_rel": g["run_ratio_rel"],
           "mean_fragments": s["mean_fragments"], "mean_kept_fragments": s["mean_kept_fragments"],
           "mean_retention": s["mean_retention"], "mean_gate_retention": s["mean_gate_retention"],
           "mean_guard_retention": s["mean_guard_retention"], "max_source_share": s["max_source_share"],
           "usage_entropy_bits": s["usage_entropy_bits"], "distinct_sources": s["distinct_sources"],
           "placements": s["placements"], "candidates": s["candidates"],
           "median_size_ratio": s["median_size_ratio"], "median_score_margin": s["median_score_margin"]}
    if "parity" in e:
        out["parity_exact"] = e["parity"]["exact"]
        if not e["parity"]["exact"]:
            out["parity_reasons"] = e["parity"].get("reasons", [])
    if "pixels_differing_from_self" in e:
        out["pixels_differing_from_self"] = e["pixels_differing_from_self"]
    return out


def run_study(images_dir: Path, outdir: Path, options: ShadeOptions, *,
              bases: Sequence[str] = ("krylov", "lobpcg"), roundings: Sequence[str] = ("half-up",),
              grid: bool = True, reports: bool = False, progress: bool = True,
              plots: bool = True) -> dict[str, Any]:
    """Every :data:`STUDY_PAIRS` pair and every image with itself, for each basis.

    Runs the ladder (:data:`PRESETS`) and, with ``grid``, every :func:`grid_strategies`
    configuration on every pair; writes ``<basis>-<target>-x-<sample>-{strategies,affinity}.png``
    for the cross pairs (when ``plots`` and matplotlib is available), ``study.json`` (compact ladder
    records of every run and the full ranking of :func:`rank_configs`), ``study.md`` (the
    tables of docs/cross-attention.md) and, with ``reports``, every run's full report under
    ``reports/``.  Each image is analysed once per basis; every rounding in ``roundings``
    (:data:`ROUNDINGS`) reruns the shadows on the same analyses, figures are drawn for the
    first one only.  Results are grouped by ``"<basis>/<rounding>"``.
    """
    from fastshade.io import read_image
    from fastshade.pipeline.shader import analyse

    images = sorted(p.name for p in Path(images_dir).glob("*.png"))
    missing = {n for pair in STUDY_PAIRS for n in pair} - set(images)
    if missing:
        raise ValueError(f"{images_dir}: missing study images {', '.join(sorted(missing))}")
    for r in roundings:
        if r not in ROUNDINGS:
            raise ValueError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {r!r}")
    basis_options = {basis: options.replace(basis=basis) for basis in bases}
    rgb = {n: read_image(Path(images_dir) / n).rgb for n in images}
    _make_output_folder(outdir)  # after every argument and image was checked
    groups = [f"{b}/{r}" for b in bases for r in roundings]
    study: dict[str, Any] = {"bases": list(bases), "roundings": list(roundings), "groups": groups, "runs": []}
    for basis in bases:
        opts = basis_options[basis]
        cache: dict[str, Any] = {}
        seconds: dict[str, float] = {}

        def an(name: str) -> Any:
            if name not in cache:
                t0 = time.perf_counter()
                cache[name] = analyse(rgb[name], opts)
                seconds[name] = time.perf_counter() - t0
                if progress:
                    print(f"[{basis}] analysed {name} in {seconds[name]:.1f} s", file=sys.stderr)
            return cache[name]

        jobs = [(t, s, r) for r in roundings for t, s in STUDY_PAIRS] + \
            [(n, None, r) for r in roundings for n in images]
        for t, s, rounding in jobs:
            diag = diagnose_arrays(rgb[t], None if s is None else rgb[s], opts,
                                   grid=grid_strategies(opts) if grid else (),
                                   analyses=(an(t), None if s is None else an(s)), records=False,
                                   rounding=rounding)
            tag = "" if rounding == "half-up" else f"{rounding}-"
            slug = f"{basis}-{tag}{_slug(t)}-x-{_slug(s or t)}-"
            if plots and s is not None and rounding == roundings[0]:
                for name, fn in (("affinity.png", plot_affinity), ("strategies.png", plot_strategies)):
                    if _have_matplotlib():
                        fn(diag, outdir / f"{slug}{name}", f"{t} × {s} ({basis})")
            if reports:
                (outdir / "reports").mkdir(exist_ok=True)
                write_file(outdir / "reports" / f"{slug}report.json",
                           json.dumps(diag.report, indent=1, allow_nan=False), "JSON")
            rep = diag.report
            study["runs"].append({
                "basis": basis, "rounding": rounding, "group": f"{basis}/{rounding}",
                "target": t, "sample": s or t, "cross_pair": s is not None,
                "report": f"reports/{slug}report.json" if reports else None,
                "analysis_seconds": round(seconds.get(t, 0.0), 2),
                "target_components": rep["target_components"], "sample_candidates": rep["sample_candidates"],
                "self": rep["self"]["summary"], "affinity": rep["affinity"],
                "ladder": [_compact(e) for e in rep["strategies"]],
                "grid": [_compact(e) for e in rep.get("grid", [])]})
            if progress:
                print(f"[{basis}, {rounding}] {t} × {s or t}\n" + format_table(rep), file=sys.stderr)
        del cache
    study["ranking"] = {g: rank_configs(study, g, top=None) for g in groups}
    slim = {**study, "runs": [{k: v for k, v in r.items() if k != "grid"} for r in study["runs"]],
            "ranking": {g: rows[:STUDY_JSON_RANKS] for g, rows in study["ranking"].items()}}
    write_file(outdir / "study.json", json.dumps(_rounded(_jsonable(slim)), allow_nan=False), "JSON")
    write_file(outdir / "study.md", study_markdown(_jsonable(study)), "Markdown")
    return study


def _md(v: Any, spec: str) -> str:
    return _fmt(v, spec)


def study_markdown(study: dict[str, Any]) -> str:
    """Markdown tables of a study: per basis, the ladder on every cross pair, parity on every
    image, and the ranking of all configurations (``study.md``)."""
    out = []
    default = config_label(ShadeOptions())
    out.append(f"## The default cross configuration `{default}` against the goal\n")
    out.append("| basis / rounding | pair | self run | self frag | self retention | run | Δrun | frag "
               "| retention | max share | goal |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in study["runs"]:
        e = next((e for e in r["ladder"] if e["config"] == default), None)
        if e is None or not r["cross_pair"]:
            continue
        s = r["self"]
        rel = e["run_ratio_rel"]
        goal = ("PASS" if e["passed"] else
                ("as self: " if e["passed_relative_to_self"] else "fail: ") + ", ".join(e["failed"]))
        out.append(f"| {r.get('group', r['basis'])} | {r['target']} × {r['sample']} | "
                   f"{_md(s['median_run_ratio'], '.3f')} | {_md(s['mean_fragments'], '.2f')} | "
                   f"{_md(s['mean_retention'], '.3f')} | {_md(e['median_run_ratio'], '.3f')} | "
                   f"{_md(None if rel is None else 100 * rel, '+.0f')}{'%' if rel is not None else ''} | "
                   f"{_md(e['mean_fragments'], '.2f')} | {_md(e['mean_retention'], '.3f')} | "
                   f"{_md(e['max_source_share'], '.2f')} | {goal} |")
    out.append("")
    for group in study.get("groups", study["bases"]):
        runs = [r for r in study["runs"] if r.get("group", r["basis"]) == group]
        basis = group
        out.append(f"## `{group}` (basis / destination rounding)\n")
        out.append("| image | analysis s | low-gate components |\n|---|---:|---:|")
        for r in runs:
            if not r["cross_pair"]:
                out.append(f"| {r['target']} | {r['analysis_seconds']:.1f} | {r['target_components']} |")
        out.append("")
        for r in runs:
            if not r["cross_pair"]:
                continue
            s = r["self"]
            aff = r["affinity"]
            out.append(f"### {r['target']} × {r['sample']} ({basis}): {r['target_components']} target "
                       f"components, {r['sample_candidates']} sample candidates\n")
            out.append("| strategy | config | run | Δrun vs self | frag | kept frag | retention | gate kept "
                       "| guard kept | max share | entropy | size ratio | margin | goal |")
            out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
            out.append(f"| **self** | self | {_md(s['median_run_ratio'], '.3f')} | | "
                       f"{_md(s['mean_fragments'], '.2f')} | {_md(s['mean_kept_fragments'], '.2f')} | "
                       f"{_md(s['mean_retention'], '.3f')} | {_md(s['mean_gate_retention'], '.2f')} | "
                       f"{_md(s['mean_guard_retention'], '.2f')} | {_md(s['max_source_share'], '.2f')} | "
                       f"{_md(s['usage_entropy_bits'], '.2f')} | 1 | | ref |")
            for e in r["ladder"]:
                goal = ("PASS" if e["passed"] else
                        ("as self: " if e["passed_relative_to_self"] else "fail: ") + ", ".join(e["failed"]))
                rel = e["run_ratio_rel"]
                out.append(f"| {e['label']} | `{e['config']}` | {_md(e['median_run_ratio'], '.3f')} | "
                           f"{_md(None if rel is None else 100 * rel, '+.0f')}{'%' if rel is not None else ''} | "
                           f"{_md(e['mean_fragments'], '.2f')} | {_md(e['mean_kept_fragments'], '.2f')} | "
                           f"{_md(e['mean_retention'], '.3f')} | {_md(e['mean_gate_retention'], '.2f')} | "
                           f"{_md(e['mean_guard_retention'], '.2f')} | {_md(e['max_source_share'], '.2f')} | "
                           f"{_md(e['usage_entropy_bits'], '.2f')} | {_md(e['median_size_ratio'], '.2f')} | "
                           f"{_md(e['median_score_margin'], '.3f')} | {goal} |")
            out.append(f"\nAffinity (test D): self mean {_md(aff['self'].get('mean'), '.2e')}, "
                       f"share > 0 {_md(aff['self'].get('share_positive'), '.2f')}, mean gate keeps "
                       f"{_md(aff['self'].get('mean_gate_keep_fraction'), '.2f')}; cross (baseline) mean "
                       f"{_md(aff['cross_baseline'].get('mean'), '.2e')}, share > 0 "
                       f"{_md(aff['cross_baseline'].get('share_positive'), '.2f')}, mean gate keeps "
                       f"{_md(aff['cross_baseline'].get('mean_gate_keep_fraction'), '.2f')}.\n")
        selfs = [r for r in runs if not r["cross_pair"]]
        if selfs:
            labels = [e["label"] for e in selfs[0]["ladder"]]
            out.append(f"### Parity ({basis}): cross path with sample = target, exact match of §7 metrics 1-6\n")
            out.append("| image | self frag | self retention | " + " | ".join(labels) + " |")
            out.append("|---|---:|---:|" + "---|" * len(labels))
            for r in selfs:
                cells = ["exact" if e.get("parity_exact") else "differs" for e in r["ladder"]]
                out.append(f"| {r['target']} | {_md(r['self']['mean_fragments'], '.2f')} | "
                           f"{_md(r['self']['mean_retention'], '.3f')} | " + " | ".join(cells) + " |")
            out.append("")
            for lab in labels:
                why = [(r["target"], e["parity_reasons"]) for r in selfs for e in r["ladder"]
                       if e["label"] == lab and e.get("parity_reasons")]
                if why:
                    out.append(f"- {lab}: e.g. {why[0][0]}: " + "; ".join(why[0][1]))
            out.append("")
        rank = study.get("ranking", {}).get(group, [])
        if rank:
            out.append(f"### Ranking of every configuration ({basis})\n")
            out.append("Order: exact parity on every image, goal met on every cross pair relative to self "
                       "(absolute bars, or within 10 % of self where self itself misses them), number of "
                       "pairs meeting the absolute goal, mean fragments.\n")
            out.append("| # | config | parity | goal vs self, every pair | absolute goal | mean frag | mean retention |")
            out.append("|---:|---|---|---|---:|---:|---:|")
            for k, r in enumerate(rank[:15], 1):
                out.append(f"| {k} | `{r['config']}` | {'exact' if r['parity_exact_every_image'] else 'differs'} | "
                           f"{'yes' if r['goal_relative_to_self_every_pair'] else 'no'} | "
                           f"{r['pairs_passing_absolute_goal']}/{r['pairs']} | {r['mean_fragments']:.3f} | "
                           f"{r['mean_retention']:.3f} |")
            out.append("")
    return "\n".join(out) + "\n"


def rank_configs(study: dict[str, Any], group: str, top: int | None = 12) -> list[dict[str, Any]]:
    """Rank every configuration run on every study pair of ``group`` (``"<basis>/<rounding>"``;
    a run without a ``group`` key belongs to the group named by its ``basis``).

    Order: exact parity on every image, then the goal relative to self on every cross
    pair, then the number of cross pairs passing the absolute goal, then the mean
    fragments over the cross pairs (lower first), then mean retention (higher first).
    """
    runs = [r for r in study["runs"] if r.get("group", r["basis"]) == group]
    table: dict[str, dict[str, Any]] = {}
    for r in runs:
        seen: set[str] = set()
        for e in r["ladder"] + r["grid"]:
            if e["config"] in seen:  # a ladder entry also present in the grid counts once
                continue
            seen.add(e["config"])
            t = table.setdefault(e["config"], {"config": e["config"], "labels": set(), "parity_exact": True,
                                               "relative_all": True, "absolute_pairs": 0, "pairs": 0,
                                               "fragments": [], "retention": [], "failed": {}})
            t["labels"].add(e["label"])
            if not r["cross_pair"]:
                t["parity_exact"] &= bool(e.get("parity_exact", False))
                continue
            t["pairs"] += 1
            t["relative_all"] &= bool(e["passed_relative_to_self"])
            t["absolute_pairs"] += int(e["passed"])
            t["fragments"].append(e["mean_fragments"] if e["mean_fragments"] is not None else math.inf)
            t["retention"].append(e["mean_retention"] or 0.0)
            if e["failed"]:
                t["failed"][f"{r['target']} × {r['sample']}"] = e["failed"]
    rows = []
    for t in table.values():
        if t["pairs"] == 0:
            continue
        rows.append({"config": t["config"], "labels": sorted(t["labels"] - {t["config"]}),
                     "parity_exact_every_image": t["parity_exact"],
                     "goal_relative_to_self_every_pair": t["relative_all"],
                     "pairs_passing_absolute_goal": t["absolute_pairs"], "pairs": t["pairs"],
                     "mean_fragments": float(np.mean(t["fragments"])),
                     "mean_retention": float(np.mean(t["retention"])), "failed": t["failed"]})
    rows.sort(key=lambda r: (not r["parity_exact_every_image"], not r["goal_relative_to_self_every_pair"],
                             -r["pairs_passing_absolute_goal"], r["mean_fragments"], -r["mean_retention"]))
    return rows if top is None else rows[:top]


# ----------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", help="target image")
    p.add_argument("sample", nargs="?", help="sample image (omit: the target is its own sample, parity)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--strategy", action="append", metavar="SPEC",
                   help="NAME[,key=value...] (repeatable); default: the built-in ladder "
                        "(baseline, H1-H5 toggles, fixes A-D)")
    p.add_argument("--grid", action="store_true",
                   help="also run every strategy × score × gate × Procrustes × scale combination "
                        "(summaries in report.json, rows in the table)")
    p.add_argument("--no-plots", action="store_true",
                   help="write no figures (report.json; with --study, study.json and study.md)")
    p.add_argument("--study", metavar="IMAGES_DIR",
                   help="run the docs/cross-attention.md study on a folder holding the shared images "
                        "(both bases; writes per-pair reports, figures and study.json into DIR)")
    p.add_argument("--study-bases", default="krylov,lobpcg", metavar="LIST",
                   help="bases of --study, comma-separated (default krylov,lobpcg)")
    p.add_argument("--rounding", choices=ROUNDINGS, default="half-up",
                   help="shadow destination rounding: half-up (the pipeline's floor(v + 0.5)) or "
                        "half-even (rint, the original's torch.round; the experiment of docs/cross-attention.md)")
    p.add_argument("--study-rounding", default="half-up", metavar="LIST",
                   help="roundings of --study, comma-separated (default half-up; e.g. half-up,half-even)")
    p.add_argument("--study-reports", action="store_true",
                   help="--study: also write every run's full report.json under DIR/reports/")
    add_shade_options(p)


def _make_output_folder(outdir: Path) -> None:
    """Create ``-o`` (and parents) or fail with one line naming it."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = "is a file, not a folder" if outdir.is_file() else (exc.strerror or str(exc))
        raise ValueError(f"{outdir}: cannot use as the output folder: {what}") from None


def main(args: argparse.Namespace) -> int:
    from fastshade.io import read_image

    opts = options_from_args(args)
    outdir = Path(args.output)
    if args.study:
        if args.target:
            raise ValueError("give either TARGET [SAMPLE] or --study, not both")
        bases = [b.strip() for b in args.study_bases.split(",") if b.strip()]
        if not args.no_plots and not _have_matplotlib():
            print("fastshade: note: matplotlib is not installed, so the study writes no figures "
                  "(pip install 'fastshade[plots]')", file=sys.stderr)
        roundings = [r.strip() for r in args.study_rounding.split(",") if r.strip()]
        study = run_study(Path(args.study), outdir, opts, bases=bases, roundings=roundings,
                          reports=args.study_reports, progress=True, plots=not args.no_plots)
        for group, rows in study["ranking"].items():
            print(f"[{group}] best configurations (parity, goal relative to self, absolute passes, fragments):")
            for r in rows[:5]:
                print(f"  {r['config']:<34} parity={r['parity_exact_every_image']} "
                      f"relative={r['goal_relative_to_self_every_pair']} "
                      f"absolute={r['pairs_passing_absolute_goal']}/{r['pairs']} frag={r['mean_fragments']:.3f}")
        return 0
    if not args.target:
        raise ValueError("give TARGET [SAMPLE] (or --study IMAGES_DIR)")
    parse_affinity_threshold(opts.affinity_threshold)
    target = read_image(args.target).rgb
    sample = read_image(args.sample).rgb if args.sample else None
    strategies = ([parse_strategy(s, opts) for s in args.strategy] if args.strategy
                  else preset_strategies(opts))
    grid = grid_strategies(opts) if args.grid else ()
    _make_output_folder(outdir)  # inputs and strategies are valid: fail on the folder before computing
    from fastshade.io import check_writable

    for name in ("report.json", *(() if args.no_plots else ("affinity.png", "strategies.png"))):
        check_writable(outdir / name, "diagnose output")
    diag = diagnose_arrays(target, sample, opts, strategies, grid=grid, rounding=args.rounding, progress=True)
    title = (f"{Path(args.target).name} × {Path(args.sample).name if args.sample else 'itself'} ({opts.basis}"
             + (f", {args.rounding})" if args.rounding != "half-up" else ")"))
    write_outputs(diag, outdir, title=title, plots=not args.no_plots)
    print(format_table(diag.report, include_grid=bool(grid)))
    print(f"wrote {outdir / 'report.json'}", file=sys.stderr)
    return 0
