"""The smooth fields of one image: the gating field and the heat-diffusion schedule.

The gating field f is either a seeded heat random field on the image's Laplacian (the
``lobpcg`` default) or a column of the spectral basis (``field="column"``, the ``krylov``
default); see ``docs/gating-field.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastshade.options import ShadeOptions
from fastshade.pipeline.graph import heat_diffusion
from fastshade.seeds import seeded_generator
from fastshade.spectral import SpectralBasis


def field_kind(opts: ShadeOptions) -> str:
    """Resolve ``field="auto"``: the heat random field for lobpcg, a basis column for krylov."""
    if opts.field != "auto":
        return opts.field
    return "heat" if opts.basis == "lobpcg" else "column"


def stable_heat_schedule(lap: Any, alpha: float, steps: int) -> tuple[float, int]:
    """Explicit heat steps ``(I - a L)^T`` that stay stable on any graph.

    Keeps the diffusion time ``alpha * steps`` and lowers the step to
    ``a = min(alpha, 1 / (2 max degree))`` (so ``a * lambda_max <= 1``). On the default
    4-connected grid (max degree <= 4) this is exactly ``(alpha, steps)``; on 8-connected or
    multi-radius ("dither") graphs ``alpha = 0.1`` would oscillate or diverge.
    """
    max_degree = float(lap.diagonal().max()) if lap.shape[0] else 0.0
    if max_degree <= 0 or alpha <= 1.0 / (2.0 * max_degree):
        return alpha, steps
    a = 1.0 / (2.0 * max_degree)
    return a, max(1, int(round(alpha * steps / a)))


def heat_random_field(lap: Any, shape: tuple[int, int], smoothing: float, seed: int,
                      diagonals: tuple | None = None) -> np.ndarray:
    """Seeded heat random field ``f = (I - a L)^T xi`` with ``a*T = smoothing``, mean removed.

    ``xi`` ~ N(0, 1) from ``fastshade.seeds.seeded_generator(seed)``; ``a = min(0.1, 1/(2 max deg))``
    keeps the explicit scheme stable (``a * lambda_max <= 1``). Spectrally this is
    ``sum_j (1 - a lambda_j)^T xi_j phi_j`` over the complete eigenbasis: a seeded,
    band-limited random field that follows the graph (docs/gating-field.md).
    ``diagonals``: ``fastshade.pipeline.graph.diagonal_storage(lap)`` if the caller has it.
    """
    n = shape[0] * shape[1]
    alpha, steps = stable_heat_schedule(lap, 0.1, max(1, int(round(smoothing / 0.1))))
    xi = seeded_generator(seed).standard_normal(n)
    f = heat_diffusion(lap, xi, alpha=alpha, steps=steps, diagonals=diagonals)
    f -= f.mean()
    return np.ascontiguousarray(f.reshape(shape))


def gating_field(lap: Any, basis: SpectralBasis | None, shape: tuple[int, int], opts: ShadeOptions,
                 diagonals: tuple | None = None) -> np.ndarray:
    """The gating field f ((H, W) float64) selected by ``opts.field`` (see :func:`field_kind`)."""
    if field_kind(opts) == "heat":
        return heat_random_field(lap, shape, opts.field_smoothing, opts.seed, diagonals)
    col = min(opts.field_column, basis.vectors.shape[1] - 1)
    return np.ascontiguousarray(basis.vectors[:, col].reshape(shape))
