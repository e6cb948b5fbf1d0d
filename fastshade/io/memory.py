"""Memory model of shading one image, and the default pixel limit derived from it."""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_PIXELS", "MEMORY_BUDGET_BYTES", "estimate_bytes"]

MEMORY_BUDGET_BYTES: int = 4 * 2**30
"""Working-memory budget of one worker used to derive :data:`DEFAULT_MAX_PIXELS` (4 GiB)."""

_LAPLACIAN_NNZ_PER_PIXEL = 5  # 4-connected grid: 4 neighbours + diagonal
_CSR_BYTES_PER_NNZ = 12  # float64 value + int32 column index
_AMG_OPERATOR_FACTOR = 2  # smoothed-aggregation hierarchy ~ 2x the fine operator
_LOBPCG_BLOCKS = 3  # X, R, P (and their products) in LOBPCG
_BASIS_VECTORS = 8  # k
_WORKING_PLANES = 20  # float64 images alive at once in the pipeline


def estimate_bytes(height: int, width: int) -> int:
    """Estimate the peak working memory of shading one ``height x width`` image.

    Parameters
    ----------
    height, width : int
        Image size in pixels (non-negative).

    Returns
    -------
    int
        Estimated bytes: Laplacian CSR (5 nnz/px x 12 B = 60 B/px) + AMG
        hierarchy (2x the operator = 120 B/px) + LOBPCG blocks
        (3 x k x 8 B with k = 8: 192 B/px) + 20 float64 working planes
        (160 B/px) = **532 B per pixel**.

    Notes
    -----
    A model, not a measurement; it errs on the generous side for the 4-connected
    operator.  With the 4 GiB :data:`MEMORY_BUDGET_BYTES` it gives
    :data:`DEFAULT_MAX_PIXELS` = 8,073,246 px (about 2841 x 2841).
    """
    if height < 0 or width < 0:
        raise ValueError(f"height and width must be non-negative, got {height}x{width}")
    n = int(height) * int(width)
    operator = n * _LAPLACIAN_NNZ_PER_PIXEL * _CSR_BYTES_PER_NNZ
    hierarchy = _AMG_OPERATOR_FACTOR * operator
    lobpcg = _LOBPCG_BLOCKS * _BASIS_VECTORS * n * 8
    planes = _WORKING_PLANES * n * 8
    return operator + hierarchy + lobpcg + planes


DEFAULT_MAX_PIXELS: int = MEMORY_BUDGET_BYTES // estimate_bytes(1, 1)
"""Default pixel limit: 4 GiB / 532 B per pixel = 8,073,246 px (about 2841 x 2841)."""
