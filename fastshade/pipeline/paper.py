"""The paper/ink model: which pixels are paper and which are ink, whatever the colours.

Computed once per image and read by every style except ``v12`` (which keeps the original's grey
rules byte for byte).  The rules, with their constants (``docs/drawings.md``):

* **Transparency.**  The image is composited over white (:func:`over_white`), so the hidden RGB
  of a transparent pixel never counts, and a pixel with alpha below :data:`OPAQUE` is paper
  whatever its colour.
* **Paper.**  The dominant colour of the image (:func:`paper_colour`: of the most common colour
  bins, the one with the most pixels around it), refined per tile of :data:`TILE` px for uneven
  scans (:func:`paper_field`): a tile whose pixels lie at least :data:`TILE_PAPER_SHARE` within
  :data:`INK_DISTANCE` of a neighbour's paper takes their median as its own paper, grown outward
  from the tiles that agree with the global paper, so a paper that darkens across the page is
  followed step by step but an ink fill never becomes paper.  A tile within
  :data:`TILE_TOLERANCE` of the global paper keeps the global paper exactly (uniform paper is
  exactly uniform).
* **Ink.**  A pixel whose colour distance from its paper (Euclidean RGB distance / sqrt 3, in
  [0, 1]) exceeds :data:`INK_DISTANCE`.  Dark-on-light, light-on-dark, coloured ink and tinted or
  grey paper alike: a drawing and its colour inverse have the same ink.
* **Strokes and fills.**  ``strokes`` are the ink pixels within :data:`EDGE_REACH` px of a
  non-ink pixel or of a colour edge inside the ink (every pixel of a stroke up to
  ``2 * EDGE_REACH`` px wide, the rim of a fill, and lines drawn across a fill in another
  colour); ``fill`` is the rest of the ink, the inside of a large fill, which is not a stroke.
* ``carrier``: the polarity-free carrier that the spectral stages read, 1 on paper and 0 on
  full-strength ink (the distance over the median ink distance, clipped).

:func:`marks_over_paper` is the way back for transparent images: the shaded composite becomes
RGBA again, each changed pixel with the least alpha that shows the mark over white (its
coverage), every untouched pixel with its input RGBA exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from fastshade.kernels import paper as paper_kernels
from fastshade.pipeline.distance import nearest_background
from fastshade.pipeline.stagelog import channels_differ
from fastshade.threads import image_parts, run_parts, threaded, work_rows

INK_DISTANCE = 0.2
"""Colour distance from the paper (in [0, 1]) above which a pixel is ink: a fifth of the way from
white to black.  The faintest ink of the shared images (the grey strokes of the mspaint ensos) lies
at 0.37, pink ink on grey paper at 0.34; JPEG ringing and paper grain stay below 0.1."""
OPAQUE = 0.5
"""Alpha below which a pixel is transparent: paper whatever its RGB (``alpha_as_paper``)."""
BINS = 16
"""Quantisation levels per channel of the paper estimate."""
PAPER_CANDIDATES = 8
"""The most common colour bins among which :func:`paper_colour` picks the paper."""
PAPER_SPREAD = 0.1
"""Colour distance within which :func:`paper_colour` counts a candidate's pixels: half the ink
distance, so the colours half-way between paper and ink (anti-aliasing) never gather both."""
TILE = 64
"""Side in px of the tiles of the per-tile paper estimate (larger on images over 32 tiles wide, so
there are at most 32 x 32 tiles)."""
TILE_PAPER_SHARE = 0.25
"""Share of a tile's pixels that must lie within :data:`INK_DISTANCE` of the paper for the tile to
have its own paper estimate (others take the nearest estimated tile's)."""
TILE_TOLERANCE = 0.02
"""A tile's paper this close to the global paper is the global paper."""
EDGE_REACH = 3
"""Ink pixels at most this many px (Euclidean) from a non-ink pixel are strokes; the rest is fill."""
WHITE = np.ones(3)


@dataclass(frozen=True)
class PaperInk:
    """The paper/ink model of one image (arrays are (H, W))."""

    paper: tuple[float, float, float]
    """The paper colour (RGB in [0, 1]): the dominant colour of the image over white."""
    distance: np.ndarray
    """float64 colour distance of each pixel (composited over white) from its paper, in [0, 1]."""
    ink: np.ndarray
    """bool: the pixel is ink (never a transparent pixel)."""
    carrier: np.ndarray
    """float64 in [0, 1]: 1 on paper, 0 on full-strength ink (polarity-free)."""
    alpha: np.ndarray | None
    """float64 alpha in [0, 1], or None for an opaque image."""
    polarity: str
    """``dark-on-light`` or ``light-on-dark`` (the paper's luminance against 0.5)."""
    strokes: np.ndarray | None = None
    """bool: ink within :data:`EDGE_REACH` px of a non-ink pixel or a colour edge (:func:`stroke_mask`)."""
    paper_map: np.ndarray | None = None
    """(H, W, 3) float64: the per-pixel paper (:func:`paper_field`), or None when it is uniform."""

    @property
    def ink_fraction(self) -> float:
        """Fraction of the pixels that are ink."""
        return float(self.ink.mean()) if self.ink.size else 0.0

    @property
    def guard(self) -> np.ndarray:
        """float64 (H, W): the carrier with every ink pixel at 0, the ink guard's field.

        :func:`~fastshade.pipeline.shading.gated_copy` writes only where ``guard > threshold``, so
        with this field and any threshold >= 0 no ink pixel is ever written, whatever its colour
        (the plain carrier of faint or coloured ink can exceed v12's 0.3).
        """
        return np.where(self.ink, 0.0, self.carrier)

    @property
    def fill(self) -> np.ndarray:
        """bool: ink that is not a stroke (the inside of a large fill)."""
        return self.ink & ~self.strokes if self.strokes is not None else np.zeros_like(self.ink)

    def stats(self) -> dict[str, Any]:
        """The JSON form in ``stats["paper"]``."""
        return {
            "paper": [round(float(c), 6) for c in self.paper],
            "ink_fraction": round(self.ink_fraction, 6),
            "polarity": self.polarity,
            "ink_distance": INK_DISTANCE,
            "alpha_as_paper": self.alpha is not None and bool((self.alpha < OPAQUE).any()),
            "stroke_fraction": round(float(self.strokes.mean()), 6) if self.strokes is not None else None,
            "fill_fraction": round(float(self.fill.mean()), 6) if self.ink.size else 0.0,
            "paper_varies": self.paper_map is not None,
        }


def over_white(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """``rgb`` ((H, W, 3) in [0, 1]) composited over white by ``alpha`` ((H, W) or None: opaque)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    if alpha is None:
        return rgb
    a = np.asarray(alpha, dtype=np.float64)[:, :, None]
    return a * rgb + (1.0 - a)


def colour_distance(rgb: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Euclidean RGB distance / sqrt 3 of every pixel of ``rgb`` from ``paper`` ((3,) or (H, W, 3)).

    The values of ``np.sqrt(((rgb - paper) ** 2).sum(axis=-1) / 3.0)`` (the squares added in
    channel order), one channel at a time in blocks of rows: no (..., 3) temporaries and no
    full-size one (a big image's row slabs on its threads, :func:`fastshade.threads.image_parts`;
    NumPy releases the GIL).
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    paper = np.asarray(paper, dtype=np.float64)
    if rgb.ndim == 1 and paper.ndim == 1:  # one colour from another
        return np.sqrt(((rgb - paper) ** 2).sum(axis=-1) / 3.0)
    if paper.ndim > 1 and paper.shape != rgb.shape:
        raise ValueError(f"paper must be (3,) or {rgb.shape}, got {paper.shape}")
    total = np.empty(rgb.shape[:-1])
    line = max(1, int(np.prod(rgb.shape[1:-1])))
    step = max(1, _DISTANCE_BLOCK // line)  # rows per block

    def rows(lo: int, hi: int) -> None:
        for a in range(lo, hi, step):
            b = min(hi, a + step)
            colour, ref, out = rgb[a:b], (paper if paper.ndim == 1 else paper[a:b]), total[a:b]
            diff = np.subtract(colour[..., 0], ref[..., 0])
            np.multiply(diff, diff, out=out)
            for c in (1, 2):
                np.subtract(colour[..., c], ref[..., c], out=diff)
                np.multiply(diff, diff, out=diff)
                out += diff
            out /= 3.0
            np.sqrt(out, out=out)

    parts = max(1, min(image_parts(total.size), total.shape[0]))
    edges = np.linspace(0, total.shape[0], parts + 1).astype(np.int64)
    run_parts(lambda k: rows(int(edges[k]), int(edges[k + 1])), parts)
    return total


_DISTANCE_BLOCK = 1 << 16
"""Pixels per block of :func:`colour_distance` (its one temporary: 512 KiB)."""


def paper_colour(rgb: np.ndarray, opaque: np.ndarray) -> np.ndarray:
    """The paper colour of the ``opaque`` pixels of ``rgb`` ((H, W, 3) in [0, 1]); white if none.

    Colours are quantised to :data:`BINS` levels per channel.  Of the :data:`PAPER_CANDIDATES`
    most common bins, the one with the most pixels within :data:`PAPER_SPREAD` of its mean colour
    (the most common first on a tie) marks the paper's crowd of colours: on a page whose paper
    darkens across it, the paper's colours spread over several bins and a large fill can be the
    single most common bin, but the paper still holds the most pixels around one colour.  The
    paper colour is the mean of the pixels of the crowd's most common bin.  One kernel pass
    (:func:`fastshade.kernels.paper.colour_bins`) bins and counts the colours.
    """
    pixels = np.ascontiguousarray(rgb, dtype=np.float64).reshape(-1, 3)
    counts = np.zeros(BINS ** 3, dtype=np.int64)
    sums = np.zeros((BINS ** 3, 3))
    if paper_kernels.colour_bins(pixels, np.ascontiguousarray(opaque, dtype=bool).ravel(), BINS,
                                 None, counts, sums) == 0:  # (no per-pixel codes: 8 B a pixel)
        return np.ones(3)
    used = np.flatnonzero(counts)
    means = sums[used] / counts[used, None]
    order = np.argsort(-counts[used], kind="stable")[:PAPER_CANDIDATES]
    mass = [int(counts[used][colour_distance(means, means[i]) <= PAPER_SPREAD].sum()) for i in order]
    near = colour_distance(means, means[order[int(np.argmax(mass))]]) <= PAPER_SPREAD
    best = int(used[near][int(np.argmax(counts[used][near]))])  # that crowd's most common bin
    # the mean of its pixels: the kernel's sums are added in pixel order, as the mean of
    # ``pixels[code == best]`` adds them (the same values, without the gather)
    return sums[best] / counts[best]


def paper_field(rgb: np.ndarray, paper: np.ndarray, tile: int | None = None,
                distance: np.ndarray | None = None) -> np.ndarray | None:
    """The per-pixel paper of an unevenly lit page ((H, W, 3)), or None when the paper is uniform.

    Tiles of ``tile`` px (default :data:`TILE`, at most 32 x 32 tiles) are visited outward
    (breadth first) from those whose paper-like pixels match the global ``paper``; each takes
    the per-channel median of its pixels within :data:`INK_DISTANCE` of an estimated neighbour's
    paper, when they are at least :data:`TILE_PAPER_SHARE` of the tile.  Tiles that never have
    enough such pixels (ink fills, dense hatching) take the paper of the nearest estimated tile.
    The tile papers are spread over the pixels bilinearly between tile centres.
    ``distance``: ``colour_distance(rgb, paper)`` ((H, W)), when the caller has it already.
    """
    h, w = rgb.shape[:2]
    tile = tile or max(TILE, -(-max(h, w) // 32))
    ny, nx = -(-h // tile), -(-w // tile)
    if ny * nx < 2:
        return None

    # pixels exactly of the paper colour: when they are most of a tile's close pixels, they hold
    # its middle order statistics in every channel, so its median is the paper, exactly
    exact = (rgb[:, :, 0] == paper[0]) & (rgb[:, :, 1] == paper[1]) & (rgb[:, :, 2] == paper[2])

    def estimate(iy: int, ix: int, ref: np.ndarray) -> np.ndarray | None:
        rows, cols = slice(iy * tile, (iy + 1) * tile), slice(ix * tile, (ix + 1) * tile)
        if ref is paper and distance is not None:  # the caller's distances (the same values)
            close = distance[rows, cols] <= INK_DISTANCE
        else:
            close = colour_distance(rgb[rows, cols], ref) <= INK_DISTANCE
        count = np.count_nonzero(close)
        if count < TILE_PAPER_SHARE * close.size:
            return None
        if ref is paper and 2 * np.count_nonzero(exact[rows, cols]) > count:
            return paper  # (those pixels are close: at distance 0)
        # the tile's channels as rows (3, tile²): no (3, H, W) copy of the page (1.3 s at 35 Mpx)
        planes = np.moveaxis(rgb[rows, cols], -1, 0).reshape(3, -1)
        est = row_medians(np.compress(close.ravel(), planes, axis=1))
        return paper if colour_distance(est, paper) <= TILE_TOLERANCE else est

    return grown_tile_papers(h, w, tile, paper, estimate)


def grown_tile_papers(h: int, w: int, tile: int, paper: np.ndarray,
                      estimate: Callable[[int, int, np.ndarray], np.ndarray | None]) -> np.ndarray | None:
    """The tile walk of :func:`paper_field` for an (h, w) page of ``tile`` px tiles: the per-pixel
    paper ((H, W, 3)), or None when every tile's is ``paper``.

    ``estimate(iy, ix, ref)`` is a tile's paper from its pixels close to ``ref`` (``paper``
    itself when it matches the global paper; None when too few pixels are close).
    """
    ny, nx = -(-h // tile), -(-w // tile)
    grid = np.zeros((ny, nx, 3))
    known = np.zeros((ny, nx), dtype=bool)  # tiles with their own estimate
    queue: deque[tuple[int, int]] = deque()
    for iy in range(ny):
        for ix in range(nx):
            est = estimate(iy, ix, paper)
            if est is not None and est is paper:
                grid[iy, ix], known[iy, ix] = paper, True
                queue.append((iy, ix))
    if not queue:
        return None
    while queue:  # only estimated tiles pass their paper on; a tile that fails may pass later
        iy, ix = queue.popleft()
        for jy, jx in ((iy - 1, ix), (iy + 1, ix), (iy, ix - 1), (iy, ix + 1)):
            if 0 <= jy < ny and 0 <= jx < nx and not known[jy, jx]:
                est = estimate(jy, jx, grid[iy, ix])
                if est is not None:
                    grid[jy, jx], known[jy, jx] = est, True
                    queue.append((jy, jx))
    if not known.all():  # fills, dense hatching: the paper of the nearest estimated tile
        ry, rx = nearest_background(~known)
        grid = grid[ry, rx]
    if np.all(grid == paper):
        return None
    cy = np.clip((np.arange(h) + 0.5) / tile - 0.5, 0, ny - 1)
    cx = np.clip((np.arange(w) + 0.5) / tile - 0.5, 0, nx - 1)
    gy, gx = np.meshgrid(cy, cx, indexing="ij")
    return np.stack([ndimage.map_coordinates(grid[:, :, c], [gy, gx], order=1, mode="nearest")
                     for c in range(3)], axis=2)


def row_medians(values: np.ndarray) -> np.ndarray:
    """``np.median(values, axis=1)`` of a finite (r, n) array, n >= 1 (the same values: the middle
    order statistic, or the mean ``(a + b) / 2`` of the middle two, of each row), without its
    per-call overhead (:func:`paper_field` takes the median of every tile).
    """
    n = values.shape[1]
    half = n // 2
    if n % 2:
        return np.partition(values, half, axis=1)[:, half]
    part = np.partition(values, (half - 1, half), axis=1)
    return (part[:, half - 1] + part[:, half]) / 2.0


def local_range(rgb: np.ndarray) -> np.ndarray:
    """(H, W): the largest per-channel range (max - min) over each pixel's 3x3 neighbourhood
    (clipped to the image; :func:`fastshade.kernels.paper.local_range`, one pass; a big image's
    rows on its threads).
    """
    image = np.ascontiguousarray(rgb, dtype=np.float64)
    out = np.empty(image.shape[:2])
    kernel = threaded(paper_kernels.local_range, out.size)
    kernel(image, out, np.empty((work_rows(kernel, paper_kernels.local_range), 2, image.shape[1], image.shape[2])))
    return out


def reach_offsets(reach: float) -> tuple[np.ndarray, np.ndarray]:
    """``(dy, dx)`` int64: every offset with ``sqrt(dy² + dx²) <= reach``, nearest first (the
    disk that ``ndimage.distance_transform_edt(...) <= reach`` tests; empty when ``reach < 0``).
    """
    r = int(np.floor(max(reach, 0.0)))
    dy, dx = (a.ravel() for a in np.mgrid[-r:r + 1, -r:r + 1])
    d2 = (dy * dy + dx * dx).astype(np.float64)
    keep = np.sqrt(d2) <= reach
    order = np.argsort(d2[keep], kind="stable")
    return (np.ascontiguousarray(dy[keep][order], dtype=np.int64),
            np.ascontiguousarray(dx[keep][order], dtype=np.int64))


def colour_edges(rgb: np.ndarray, span: np.ndarray | None = None) -> np.ndarray:
    """Pixels whose :func:`local_range` (``span``, when already computed) is more than
    :data:`INK_DISTANCE`: bool (H, W).

    Both sides of every colour step as strong as the ink threshold.
    """
    return (local_range(rgb) if span is None else span) > INK_DISTANCE


def stroke_mask(ink: np.ndarray, reach: float = EDGE_REACH, edges: np.ndarray | None = None) -> np.ndarray:
    """bool: the pixels of ``ink`` at most ``reach`` px from a non-ink pixel (the image's border
    counts as non-ink, so a page of ink has a stroke rim) or, given ``edges``
    (:func:`colour_edges`), at most ``reach - 1`` px from an edge pixel inside the ink (one whose
    3x3 neighbourhood is all ink: a colour step within the ink, such as a line across a fill; an
    edge pixel is already one px into the step).
    """
    if not ink.any():
        return ink.copy()
    ink = np.ascontiguousarray(ink, dtype=bool)
    near = np.full(ink.shape, np.inf, dtype=np.float32)  # stays inf where nothing is within reach
    dy, dx = reach_offsets(reach)
    paper_kernels.nearest_within_reach(ink, ~ink, dy, dx, True, near)
    inner = None if edges is None else edges & ndimage.binary_erosion(ink, np.ones((3, 3)), border_value=1)
    if inner is not None and inner.any():
        dy, dx = reach_offsets(reach - 1)
        paper_kernels.nearest_within_reach(ink, np.ascontiguousarray(inner), dy, dx, False, near)
    return near != np.inf


def paper_ink_model(rgb: np.ndarray, alpha: np.ndarray | None = None, *, span: np.ndarray | None = None,
                    paper_from: PaperInk | None = None) -> PaperInk:
    """The :class:`PaperInk` model of ``rgb`` ((H, W, 3) float in [0, 1]) with optional ``alpha`` ((H, W)).

    ``span``: the :func:`local_range` of the image over white, when the caller has it already.
    ``paper_from``: the model of the drawing ``rgb`` was painted from (same shape); its paper
    (:attr:`PaperInk.paper` and :attr:`PaperInk.paper_map`) is kept instead of estimated again:
    marks a pass painted on the paper do not move the paper under them (a later pass's model).
    """
    a = None if alpha is None else np.asarray(alpha, dtype=np.float64)
    seen = over_white(rgb, a)
    if paper_from is None:
        paper = paper_colour(seen, np.ones(seen.shape[:2], dtype=bool))
        distance = colour_distance(seen, paper)
        paper_map = paper_field(seen, paper, distance=distance)
        if paper_map is not None:
            distance = colour_distance(seen, paper_map)
    else:
        paper, paper_map = np.asarray(paper_from.paper, dtype=np.float64), paper_from.paper_map
        distance = colour_distance(seen, paper if paper_map is None else paper_map)
    ink = distance > INK_DISTANCE
    if a is not None:
        ink &= a >= OPAQUE
    typical = float(np.median(distance[ink])) if ink.any() else 1.0
    carrier = distance / max(typical, INK_DISTANCE)  # 1 - clip(., 0, 1), in place
    np.subtract(1.0, np.clip(carrier, 0.0, 1.0, out=carrier), out=carrier)
    if a is not None:
        carrier[a < OPAQUE] = 1.0
    luminance = float(paper @ np.array([0.299, 0.587, 0.114]))
    return PaperInk(tuple(float(c) for c in paper), distance, ink, carrier,  # type: ignore[arg-type]
                    a, "dark-on-light" if luminance >= 0.5 else "light-on-dark",
                    stroke_mask(ink, EDGE_REACH, colour_edges(seen, span)), paper_map)


def marks_over_paper(rgb: np.ndarray, alpha: np.ndarray, shaded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RGB and alpha of a shaded transparent image, from its shaded composite over white.

    ``rgb``, ``alpha``: the input ((H, W, 3), (H, W)); ``shaded``: what a style painted on
    :func:`over_white` of them ((H, W, 3)).  Every pixel the style left as it was keeps its input
    RGB and alpha exactly.  A changed pixel gets the least alpha, at least its input alpha, that
    shows ``shaded`` over white: ``a = max(alpha, 1 - min_channel(shaded))`` (the mark's
    coverage), with the colour ``(shaded - (1 - a)) / a``, so the output composited over white is
    ``shaded`` (up to the 8-bit rounding of the written file).
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    changed = channels_differ(shaded, over_white(rgb, alpha))
    out_rgb = np.array(rgb, dtype=np.float64, copy=True)
    out_alpha = alpha.copy()
    s = shaded[changed]
    a = np.maximum(alpha[changed], 1.0 - s.min(axis=1))
    shown = a > 0
    colour = out_rgb[changed]
    colour[shown] = np.clip((s[shown] - (1.0 - a[shown, None])) / a[shown, None], 0.0, 1.0)
    out_rgb[changed] = colour
    out_alpha[changed] = a
    return out_rgb, out_alpha
