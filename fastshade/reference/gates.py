"""Plain NumPy twin of :mod:`fastshade.pipeline.gates`: the v12 contour and high/low gates.

``original-system.md`` §3.3–3.4, written out with NumPy reductions; :func:`gate_agreement`
compares the gates of two fields (how much a different basis changes the shading decisions).
"""

from __future__ import annotations

import numpy as np

__all__ = ["gate_agreement", "gates_numpy"]


def gates_numpy(carrier: np.ndarray, field: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute the v12 gates ``(contours, high, low)``: bool arrays shaped like ``carrier``.

    Contours ``|c - mean| > 0.5 std`` (unbiased std); ``a = 1 / (1 + exp(-10 z))`` with
    ``z = (f - mean) / (std + 1e-8)`` over all pixels; high ``1.3 a - 0.15 > a``, low
    ``1.5 a - 0.08 < a``, both on contours only.
    """
    c = np.asarray(carrier, dtype=np.float64)
    f = np.asarray(field, dtype=np.float64).reshape(c.shape)
    contours = np.abs(c - c.mean()) > 0.5 * c.std(ddof=1)
    z = (f - f.mean()) / (f.std(ddof=1) + 1e-8)
    with np.errstate(over="ignore"):  # exp(+large) = inf gives a = 0, as it should
        a = 1.0 / (1.0 + np.exp(-10.0 * z))
    return contours, (1.3 * a - 0.15 > a) & contours, (1.5 * a - 0.08 < a) & contours


def gate_agreement(carrier: np.ndarray, field_a: np.ndarray, field_b: np.ndarray) -> float:
    """Fraction of contour pixels on which the (high, low) gates of two fields agree (1.0 without contours)."""
    contours, high_a, low_a = gates_numpy(carrier, field_a)
    _, high_b, low_b = gates_numpy(carrier, field_b)
    if not contours.any():
        return 1.0
    same = (high_a == high_b) & (low_a == low_b)
    return float(same[contours].mean())
