"""Connected components (kernels + wrapper) against the scipy.ndimage reference.

Labels must be *identical* to ``scipy.ndimage.label`` (same partition and same
numbering: raster order of each component's first pixel), for 4- and
8-connectivity; statistics must match the two-pass NumPy reference.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastshade.kernels import components as kc
from fastshade.pipeline.components import Components, label_components
from fastshade.reference import (
    component_pixel_index_numpy,
    component_stats_numpy,
    drop_small_components,
    label_components_scipy,
    label_mask_scipy,
)
from tests.conftest import SHARED_IMAGES

CONNECTIVITIES = (4, 8)


# --------------------------------------------------------------------------- helpers


def assert_matches_reference(mask, connectivity, min_size=1, comps=None):
    """Full comparison of label_components with the reference; returns the result."""
    if comps is None:
        comps = label_components(mask, connectivity=connectivity, min_size=min_size)
    ref = label_components_scipy(mask, connectivity=connectivity, min_size=min_size)
    assert comps.labels.dtype == np.int32 and comps.labels.shape == np.shape(mask)
    np.testing.assert_array_equal(comps.labels, ref.labels)
    assert comps.n == ref.n and isinstance(comps.n, int)
    for name in ("sizes", "bbox", "indptr", "pixels"):
        got = getattr(comps, name)
        assert got.dtype == np.int64, name
        np.testing.assert_array_equal(got, getattr(ref, name), err_msg=name)
    assert comps.centroids.shape == (comps.n, 2) and comps.covariances.shape == (comps.n, 2, 2)
    np.testing.assert_allclose(comps.centroids, ref.centroids, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(comps.covariances, ref.covariances, rtol=1e-10, atol=1e-9)
    return comps


def raw_label(mask, connectivity):
    """Call the raw labelling kernel with exactly-sized buffers."""
    mask = np.ascontiguousarray(mask != 0).view(np.uint8)
    labels = np.full(mask.shape, -5, dtype=np.int32)  # garbage: must be fully overwritten
    parent = np.empty(kc.label_buffer_size(*mask.shape), dtype=np.int32)
    n = kc.label_mask(mask, connectivity, labels, parent)
    return labels, n


def random_mask(rng, shape, density):
    return rng.random(shape) < density


def line_art_mask(size, seed=0):
    """Thin closed curves (level set of a smooth random field): line-art-like."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    f = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 40.0, mode="wrap")
    return np.abs(f / f.std()) < 0.06


def spiral(n):
    """Square spiral of 1-px ink with 1-px gaps (one long component)."""
    m = np.zeros((n, n), dtype=bool)
    top, left, bottom, right = 0, 0, n - 1, n - 1
    while top <= bottom and left <= right:
        m[top, left:right + 1] = True
        m[top:bottom + 1, right] = True
        if bottom - top >= 2:
            m[bottom, left:right + 1] = True
        if right - left >= 2 and bottom - top >= 4:
            m[top + 2:bottom + 1, left] = True
            m[top + 2, left:left + 3] = True
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
    return m


