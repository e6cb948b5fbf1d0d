"""Laplacian assembly and heat diffusion: Numba kernels vs SciPy COO->CSR / SciPy mat-vecs.

Measure (one thread)::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
    PYTHONPATH=. python -m pytest bench/bench_laplacian.py --benchmark-enable -q -p no:cacheprovider

Carrier: the built-in demo line art (mean of RGB), as the shader builds it.
``kernel`` is :func:`fastshade.pipeline.graph.image_laplacian` (validation, allocation,
kernel, ``csr_matrix``); ``scipy-coo`` is :func:`fastshade.reference.laplacian_coo`
(vectorised NumPy edge lists, one ``coo_matrix(...).tocsr()``).  Both return
the same matrix (checked once per case).
"""

from __future__ import annotations

import numpy as np
import pytest

from fastshade.pipeline.graph import heat_diffusion, image_laplacian
from fastshade.reference import heat_diffusion_scipy, laplacian_coo

SIZES = (256, 512, 1024)
IMPLEMENTATIONS = ("kernel", "scipy-coo")


def _build(implementation, carrier, kind="grid", connectivity=4):
    if implementation == "kernel":
        return image_laplacian(carrier, kind=kind, connectivity=connectivity)
    return laplacian_coo(carrier, kind=kind, connectivity=connectivity)


def _check(L, carrier, kind, connectivity):
    """Cheap correctness check: shape, nnz and one row against the other implementation."""
    n = carrier.shape[0] * carrier.shape[1]
    other = image_laplacian(carrier, kind=kind, connectivity=connectivity)
    assert L.shape == (n, n) and L.nnz == other.nnz
    mid = n // 2 + carrier.shape[1] // 2
    np.testing.assert_allclose(L[mid].toarray(), other[mid].toarray(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("size", SIZES, ids=[f"{s}px" for s in SIZES])
def test_laplacian_grid4(benchmark, demo_rgb, warm, size, implementation):
    """The default operator: 4-connected, tau 0.1, float64."""
    carrier = demo_rgb(size, size).mean(axis=2)
    warm(_build, implementation, carrier)
    benchmark.extra_info.update(size=size, implementation=implementation, kind="grid4")
    L = benchmark(_build, implementation, carrier)
    _check(L, carrier, "grid", 4)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("kind", "connectivity"), [("grid", 8), ("dither", 4)], ids=["grid8", "dither"]
)
def test_laplacian_variants_256(benchmark, demo_rgb, warm, kind, connectivity, implementation):
    """8-connected and the multi-radius dither operator (56 offsets) at 256 px."""
    carrier = demo_rgb(256, 256).mean(axis=2)
    warm(_build, implementation, carrier, kind, connectivity)
    benchmark.extra_info.update(size=256, implementation=implementation, kind=kind)
    L = benchmark(_build, implementation, carrier, kind, connectivity)
    _check(L, carrier, kind, connectivity)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_heat_diffusion_512(benchmark, demo_rgb, warm, implementation):
    """30 explicit Euler steps, alpha 0.1, on the 512 px contour-like mask."""
    carrier = demo_rgb(512, 512).mean(axis=2)
    L = image_laplacian(carrier)
    x = (carrier < 0.5).ravel().astype(np.float64)
    if implementation == "kernel":
        func = heat_diffusion
    else:
        func = heat_diffusion_scipy
    warm(func, L, x, alpha=0.1, steps=30)
    benchmark.extra_info.update(size=512, implementation=implementation, steps=30)
    result = benchmark(func, L, x, alpha=0.1, steps=30)
    np.testing.assert_allclose(result, heat_diffusion_scipy(L, x, 0.1, 30), rtol=1e-12, atol=1e-14)
