"""The final pipeline's self-mode painting: the resampling thickener and the re-tinting shadow.

``original-system.md`` §5.3.  Every function is vectorised NumPy/SciPy (a 7×7 box filter, one
small Gaussian correlation, two bilinear samplings per image): none is hot enough for a kernel.
Images are (H, W, 3) float64 RGB in [0, 1]; fields (H, W) float64.  The painting functions
write into ``out`` in place and never write on a pixel of ``ink`` (the paper/ink model of the
pass's input, :mod:`fastshade.pipeline.paper`); see :func:`retint_shadow` for how the shadow
keeps that rule.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from fastshade.pipeline.gates import zscore
from fastshade.pipeline.resolution import scaled_window
from fastshade.pipeline.stagelog import StageLog

LUMA = np.array([0.299, 0.587, 0.114])
"""The grey of the final pipeline (``0.299 R + 0.587 G + 0.114 B``)."""
PHASES = np.array([0.0, 2.0 * np.pi / 3.0, 4.0 * np.pi / 3.0])
"""The cyclic colour map's channel phases (R, G, B)."""
SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
"""Sobel/8 for d/dx (cross-correlation, §0.2); its transpose is d/dy."""
SAMPLE_STEP = 1.2
"""Length in pixels of the thickener's sampling step towards the stroke."""
COMPLEXITY_WINDOW = 7
"""Side of the box whose variance enters the complexity ψ."""
SELECT_FLOOR = 0.2
"""The thickener replaces only where ``sel > 0.2`` (so every fill threshold below acts as 0.2)."""


def grey(rgb: np.ndarray) -> np.ndarray:
    """``0.299 R + 0.587 G + 0.114 B`` of an (H, W, 3) image."""
    return rgb[:, :, :3] @ LUMA


def final_contours(rgb: np.ndarray) -> np.ndarray:
    """Contours of the final pipeline: ``|z(grey)| > 1`` (unbiased std, +1e-8), (H, W) bool."""
    if rgb.shape[0] * rgb.shape[1] < 2:
        return np.zeros(rgb.shape[:2], dtype=bool)
    return np.abs(zscore(grey(rgb))) > 1.0