def fixed_masks():
    checker = (np.indices((9, 11)).sum(axis=0) % 2 == 0)
    eye = np.eye(9, dtype=bool) | np.fliplr(np.eye(9, dtype=bool))
    comb = np.zeros((12, 21), dtype=bool)
    comb[:, ::2] = True
    comb[-1] = True  # teeth merge only on the last row
    nested_u = np.zeros((10, 13), dtype=bool)
    nested_u[:, 0] = nested_u[:, -1] = nested_u[-1] = True
    nested_u[2:8, 3] = nested_u[2:8, -4] = nested_u[7, 3:-3] = True
    # right prong starts higher than the left: numbering follows the right prong's pixel
    late_left = np.zeros((8, 9), dtype=bool)
    late_left[0:7, 7] = True
    late_left[3:7, 1] = True
    late_left[6, 1:8] = True
    late_left[1, 3] = True  # a lone pixel between them, numbered in raster order
    # staircase going down-left: every step is an 8-connected (c) union, 4-separate
    stair = np.zeros((8, 8), dtype=bool)
    stair[np.arange(8), 7 - np.arange(8)] = True
    stair[7, :] = True
    zigzag = np.zeros((9, 15), dtype=bool)
    for i in range(0, 15, 4):
        zigzag[:8, i] = True
        zigzag[8 if (i // 4) % 2 == 0 else 0, i:i + 5] = True
    singles = np.zeros((9, 9), dtype=bool)
    singles[::2, ::2] = True
    return {
        "checkerboard": checker,
        "diagonals": eye,
        "spiral": spiral(23),
        "comb": comb,
        "nested_u": nested_u,
        "late_left": late_left,
        "stair": stair,
        "zigzag": zigzag,
        "single_pixels": singles,
        "full": np.ones((7, 5), dtype=bool),
        "empty": np.zeros((6, 4), dtype=bool),
        "w_shape_big": line_art_mask(96, seed=3),
    }


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 0.6, 0.9])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_masks_identical_to_ndimage(seed, density, connectivity):
    rng = np.random.default_rng(1000 * seed + int(100 * density))
    shape = tuple(rng.integers(20, 90, size=2))
    mask = random_mask(rng, shape, density)
    labels, n = raw_label(mask, connectivity)
    ref, ref_n = label_mask_scipy(mask, connectivity)
    assert n == ref_n
    np.testing.assert_array_equal(labels, ref)
    assert_matches_reference(mask, connectivity)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("name", ["random", *fixed_masks()])
def test_one_connectivity_kernels_identical_to_ndimage(name, connectivity):
    """``label_mask_4`` / ``label_mask_8`` (what the library calls) against scipy.ndimage.label."""
    mask = random_mask(np.random.default_rng(7), (61, 47), 0.45) if name == "random" else fixed_masks()[name]
    mask_u8 = np.ascontiguousarray(mask != 0).view(np.uint8)
    labels = np.full(mask_u8.shape, -5, dtype=np.int32)
    parent = np.empty(kc.label_buffer_size(*mask_u8.shape), dtype=np.int32)
    kernel = kc.label_mask_4 if connectivity == 4 else kc.label_mask_8
    n = kernel(mask_u8, labels, parent)
    ref, ref_n = label_mask_scipy(mask, connectivity)
    assert n == ref_n
    np.testing.assert_array_equal(labels, ref)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("name", list(fixed_masks()))
def test_fixed_masks(name, connectivity):
    assert_matches_reference(fixed_masks()[name], connectivity)


def test_fixed_mask_counts():
    m = fixed_masks()
    checker = m["checkerboard"]
    assert label_components(checker, connectivity=8).n == 1
    assert label_components(checker, connectivity=4).n == int(checker.sum())
    assert label_components(m["diagonals"], connectivity=8).n == 1
    assert label_components(m["diagonals"], connectivity=4).n == 17
    assert label_components(m["spiral"], connectivity=4).n == 1
    assert label_components(m["comb"], connectivity=4).n == 1
    assert label_components(m["nested_u"], connectivity=8).n == 2
    late = label_components(m["late_left"], connectivity=8)
    assert late.n == 2 and late.labels[0, 7] == 1 and late.labels[1, 3] == 2 and late.labels[6, 1] == 1
    assert label_components(m["stair"], connectivity=8).n == 1
    assert label_components(m["stair"], connectivity=4).n == 7
    assert label_components(m["single_pixels"], connectivity=8).n == 25
    assert label_components(m["full"]).n == 1 and label_components(m["full"]).sizes.tolist() == [35]
    empty = label_components(m["empty"])
    assert empty.n == 0 and not empty.labels.any() and empty.pixels.size == 0 and empty.indptr.tolist() == [0]


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (5, 0), (1, 1), (1, 37), (37, 1), (2, 1), (1, 2), (3, 3)])
def test_edge_shapes(shape, connectivity):
    rng = np.random.default_rng(sum(shape))
    for mask in (np.zeros(shape, bool), np.ones(shape, bool), random_mask(rng, shape, 0.5)):
        comps = assert_matches_reference(mask, connectivity)
        assert comps.labels.shape == shape
    one = label_components(np.ones((1, 1), dtype=bool), connectivity=connectivity)
    assert one.n == 1 and one.bbox.tolist() == [[0, 0, 1, 1]] and one.covariances.tolist() == [[[0, 0], [0, 0]]]
    alternating = np.arange(37) % 2 == 0
    assert label_components(alternating[None, :], connectivity=connectivity).n == 19
    assert label_components(alternating[:, None], connectivity=connectivity).n == 19


