"""Cross-mode shadow: WHERE = the target's low-gate components, WHAT = chosen by
cross-attention between the target's and the sample's components.

Entry point (called by :func:`fastshade.pipeline.shader.shade_arrays`)::

    placements, info = shadow_cross(out, an_t, an_s, opts)

Every strategy visits the target's low-gate components in order (the same WHERE as
self mode), picks a sample component ``j`` for each by ``opts.score``, and writes a
hue-rotated copy rotated 90° about the target centroid, pushed ``shadow_distance``
along the void direction, through the affinity gate ``opts.affinity_threshold`` and
the ink guard.  They differ in what the copied pixels and colours are
(``opts.cross_strategy``):

``unified`` (the handoff's "unified placement", the baseline)
    The sample component's own pixels, relative to its centroid, placed at the target
    centroid; colours from the sample.  Departures from the original HEAD code, as in
    the README: sample candidates are the sample's own low-gate components (not all of
    its ink), every target component is placed (no median-size filter), and the copy
    uses the same rotation, translation and ink guard as self mode through the
    affinity-gated copy.  ``scale_normalise`` (H4) first resizes the sample component
    so its principal-axis extent equals the target component's.  The handoff's
    baseline is ``unified`` with ``score="dot"``, ``affinity_threshold="mean"``,
    ``procrustes=True``, ``scale_normalise=False``.
``warp`` (fix B)
    The sample component warped onto the target component's principal frame: its
    principal axis turned onto the target's, its extent along and across the axis
    stretched to the target's (inverse-mapped, so no holes), then placed like self.
    Geometry follows the target's orientation and size, detail and colours the sample.
``recolor`` (fix A)
    The target component's own pixels (self geometry), recoloured from the matched
    sample component's palette: per-channel quantile (histogram) matching.
``gate-only`` (fix C)
    Self geometry; cross-attention only decides which target components are active
    (best match score at least the median best score) and their colour (the
    component's colours shifted to the sample component's mean colour).

Scores (``opts.score``): ``dot`` = ``|sig_t . sig_s|`` of mean basis rows (the
original, norm-biased to small components: H5), ``cosine`` = ``|cos|`` of the same,
``signature`` = ``-||z_t - z_s||²`` of the 4-D segment signature
``[mean f, std f, log(N+1), aspect]`` z-normalised per image (``original-system.md``
§5.3).  ``procrustes`` (H3) aligns the sample basis to the target's before ``dot``,
``cosine`` and the per-pixel affinity.

Affinity gate (``opts.affinity_threshold``), per placement over its in-bounds pixels,
with ``affinity_j = phi_t[dst_j] . phi_src[src_j]`` (``phi_src`` the basis of the image
the pixel's geometry comes from): ``mean`` keeps ``affinity > mean``; ``none`` keeps
all; ``quantile:Q`` keeps ``affinity > quantile(affinity, Q)``; ``calibrated`` keeps the
same *fraction* of pixels as the ``mean`` gate keeps on the self copy of the same
target component (the handoff's self gate), highest affinities first (fix D).

When the sample is the target (the same :class:`~fastshade.pipeline.results.Analysis` object or
an identical image) no Procrustes rotation is applied and colours are read from the
output being painted, exactly as self mode does: the parity diagnostic.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from fastshade.options import CROSS_SCORES, CROSS_STRATEGIES, ShadeOptions, affinity_threshold_mode
from fastshade.pipeline.placement import free_paper, shadow_destination
from fastshade.pipeline.results import Analysis, Placement
from fastshade.pipeline.sample_strokes import nearest_pixels, stroke_candidates, stroke_pixels
from fastshade.pipeline.shading import gated_copy, hue_rotate, pixel_affinity, place_component
from fastshade.seeds import seeded_generator

if TYPE_CHECKING:  # pragma: no cover
    from fastshade.pipeline.components import Components

__all__ = [
    "STRATEGIES",
    "SCORES",
    "affinity_keep",
    "component_signatures",
    "match_scores",
    "parse_affinity_threshold",
    "principal_frame",
    "procrustes_align",
    "quantile_recolour",
    "resample_affine",
    "score_margin",
    "segment_signatures",
    "shadow_cross",
    "warp_matrix",
    "znormalise",
]

STRATEGIES = CROSS_STRATEGIES
"""Valid values of ``ShadeOptions.cross_strategy``."""

SCORES = CROSS_SCORES
"""Valid values of ``ShadeOptions.score``."""

SIGNATURE_EPS = 1e-8
"""Added to the per-segment std of f in the 4-D signature (``original-system.md`` §5.3)."""


# ----------------------------------------------------------------------------------------
# options
# ----------------------------------------------------------------------------------------


parse_affinity_threshold = affinity_threshold_mode
"""Alias of :func:`fastshade.options.affinity_threshold_mode`."""


# ----------------------------------------------------------------------------------------
# spectral bases and matching scores
# ----------------------------------------------------------------------------------------


def procrustes_align(phi_t: np.ndarray, phi_s: np.ndarray, shape_t: tuple[int, int],
                     shape_s: tuple[int, int], *, samples: int = 1000, seed: int = 42) -> np.ndarray:
    """Orthogonal Procrustes alignment of the sample basis to the target basis.

    ``original-system.md`` §3.10: ``n = min(samples, H*W, Hs*Ws)`` target pixels drawn
    without replacement (seeded), anchored to the sample pixel at the same relative
    position; ``R = U V^T`` from the SVD of ``phi_s[anchors]^T phi_t[anchors]``.
    Returns ``phi_s @ R`` ((n_s, k) float64, newly allocated).
    """
    h, w = shape_t
    hs, ws = shape_s
    n = int(min(samples, h * w, hs * ws))
    rng = seeded_generator(seed)
    pick = np.sort(rng.choice(h * w, size=n, replace=False))
    ty, tx = np.divmod(pick, w)
    sy = np.clip((ty * hs) // h, 0, hs - 1)
    sx = np.clip((tx * ws) // w, 0, ws - 1)
    m = phi_s[sy * ws + sx].T @ phi_t[pick]
    u, _, vt = np.linalg.svd(m)
    return np.ascontiguousarray(phi_s @ (u @ vt))


def component_signatures(phi: np.ndarray, comps: Components) -> np.ndarray:
    """Mean basis row over each component: (n_components, k) float64 (the v12 signature)."""
    k = phi.shape[1]
    if comps.n == 0:
        return np.zeros((0, k))
    sums = np.add.reduceat(phi[comps.pixels], comps.indptr[:-1], axis=0)
    return sums / comps.sizes[:, None]


def segment_signatures(field: np.ndarray, comps: Components) -> np.ndarray:
    """4-D segment signature of ``original-system.md`` §5.3, one row per component.

    ``[mean f, std f + 1e-8, log(N + 1), (x1 - x0) / max(y1 - y0, 1)]`` over the
    component's pixels (std unbiased, 0 for a single pixel; ``x1, y1`` end-exclusive
    bounding box).  ``field`` is the image's own gating field, (H, W) float.
    Returns (n, 4) float64.
    """
    out = np.zeros((comps.n, 4))
    if comps.n == 0:
        return out
    f = np.asarray(field, dtype=np.float64).ravel()
    vals = f[comps.pixels]
    starts = comps.indptr[:-1]
    sizes = comps.sizes.astype(np.float64)
    mean = np.add.reduceat(vals, starts) / sizes
    sq = np.add.reduceat((vals - np.repeat(mean, comps.sizes)) ** 2, starts)
    std = np.sqrt(np.where(sizes > 1, sq / np.maximum(sizes - 1, 1), 0.0))
    y0, x0, y1, x1 = (comps.bbox[:, c].astype(np.float64) for c in range(4))
    out[:, 0] = mean
    out[:, 1] = std + SIGNATURE_EPS
    out[:, 2] = np.log(sizes + 1.0)
    out[:, 3] = (x1 - x0) / np.maximum(y1 - y0, 1.0)
    return out


def znormalise(sig: np.ndarray) -> np.ndarray:
    """Z-normalise each column within one image (unbiased std; a column with one row or
    zero spread is only centred, never divided by 0).  Returns a new (n, d) array.
    """
    sig = np.asarray(sig, dtype=np.float64)
    if sig.shape[0] == 0:
        return sig.copy()
    mu = sig.mean(axis=0)
    sd = sig.std(axis=0, ddof=1) if sig.shape[0] > 1 else np.zeros(sig.shape[1])
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    return (sig - mu) / sd


def match_scores(sig_t: np.ndarray, sig_s: np.ndarray, score: str) -> np.ndarray:
    """Score matrix (n_t, n_s); larger is better.

    ``dot``: ``|sig_t . sig_s|`` (the original's unnormalised score, biased to small
    components: H5); ``cosine``: ``|cos|``; ``signature``: ``-||sig_t - sig_s||²``
    (pass z-normalised 4-D signatures, :func:`segment_signatures` + :func:`znormalise`).
    """
    if score == "signature":
        d = sig_t[:, None, :] - sig_s[None, :, :]
        return -np.einsum("ijk,ijk->ij", d, d)
    raw = sig_t @ sig_s.T
    if score == "dot":
        return np.abs(raw)
    if score == "cosine":
        nt = np.linalg.norm(sig_t, axis=1)[:, None]
        ns = np.linalg.norm(sig_s, axis=1)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.abs(raw) / (nt * ns)
        return np.nan_to_num(cos, nan=0.0)
    raise ValueError(f"score must be one of {', '.join(SCORES)}, got {score!r}")


def score_margin(row: np.ndarray) -> float:
    """Best minus second-best score after min-max normalising the row to [0, 1] (§7.8).

    NaN for fewer than two candidates; 0 when all candidates score the same.
    """
    if row.size < 2:
        return float("nan")
    lo, hi = float(row.min()), float(row.max())
    if hi <= lo:
        return 0.0
    top2 = np.sort((row - lo) / (hi - lo))[-2:]
    return float(top2[1] - top2[0])


# ----------------------------------------------------------------------------------------
# the affinity gate
# ----------------------------------------------------------------------------------------


def affinity_keep(affinity: np.ndarray, inside: np.ndarray, mode: str,
                  keep_fraction: float | None = None) -> np.ndarray:
    """The copy gate: which in-bounds pixels pass the affinity threshold.

    Parameters
    ----------
    affinity : (m,) float64
        Per-pixel affinity (NaN outside).
    inside : (m,) bool
        In-bounds pixels; the gate never keeps a pixel that is not inside.
    mode : str
        ``mean`` | ``none`` | ``quantile:Q`` | ``calibrated`` (see the module docstring).
    keep_fraction : float
        ``calibrated`` only: the fraction of the inside pixels to keep (highest
        affinity first, ties by index).

    Returns
    -------
    (m,) bool ndarray, newly allocated.
    """
    kind, q = parse_affinity_threshold(mode)
    keep = np.asarray(inside, dtype=bool).copy()
    if kind == "none" or not keep.any():
        return keep
    vals = affinity[keep]
    if kind == "mean":
        keep[keep] = vals > vals.mean()
    elif kind == "quantile":
        keep[keep] = vals > np.quantile(vals, q)
    else:  # calibrated
        if keep_fraction is None or not math.isfinite(keep_fraction):
            raise ValueError("affinity_threshold 'calibrated' needs keep_fraction")
        n_keep = int(round(min(max(keep_fraction, 0.0), 1.0) * vals.size))
        order = np.argsort(-vals, kind="stable")
        sel = np.zeros(vals.size, dtype=bool)
        sel[order[:n_keep]] = True
        keep[keep] = sel
    return keep


def self_gate_fraction(phi_t: np.ndarray, src: np.ndarray, dst_flat: np.ndarray,
                       inside: np.ndarray) -> float:
    """Fraction of a self copy's in-bounds pixels that the ``mean`` gate keeps
    (affinity ``phi_t[dst] . phi_t[src]``); 1.0 when nothing is inside.
    """
    if not inside.any():
        return 1.0
    aff = pixel_affinity(phi_t, phi_t, dst_flat, src, inside)[inside]
    return float(np.mean(aff > aff.mean()))


# ----------------------------------------------------------------------------------------
# geometry: principal frames, affine resampling
# ----------------------------------------------------------------------------------------


def principal_frame(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroid, frame and extents of a pixel set.

    Returns ``(centre (2,), frame (2, 2), extent (2,))``: ``frame`` rows are the unit
    principal axis ``a = (a_y, a_x)`` (largest covariance eigenvalue, sign: first
    non-zero entry positive; ``(0, 1)`` for fewer than two pixels or zero spread) and
    the normal ``n = (-a_x, a_y)`` (so ``det frame = +1``); ``extent`` is
    ``max - min + 1`` of the coordinates along ``a`` and ``n`` (pixels).
    """
    pts = np.stack([np.asarray(ys, dtype=np.float64), np.asarray(xs, dtype=np.float64)], axis=1)
    centre = pts.mean(axis=0) if pts.shape[0] else np.zeros(2)
    axis = np.array([0.0, 1.0])
    if pts.shape[0] >= 2:
        cov = np.cov(pts, rowvar=False, bias=True)
        vals, vecs = np.linalg.eigh(cov)
        if vals[-1] > 0:
            axis = vecs[:, -1]
            lead = axis[np.flatnonzero(np.abs(axis) > 1e-12)[0]]
            axis = axis if lead > 0 else -axis
    frame = np.array([[axis[0], axis[1]], [-axis[1], axis[0]]])
    if pts.shape[0] == 0:
        return centre, frame, np.ones(2)
    uv = (pts - centre) @ frame.T
    extent = uv.max(axis=0) - uv.min(axis=0) + 1.0
    return centre, frame, extent


