"""The Euclidean feature and distance transforms (fastshade.pipeline.distance and its kernels)
against ``scipy.ndimage.distance_transform_edt``, bit for bit: fixed, random and edge-case masks,
the serial kernels and their parallel twins."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import ndimage as ndi

from fastshade import threads
from fastshade.kernels import distance as kernels
from fastshade.pipeline.distance import background_distance, kernels_for_any_size, nearest_background


def scipy_indices(mask):
    return ndi.distance_transform_edt(mask, return_distances=False, return_indices=True)


def fixed_masks():
    yield np.ones((1, 1), dtype=bool)  # no background at all: SciPy's -1 and 0
    yield np.zeros((1, 1), dtype=bool)
    yield np.ones((4, 7), dtype=bool)
    yield np.zeros((3, 5), dtype=bool)
    one = np.ones((9, 9), dtype=bool)
    one[4, 4] = False  # one site: every pixel points at it
    yield one
    ties = np.ones((7, 7), dtype=bool)
    ties[0, 0] = ties[0, 6] = ties[6, 0] = ties[6, 6] = False  # the centre is as far from all four
    yield ties
    column = np.ones((8, 5), dtype=bool)
    column[1, 2] = column[5, 2] = False  # row 3 lies halfway: the upper site wins
    yield column
    row = np.ones((5, 8), dtype=bool)
    row[2, 1] = row[2, 5] = False  # column 3 lies halfway along the row
    yield row
    yield np.eye(6, dtype=bool)
    yield ~np.eye(5, 9, k=2, dtype=bool)
    line = np.ones((1, 12), dtype=bool)
    line[0, [0, 7]] = False
    yield line
    yield line.T.copy()
    stripe = np.ones((6, 300), dtype=bool)  # one column without background (-1 after the first pass)
    stripe[:, :150] = np.eye(6, 150, dtype=bool) == 0
    yield stripe


def random_masks(seed, count, max_side):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        h, w = (int(v) for v in rng.integers(1, max_side, 2))
        density = rng.choice([0.001, 0.02, 0.2, 0.5, 0.9, 0.999])
        yield rng.random((h, w)) >= density  # True (foreground) but for a ``density`` of sites


def line_art(h, w, seed):
    """Strokes on paper (the masks the line weight and the shadows pass): a few thick lines."""
    rng = np.random.default_rng(seed)
    mask = np.ones((h, w), dtype=bool)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(6):
        y0, x0, y1, x1 = rng.random(4) * [h, w, h, w]
        d = np.abs((y1 - y0) * (xx - x0) - (x1 - x0) * (yy - y0)) / max(np.hypot(y1 - y0, x1 - x0), 1e-9)
        mask &= d > rng.uniform(0.5, 3.0)
    return mask


def kernel_indices(mask, parallel):
    h, w = mask.shape
    near = np.full((h, w), 77, dtype=np.int32)  # (every entry is written)
    first = kernels.nearest_row_in_columns.parallel if parallel else kernels.nearest_row_in_columns
    second = kernels.nearest_in_rows.parallel if parallel else kernels.nearest_in_rows
    first(np.ascontiguousarray(mask), near)
    out = np.full((2, h, w), 77, dtype=np.int32)
    second(near, np.full((numba.get_num_threads() if parallel else 1, w), 5, dtype=np.int64), out[0], out[1])
    return near, out


def test_the_first_pass_is_the_nearest_background_row_of_the_column_upper_on_ties():
    for mask in [*fixed_masks(), *random_masks(1, 60, 14)]:
        near, _ = kernel_indices(mask, parallel=False)
        for x in range(mask.shape[1]):
            sites = np.flatnonzero(~mask[:, x])
            for y in range(mask.shape[0]):
                expected = -1 if sites.size == 0 else sites[np.argmin(np.abs(sites - y))]  # first minimum
                assert near[y, x] == expected


@pytest.mark.parametrize("source", ["fixed", "random", "line art"])
def test_serial_kernels_give_scipys_indices(source):
    masks = {"fixed": lambda: fixed_masks(), "random": lambda: random_masks(2, 300, 20),
             "line art": lambda: (line_art(h, w, h) for h, w in [(31, 47), (64, 300), (120, 90)])}[source]()
    for mask in masks:
        np.testing.assert_array_equal(kernel_indices(mask, parallel=False)[1], scipy_indices(mask))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba has one thread here")
def test_parallel_twins_give_the_same_bytes_on_two_threads():
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        # wider than a column chunk, taller than one row per task: the chunks' seams are crossed
        masks = [*fixed_masks(), *random_masks(3, 40, 40), line_art(70, 3 * kernels.COLUMN_CHUNK + 17, 5),
                 *random_masks(4, 4, 700)]
        for mask in masks:
            np.testing.assert_array_equal(kernel_indices(mask, parallel=True)[1], scipy_indices(mask))
        with threads.parallel_from(0), kernels_for_any_size():  # the library function picks the twins
            mask = line_art(90, 600, 6)
            np.testing.assert_array_equal(nearest_background(mask), scipy_indices(mask))
    finally:
        numba.set_num_threads(previous)


@pytest.fixture(params=[1, 2], ids=["1 thread", "2 threads"])
def on_the_kernels(request):
    """The library functions take the kernels for any size (the serial ones on one thread, the
    parallel twins on two)."""
    if request.param > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("Numba has one thread here")
    previous = numba.get_num_threads()
    numba.set_num_threads(request.param)
    try:
        with threads.parallel_from(0), kernels_for_any_size():
            yield
    finally:
        numba.set_num_threads(previous)


def test_a_small_mask_goes_to_scipy_and_a_big_one_to_the_kernels(monkeypatch):
    def refuse(*args):
        raise AssertionError("a kernel ran")

    mask = line_art(40, 50, 3)
    monkeypatch.setattr(kernels, "nearest_row_in_columns", refuse)
    np.testing.assert_array_equal(nearest_background(mask), scipy_indices(mask))  # SciPy's own call
    with kernels_for_any_size(), pytest.raises(AssertionError, match="a kernel ran"):
        nearest_background(mask)


def test_nearest_background_is_scipys_for_any_truthy_input(on_the_kernels):
    rng = np.random.default_rng(7)
    values = rng.integers(-2, 3, (23, 31))
    for mask in (values, values.astype(np.float64), values != 0, np.asfortranarray(values != 0),
                 (values != 0)[::2, ::3]):
        got = nearest_background(mask)
        assert got.dtype == np.int32 and got.shape == (2, *np.shape(mask))
        np.testing.assert_array_equal(got, scipy_indices(mask))
    nan = np.where(values > 0, np.nan, 0.0)  # NaN is nonzero: foreground, as in SciPy
    np.testing.assert_array_equal(nearest_background(nan), scipy_indices(nan))
    assert nearest_background(np.zeros((0, 4), dtype=bool)).shape == (2, 0, 4)


@pytest.mark.parametrize("mask", [*fixed_masks(), *random_masks(8, 40, 30), line_art(50, 80, 9)],
                         ids=lambda m: f"{m.shape[0]}x{m.shape[1]}")
def test_background_distance_is_scipys_bit_for_bit(on_the_kernels, mask):
    got = background_distance(mask)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, ndi.distance_transform_edt(mask))


@pytest.mark.parametrize("bad", [np.zeros(5, dtype=bool), np.zeros((2, 3, 4), dtype=bool), 3])
def test_a_mask_that_is_not_two_dimensional_is_one_value_error(bad):
    with pytest.raises(ValueError, match="mask must be 2-D"):
        nearest_background(bad)
