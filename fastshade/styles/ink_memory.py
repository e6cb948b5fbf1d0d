"""The drawing's own ink, carried from one pass's output to the next (the ink guard of every
style but v12 protects the *drawing*, not the style's own earlier marks).
"""

from __future__ import annotations

import hashlib

import numpy as np

from fastshade.pipeline.paper import paper_ink_model


class InkMemory:
    """The drawing's own ink, carried from a pass's output to the next pass.

    The runner hands each pass the previous pass's output; the marks of earlier passes are ink
    to that image's paper/ink model, but they are this style's marks, not the drawing: the
    original re-tints them again in place.  So after each pass the ink mask it protected is
    remembered under the output's bytes; a pass whose input is such an output protects that
    mask (the first pass's ink), any other input its own paper/ink model's ink.  The protected
    set never includes the drawing's ink less than the first pass's model (the metric of issue
    20 reads the first input's ink).
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: dict[str, np.ndarray] = {}

    @staticmethod
    def key(rgb: np.ndarray) -> str:
        """The digest of an image's RGB bytes."""
        return hashlib.blake2b(np.ascontiguousarray(rgb, dtype=np.float64).tobytes(), digest_size=16).hexdigest()

    def protected(self, rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
        """The ink to protect in a pass on ``rgb``."""
        remembered = self._items.get(self.key(rgb))
        if remembered is not None and remembered.shape == rgb.shape[:2]:
            return remembered
        return paper_ink_model(rgb, alpha).ink

    def remember(self, output_rgb: np.ndarray, ink: np.ndarray) -> None:
        """Protect ``ink`` again in a pass whose input is ``output_rgb``."""
        while len(self._items) >= self.size:
            self._items.pop(next(iter(self._items)))
        self._items[self.key(output_rgb)] = ink
