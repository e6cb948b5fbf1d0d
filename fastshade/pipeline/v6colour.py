"""v6's cyclic colour transforms of its shadow and front copies (``original-system.md`` §4.1).

The cyclic tint of an RGB colour with phase ``rho`` and strength ``kappa``:
``l = 0.299 r + 0.587 g + 0.114 b``; ``new_c = 0.5 + 0.4 sin(2 pi l + rho pi + phi_c)`` with
``phi = (0, 2 pi/3, 4 pi/3)``; blend ``b = min(0.5 kappa, 0.9)``, ``out = (1 - b) rgb + b new``;
contrast about the blended colour's channel mean ``m = (r + g + b)/3``:
``out = m + (out - m)(1 + 0.3 kappa)``; clipped to [0, 1].  Then per copy, with the pass's
effect ``e``:

* shadow: ``rho = 0.3 e``, ``kappa = 0.8 e``, then ``B <- 0.7 B + 0.3``, ``R <- 0.7 R``;
* front: ``rho = 0.2 e``, ``kappa = 0.6 e``, then ``G <- 0.8 G + 0.2``, ``B <- 0.8 B + 0.15``,
  ``R <- 0.6 R``.

On black ink at e = 1 this gives the original's shadow (64, 56, 79) and front (35, 93, 40)
(8-bit, truncated as the original writes them): the mean of the *blended* colour is the one that
reproduces them, so that is the mean used.
"""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114])
"""Luminance weights of the cyclic tint's phase."""
PHASES = np.array([0.0, 2.0 * np.pi / 3.0, 4.0 * np.pi / 3.0])
"""Per-channel phase offsets (R, G, B)."""


def cyclic_tint(rgb: np.ndarray, rho: float, kappa: float) -> np.ndarray:
    """The cyclic tint of ``rgb`` ((..., 3) float in [0, 1]); a new float64 array, clipped to [0, 1]."""
    rgb = np.asarray(rgb, dtype=np.float64)
    lum = rgb @ LUMA
    new = 0.5 + 0.4 * np.sin((2.0 * np.pi * lum + rho * np.pi)[..., None] + PHASES)
    beta = min(0.5 * kappa, 0.9)
    out = (1.0 - beta) * rgb + beta * new
    mean = out.mean(axis=-1, keepdims=True)
    out = mean + (out - mean) * (1.0 + 0.3 * kappa)
    return np.clip(out, 0.0, 1.0)


def shadow_tint(rgb: np.ndarray, effect: float) -> np.ndarray:
    """The shadow copy's colours of ``rgb`` at pass effect ``effect`` (purple-grey on black ink)."""
    out = cyclic_tint(rgb, 0.3 * effect, 0.8 * effect)
    out[..., 2] = 0.7 * out[..., 2] + 0.3
    out[..., 0] = 0.7 * out[..., 0]
    return out


def front_tint(rgb: np.ndarray, effect: float) -> np.ndarray:
    """The front copy's colours of ``rgb`` at pass effect ``effect`` (dark green on black ink)."""
    out = cyclic_tint(rgb, 0.2 * effect, 0.6 * effect)
    out[..., 1] = 0.8 * out[..., 1] + 0.2
    out[..., 2] = 0.8 * out[..., 2] + 0.15
    out[..., 0] = 0.6 * out[..., 0]
    return out
