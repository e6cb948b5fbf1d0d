"""The smooth fields of one image: the gating field, the contour heat, and their heat schedule.

The gating field f is either a seeded heat random field on the image's Laplacian (the
``lobpcg`` default) or a column of the spectral basis (``field="column"``, the ``krylov``
default); see ``docs/gating-field.md``.  Both heat fields (f and the contour heat that gives
the void direction) are ``(I - a L)^T x`` with a stable step ``a`` (:func:`stable_heat_schedule`):
explicit steps on the pixel grids, the same polynomial as a Chebyshev series on the wide
``dither`` operator (:class:`HeatOperator`, ``docs/heat-filter.md``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from fastshade.options import ShadeOptions
from fastshade.pipeline.chebyshev import SymmetricStorage, chebyshev_heat, symmetric_storage
from fastshade.pipeline.graph import diagonal_heat, heat_diffusion, laplacian_bound
from fastshade.seeds import seeded_generator
from fastshade.spectral import SpectralBasis


def field_kind(opts: ShadeOptions) -> str:
    """Resolve ``field="auto"``: the heat random field for lobpcg, a basis column for krylov."""
    if opts.field != "auto":
        return opts.field
    return "heat" if opts.basis == "lobpcg" else "column"


def stable_heat_schedule(lap: Any, alpha: float, steps: int,
                         bound: float | None = None, max_degree: float | None = None) -> tuple[float, int]:
    """Explicit heat steps ``(I - a L)^T`` that stay stable on any graph.

    Keeps the diffusion time ``alpha * steps`` and lowers the step to ``a = min(alpha, 1 / b)``
    (so ``a * lambda_max <= 1``: the response ``(1 - a lambda)^T`` is a monotone low-pass in
    ``[0, 1]``), ``b`` a bound of ``lambda_max(L)``: the degree (Gershgorin) bound
    ``2 max degree`` when ``bound`` is None, else ``min(bound, 2 max degree)``.  The pixel grids
    use the degree bound: on the default 4-connected grid (max degree <= 4) this is exactly
    ``(alpha, steps)``, on the 8-connected grid ``a = 1/16`` (their fields are the reference
    bytes).  On the ``dither`` operator the degree bound (128) is loose: with
    :func:`fastshade.pipeline.graph.laplacian_bound` (69.06) the heat field takes 1036 steps
    instead of 1920.  ``max_degree``: ``lap.diagonal().max()`` when the caller has it.
    """
    if max_degree is None:
        max_degree = float(lap.diagonal().max()) if lap.shape[0] else 0.0
    degree_bound = 2.0 * max_degree
    b = degree_bound if bound is None else min(bound, degree_bound)
    if b <= 0 or alpha <= 1.0 / b:
        return alpha, steps
    a = 1.0 / b
    return a, max(1, int(round(alpha * steps / a)))


class HeatOperator:
    """The image's Laplacian as the heat fields use it, built once per image.

    ``grid`` graphs diffuse by explicit steps (``diagonals``: their banded storage from
    :func:`fastshade.pipeline.graph.diagonal_storage`, or None), with the degree bound.  The
    ``dither`` operator diffuses by the Chebyshev series of the same steps, with ``bound`` the
    smaller of the lattice bound :func:`fastshade.pipeline.graph.laplacian_bound` and the
    degree bound, on a symmetric diagonal storage made on first use (``storage``).
    """

    def __init__(self, lap: Any, opts: ShadeOptions, diagonals: tuple | None = None) -> None:
        self.n = int(lap.shape[0])
        self.diagonals = diagonals
        self.bound: float | None = None
        if opts.laplacian == "dither":
            degree_bound = 2.0 * float(lap.diagonal().max()) if lap.shape[0] else 0.0
            self.bound = min(laplacian_bound(opts.laplacian, opts.connectivity, opts.weight_floor),
                             degree_bound)
        # a grid with its diagonal storage steps on that alone (diagonal_heat): the CSR matrix is
        # not kept, so a caller's is not alive through the diffusions (64 B a pixel)
        self.lap = None if self.bound is None and diagonals is not None else lap

    @cached_property
    def storage(self) -> SymmetricStorage:
        """Symmetric diagonal storage of the Chebyshev filter (``dither`` only)."""
        return symmetric_storage(self.lap)

    def max_degree(self) -> float | None:
        """The largest diagonal entry of ``lap``, read from its diagonal storage (the same values
        as ``lap.diagonal()``); None without one.
        """
        if self.diagonals is None or not self.n:
            return None
        offsets, diagonals = self.diagonals[0], self.diagonals[1]
        main = np.flatnonzero(offsets == 0)
        return float(diagonals[main[0]].max()) if main.size else 0.0

    def diffuse(self, x: np.ndarray, alpha: float, steps: int) -> np.ndarray:
        """``(I - a L)^T x`` on the stable schedule of ``(alpha, steps)`` (float64, shape of ``x``)."""
        a, t = stable_heat_schedule(self.lap, alpha, steps, self.bound, self.max_degree())
        if self.lap is None:  # a grid's diagonal storage (the same bits as the CSR steps)
            return diagonal_heat(self.diagonals, x, alpha=a, steps=t)  # type: ignore[arg-type]
        if self.bound is None or self.bound <= 0:  # grids (and a graph without edges)
            return heat_diffusion(self.lap, x, alpha=a, steps=t, diagonals=self.diagonals)
        return chebyshev_heat(self.lap, x, alpha=a, steps=t, bound=self.bound, storage=self.storage)


def heat_random_field(op: HeatOperator, shape: tuple[int, int], smoothing: float,
                      seed: int) -> np.ndarray:
    """Seeded heat random field ``f = (I - a L)^T xi`` with ``a*T = smoothing``, mean removed.

    ``xi`` ~ N(0, 1) from ``fastshade.seeds.seeded_generator(seed)``; ``a`` from
    :func:`stable_heat_schedule` keeps ``a * lambda_max <= 1``.  Spectrally this is
    ``sum_j (1 - a lambda_j)^T xi_j phi_j`` over the complete eigenbasis: a seeded,
    band-limited random field that follows the graph (docs/gating-field.md).
    """
    n = shape[0] * shape[1]
    xi = seeded_generator(seed).standard_normal(n)
    f = op.diffuse(xi, 0.1, max(1, int(round(smoothing / 0.1))))
    f -= f.mean()
    return np.ascontiguousarray(f.reshape(shape))


def gating_field(lap: Any, basis: SpectralBasis | None, shape: tuple[int, int], opts: ShadeOptions,
                 diagonals: tuple | None = None, *, operator: HeatOperator | None = None) -> np.ndarray:
    """The gating field f ((H, W) float64) selected by ``opts.field`` (see :func:`field_kind`).

    ``diagonals``: ``fastshade.pipeline.graph.diagonal_storage(lap)`` if the caller has it;
    ``operator``: the image's :class:`HeatOperator` if the caller has one (then ``diagonals``
    is not read).
    """
    if field_kind(opts) == "heat":
        op = operator if operator is not None else HeatOperator(lap, opts, diagonals)
        return heat_random_field(op, shape, opts.field_smoothing, opts.seed)
    col = min(opts.field_column, basis.vectors.shape[1] - 1)
    return np.ascontiguousarray(basis.vectors[:, col].reshape(shape))


def contour_heat(op: HeatOperator, contours: np.ndarray, opts: ShadeOptions) -> np.ndarray:
    """The contours diffused for ``heat_alpha * heat_steps`` ((H, W) float64): the void field.

    Its negated unit gradient is the void direction (``original-system.md`` §2.4, §3.6).
    """
    x = contours.ravel().astype(np.float64)
    return op.diffuse(x, opts.heat_alpha, opts.heat_steps).reshape(contours.shape)
