"""The colours of the marks a style adds, derived from the drawing's own ink and paper.

A :class:`Palette` holds the ink and paper colours of the drawing and the two colours of the
shadow marks: ``edge`` (the deep tone of a shadow's outline) and ``fill`` (the light tone of its
body).  Both are chosen, whatever the ink and paper colours, to lie far from the ink (a mean
absolute channel difference of at least :data:`MIN_INK_DISTANCE`, the measure of
``look_metrics.py``'s ``tint``) and visibly off the paper, in a hue given by the palette's name:

* ``dusk`` (the default): blue-violet; when the ink itself is blue-violet, sea green.
* ``ember``: terracotta; when the ink is warm red-orange, teal.
* ``complement``: the hue opposite the ink's (blue-violet for grey or black ink).

Every colour is rounded to 8 bits, so a later pass (and a written file) sees the marks in exactly
the palette's colours: :func:`mark_mask` finds them again and the styles never treat their own
marks as the artist's ink.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastshade.options import PALETTE_NAMES

PALETTE_HUES: dict[str, tuple[float, float]] = {"dusk": (0.66, 0.42), "ember": (0.04, 0.5)}
"""Preferred hue (turns) of each fixed-hue palette, and its fallback when the ink is near it."""
MIN_INK_DISTANCE = 0.34
"""Smallest mean absolute channel difference (in [0, 1]) between a mark colour and the ink."""
MIN_PAPER_DISTANCE = 0.18
"""Smallest mean absolute channel difference between the light ``fill`` and the paper."""
CHROMATIC = 0.2
"""HLS saturation (of a colour of lightness in 0.1..0.9) above which the ink has a hue."""
NEAR_HUE = 0.12
"""Hue distance (turns) below which the ink counts as having the palette's own hue."""
EDGE_FLOOR = 0.55
"""Smallest brightest channel of the deep tone (when a colour that bright keeps off the ink)."""
LIGHTNESS = np.linspace(0.18, 0.9, 37)
SATURATION = np.array([0.45, 0.6, 0.75, 0.9])


@dataclass(frozen=True)
class Palette:
    """The colours of one drawing's marks (RGB tuples in [0, 1], multiples of 1/255)."""

    name: str
    ink: tuple[float, float, float]
    paper: tuple[float, float, float]
    edge: tuple[float, float, float]
    """The deep tone: the outline of a shadow."""
    fill: tuple[float, float, float]
    """The light tone: the body of a shadow."""

    def stats(self) -> dict[str, Any]:
        """The JSON form in ``stats["palette"]`` (8-bit colours)."""
        def hexed(c: tuple[float, float, float]) -> str:
            return "#" + "".join(f"{int(round(v * 255)):02x}" for v in c)
        return {"name": self.name, "ink": hexed(self.ink), "paper": hexed(self.paper),
                "edge": hexed(self.edge), "fill": hexed(self.fill)}


