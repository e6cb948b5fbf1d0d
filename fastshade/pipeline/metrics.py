"""Fragmentation metrics of a shadow placement log (``original-system.md`` §7).

Computed from :class:`fastshade.pipeline.results.Placement` records plus the owner map of
the final image (which placement wrote each pixel last, :func:`owner_map`), so
"visible" means "written by this placement and not overwritten by a later one".

A placement's pixels pass four stages, and every stage is measured:
``source`` (pixels the placement tried to copy) -> ``attempted`` (destination in
bounds) -> ``kept`` (passed the affinity gate) -> ``written`` (passed the ink
guard) -> ``visible`` (not overwritten later).  ``retention = visible / source``;
``run_ratio`` and ``fragments`` are measured on the visible pixels (§7.3, §7.4)
and, as ``kept_run_ratio`` / ``kept_fragments``, on the kept pixels, which
separates what the affinity gate breaks from what the ink guard and later
placements hide.

:func:`goal_check` applies the acceptance goal of the cross-attention study and
:func:`parity` compares two runs' metrics exactly (§7.10).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fastshade.pipeline.components import label_components

if TYPE_CHECKING:  # pragma: no cover
    from fastshade.pipeline.results import Placement, ShadeResult


def longest_run(bins: np.ndarray) -> int:
    """Length of the longest run of consecutive integers in ``bins`` (any order, duplicates ok)."""
    if bins.size == 0:
        return 0
    u = np.unique(bins)
    breaks = np.flatnonzero(np.diff(u) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [u.size - 1]])
    return int((ends - starts + 1).max())


def principal_axis(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Unit principal axis (y, x) of a point set (first PCA direction; (0, 1) if degenerate)."""
    if ys.size < 2:
        return np.array([0.0, 1.0])
    pts = np.stack([ys, xs], axis=1).astype(np.float64)
    cov = np.cov(pts, rowvar=False, bias=True)
    vals, vecs = np.linalg.eigh(cov)
    axis = vecs[:, -1]
    if vals[-1] <= 0:
        return np.array([0.0, 1.0])
    # deterministic sign: first non-zero component positive
    nz = axis[np.flatnonzero(np.abs(axis) > 1e-12)[0]]
    return axis if nz > 0 else -axis


def pixel_footprint(axis: np.ndarray) -> float:
    """Width of a unit pixel's projection onto the unit ``axis``: ``|a_y| + |a_x|``
    (1 along a grid axis, sqrt(2) along a diagonal).
    """
    return float(abs(axis[0]) + abs(axis[1]))


def longest_covered_span(proj: np.ndarray, width: float) -> float:
    """Longest span covered by the union of the intervals ``[p - width/2, p + width/2]``.

    Consecutive sorted projections at most ``width`` apart (touching footprints) belong
    to one run.  Along a grid axis (``width = 1``) this is :func:`longest_run` of the
    1-px bins; along other directions it does not break an 8-connected stroke whose
    pixels are up to ``width`` apart.  0 for an empty array.
    """
    if proj.size == 0:
        return 0.0
    u = np.sort(proj)
    breaks = np.flatnonzero(np.diff(u) > width + 1e-9)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [u.size - 1]])
    return float((u[ends] - u[starts]).max() + width)


def run_length_ratio(full_y: np.ndarray, full_x: np.ndarray, vis_y: np.ndarray, vis_x: np.ndarray) -> float:
    """Run length along the principal axis over the unmasked extent (§7.3).

    Axis: first PCA direction of the full (unmasked) placement.  Each pixel covers its
    footprint on the axis (:func:`pixel_footprint`: 1 px along a grid axis, so this is
    "bin at 1 px, longest run of consecutive occupied bins"); the longest covered span
    of the visible pixels divided by the span of the full placement.  NaN for an empty
    placement, 0 when nothing is visible.
    """
    if full_y.size == 0:
        return float("nan")
    axis = principal_axis(full_y, full_x)
    width = pixel_footprint(axis)
    proj_full = full_y * axis[0] + full_x * axis[1]
    extent = float(proj_full.max() - proj_full.min() + width)
    if vis_y.size == 0:
        return 0.0
    proj_vis = vis_y * axis[0] + vis_x * axis[1]
    return min(longest_covered_span(proj_vis, width) / extent, 1.0)


