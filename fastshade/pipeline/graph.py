"""Pixel-graph Laplacian and the fields derived on it (validated wrappers).

Python layer over :mod:`fastshade.kernels.laplacian` and :mod:`fastshade.kernels.fields`: checks
shapes, dtypes and values (one-line ``ValueError`` messages), allocates the
outputs and calls the raw kernels.  Formulas: ``original-system.md`` §0.2
(forward differences), §1.1 (weighted grid Laplacian), §1.2 (multi-radius
"dither" operator), §2.4 (heat diffusion).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numba
import numpy as np
import scipy.sparse as sp

from fastshade.checks import check_integer, check_real, check_real_array, check_scale
from fastshade.kernels import fields as field_kernels
from fastshade.kernels import laplacian as laplacian_kernels
from fastshade.threads import threaded

__all__ = [
    "diagonal_heat",
    "diagonal_storage",
    "forward_gradient",
    "heat_diffusion",
    "image_laplacian",
    "laplacian_bound",
    "laplacian_offsets",
    "unit_vectors",
]

DEFAULT_RADII: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
"""Radii of the dither operator (``original-system.md`` §1.2)."""
DEFAULT_RADIUS_WEIGHTS: tuple[float, ...] = (1.0, 0.6, 0.4, 0.3, 0.2, 0.1)
"""Weight of each radius of the dither operator (``original-system.md`` §1.2)."""

_INT32_MAX = np.iinfo(np.int32).max

LAPLACIAN_BAND_ROWS = 128
"""Image rows per band of the parallel Laplacian assembly (a fixed partition: the same bytes on
any number of threads; each band recomputes the edge weights of the ``max(dy)`` rows above it)."""


def laplacian_offsets(
    kind: str = "grid",
    connectivity: int = 4,
    radii: Sequence[int] = DEFAULT_RADII,
    radius_weights: Sequence[float] = DEFAULT_RADIUS_WEIGHTS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offset table ``(dy, dx, mult)`` of a pixel graph, each undirected pair once.

    Parameters
    ----------
    kind : {"grid", "dither"}
        ``grid``: 4- or 8-neighbour graph, multiplier 1.  ``dither``: the
        multi-radius operator of ``original-system.md`` §1.2: every offset
        with ``dy^2 + dx^2 <= max(radii)^2`` and multiplier
        ``sum(radius_weights[r] for radii r with r^2 >= dy^2 + dx^2)``,
        summed in the order given (defaults: ``(0,1) -> 2.6``,
        ``(1,1) -> 1.6``, ``(0,6) -> 0.1``).
    connectivity : {4, 8}
        Neighbourhood of the ``grid`` kind (checked, unused by ``dither``).
    radii : sequence of int
        Dither radii (``>= 1``).
    radius_weights : sequence of float
        Dither weight of each radius (finite, ``>= 0``, same length).

    Returns
    -------
    dy, dx : int64 (K,)
        Offsets in their canonical half (``dy > 0`` or ``dy == 0 and dx > 0``),
        sorted lexicographically by ``(dy, dx)``: the order
        :func:`fastshade.kernels.laplacian.assemble_laplacian_csr` requires.
    mult : float64 (K,)
        Weight multiplier of each offset.

    Examples
    --------
    >>> dy, dx, mult = laplacian_offsets("grid", 8)
    >>> list(zip(dy.tolist(), dx.tolist()))
    [(0, 1), (1, -1), (1, 0), (1, 1)]
    """
    connectivity = check_integer("connectivity", connectivity, allowed=(4, 8))
    if kind == "grid":
        if connectivity == 4:
            dy = np.array([0, 1], dtype=np.int64)
            dx = np.array([1, 0], dtype=np.int64)
        else:
            dy = np.array([0, 1, 1, 1], dtype=np.int64)
            dx = np.array([1, -1, 0, 1], dtype=np.int64)
        return dy, dx, np.ones(dy.shape[0], dtype=np.float64)
    if kind != "dither":
        raise ValueError(f"kind must be 'grid' or 'dither', got {kind!r}")

    radii_list = [check_integer("radii entry", r) for r in radii]
    weight_list = [check_real("radius_weights entry", w) for w in radius_weights]
    if not radii_list:
        raise ValueError("radii must not be empty")
    if len(radii_list) != len(weight_list):
        raise ValueError(
            f"radii and radius_weights differ in length ({len(radii_list)} vs {len(weight_list)})"
        )
    if min(radii_list) < 1:
        raise ValueError(f"radii must be >= 1, got {min(radii_list)}")
    if min(weight_list) < 0:
        raise ValueError(f"radius_weights must be >= 0, got {min(weight_list)}")
    reach = max(radii_list)
    grid_dy, grid_dx = np.meshgrid(
        np.arange(0, reach + 1, dtype=np.int64),
        np.arange(-reach, reach + 1, dtype=np.int64),
        indexing="ij",
    )
    dy = grid_dy.ravel()  # meshgrid "ij" order is already lexicographic in (dy, dx)
    dx = grid_dx.ravel()
    length2 = dy * dy + dx * dx
    keep = ((dy > 0) | ((dy == 0) & (dx > 0))) & (length2 <= reach * reach)
    dy, dx, length2 = dy[keep], dx[keep], length2[keep]
    mult = np.zeros(dy.shape[0], dtype=np.float64)
    for radius, weight in zip(radii_list, weight_list):
        mult += np.where(length2 <= radius * radius, weight, 0.0)
    return dy, dx, mult


