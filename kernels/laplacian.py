"""Pixel-graph combinatorial Laplacian ``L = D - W`` assembled straight into CSR.

Raw kernels (``original-system.md`` §1.1, §1.2): module-level ``@jit``
functions, raw arrays in, **caller-allocated outputs**, no validation, no
raising.  The validated, allocating wrapper is
:func:`fastshade.graph.image_laplacian`; the offset tables come from
:func:`fastshade.graph.laplacian_offsets`.

One generic kernel serves every graph: it is driven by a table of *undirected*
offsets ``(dy, dx, mult)``, each pair listed once in its canonical half
(``dy > 0`` or ``dy == 0 and dx > 0``) and sorted lexicographically by
``(dy, dx)``.  Pixels ``i = (y, x)`` and ``j = (y + dy, x + dx)`` (both in the
image) are joined by an edge of weight::

    w_ij = max(mult * exp(-|c_i - c_j| / tau), weight_floor)

where ``|c_i - c_j|`` is the absolute difference for one channel and the
Euclidean norm of the channel difference for several.  4-connected:
``(0,1,1), (1,0,1)``; 8-connected adds ``(1,-1,1), (1,1,1)``; the "dither"
operator lists every offset within the largest radius with its summed radius
weight (e.g. ``(0,1) -> 2.6``, ``(0,6) -> 0.1`` with the defaults).

Typical use (what the wrapper does)::

    nnz = laplacian_csr_nnz(H, W, dy, dx)
    indptr = np.empty(H * W + 1, np.int32); indices = np.empty(nnz, np.int32)
    data = np.empty(nnz, np.float64); degree = np.empty(H * W, np.float64)
    nnz = assemble_laplacian_csr(carrier_hwc, dy, dx, mult, tau, floor,
                                 indptr, indices, data, degree)

Algorithm (one exp per undirected edge, no sort, no COO): a counting pass
writes the start of every row into ``indptr``; the assembly pass walks the
pixels in raster order and, for pixel ``i``, writes its diagonal slot and its
"upper" entries (columns ``j > i``, in ascending order because the offsets are
sorted and ``0 <= x + dx < W``), and appends the mirrored entry ``(j, i)`` to
row ``j`` through a per-row write cursor kept in ``indptr`` itself.  Rows ``j``
receive their "lower" entries from pixels ``i < j`` in ascending ``i``, so
every row ends up sorted.  A final shift turns the cursors back into row
starts (the classic COO->CSR cursor trick).  Degrees are summed in float64 in
ascending column order, so the float32 output equals the float64 one rounded
once.
"""

from __future__ import annotations

import numpy as np

from kernels._jit import jit

# Signatures (documentation only; the kernels are compiled lazily):
#   laplacian_csr_nnz(int64, int64, int64[::1], int64[::1]) -> int64
#   pixel_distance(float64[:, :, ::1], int64, int64, int64, int64) -> float64
#   assemble_laplacian_csr(float64[:, :, ::1], int64[::1], int64[::1], float64[::1],
#                          float64, float64, int32|int64[::1], int32|int64[::1],
#                          float32|float64[::1], float64[::1]) -> int64


@jit
def laplacian_csr_nnz(height, width, offset_dy, offset_dx):
    """Exact number of stored entries of the pixel-graph Laplacian.

    Parameters
    ----------
    height, width : int
        Image shape (``n = height * width`` pixels; either may be 0).
    offset_dy, offset_dx : int64 (K,)
        Undirected offsets, canonical half, no duplicates.

    Returns
    -------
    int
        ``n + 2 * sum_k max(height - |dy_k|, 0) * max(width - |dx_k|, 0)``:
        one diagonal per pixel plus both directions of every in-image pair.
    """
    nnz = height * width
    for k in range(offset_dy.shape[0]):
        rows = height - abs(offset_dy[k])
        cols = width - abs(offset_dx[k])
        if rows > 0 and cols > 0:
            nnz += 2 * rows * cols
    return nnz


@jit
def pixel_distance(carrier, y0, x0, y1, x1):
    """Carrier difference ``|c(y0,x0) - c(y1,x1)|`` of two pixels.

    Parameters
    ----------
    carrier : float64 (H, W, C), C-contiguous
        ``C == 1``: absolute difference; ``C > 1``: Euclidean norm of the
        channel difference (channels summed in order).
    y0, x0, y1, x1 : int
        Pixel coordinates (in bounds; not checked).

    Returns
    -------
    float
    """
    channels = carrier.shape[2]
    if channels == 1:
        return abs(carrier[y0, x0, 0] - carrier[y1, x1, 0])
    total = 0.0
    for ch in range(channels):
        diff = carrier[y0, x0, ch] - carrier[y1, x1, ch]
        total += diff * diff
    return np.sqrt(total)


