"""Which painting stage last changed each pixel: the honest ``changed_by_stage`` and the layers.

A style's pass records its image after each painting stage (:meth:`StageLog.record`); the log
keeps, per pixel, the index of the last stage whose write changed the pixel's value.  The styles
runner merges the passes' logs, and counts a pixel as changed only where the written file differs
from the input (8-bit quantisation, :func:`quantised_change`), so ``changed_by_stage`` sums to
``changed_pixels`` by construction.
"""

from __future__ import annotations

import numpy as np


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
        rgb = image[:, :, :3]
        changed = channels_differ(rgb, self._previous)
        self.stage_of[changed] = self.names.index(name)
        self._previous[changed] = rgb[changed]


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
    def q(x: np.ndarray) -> np.ndarray:
        return np.rint(np.clip(x, 0.0, 1.0) * levels)

    if before.shape != after.shape:  # an alpha channel added or dropped: compare RGB only
        before, after = before[:, :, :3], after[:, :, :3]
    out = np.zeros(before.shape[:2], dtype=bool)
    for c in range(before.shape[2]):  # one channel at a time, as channels_differ
        out |= q(before[:, :, c]) != q(after[:, :, c])
    return out
