"""The Euclidean distance transform of a mask, on the image's threads: SciPy's values, bit for bit.

``scipy.ndimage.distance_transform_edt`` is serial and walks every column with a stride of an
image row: at 35 Mpx the line weight's and the shadow edge's feature transforms took 1.8 s of
one core's 2.  :mod:`fastshade.kernels.distance` gives the same indices (Maurer's algorithm, the
same ties) from two passes that read whole rows, split among Numba's threads in fixed chunks
(the same bytes for any count).  A mask below :data:`KERNEL_MIN_PIXELS` goes to SciPy (a few
milliseconds there, and a first run on a small image compiles no kernel for it: 0.4 s less on an
empty cache).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from scipy import ndimage as ndi

from fastshade.kernels import distance as distance_kernels
from fastshade.threads import threaded, work_rows

__all__ = ["KERNEL_MIN_PIXELS", "background_distance", "kernels_for_any_size", "nearest_background"]

KERNEL_MIN_PIXELS = 1 << 20
"""Masks of at least this many pixels go to the kernels, smaller ones to SciPy (the same indices)."""


@contextmanager
def kernels_for_any_size() -> Iterator[None]:
    """Within the block, masks of any size go to the kernels (the warm-up compiles a big image's
    kernels on a small one; tests run them on small masks).  Not thread-safe (a module constant).
    """
    global KERNEL_MIN_PIXELS
    previous, KERNEL_MIN_PIXELS = KERNEL_MIN_PIXELS, 0
    try:
        yield
    finally:
        KERNEL_MIN_PIXELS = previous


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
    if mask.size < KERNEL_MIN_PIXELS:  # (the same indices)
        return ndi.distance_transform_edt(mask, return_distances=False, return_indices=True)
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
