"""The original's 50-step Lanczos basis (``fastshade.spectral.krylov.krylov_basis``), float32 vs float64.

Measure (one thread)::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
    PYTHONPATH=. python -m pytest bench/bench_krylov.py --benchmark-enable -q -p no:cacheprovider

Input: the 4-connected, tau = 0.1 Laplacian of a synthetic line-art carrier
(thin dark closed curves on white, ~5 % ink, like the real drawings), built
outside the timed region.  ``k = 8``, 50 steps, seed 42 (the v12 setting).
Cost model: 50 sparse mat-vecs plus two BLAS ``gemv`` per step over the
growing ``(t + 1, n)`` Lanczos basis (memory bound, ~2.6 GB of traffic at 512²).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import ndimage

from fastshade.reference import laplacian_coo
from fastshade.spectral.krylov import krylov_basis

SIZES = (256, 512, 1024)
DTYPES = {"f32": np.float32, "f64": np.float64}  # f64 only up to 512 px (CI time)


@cache
def _laplacian(size: int) -> sp.csr_matrix:
    rng = np.random.default_rng(size)
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 40.0, mode="wrap")
    carrier = np.where(np.abs(field / field.std()) < 0.06, 0.0, 1.0)
    return laplacian_coo(carrier, connectivity=4, tau=0.1)


CASES = [(size, dtype) for size in SIZES for dtype in DTYPES if not (size > 512 and dtype == "f64")]


@pytest.mark.parametrize(("size", "dtype"), CASES, ids=[f"{s}px-{d}" for s, d in CASES])
def test_krylov_basis(benchmark, size, dtype):
    L = _laplacian(size)
    vectors, values = krylov_basis(L, 8, dtype=DTYPES[dtype])  # warm-up (BLAS, page faults)
    result = benchmark(krylov_basis, L, 8, dtype=DTYPES[dtype])
    assert result[0].shape == (size * size, 8)
    assert result[0].tobytes() == vectors.tobytes()
    assert np.all(result[1] > 0)
