"""The Euclidean feature transform of a stroke mask (the line weight's colours, the shadows' edge):
SciPy's ``distance_transform_edt(..., return_indices=True)`` against
:func:`fastshade.pipeline.distance.nearest_background`.

Measure (one thread; set ``NUMBA_NUM_THREADS=2`` for the parallel twins from 1 Mpx on)::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
    PYTHONPATH=. python -m pytest bench/bench_distance.py --benchmark-enable -q -p no:cacheprovider

The mask is the demo drawing's strokes (``carrier_of(demo_image) > 0.5``) negated, as the line
weight passes ``~core``; both give the same indices (asserted).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy import ndimage as ndi

from fastshade.demo import demo_image
from fastshade.pipeline.distance import nearest_background
from fastshade.pipeline.gates import carrier_of

SIZES = (512, 1024, 2048)


@cache
def _mask(size: int) -> np.ndarray:
    return ~(carrier_of(demo_image(size, size)) > 0.5)


def _scipy(mask: np.ndarray) -> np.ndarray:
    return ndi.distance_transform_edt(mask, return_distances=False, return_indices=True)


IMPLS = {"scipy": _scipy, "kernels": nearest_background}


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("size", SIZES, ids=[f"{s}px" for s in SIZES])
def test_feature_transform(benchmark, size, impl):
    mask = _mask(size)
    fn = IMPLS[impl]
    expected = fn(mask)  # warm-up: compile or cache load, page faults
    result = benchmark(fn, mask)
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(result, _scipy(mask))
