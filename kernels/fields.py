"""Field kernels: CSR mat-vec, explicit heat diffusion, forward gradient, unit vectors.

Raw kernels (``original-system.md`` §0.2, §2.4, §3.3): module-level ``@jit``
functions, raw arrays and CSR pieces in, **caller-allocated outputs**, no
validation, no raising.  Validated, allocating wrappers:
:func:`fastshade.graph.heat_diffusion`, :func:`fastshade.graph.forward_gradient`,
:func:`fastshade.graph.unit_vectors`.

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

from kernels._jit import jit

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


@jit
def unit_vectors(gy, gx, eps, uy, ux):
    """Normalise a 2-vector field: ``(uy, ux) = (gy, gx) / max(sqrt(gy^2 + gx^2), eps)``.

    Evaluated as ``(gy, gx) * (1 / max(...))``: within 1 ulp of a division.

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
    for i in range(gy.shape[0]):
        vy = gy[i]
        vx = gx[i]
        norm = np.sqrt(vy * vy + vx * vx)
        if norm < eps:
            norm = eps
        inverse = 1.0 / norm  # one explicit reciprocal (what fast-math "arcp" would do anyway)
        uy[i] = vy * inverse
        ux[i] = vx * inverse