def channel_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute channel difference of RGB colours (last axis 3), in [0, 1]."""
    return np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).mean(axis=-1)


def dominant_ink(rgb: np.ndarray, ink: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """The ink colour: the most common colour (1/16 bins) of the ``ink`` pixels, full strength.

    The mode, not the median, so anti-aliased edges and a minority of other colours (a later
    pass's shadow marks) do not move it.  The paper colour when there is no ink.
    """
    pixels = rgb[ink]
    if pixels.size == 0:
        return np.asarray(paper, dtype=np.float64)
    q = np.minimum((pixels * 16).astype(np.int64), 15)
    code = (q[:, 0] * 16 + q[:, 1]) * 16 + q[:, 2]
    return pixels[code == int(np.argmax(np.bincount(code, minlength=4096)))].mean(axis=0)


def _hue_of(colour: np.ndarray) -> float | None:
    """The hue (turns) of ``colour``, or None when it is grey (or near black/white)."""
    h, light, s = colorsys.rgb_to_hls(*(float(c) for c in colour))
    return h if s > CHROMATIC and 0.1 < light < 0.9 else None


def _hue_gap(a: float, b: float) -> float:
    d = abs(a - b) % 1.0
    return min(d, 1.0 - d)


def palette_hue(name: str, ink: np.ndarray, source: np.ndarray | None = None) -> float:
    """The hue (turns) of palette ``name`` for a drawing in ``ink``.

    ``source``: a colour whose hue the marks take instead when it has one (cross mode: the
    sample's ink), turned half a circle when it is the ink's own hue.
    """
    ink_hue = _hue_of(ink)
    source_hue = None if source is None else _hue_of(np.asarray(source, dtype=np.float64))
    if source_hue is not None:
        near = ink_hue is not None and _hue_gap(ink_hue, source_hue) < NEAR_HUE
        return (source_hue + 0.5) % 1.0 if near else source_hue
    if name == "complement":
        return PALETTE_HUES["dusk"][0] if ink_hue is None else (ink_hue + 0.5) % 1.0
    if name not in PALETTE_HUES:
        raise ValueError(f"palette must be one of {', '.join(PALETTE_NAMES)}, got {name!r}")
    hue, fallback = PALETTE_HUES[name]
    return fallback if ink_hue is not None and _hue_gap(ink_hue, hue) < NEAR_HUE else hue


def _candidates(hue: float) -> np.ndarray:
    """Every (lightness, saturation) colour of ``hue`` on the search grid, 8-bit, (n, 3)."""
    out = [colorsys.hls_to_rgb(hue, float(light), float(sat)) for light in LIGHTNESS for sat in SATURATION]
    return np.round(np.asarray(out) * 255.0) / 255.0


def _pick(cands: np.ndarray, ink: np.ndarray, paper: np.ndarray, light: bool) -> np.ndarray:
    d_ink, d_paper = channel_distance(cands, ink), channel_distance(cands, paper)
    ok = d_ink >= MIN_INK_DISTANCE
    if light:
        ok &= d_paper >= MIN_PAPER_DISTANCE
        if ok.any():  # the lightest tone that stays clear of both: as near the paper as allowed
            return cands[np.flatnonzero(ok)[np.argmin(d_paper[ok])]]
    elif ok.any():  # the deep tone: as far from the paper as it can be while clear of the ink,
        # never near-black (a shadow, not a second ink)
        ok &= np.asarray(cands).max(axis=1) >= EDGE_FLOOR if (ok & (cands.max(axis=1) >= EDGE_FLOOR)).any() else ok
        score = np.minimum(d_ink, 1.5 * d_paper)
        return cands[int(np.argmax(np.where(ok, score, -1.0)))]
    return cands[int(np.argmax(np.minimum(d_ink, d_paper)))]


def derive_palette(ink: np.ndarray, paper: np.ndarray, name: str = "dusk",
                   source: np.ndarray | None = None) -> Palette:
    """The :class:`Palette` ``name`` for a drawing in ``ink`` on ``paper`` (RGB in [0, 1]).

    ``fill`` is the lightest colour of the palette's hue that keeps :data:`MIN_INK_DISTANCE`
    from the ink and :data:`MIN_PAPER_DISTANCE` from the paper; ``edge`` the colour that best
    keeps away from both (weighting the paper 1.5x), at least as far from the ink.  One-line
    ``ValueError`` for an unknown name.  ``source``: see :func:`palette_hue`.
    """
    ink = np.round(np.clip(np.asarray(ink, dtype=np.float64), 0.0, 1.0) * 255.0) / 255.0
    paper = np.round(np.clip(np.asarray(paper, dtype=np.float64), 0.0, 1.0) * 255.0) / 255.0
    cands = _candidates(palette_hue(name, ink, source))
    edge = _pick(cands, ink, paper, light=False)
    fill = _pick(cands, ink, paper, light=True)
    if np.array_equal(edge, fill):  # a narrow gamut (mid-grey ink on mid-grey paper): split them
        fill = _pick(cands[channel_distance(cands, edge) >= 0.08], ink, paper, light=True)

    def tup(c: np.ndarray) -> tuple[float, float, float]:
        return (float(c[0]), float(c[1]), float(c[2]))
    return Palette(name, tup(ink), tup(paper), tup(edge), tup(fill))


def mark_mask(rgb: np.ndarray, palette: Palette, where: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool: the pixel (of ``where``, default all) is exactly, to half an 8-bit step, one
    of the palette's mark colours.
    """
    out = np.zeros(rgb.shape[:2], dtype=bool)
    idx = np.ones(rgb.shape[:2], dtype=bool) if where is None else where
    pixels = rgb[idx][:, :3]
    hit = np.zeros(len(pixels), dtype=bool)
    for colour in (palette.edge, palette.fill):
        hit |= (np.abs(pixels - np.asarray(colour)) < 0.5 / 255.0).all(axis=1)
    out[idx] = hit
    return out
