"""Plain, obviously-correct NumPy references for :mod:`fastshade.spectral.krylov` tests.

Slow on purpose: Python loops over pixels and over Lanczos vectors, float64
unless told otherwise, no BLAS tricks.  ``original-system.md`` §1.1 and §2.1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def grid_laplacian_ref(carrier: np.ndarray, tau: float = 0.1, connectivity: int = 4) -> sp.csr_matrix:
    """``L = D - W`` of the pixel grid with ``w_ij = exp(-|c_i - c_j| / tau)`` (float64 CSR)."""
    c = np.asarray(carrier, dtype=np.float64)
    H, W = c.shape
    n = H * W
    offsets = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if connectivity == 8 else [])
    A = np.zeros((n, n))
    for y in range(H):
        for x in range(W):
            for dy, dx in offsets:
                yy, xx = y + dy, x + dx
                if 0 <= yy < H and 0 <= xx < W:
                    w = np.exp(-abs(c[y, x] - c[yy, xx]) / tau)
                    A[y * W + x, yy * W + xx] = w
                    A[yy * W + xx, y * W + x] = w
    return sp.csr_matrix(np.diag(A.sum(axis=1)) - A)


def krylov_basis_ref(
    L, k: int = 8, steps: int = 50, seed: int = 42, dtype=np.float64, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray]:
    """Reference of ``krylov_basis``: same algorithm, written out step by step.

    Returns (vectors (n, k) float64, values (k,) float64), zero-padded.
    """
    dt = np.dtype(dtype)
    Ld = (L.toarray() if sp.issparse(L) else np.asarray(L)).astype(dt)
    n = Ld.shape[0]
    vectors = np.zeros((n, k))
    values = np.zeros(k)
    m = min(steps, n - 1)
    if m < 2:
        return vectors, values

    v = np.random.default_rng(seed).standard_normal(n).astype(dt)
    v = v - v.mean(dtype=dt)
    if not np.linalg.norm(v) >= tol:
        v = np.array([1.0 if i % 2 == 0 else -1.0 for i in range(n)], dtype=dt)
        v = v - v.mean(dtype=dt)
    v = v / np.linalg.norm(v)

    V = [v]
    alphas: list[float] = []
    betas: list[float] = []
    for t in range(m):
        w = Ld @ V[t]
        a = V[t] @ w
        w = w - a * V[t]
        if t > 0:
            w = w - betas[t - 1] * V[t - 1]
            # classical Gram-Schmidt: every coefficient from the same w
            coeffs = [V[j] @ w for j in range(t + 1)]
            for j in range(t + 1):
                w = w - coeffs[j] * V[j]
        w = w - w.mean(dtype=dt)
        b = np.linalg.norm(w)
        alphas.append(a)
        betas.append(b)
        if not b >= tol:
            break
        V.append(w / b)

    s = len(alphas)
    if s < 2:
        return vectors, values
    T = np.zeros((s, s), dtype=dt)
    for i in range(s):
        T[i, i] = alphas[i]
        if i + 1 < s:
            T[i, i + 1] = T[i + 1, i] = betas[i]
    theta, Y = np.linalg.eigh(T)
    keep = [i for i in range(s) if theta[i] > 1e-6][:k]
    Vm = np.array(V[:s]).T  # (n, s)
    for col, i in enumerate(keep):
        vectors[:, col] = Vm @ Y[:, i]
        values[col] = theta[i]
    return vectors, values