def warp_matrix(src_frame: tuple[np.ndarray, np.ndarray, np.ndarray],
                dst_frame: tuple[np.ndarray, np.ndarray, np.ndarray],
                *, isotropic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Affine map ``p -> A p + b`` taking one principal frame onto another.

    Non-isotropic (fix B): turn the source axis onto the destination axis and stretch
    the extents along and across it to the destination's; isotropic (H4,
    ``scale_normalise``): no turn, one scale = ratio of the principal-axis extents.
    Centroid maps to centroid.  Returns ``(A (2, 2), b (2,))``.
    """
    cs, fs, es = src_frame
    cd, fd, ed = dst_frame
    if isotropic:
        a = np.eye(2) * (ed[0] / es[0])
    else:
        a = fd.T @ np.diag(ed / es) @ fs
    return a, cd - a @ cs


def resample_affine(ys: np.ndarray, xs: np.ndarray, a: np.ndarray,
                    b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rasterise the image of a pixel set under ``p -> A p + b`` without holes.

    The union of the forward map (each source pixel rounded to its destination; loses
    nothing when shrinking) and the inverse map (each grid pixel of the destination
    bounding box whose pre-image rounds onto a source pixel; fills the gaps a stretch
    would leave), duplicates removed keeping the first (forward ones first, in source
    order; then raster order).  An identity map returns the pixels unchanged.

    Parameters
    ----------
    ys, xs : (m,) int arrays
        Source pixels (distinct).
    a : (2, 2) float, invertible; b : (2,) float
        The map, in (y, x) order.

    Returns
    -------
    dst_y, dst_x : (n,) int64 ndarrays
        Destination pixels (distinct).
    src_index : (n,) int64 ndarray
        For each destination pixel, the index into ``ys``/``xs`` of its source pixel.
    """
    ys = np.asarray(ys, dtype=np.int64)
    xs = np.asarray(xs, dtype=np.int64)
    if ys.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    pts = np.stack([ys, xs], axis=1).astype(np.float64)
    fwd = np.rint(pts @ a.T + b).astype(np.int64)
    # inverse map over the forward bounding box (+1 px)
    y0, x0 = fwd.min(axis=0) - 1
    y1, x1 = fwd.max(axis=0) + 1
    gy, gx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
    grid = np.stack([gy.ravel(), gx.ravel()], axis=1)
    pre = np.rint((grid.astype(np.float64) - b) @ np.linalg.inv(a).T).astype(np.int64)
    sy0, sx0 = ys.min(), xs.min()
    sh, sw = ys.max() - sy0 + 1, xs.max() - sx0 + 1
    lut = np.full((sh, sw), -1, dtype=np.int64)
    lut[ys - sy0, xs - sx0] = np.arange(ys.size)
    py, px = pre[:, 0] - sy0, pre[:, 1] - sx0
    ok = (py >= 0) & (py < sh) & (px >= 0) & (px < sw)
    inv_src = np.full(grid.shape[0], -1, dtype=np.int64)
    inv_src[ok] = lut[py[ok], px[ok]]
    hit = inv_src >= 0
    cand = np.concatenate([fwd, grid[hit]])
    cand_src = np.concatenate([np.arange(ys.size), inv_src[hit]])
    # dedupe keeping the first occurrence
    key = (cand[:, 0] - (y0 - 1)) * (x1 - x0 + 3) + (cand[:, 1] - (x0 - 1))
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    return cand[first, 0].copy(), cand[first, 1].copy(), cand_src[first].copy()