SYMBOL_GRID = 512
"""Frequencies per axis at which :func:`laplacian_bound` evaluates the lattice symbol."""


def laplacian_bound(
    kind: str = "grid",
    connectivity: int = 4,
    weight_floor: float = 0.0,
    radii: Sequence[int] = DEFAULT_RADII,
    radius_weights: Sequence[float] = DEFAULT_RADIUS_WEIGHTS,
) -> float:
    """Upper bound of ``lambda_max`` of every :func:`image_laplacian` with these options.

    Valid for any carrier, size, ``tau`` and dtype: each edge weight is at most
    ``w_o = max(mult_o, weight_floor)`` and ``x^T L x = sum_e w_e (x_i - x_j)^2`` grows with
    every weight, so ``lambda_max(L)`` is at most that of the same graph with the weights
    ``w_o``; extending ``x`` by zeros to the infinite lattice only adds non-negative terms, so
    that is at most the maximum of the lattice symbol
    ``S(omega) = sum_o 2 w_o (1 - cos(omega . o))`` over the torus.  ``S`` is evaluated on a
    :data:`SYMBOL_GRID` ² frequency grid (one FFT); the true maximum exceeds the grid's by at
    most ``M h^2 / 4`` (Taylor at the maximum, ``M = sum_o 2 w_o |o|^2`` bounds the Hessian,
    ``h = 2 pi / SYMBOL_GRID``), and ``1e-6`` relative is added for float32 weights.

    Defaults: the 4-connected grid gives 8.0002 (its ``lambda_max`` tends to 8), the
    8-connected 12.0005 (degree bound 16), ``dither`` 69.058 (degree bound 128; toof's
    Laplacian has ``lambda_max`` 69.034).

    Examples
    --------
    >>> round(laplacian_bound("grid", 8), 3)
    12.0
    """
    return _lattice_bound(kind, check_integer("connectivity", connectivity, allowed=(4, 8)),
                          check_real("weight_floor", weight_floor, 0.0),
                          tuple(radii), tuple(radius_weights))


