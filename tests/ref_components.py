"""Plain SciPy/NumPy reference for :mod:`fastshade.kernels.components` / :mod:`fastshade.pipeline.components`.

Built only on ``scipy.ndimage.label`` (3x3 ones for 8-connectivity, the cross
for 4-connectivity) and NumPy reductions (``bincount``, ``minimum.at``); slow
but obviously correct (two-pass centred covariances).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

STRUCTURES = {
    8: np.ones((3, 3), dtype=bool),
    4: ndimage.generate_binary_structure(2, 1),
}


def labels_ref(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    """``scipy.ndimage.label`` of ``mask != 0``: (int32 labels, n)."""
    m = np.asarray(mask) != 0
    if m.size == 0:
        return np.zeros(m.shape, dtype=np.int32), 0
    labels, n = ndimage.label(m, structure=STRUCTURES[connectivity])
    return labels.astype(np.int32, copy=False), int(n)


def stats_ref(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sizes (n,), bbox (n,4) ``[y0,x0,y1,x1)``, centroids (n,2), population covariances (n,2,2)."""
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(np.int64)
    bbox = np.zeros((n, 4), dtype=np.int64)
    centroids = np.zeros((n, 2))
    covariances = np.zeros((n, 2, 2))
    if n == 0:
        return sizes, bbox, centroids, covariances
    # two-pass, centred: means first, then mean products of the deviations
    flat = np.flatnonzero(labels.ravel())
    lab = labels.ravel()[flat] - 1
    ys, xs = np.divmod(flat, labels.shape[1])
    bbox[:, :2] = np.iinfo(np.int64).max
    np.minimum.at(bbox[:, 0], lab, ys)
    np.minimum.at(bbox[:, 1], lab, xs)
    np.maximum.at(bbox[:, 2], lab, ys + 1)
    np.maximum.at(bbox[:, 3], lab, xs + 1)
    count = np.bincount(lab, minlength=n)
    my = np.bincount(lab, weights=ys, minlength=n) / count
    mx = np.bincount(lab, weights=xs, minlength=n) / count
    dy, dx = ys - my[lab], xs - mx[lab]
    centroids[:, 0], centroids[:, 1] = my, mx
    covariances[:, 0, 0] = np.bincount(lab, weights=dy * dy, minlength=n) / count
    covariances[:, 1, 1] = np.bincount(lab, weights=dx * dx, minlength=n) / count
    covariances[:, 0, 1] = covariances[:, 1, 0] = np.bincount(lab, weights=dy * dx, minlength=n) / count
    return sizes, bbox, centroids, covariances


def pixel_index_ref(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr, pixels)``: flat indices grouped by label, raster order within."""
    flat = labels.ravel()
    order = np.argsort(flat, kind="stable")
    pixels = order[flat[order] > 0].astype(np.int64)
    sizes = np.bincount(flat, minlength=n + 1)[1:]
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return indptr, pixels


def filter_ref(labels: np.ndarray, n: int, min_size: int) -> tuple[np.ndarray, int]:
    """Drop components smaller than ``min_size``, renumber the rest 1..k in label order."""
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_size
    keep[0] = False
    new = np.zeros(n + 1, dtype=np.int32)
    new[keep] = np.arange(1, int(keep.sum()) + 1)
    return new[labels], int(keep.sum())


def components_ref(mask: np.ndarray, connectivity: int = 8, min_size: int = 1) -> dict:
    """Everything :func:`fastshade.pipeline.components.label_components` returns, as a dict."""
    labels, n = labels_ref(mask, connectivity)
    labels, n = filter_ref(labels, n, min_size)
    sizes, bbox, centroids, covariances = stats_ref(labels, n)
    indptr, pixels = pixel_index_ref(labels, n)
    return dict(labels=labels, n=n, sizes=sizes, bbox=bbox, centroids=centroids,
                covariances=covariances, indptr=indptr, pixels=pixels)
