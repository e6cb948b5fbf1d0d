"""A built-in, procedurally drawn line-art image (no files, no network).

:func:`demo_image` is the default input of ``fastshade shade --demo`` and of
``fastshade bench``: black strokes on white, like the hand-drawn test images
(``toof.png``), with a few closed outlines (a wobbly face, eyes, an ellipse),
open curves (a smile, a spiral, a zig-zag) and one coloured wavy stroke.
Strokes are 2.5 px wide (thinner below 128 px) with anti-aliased edges.

Every curve is given in unit coordinates ``(u, v)`` (``u`` across, ``v``
down) and stretched to the image, so any size works, from 1 x 1 up; the
stroke width stays in pixels.  Curves are resampled to chords of at most
1.25 px, and each pixel's coverage is ``clip(w/2 + 0.5 - d, 0, 1)`` where
``d`` is its distance to the polyline; strokes are composited in a fixed
order over white.  Pure NumPy, deterministic: the same size always gives the
same bytes.  Cost is proportional to the stroke area (2048 x 2048 in well
under a second).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["demo_image"]

_CHORD_PX = 1.25
_INK = (0.0, 0.0, 0.0)
_BLUE = (0.12, 0.22, 0.78)

CurveFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _loop(cu: float, cv: float, ru: float, rv: float, wobble: tuple[tuple[float, float, float], ...] = (),
          turn: float = 0.0, t0: float = 0.0, t1: float = 2 * np.pi) -> CurveFn:
    """Ellipse/arc ``t0..t1`` around (cu, cv) with radial wobble terms (amp, freq, phase)."""

    def curve(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = t0 + (t1 - t0) * t
        scale = np.ones_like(theta)
        for amp, freq, phase in wobble:
            scale = scale + amp * np.sin(freq * theta + phase)
        du = ru * scale * np.cos(theta)
        dv = rv * scale * np.sin(theta)
        c, s = np.cos(turn), np.sin(turn)
        return cu + c * du - s * dv, cv + s * du + c * dv

    return curve


def _spiral(cu: float, cv: float, r0: float, r1: float, turns: float) -> CurveFn:
    def curve(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = 2 * np.pi * turns * t
        r = r0 + (r1 - r0) * t
        return cu + r * np.cos(theta), cv + r * np.sin(theta)

    return curve


def _wave(u0: float, u1: float, v: float) -> CurveFn:
    def curve(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = u0 + (u1 - u0) * t
        return u, v + 0.035 * np.sin(2 * np.pi * 3.5 * t + 0.3) + 0.01 * np.sin(2 * np.pi * 9 * t + 1.1)

    return curve


def _polyline(points: tuple[tuple[float, float], ...]) -> CurveFn:
    pts = np.asarray(points, dtype=np.float64)
    knots = np.linspace(0.0, 1.0, len(pts))

    def curve(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # slight hand tremor along the stroke
        tremor = 0.003 * np.sin(2 * np.pi * 3 * t + 0.7)
        return np.interp(t, knots, pts[:, 0]), np.interp(t, knots, pts[:, 1]) + tremor

    return curve


_CURVES: tuple[tuple[CurveFn, tuple[float, float, float]], ...] = (
    # face outline (closed, wobbly) and eyes (closed)
    (_loop(0.38, 0.42, 0.22, 0.22, ((0.04, 3, 0.5), (0.025, 5, 1.3))), _INK),
    (_loop(0.30, 0.35, 0.03, 0.035, ((0.1, 2, 0.2),)), _INK),
    (_loop(0.46, 0.35, 0.03, 0.035, ((0.1, 2, 1.9),)), _INK),
    # smile (open arc) and nose (open stroke)
    (_loop(0.38, 0.44, 0.12, 0.10, ((0.05, 4, 0.0),), t0=0.15 * np.pi, t1=0.85 * np.pi), _INK),
    (_polyline(((0.38, 0.38), (0.36, 0.45), (0.40, 0.46))), _INK),
    # spiral (open) top right
    (_spiral(0.78, 0.24, 0.012, 0.14, 3.0), _INK),
    # tilted ellipse (closed) lower right
    (_loop(0.76, 0.64, 0.14, 0.09, ((0.03, 3, 0.9),), turn=0.4), _INK),
    # zig-zag (open) lower left
    (_polyline(((0.06, 0.74), (0.12, 0.63), (0.18, 0.75), (0.24, 0.64), (0.30, 0.76))), _INK),
    # coloured wavy line (open) along the bottom
    (_wave(0.06, 0.94, 0.88), _BLUE),
)


def _resample(curve: CurveFn, height: int, width: int) -> np.ndarray:
    """Points (n, 2) in pixel (y, x) along ``curve`` with chords <= _CHORD_PX."""
    t = np.linspace(0.0, 1.0, 4097)
    u, v = curve(t)
    y, x = v * (height - 1), u * (width - 1)
    step = np.hypot(np.diff(y), np.diff(x))
    arc = np.concatenate([[0.0], np.cumsum(step)])
    n = max(2, int(np.ceil(arc[-1] / _CHORD_PX)) + 1)
    s = np.linspace(0.0, arc[-1], n)
    return np.stack([np.interp(s, arc, y), np.interp(s, arc, x)], axis=1)


def _stroke_coverage(points: np.ndarray, height: int, width: int, half: float) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased coverage of a polyline stroke: (flat pixel indices, coverage in (0, 1]).

    Only pixels within ``half + 0.5`` px of the polyline are returned (sorted,
    unique); coverage is ``clip(half + 0.5 - d, 0, 1)`` with ``d`` the exact
    distance to the nearest segment.
    """
    reach = half + 0.5
    p0, p1 = points[:-1], points[1:]
    k = int(np.ceil(_CHORD_PX + 2 * reach)) + 2
    origin = np.floor(np.minimum(p0, p1) - reach).astype(np.int64)
    offsets = np.arange(k)
    py = origin[:, 0, None, None] + offsets[None, :, None]  # (n, k, 1)
    px = origin[:, 1, None, None] + offsets[None, None, :]  # (n, 1, k)
    seg = (p1 - p0)[:, None, None, :]
    length2 = np.maximum((seg**2).sum(-1), 1e-12)
    ry = py - p0[:, 0, None, None]
    rx = px - p0[:, 1, None, None]
    t = np.clip((ry * seg[..., 0] + rx * seg[..., 1]) / length2, 0.0, 1.0)
    cover = np.clip(reach - np.hypot(ry - t * seg[..., 0], rx - t * seg[..., 1]), 0.0, 1.0)
    py, px = np.broadcast_arrays(py, px)
    keep = (py >= 0) & (py < height) & (px >= 0) & (px < width) & (cover > 0.0)
    flat = (py * width + px)[keep]
    cover = cover[keep]
    order = np.lexsort((-cover, flat))  # by pixel, largest coverage first
    flat, cover = flat[order], cover[order]
    first = np.ones(flat.size, dtype=bool)
    first[1:] = flat[1:] != flat[:-1]
    return flat[first], cover[first]


def demo_image(height: int = 512, width: int = 512) -> np.ndarray:
    """Draw the built-in line-art demo image.

    Parameters
    ----------
    height, width : int, optional
        Output size in pixels (>= 1 each; default 512 x 512).

    Returns
    -------
    numpy.ndarray
        ``(height, width, 3)`` float64 RGB in [0, 1], C-contiguous, newly
        allocated: white paper, black strokes and one blue stroke.  At
        512 x 512 about 5 % of the pixels are dark (mean < 0.5).

    Raises
    ------
    ValueError
        If ``height`` or ``width`` is not a positive integer.
    """
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    height, width = int(height), int(width)
    stroke = float(np.clip(min(height, width) / 48.0, 1.0, 2.5))
    half = stroke / 2.0
    image = np.ones((height * width, 3))
    for curve, colour in _CURVES:
        flat, cover = _stroke_coverage(_resample(curve, height, width), height, width, half)
        cover = cover[:, None]
        image[flat] = image[flat] * (1.0 - cover) + np.asarray(colour) * cover
    return image.reshape(height, width, 3)
