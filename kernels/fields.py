"""Field kernels: CSR mat-vec, explicit heat diffusion, forward gradient, unit vectors.

Raw kernels (``original-system.md`` §0.2, §2.4, §3.3): module-level ``@jit``
functions, raw arrays and CSR pieces in, **caller-allocated outputs**, no
validation, no raising.  Validated, allocating wrappers:
:func:`fastshade.pipeline.graph.heat_diffusion`, :func:`fastshade.pipeline.graph.forward_gradient`,
:func:`fastshade.pipeline.graph.unit_vectors`.

Sums over a CSR row are accumulated in float64 in stored order (the order of
SciPy's ``csr_matvec``), whatever the dtype of ``data``.

Typical use::

    out = np.empty(n); work = np.empty(n)
    heat_diffusion_csr(L.indptr, L.indices, L.data, x, 0.1, 30, out, work)
    gy = np.empty((H, W)); gx = np.empty((H, W))
    forward_gradient(f, gy, gx)
    uy = np.empty(H * W); ux = np.empty(H * W)
    unit_vectors(gy.ravel(), gx.ravel(), 1e-8, uy, ux)
"""

from __future__ import annotations

import numpy as np
from numba import get_thread_id, prange

from ._jit import jit, jit_parallel
from .blockops import ROW_CHUNK  # (the one fixed partition of the parallel kernels)

# Signatures (documentation only; the kernels are compiled lazily):
#   csr_matvec(int32|int64[::1], int32|int64[::1], float32|float64[::1], float64[::1],
#              float64[::1]) -> None
#   heat_step(<csr>, float64[::1], float64, float64[::1]) -> None
#   heat_diffusion_csr(<csr>, float64[::1], float64, int64, float64[::1], float64[::1]) -> None
#   forward_gradient(float64[:, ::1], float64[:, ::1], float64[:, ::1]) -> None
#   unit_vectors(float64[::1], float64[::1], float64, float64[::1], float64[::1]) -> None


@jit
def csr_row_dot(indptr, indices, data, x, i):
    """Row ``i`` of a CSR matrix times ``x``: ``sum_k data[k] * x[indices[k]]`` (float64 scalar)."""
    total = 0.0
    for k in range(np.intp(indptr[i]), np.intp(indptr[i + 1])):
        total += data[k] * x[np.uintp(indices[k])]  # unsigned: no wraparound check
    return total


@jit
def csr_matvec(indptr, indices, data, x, out):
    """``out = A @ x`` for a CSR matrix ``A``.

    Parameters
    ----------
    indptr, indices : int32 or int64 (n_rows + 1,), (nnz,)
        CSR structure (any column order; duplicates are summed).
    data : float32 or float64 (nnz,)
        CSR values.
    x : float64 (n_cols,)
        Input vector.
    out : float64 (n_rows,), caller-allocated
        Receives ``A @ x``; must not alias ``x``.
    """
    for i in range(indptr.shape[0] - 1):
        out[i] = csr_row_dot(indptr, indices, data, x, i)


@jit
def heat_step(indptr, indices, data, x, alpha, out):
    """One explicit Euler step ``out = x - alpha * (L @ x)``.

    Parameters
    ----------
    indptr, indices, data : CSR pieces of the square ``L`` (see :func:`csr_matvec`).
    x : float64 (n,)
        Current state.
    alpha : float
        Step size.
    out : float64 (n,), caller-allocated
        Receives the next state; must not alias ``x``.
    """
    for i in range(indptr.shape[0] - 1):
        out[i] = x[i] - alpha * csr_row_dot(indptr, indices, data, x, i)


@jit
def heat_diffusion_csr(indptr, indices, data, x, alpha, steps, out, work):
    """Heat diffusion ``x_T = (I - alpha L)^T x`` by ``T = steps`` Euler steps.

    ``x_{t+1} = x_t - alpha * L x_t`` (``original-system.md`` §2.4).

    Parameters
    ----------
    indptr, indices, data : CSR pieces of the square ``L`` (see :func:`csr_matvec`).
    x : float64 (n,)
        Initial state (read only).
    alpha : float
        Step size (stable when ``alpha * lambda_max(L) < 2``).
    steps : int
        Number of steps ``T``; ``T <= 0`` copies ``x`` to ``out``.
    out : float64 (n,), caller-allocated
        Receives ``x_T``.
    work : float64 (n,), caller-allocated
        Scratch buffer (same type as ``out``).  ``x``, ``out`` and ``work``
        must not alias one another.
    """
    if steps <= 0:
        for i in range(x.shape[0]):
            out[i] = x[i]
        return
    # Ping-pong between out and work, starting so that step T lands in out.
    if steps % 2 == 1:
        current = out
        spare = work
    else:
        current = work
        spare = out
    heat_step(indptr, indices, data, x, alpha, current)
    for _ in range(steps - 1):
        heat_step(indptr, indices, data, current, alpha, spare)
        current, spare = spare, current