def fragments(vis_y: np.ndarray, vis_x: np.ndarray) -> int:
    """Number of 8-connected components among the visible pixels of one placement."""
    if vis_y.size == 0:
        return 0
    y0, x0 = vis_y.min(), vis_x.min()
    mask = np.zeros((vis_y.max() - y0 + 1, vis_x.max() - x0 + 1), dtype=bool)
    mask[vis_y - y0, vis_x - x0] = True
    return label_components(mask, connectivity=8).n


def usage_entropy(sources: Sequence[int]) -> float:
    """Shannon entropy (bits) of the histogram of source components used."""
    if not len(sources):
        return 0.0
    _, counts = np.unique(np.asarray(sources), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _median(values: Sequence[float]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(vals)) if vals else None


def _mean(values: Sequence[float]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def owner_map(placements: Sequence[Placement], shape: tuple[int, int]) -> np.ndarray:
    """(H, W) int32 map of the index of the last placement that wrote each pixel (-1 none).

    The same rule as :func:`fastshade.pipeline.shader.shade_arrays` (placements are written in
    order, last write wins).
    """
    h, w = shape
    owner = np.full(h * w, -1, dtype=np.int32)
    for idx, p in enumerate(placements):
        owner[(p.dst_y * w + p.dst_x)[p.written]] = idx
    return owner.reshape(h, w)


def placement_records(placements: Sequence[Placement], owner: np.ndarray,
                      target_sizes: np.ndarray) -> list[dict[str, Any]]:
    """Per-placement metrics: stage counts, retention, run-length ratio, fragments, size ratio.

    ``owner`` is the (H, W) :func:`owner_map`; ``target_sizes[i]`` the size of target
    component ``i`` (the one that elicited the placement).  Run ratios are measured
    against the placement's full (unmasked, in- and out-of-bounds) destination set.
    """
    h, w = owner.shape
    flat_owner = owner.ravel()
    out = []
    for idx, p in enumerate(placements):
        wflat = (p.dst_y * w + p.dst_x)[p.written]
        vis = wflat[flat_owner[wflat] == idx]
        vy, vx = np.divmod(vis, w)
        ky, kx = p.dst_y[p.kept], p.dst_x[p.kept]
        visible = int(vis.size)
        src = int(p.source_flat.size)
        attempted, kept, written = int(p.attempted.sum()), int(p.kept.sum()), int(p.written.sum())
        out.append({
            "target_component": int(p.target_component),
            "source_component": int(p.source_component),
            "source_pixels": src,
            "attempted_pixels": attempted,
            "kept_pixels": kept,
            "written_pixels": written,
            "visible_pixels": visible,
            "retention": visible / src if src else float("nan"),
            "gate_retention": kept / attempted if attempted else float("nan"),
            "guard_retention": written / kept if kept else float("nan"),
            "survival": visible / written if written else float("nan"),
            "run_ratio": run_length_ratio(p.dst_y, p.dst_x, vy, vx),
            "kept_run_ratio": run_length_ratio(p.dst_y, p.dst_x, ky, kx),
            "fragments": fragments(vy, vx),
            "kept_fragments": fragments(ky, kx),
            "size_ratio": src / float(target_sizes[p.target_component]),
            "score": p.score,
            "score_margin": p.score_margin,
        })
    return out


def summarise(records: list[dict[str, Any]], n_candidates: int | None = None) -> dict[str, Any]:
    """Aggregate per-placement records into the §7 summary metrics.

    Run ratios and fragments are averaged over the placements with at least one
    visible (resp. kept) pixel; ``None`` stands for "undefined" (no placements).
    """
    n = len(records)
    visible = np.array([r["visible_pixels"] for r in records], dtype=np.float64)
    sources = [r["source_component"] for r in records]
    placed = [r for r in records if r["visible_pixels"] > 0]
    kept = [r for r in records if r["kept_pixels"] > 0]
    size_ratios = [r["size_ratio"] for r in records if r["size_ratio"] > 0]
    counts = np.unique(np.asarray(sources), return_counts=True)[1] if n else np.array([0])
    return {
        "placements": n,
        "placed": len(placed),
        "median_visible_pixels": _median(visible.tolist()),
        "share_pixels_in_large_placements": (float(visible[visible >= 50].sum() / visible.sum())
                                             if visible.sum() > 0 else None),
        "mean_retention": _mean([r["retention"] for r in records]),
        "share_low_retention": (float(np.mean([r["retention"] < 0.5 for r in records])) if n else None),
        "mean_gate_retention": _mean([r["gate_retention"] for r in records]),
        "mean_guard_retention": _mean([r["guard_retention"] for r in records]),
        "mean_survival": _mean([r["survival"] for r in records]),
        "median_run_ratio": _median([r["run_ratio"] for r in placed]),
        "mean_run_ratio": _mean([r["run_ratio"] for r in placed]),
        "median_kept_run_ratio": _median([r["kept_run_ratio"] for r in kept]),
        "mean_fragments": _mean([float(r["fragments"]) for r in placed]),
        "mean_kept_fragments": _mean([float(r["kept_fragments"]) for r in kept]),
        "distinct_sources": len(set(sources)),
        "reuse_diversity": (len(set(sources)) / n) if n else None,
        "usage_entropy_bits": usage_entropy(sources) + 0.0,
        "max_source_share": float(counts.max() / n) if n else None,
        "candidates": n_candidates,
        "median_size_ratio": _median(size_ratios),
        "log_size_ratio_std": (float(np.std(np.log(size_ratios))) if size_ratios else None),
        "median_score_margin": _median([r["score_margin"] for r in records]),
    }


def result_metrics(res: ShadeResult) -> dict[str, Any]:
    """All §7 metrics of one shading run (summary + per-placement records)."""
    if res.target is None or res.owner is None:
        raise ValueError("result_metrics needs a ShadeResult with its target analysis and owner map")
    records = placement_records(res.placements, res.owner, res.target.components.sizes)
    n_cand = res.sample.components.n if res.sample is not None else res.target.components.n
    summary = summarise(records, n_cand)
    low = res.target.low
    summary["connectivity_components_4"] = label_components(low, connectivity=4, min_size=1).n
    summary["connectivity_components_8"] = label_components(low, connectivity=8, min_size=1).n
    return {"summary": summary, "placements": records}


# ----------------------------------------------------------------------------------------
# acceptance goal and parity
# ----------------------------------------------------------------------------------------

GOAL_RUN_RATIO_TOLERANCE = 0.10
"""The median run-length ratio may be at most 10 % below self mode's on the same target."""
GOAL_MAX_FRAGMENTS = 1.2
"""Mean fragments per placement."""
GOAL_MIN_RETENTION = 0.9
"""Mean retention."""
GOAL_MAX_SOURCE_SHARE = 0.5
"""No sample component used by more than half the placements ..."""
GOAL_MIN_CANDIDATES = 4
"""... when the sample has at least this many candidate components."""

PARITY_KEYS = (
    "placements", "placed", "median_visible_pixels", "share_pixels_in_large_placements",
    "mean_retention", "share_low_retention", "median_run_ratio", "mean_fragments",
    "distinct_sources", "reuse_diversity", "usage_entropy_bits", "max_source_share",
)
"""Summary metrics 1-6 of §7 that a parity run must reproduce exactly (§7.10)."""

PARITY_RECORD_KEYS = ("target_component", "source_component", "source_pixels", "visible_pixels",
                      "retention", "run_ratio", "fragments")
"""Per-placement fields compared by :func:`parity`."""


def goal_check(summary: dict[str, Any], self_summary: dict[str, Any]) -> dict[str, Any]:
    """The study's acceptance goal for a cross run against self mode on the same target.

    ``run_ratio``: median run ratio >= (1 - 10 %) x self's (one-sided: longer runs
    than self never fail; ``run_ratio_rel`` reports the signed relative difference);
    ``fragments``: mean fragments per placement <= 1.2; ``retention``: mean retention
    >= 0.9; ``reuse``: max source share <= 0.5 when there are >= 4 candidates (and at
    least 2 placements: one retrieval cannot be "reused").
    An undefined metric (no placements) fails.  Returns the checks, the numbers and
    ``passed`` (all four).

    ``passed_relative_to_self`` relaxes the two absolute bars that self mode itself can
    miss on dense targets (fragments, retention): a miss counts as inherited from the
    target, not caused by cross machinery, when the figure is within 10 % of self's
    (fragments <= 1.1 x self's, retention >= 0.9 x self's).
    """
    run, run_self = summary.get("median_run_ratio"), self_summary.get("median_run_ratio")
    frag, ret = summary.get("mean_fragments"), summary.get("mean_retention")
    share, cand = summary.get("max_source_share"), summary.get("candidates") or 0
    rel = (run / run_self - 1.0) if (run is not None and run_self) else None
    checks = {
        "run_ratio": run is not None and run_self is not None
        and run >= (1.0 - GOAL_RUN_RATIO_TOLERANCE) * run_self - 1e-12,
        "fragments": frag is not None and frag <= GOAL_MAX_FRAGMENTS + 1e-12,
        "retention": ret is not None and ret >= GOAL_MIN_RETENTION - 1e-12,
        "reuse": cand < GOAL_MIN_CANDIDATES or (summary.get("placements") or 0) < 2
        or (share is not None and share <= GOAL_MAX_SOURCE_SHARE + 1e-12),
    }
    frag_self, ret_self = self_summary.get("mean_fragments"), self_summary.get("mean_retention")
    relative = dict(checks)
    if not checks["fragments"] and frag is not None and frag_self is not None:
        relative["fragments"] = frag <= (1.0 + GOAL_RUN_RATIO_TOLERANCE) * frag_self + 1e-12
    if not checks["retention"] and ret is not None and ret_self is not None:
        relative["retention"] = ret >= (1.0 - GOAL_RUN_RATIO_TOLERANCE) * ret_self - 1e-12
    return {"passed": all(checks.values()), "checks": checks, "run_ratio_rel": rel,
            "self_median_run_ratio": run_self,
            "passed_relative_to_self": all(relative.values()), "relative_checks": relative}


def parity(self_metrics: dict[str, Any], cross_metrics: dict[str, Any]) -> dict[str, Any]:
    """Exact comparison of two :func:`result_metrics` outputs (§7.10 parity test).

    Returns ``{"exact": bool, "differences": {key: [self, cross]}, "placements_differ": n}``
    over :data:`PARITY_KEYS` of the summaries and :data:`PARITY_RECORD_KEYS` of each
    placement record (NaN equals NaN).
    """
    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return a == b

    s, c = self_metrics["summary"], cross_metrics["summary"]
    diffs = {k: [s.get(k), c.get(k)] for k in PARITY_KEYS if not same(s.get(k), c.get(k))}
    rs, rc = self_metrics["placements"], cross_metrics["placements"]
    bad = sum(1 for a, b in zip(rs, rc) if not all(same(a[k], b[k]) for k in PARITY_RECORD_KEYS))
    bad += abs(len(rs) - len(rc))
    return {"exact": not diffs and bad == 0, "differences": diffs, "placements_differ": bad}
