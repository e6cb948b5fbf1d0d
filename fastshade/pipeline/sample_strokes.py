"""Cross mode with any sample: candidates from the sample's strokes, and a bounded paste.

Opt-in helpers of :func:`fastshade.pipeline.cross.shadow_cross` (its ``sample_strokes`` and
``paste_bound`` arguments), used by every style except v12, whose cross path keeps its bytes.

* A sample candidate is a low-gate component of the sample restricted to the sample's strokes
  (:attr:`fastshade.pipeline.paper.PaperInk.strokes`: ink within a few px of paper), so the
  inside of a fill and the paper of a dark background are never copied; a component with no
  stroke pixel is no candidate.
* A placement pastes at most :data:`PASTE_BOUND` times its target component's area: beyond
  that, only the kept pixels nearest to the destination centroid are written.
"""

from __future__ import annotations

import numpy as np

from fastshade.pipeline.components import Components

PASTE_BOUND = 2.0
"""A cross placement writes at most this many times its target component's pixel count (the
issue's "solid blobs": a 10-px target component eliciting a 5,000-px fill of the sample)."""


def stroke_candidates(comps: Components, strokes: np.ndarray) -> np.ndarray:
    """Which of the sample's components ``comps`` have a pixel in ``strokes`` ((H, W)): bool (n,)."""
    flat = strokes.ravel()
    return np.array([bool(flat[comps.pixels_of(j)].any()) for j in range(comps.n)], dtype=bool)


def stroke_pixels(pixels: np.ndarray, strokes: np.ndarray) -> np.ndarray:
    """The flat indices among ``pixels`` that lie on ``strokes`` ((H, W) bool)."""
    return pixels[strokes.ravel()[pixels]]


def bounded_keep(keep: np.ndarray, dy: np.ndarray, dx: np.ndarray, centre: tuple[float, float],
                 cap: float) -> np.ndarray:
    """``keep`` with at most ``floor(cap)`` pixels left: those whose destination ``(dy, dx)`` is
    nearest to ``centre`` (ties by index, so the choice is deterministic).
    """
    limit = int(cap)
    if int(keep.sum()) <= limit:
        return keep
    index = np.flatnonzero(keep)
    d2 = (dy[index] - centre[0]) ** 2 + (dx[index] - centre[1]) ** 2
    chosen = index[np.argsort(d2, kind="stable")[:limit]]
    out = np.zeros_like(keep)
    out[chosen] = True
    return out
