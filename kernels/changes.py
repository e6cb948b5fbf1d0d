"""Kernels of the per-pixel change log: which pixels a painting stage changed, and which pixels
differ in the written (quantised) file.

Raw kernels: module-level ``@jit`` functions, raw arrays in, caller-allocated outputs, no
validation, no raising.  Validated callers: :class:`fastshade.pipeline.stagelog.StageLog` and
:func:`fastshade.pipeline.stagelog.quantised_change`.  Both are one pass over the pixels with
the values of their NumPy forms (``(a != b).any(axis=2)`` and boolean-mask copies;
``rint(clip(v, 0, 1) * levels)``: a comparison, a clip, one product and a rounding, exact).
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

__all__ = ["quantised_changes", "record_changes"]


@jit
def record_changes(image, previous, stage_of, index):
    """Mark the pixels whose first three channels changed since ``previous``; returns how many.

    image : float64 (H, W, C), C >= 3, C-contiguous (channels past the third are not read).
    previous : float64 (H, W, 3), updated: a changed pixel's three channels are copied from
        ``image``.
    stage_of : int8 (H, W), updated: ``index`` on every changed pixel (a channel differs, NaN
        included: ``!=`` as NumPy's).
    """
    height, width = stage_of.shape
    count = 0
    for y in range(height):
        for x in range(width):
            if (image[y, x, 0] != previous[y, x, 0] or image[y, x, 1] != previous[y, x, 1]
                    or image[y, x, 2] != previous[y, x, 2]):
                stage_of[y, x] = index
                for c in range(3):
                    previous[y, x, c] = image[y, x, c]
                count += 1
    return count


@jit
def _level(v, levels):
    """``rint(clip(v, 0, 1) * levels)`` (NaN stays NaN, as ``np.clip``)."""
    if v < 0.0:
        v = 0.0
    elif v > 1.0:
        v = 1.0
    return np.rint(v * levels)


@jit
def quantised_changes(before, after, channels, levels, out):
    """``out[y, x]``: the quantised value of one of the first ``channels`` channels differs.

    before, after : float64 (H, W, C1), (H, W, C2), C-contiguous, ``channels <= min(C1, C2)``.
    levels : float (255 for 8 bits).  out : bool (H, W), every entry written.
    """
    height, width = out.shape
    for y in range(height):
        for x in range(width):
            differ = False
            for c in range(channels):
                if _level(before[y, x, c], levels) != _level(after[y, x, c], levels):
                    differ = True
            out[y, x] = differ
