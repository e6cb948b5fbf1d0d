"""The study of docs/cross-attention.md: every study pair and image, each basis and rounding, ranked."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastshade.diagnose import figures
from fastshade.diagnose.outputs import make_output_folder
from fastshade.diagnose.results import jsonable
from fastshade.diagnose.runner import diagnose_arrays
from fastshade.diagnose.strategies import grid_strategies
from fastshade.diagnose.tables import format_table, study_markdown
from fastshade.io import read_image, write_file
from fastshade.options import ShadeOptions
from fastshade.pipeline.results import Analysis
from fastshade.pipeline.shader import analyse
from fastshade.pipeline.shading import ROUNDINGS

__all__ = ["STUDY_JSON_RANKS", "STUDY_PAIRS", "rank_configs", "run_study"]

STUDY_PAIRS = [("toof.png", "snek-heavy.png"), ("snek-heavy.png", "red-tonegraph.png"),
               ("red-tonegraph.png", "snek-heavy.png"), ("toof.png", "1bit redraw.png")]
"""The cross pairs of docs/cross-attention.md (plus every image with itself)."""

STUDY_JSON_RANKS = 25
"""study.json keeps the best 25 configurations of each ranking (study.md shows 15)."""


def _rounded(obj: Any, digits: int = 5) -> Any:
    """Floats to ``digits`` significant digits, recursively (keeps study.json small)."""
    if isinstance(obj, dict):
        return {k: _rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v, digits) for v in obj]
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    return obj


def _slug(name: str) -> str:
    """File-name part of an image name: its stem, spaces as hyphens."""
    return Path(name).stem.replace(" ", "-")


def _compact(e: dict[str, Any]) -> dict[str, Any]:
    """Compact one report entry into its ladder record: goal, parity and the summary metrics the study tables use."""
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


class _Analyses:
    """The analyses of one basis, each image analysed once, on first use (and timed)."""

    def __init__(self, rgb: dict[str, np.ndarray], basis: str, opts: ShadeOptions, progress: bool) -> None:
        self.rgb, self.basis, self.opts, self.progress = rgb, basis, opts, progress
        self.cache: dict[str, Analysis] = {}
        self.seconds: dict[str, float] = {}

    def get(self, name: str) -> Analysis:
        """Return the analysis of image ``name`` (``[basis] analysed NAME in S s`` on stderr the first time)."""
        if name not in self.cache:
            t0 = time.perf_counter()
            self.cache[name] = analyse(self.rgb[name], self.opts)
            self.seconds[name] = time.perf_counter() - t0
            if self.progress:
                print(f"[{self.basis}] analysed {name} in {self.seconds[name]:.1f} s", file=sys.stderr)
        return self.cache[name]


def run_study(images_dir: Path, outdir: Path, options: ShadeOptions, *,
              bases: Sequence[str] = ("krylov", "lobpcg"), roundings: Sequence[str] = ("half-up",),
              grid: bool = True, reports: bool = False, progress: bool = True,
              plots: bool = True) -> dict[str, Any]:
    """Every :data:`STUDY_PAIRS` pair and every image with itself, for each basis and rounding.

    Runs the ladder (:data:`~fastshade.diagnose.strategies.PRESETS`) and, with ``grid``, every
    :func:`~fastshade.diagnose.strategies.grid_strategies` configuration on every pair; writes
    ``<basis>-<target>-x-<sample>-{strategies,affinity}.png`` for the cross pairs (when ``plots``
    and matplotlib is available), ``study.json`` (compact ladder records of every run and the
    full ranking of :func:`rank_configs`), ``study.md`` (the tables of docs/cross-attention.md)
    and, with ``reports``, every run's full report under ``reports/``.  Each image is analysed
    once per basis; every rounding in ``roundings`` (:data:`~fastshade.pipeline.shading.ROUNDINGS`)
    reruns the shadows on the same analyses, figures are drawn for the first one only.  Results
    are grouped by ``"<basis>/<rounding>"``.

    Raises ``ValueError`` for a missing study image or an unknown rounding (and the reader's
    error for an unreadable image) before ``outdir`` is made.
    """
    images = sorted(p.name for p in Path(images_dir).glob("*.png"))
    missing = {n for pair in STUDY_PAIRS for n in pair} - set(images)
    if missing:
        raise ValueError(f"{images_dir}: missing study images {', '.join(sorted(missing))}")
    for r in roundings:
        if r not in ROUNDINGS:
            raise ValueError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {r!r}")
    basis_options = {basis: options.replace(basis=basis) for basis in bases}
    rgb = {n: read_image(Path(images_dir) / n).rgb for n in images}
    make_output_folder(outdir)  # after every argument and image was checked
    groups = [f"{b}/{r}" for b in bases for r in roundings]
    study: dict[str, Any] = {"bases": list(bases), "roundings": list(roundings), "groups": groups, "runs": []}
    for basis in bases:
        opts = basis_options[basis]
        analyses = _Analyses(rgb, basis, opts, progress)
        jobs = [(t, s, r) for r in roundings for t, s in STUDY_PAIRS] + \
            [(n, None, r) for r in roundings for n in images]
        for t, s, rounding in jobs:
            diag = diagnose_arrays(rgb[t], None if s is None else rgb[s], opts,
                                   grid=grid_strategies(opts) if grid else (),
                                   analyses=(analyses.get(t), None if s is None else analyses.get(s)),
                                   records=False, rounding=rounding)
            tag = "" if rounding == "half-up" else f"{rounding}-"
            slug = f"{basis}-{tag}{_slug(t)}-x-{_slug(s or t)}-"
            if plots and s is not None and rounding == roundings[0]:
                for name, fn in (("affinity.png", figures.plot_affinity),
                                 ("strategies.png", figures.plot_strategies)):
                    if figures.have_matplotlib():
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
                "analysis_seconds": round(analyses.seconds.get(t, 0.0), 2),
                "target_components": rep["target_components"], "sample_candidates": rep["sample_candidates"],
                "self": rep["self"]["summary"], "affinity": rep["affinity"],
                "ladder": [_compact(e) for e in rep["strategies"]],
                "grid": [_compact(e) for e in rep.get("grid", [])]})
            if progress:
                print(f"[{basis}, {rounding}] {t} × {s or t}\n" + format_table(rep), file=sys.stderr)
        del analyses
    study["ranking"] = {g: rank_configs(study, g, top=None) for g in groups}
    slim = {**study, "runs": [{k: v for k, v in r.items() if k != "grid"} for r in study["runs"]],
            "ranking": {g: rows[:STUDY_JSON_RANKS] for g, rows in study["ranking"].items()}}
    write_file(outdir / "study.json", json.dumps(_rounded(jsonable(slim)), allow_nan=False), "JSON")
    write_file(outdir / "study.md", study_markdown(jsonable(study)), "Markdown")
    return study


def rank_configs(study: dict[str, Any], group: str, top: int | None = 12) -> list[dict[str, Any]]:
    """Rank every configuration run on every study pair of ``group`` (``"<basis>/<rounding>"``).

    A run without a ``group`` key belongs to the group named by its ``basis``.
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