@jit
def csr_diagonal_mask(indptr, indices, present):
    """Mark the diagonals that hold stored entries and check that rows are sorted, in one pass.

    ``present`` : bool (n_rows + n_cols - 1,), caller-allocated and zeroed; receives
    ``present[j - i + n_rows - 1] = True`` for every stored entry ``(i, j)`` (so diagonal
    offset ``d`` is at ``d + n_rows - 1``).  Returns False, leaving ``present`` partly
    written, as soon as some row's columns are not strictly ascending (unsorted or
    duplicated); True otherwise.
    """
    base = indptr.shape[0] - 2  # n_rows - 1
    for i in range(indptr.shape[0] - 1):
        previous = -1
        for k in range(np.intp(indptr[i]), np.intp(indptr[i + 1])):
            j = np.intp(indices[k])
            if j <= previous:
                return False
            previous = j
            d = j - i + base
            if not present[d]:  # read-mostly: 2.6x faster than storing every time
                present[d] = True
    return True


@jit_parallel
def csr_to_diagonals(indptr, indices, data, offsets, diagonals):
    """Diagonal (DIA) storage: ``diagonals[k, i] = A[i, i + offsets[k]]`` (0 where not stored),
    rows in parallel chunks (the twin: a big image's diagonals, first written on every thread).

    The columns of every row must be strictly ascending and ``offsets`` (int64 (nd,),
    ascending) must cover every stored diagonal (both from :func:`csr_diagonal_mask`);
    ``diagonals`` : float (nd, n_rows), caller-allocated, every entry written (one merge of
    each row with ``offsets``).
    """
    nd = offsets.shape[0]
    n = indptr.shape[0] - 1
    for t in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        for i in range(t * ROW_CHUNK, min(n, (t + 1) * ROW_CHUNK)):
            e = np.intp(indptr[i])
            end = np.intp(indptr[i + 1])
            for k in range(nd):
                if e < end and np.intp(indices[e]) - i == offsets[k]:
                    diagonals[k, i] = data[e]
                    e += 1
                else:
                    diagonals[k, i] = 0.0


