"""Test D of the handoff: the affinities the self and cross gates see, and what their ``mean`` gate keeps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fastshade.pipeline.cross import self_gate_fraction
from fastshade.pipeline.results import Analysis, Placement
from fastshade.pipeline.shading import pixel_affinity

__all__ = ["affinity_stats", "cross_affinities", "self_affinities"]


def affinity_stats(values: np.ndarray, keep: np.ndarray) -> dict[str, Any]:
    """Summary of per-pixel affinities ``values`` and per-placement keep fractions ``keep`` (JSON-ready)."""
    if values.size == 0:
        return {"pixels": 0}
    return {"pixels": int(values.size), "mean": float(values.mean()), "median": float(np.median(values)),
            "std": float(values.std()), "share_positive": float(np.mean(values > 0)),
            "placements": int(keep.size),
            "mean_gate_keep_fraction": float(keep.mean()) if keep.size else None}


def self_affinities(an_t: Analysis, placements: Sequence[Placement]) -> tuple[np.ndarray, np.ndarray]:
    """Affinities ``phi_t[dst] . phi_t[src]`` the handoff's self gate would see, and what it would keep.

    Returns the affinities of every in-bounds pixel of the self ``placements`` (concatenated)
    and, per placement, the fraction its ``mean`` gate would keep; both empty without a basis.
    """
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


def cross_affinities(placements: Sequence[Placement]) -> tuple[np.ndarray, np.ndarray]:
    """Collect the logged affinities of cross ``placements`` and, per placement, the share above its mean.

    Placements without an affinity log or without an in-bounds pixel are skipped.
    """
    vals, keep = [], []
    for p in placements:
        if p.affinity is None or not p.attempted.any():
            continue
        a = p.affinity[p.attempted]
        vals.append(a)
        keep.append(float(np.mean(a > a.mean())))
    return (np.concatenate(vals) if vals else np.zeros(0)), np.asarray(keep, dtype=np.float64)