def sobel_gradient(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(g_y, g_x)``: Sobel/8 cross-correlation after 1-pixel reflect padding (torch ``reflect``)."""
    gx = ndimage.correlate(f, SOBEL_X, mode="mirror")
    gy = ndimage.correlate(f, SOBEL_X.T, mode="mirror")
    return gy, gx


def complexity(f: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``κ = σ(z(ψ))``, ``ψ = sqrt(g_x² + g_y² + 1e-8) + sqrt(var₇(f) + 1e-8)`` (§5.3 step 2).

    ``var₇`` is the 7×7 box variance with reflect padding (``E[f²] − E[f]²``, clipped at 0 against
    rounding).  At ``scale`` s the box is ``7 s`` px (odd) and the gradient is per ``s`` px, so a
    drawing s times finer gets the same ψ.
    """
    gy, gx = sobel_gradient(f)
    if scale != 1.0:
        gy, gx = gy * scale, gx * scale
    window = scaled_window(COMPLEXITY_WINDOW, scale)
    mean = ndimage.uniform_filter(f, window, mode="mirror")
    mean_sq = ndimage.uniform_filter(f * f, window, mode="mirror")
    var = np.maximum(mean_sq - mean * mean, 0.0)
    psi = np.sqrt(gx * gx + gy * gy + 1e-8) + np.sqrt(var + 1e-8)
    return 1.0 / (1.0 + np.exp(-zscore(psi)))


def gaussian_kernel(radius: int, sigma_ratio: float) -> np.ndarray:
    """``K_r(i, j) = exp(−(i² + j²) / (2 (r σ_r)²))`` on ``[−r, r]²``, scaled to max 1."""
    i = np.arange(-radius, radius + 1, dtype=np.float64)
    s = radius * sigma_ratio
    k = np.exp(-(i[:, None] ** 2 + i[None, :] ** 2) / (2.0 * s * s))
    return k / k.max()


def thicken_resample(out: np.ndarray, f: np.ndarray, q: float, contours: np.ndarray, ink: np.ndarray,
                     *, radius: int, sigma_ratio: float, fill_threshold: float, modulation: float,
                     angle: float = 0.03, scale: float = 1.0) -> np.ndarray:
    """The complexity-modulated resampling thickener (§5.3 steps 1–8), in place on ``out``.

    ``S = contours ∧ f > q``; weight ``1[S]·max(1 − m κ, 0.05)``; ``sel`` = weight ⋆ ``K_r`` (zero
    padding); fill = ``¬contours ∧ ¬ink ∧ sel > max(fill_threshold, 0.2)``; each fill pixel takes
    the nearest pixel (border clamp) of the pass's image at ``p + Rot(angle)·1.2 d``, ``d`` the
    unit forward-difference gradient of ``sel`` (towards the stroke).  Returns the fill mask.
    ``scale`` s (``radius`` is already scaled): ``sel`` is divided by s² (the kernel's area grows by
    s²), the step is ``1.2 s`` and the complexity reads s-times lengths (:func:`complexity`).
    """
    h, w = f.shape
    source = contours & (f > q)
    if not source.any():
        return np.zeros((h, w), dtype=bool)
    weight = np.where(source, np.maximum(1.0 - modulation * complexity(f, scale), 0.05), 0.0)
    kernel = gaussian_kernel(radius, sigma_ratio)
    if scale == 1.0:
        sel = ndimage.correlate(weight, kernel, mode="constant")
    else:  # the same Gaussian as two 1-D passes (its row through the centre), per unit of s² area
        row = kernel[radius]
        sel = ndimage.correlate1d(ndimage.correlate1d(weight, row, axis=0, mode="constant"), row, axis=1,
                                  mode="constant") / (scale * scale)
    fill = ~contours & ~ink & (sel > max(fill_threshold, SELECT_FLOOR))
    if not fill.any():
        return fill
    ys, xs = np.nonzero(fill)
    dy = np.zeros_like(sel)
    dx = np.zeros_like(sel)
    dy[:-1] = sel[1:] - sel[:-1]
    dx[:, :-1] = sel[:, 1:] - sel[:, :-1]
    norm = np.sqrt(dy[ys, xs] ** 2 + dx[ys, xs] ** 2 + 1e-8)
    step = SAMPLE_STEP * scale
    uy, ux = step * dy[ys, xs] / norm, step * dx[ys, xs] / norm
    c, s = np.cos(angle), np.sin(angle)
    sy = np.clip(np.rint(ys + c * uy - s * ux), 0, h - 1).astype(np.intp)
    sx = np.clip(np.rint(xs + s * uy + c * ux), 0, w - 1).astype(np.intp)
    out[ys, xs] = out[sy, sx].copy()
    return fill


def cyclic_colours(rgb: np.ndarray, rho: float, kappa: float) -> np.ndarray:
    """``clamp((1 − ρ) rgb + ρ c)``, ``c_i = 0.5 + 0.4 κ sin(2π ρ ℓ + φ_i)``, ℓ the grey (§5.3 step 4)."""
    lum = rgb @ LUMA
    c = 0.5 + 0.4 * kappa * np.sin(2.0 * np.pi * rho * lum[..., None] + PHASES)
    return np.clip((1.0 - rho) * rgb + rho * c, 0.0, 1.0)


def shadow_colours(rgb: np.ndarray, effect: float) -> np.ndarray:
    """The shadow tint: ``cyclic(0.3e, 0.8e)`` then ``(0.7 R, G, 0.7 B + 0.3)``, clamped."""
    t = cyclic_colours(rgb, 0.3 * effect, 0.8 * effect)
    return np.clip(t * np.array([0.7, 1.0, 0.7]) + np.array([0.0, 0.0, 0.3]), 0.0, 1.0)


def front_colours(rgb: np.ndarray, effect: float) -> np.ndarray:
    """The front tint: ``cyclic(0.2e, 0.6e)`` then ``(0.6 R, 0.8 G + 0.2, 0.8 B + 0.15)``, clamped."""
    t = cyclic_colours(rgb, 0.2 * effect, 0.6 * effect)
    return np.clip(t * np.array([0.6, 0.8, 0.8]) + np.array([0.0, 0.2, 0.15]), 0.0, 1.0)


def bilinear(image: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bilinear samples (N, 3) of ``image`` at real ``(y, x)``, coordinates clamped to the image."""
    h, w = image.shape[:2]
    y = np.clip(y, 0.0, h - 1.0)
    x = np.clip(x, 0.0, w - 1.0)
    y0 = np.minimum(np.floor(y).astype(np.intp), max(h - 2, 0))
    x0 = np.minimum(np.floor(x).astype(np.intp), max(w - 2, 0))
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (y - y0)[:, None], (x - x0)[:, None]
    top = image[y0, x0] * (1.0 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1.0 - fx) + image[y1, x1] * fx
    return top * (1.0 - fy) + bottom * fy


def retint_weight(f: np.ndarray, q: float, contours: np.ndarray, sharpness: float) -> np.ndarray:
    """``λ = (1 − G)·1[contours]``, ``G = σ(s (f − q))`` (§5.3 shadow step 1)."""
    gate = 1.0 / (1.0 + np.exp(-sharpness * (f - q)))
    return np.where(contours, 1.0 - gate, 0.0)


def paper_side(weight: np.ndarray, ink: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The re-tint's destination weight: ``λ`` of the ink moved onto the paper beside it.

    A contour pixel that is not ink keeps its own weight (it is re-tinted in place, as in the
    original); each other non-ink pixel takes the largest ``λ`` of the *ink* pixels of its 3×3
    neighbourhood (so the paper touching a weighted inked contour gets its weight, and a rim
    never grows a rim of its own); ink pixels get 0.  This is the ink guard of the self-mode
    shadow.  At ``scale`` s the neighbourhood is ``2 round(s) + 1`` px square (a rim s px wide).
    """
    spread = ndimage.maximum_filter(np.where(ink, weight, 0.0), size=scaled_window(3, scale), mode="constant")
    return np.where(ink, 0.0, np.maximum(weight, spread))


def retint_shadow(out: np.ndarray, f: np.ndarray, weight: np.ndarray, *, effect: float,
                  shadow_offset: float, translation: float, min_weight: float = 10.0,
                  log: StageLog | None = None) -> int:
    """The re-tinting shadow (§5.3 shadow steps 2–5), in place on ``out``, where ``weight > 0``.

    ``weight`` is the per-pixel ``λ`` (:func:`retint_weight`, moved to the paper side by
    :func:`paper_side`); a no-op when ``Σλ < min_weight``.  The shadow sample is at
    ``p + n·(S e)``, ``n = (−t_y, t_x)`` (x, y) the perpendicular of the unit Sobel gradient ``t``
    of ``f``; the front sample at ``p + (0.3 T e, 0.4 T e)`` (x, y); both bilinear with border clamp
    from the image as it was before this stage.  ``out ← lerp(out, shadow, 0.6λ)`` then
    ``lerp(·, front, 0.8λ)``; ``log`` records the two lerps as stages ``shadow`` and ``front``.
    Returns the number of pixels re-tinted.
    """
    written = weight > 0
    if weight.sum() < min_weight or not written.any():
        return 0
    ys, xs = np.nonzero(written)
    gy, gx = sobel_gradient(f)
    norm = np.sqrt(gx[ys, xs] ** 2 + gy[ys, xs] ** 2 + 1e-8)
    ty, tx = gy[ys, xs] / norm, gx[ys, xs] / norm
    nx, ny = -ty, tx
    before = out.copy()
    reach = shadow_offset * effect
    shadow = shadow_colours(bilinear(before, ys + ny * reach, xs + nx * reach), effect)
    front = front_colours(bilinear(before, ys + 0.4 * translation * effect,
                                   xs + 0.3 * translation * effect), effect)
    lam = weight[ys, xs][:, None]
    mixed = before[ys, xs] + (shadow - before[ys, xs]) * (0.6 * lam)
    out[ys, xs] = mixed
    if log is not None:
        log.record("shadow", out)
    out[ys, xs] = mixed + (front - mixed) * (0.8 * lam)
    if log is not None:
        log.record("front", out)
    return int(ys.size)