@lru_cache(maxsize=16)
def _lattice_bound(kind: str, connectivity: int, weight_floor: float, radii: tuple[int, ...],
                   radius_weights: tuple[float, ...]) -> float:
    dy, dx, mult = laplacian_offsets(kind, connectivity, radii, radius_weights)
    weight = np.maximum(mult, weight_floor)
    stencil = np.zeros((SYMBOL_GRID, SYMBOL_GRID))
    np.add.at(stencil, (dy % SYMBOL_GRID, dx % SYMBOL_GRID), weight)
    symbol = 2.0 * weight.sum() - 2.0 * np.fft.fft2(stencil).real
    hessian = 2.0 * float(np.sum(weight * (dy * dy + dx * dx)))
    step = 2.0 * np.pi / SYMBOL_GRID
    return (float(symbol.max()) + hessian * step * step / 4.0) * (1.0 + 1e-6)


def image_laplacian(
    carrier: np.ndarray,
    *,
    connectivity: int = 4,
    kind: str = "grid",
    tau: float = 0.1,
    weight_floor: float = 0.0,
    dtype: type | np.dtype = np.float64,
    radii: Sequence[int] = DEFAULT_RADII,
    radius_weights: Sequence[float] = DEFAULT_RADIUS_WEIGHTS,
) -> sp.csr_matrix:
    """Combinatorial Laplacian ``L = D - W`` of the weighted pixel graph.

    Edge weight of pixels ``i``, ``j`` at offset ``(dy, dx)``:
    ``max(mult(dy, dx) * exp(-|c_i - c_j| / tau), weight_floor)`` with
    ``|.|`` the absolute difference (grey) or the Euclidean norm of the
    channel difference (multi-channel) (``original-system.md`` §1.1, §1.2).

    Parameters
    ----------
    carrier : array (H, W) or (H, W, C), any real dtype
        The image the weights come from (finite).  Pixel ``(y, x)`` is
        row/column ``y * W + x``.
    connectivity : {4, 8}
        Neighbourhood of the ``grid`` kind (checked, unused by ``dither``).
    kind : {"grid", "dither"}
        Pixel grid or multi-radius operator (see :func:`laplacian_offsets`).
    tau : float
        Weight scale, ``> 0``.
    weight_floor : float
        Lower bound of every edge weight, ``>= 0``.
    dtype : {numpy.float64, numpy.float32}
        dtype of the values (weights are computed in float64, rounded once).
    radii, radius_weights : sequences
        Dither radii and weights (see :func:`laplacian_offsets`).

    Returns
    -------
    scipy.sparse.csr_matrix (n, n), n = H * W
        Symmetric, rows sum to 0 (up to rounding), diagonal stored (a 1x1
        image gives ``[[0]]``, a 0-pixel image a 0x0 matrix), column indices
        sorted (``has_sorted_indices`` is True), index dtype int32 unless
        nnz needs int64.  Built from the kernel's arrays without a copy.

    Examples
    --------
    >>> L = image_laplacian(np.zeros((2, 2)))
    >>> L.toarray()
    array([[ 2., -1., -1.,  0.],
           [-1.,  2.,  0., -1.],
           [-1.,  0.,  2., -1.],
           [ 0., -1., -1.,  2.]])
    """
    array = check_real_array("carrier", carrier)
    if array.ndim not in (2, 3):
        raise ValueError(f"carrier must be (H, W) or (H, W, C), got shape {array.shape}")
    if array.ndim == 3 and array.shape[2] < 1:
        raise ValueError("carrier must have at least one channel")
    tau = check_scale("tau", tau)
    weight_floor = check_real("weight_floor", weight_floor, 0.0)
    value_dtype = np.dtype(dtype)
    if value_dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {value_dtype}")
    dy, dx, mult = laplacian_offsets(kind, connectivity, radii, radius_weights)

    height, width = array.shape[:2]
    channels = array.shape[2] if array.ndim == 3 else 1
    carrier_hwc = np.ascontiguousarray(array, dtype=np.float64).reshape(height, width, channels)
    n = height * width
    nnz = int(laplacian_kernels.laplacian_csr_nnz(height, width, dy, dx))
    index_dtype = np.int32 if max(nnz, n) <= _INT32_MAX else np.int64
    indptr = np.empty(n + 1, dtype=index_dtype)
    indices = np.empty(nnz, dtype=index_dtype)
    data = np.empty(nnz, dtype=value_dtype)
    bands = max(1, -(-height // LAPLACIAN_BAND_ROWS))
    work = np.empty((bands, laplacian_kernels.laplacian_work_rows(dy), width), dtype=np.float64)
    written = threaded(laplacian_kernels.assemble_laplacian_csr, n)(
        carrier_hwc, dy, dx, mult, tau, weight_floor, indptr, indices, data, work
    )
    if written != nnz:  # kernel/size contract broken: a bug, not a user error
        raise RuntimeError(f"Laplacian kernel wrote {written} entries, expected {nnz}")
    matrix = sp.csr_matrix((data, indices, indptr), shape=(n, n), copy=False)
    matrix.has_sorted_indices = True
    matrix.has_canonical_format = True
    return matrix


def _csr_pieces(matrix: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """CSR arrays of a square sparse matrix with float32/float64 finite values."""
    if not sp.issparse(matrix):
        raise ValueError(f"L must be a scipy.sparse matrix, got {type(matrix).__name__}")
    rows, cols = matrix.shape
    if rows != cols:
        raise ValueError(f"L must be square, got shape {matrix.shape}")
    csr = matrix.tocsr()
    data = csr.data
    if data.dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        data = check_real_array("L", data).astype(np.float64)
    elif not np.isfinite(data).all():
        raise ValueError("L contains NaN or inf")
    return (
        np.ascontiguousarray(csr.indptr),
        np.ascontiguousarray(csr.indices),
        np.ascontiguousarray(data),
        rows,
    )


MAX_DIAGONALS = 32
"""Graphs with at most this many stored diagonals diffuse in diagonal storage (image grids)."""

HEAT_BLOCK_BYTES = 4 * 1024 * 1024
"""Cache budget of one blocked heat sweep (its windows plus the diagonals it touches, as
:func:`_heat_windows` counts them, which is more than a sweep holds at once).  The steps per sweep
are this budget over one chunk's bytes, and a chunk is at least an image row: 2 MiB gave 35 Mpx
(4960 px rows) 4 steps a sweep, 4 MiB gives 8 (150 steps at 4960x7016, 1 thread 7.1-7.4 ->
5.6-5.7 s, 2 threads 3.7 -> 3.1 s with even bands; 2480x3508 1.46-1.56 -> 1.42 s; the same
bits)."""

HEAT_CHUNK_ROWS = 2048
"""Rows per chunk of the blocked heat sweep, rounded up to a multiple of the bandwidth (fewer,
longer kernel calls: 150 steps at 512² ~106 -> ~90 ms, at 1152×832 ~343 -> ~300 ms against
one image row per chunk in a 512 KiB budget, same bits)."""


def diagonal_storage(
    L: sp.spmatrix | sp.sparray, dtype: type | np.dtype = np.float64
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """``(offsets, diagonals, bandwidth)`` of a banded sparse matrix, or None.

    ``offsets`` int64 (nd,) ascending, ``diagonals`` (nd, n) in ``dtype`` with
    ``diagonals[k, i] = L[i, i + offsets[k]]`` (:func:`fastshade.kernels.fields.csr_to_diagonals`).
    None when ``L`` has more than :data:`MAX_DIAGONALS` stored diagonals, or a row whose
    columns are not sorted and unique: the diagonal kernels sum each row in ascending column
    order, so they agree with the CSR kernels (stored order) only on sorted rows.
    """
    indptr, indices, data, n = _csr_pieces(L)
    if n == 0 or indices.size == 0:
        return None
    present = np.zeros(2 * n - 1, dtype=bool)
    if not field_kernels.csr_diagonal_mask(indptr, indices, present):
        return None
    offsets = np.flatnonzero(present).astype(np.int64) - (n - 1)
    if offsets.size > MAX_DIAGONALS:
        return None
    band = int(np.abs(offsets).max())
    diagonals = np.empty((offsets.size, n))
    threaded(field_kernels.csr_to_diagonals, n)(indptr, indices, data, offsets, diagonals)
    return offsets, diagonals.astype(dtype, copy=False), band


HEAT_WINDOW_SLOTS = 8
"""Chunks per intermediate-step window of the blocked heat sweep."""

HEAT_BAND_SWEEPS = 128
"""Rows of a band of the parallel heat sweep, in units of its margin (steps per sweep x
bandwidth, computed again on each side of the band): about 1.6 % more row steps, whatever the
number of threads."""

HEAT_BAND_MIN_ROWS = 1 << 16
"""Fewest rows of a band of the parallel heat steps.  A problem of at least two such bands has an
even number of bands, so that two threads share the work evenly (1024², 2 threads: 1 band 0.19 s,
2 bands 0.10 s for 150 steps; 4960x7016 7 -> 8 bands 3.5 -> 3.1 s)."""

HEAT_FLAT_BYTES = 16 * 1024 * 1024
"""A heat problem whose diagonals and two states take at most this many bytes goes one step per
sweep (no wavefront): it stays in the last-level cache, where the blocked sweep's bookkeeping
cost more than it saved (150 steps, 1 thread, 2-core AMD EPYC, 32 MiB L3: 512² (14 MiB) 41.1 ->
37.4 ms, 384² 23.0 -> 19.4 ms; 724² (28 MiB) blocked 84 ms, flat 90 ms; the same bits)."""


def _heat_windows(n_diagonals: int, band: int, n: int, steps: int,
                  threads: int) -> tuple[int, int, np.ndarray]:
    """``(chunk, bands, windows)`` for :func:`fastshade.kernels.fields.heat_diffusion_dia`: as many
    steps per sweep as fit :data:`HEAT_BLOCK_BYTES`, in chunks of about :data:`HEAT_CHUNK_ROWS`
    rows (a multiple of ``band``, the length of an image row on a 4-connected grid); one sweep per
    step when the band is too wide for blocking to pay or the problem fits :data:`HEAT_FLAT_BYTES`.
    The bands depend on the problem only (the
    same bytes for any number of threads); ``windows`` holds one scratch per thread of the
    kernel (``threads``: 1 for the serial kernel).
    """
    chunk = max(band, 1)
    chunk *= max(1, -(-HEAT_CHUNK_ROWS // chunk))
    level_bytes = 8 * chunk * (n_diagonals + HEAT_WINDOW_SLOTS)
    depth = min(steps, int(HEAT_BLOCK_BYTES // level_bytes))
    flat = 8 * n * (n_diagonals + 2) <= HEAT_FLAT_BYTES
    if depth < 2 or 2 * HEAT_WINDOW_SLOTS * chunk > n or flat:
        bands = max(1, -(-n // HEAT_BAND_MIN_ROWS))
        return 4096, bands, np.empty((threads, 1, 4096))
    bands = max(1, -(-n // max(HEAT_BAND_MIN_ROWS, HEAT_BAND_SWEEPS * depth * max(band, 1))))
    if n >= 2 * HEAT_BAND_MIN_ROWS:
        bands += bands % 2
    return chunk, bands, np.empty((threads, depth, HEAT_WINDOW_SLOTS * chunk))


def heat_diffusion(
    L: sp.spmatrix | sp.sparray, x: np.ndarray, *, alpha: float = 0.1, steps: int = 30,
    diagonals: tuple[np.ndarray, np.ndarray, int] | None = None,
) -> np.ndarray:
    """Explicit heat diffusion ``x_T = (I - alpha L)^T x`` (``original-system.md`` §2.4).

    Parameters
    ----------
    L : scipy.sparse matrix (n, n)
        Usually from :func:`image_laplacian` (float32 or float64 values are
        used as they are, other dtypes are cast to float64).
    x : array, real dtype
        Initial state: any shape with ``x.size == n`` (e.g. ``(n,)`` or an
        ``(H, W)`` image), or ``(n, c)`` for ``c`` signals at once.
    alpha : float
        Step size (stable when ``alpha * lambda_max(L) < 2``; the 4-connected
        default graph has ``lambda_max <= 8``).
    steps : int
        Number of steps ``T >= 0`` (``T = 0`` returns a float64 copy of ``x``).
    diagonals : tuple, optional
        ``diagonal_storage(L)`` when the caller already has it (diffusing several
        times on one graph); computed here otherwise.  Banded graphs (image grids)
        diffuse in diagonal storage with cache blocking, bitwise as the CSR steps.

    Returns
    -------
    numpy.ndarray, float64, shape of ``x``
        ``x_T`` (newly allocated; sums in float64).

    Examples
    --------
    >>> L = image_laplacian(np.zeros((1, 2)))
    >>> heat_diffusion(L, np.array([1.0, 0.0]), alpha=0.25, steps=1)
    array([0.75, 0.25])
    """
    indptr, indices, data, n = _csr_pieces(L)
    signal, columns, alpha, steps = _heat_inputs(x, n, alpha, steps)
    if diagonals is not None and (diagonals[1].shape != (diagonals[0].size, n)
                                  or diagonals[1].dtype != np.float64):
        raise ValueError(f"diagonals do not match L ({n} rows, float64): "
                         f"shape {diagonals[1].shape}, dtype {diagonals[1].dtype}")
    dia = (diagonals or diagonal_storage(L)) if steps > 1 else None
    if dia is None:
        result = np.empty_like(columns)
        work = np.empty(n, dtype=np.float64)
        for col in range(columns.shape[0]):
            field_kernels.heat_diffusion_csr(
                indptr, indices, data, columns[col], alpha, steps, result[col], work
            )
        return _heat_output(signal, result)
    return _heat_output(signal, _diagonal_steps(dia, columns, alpha, steps))


def diagonal_heat(
    diagonals: tuple[np.ndarray, np.ndarray, int], x: np.ndarray, *, alpha: float = 0.1, steps: int = 30,
) -> np.ndarray:
    """:func:`heat_diffusion` of the graph whose :func:`diagonal_storage` is ``diagonals``, read from
    it alone (the CSR matrix need not be alive): the same bits.

    ``diagonals`` as :func:`diagonal_storage` returns it (float64); ``x``, ``alpha``, ``steps`` and
    the result as :func:`heat_diffusion`.
    """
    offsets, values = diagonals[0], diagonals[1]
    if values.dtype != np.float64 or values.ndim != 2 or values.shape[0] != offsets.size:
        raise ValueError(f"diagonals must be float64 ({offsets.size}, n), got shape {values.shape}, "
                         f"dtype {values.dtype}")
    signal, columns, alpha, steps = _heat_inputs(x, values.shape[1], alpha, steps)
    return _heat_output(signal, _diagonal_steps(diagonals, columns, alpha, steps))


def _heat_inputs(x: np.ndarray, n: int, alpha: float, steps: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    """``(signal, columns, alpha, steps)`` of a heat diffusion of ``x`` on ``n`` nodes, validated:
    ``columns`` the signals as C-contiguous float64 rows (1, n) or (c, n).
    """
    signal = check_real_array("x", x)
    alpha = check_real("alpha", alpha, 0.0, lo_open=True)
    steps = check_integer("steps", steps, 0)
    if signal.size == n:
        columns = np.ascontiguousarray(signal, dtype=np.float64).reshape(1, n)
    elif signal.ndim == 2 and signal.shape[0] == n:
        columns = np.ascontiguousarray(signal.T, dtype=np.float64)
    else:
        raise ValueError(f"x must have {n} entries or shape ({n}, c), got shape {signal.shape}")
    return signal, columns, alpha, steps


def _heat_output(signal: np.ndarray, result: np.ndarray) -> np.ndarray:
    """The diffused rows ``result`` in the shape of ``signal``."""
    if signal.size == result.shape[1]:
        return result.reshape(signal.shape)
    return np.ascontiguousarray(result.T)


def _diagonal_steps(dia: tuple[np.ndarray, np.ndarray, int], columns: np.ndarray, alpha: float,
                    steps: int) -> np.ndarray:
    """``steps`` heat steps of every row of ``columns`` (c, n) on the diagonal storage ``dia``."""
    offsets, diagonals, band = dia
    n = columns.shape[1]
    result = np.empty_like(columns)
    work = np.empty(n, dtype=np.float64)
    kernel = threaded(field_kernels.heat_diffusion_dia, n)
    threads = numba.get_num_threads() if kernel is not field_kernels.heat_diffusion_dia else 1
    chunk, bands, windows = _heat_windows(offsets.size, band, n, steps, threads)
    mirror = bool(field_kernels.dia_mirrored(offsets, diagonals))  # symmetric: fewer streams
    for col in range(columns.shape[0]):
        kernel(
            offsets, diagonals, columns[col], alpha, steps, chunk, bands, result[col], work,
            windows, mirror,
        )
    return result


def forward_gradient(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward-difference gradient of a field (``original-system.md`` §0.2).

    Parameters
    ----------
    f : array (H, W), real dtype, finite

    Returns
    -------
    gy, gx : float64 (H, W), newly allocated
        ``gy[y, x] = f[y+1, x] - f[y, x]`` (0 on the last row),
        ``gx[y, x] = f[y, x+1] - f[y, x]`` (0 on the last column).

    Examples
    --------
    >>> gy, gx = forward_gradient(np.array([[0.0, 1.0], [2.0, 4.0]]))
    >>> gy.tolist(), gx.tolist()
    ([[2.0, 3.0], [0.0, 0.0]], [[1.0, 0.0], [2.0, 0.0]])
    """
    field = check_real_array("f", f)
    if field.ndim != 2:
        raise ValueError(f"f must be 2-D (H, W), got shape {field.shape}")
    field = np.ascontiguousarray(field, dtype=np.float64)
    gy = np.empty_like(field)
    gx = np.empty_like(field)
    field_kernels.forward_gradient(field, gy, gx)
    return gy, gx


def unit_vectors(
    gy: np.ndarray, gx: np.ndarray, eps: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    """Normalise a vector field: ``(gy, gx) / max(sqrt(gy^2 + gx^2), eps)``.

    Parameters
    ----------
    gy, gx : arrays of the same shape, real dtype, finite
        Vector components (e.g. from :func:`forward_gradient`).
    eps : float
        Smallest divisor, ``> 0`` (zero vectors stay zero).

    Returns
    -------
    uy, ux : float64, shape of ``gy``, newly allocated

    Examples
    --------
    >>> uy, ux = unit_vectors(np.array([0.5, 0.0]), np.array([-0.5, 0.0]))
    >>> np.round(uy, 6).tolist(), np.round(ux, 6).tolist()
    ([0.707107, 0.0], [-0.707107, 0.0])
    """
    comp_y = check_real_array("gy", gy)
    comp_x = check_real_array("gx", gx)
    if comp_y.shape != comp_x.shape:
        raise ValueError(f"gy and gx differ in shape ({comp_y.shape} vs {comp_x.shape})")
    eps = check_real("eps", eps, 0.0, lo_open=True)
    flat_y = np.ascontiguousarray(comp_y, dtype=np.float64).reshape(-1)
    flat_x = np.ascontiguousarray(comp_x, dtype=np.float64).reshape(-1)
    uy = np.empty_like(flat_y)
    ux = np.empty_like(flat_x)
    field_kernels.unit_vectors(flat_y, flat_x, eps, uy, ux)
    return uy.reshape(comp_y.shape), ux.reshape(comp_x.shape)
