"""Which painting stage last changed each pixel: the honest ``changed_by_stage`` and the layers.

A style's pass records its image after each painting stage (:meth:`StageLog.record`); the log
keeps, per pixel, the index of the last stage whose write changed the pixel's value.  The styles
runner merges the passes' logs, and counts a pixel as changed only where the written file differs
from the input (8-bit quantisation, :func:`quantised_change`), so ``changed_by_stage`` sums to
``changed_pixels`` by construction.
"""

from __future__ import annotations

import numpy as np

from fastshade.kernels import changes as change_kernels


class StageLog:
    """Per-pixel last-writer stage of one pass, starting from ``image`` ((H, W, C) float)."""

    def __init__(self, image: np.ndarray) -> None:
        self._previous = np.array(image[:, :, :3], dtype=np.float64, copy=True)
        self.stage_of = np.full(image.shape[:2], -1, dtype=np.int8)
        self.names: list[str] = []

    def record(self, name: str, image: np.ndarray) -> None:
        """Mark every pixel whose RGB changed since the last record as written by stage ``name``."""
        if name not in self.names:
            self.names.append(name)
        # one pass (fastshade.kernels.changes): the values of
        # changed = channels_differ(rgb, previous); stage_of[changed] = i; previous[changed] = rgb[changed]
        change_kernels.record_changes(np.ascontiguousarray(image, dtype=np.float64), self._previous,
                                      self.stage_of, self.names.index(name))


def channels_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) bool: ``(a != b).any(axis=2)`` of two (H, W, C) images, one channel at a time (no
    (H, W, C) temporary, and no reduction over the short last axis, which NumPy runs slowly).
    """
    out = a[:, :, 0] != b[:, :, 0]
    for c in range(1, a.shape[2]):
        out |= a[:, :, c] != b[:, :, c]
    return out


def quantised_change(before: np.ndarray, after: np.ndarray, levels: int = 255) -> np.ndarray:
    """(H, W) bool: the pixel's quantised value (``rint(clip(v, 0, 1) * levels)``, every channel,
    alpha included) differs between the two float images, as in the written files.
    """
    channels = before.shape[2] if before.shape == after.shape else 3  # alpha added or dropped: RGB
    out = np.empty(before.shape[:2], dtype=bool)
    change_kernels.quantised_changes(np.ascontiguousarray(before, dtype=np.float64),
                                     np.ascontiguousarray(after, dtype=np.float64), channels,
                                     float(levels), out)
    return out
