"""Pixel-graph combinatorial Laplacian ``L = D - W`` assembled straight into CSR.

Raw kernels (``original-system.md`` §1.1, §1.2): module-level ``@jit``
functions, raw arrays in, **caller-allocated outputs and work arrays**, no
validation, no raising.  The validated, allocating wrapper is
:func:`fastshade.pipeline.graph.image_laplacian`; the offset tables come from
:func:`fastshade.pipeline.graph.laplacian_offsets`.

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
    data = np.empty(nnz, np.float64)
    work = np.empty((bands, laplacian_work_rows(dy), W), np.float64)
    nnz = assemble_laplacian_csr(carrier_hwc, dy, dx, mult, tau, floor,
                                 indptr, indices, data, work)

Algorithm (one ``exp`` per undirected edge, sequential writes, no sort, no
COO): image rows are processed top to bottom.  At the start of image row
``y`` the weights of all its forward edges (to ``(y + dy, x + dx)``) are
computed into a ring buffer of ``max(dy) + 1`` image rows held in ``work``.
The CSR rows of the pixels of image row ``y`` are then written in order:
the backward entries (columns ``< i``: their weights sit in the ring buffer
rows of ``y - dy``), the diagonal, the forward entries.  Reversed offset
order gives ascending columns below the diagonal and offset order ascending
columns above it, because ``0 <= x + dx < W`` for every stored entry.
Interior pixels (all neighbours in the image) have a fixed row layout and are
written slot by slot, without bounds checks; border pixels take the checked
path.  Degrees are summed in float64 in ascending column order, so a float32
``data`` equals the float64 result rounded once.

Image rows go in fixed bands (:func:`assemble_laplacian_csr`'s ``work`` has one ring per
band), run in parallel: a band recomputes the ring of the ``max(dy)`` rows above it and starts
writing where the entries of the rows above it end (:func:`csr_entries_before_row`), so every
entry is the same bytes whatever the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import jit, jit_parallel

# Signatures (documentation only; the kernels are compiled lazily):
#   laplacian_csr_nnz(int64, int64, int64[::1], int64[::1]) -> int64
#   laplacian_work_rows(int64[::1]) -> int64
#   _edge_weight_rows(float64[:, :, ::1], int64, int64[::1], int64[::1], float64[::1],
#                     float64, float64, float64[:, ::1], int64) -> None
#   _assemble_border_pixel(int64, int64, int64, int64[::1], int64[::1], float64[:, ::1], int64,
#                          int64, <indptr>, <indices>, <data>, int64) -> int64
#   _assemble_interior_run(int64, int64, int64, int64[::1], int64[::1], float64[:, ::1], int64,
#                          int64, <indptr>, <indices>, <data>, int64) -> int64
#   assemble_laplacian_csr(float64[:, :, ::1], int64[::1], int64[::1], float64[::1],
#                          float64, float64, int32|int64[::1], int32|int64[::1],
#                          float32|float64[::1], float64[:, :, ::1]) -> int64 (parallel)


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
def laplacian_work_rows(offset_dy):
    """Rows of the float64 ``(rows, W)`` work array of :func:`assemble_laplacian_csr`.

    Parameters
    ----------
    offset_dy : int64 (K,)
        Row offsets of the canonical half (all ``>= 0``).

    Returns
    -------
    int
        ``(max(dy) + 1) * K + 1``: a ring of ``max(dy) + 1`` image rows of
        ``K`` weight rows each, plus one row of degree accumulators.
    """
    reach = 0
    for k in range(offset_dy.shape[0]):
        reach = max(reach, offset_dy[k])
    return (reach + 1) * offset_dy.shape[0] + 1


@jit
def _edge_weight_rows(
    carrier, y, offset_dy, offset_dx, offset_mult, inv_tau, weight_floor, work, first_row
):
    """Weights of the forward edges of image row ``y``, one work row per offset.

    ``work[first_row + k, x] =
    max(mult_k * exp(-|c(y, x) - c(y + dy_k, x + dx_k)| * inv_tau), weight_floor)``
    for every ``x`` whose neighbour is in the image; other entries are left
    untouched.

    Parameters
    ----------
    carrier : float64 (H, W, C), C-contiguous
        ``C == 1``: absolute difference; ``C > 1``: Euclidean norm of the
        channel difference (channels summed in order).
    y : int
        Image row.
    offset_dy, offset_dx, offset_mult : int64 (K,), int64 (K,), float64 (K,)
        Offset table (canonical half).
    inv_tau : float
        ``1 / tau``.
    weight_floor : float
        Lower bound of every weight.
    work : float64 (rows, W)
        Receives the weights in rows ``first_row .. first_row + K - 1``.
    first_row : int
        First work row to fill.
    """
    height = carrier.shape[0]
    width = carrier.shape[1]
    channels = carrier.shape[2]
    for k in range(offset_dy.shape[0]):
        yy = y + offset_dy[k]
        if yy >= height:
            continue
        dx = offset_dx[k]
        mult = offset_mult[k]
        weights = work[first_row + k]
        for x in range(max(0, -dx), min(width, width - dx)):
            if channels == 1:
                distance = abs(carrier[y, x, 0] - carrier[yy, x + dx, 0])
            else:
                total = 0.0
                for ch in range(channels):
                    diff = carrier[y, x, ch] - carrier[yy, x + dx, ch]
                    total += diff * diff
                distance = np.sqrt(total)
            weights[x] = max(mult * np.exp(-distance * inv_tau), weight_floor)


@jit
def _assemble_border_pixel(
    y, x, height, offset_dy, offset_dx, work, n_ring, ring, indptr, indices, data, position
):
    """Write the CSR row of one pixel, checking every neighbour against the image.

    Slots ``0 .. K-1`` are the backward neighbours ``(y - dy_k, x - dx_k)`` for
    ``k = K-1 .. 0`` (ascending columns), slot ``K`` the diagonal, slots
    ``K+1 .. 2K`` the forward neighbours ``(y + dy_k, x + dx_k)``.  ``work``
    rows ``r * K + k`` hold the forward edge weights of the image row in
    ring slot ``r`` (see :func:`_edge_weight_rows`); image row ``y`` is in
    ring slot ``ring``, row ``y - d`` in ``(ring - d) mod n_ring``.  Writes
    from ``position`` on and returns the position after the row.
    """
    width = work.shape[1]
    n_offsets = offset_dy.shape[0]
    i = y * width + x
    indptr[i] = position
    diagonal = position
    total = 0.0
    for slot in range(2 * n_offsets + 1):
        if slot == n_offsets:
            diagonal = position
            indices[position] = i
            position += 1
            continue
        if slot < n_offsets:  # backward: the weight is stored at the neighbour
            k = n_offsets - 1 - slot
            yy = y - offset_dy[k]
            xx = x - offset_dx[k]
            source = ring - offset_dy[k]
            if source < 0:
                source += n_ring
            stored_x = xx
        else:  # forward: the weight is stored at this pixel
            k = slot - n_offsets - 1
            yy = y + offset_dy[k]
            xx = x + offset_dx[k]
            source = ring
            stored_x = x
        if 0 <= yy < height and 0 <= xx < width:
            weight = work[source * n_offsets + k, stored_x]
            indices[position] = yy * width + xx
            data[position] = -weight
            position += 1
            total += weight
    data[diagonal] = total
    return position


@jit
def _assemble_interior_run(
    y, x_start, x_stop, offset_dy, offset_dx, work, n_ring, ring, indptr, indices, data, position
):
    """Write the CSR rows of pixels ``x_start .. x_stop - 1`` of image row ``y``.

    Every neighbour of these pixels must be in the image: each row then has
    ``2K + 1`` entries in the slot layout of :func:`_assemble_border_pixel`,
    written slot by slot without bounds checks.  The work row ``n_ring * K``
    accumulates the degrees.  Returns the position after the run.
    """
    width = work.shape[1]
    n_offsets = offset_dy.shape[0]
    stride = 2 * n_offsets + 1
    row_start = y * width
    degree = work[n_ring * n_offsets]
    base = position - x_start * stride  # CSR row of pixel x starts at base + x * stride
    for x in range(x_start, x_stop):
        degree[x] = 0.0
        indptr[row_start + x] = base + x * stride
        indices[base + x * stride + n_offsets] = row_start + x
    for slot in range(2 * n_offsets + 1):
        if slot == n_offsets:
            continue
        if slot < n_offsets:  # backward: the weight is stored at the neighbour
            k = n_offsets - 1 - slot
            source = ring - offset_dy[k]
            if source < 0:
                source += n_ring
            stored_shift = offset_dx[k]
            column_shift = -(offset_dy[k] * width + offset_dx[k])
        else:  # forward: the weight is stored at this pixel
            k = slot - n_offsets - 1
            source = ring
            stored_shift = 0
            column_shift = offset_dy[k] * width + offset_dx[k]
        weights = work[source * n_offsets + k]
        for x in range(x_start, x_stop):
            weight = weights[x - stored_shift]
            p = base + x * stride + slot
            indices[p] = row_start + x + column_shift
            data[p] = -weight
            degree[x] += weight
    for x in range(x_start, x_stop):
        data[base + x * stride + n_offsets] = degree[x]
    return base + x_stop * stride


@jit
def csr_entries_before_row(height, width, offset_dy, offset_dx, y0):
    """Stored entries of the CSR rows of image rows ``0 .. y0 - 1`` (where row ``y0`` starts).

    ``y0 * W`` diagonals plus, per offset, the forward pairs of those rows (neighbour row
    ``y + dy < H``) and their backward pairs (``y - dy >= 0``); ``y0 = H`` gives
    :func:`laplacian_csr_nnz`.
    """
    total = y0 * width
    for k in range(offset_dy.shape[0]):
        cols = width - abs(offset_dx[k])
        if cols <= 0:
            continue
        total += cols * (max(0, min(y0, height - offset_dy[k])) + max(0, y0 - offset_dy[k]))
    return total


@jit
def _assemble_band(carrier, offset_dy, offset_dx, offset_mult, inv_tau, weight_floor, y_start,
                  y_stop, indptr, indices, data, work):
    """The CSR rows of image rows ``y_start .. y_stop - 1`` (see :func:`assemble_laplacian_csr`).

    ``work`` (float64 (laplacian_work_rows(offset_dy), W), scratch) first receives the forward
    weights of the ``max(dy)`` image rows above ``y_start`` (the ring as the rows before left
    it), then the band's own.
    """
    height = carrier.shape[0]
    width = carrier.shape[1]
    n_offsets = offset_dy.shape[0]
    reach_y = 0
    reach_x = 0
    for k in range(n_offsets):
        reach_y = max(reach_y, offset_dy[k])
        reach_x = max(reach_x, abs(offset_dx[k]))
    n_ring = reach_y + 1  # image rows of forward weights kept in the ring
    for y in range(max(0, y_start - reach_y), y_start):
        _edge_weight_rows(
            carrier, y, offset_dy, offset_dx, offset_mult, inv_tau, weight_floor, work,
            (y % n_ring) * n_offsets,
        )
    position = csr_entries_before_row(height, width, offset_dy, offset_dx, y_start)
    for y in range(y_start, y_stop):
        ring = y % n_ring
        _edge_weight_rows(
            carrier, y, offset_dy, offset_dx, offset_mult, inv_tau, weight_floor, work,
            ring * n_offsets,
        )
        # Pixels whose neighbours are all in the image (none near the top/bottom).
        inner_start = width
        inner_stop = width
        if y >= reach_y and y + reach_y < height and 2 * reach_x < width:
            inner_start = reach_x
            inner_stop = width - reach_x
        for x in range(inner_start):
            position = _assemble_border_pixel(
                y, x, height, offset_dy, offset_dx, work, n_ring, ring,
                indptr, indices, data, position,
            )
        if inner_start < inner_stop:
            position = _assemble_interior_run(
                y, inner_start, inner_stop, offset_dy, offset_dx, work, n_ring, ring,
                indptr, indices, data, position,
            )
        for x in range(inner_stop, width):
            position = _assemble_border_pixel(
                y, x, height, offset_dy, offset_dx, work, n_ring, ring,
                indptr, indices, data, position,
            )


@jit_parallel
def assemble_laplacian_csr(
    carrier, offset_dy, offset_dx, offset_mult, tau, weight_floor, indptr, indices, data, work
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
        no duplicates (as returned by :func:`fastshade.pipeline.graph.laplacian_offsets`).
    offset_mult : float64 (K,)
        Weight multiplier of each offset (``>= 0``; 1 for grid graphs).
    tau : float
        Weight scale, ``> 0``: ``w = max(mult * exp(-|dc| / tau), weight_floor)``
        (evaluated as ``exp(-|dc| * (1 / tau))``).
    weight_floor : float
        Lower bound of every edge weight (``>= 0``).
    indptr : int32 or int64 (H*W + 1,), caller-allocated
        Receives the CSR row pointer.
    indices : int32 or int64 (>= nnz,), caller-allocated
        Receives the column indices, ascending within each row, diagonal
        included.  :func:`laplacian_csr_nnz` gives the exact size.
    data : float32 or float64 (same size as ``indices``), caller-allocated
        Receives the values: ``-w_ij`` off the diagonal, the degree
        ``sum_j w_ij`` on it.  Weights and degrees are computed in float64
        and rounded once.
    work : float64 (B, laplacian_work_rows(offset_dy), W), caller-allocated, ``B >= 1``
        Scratch of ``B`` bands of ``ceil(H / B)`` image rows each (ring buffers of edge
        weights and degree accumulators).  The bands run in parallel (``prange``); each
        writes its own CSR rows, which start where :func:`csr_entries_before_row` says, so
        the output does not depend on the number of threads.  ``B`` should depend on the
        image only (:func:`fastshade.pipeline.graph.image_laplacian`: bands of about
        :data:`fastshade.pipeline.graph.LAPLACIAN_BAND_ROWS` rows).

    Returns
    -------
    int
        The number of stored entries ``nnz`` (``indptr[-1]``); entries beyond
        it in ``indices``/``data`` are left untouched.

    Notes
    -----
    A 1x1 image gives the 1x1 matrix ``[[0]]`` (the zero diagonal is stored);
    a 0-pixel image gives ``indptr = [0]`` and ``nnz = 0``.  Weights that
    underflow to 0 are still stored: the structure depends only on the shape
    and the offsets.
    """
    height = carrier.shape[0]
    width = carrier.shape[1]
    bands = work.shape[0]
    band_rows = (height + bands - 1) // bands
    inv_tau = 1.0 / tau
    for b in prange(bands):
        y_start = min(height, b * band_rows)
        y_stop = min(height, y_start + band_rows)
        if y_start < y_stop:
            _assemble_band(carrier, offset_dy, offset_dx, offset_mult, inv_tau, weight_floor,
                          y_start, y_stop, indptr, indices, data, work[b])
    position = csr_entries_before_row(height, width, offset_dy, offset_dx, height)
    indptr[height * width] = position
    return position
