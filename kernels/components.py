"""Connected-component labelling of a binary mask, and per-component statistics.

Raw kernels (``original-system.md`` §3.7, §8 "Ordering"): module-level ``@jit``
functions, raw arrays in, **caller-allocated outputs**, no validation, no
raising.  The validated, allocating wrapper is
:func:`fastshade.pipeline.components.label_components`.

Numbering contract: label 0 is background; components are numbered 1..n in the
raster order (row-major, ``i = y*W + x``) of their first pixel.  This is exactly
the numbering of ``scipy.ndimage.label`` (3x3 ones structure for 8-connectivity,
the cross for 4-connectivity).

Typical use (what the wrapper does)::

    labels = np.empty((H, W), np.int32)
    parent = np.empty(label_buffer_size(H, W), np.int32)
    n = label_mask(mask, 8, labels, parent)
    sizes = np.empty(n, np.int64); bbox = np.empty((n, 4), np.int64)
    centroids = np.empty((n, 2)); covariances = np.empty((n, 2, 2))
    moments = np.empty((n, 6), np.int64); run_bounds = np.empty(W + 1, np.int64)
    component_stats(labels, sizes, bbox, centroids, covariances, moments, run_bounds)
    indptr = np.empty(n + 1, np.int64); pixels = np.empty(sizes.sum(), np.int64)
    cursor = np.empty(n, np.int64)
    component_pixel_index(labels, sizes, indptr, pixels, cursor)

Algorithms: one raster scan with the Wu-Otoo-Suzuki decision tree over the
already-scanned neighbours (8-connectivity: up-left ``a``, up ``b``, up-right
``c``, left ``d``; 4-connectivity: ``b``, ``d``) and an array union-find whose
root is always the smallest provisional label (union by minimum, path halving),
then one flattening pass over the provisional labels and one relabelling pass
over the image (K. Wu, E. Otoo, K. Suzuki, "Optimizing two-pass
connected-component labeling algorithms", Pattern Anal. Appl. 12 (2009),
doi:10.1007/s10044-008-0109-y).  Because provisional labels are handed out in
raster order and a component's first pixel always opens a new one, the root of
every set is the provisional label of its first pixel, so the flattened
numbering is the raster order of first pixels.

Statistics are accumulated per horizontal run of equal labels with exact int64
sums of coordinates shifted by the component's first pixel; covariances are
formed from those exact integers without cancellation (see
:func:`component_stats`).
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

_BLOCK = 16
"""Pixels per background-skipping block (all-zero blocks are skipped cheaply)."""

# Signatures (documentation only; the kernels are compiled lazily):
#   label_buffer_size(int64, int64) -> int64
#   label_mask(uint8[:, ::1], int64, int32[:, ::1], int32[::1]) -> int64
#   label_mask_4 / label_mask_8(uint8[:, ::1], int32[:, ::1], int32[::1]) -> int64
#   component_stats(int32[:, ::1], int64[::1], int64[:, ::1], float64[:, ::1],
#                   float64[:, :, ::1], int64[:, ::1], int64[::1]) -> None
#   component_pixel_index(int32[:, ::1], int64[::1], int64[::1], int64[::1], int64[::1]) -> int64
#   size_filter_map(int64[::1], int64, int32[::1]) -> int64
#   apply_label_map(int32[:, ::1], int32[::1]) -> None


@jit
def label_buffer_size(height, width):
    """Length of the ``parent`` work buffer :func:`label_mask` needs for an HxW mask.

    A new provisional label is only ever opened at the first pixel of a run,
    and a row of width W holds at most ``ceil(W/2)`` runs, so an HxW mask opens
    at most ``H * ceil(W/2)`` provisional labels (either connectivity); one
    more slot for label 0.

    Parameters
    ----------
    height, width : int
        Mask shape.

    Returns
    -------
    int
        ``height * ((width + 1) // 2) + 1``.
    """
    return height * ((width + 1) // 2) + 1


@jit
def _find_root(parent, i):
    """Root of ``i`` in the union-find forest ``parent`` (path halving)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@jit
def _union(parent, i, j):
    """Merge the sets of ``i`` and ``j``; the smaller root survives and is returned."""
    ri = _find_root(parent, i)
    rj = _find_root(parent, j)
    if ri < rj:
        parent[rj] = ri
        return ri
    if rj < ri:
        parent[ri] = rj
        return rj
    return ri


@jit
def _scan_8(mask, labels, parent):
    """First pass, 8-connectivity: provisional labels and unions; returns their count."""
    height, width = mask.shape
    next_label = 1
    for y in range(height):
        for x in range(width):
            if mask[y, x] == 0:
                labels[y, x] = 0
                continue
            has_left = x > 0
            has_right = x + 1 < width
            if y > 0 and labels[y - 1, x] != 0:  # b: a, c and d are all adjacent to b
                labels[y, x] = labels[y - 1, x]
            elif y > 0 and has_right and labels[y - 1, x + 1] != 0:  # c
                lc = labels[y - 1, x + 1]
                if has_left and labels[y - 1, x - 1] != 0:  # a
                    labels[y, x] = _union(parent, np.int64(lc), np.int64(labels[y - 1, x - 1]))
                elif has_left and labels[y, x - 1] != 0:  # d
                    labels[y, x] = _union(parent, np.int64(lc), np.int64(labels[y, x - 1]))
                else:
                    labels[y, x] = lc
            elif y > 0 and has_left and labels[y - 1, x - 1] != 0:  # a (d is adjacent to a)
                labels[y, x] = labels[y - 1, x - 1]
            elif has_left and labels[y, x - 1] != 0:  # d
                labels[y, x] = labels[y, x - 1]
            else:
                parent[next_label] = next_label
                labels[y, x] = next_label
                next_label += 1
    return next_label - 1


@jit
def _scan_4(mask, labels, parent):
    """First pass, 4-connectivity: provisional labels and unions; returns their count."""
    height, width = mask.shape
    next_label = 1
    for y in range(height):
        for x in range(width):
            if mask[y, x] == 0:
                labels[y, x] = 0
                continue
            lb = labels[y - 1, x] if y > 0 else 0
            ld = labels[y, x - 1] if x > 0 else 0
            if lb != 0:
                if ld != 0 and ld != lb:
                    labels[y, x] = _union(parent, lb, ld)
                else:
                    labels[y, x] = lb
            elif ld != 0:
                labels[y, x] = ld
            else:
                parent[next_label] = next_label
                labels[y, x] = next_label
                next_label += 1
    return next_label - 1


@jit
def _flatten_labels(labels, parent, provisional):
    """Second pass: number the ``provisional`` labels' sets 1..n in raster order (``parent``
    becomes the provisional -> final map) and relabel ``labels`` when any sets merged; returns n.
    """
    # Roots are the smallest label of their set and parent[l] <= l, so in one increasing
    # sweep parent[l] becomes the final label of l, in place.
    parent[0] = 0
    n = 0
    for label in range(1, provisional + 1):
        p = parent[label]
        if p == label:
            n += 1
            parent[label] = n
        else:
            parent[label] = parent[p]
    if n != provisional:
        apply_label_map(labels, parent)
    return n


@jit
def label_mask_4(mask, labels, parent):
    """:func:`label_mask` with 4-connectivity (compiles only the 4-neighbour scan)."""
    return _flatten_labels(labels, parent, _scan_4(mask, labels, parent))


@jit
def label_mask_8(mask, labels, parent):
    """:func:`label_mask` with 8-connectivity (compiles only the 8-neighbour scan)."""
    return _flatten_labels(labels, parent, _scan_8(mask, labels, parent))


@jit
def label_mask(mask, connectivity, labels, parent):
    """Label the connected components of a binary mask (``scipy.ndimage.label`` numbering).

    Parameters
    ----------
    mask : (H, W) uint8 array, C-contiguous
        Foreground where non-zero.  Read only.
    connectivity : int
        4 (edge neighbours) or 8 (edge and corner neighbours); any value other
        than 4 means 8.
    labels : (H, W) int32 array, caller-allocated, C-contiguous
        Output: 0 on background, 1..n on the components, numbered in the raster
        order of each component's first pixel.  Fully overwritten.
    parent : (label_buffer_size(H, W),) int32 array, caller-allocated
        Work buffer (union-find forest, then the provisional -> final map).

    Returns
    -------
    int
        ``n``, the number of components.

    Compiling it compiles both scans; :func:`label_mask_4` and :func:`label_mask_8` (the same
    contract without ``connectivity``) compile one each.
    """
    if connectivity == 4:
        return label_mask_4(mask, labels, parent)
    return label_mask_8(mask, labels, parent)


@jit
def _row_segments(row, bounds):
    """Cut one row into maximal segments of equal value, without data-dependent branches.

    Segment ``i`` is ``[bounds[i], bounds[i + 1])`` with value
    ``row[bounds[i]]``; pixels before ``bounds[0]`` are 0.  Returns the number
    of segments; ``bounds`` needs ``row.size + 1`` slots.  Blocks of
    ``_BLOCK`` zeros inside background are skipped.
    """
    width = row.shape[0]
    k = 0
    previous = 0
    blocked = width - width % _BLOCK
    for block in range(0, blocked, _BLOCK):
        any_label = 0
        for x in range(block, block + _BLOCK):
            any_label |= row[x]
        if any_label == 0 and previous == 0:
            continue
        for x in range(block, block + _BLOCK):
            value = row[x]
            bounds[k] = x  # kept only where the value changes
            k += value != previous
            previous = value
    for x in range(blocked, width):
        value = row[x]
        bounds[k] = x
        k += value != previous
        previous = value
    bounds[k] = width
    return k


@jit
def component_stats(labels, sizes, bbox, centroids, covariances, moments, run_bounds):
    """Size, bounding box, centroid and covariance of every component in one pass.

    Parameters
    ----------
    labels : (H, W) int32 array, C-contiguous
        Labels 0..n, e.g. from :func:`label_mask` or :func:`apply_label_map`.
        Read only.
    sizes : (n,) int64 array, caller-allocated
        Output: pixel count per component (component ``j`` has label ``j + 1``).
    bbox : (n, 4) int64 array, caller-allocated
        Output: ``[y0, x0, y1, x1)``, end-exclusive.
    centroids : (n, 2) float64 array, caller-allocated
        Output: mean ``(y, x)``.
    covariances : (n, 2, 2) float64 array, caller-allocated
        Output: population covariance ``[[yy, yx], [yx, xx]]`` of the pixel
        coordinates.
    moments : (n, 6) int64 array, caller-allocated
        Work buffer: exact sums ``Σdy, Σdx, Σdy², Σdx², Σdy·dx`` of the
        coordinates ``(dy, dx)`` shifted by the component's first pixel, and
        that pixel's x.
    run_bounds : (W + 1,) int64 array, caller-allocated
        Work buffer (the runs of equal label of one row).

    Notes
    -----
    Every row is cut into runs of equal label; each run updates its component
    once, with closed-form sums over the run.  The int64 sums are exact while
    ``H*W * max(H, W)**2 < 2**63`` (any image up to 2**15 px a side).  With
    ``q, r = divmod(Σdy, n)`` the integer ``T = Σ(dy - q)² = Σdy² - q(Σdy + r)``
    is exact and small, and ``var = T/n - (r/n)²`` has no catastrophic
    cancellation; the x and cross terms are formed the same way.  A label
    1..n that never occurs gets size 0 and zero centroid/covariance.
    """
    n = sizes.shape[0]
    for j in range(n):
        sizes[j] = 0
    height = labels.shape[0]
    for y in range(height):
        row = labels[y]
        n_segments = _row_segments(row, run_bounds)
        for i in range(n_segments):
            label = row[run_bounds[i]]
            if label == 0:
                continue
            start = run_bounds[i]
            stop = run_bounds[i + 1]
            j = label - 1
            length = stop - start
            # Σk and Σk² for k = 0..length-1 (offsets inside the run)
            sum_k = (length * (length - 1)) >> 1
            sum_k2 = ((length - 1) * length * (2 * length - 1)) // 6
            if sizes[j] == 0:  # first run of the component: its first pixel
                sizes[j] = length
                bbox[j, 0] = y
                bbox[j, 1] = start
                bbox[j, 2] = y + 1
                bbox[j, 3] = stop
                moments[j, 0] = 0
                moments[j, 1] = sum_k
                moments[j, 2] = 0
                moments[j, 3] = sum_k2
                moments[j, 4] = 0
                moments[j, 5] = start
                continue
            sizes[j] += length
            if start < bbox[j, 1]:
                bbox[j, 1] = start
            if stop > bbox[j, 3]:
                bbox[j, 3] = stop
            bbox[j, 2] = y + 1
            dy = y - bbox[j, 0]
            dx0 = start - moments[j, 5]
            sum_dx = length * dx0 + sum_k
            moments[j, 0] += length * dy
            moments[j, 1] += sum_dx
            moments[j, 2] += length * dy * dy
            moments[j, 3] += length * dx0 * dx0 + 2 * dx0 * sum_k + sum_k2
            moments[j, 4] += dy * sum_dx
    for j in range(n):
        count = sizes[j]
        if count == 0:
            centroids[j, 0] = 0.0
            centroids[j, 1] = 0.0
            for a in range(2):
                for b in range(2):
                    covariances[j, a, b] = 0.0
            continue
        sum_dy = moments[j, 0]
        sum_dx = moments[j, 1]
        qy = sum_dy // count
        ry = sum_dy - qy * count
        qx = sum_dx // count
        rx = sum_dx - qx * count
        t_yy = moments[j, 2] - qy * (sum_dy + ry)
        t_xx = moments[j, 3] - qx * (sum_dx + rx)
        # Σ(dy - qy)(dx - qx) = Σdy·dx - qy Σdx - qx Σdy + qy qx n
        t_yx = moments[j, 4] - qy * sum_dx - qx * sum_dy + qy * qx * count
        inv = 1.0 / count
        fy = ry * inv
        fx = rx * inv
        centroids[j, 0] = (bbox[j, 0] + qy) + fy
        centroids[j, 1] = (moments[j, 5] + qx) + fx
        covariances[j, 0, 0] = t_yy * inv - fy * fy
        covariances[j, 1, 1] = t_xx * inv - fx * fx
        cyx = t_yx * inv - fy * fx
        covariances[j, 0, 1] = cyx
        covariances[j, 1, 0] = cyx

@jit
def component_pixel_index(labels, sizes, indptr, pixels, cursor):
    """CSR index of the pixels of each component (counting sort, one pass).

    Parameters
    ----------
    labels : (H, W) int32 array, C-contiguous
        Labels 0..n.  Read only.
    sizes : (n,) int64 array
        Pixel count per component, e.g. from :func:`component_stats`.
    indptr : (n + 1,) int64 array, caller-allocated
        Output: component ``j`` (label ``j + 1``) owns
        ``pixels[indptr[j]:indptr[j + 1]]``.
    pixels : (sizes.sum(),) int64 array, caller-allocated
        Output: flat pixel indices ``y*W + x``, grouped by component, raster
        order within each component.
    cursor : (n,) int64 array, caller-allocated
        Work buffer.

    Returns
    -------
    int
        Number of pixels written: ``sizes.sum()`` when ``sizes`` matches
        ``labels`` (writes never run past ``pixels``).
    """
    n = sizes.shape[0]
    indptr[0] = 0
    for j in range(n):
        indptr[j + 1] = indptr[j] + sizes[j]
        cursor[j] = indptr[j]
    capacity = pixels.shape[0]
    written = 0
    height, width = labels.shape
    for y in range(height):
        row = labels[y]
        base = y * width
        # the cursor of the current run's component lives in a register
        current = 0
        at = 0
        for x in range(width):
            label = row[x]
            if label != 0:
                if label != current:
                    if current != 0:
                        cursor[current - 1] = at
                    current = label
                    at = cursor[label - 1]
                if at < capacity:
                    pixels[at] = base + x
                    at += 1
                    written += 1
        if current != 0:
            cursor[current - 1] = at
    return written


@jit
def size_filter_map(sizes, min_size, label_map):
    """Map old labels to new ones, dropping components smaller than ``min_size``.

    Kept components are renumbered 1..k in their old order, so raster order of
    first pixels is preserved.

    Parameters
    ----------
    sizes : (n,) int64 array
        Pixel count per component.
    min_size : int
        Components with ``sizes[j] < min_size`` map to 0.
    label_map : (n + 1,) int32 array, caller-allocated
        Output: ``label_map[old] = new`` (``label_map[0] = 0``).

    Returns
    -------
    int
        ``k``, the number of kept components.
    """
    label_map[0] = 0
    kept = 0
    for j in range(sizes.shape[0]):
        if sizes[j] >= min_size:
            kept += 1
            label_map[j + 1] = kept
        else:
            label_map[j + 1] = 0
    return kept


@jit
def apply_label_map(labels, label_map):
    """Relabel in place: ``labels[y, x] = label_map[labels[y, x]]``.

    Parameters
    ----------
    labels : (H, W) int32 array, C-contiguous
        Labels 0..n; overwritten.
    label_map : (n + 1,) int32 array
        E.g. from :func:`size_filter_map`; ``label_map[0]`` must be 0
        (all-background blocks of 16 pixels are skipped).
    """
    flat = labels.reshape(-1)
    size = flat.size
    blocked = size - size % _BLOCK
    for start in range(0, blocked, _BLOCK):
        any_label = 0
        for i in range(start, start + _BLOCK):
            any_label |= flat[i]
        if any_label != 0:
            for i in range(start, start + _BLOCK):
                flat[i] = label_map[flat[i]]
    for i in range(blocked, size):
        flat[i] = label_map[flat[i]]