# ----------------------------------------------------------------------------------------
# colours
# ----------------------------------------------------------------------------------------


def quantile_recolour(colours: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Per-channel quantile (histogram) matching of ``colours`` (m, 3) to ``palette`` (n, 3).

    Each value is replaced by the palette value at the same rank position
    (``rank / (m - 1)`` of the way through the sorted palette, linear interpolation;
    the middle for m = 1).  Matching a set to itself returns it unchanged.
    """
    colours = np.asarray(colours, dtype=np.float64)
    palette = np.asarray(palette, dtype=np.float64)
    m, n = colours.shape[0], palette.shape[0]
    if m == 0 or n == 0:
        return colours.copy()
    out = np.empty_like(colours)
    pos = np.arange(n, dtype=np.float64)
    for c in range(colours.shape[1]):
        order = np.argsort(colours[:, c], kind="stable")
        rank = np.empty(m, dtype=np.float64)
        rank[order] = np.arange(m)
        where = rank * (n - 1) / (m - 1) if m > 1 else np.full(m, (n - 1) / 2.0)
        out[:, c] = np.interp(where, pos, np.sort(palette[:, c]))
    return out


# ----------------------------------------------------------------------------------------
# the cross shadow
# ----------------------------------------------------------------------------------------


def reads_sample_basis(opts: ShadeOptions) -> bool:
    """Whether this cross configuration reads the sample's spectral basis: the ``dot`` and
    ``cosine`` scores do, and so does an affinity gate other than ``none`` on the sample's
    pixels (``unified``, ``warp``).  The default ``signature`` score (gating-field segment
    signatures) with no gate does not: :func:`fastshade.pipeline.shader.shade_arrays` then skips the
    sample's eigensolve, and placements carry no affinity.
    """
    gate_kind, _ = parse_affinity_threshold(opts.affinity_threshold)
    return opts.score != "signature" or (gate_kind != "none"
                                         and opts.cross_strategy in ("unified", "warp"))


def _same_image(an_t: Analysis, an_s: Analysis) -> bool:
    if an_s is an_t:
        return True
    return an_s.rgb.shape == an_t.rgb.shape and bool(np.array_equal(an_s.rgb, an_t.rgb))


def _scores(an_t: Analysis, an_s: Analysis, phi_t: np.ndarray, phi_s: np.ndarray | None,
            score: str) -> np.ndarray:
    if score == "signature":
        zt = znormalise(segment_signatures(an_t.field, an_t.components))
        zs = znormalise(segment_signatures(an_s.field, an_s.components))
        return match_scores(zt, zs, "signature")
    return match_scores(component_signatures(phi_t, an_t.components),
                        component_signatures(phi_s, an_s.components), score)


def _active_components(best: np.ndarray) -> np.ndarray:
    """gate-only: active iff the best match score is at least the median best score
    (all active when the best scores are equal up to 1e-9 relative).
    """
    if best.size == 0:
        return np.zeros(0, dtype=bool)
    lo, hi = float(best.min()), float(best.max())
    if hi - lo <= 1e-9 * max(1.0, abs(hi), abs(lo)):
        return np.ones(best.size, dtype=bool)
    return best >= np.median(best)


def shadow_cross(out: np.ndarray, an_t: Analysis, an_s: Analysis, opts: ShadeOptions, *,
                 rounding: str = "half-up", sample_strokes: np.ndarray | None = None,
                 paste_bound: float | None = None) -> tuple[list[Placement], dict[str, Any]]:
    """Paint cross-mode shadows into ``out`` (in place); return placements and info.

    Parameters
    ----------
    out : (H, W, 3) float64, C-contiguous
        The thickened target, modified in place.
    an_t, an_s : Analysis
        Target and sample analyses (``an_s`` may be ``an_t``: the parity run).
    opts : ShadeOptions
        ``cross_strategy``, ``score``, ``affinity_threshold``, ``procrustes``,
        ``scale_normalise`` and the shadow constants.
    rounding : str
        Of the destinations (:data:`fastshade.pipeline.shading.ROUNDINGS`).
    sample_strokes, paste_bound : optional, off by default (v12)
        (H_s, W_s) bool: copy only the sample's stroke pixels (:mod:`fastshade.pipeline.sample_strokes`);
        a placement writes at most ``paste_bound`` times its target component's area.

    Returns
    -------
    placements : list of Placement, in target-component order (gate-only: active ones).
    info : JSON-serialisable dict (strategy, toggles, candidate and active counts).
    """
    strategy = opts.cross_strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"cross_strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if opts.score not in SCORES:
        raise ValueError(f"score must be one of {', '.join(SCORES)}, got {opts.score!r}")
    gate_kind, _ = parse_affinity_threshold(opts.affinity_threshold)
    h, w = an_t.shape
    hs, ws = an_s.shape
    same = _same_image(an_t, an_s)
    info: dict[str, Any] = {"strategy": strategy, "score": opts.score,
                            "affinity_threshold": opts.affinity_threshold,
                            "procrustes": bool(opts.procrustes),
                            "scale_normalise": bool(opts.scale_normalise),
                            "same_image": same,
                            "geometry_from": "target" if strategy in ("recolor", "gate-only") else "sample",
                            "sample_candidates": int(an_s.components.n),
                            "target_components": int(an_t.components.n)}
    placements: list[Placement] = []
    if (an_t.basis is None or (an_s.basis is None and reads_sample_basis(opts))
            or an_t.components.n == 0 or an_s.components.n == 0):
        info["active_components"] = 0
        return placements, info
    phi_t = np.ascontiguousarray(an_t.basis.vectors)
    phi_s = None  # not computed when the configuration does not read it (reads_sample_basis)
    if an_s.basis is not None:
        phi_s = np.ascontiguousarray(an_s.basis.vectors)
        if not same and opts.procrustes:
            phi_s = procrustes_align(phi_t, phi_s, (h, w), (hs, ws),
                                     samples=opts.procrustes_samples, seed=opts.seed)
    scores = _scores(an_t, an_s, phi_t, phi_s, opts.score)
    if sample_strokes is not None:  # opt-in: candidates are the sample's strokes, never fill or paper
        candidates = stroke_candidates(an_s.components, sample_strokes)
        scores[:, ~candidates] = -np.inf
        info["sample_candidates"] = int(candidates.sum())
    best = scores.max(axis=1)
    active = _active_components(best) if strategy == "gate-only" else np.ones(best.size, dtype=bool)
    info["active_components"] = int(active.sum())
    src_rgb = out if same else an_s.rgb
    comps_t, comps_s = an_t.components, an_s.components
    free = free_paper(an_t, opts)  # paper no earlier shadow wrote
    for i in range(comps_t.n):
        if not active[i]:
            continue
        row = scores[i]
        j = int(np.argmax(row))
        if not np.isfinite(row[j]):  # no stroke candidate at all
            continue
        tgt = comps_t.pixels_of(i)
        ty, tx = np.divmod(tgt, w)
        smp = comps_s.pixels_of(j)
        if sample_strokes is not None:
            smp = stroke_pixels(smp, sample_strokes)
        sy, sx = np.divmod(smp, ws)
        c_dst = (float(comps_t.centroids[i, 0]), float(comps_t.centroids[i, 1]))
        if strategy in ("recolor", "gate-only"):
            src, phi_src = tgt, phi_t
            vy, vx, c_src = ty, tx, c_dst
            base = out.reshape(-1, 3)[tgt]
            palette = src_rgb.reshape(-1, 3)[smp]
            if strategy == "recolor":
                colours = quantile_recolour(base, palette)
            else:
                delta = palette.mean(axis=0) - base.mean(axis=0)
                colours = np.clip(base + delta, 0.0, 1.0)
        else:
            phi_src = phi_s
            frame_t = principal_frame(ty, tx)
            frame_s = principal_frame(sy, sx)
            if strategy == "warp" or opts.scale_normalise:
                a, b = warp_matrix(frame_s, frame_t, isotropic=strategy == "unified")
                vy, vx, idx = resample_affine(sy, sx, a, b)
                src, c_src = smp[idx], c_dst
            else:  # unified baseline: the sample pixels as they are
                src, vy, vx = smp, sy, sx
                c_src = (float(comps_s.centroids[j, 0]), float(comps_s.centroids[j, 1]))
            colours = src_rgb.reshape(-1, 3)[src]
        cut = None if paste_bound is None else nearest_pixels(vy, vx, c_src, paste_bound * tgt.size)
        if cut is not None:  # opt-in: at most paste_bound times the target component's area
            src, vy, vx, colours = src[cut], vy[cut], vx[cut], colours[cut]
        colours = hue_rotate(colours, opts.hue_angle)
        dest = shadow_destination(an_t, vy, vx, c_src, c_dst, opts, free, rounding)
        if dest is None:
            continue
        shift, dy, dx, inside = dest
        dst_flat = np.where(inside, dy * w + dx, 0)
        aff = None if phi_src is None else pixel_affinity(phi_t, phi_src, dst_flat, src, inside)
        fraction = None
        if gate_kind == "calibrated":
            sdy, sdx, s_in = place_component(ty, tx, c_dst, c_dst, (h, w), quarter_turns=1, shift=shift,
                                            rounding=rounding)
            fraction = self_gate_fraction(phi_t, tgt, np.where(s_in, sdy * w + sdx, 0), s_in)
        keep = affinity_keep(aff, inside, opts.affinity_threshold, fraction)
        written = gated_copy(out, colours, dy, dx, keep, an_t.carrier, opts.ink_guard)
        free[(dy * w + dx)[written]] = False
        placements.append(Placement(
            target_component=i, source_component=j, source_flat=src,
            dst_flat=(dy * w + dx)[inside], attempted=inside, kept=keep, written=written,
            dst_y=dy, dst_x=dx, centroid=c_dst, shift=shift,
            score=float(row[j]), score_margin=score_margin(row[np.isfinite(row)]), affinity=aff,
        ))
    return placements, info
