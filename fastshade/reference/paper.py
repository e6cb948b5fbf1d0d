"""Plain NumPy/SciPy twins of the colour bins and neighbourhood rules of :mod:`fastshade.pipeline.paper`.

The forms the paper/ink model used before its kernels (:mod:`fastshade.kernels.paper`):
the tests check that the kernels give exactly these values.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["colour_bins_numpy", "local_range_scipy", "stroke_mask_scipy"]


def colour_bins_numpy(pixels: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, counts, sums)`` of the colours ``pixels`` ((N, 3) in [0, 1]) quantised to
    ``bins`` levels per channel: ``np.bincount`` of the codes, unweighted and per channel.
    """
    q = np.minimum((pixels * bins).astype(np.int64), bins - 1)
    codes = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
    counts = np.bincount(codes, minlength=bins ** 3)
    sums = np.stack([np.bincount(codes, weights=pixels[:, k], minlength=bins ** 3) for k in range(3)], axis=1)
    return codes, counts, sums


def local_range_scipy(rgb: np.ndarray) -> np.ndarray:
    """(H, W): the largest per-channel range (max - min) over each pixel's 3x3 neighbourhood."""
    out = np.zeros(rgb.shape[:2])
    for c in range(rgb.shape[2]):
        channel = np.ascontiguousarray(rgb[:, :, c], dtype=np.float64)
        np.maximum(out, ndimage.maximum_filter(channel, size=3) - ndimage.minimum_filter(channel, size=3), out=out)
    return out


def stroke_mask_scipy(ink: np.ndarray, reach: float, edges: np.ndarray | None = None) -> np.ndarray:
    """bool: the ink pixels at most ``reach`` px (Euclidean distance transform) from a non-ink
    pixel or the image's border, or at most ``reach - 1`` px from an ``edges`` pixel whose 3x3
    neighbourhood is all ink.
    """
    if not ink.any():
        return ink.copy()
    padded = np.pad(ink, 1, constant_values=False)
    depth = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
    near = depth <= reach
    inner = None if edges is None else edges & ndimage.binary_erosion(ink, np.ones((3, 3)), border_value=1)
    if inner is not None and inner.any():
        near |= ndimage.distance_transform_edt(~inner) <= reach - 1
    return ink & near
