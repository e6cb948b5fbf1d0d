"""The paper/ink model: which pixels are paper and which are ink, whatever the colours.

Computed once per image and read by every style except ``v12`` (which keeps the original's grey
rules byte for byte).  The paper is the dominant colour (colours quantised to 1/16 per channel,
the mean of the most common bin) of the image composited over white, so transparent pixels are
paper whatever their hidden RGB.  Ink is every pixel whose colour distance from the paper
(Euclidean RGB distance / sqrt 3, in [0, 1]) exceeds :data:`INK_DISTANCE`.  This works for
dark-on-light, light-on-dark, coloured ink and tinted or grey paper.  ``carrier`` is the
polarity-free carrier that the spectral stages read: 1 on paper, 0 on full-strength ink (the
distance over the typical ink distance, clipped), so a drawing and its colour inverse get the
same carrier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

INK_DISTANCE = 0.2
"""Colour distance from the paper (in [0, 1]) above which a pixel is ink."""
OPAQUE = 0.5
"""Alpha below which a pixel counts as transparent (``stats()["alpha_as_paper"]``)."""
BINS = 16
"""Quantisation levels per channel of the paper estimate."""


@dataclass(frozen=True)
class PaperInk:
    """The paper/ink model of one image (arrays are (H, W))."""

    paper: tuple[float, float, float]
    """The paper colour (RGB in [0, 1])."""
    distance: np.ndarray
    """float64 colour distance of each pixel (composited over white) from the paper, in [0, 1]."""
    ink: np.ndarray
    """bool: the pixel is ink."""
    carrier: np.ndarray
    """float64 in [0, 1]: 1 on paper, 0 on full-strength ink (polarity-free)."""
    alpha: np.ndarray | None
    """float64 alpha in [0, 1], or None for an opaque image."""
    polarity: str
    """``dark-on-light`` or ``light-on-dark`` (the paper's luminance against 0.5)."""

    @property
    def ink_fraction(self) -> float:
        """Fraction of the pixels that are ink."""
        return float(self.ink.mean()) if self.ink.size else 0.0

    def stats(self) -> dict[str, Any]:
        """The JSON form in ``stats["paper"]``."""
        return {
            "paper": [round(float(c), 6) for c in self.paper],
            "ink_fraction": round(self.ink_fraction, 6),
            "polarity": self.polarity,
            "ink_distance": INK_DISTANCE,
            "alpha_as_paper": self.alpha is not None and bool((self.alpha < OPAQUE).any()),
        }


def paper_colour(rgb: np.ndarray, opaque: np.ndarray) -> np.ndarray:
    """The dominant colour of the ``opaque`` pixels of ``rgb`` ((H, W, 3) in [0, 1]); white if none."""
    pixels = rgb[opaque]
    if pixels.size == 0:
        return np.ones(3)
    q = np.minimum((pixels * BINS).astype(np.int64), BINS - 1)
    code = (q[:, 0] * BINS + q[:, 1]) * BINS + q[:, 2]
    counts = np.bincount(code, minlength=BINS ** 3)
    return pixels[code == int(np.argmax(counts))].mean(axis=0)


def paper_ink_model(rgb: np.ndarray, alpha: np.ndarray | None = None) -> PaperInk:
    """The :class:`PaperInk` model of ``rgb`` ((H, W, 3) float in [0, 1]) with optional ``alpha`` ((H, W))."""
    rgb = np.asarray(rgb, dtype=np.float64)
    if alpha is not None:  # composited over white: the hidden RGB of transparent pixels never counts
        a = np.asarray(alpha, dtype=np.float64)[:, :, None]
        rgb = a * rgb + (1.0 - a)
    paper = paper_colour(rgb, np.ones(rgb.shape[:2], dtype=bool))
    distance = np.sqrt(((rgb - paper) ** 2).sum(axis=2) / 3.0)
    ink = distance > INK_DISTANCE
    typical = float(np.median(distance[ink])) if ink.any() else 1.0
    carrier = 1.0 - np.clip(distance / max(typical, INK_DISTANCE), 0.0, 1.0)
    luminance = float(paper @ np.array([0.299, 0.587, 0.114]))
    return PaperInk(tuple(float(c) for c in paper), distance, ink, carrier,  # type: ignore[arg-type]
                    None if alpha is None else np.asarray(alpha, dtype=np.float64),
                    "dark-on-light" if luminance >= 0.5 else "light-on-dark")
