"""Plain SciPy/NumPy twin of :mod:`fastshade.pipeline.components`: labelling and statistics.

Built only on ``scipy.ndimage.label`` (3x3 ones for 8-connectivity, the cross for
4-connectivity), ``ndimage.find_objects`` and NumPy reductions (``bincount``); obviously correct
(two-pass centred covariances).  :func:`label_components_scipy` chains the steps; the steps are
public for the kernel tests that check one kernel at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "LabelResult",
    "component_pixel_index_numpy",
    "component_stats_numpy",
    "drop_small_components",
    "label_components_scipy",
    "label_mask_scipy",
]

STRUCTURES = {8: np.ones((3, 3), dtype=bool), 4: ndimage.generate_binary_structure(2, 1)}
"""``scipy.ndimage.label`` structuring element of each connectivity."""


@dataclass
class LabelResult:
    """Components of a mask (same contract as :class:`fastshade.pipeline.components.Components`)."""

    labels: np.ndarray  # (H, W) int32, 0 background, 1..n in raster order of first pixel
    n: int
    sizes: np.ndarray  # (n,) int64
    bbox: np.ndarray  # (n, 4) int64 [y0, x0, y1, x1)
    centroids: np.ndarray  # (n, 2) float64 (y, x)
    covariances: np.ndarray  # (n, 2, 2) float64, population covariance
    indptr: np.ndarray  # (n + 1,) int64
    pixels: np.ndarray  # flat pixel indices, grouped by component, raster order inside

    def pixels_of(self, i: int) -> np.ndarray:
        """Flat indices of component ``i`` (0-based), raster order."""
        return self.pixels[self.indptr[i]:self.indptr[i + 1]]


def label_mask_scipy(mask: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, int]:
    """``scipy.ndimage.label`` of ``mask != 0``: (int32 labels, n), numbered in raster order."""
    m = np.asarray(mask) != 0
    if m.size == 0:
        return np.zeros(m.shape, dtype=np.int32), 0
    labels, n = ndimage.label(m, structure=STRUCTURES[connectivity])
    return labels.astype(np.int32, copy=False), int(n)


def drop_small_components(labels: np.ndarray, n: int, min_size: int) -> tuple[np.ndarray, int]:
    """Drop components smaller than ``min_size``, renumber the rest 1..k in label order."""
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_size
    keep[0] = False
    new = np.zeros(n + 1, dtype=np.int32)
    new[keep] = np.arange(1, int(keep.sum()) + 1)
    return new[labels], int(keep.sum())


def component_stats_numpy(labels: np.ndarray,
                          n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sizes (n,), bbox (n, 4) ``[y0, x0, y1, x1)``, centroids (n, 2), population covariances (n, 2, 2).

    ``bincount`` in two passes (the means first, then the mean products of the deviations from
    them); the boxes by ``scipy.ndimage.find_objects``.  An empty label keeps zeros.
    """
    flat = np.flatnonzero(labels.ravel())
    lab = labels.ravel()[flat] - 1
    ys, xs = np.divmod(flat, labels.shape[1])
    sizes = np.bincount(lab, minlength=n).astype(np.int64)
    count = np.maximum(sizes, 1)
    my = np.bincount(lab, weights=ys, minlength=n) / count
    mx = np.bincount(lab, weights=xs, minlength=n) / count
    dy, dx = ys - my[lab], xs - mx[lab]
    covariances = np.zeros((n, 2, 2))
    covariances[:, 0, 0] = np.bincount(lab, weights=dy * dy, minlength=n) / count
    covariances[:, 1, 1] = np.bincount(lab, weights=dx * dx, minlength=n) / count
    covariances[:, 0, 1] = covariances[:, 1, 0] = np.bincount(lab, weights=dy * dx, minlength=n) / count
    bbox = np.zeros((n, 4), dtype=np.int64)
    for i, box in enumerate(ndimage.find_objects(labels, max_label=n) if n else []):
        if box is not None:
            bbox[i] = [box[0].start, box[1].start, box[0].stop, box[1].stop]
    return sizes, bbox, np.stack([my, mx], axis=1), covariances


def component_pixel_index_numpy(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr, pixels)``: flat indices grouped by label, raster order within (int64)."""
    flat = labels.ravel()
    foreground = np.flatnonzero(flat)
    pixels = foreground[np.argsort(flat[foreground], kind="stable")].astype(np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat[foreground] - 1, minlength=n), out=indptr[1:])
    return indptr, pixels


def label_components_scipy(mask: np.ndarray, *, connectivity: int = 8, min_size: int = 1) -> LabelResult:
    """Everything :func:`fastshade.pipeline.components.label_components` returns, the SciPy way.

    :func:`label_mask_scipy`, then :func:`drop_small_components` (components smaller than
    ``min_size`` dropped, the rest renumbered 1..n, still in raster order of their first pixel),
    :func:`component_stats_numpy` and :func:`component_pixel_index_numpy`.
    """
    labels, n = label_mask_scipy(mask, connectivity)
    labels, n = drop_small_components(labels, n, min_size)
    sizes, bbox, centroids, covariances = component_stats_numpy(labels, n)
    indptr, pixels = component_pixel_index_numpy(labels, n)
    return LabelResult(labels, n, sizes, bbox, centroids, covariances, indptr, pixels)