@settings(deadline=None, max_examples=60)
@given(
    height=st.integers(0, 40),
    width=st.integers(0, 40),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
    connectivity=st.sampled_from(CONNECTIVITIES),
    min_size=st.integers(0, 6),
)
def test_hypothesis_random_shapes(height, width, density, seed, connectivity, min_size):
    mask = random_mask(np.random.default_rng(seed), (height, width), density)
    assert_matches_reference(mask, connectivity, min_size)


# --------------------------------------------------------------------------- real images


def _shared_pngs():
    return sorted(SHARED_IMAGES.glob("*.png")) if SHARED_IMAGES.is_dir() else []


def _image_masks(path):
    import imageio.v3 as iio

    carrier = iio.imread(path, mode="RGB").astype(np.float64).mean(axis=2) / 255.0
    contours = np.abs(carrier - carrier.mean()) > 0.5 * carrier.std(ddof=1)
    return {"ink": carrier < 0.5, "contours": contours}


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_every_shared_image_identical_to_ndimage(connectivity):
    paths = _shared_pngs()
    if not paths:
        pytest.skip(f"{SHARED_IMAGES} has no PNGs (the ../shared/images test images are optional)")
    for path in paths:
        for kind, mask in _image_masks(path).items():
            comps = label_components(mask, connectivity=connectivity)
            try:
                assert_matches_reference(mask, connectivity, comps=comps)
                assert_matches_reference(mask, connectivity, min_size=10)
            except AssertionError as exc:  # say which image failed
                raise AssertionError(f"{path.name} / {kind} / {connectivity}-conn: {exc}") from exc


@pytest.mark.parametrize(("name", "n8", "n4"), [("toof.png", 1, 258), ("snek-heavy.png", 5, 607)])
def test_known_contour_component_counts(name, n8, n4):
    """original-system.md §6.5: contour components, 8- vs 4-connected."""
    path = SHARED_IMAGES / name
    if not path.is_file():
        pytest.skip(f"{path} not present (the ../shared/images test images are optional)")
    contours = _image_masks(path)["contours"]
    assert label_components(contours, connectivity=8).n == n8
    assert label_components(contours, connectivity=4).n == n4


# --------------------------------------------------------------------------- statistics


def test_stats_are_exact_far_from_the_origin():
    # a 2-px component at the far end of a long row: x var is exactly 0.25
    mask = np.zeros((1, 100_000), dtype=bool)
    mask[0, -2:] = True
    c = label_components(mask)
    assert c.centroids.tolist() == [[0.0, 99_998.5]]
    assert c.covariances.tolist() == [[[0.0, 0.0], [0.0, 0.25]]]
    # a long diagonal tail with a heavy block at its far end (large shift, small spread)
    mask = np.zeros((600, 600), dtype=bool)
    mask[np.arange(600), np.arange(600)] = True
    mask[500:600, 500:600] = True
    c = assert_matches_reference(mask, 8)
    ref = component_stats_numpy(c.labels, c.n)
    np.testing.assert_allclose(c.covariances, ref[3], rtol=1e-13)
    assert abs(c.covariances[0, 0, 1] - c.covariances[0, 1, 0]) == 0.0


