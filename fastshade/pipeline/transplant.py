"""The final pipeline's cross mode: segment transplants with signature matching (§5.3 cross steps 1–11).

Segments are 4-connected low-gate contour pieces, labelled by the project's exact labeller
(:func:`fastshade.pipeline.components.label_components`, the same partition as
``scipy.ndimage.label``), not the original's pointer-jumping labeller, which stops at a round
cap before it converges and over-segments 9 of the 10 shared images (§5.6).  Transplanted points
that fall outside the image are dropped; the original clamps them onto the border rows and
columns, where they pile up.  Everything is vectorised NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastshade.pipeline.components import label_components
from fastshade.pipeline.finalpaint import front_colours, shadow_colours
from fastshade.pipeline.results import Placement
from fastshade.pipeline.stagelog import StageLog


@dataclass(frozen=True)
class Segments:
    """The segments of one image: coordinates, pixels and signatures.

    ``pixels[i]`` are the flat indices (raster order) of segment ``i``; ``centroids`` (n, 2) are
    ``(x, y)`` means; ``signatures`` (n, 4) ``[mean f, std f + 1e-8, log(N + 1), aspect]``.
    """

    pixels: list[np.ndarray]
    centroids: np.ndarray
    signatures: np.ndarray

    @property
    def n(self) -> int:
        """Number of segments."""
        return len(self.pixels)


def lower_median(values: np.ndarray) -> float:
    """The lower median (torch ``median``): element ``(n − 1) // 2`` of the sorted values."""
    return float(np.sort(values, axis=None)[(values.size - 1) // 2])


def eligible_mask(contours: np.ndarray, f: np.ndarray, q: float, gate: np.ndarray,
                  min_pixels: int) -> np.ndarray:
    """``contours ∧ f < q``; below ``3·min_pixels`` pixels, ``contours ∧ gate < median(gate on contours)``."""
    eligible = contours & (f < q)
    if np.count_nonzero(eligible) < 3 * min_pixels and contours.any():
        eligible = contours & (gate < lower_median(gate[contours]))
    return eligible


def segment_signatures(f: np.ndarray, pixels: list[np.ndarray], width: int) -> np.ndarray:
    """(n, 4) ``[mean f, std f + 1e-8, log(N + 1), (x1 − x0) / max(y1 − y0, 1)]`` (unbiased std,
    end-exclusive bounds) of each segment.
    """
    flat = f.ravel()
    rows = []
    for pix in pixels:
        vals = flat[pix]
        ys, xs = np.divmod(pix, width)
        std = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
        aspect = (xs.max() + 1 - xs.min()) / max(ys.max() + 1 - ys.min(), 1)
        rows.append([float(vals.mean()), std + 1e-8, float(np.log(vals.size + 1.0)), float(aspect)])
    return np.array(rows, dtype=np.float64).reshape(len(pixels), 4)


def extract_segments(contours: np.ndarray, f: np.ndarray, q: float, gate: np.ndarray, *,
                     min_pixels: int, max_segments: int) -> Segments:
    """The first ``max_segments`` 4-connected eligible pieces of at least ``min_pixels`` pixels,
    in the raster order of their first pixel (§5.3 cross step 1), with their signatures.
    """
    comps = label_components(eligible_mask(contours, f, q, gate, min_pixels), connectivity=4,
                             min_size=max(min_pixels, 1))
    n = min(comps.n, max_segments)
    pixels = [comps.pixels_of(i) for i in range(n)]
    centroids = comps.centroids[:n, ::-1].copy()  # (y, x) -> (x, y)
    return Segments(pixels, centroids, segment_signatures(f, pixels, f.shape[1]))


def normalised(signatures: np.ndarray) -> np.ndarray:
    """Each signature dimension z-normalised over the image's own segments (unbiased std + 1e-8;
    a single segment gives zeros, where the original's is undefined).
    """
    if signatures.shape[0] < 2:
        return np.zeros_like(signatures)
    return (signatures - signatures.mean(axis=0)) / (signatures.std(axis=0, ddof=1) + 1e-8)


def match_segments(target: Segments, source: Segments) -> np.ndarray:
    """For each target segment the index of the nearest source segment (squared L2 of the
    per-image normalised signatures, lowest index on ties; reuse allowed).
    """
    a, b = normalised(target.signatures), normalised(source.signatures)
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    return np.argmin(d2, axis=1) if b.shape[0] else np.zeros(0, dtype=np.intp)


def transplant_points(source_xy: np.ndarray, source_centroid: np.ndarray, target_centroid: np.ndarray,
                      front_shift: tuple[float, float], shadow_shift: tuple[float, float]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Front and shadow points ((N, 2) real ``(x, y)``) of one transplanted segment.

    Shift by ``c_A − c_B``, rotate 90° about ``c_A`` with ``(u, v) → (−v, u)`` (clockwise as
    displayed), add ``front_shift``; the shadow is the front plus ``shadow_shift``.
    """
    rel = source_xy - source_centroid  # = shifted - c_A
    rotated = np.column_stack([-rel[:, 1], rel[:, 0]]) + target_centroid
    front = rotated + np.asarray(front_shift, dtype=np.float64)
    return front, front + np.asarray(shadow_shift, dtype=np.float64)


def scatter_layer(points: np.ndarray, colours: np.ndarray, shape: tuple[int, int]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Round (half to even) ``(x, y)`` points, drop those outside the image, last write wins.

    Returns the layer (H, W, 3), its occupancy (H, W) bool and, per point, whether it landed
    inside the image.
    """
    h, w = shape
    layer = np.zeros((h, w, 3), dtype=np.float64)
    occupied = np.zeros((h, w), dtype=bool)
    x = np.rint(points[:, 0]).astype(np.int64)
    y = np.rint(points[:, 1]).astype(np.int64)
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    flat = (y * w + x)[inside]
    cols = colours[inside]
    # last write wins: keep the last occurrence of each destination
    rev_unique, rev_first = np.unique(flat[::-1], return_index=True)
    last = flat.size - 1 - rev_first
    layer.reshape(-1, 3)[rev_unique] = cols[last]
    occupied.ravel()[rev_unique] = True
    return layer, occupied, inside


def paint_transplants(out: np.ndarray, target: Segments, source: Segments, source_rgb: np.ndarray,
                      allowed: np.ndarray, *, effect: float, translation: float, shadow_offset: float,
                      log: StageLog | None = None) -> list[Placement]:
    """Transplant the matched source segment onto every target segment, in place on ``out``.

    Steps 4–11 of §5.3 cross: match, shift and rotate about the target centroid, front at
    ``+(0.5 T e, 0.7 T e)``, shadow at front ``+(S e, S e)`` (x, y), shadow/front tints of the
    source colours, scatter (:func:`scatter_layer`), front over shadow, written only where
    ``allowed`` (the underpaint mask ``f_A ≥ q_A``, minus the ink of the pass's input).  ``log``
    records the shadow layer as stage ``shadow`` and the front layer as ``front``.  Returns one
    :class:`~fastshade.pipeline.results.Placement` per target segment (its front copy).
    """
    h, w = out.shape[:2]
    if target.n == 0 or source.n == 0:
        return []
    match = match_segments(target, source)
    front_shift = (0.5 * translation * effect, 0.7 * translation * effect)
    shadow_shift = (shadow_offset * effect, shadow_offset * effect)
    src_flat = source_rgb.reshape(-1, 3)
    sw = source_rgb.shape[1]
    fronts, shadows, colours, owners = [], [], [], []
    for i, j in enumerate(match):
        pix = source.pixels[j]
        sy, sx = np.divmod(pix, sw)
        xy = np.column_stack([sx, sy]).astype(np.float64)
        front, shadow = transplant_points(xy, source.centroids[j], target.centroids[i],
                                          front_shift, shadow_shift)
        fronts.append(front)
        shadows.append(shadow)
        colours.append(src_flat[pix])
        owners.append(np.full(pix.size, i, dtype=np.int64))
    rgb = np.concatenate(colours)
    shadow_layer, shadow_occ, _ = scatter_layer(np.concatenate(shadows), shadow_colours(rgb, effect), (h, w))
    front_pts = np.concatenate(fronts)
    front_layer, front_occ, front_inside = scatter_layer(front_pts, front_colours(rgb, effect), (h, w))
    put = shadow_occ & ~front_occ & allowed
    out[put] = shadow_layer[put]
    if log is not None:
        log.record("shadow", out)
    put = front_occ & allowed
    out[put] = front_layer[put]
    if log is not None:
        log.record("front", out)
    return _placements(front_pts, front_inside, np.concatenate(owners), match, source, target, allowed, w)


def _placements(points: np.ndarray, inside: np.ndarray, owner: np.ndarray, match: np.ndarray,
                source: Segments, target: Segments, allowed: np.ndarray, width: int) -> list[Placement]:
    """The placement log of the front copies (one per target segment)."""
    x = np.rint(points[:, 0]).astype(np.int64)
    y = np.rint(points[:, 1]).astype(np.int64)
    result = []
    for i, j in enumerate(match):
        sel = owner == i
        ok = inside[sel]
        dy, dx = y[sel][ok], x[sel][ok]
        kept = ok.copy()
        kept[ok] = allowed[dy, dx]
        cx, cy = target.centroids[i]
        shift = target.centroids[i] - source.centroids[j]
        result.append(Placement(
            target_component=i, source_component=int(j), source_flat=source.pixels[j],
            dst_flat=dy * width + dx, attempted=ok, kept=kept, written=kept.copy(),
            dst_y=y[sel], dst_x=x[sel], centroid=(float(cy), float(cx)),
            shift=(float(shift[1]), float(shift[0]))))
    return result
