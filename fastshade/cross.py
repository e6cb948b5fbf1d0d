"""Cross-mode shadow: WHERE = the target's low-gate components, WHAT = sample
components chosen by cross-attention between spectral signatures.

The baseline (``cross_strategy="unified"``) is the handoff's "unified placement"
with the departures from the original HEAD code listed in the README: sample
candidates are the sample's own low-gate components (not all of its ink), every
target component is placed (no median-size filter), and the copy uses the same
rotation, translation and ink guard as self mode through the affinity-gated copy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fastshade.shading import gated_copy, hue_rotate, pixel_affinity, place_component

if TYPE_CHECKING:  # pragma: no cover
    from fastshade.options import ShadeOptions
    from fastshade.shader import Analysis, Placement


def procrustes_align(phi_t: np.ndarray, phi_s: np.ndarray, shape_t: tuple[int, int],
                     shape_s: tuple[int, int], *, samples: int = 1000, seed: int = 42) -> np.ndarray:
    """Orthogonal Procrustes alignment of the sample basis to the target basis.

    ``original-system.md`` §3.10: ``n = min(samples, H*W, Hs*Ws)`` target pixels drawn
    without replacement (seeded), anchored to the sample pixel at the same relative
    position; ``R = U V^T`` from the SVD of ``phi_s[anchors]^T phi_t[anchors]``.
    Returns ``phi_s @ R`` ((n_s, k) float64).
    """
    h, w = shape_t
    hs, ws = shape_s
    n = int(min(samples, h * w, hs * ws))
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(h * w, size=n, replace=False))
    ty, tx = np.divmod(pick, w)
    sy = np.clip((ty * hs) // h, 0, hs - 1)
    sx = np.clip((tx * ws) // w, 0, ws - 1)
    m = phi_s[sy * ws + sx].T @ phi_t[pick]
    u, _, vt = np.linalg.svd(m)
    return np.ascontiguousarray(phi_s @ (u @ vt))


def component_signatures(phi: np.ndarray, comps: Any) -> np.ndarray:
    """Mean basis row over each component: (n_components, k) float64."""
    k = phi.shape[1]
    if comps.n == 0:
        return np.zeros((0, k))
    sums = np.add.reduceat(phi[comps.pixels], comps.indptr[:-1], axis=0)
    return sums / comps.sizes[:, None]


def match_scores(sig_t: np.ndarray, sig_s: np.ndarray, score: str) -> np.ndarray:
    """Score matrix (n_t, n_s); larger is better.

    ``dot``: ``|sig_t . sig_s|`` (the original's unnormalised score, biased to small
    components: H5); ``cosine``: ``|cos|``.
    """
    raw = sig_t @ sig_s.T
    if score == "dot":
        return np.abs(raw)
    if score == "cosine":
        nt = np.linalg.norm(sig_t, axis=1)[:, None]
        ns = np.linalg.norm(sig_s, axis=1)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.abs(raw) / (nt * ns)
        return np.nan_to_num(cos, nan=0.0)
    raise ValueError(f"unknown score {score!r}")


def score_margin(row: np.ndarray) -> float:
    """Best minus second-best score after min-max normalising the row to [0, 1]."""
    if row.size < 2:
        return float("nan")
    lo, hi = float(row.min()), float(row.max())
    if hi <= lo:
        return 0.0
    top2 = np.sort((row - lo) / (hi - lo))[-2:]
    return float(top2[1] - top2[0])


def affinity_keep(affinity: np.ndarray, inside: np.ndarray, mode: str) -> np.ndarray:
    """The copy gate: which in-bounds source pixels pass the affinity threshold."""
    keep = inside.copy()
    if mode == "none" or not inside.any():
        return keep
    vals = affinity[inside]
    if mode == "mean":
        thr = vals.mean()
    elif mode.startswith("quantile:"):
        thr = np.quantile(vals, float(mode.split(":", 1)[1]))
    else:
        raise ValueError(f"unknown affinity threshold {mode!r}")
    keep[inside] = vals > thr
    return keep


def shadow_cross(out: np.ndarray, an_t: "Analysis", an_s: "Analysis",
                 opts: "ShadeOptions") -> tuple[list["Placement"], dict[str, Any]]:
    """Paint cross-mode shadows into ``out`` (in place); return placements and info."""
    from fastshade.shader import Placement, component_shift

    h, w = an_t.shape
    hs, ws = an_s.shape
    info: dict[str, Any] = {"strategy": opts.cross_strategy, "score": opts.score,
                            "affinity_threshold": opts.affinity_threshold,
                            "procrustes": opts.procrustes,
                            "sample_candidates": int(an_s.components.n)}
    placements: list[Placement] = []
    if an_t.basis is None or an_s.basis is None or an_t.components.n == 0 or an_s.components.n == 0:
        return placements, info
    phi_t = np.ascontiguousarray(an_t.basis.vectors)
    phi_s = np.ascontiguousarray(an_s.basis.vectors)
    if an_s is not an_t and opts.procrustes:
        phi_s = procrustes_align(phi_t, phi_s, (h, w), (hs, ws),
                                 samples=opts.procrustes_samples, seed=opts.seed)
    sig_t = component_signatures(phi_t, an_t.components)
    sig_s = component_signatures(phi_s, an_s.components)
    scores = match_scores(sig_t, sig_s, opts.score)
    same_image = an_s is an_t
    src_rgb = out if same_image else an_s.rgb
    for i in range(an_t.components.n):
        row = scores[i]
        j = int(np.argmax(row))
        src = an_s.components.pixels_of(j)
        sy, sx = np.divmod(src, ws)
        c_src = (float(an_s.components.centroids[j, 0]), float(an_s.components.centroids[j, 1]))
        c_dst = (float(an_t.components.centroids[i, 0]), float(an_t.components.centroids[i, 1]))
        shift = component_shift(an_t, c_dst, opts.shadow_distance)
        colours = hue_rotate(src_rgb.reshape(-1, 3)[src], opts.hue_angle)
        dy, dx, inside = place_component(sy, sx, c_src, c_dst, (h, w), quarter_turns=1, shift=shift)
        dst_flat = np.where(inside, dy * w + dx, 0)
        aff = pixel_affinity(phi_t, phi_s, dst_flat, src, inside)
        keep = affinity_keep(aff, inside, opts.affinity_threshold)
        written = gated_copy(out, colours, dy, dx, keep, an_t.carrier, opts.ink_guard)
        placements.append(Placement(
            target_component=i, source_component=j, source_flat=src,
            dst_flat=(dy * w + dx)[inside], attempted=inside, kept=keep, written=written,
            dst_y=dy, dst_x=dx, centroid=c_dst, shift=shift,
            score=float(row[j]), score_margin=score_margin(row), affinity=aff,
        ))
    return placements, info