def test_stats_kernel_direct_and_absent_label():
    rng = np.random.default_rng(7)
    labels, n = raw_label(random_mask(rng, (40, 50), 0.4), 8)
    sizes = np.full(n + 1, -1, dtype=np.int64)  # one extra label that never occurs
    bbox = np.empty((n + 1, 4), np.int64)
    centroids = np.full((n + 1, 2), np.nan)
    covariances = np.full((n + 1, 2, 2), np.nan)
    kc.component_stats(labels, sizes, bbox, centroids, covariances,
                       np.empty((n + 1, 6), np.int64), np.empty(51, np.int64))
    ref = component_stats_numpy(labels, n)
    np.testing.assert_array_equal(sizes[:n], ref[0])
    np.testing.assert_array_equal(bbox[:n], ref[1])
    np.testing.assert_allclose(centroids[:n], ref[2], rtol=1e-12)
    np.testing.assert_allclose(covariances[:n], ref[3], rtol=1e-10, atol=1e-12)
    assert sizes[n] == 0 and not centroids[n].any() and not covariances[n].any()


def test_pixel_index_and_pixels_of():
    rng = np.random.default_rng(3)
    mask = random_mask(rng, (30, 40), 0.45)
    c = label_components(mask)
    indptr, pixels = component_pixel_index_numpy(c.labels, c.n)
    np.testing.assert_array_equal(c.indptr, indptr)
    np.testing.assert_array_equal(c.pixels, pixels)
    for i in (0, c.n // 2, c.n - 1, -1):
        j = i % c.n
        np.testing.assert_array_equal(c.pixels_of(i), np.flatnonzero(c.labels.ravel() == j + 1))
    with pytest.raises(IndexError):
        c.pixels_of(c.n)
    with pytest.raises(IndexError):
        label_components(np.zeros((2, 2), bool)).pixels_of(0)


# --------------------------------------------------------------------------- min_size


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("min_size", [0, 1, 2, 3, 10, 50, 10**9])
def test_min_size_filtering(min_size, connectivity):
    rng = np.random.default_rng(min_size % 97)
    mask = random_mask(rng, (64, 70), 0.45)
    c = assert_matches_reference(mask, connectivity, min_size)
    assert (c.sizes >= min_size).all()
    full = label_components(mask, connectivity=connectivity)
    keep = full.sizes >= min_size
    np.testing.assert_array_equal(c.sizes, full.sizes[keep])
    np.testing.assert_array_equal(c.centroids, full.centroids[keep])
    if min_size == 10**9:
        assert c.n == 0 and not c.labels.any()


def test_filter_kernels_direct():
    rng = np.random.default_rng(11)
    labels, n = raw_label(random_mask(rng, (50, 50), 0.5), 4)
    sizes = component_stats_numpy(labels, n)[0]
    label_map = np.full(n + 1, -3, dtype=np.int32)
    kept = kc.size_filter_map(sizes, 4, label_map)
    ref_labels, ref_kept = drop_small_components(labels, n, 4)
    assert kept == ref_kept and label_map[0] == 0
    kc.apply_label_map(labels, label_map)
    np.testing.assert_array_equal(labels, ref_labels)


# --------------------------------------------------------------------------- buffers, dtypes, errors


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_parent_buffer_bound_is_never_exceeded(connectivity):
    guard = 64
    masks = [
        np.indices((31, 33)).sum(axis=0) % 2 == 0,  # 4-conn worst case: every pixel its own label
        np.indices((1, 33)).sum(axis=0) % 2 == 0,  # 1xN: ceil(W/2) runs
        np.tile([True, False], (9, 16))[:, :31],
        np.ones((5, 5), dtype=bool),
    ]
    grid = np.zeros((31, 31), dtype=bool)
    grid[::2, ::2] = True  # 8-conn worst case
    masks.append(grid)
    for mask in masks:
        mask_u8 = np.ascontiguousarray(mask).view(np.uint8)
        size = kc.label_buffer_size(*mask.shape)
        store = np.full(size + guard, -7, dtype=np.int32)
        labels = np.empty(mask.shape, np.int32)
        n = kc.label_mask(mask_u8, connectivity, labels, store[:size])
        assert (store[size:] == -7).all(), "label_mask wrote past the parent buffer"
        assert n == label_mask_scipy(mask, connectivity)[1]


@pytest.mark.parametrize(
    "convert",
    [
        lambda m: m,
        lambda m: m.astype(np.uint8) * 255,
        lambda m: m.astype(np.int64) * -3,
        lambda m: m.astype(np.int8) * -1,
        lambda m: m.astype(np.uint16) * 256,
        lambda m: np.asfortranarray(m),
        lambda m: np.repeat(np.repeat(m, 2, axis=0), 3, axis=1)[::2, ::3],  # strided view
        lambda m: m.T.copy().T,
    ],
)
def test_mask_dtypes_and_layouts(convert):
    rng = np.random.default_rng(5)
    base = random_mask(rng, (33, 27), 0.5)
    mask = convert(base)
    ro = mask.copy()
    ro.flags.writeable = False
    for m in (mask, ro):
        c = label_components(m, connectivity=4)
        np.testing.assert_array_equal(c.labels, label_mask_scipy(base, 4)[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(mask=np.zeros(5, bool)), "2-D"),
        (dict(mask=np.zeros((2, 2, 3), bool)), "2-D"),
        (dict(mask=np.zeros((3, 3))), "bool or integer"),
        (dict(mask=np.zeros((3, 3), bool), connectivity=6), "connectivity"),
        (dict(mask=np.zeros((3, 3), bool), connectivity=True), "connectivity"),
        (dict(mask=np.zeros((3, 3), bool), min_size=-1), "min_size"),
        (dict(mask=np.zeros((3, 3), bool), min_size=2.5), "min_size"),
        (dict(mask=np.zeros((3, 3), bool), min_size=True), "min_size"),
    ],
)
def test_bad_arguments_raise_one_line_value_error(kwargs, match):
    mask = kwargs.pop("mask")
    with pytest.raises(ValueError, match=match) as info:
        label_components(mask, **kwargs)
    assert "\n" not in str(info.value)


