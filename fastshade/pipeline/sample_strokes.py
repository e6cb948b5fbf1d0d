"""Cross mode with any sample: candidates from the sample's strokes, and a bounded paste.

Opt-in helpers of :func:`fastshade.pipeline.cross.shadow_cross` (its ``sample_strokes`` and
``paste_bound`` arguments), used by every style except v12, whose cross path keeps its bytes.

* A sample candidate is a low-gate component of the sample restricted to the sample's strokes
  (:attr:`fastshade.pipeline.paper.PaperInk.strokes`: ink within a few px of paper), so the
  inside of a fill and the paper of a dark background are never copied; a component with no
  stroke pixel is no candidate.
* A placement pastes at most :data:`PASTE_BOUND` times its target component's area: a larger
  source is cut to its pixels nearest to its centroid before it is placed (so the copy's
  retention, visible over source pixels, is measured on what was meant to land).
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


def nearest_pixels(ys: np.ndarray, xs: np.ndarray, centre: tuple[float, float], cap: float) -> np.ndarray | None:
    """Indices of the at most ``floor(cap)`` pixels ``(ys, xs)`` nearest to ``centre`` (ties by index,
    in index order), or None when there are no more than ``cap`` pixels (nothing to drop).
    """
    limit = int(cap)
    if ys.size <= limit:
        return None
    d2 = (ys - centre[0]) ** 2 + (xs - centre[1]) ** 2
    return np.sort(np.argsort(d2, kind="stable")[:limit])
