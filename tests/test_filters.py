"""The split separable filters (fastshade.pipeline.filters) against SciPy's, bit for bit."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import ndimage as ndi

from fastshade import threads
from fastshade.pipeline import filters

pytestmark = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba has one thread here")


@pytest.fixture
def split_in_two():
    """Every image is split in two parts (any size), on two threads."""
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        with threads.parallel_from(0):
            yield
    finally:
        numba.set_num_threads(previous)


SHAPES = [(1, 1), (1, 9), (9, 1), (2, 2), (37, 53), (128, 7)]


def images(shape):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    yield rng.standard_normal(shape)
    yield (rng.random(shape) < 0.2).astype(np.float64)  # stroke masks, as the line weight blurs
    yield np.zeros(shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("sigma", [0.0, 0.7, 1.5, 3.0, 12.0])
@pytest.mark.parametrize("mode", ["constant", "nearest", "reflect"])
def test_gaussian_filter_is_scipys_bit_for_bit(split_in_two, shape, sigma, mode):
    assert threads.image_parts(4) == 2
    for image in images(shape):
        before = image.copy()
        out = filters.gaussian_filter(image, sigma, mode=mode)
        np.testing.assert_array_equal(out, ndi.gaussian_filter(image, sigma, mode=mode))
        np.testing.assert_array_equal(image, before)  # the input is left alone
        assert out is not image and out.dtype == np.float64


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("mode", ["nearest", "constant", "wrap"])
def test_correlate1d_is_scipys_bit_for_bit(split_in_two, shape, axis, mode):
    weights = np.array([-0.5, 0.0, 0.5])
    for image in images(shape):
        np.testing.assert_array_equal(filters.correlate1d(image, weights, axis, mode),
                                      ndi.correlate1d(image, weights, axis=axis, mode=mode))


def test_run_slabs_cuts_across_the_filtered_axis_and_raises_a_part_error(split_in_two):
    image = np.arange(35.0).reshape(5, 7)
    seen = []
    threads.run_slabs(image, image.copy(), 0, 3, lambda src, dst: seen.append(src.shape))
    assert sorted(seen) == [(5, 2), (5, 2), (5, 3)]  # whole columns: lines along axis 0
    seen.clear()
    threads.run_slabs(np.zeros((4, 3, 2)), np.zeros((4, 3, 2)), 1, 2, lambda src, dst: seen.append(src.shape))
    assert sorted(seen) == [(2, 3, 2), (2, 3, 2)]  # whole rows (with their channels)

    def fail(src, dst):
        raise RuntimeError("part failed")

    with pytest.raises(RuntimeError, match="part failed"):
        threads.run_slabs(image, image.copy(), 1, 2, fail)


def test_small_images_stay_on_one_thread():
    assert threads.image_parts(threads.PARALLEL_MIN_ROWS - 1) == 1


@pytest.mark.parametrize("shape", [(), (5,), (4, 5, 3)])
def test_other_ranks_are_scipys_whole(split_in_two, shape):
    image = np.random.default_rng(1).standard_normal(shape)
    np.testing.assert_array_equal(filters.gaussian_filter(image, 1.5), ndi.gaussian_filter(image, 1.5,
                                                                                             mode="constant"))
