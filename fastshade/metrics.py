"""Fragmentation metrics of a shadow placement log (``original-system.md`` §7).

Computed from :class:`fastshade.shader.Placement` records plus the owner map of
the final image (which placement wrote each pixel last), so "visible" means
"written by this placement and not overwritten by a later one".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from fastshade.components import label_components

if TYPE_CHECKING:  # pragma: no cover
    from fastshade.shader import Placement, ShadeResult


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


def run_length_ratio(full_y: np.ndarray, full_x: np.ndarray, vis_y: np.ndarray, vis_x: np.ndarray) -> float:
    """Longest run of occupied 1-px bins of the visible pixels along the principal axis of
    the full (unmasked) placement, over the full placement's projected extent (in bins)."""
    if full_y.size == 0:
        return float("nan")
    axis = principal_axis(full_y, full_x)
    proj_full = np.floor(full_y * axis[0] + full_x * axis[1] + 1e-9).astype(np.int64)
    extent = int(proj_full.max() - proj_full.min() + 1)
    if vis_y.size == 0:
        return 0.0
    proj_vis = np.floor(vis_y * axis[0] + vis_x * axis[1] + 1e-9).astype(np.int64)
    return longest_run(proj_vis) / extent


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


def placement_records(placements: "Sequence[Placement]", owner: np.ndarray,
                      target_sizes: np.ndarray) -> list[dict[str, Any]]:
    """Per-placement metrics: sizes, retention, run-length ratio, fragments, size ratio."""
    h, w = owner.shape
    flat_owner = owner.ravel()
    out = []
    for idx, p in enumerate(placements):
        wflat = (p.dst_y * w + p.dst_x)[p.written]
        vis = wflat[flat_owner[wflat] == idx]
        vy, vx = np.divmod(vis, w)
        visible = int(vis.size)
        src = int(p.source_flat.size)
        out.append({
            "source_pixels": src,
            "attempted_pixels": int(p.attempted.sum()),
            "kept_pixels": int(p.kept.sum()),
            "written_pixels": int(p.written.sum()),
            "visible_pixels": visible,
            "retention": visible / src if src else float("nan"),
            "gate_retention": float(p.kept.sum() / max(p.attempted.sum(), 1)),
            "run_ratio": run_length_ratio(p.dst_y, p.dst_x, vy, vx),
            "fragments": fragments(vy, vx),
            "size_ratio": src / float(target_sizes[p.target_component]),
            "source_component": int(p.source_component),
            "score_margin": p.score_margin,
        })
    return out


def summarise(records: list[dict[str, Any]], n_candidates: int | None = None) -> dict[str, Any]:
    """Aggregate per-placement records into the §7 summary metrics."""
    n = len(records)
    visible = np.array([r["visible_pixels"] for r in records], dtype=np.float64)
    sources = [r["source_component"] for r in records]
    placed = [r for r in records if r["visible_pixels"] > 0]
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
        "median_run_ratio": _median([r["run_ratio"] for r in placed]),
        "mean_fragments": _mean([float(r["fragments"]) for r in placed]),
        "distinct_sources": len(set(sources)),
        "reuse_diversity": (len(set(sources)) / n) if n else None,
        "usage_entropy_bits": usage_entropy(sources),
        "max_source_share": float(counts.max() / n) if n else None,
        "candidates": n_candidates,
        "median_size_ratio": _median(size_ratios),
        "log_size_ratio_std": (float(np.std(np.log(size_ratios))) if size_ratios else None),
        "median_score_margin": _median([r["score_margin"] for r in records]),
    }


def result_metrics(res: "ShadeResult") -> dict[str, Any]:
    """All §7 metrics of one shading run (summary + per-placement records)."""
    assert res.target is not None and res.owner is not None
    records = placement_records(res.placements, res.owner, res.target.components.sizes)
    n_cand = res.sample.components.n if res.sample is not None else res.target.components.n
    summary = summarise(records, n_cand)
    low = res.target.low
    summary["connectivity_components_4"] = label_components(low, connectivity=4, min_size=1).n
    summary["connectivity_components_8"] = label_components(low, connectivity=8, min_size=1).n
    return {"summary": summary, "placements": records}
