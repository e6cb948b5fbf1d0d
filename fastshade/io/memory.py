"""Memory model of shading one image, and the default pixel limit derived from it.

The model counts the stored entries of the Laplacian the options choose (5 per pixel on the
4-connected grid, 9 on the 8-connected one, 113 on the multi-radius ``dither`` operator) and
the vectors of the basis solver, and stays an upper bound of the measured peak
(``tests/test_memory_model.py`` measures real shades in fresh processes).  Measured peak
increase over the RSS after import, bytes per pixel (demo images, one thread):

=====================  =========  =========  ==========  ===========================
operator               256²       512²       1024²       model (default options)
=====================  =========  =========  ==========  ===========================
grid 4                 1460       811        780         2260
grid 4, tol 1e-4/1e-5  --         1930       1942        2260
grid 8                 1494       1573       --          2404
grid 8, tol 1e-5       --         2057       --          2404
dither                 4364       4667       4747        6380
grid 4, krylov         --         480        480         812
dither, krylov         2137       --         --          2340
=====================  =========  =========  ==========  ===========================

The peak is in the basis stage: LOBPCG's blocks when the pixel level iterates (about 1.7 KB
per pixel at ``k = 8``), the AMG setup's copies of the operator on wide operators.

Big scans, default options, one ``fastshade shade`` job (``fastshade bench --scan``, peak over the
RSS after import and a warm-up): A4 at 300 dpi (2480 x 3508, 8.7 Mpx) 471 B/px on 1 and on 2
threads (3.9 GB; the pixel level makes no LOBPCG iteration there; 641 B/px before a big image's
basis rotated in place, dropped its level-0 ``P^T``, ``A`` and inverse diagonal until a V-cycle
needs them, trimmed the C heap between levels and the shader formed the diagonal storage after
the basis).  The basis's peak over its start (1024²) is now ~350 B/px at both the setup's level-0
Galerkin product and the pixel level (the AMG hierarchy ~126, the prolongated start block and its
product with ``L`` 96 each).
"""

from __future__ import annotations

import os

from fastshade.options import ShadeOptions

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MEMORY_BUDGET_BYTES",
    "default_max_pixels",
    "estimate_bytes",
    "operator_entries",
    "pixel_limit",
]

def _physical_memory_bytes() -> int | None:
    """Installed RAM (POSIX ``sysconf``), or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


MIN_MEMORY_BUDGET_BYTES = 4 * 2**30
"""The budget never goes below 4 GiB (the limit of earlier builds), whatever the machine."""

MEMORY_BUDGET_BYTES: int = max(MIN_MEMORY_BUDGET_BYTES, (_physical_memory_bytes() or 0) // 2)
"""Working-memory budget of one job: half the machine's RAM, at least 4 GiB (12 GiB on a
24 GiB machine). :data:`DEFAULT_MAX_PIXELS` and the per-option limits derive from it; ``run``
lowers ``-j`` where workers x estimate would not fit."""

DITHER_REACH = 6
"""Largest radius of the dither operator (``max(fastshade.pipeline.graph.DEFAULT_RADII)``)."""

_CSR_BYTES_PER_ENTRY = 12  # float64 value + int32 column index
_OPERATOR_COPIES = 3  # the CSR Laplacian + the AMG setup's (strength pattern, shifted copy): 2.3 measured
_FILTER_BYTES_PER_UPPER_ENTRY = 4  # dither heat filter: float32 upper diagonals (+ a float64 diagonal)
_BASIS_GUARD = 4  # the LOBPCG block has k + 4 columns
_BASIS_BLOCKS = 20  # (n, k + 4) float64 blocks alive at once in LOBPCG and its V-cycle (17.7 measured)
_KRYLOV_EXTRA = 8  # Lanczos: krylov_steps + 2 k + 8 vectors
_WORKING_PLANES = 20  # float64 images alive at once in the pipeline


def operator_entries(options: ShadeOptions | None = None) -> int:
    """Stored entries per pixel of the Laplacian the options choose (interior pixels).

    The diagonal plus every neighbour: 5 (4-connected grid), 9 (8-connected grid), or
    ``1 + #{(dy, dx) != 0 : dy^2 + dx^2 <= 6^2}`` = 113 (``dither``).
    """
    opts = options if options is not None else ShadeOptions()
    if opts.laplacian == "dither":
        r = DITHER_REACH
        return sum(1 for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= r * r)
    return 1 + opts.connectivity


def _bytes_per_pixel(opts: ShadeOptions) -> int:
    entries = operator_entries(opts)
    operator = entries * _CSR_BYTES_PER_ENTRY
    if opts.basis == "krylov":
        basis = (opts.krylov_steps + 2 * opts.k + _KRYLOV_EXTRA) * 8
    else:
        operator *= _OPERATOR_COPIES
        basis = _BASIS_BLOCKS * (opts.k + _BASIS_GUARD) * 8
    heat_filter = 0
    if opts.laplacian == "dither":
        heat_filter = (entries - 1) // 2 * _FILTER_BYTES_PER_UPPER_ENTRY + 8
    return operator + basis + heat_filter + _WORKING_PLANES * 8


def estimate_bytes(height: int, width: int, options: ShadeOptions | None = None) -> int:
    """Estimate the peak working memory of shading one ``height x width`` image.

    Parameters
    ----------
    height, width : int
        Image size in pixels (non-negative).
    options : ShadeOptions, optional
        The shader options (defaults when None): the operator (``laplacian``,
        ``connectivity``), the basis (``basis``, ``k``, ``krylov_steps``).

    Returns
    -------
    int
        Estimated bytes, per pixel: the Laplacian CSR (entries x 12 B) times 3 (it and the
        AMG setup's copies; once for ``krylov``) + the basis solver (20 blocks of
        ``(k + 4)`` float64 columns; ``krylov``: ``krylov_steps + 2k + 8`` vectors) + the dither
        heat filter (float32 upper diagonals) + 20 float64 working planes.  Default options:
        180 + 1920 + 0 + 160 = **2260 B per pixel**; ``dither``: 4068 + 1920 + 232 + 160 = 6380.

    Notes
    -----
    A model, not a measurement: an upper bound of the measured peaks in the module
    docstring.  Cross mode shades a second image; its analysis is not counted.
    """
    if height < 0 or width < 0:
        raise ValueError(f"height and width must be non-negative, got {height}x{width}")
    opts = options if options is not None else ShadeOptions()
    return int(height) * int(width) * _bytes_per_pixel(opts)


def default_max_pixels(options: ShadeOptions | None = None) -> int:
    """Largest image (pixels) whose :func:`estimate_bytes` fits :data:`MEMORY_BUDGET_BYTES`."""
    return MEMORY_BUDGET_BYTES // estimate_bytes(1, 1, options)


DEFAULT_MAX_PIXELS: int = default_max_pixels()
"""Default pixel limit: :data:`MEMORY_BUDGET_BYTES` / 2260 B per pixel with the default options
(12 GiB: 5,701,285 px, about 2388 x 2388; the 4 GiB floor: 1,900,428 px); ``dither`` jobs get
``default_max_pixels(options)`` (12 GiB: 2,019,578 px)."""


def pixel_limit(max_pixels: int | None, options: ShadeOptions | None = None) -> int | None:
    """The limit a job applies: ``max_pixels``, where :data:`DEFAULT_MAX_PIXELS` (the default of
    ``--max-pixels`` and of :func:`fastshade.job.shade_file`) means the budget of ``options``
    (:func:`default_max_pixels`); None means no limit.
    """
    if max_pixels == DEFAULT_MAX_PIXELS:
        return default_max_pixels(options)
    return max_pixels