@jit
def dia_mirrored(offsets, diagonals):
    """Whether a diagonal storage is symmetric bit for bit: ``offsets`` (int64 (nd,), ascending)
    are symmetric about 0 and ``diagonals[k, i]`` (float64 (nd, n)) has the bits of
    ``diagonals[nd - 1 - k, i + offsets[k]]`` wherever ``0 <= i + offsets[k] < n`` (the
    entries of ``L[i, j]`` and ``L[j, i]``, signed zeros told apart).
    """
    nd = offsets.shape[0]
    n = diagonals.shape[1]
    bits = diagonals.view(np.uint64)
    for k in range(nd):
        if offsets[k] != -offsets[nd - 1 - k]:
            return False
    for k in range(nd // 2):
        o = offsets[k]  # < 0
        for i in range(max(0, -o), n):
            if bits[k, i] != bits[nd - 1 - k, i + o]:
                return False
    return True


@jit
def _dia_edge_row(offsets, diagonals, src, src_base, i, first, last):
    """``(L x)_i`` for one row, skipping diagonals that leave rows ``first .. last - 1``
    (ascending order).
    """
    total = 0.0
    for k in range(offsets.shape[0]):
        j = i + offsets[k]
        if first <= j < last:
            total += diagonals[k, i] * src[j - src_base]
    return total


@jit
def _dia_rows(offsets, diagonals, src, src_base, step, alpha, start, stop, dst, dst_base, acc,
              first, last, mirror):
    """``dst[i - dst_base] = x_i - alpha (L x)_i`` (``step`` true, a heat step) or
    ``(L x)_i`` (``step`` false) for rows ``start <= i < stop``, where ``x_j = src[j - src_base]``
    and ``L`` is restricted to rows and columns ``first .. last - 1`` (the whole matrix:
    ``0, n``; a band of it: the rows near the band's ends differ, the others do not).

    ``(L x)_i`` sums the diagonals in ascending offset order (the order of a sorted CSR
    row), starting from +0.0.  Rows whose every diagonal stays inside ``first .. last - 1`` go
    in one fused pass when there are 5 diagonals (the 4-connected grid; the heat step's
    ``x - alpha (...)`` included), otherwise one pass per
    diagonal into ``acc`` (float64, ``>= stop - start``, scratch).  The few rows near
    ``first`` and ``last`` go one by one (which rows take which path depends on ``i``,
    ``first`` and ``last`` only, never on ``start`` and ``stop``).  ``mirror`` (the storage of a
    symmetric matrix, bit for bit: ``diagonals[k, i] == diagonals[nd - 1 - k, i + offsets[k]]``,
    :func:`dia_mirrored`): the fused pass reads the lower diagonals from the upper ones (the same
    values, two fewer streams from memory).
    """
    nd = offsets.shape[0]
    lo = min(max(start, first - offsets[0]), stop)
    hi = max(min(stop, last - offsets[nd - 1]), lo)
    i = start
    while i < stop:  # rows start..lo and hi..stop
        if i == lo and hi > lo:
            i = hi
            continue
        total = _dia_edge_row(offsets, diagonals, src, src_base, i, first, last)
        dst[i - dst_base] = src[i - src_base] - alpha * total if step else total
        i += 1
    m = hi - lo
    b = lo - src_base
    # slices first: the inner loops then have non-negative indices and vectorise
    xc = src[b:b + m]
    y = dst[lo - dst_base:hi - dst_base]
    if nd == 5:  # the 4-connected grid: one fused pass (about 25 % faster at 1024²)
        d2, d3, d4 = diagonals[2, lo:hi], diagonals[3, lo:hi], diagonals[4, lo:hi]
        if mirror:  # L[i, i + o] = L[i + o, i]: rows lo + o .. hi + o of the mirror diagonal
            d0 = diagonals[4, lo + offsets[0]:hi + offsets[0]]
            d1 = diagonals[3, lo + offsets[1]:hi + offsets[1]]
        else:
            d0 = diagonals[0, lo:hi]
            d1 = diagonals[1, lo:hi]
        x0 = src[b + offsets[0]:b + offsets[0] + m]
        x1 = src[b + offsets[1]:b + offsets[1] + m]
        x2 = src[b + offsets[2]:b + offsets[2] + m]
        x3 = src[b + offsets[3]:b + offsets[3] + m]
        x4 = src[b + offsets[4]:b + offsets[4] + m]
        zero = abs(alpha) * 0.0  # +0.0 the compiler cannot fold away (no nnan flag): the
        for r in range(m):       # first product is contracted onto it, as in csr_row_dot
            t = zero + d0[r] * x0[r]
            t += d1[r] * x1[r]
            t += d2[r] * x2[r]
            t += d3[r] * x3[r]
            t = t + d4[r] * x4[r]
            y[r] = xc[r] - alpha * t if step else t  # loop-invariant branch
    else:  # any other band: one pass per diagonal into acc
        a = acc[:m]
        for r in range(m):
            a[r] = 0.0  # as csr_row_dot: the sum starts from +0.0
        for k in range(nd):
            d = diagonals[k, lo:hi]
            x = src[b + offsets[k]:b + offsets[k] + m]
            for r in range(m):
                a[r] += d[r] * x[r]
        for r in range(m):  # one more pass in cache (a fused x - alpha * (...) in the
            y[r] = xc[r] - alpha * a[r] if step else a[r]  # loop above could contract differently)


@jit
def _window_base(q, slots):
    """First chunk held by a window of ``slots`` chunks once chunk ``q`` has been written
    (the window moves on by ``slots - 2`` chunks when full, keeping the newest two).
    """
    if q < slots:
        return 0
    return ((q - 2) // (slots - 2)) * (slots - 2)


@jit
def _dia_heat_sweep(offsets, diagonals, src, alpha, steps, dst, windows, chunk, first, last,
                    keep_lo, keep_hi, mirror):
    """``dst = (I - alpha L)^steps src`` in one sweep over rows ``first .. last - 1`` of ``L``
    restricted to them (wavefront blocking); only rows ``keep_lo .. keep_hi - 1`` are written.

    Rows go in chunks of ``chunk >= bandwidth`` rows from ``first``: step ``t`` of chunk ``q``
    needs step ``t - 1`` of chunks ``q - 1 .. q + 1`` only, so for each new chunk ``c`` the
    sweep computes step ``t`` of chunk ``c - t + 1``, ``t = 1 .. steps``.  Step ``t < steps``
    is kept in ``windows[t - 1]``, a run of ``slots >= 3`` consecutive chunks that moves on
    (copying its newest two chunks to the front) when full; step ``steps`` goes to ``dst``.
    The states and diagonals of a few chunks stay in cache for all ``steps``.  A written row
    ``steps * bandwidth`` or more from ``first`` (unless 0) and from ``last`` (unless ``n``)
    is the row of the whole matrix's steps, bit for bit.
    """
    nchunks = (last - first + chunk - 1) // chunk
    slots = (windows.shape[1] // chunk)
    acc = windows[windows.shape[0] - 1]
    for c in range(nchunks + steps - 1):
        for t in range(1, steps + 1):
            q = c - t + 1
            if q < 0:
                break
            base = _window_base(q, slots)
            if t < steps and q >= 2 and base != _window_base(q - 1, slots):
                win = windows[t - 1]  # full: keep chunks q-2, q-1 at the front
                old = (q - 2 - _window_base(q - 1, slots)) * chunk
                for r in range(2 * chunk):
                    win[r] = win[old + r]
            if q >= nchunks:
                continue
            start = first + q * chunk
            stop = min(last, start + chunk)
            if t == 1:
                source = src
                source_base = 0
            else:  # window t-2 holds chunks q-1 .. q+1 of step t-1 (written after q)
                source = windows[t - 2]
                source_base = first + _window_base(q + 1, slots) * chunk
            if t == steps:
                a = max(start, keep_lo)
                b = min(stop, keep_hi)
                if a < b:
                    _dia_rows(offsets, diagonals, source, source_base, True, alpha, a, b,
                              dst, 0, acc, first, last, mirror)
            else:
                _dia_rows(offsets, diagonals, source, source_base, True, alpha, start, stop,
                          windows[t - 1], first + base * chunk, acc, first, last, mirror)


@jit_parallel
def heat_diffusion_dia(offsets, diagonals, x, alpha, steps, chunk, bands, out, work, windows, mirror):
    """Heat diffusion ``x_T = (I - alpha L)^T x`` with ``L`` in diagonal storage.

    Same steps as :func:`heat_diffusion_csr` (each row summed in ascending column order,
    i.e. that of a sorted CSR row, so the two agree to the last bit up to FMA contraction),
    for banded graphs such as image grids, with cache blocking, in parallel.

    Parameters
    ----------
    offsets, diagonals : int64 (nd,), float64 (nd, n)
        ``L`` from :func:`csr_to_diagonals`.
    x : float64 (n,)
        Initial state (read only).
    alpha : float
        Step size.
    steps : int
        Number of steps ``T``; ``T <= 0`` copies ``x`` to ``out``.
    chunk : int
        Rows per block, ``>= max |offsets|`` when ``d >= 1`` (below).
    bands : int
        The rows go in ``bands >= 1`` bands of ``ceil(n / bands)`` rows, run in parallel
        (``prange``).  For ``d + 1`` steps in a sweep, a band sweeps its rows and
        ``(d + 1) * max |offsets|`` more on each side, which it computes again (so every row
        is the same bytes for any ``bands`` and any number of threads): ``bands`` should
        depend on the problem only, and bands be long against that margin.
    out, work : float64 (n,), caller-allocated
        ``out`` receives ``x_T``; ``work`` is scratch.  ``x``, ``out``, ``work`` must not
        alias one another.
    windows : float64 (P, d + 1, s * chunk), caller-allocated scratch, ``s >= 3``
        One scratch per thread (``P >= numba.get_num_threads()``): ``d + 1`` steps per sweep
        over the rows (``d = 0``: one sweep per step), each intermediate step in a window of
        ``s`` chunks; row ``d`` is an accumulator.  Rows ``(d + 2) * chunk`` of ``diagonals``
        plus the windows should fit in L2.
    mirror : bool
        ``L``'s storage is symmetric bit for bit (:func:`dia_mirrored`): the lower diagonals
        are read from the upper ones (the same values, less memory traffic).  False: any ``L``.
    """
    n = x.shape[0]
    if steps <= 0:
        for i in range(n):
            out[i] = x[i]
        return
    nd = offsets.shape[0]
    reach = max(abs(offsets[0]), abs(offsets[nd - 1]))
    depth = windows.shape[1]
    width = windows.shape[2]
    band_rows = (n + bands - 1) // bands
    npass = (steps + depth - 1) // depth
    if npass % 2 == 1:  # ping-pong so that the last sweep lands in out
        current = out
        spare = work
    else:
        current = work
        spare = out
    src = x
    done = 0
    for _ in range(npass):
        s = min(depth, steps - done)
        for b in prange(bands):
            win = windows[get_thread_id()]
            keep_lo = min(n, b * band_rows)
            keep_hi = min(n, keep_lo + band_rows)
            if keep_lo < keep_hi and s == 1:
                for start in range(keep_lo, keep_hi, width):
                    _dia_rows(offsets, diagonals, src, 0, True, alpha, start,
                              min(keep_hi, start + width), current, 0, win[depth - 1], 0, n, mirror)
            elif keep_lo < keep_hi:
                _dia_heat_sweep(offsets, diagonals, src, alpha, s, current, win, chunk,
                                max(0, keep_lo - s * reach), min(n, keep_hi + s * reach),
                                keep_lo, keep_hi, mirror)
        done += s
        src = current
        current, spare = spare, current


@jit
def dia_matvec(offsets, diagonals, x, out, acc):
    """``out = L @ x`` for ``L`` in diagonal storage (rows summed in ascending column order).

    Parameters
    ----------
    offsets, diagonals : int64 (nd,), float32 or float64 (nd, n)
        ``L`` from :func:`csr_to_diagonals`.
    x : float32 or float64 (n,)
        Input vector.
    out : float32 or float64 (n,), caller-allocated
        Receives ``L @ x`` (sums run in float64 when ``acc`` is float64); must not alias ``x``.
    acc : float64 (b,), caller-allocated scratch, ``b >= 1``
        Rows go in blocks of ``b`` (a few thousand keeps the block in cache).
    """
    n = x.shape[0]
    width = acc.shape[0]
    for start in range(0, n, width):
        _dia_rows(offsets, diagonals, x, 0, False, 0.0, start, min(n, start + width), out, 0, acc,
                  0, n, False)


@jit
def forward_gradient(f, gy, gx):
    """Forward-difference gradient with zeros on the last row/column.

    ``gy[y, x] = f[y+1, x] - f[y, x]`` (0 on the last row),
    ``gx[y, x] = f[y, x+1] - f[y, x]`` (0 on the last column)
    (``original-system.md`` §0.2).

    Parameters
    ----------
    f : float64 (H, W)
        Field.
    gy, gx : float64 (H, W), caller-allocated
        Receive the y and x differences.
    """
    height = f.shape[0]
    width = f.shape[1]
    for y in range(height):
        for x in range(width):
            value = f[y, x]
            gy[y, x] = f[y + 1, x] - value if y + 1 < height else 0.0
            gx[y, x] = f[y, x + 1] - value if x + 1 < width else 0.0


_TWO_POW_600 = 2.0**600
_TWO_POW_M600 = 2.0**-600


@jit
def unit_vectors(gy, gx, eps, uy, ux):
    """Normalise a 2-vector field: ``(uy, ux) = (gy, gx) / max(sqrt(gy^2 + gx^2), eps)``.

    Evaluated as ``(gy, gx) * (1 / max(...))``: within 1 ulp of a division.  Lengths
    outside ``(1e-150, 1e150)``, where the squares can under- or overflow, are recomputed
    from the components scaled by ``2**600`` or ``2**-600`` (exact).

    Parameters
    ----------
    gy, gx : float64 (n,)
        Components (flatten images first).
    eps : float
        Smallest divisor (``> 0``); vectors shorter than ``eps`` shrink
        instead of being blown up (zero stays zero).
    uy, ux : float64 (n,), caller-allocated
        Receive the normalised components; may alias ``gy``/``gx``.
    """
    n = gy.shape[0]
    extreme = 0  # lengths whose squares may have under- or overflowed (a vectorised count)
    for i in range(n):
        vy = gy[i]
        vx = gx[i]
        sq = vy * vy + vx * vx
        extreme += (sq > 1e300) | ((sq < 1e-300) & ((vy != 0.0) | (vx != 0.0)))
    if extreme == 0:  # the usual case: one branch-free (vectorised) pass
        for i in range(n):
            vy = gy[i]
            vx = gx[i]
            norm = np.sqrt(vy * vy + vx * vx)
            if norm < eps:
                norm = eps
            inverse = 1.0 / norm  # one explicit reciprocal (what fast-math "arcp" would do anyway)
            uy[i] = vy * inverse
            ux[i] = vx * inverse
        return
    for i in range(n):
        vy = gy[i]
        vx = gx[i]
        norm = np.sqrt(vy * vy + vx * vx)
        if not (1e-150 < norm < 1e150) and (vy != 0.0 or vx != 0.0):
            # the squares may have under- or overflowed: rescale by an exact power of two
            f = _TWO_POW_600 if norm <= 1e-150 else _TWO_POW_M600
            sy = vy * f
            sx = vx * f
            scaled = np.sqrt(sy * sy + sx * sx)  # = |v| f, finite and > 0
            if scaled >= eps * f:
                inverse = 1.0 / scaled
                uy[i] = sy * inverse
                ux[i] = sx * inverse
                continue
        if norm < eps:
            norm = eps
        inverse = 1.0 / norm
        uy[i] = vy * inverse
        ux[i] = vx * inverse
