"""Connected components of a binary mask with per-component statistics.

Validated, allocating wrapper over the raw kernels in :mod:`fastshade.kernels.components`
(``original-system.md`` §3.7: 8-connected labelling of the low gate, minimum
size 10, components in the raster order of their first pixel, §8).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from fastshade.checks import check_integer
from fastshade.kernels.components import (
    apply_label_map,
    component_pixel_index,
    component_stats,
    label_buffer_size,
    label_mask_4,
    label_mask_8,
    size_filter_map,
)

__all__ = ["Components", "label_components"]


@dataclass(frozen=True, eq=False)
class Components:
    """Labels and per-component statistics of a mask.

    Component ``i`` (0-based) carries label ``i + 1``; components are numbered
    in the raster order (``y*W + x``) of their first pixel, exactly as
    ``scipy.ndimage.label`` numbers them.

    Attributes
    ----------
    labels : (H, W) int32 ndarray
        0 on background and on dropped (too small) components, 1..n otherwise.
    n : int
        Number of components.
    sizes : (n,) int64 ndarray
        Pixel count per component.
    bbox : (n, 4) int64 ndarray
        Bounding box ``[y0, x0, y1, x1)`` (end-exclusive).
    centroids : (n, 2) float64 ndarray
        Mean ``(y, x)``.
    covariances : (n, 2, 2) float64 ndarray
        Population covariance ``[[yy, yx], [yx, xx]]`` of the pixel coordinates.
    indptr : (n + 1,) int64 ndarray
        CSR pointers into ``pixels``.
    pixels : (sizes.sum(),) int64 ndarray
        Flat pixel indices ``y*W + x`` grouped by component, raster order within
        each component.
    """

    labels: np.ndarray
    n: int
    sizes: np.ndarray
    bbox: np.ndarray
    centroids: np.ndarray
    covariances: np.ndarray
    indptr: np.ndarray
    pixels: np.ndarray

    def pixels_of(self, i: int) -> np.ndarray:
        """Flat pixel indices of component ``i`` (0-based), in raster order.

        Parameters
        ----------
        i : int
            Component index, ``-n <= i < n`` (negative counts from the end).

        Returns
        -------
        (sizes[i],) int64 ndarray
            A view into :attr:`pixels`.
        """
        j = operator.index(i)
        if not -self.n <= j < self.n:
            raise IndexError(f"component index {i} out of range for {self.n} components")
        if j < 0:
            j += self.n
        return self.pixels[self.indptr[j]:self.indptr[j + 1]]


def _as_uint8_mask(mask: np.ndarray) -> np.ndarray:
    """C-contiguous, writeable uint8 (H, W) view or copy of a bool/integer mask, non-zero = 1."""
    if mask.dtype == np.bool_:
        out = np.ascontiguousarray(mask).view(np.uint8)
    elif mask.dtype == np.uint8 or mask.dtype == np.int8:
        out = np.ascontiguousarray(mask).view(np.uint8)
    else:
        out = (mask != 0).view(np.uint8)
    if not out.flags.writeable:  # a read-only array would compile a second specialisation
        out = out.copy()
    return out


def label_components(mask: np.ndarray, *, connectivity: int = 8, min_size: int = 1) -> Components:
    """Label the connected components of a 2-D mask and measure each of them.

    Parameters
    ----------
    mask : (H, W) array_like of bool or integer
        Foreground where non-zero.  Any shape, including 0xW, 1x1, 1xN, Nx1.
    connectivity : {8, 4}
        8: edge and corner neighbours (the shader's default); 4: edge neighbours.
    min_size : int
        Components with fewer pixels are removed (set to 0 in ``labels``) and
        the rest renumbered 1..n, still in raster order of first pixel.
        Values <= 1 keep everything.

    Returns
    -------
    Components
        Freshly allocated labels, statistics and pixel index.

    Raises
    ------
    ValueError
        If ``mask`` is not 2-D or not bool/integer, ``connectivity`` is not 4
        or 8, or ``min_size`` is not a non-negative integer.

    Examples
    --------
    >>> import numpy as np
    >>> c = label_components(np.array([[1, 0, 1], [0, 1, 0]], dtype=bool), connectivity=4)
    >>> c.n, c.sizes.tolist()
    (3, [1, 1, 1])
    >>> label_components(np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)).n
    1
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    if mask.dtype != np.bool_ and not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"mask must be bool or integer, got dtype {mask.dtype}")
    connectivity = check_integer("connectivity", connectivity, allowed=(4, 8))
    # any min_size above the pixel count drops everything: clip it into the kernel's int64
    min_size = min(check_integer("min_size", min_size, 0), mask.size + 1)

    mask_u8 = _as_uint8_mask(mask)
    height, width = mask_u8.shape
    labels = np.empty((height, width), dtype=np.int32)
    parent = np.empty(label_buffer_size(height, width), dtype=np.int32)
    # one kernel per connectivity: a run compiles only the scan it uses
    n = int((label_mask_4 if connectivity == 4 else label_mask_8)(mask_u8, labels, parent))

    sizes = np.empty(n, dtype=np.int64)
    bbox = np.empty((n, 4), dtype=np.int64)
    centroids = np.empty((n, 2), dtype=np.float64)
    covariances = np.empty((n, 2, 2), dtype=np.float64)
    component_stats(labels, sizes, bbox, centroids, covariances,
                    np.empty((n, 6), dtype=np.int64), np.empty(width + 1, dtype=np.int64))

    if min_size > 1 and n > 0:
        label_map = np.empty(n + 1, dtype=np.int32)
        kept = int(size_filter_map(sizes, int(min_size), label_map))
        if kept < n:
            apply_label_map(labels, label_map)
            keep = sizes >= min_size
            sizes, bbox = sizes[keep], bbox[keep]
            centroids, covariances = centroids[keep], covariances[keep]
            n = kept

    indptr = np.empty(n + 1, dtype=np.int64)
    pixels = np.empty(int(sizes.sum()), dtype=np.int64)
    component_pixel_index(labels, sizes, indptr, pixels, np.empty(n, dtype=np.int64))
    return Components(labels=labels, n=n, sizes=sizes, bbox=bbox, centroids=centroids,
                      covariances=covariances, indptr=indptr, pixels=pixels)