def test_min_size_above_the_pixel_count_drops_everything():
    mask = np.ones((3, 4), bool)
    for min_size in (12, 13, 10**30):
        c = label_components(mask, min_size=min_size)
        assert c.n == (1 if min_size <= 12 else 0)
        assert (c.labels > 0).sum() == (12 if min_size <= 12 else 0)


def test_components_is_frozen():
    c = label_components(np.ones((2, 2), bool))
    assert isinstance(c, Components)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n = 3  # type: ignore[misc]


# --------------------------------------------------------------------------- embedding


@numba.njit
def _user_pipeline(mask, connectivity, min_size):
    """A user's own njit code calling the raw kernels with raw arrays."""
    height, width = mask.shape
    labels = np.empty((height, width), np.int32)
    parent = np.empty(kc.label_buffer_size(height, width), np.int32)
    n = kc.label_mask(mask, connectivity, labels, parent)
    sizes = np.empty(n, np.int64)
    bbox = np.empty((n, 4), np.int64)
    centroids = np.empty((n, 2))
    covariances = np.empty((n, 2, 2))
    kc.component_stats(labels, sizes, bbox, centroids, covariances,
                       np.empty((n, 6), np.int64), np.empty(width + 1, np.int64))
    label_map = np.empty(n + 1, np.int32)
    kept = kc.size_filter_map(sizes, min_size, label_map)
    kc.apply_label_map(labels, label_map)
    kept_sizes = sizes[sizes >= min_size].copy()
    indptr = np.empty(kept + 1, np.int64)
    pixels = np.empty(kept_sizes.sum(), np.int64)
    kc.component_pixel_index(labels, kept_sizes, indptr, pixels, np.empty(kept, np.int64))
    return labels, kept, kept_sizes, centroids, indptr, pixels


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_kernels_callable_from_user_njit(connectivity):
    rng = np.random.default_rng(21)
    mask = random_mask(rng, (41, 37), 0.55)
    labels, kept, sizes, _, indptr, pixels = _user_pipeline(mask.view(np.uint8), connectivity, 3)
    ref = label_components_scipy(mask, connectivity=connectivity, min_size=3)
    np.testing.assert_array_equal(labels, ref.labels)
    assert kept == ref.n
    np.testing.assert_array_equal(sizes, ref.sizes)
    np.testing.assert_array_equal(indptr, ref.indptr)
    np.testing.assert_array_equal(pixels, ref.pixels)
