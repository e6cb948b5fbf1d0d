"""Connected-component labelling: our kernel vs ``scipy.ndimage.label``; stats + index cost.

Measure (one thread)::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
    PYTHONPATH=. python -m pytest bench/bench_components.py --benchmark-enable -q -p no:cacheprovider

Masks: ``lineart`` (thin closed curves, ~5 % ink, like a contour mask) and
uniform random masks of density 0.1 / 0.5 / 0.9.  Both implementations
allocate their output, as in real use.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy import ndimage

from fastshade.kernels.components import component_pixel_index, component_stats, label_buffer_size, label_mask
from fastshade.pipeline.components import label_components
from fastshade.reference import label_mask_scipy

SIZES = (256, 512, 1024)
KINDS = ("lineart", "random0.1", "random0.5", "random0.9")


@cache
def _mask(kind: str, size: int) -> np.ndarray:
    rng = np.random.default_rng(size)
    if kind == "lineart":
        f = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 40.0, mode="wrap")
        mask = np.abs(f / f.std()) < 0.06
    else:
        mask = rng.random((size, size)) < float(kind.removeprefix("random"))
    return mask


def _label_kernel(mask_u8: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    height, width = mask_u8.shape
    labels = np.empty((height, width), dtype=np.int32)
    parent = np.empty(label_buffer_size(height, width), dtype=np.int32)
    return labels, label_mask(mask_u8, connectivity, labels, parent)


def _stats_and_index(labels: np.ndarray, n: int) -> np.ndarray:
    width = labels.shape[1]
    sizes = np.empty(n, np.int64)
    component_stats(labels, sizes, np.empty((n, 4), np.int64), np.empty((n, 2)), np.empty((n, 2, 2)),
                    np.empty((n, 6), np.int64), np.empty(width + 1, np.int64))
    pixels = np.empty(int(sizes.sum()), np.int64)
    component_pixel_index(labels, sizes, np.empty(n + 1, np.int64), pixels, np.empty(n, np.int64))
    return pixels


@pytest.mark.parametrize("implementation", ["kernel", "ndimage"])
@pytest.mark.parametrize("connectivity", [8, 4], ids=["8conn", "4conn"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", SIZES, ids=[f"{s}px" for s in SIZES])
def test_label(benchmark, size, kind, connectivity, implementation):
    mask = _mask(kind, size)
    if implementation == "kernel":
        args = (np.ascontiguousarray(mask).view(np.uint8).copy(), connectivity)
        func = _label_kernel
    else:
        args = (mask, connectivity)
        func = label_mask_scipy
    func(*args)  # warm-up: compile / load the Numba cache outside the timing
    benchmark.extra_info.update(size=size, kind=kind, connectivity=connectivity, implementation=implementation)
    labels, n = benchmark(func, *args)
    assert n == label_mask_scipy(mask, connectivity)[1]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", SIZES, ids=[f"{s}px" for s in SIZES])
def test_stats_and_index(benchmark, size, kind):
    """The statistics pass plus the CSR pixel index on top of a labelling."""
    mask = _mask(kind, size)
    labels, n = _label_kernel(np.ascontiguousarray(mask).view(np.uint8).copy(), 8)
    _stats_and_index(labels, n)  # warm-up
    benchmark.extra_info.update(size=size, kind=kind, n=int(n))
    pixels = benchmark(_stats_and_index, labels, n)
    assert pixels.size == int(mask.sum())


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}px" for s in SIZES])
def test_label_components_wrapper(benchmark, size):
    """Everything the shader calls: validation, labels, stats, min_size=10 filter, index."""
    mask = _mask("lineart", size)
    label_components(mask, connectivity=8, min_size=10)  # warm-up
    comps = benchmark(label_components, mask, connectivity=8, min_size=10)
    assert (comps.sizes >= 10).all()
