"""Heat diffusion ``(I - 0.1 L)^T x`` (the gating field's 150 steps): CSR vs blocked diagonal storage.

Measure (one thread)::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
    PYTHONPATH=. python -m pytest bench/bench_fields.py --benchmark-enable -q -p no:cacheprovider

Implementations, same Laplacian and start vector, built outside the timed region:

* ``scipy``: ``x <- x - 0.1 * (L @ x)`` with SciPy's CSR product (:func:`fastshade.reference.heat_diffusion_scipy`);
* ``csr``: :func:`fastshade.kernels.fields.heat_diffusion_csr`, one sweep over the rows per step;
* ``dia``: :func:`fastshade.pipeline.graph.heat_diffusion`, diagonal storage with wavefront cache
  blocking (the shader's path; the conversion to diagonal storage is timed too).

``csr`` and ``dia`` give the same bits (asserted); ``scipy`` differs by FMA rounding only.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp

from fastshade.demo import demo_image
from fastshade.kernels import fields as kf
from fastshade.pipeline.gates import carrier_of
from fastshade.pipeline.graph import heat_diffusion, image_laplacian
from fastshade.reference import heat_diffusion_scipy

SIZES = (256, 512, 1024)
STEPS = 150


@cache
def _case(size: int) -> tuple[sp.csr_matrix, np.ndarray]:
    L = image_laplacian(carrier_of(demo_image(size, size)))
    return L, np.random.default_rng(42).standard_normal(L.shape[0])


def _scipy(L: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    return heat_diffusion_scipy(L, x, alpha=0.1, steps=STEPS)


def _csr(L: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    out, work = np.empty_like(x), np.empty_like(x)
    kf.heat_diffusion_csr(L.indptr, L.indices, L.data, x, 0.1, STEPS, out, work)
    return out


def _dia(L: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    return heat_diffusion(L, x, alpha=0.1, steps=STEPS)


IMPLS = {"scipy": _scipy, "csr": _csr, "dia": _dia}


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("size", SIZES, ids=[f"{s}px" for s in SIZES])
def test_heat_field(benchmark, size, impl):
    if impl == "scipy" and size > 512:
        pytest.skip("the plain SciPy loop is only run up to 512 px (CI time)")
    L, x = _case(size)
    fn = IMPLS[impl]
    expected = fn(L, x)  # warm-up: compile or cache load, page faults
    result = benchmark(fn, L, x)
    np.testing.assert_array_equal(result, expected)
    if impl == "dia":
        np.testing.assert_array_equal(result, _csr(L, x))  # bitwise the CSR steps
    else:
        np.testing.assert_allclose(result, _csr(L, x), rtol=1e-10, atol=1e-12)
