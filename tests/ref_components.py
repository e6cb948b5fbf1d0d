"""Plain SciPy/NumPy reference for :mod:`kernels.components` / :mod:`fastshade.components`.

Built only on ``scipy.ndimage.label`` (3x3 ones for 8-connectivity, the cross
for 4-connectivity) and ``scipy.ndimage``/NumPy reductions; slow but obviously
correct (two-pass centred covariances).
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
    index = np.arange(1, n + 1)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(np.int64)
    bbox = np.zeros((n, 4), dtype=np.int64)
    for j, sl in enumerate(ndimage.find_objects(labels, max_label=n) if n else []):
        if sl is not None:
            bbox[j] = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
    centroids = np.zeros((n, 2))
    covariances = np.zeros((n, 2, 2))
    if n == 0:
        return sizes, bbox, centroids, covariances
    yy, xx = np.indices(labels.shape, dtype=np.float64)
    my = np.asarray(ndimage.mean(yy, labels, index))
    mx = np.asarray(ndimage.mean(xx, labels, index))
    centroids[:, 0], centroids[:, 1] = my, mx
    fg = labels > 0
    dy = np.zeros(labels.shape)
    dx = np.zeros(labels.shape)
    dy[fg] = yy[fg] - my[labels[fg] - 1]
    dx[fg] = xx[fg] - mx[labels[fg] - 1]
    covariances[:, 0, 0] = ndimage.mean(dy * dy, labels, index)
    covariances[:, 1, 1] = ndimage.mean(dx * dx, labels, index)
    covariances[:, 0, 1] = covariances[:, 1, 0] = ndimage.mean(dy * dx, labels, index)
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
    """Everything :func:`fastshade.components.label_components` returns, as a dict."""
    labels, n = labels_ref(mask, connectivity)
    labels, n = filter_ref(labels, n, min_size)
    sizes, bbox, centroids, covariances = stats_ref(labels, n)
    indptr, pixels = pixel_index_ref(labels, n)
    return dict(labels=labels, n=n, sizes=sizes, bbox=bbox, centroids=centroids,
                covariances=covariances, indptr=indptr, pixels=pixels)
