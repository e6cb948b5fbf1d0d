"""The Euclidean distance transform of a mask, on the image's threads: SciPy's values, bit for bit.

``scipy.ndimage.distance_transform_edt`` is serial and walks every column with a stride of an
image row: at 35 Mpx the line weight's and the shadow edge's feature transforms took 1.8 s of
one core's 2.  :mod:`fastshade.kernels.distance` gives the same indices (Maurer's algorithm, the
same ties) from two passes that read whole rows, split among Numba's threads in fixed chunks
(the same bytes for any count).
"""

from __future__ import annotations

import numpy as np

from fastshade.kernels import distance as distance_kernels
from fastshade.threads import threaded, work_rows

__all__ = ["background_distance", "nearest_background"]


def _as_mask(mask: object) -> np.ndarray:
    """``mask`` as a C-contiguous 2-D bool array (nonzero: True); ValueError (one line) otherwise."""
    values = np.asarray(mask)
    if values.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {values.shape}")
    return np.ascontiguousarray(values if values.dtype == np.bool_ else values != 0)


def nearest_background(mask: object) -> np.ndarray:
    """int32 (2, H, W): the row and column of every pixel's nearest background (zero) pixel of the
    2-D ``mask``, as ``scipy.ndimage.distance_transform_edt(mask, return_distances=False,
    return_indices=True)`` (the same ties; -1 and 0 where the mask has no background), newly
    allocated.
    """
    mask = _as_mask(mask)
    h, w = mask.shape
    near = np.empty((h, w), dtype=np.int32)
    columns = threaded(distance_kernels.nearest_row_in_columns, mask.size)
    columns(mask, near)
    out = np.empty((2, h, w), dtype=np.int32)
    rows = threaded(distance_kernels.nearest_in_rows, mask.size)
    rows(near, np.empty((work_rows(rows, distance_kernels.nearest_in_rows), w), dtype=np.int64), out[0], out[1])
    return out


def background_distance(mask: object) -> np.ndarray:
    """float64 (H, W): the Euclidean distance of every pixel of the 2-D ``mask`` to its nearest
    background (zero) pixel, ``scipy.ndimage.distance_transform_edt(mask)`` bit for bit (the
    square root of the same integer sum), newly allocated.
    """
    features = nearest_background(mask)
    offsets = (features - np.indices(features.shape[1:], dtype=np.int32)).astype(np.float64)
    np.multiply(offsets, offsets, out=offsets)
    return np.sqrt(offsets[0] + offsets[1])