@jit
def assemble_laplacian_csr(
    carrier, offset_dy, offset_dx, offset_mult, tau, weight_floor, indptr, indices, data, degree
):
    """Assemble ``L = D - W`` of the weighted pixel graph directly into CSR.

    Parameters
    ----------
    carrier : float64 (H, W, C), C-contiguous
        The image the weights are computed from (``C = 1`` for grey).
        Pixel ``(y, x)`` is row/column ``y * W + x``.
    offset_dy, offset_dx : int64 (K,)
        Undirected offsets, each pair once, canonical half (``dy > 0`` or
        ``dy == 0 and dx > 0``), sorted lexicographically by ``(dy, dx)``,
        no duplicates (as returned by :func:`fastshade.graph.laplacian_offsets`).
    offset_mult : float64 (K,)
        Weight multiplier of each offset (1 for grid graphs, >= 0).
    tau : float
        Weight scale, ``> 0``: ``w = max(mult * exp(-|dc| / tau), weight_floor)``.
    weight_floor : float
        Lower bound of every edge weight (``>= 0``).
    indptr : int32 or int64 (H*W + 1,), caller-allocated
        Receives the CSR row pointer.
    indices : int32 or int64 (>= nnz,), caller-allocated
        Receives the column indices, ascending within each row, diagonal
        included.  Size it with :func:`laplacian_csr_nnz` (exact).
    data : float32 or float64 (same size as ``indices``), caller-allocated
        Receives the values: ``-w_ij`` off the diagonal, the degree on it.
        Weights and degrees are computed in float64 and rounded once.
    degree : float64 (H*W,), caller-allocated
        Receives the weighted degree of every pixel (row sums of ``W``);
        also the kernel's accumulator.

    Returns
    -------
    int
        The number of stored entries ``nnz`` (``indptr[-1]``); entries beyond
        it in ``indices``/``data`` are left untouched.

    Notes
    -----
    A 1x1 image gives the 1x1 matrix ``[[0]]`` (the zero diagonal is stored);
    a 0-pixel image gives ``indptr = [0]`` and ``nnz = 0``.  Every stored
    weight is stored even when it underflows to 0 (structure depends only on
    the shape and the offsets).
    """
    height = carrier.shape[0]
    width = carrier.shape[1]
    n_offsets = offset_dy.shape[0]

    # Pass 1: row starts.  Row i holds its diagonal, one entry per in-image
    # forward neighbour (y + dy, x + dx) and one per backward (y - dy, x - dx).
    position = 0
    for y in range(height):
        for x in range(width):
            i = y * width + x
            indptr[i] = position
            degree[i] = 0.0
            count = 1
            for k in range(n_offsets):
                dy = offset_dy[k]
                dx = offset_dx[k]
                if y + dy < height and 0 <= x + dx < width:
                    count += 1
                if y - dy >= 0 and 0 <= x - dx < width:
                    count += 1
            position += count
    n = height * width
    indptr[n] = position

    # Pass 2: indptr[i] is row i's write cursor.  When pixel i is reached its
    # lower entries (columns < i) are all in place and the cursor sits on the
    # diagonal slot.
    for y in range(height):
        for x in range(width):
            i = y * width + x
            diagonal = indptr[i]
            indices[diagonal] = i
            cursor = diagonal + 1
            row_degree = degree[i]
            for k in range(n_offsets):
                yy = y + offset_dy[k]
                xx = x + offset_dx[k]
                if yy < height and 0 <= xx < width:
                    j = yy * width + xx
                    weight = offset_mult[k] * np.exp(-pixel_distance(carrier, y, x, yy, xx) / tau)
                    if weight < weight_floor:
                        weight = weight_floor
                    indices[cursor] = j
                    data[cursor] = -weight
                    cursor += 1
                    mirror = indptr[j]
                    indices[mirror] = i
                    data[mirror] = -weight
                    indptr[j] = mirror + 1
                    row_degree += weight
                    degree[j] += weight
            data[diagonal] = row_degree
            degree[i] = row_degree
            indptr[i] = cursor

    # indptr[i] now holds the end of row i: shift by one to get the starts.
    for i in range(n, 0, -1):
        indptr[i] = indptr[i - 1]
    indptr[0] = 0
    return indptr[n]
