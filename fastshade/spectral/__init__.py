"""Spectral basis of the pixel-graph Laplacian: block LOBPCG on a smoothed-aggregation cascade.

The public entry point is :func:`spectral_basis` (returns a :class:`SpectralBasis`).  One
concern per module:

=====================================  =====================================================
:mod:`~fastshade.spectral.basis`       :class:`SpectralBasis`, :func:`spectral_basis` (validation,
                                       dispatch, output conventions), :data:`DEFAULT_TOL`
:mod:`~fastshade.spectral.amg`         smoothed-aggregation hierarchy of ``L + s I``, block V-cycle
:mod:`~fastshade.spectral.lobpcg`      the block LOBPCG (the product's only LOBPCG)
:mod:`~fastshade.spectral.cascade`     coarse-to-fine warm-start cascade; dense / cascade dispatch
:mod:`~fastshade.spectral.contract`    the subspace contract behind ``info["converged"]``: the
                                       bound on the angle to the true eigenspace
:mod:`~fastshade.spectral.dense`       exact dense solve in the constant's complement
:mod:`~fastshade.spectral.tiles`       tiled basis (§2.3): tile starts, blend weights, blending
:mod:`~fastshade.spectral.columns`     column conventions: order, unit norm, sign, padding
:mod:`~fastshade.spectral.krylov`      the original's 50-step Lanczos field (``--basis krylov``)
=====================================  =====================================================

``scipy.sparse.linalg.lobpcg`` is not on the product path: it is the reference of the tests
and a ``fastshade bench`` baseline (:func:`fastshade.reference.scipy_cascade_basis`).
"""

from fastshade.spectral.basis import DEFAULT_TOL, SpectralBasis, spectral_basis
from fastshade.spectral.cascade import DENSE_MAX_N
from fastshade.spectral.columns import sign_flip
from fastshade.spectral.contract import DEFAULT_SUBSPACE_TOL, subspace_error_bound
from fastshade.spectral.krylov import krylov_basis
from fastshade.spectral.tiles import blend_weights_1d, tile_starts

__all__ = [
    "DEFAULT_SUBSPACE_TOL",
    "DEFAULT_TOL",
    "DENSE_MAX_N",
    "SpectralBasis",
    "blend_weights_1d",
    "krylov_basis",
    "sign_flip",
    "spectral_basis",
    "subspace_error_bound",
    "tile_starts",
]
