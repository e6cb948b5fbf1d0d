"""Contours, activation and the high/low gates (``original-system.md`` §3.3-3.4)."""

from __future__ import annotations

import numpy as np

from fastshade.checks import check_real, check_real_array
from fastshade.kernels.shading import channel_sum

LOGIT_EPS = 1e-8


def carrier_of(rgb: np.ndarray) -> np.ndarray:
    """Carrier ``c`` = per-pixel mean of R, G, B; (H,W,3) float -> (H,W) float64."""
    rgb = check_real_array("rgb", rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {rgb.shape}")
    out = np.empty(rgb.shape[:2])
    channel_sum(rgb.astype(np.float64, copy=False), out)
    out /= 3.0  # = rgb.mean(axis=2), bit for bit
    return out


def contour_mask(carrier: np.ndarray, sigma: float = 0.5) -> np.ndarray:
    """Contours: ``|c - mean c| > sigma * std c`` (unbiased std, as torch). Bool (H,W)."""
    c = check_real_array("carrier", carrier).astype(np.float64, copy=False)
    sigma = check_real("sigma", sigma, 0.0)
    if c.size < 2:
        return np.zeros(c.shape, dtype=bool)
    return np.abs(c - c.mean()) > sigma * c.std(ddof=1)


def zscore(field: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """``(f - mean) / (std + 1e-8)`` with statistics over ``where`` (all pixels if None).

    Unbiased (N-1) standard deviation, as the original (torch default).
    """
    f = check_real_array("field", field).astype(np.float64, copy=False)
    stats = _zstats(f, where)
    if stats is None:
        return np.zeros_like(f)
    return (f - stats[0]) / stats[1]


def _zstats(f: np.ndarray, where: np.ndarray | None) -> tuple[float, float] | None:
    """``(mean, std + 1e-8)`` of ``f`` over ``where`` (unbiased std); None below 2 values."""
    if where is not None:
        where = np.asarray(where, dtype=bool)
        if where.shape != f.shape:
            raise ValueError(f"where has shape {where.shape}, the field {f.shape}")
    sel = f if where is None else f[where]
    if sel.size < 2:
        return None
    return sel.mean(), sel.std(ddof=1) + LOGIT_EPS


def activation(field: np.ndarray, gain: float = 10.0, where: np.ndarray | None = None) -> np.ndarray:
    """Gate activation ``a = sigmoid(gain * z(f))`` (float64, same shape as ``field``)."""
    z = zscore(field, where)
    return 0.5 * (1.0 + np.tanh(0.5 * gain * z))


def gate_masks(
    a: np.ndarray,
    contours: np.ndarray,
    gamma_h: float = 1.3,
    bias_h: float = -0.15,
    gamma_l: float = 1.5,
    bias_l: float = -0.08,
) -> tuple[np.ndarray, np.ndarray]:
    """High and low gates: ``(γh a + βh > a) ∧ contours`` and ``(γl a + βl < a) ∧ contours``."""
    a = check_real_array("a", a)
    contours = np.asarray(contours, dtype=bool)
    if contours.shape != a.shape:
        raise ValueError(f"contours has shape {contours.shape}, the activation {a.shape}")
    gamma_h, bias_h = check_real("gamma_h", gamma_h), check_real("bias_h", bias_h)
    gamma_l, bias_l = check_real("gamma_l", gamma_l), check_real("bias_l", bias_l)
    high = (gamma_h * a + bias_h > a) & contours
    low = (gamma_l * a + bias_l < a) & contours
    return high, low


def contour_gates(
    field: np.ndarray,
    contours: np.ndarray,
    gain: float = 10.0,
    gamma_h: float = 1.3,
    bias_h: float = -0.15,
    gamma_l: float = 1.5,
    bias_l: float = -0.08,
) -> tuple[np.ndarray, np.ndarray]:
    """``gate_masks(activation(field, gain), contours, ...)``, with the activation evaluated on
    the contour pixels only (the gates are empty elsewhere); the z-score statistics are still
    those of the whole field, so the result is identical, bit for bit.
    """
    f = check_real_array("field", field).astype(np.float64, copy=False)
    contours = np.asarray(contours, dtype=bool)
    if contours.shape != f.shape:
        raise ValueError(f"contours has shape {contours.shape}, the field {f.shape}")
    gain = check_real("gain", gain)
    high = np.zeros(f.shape, dtype=bool)
    low = np.zeros(f.shape, dtype=bool)
    stats = _zstats(f, None)
    idx = np.flatnonzero(contours)
    z = (f.ravel()[idx] - stats[0]) / stats[1] if stats is not None else np.zeros(idx.size)
    a = 0.5 * (1.0 + np.tanh(0.5 * gain * z))
    h, lo = gate_masks(a, np.ones(idx.size, dtype=bool), gamma_h, bias_h, gamma_l, bias_l)
    high.ravel()[idx] = h
    low.ravel()[idx] = lo
    return high, low
