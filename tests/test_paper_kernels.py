"""The kernels of the paper/ink model against their NumPy/SciPy forms, bit for bit.

:func:`fastshade.pipeline.paper.local_range` (one kernel pass) against six
``ndimage.maximum_filter``/``minimum_filter`` passes, and
:func:`fastshade.pipeline.paper.stroke_mask` (disk offsets) against two Euclidean distance
transforms (:mod:`fastshade.reference.paper`), over fixed, random and edge-case inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fastshade.demo import demo_image
from fastshade.kernels import paper as kp
from fastshade.pipeline.paper import (
    BINS,
    PAPER_CANDIDATES,
    PAPER_SPREAD,
    colour_distance,
    colour_edges,
    local_range,
    paper_colour,
    paper_field,
    paper_ink_model,
    reach_offsets,
    row_medians,
    stroke_mask,
)
from fastshade.pipeline.weight import open_paper, stroke_distance
from fastshade.reference.paper import colour_bins_numpy, local_range_scipy, stroke_mask_scipy

SHAPES = [(1, 1), (1, 7), (7, 1), (2, 2), (3, 5), (17, 23), (64, 48)]


def _random_rgb(shape: tuple[int, int], seed: int, levels: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rgb = rng.random((*shape, 3))
    return np.floor(rgb * levels) / levels if levels else rgb


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("levels", [None, 2, 7])
def test_local_range_is_the_scipy_filters_bit_for_bit(shape, levels):
    rgb = _random_rgb(shape, seed=shape[0] * 31 + shape[1], levels=levels)
    np.testing.assert_array_equal(local_range(rgb), local_range_scipy(rgb))


def test_local_range_fixed_cases():
    flat = np.full((5, 6, 3), 0.25)
    np.testing.assert_array_equal(local_range(flat), np.zeros((5, 6)))
    dot = np.zeros((5, 5, 3))
    dot[0, 4, 1] = 0.75  # a corner pixel: its 2x2 clipped neighbourhood sees it
    expected = np.zeros((5, 5))
    expected[0:2, 3:5] = 0.75
    np.testing.assert_array_equal(local_range(dot), expected)
    grey = _random_rgb((9, 4), 3)[:, :, :1]  # one channel, a non-contiguous view
    np.testing.assert_array_equal(local_range(grey), local_range_scipy(grey))
    view = _random_rgb((12, 10), 4)[::2, ::-1]
    np.testing.assert_array_equal(local_range(view), local_range_scipy(view))


def test_local_range_of_the_demo_drawing():
    rgb = np.asarray(demo_image(96, 128), dtype=np.float64)[..., :3]
    rgb = rgb / 255.0 if rgb.max() > 1 else rgb
    np.testing.assert_array_equal(local_range(rgb), local_range_scipy(rgb))


@pytest.mark.parametrize("reach", [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.3, 3.0, 4.0])
def test_reach_offsets_are_the_disk(reach):
    dy, dx = reach_offsets(reach)
    got = set(zip(dy.tolist(), dx.tolist(), strict=True))
    want = {(y, x) for y in range(-6, 7) for x in range(-6, 7) if np.hypot(y, x) <= reach}
    assert got == want
    assert len(got) == dy.size  # no duplicates


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", [0.3, 0.7, 0.95, 1.0])
@pytest.mark.parametrize("reach", [0.0, 1.0, 2.0, 3.0, 2.5])
def test_stroke_mask_is_the_distance_transforms_bit_for_bit(shape, density, reach):
    rng = np.random.default_rng(int(density * 100) + shape[0] * 7 + shape[1])
    ink = rng.random(shape) < density
    edges = rng.random(shape) < 0.2
    for e in (None, edges, np.zeros(shape, dtype=bool)):
        np.testing.assert_array_equal(stroke_mask(ink, reach, e), stroke_mask_scipy(ink, reach, e))


def test_stroke_mask_fixed_cases():
    ink = np.zeros((20, 30), dtype=bool)
    ink[3:17, 4:26] = True  # a filled block with a line of another colour across it
    edges = np.zeros_like(ink)
    edges[9:11, 4:26] = True
    for reach in (1.0, 2.0, 3.0):
        np.testing.assert_array_equal(stroke_mask(ink, reach), stroke_mask_scipy(ink, reach))
        np.testing.assert_array_equal(stroke_mask(ink, reach, edges), stroke_mask_scipy(ink, reach, edges))
    page = np.ones((8, 9), dtype=bool)  # a page of ink: the image border is non-ink
    np.testing.assert_array_equal(stroke_mask(page, 2), stroke_mask_scipy(page, 2))
    assert not stroke_mask(np.zeros((4, 4), dtype=bool)).any()


def test_stroke_mask_of_the_demo_drawing():
    rgb = np.asarray(demo_image(160, 200), dtype=np.float64)[..., :3]
    rgb = rgb / 255.0 if rgb.max() > 1 else rgb
    model = paper_ink_model(rgb)
    edges = colour_edges(rgb)
    np.testing.assert_array_equal(model.strokes, stroke_mask_scipy(model.ink, 3, edges))


def _paper_colour_bincount(rgb: np.ndarray, opaque: np.ndarray) -> np.ndarray:
    """paper_colour as it was written with np.bincount (before the kernel)."""
    pixels = rgb[opaque]
    if pixels.size == 0:
        return np.ones(3)
    code, counts, sums = colour_bins_numpy(pixels, BINS)
    used = np.flatnonzero(counts)
    means = sums[used] / counts[used, None]
    order = np.argsort(-counts[used], kind="stable")[:PAPER_CANDIDATES]
    mass = [int(counts[used][colour_distance(means, means[i]) <= PAPER_SPREAD].sum()) for i in order]
    near = colour_distance(means, means[order[int(np.argmax(mass))]]) <= PAPER_SPREAD
    best = int(used[near][int(np.argmax(counts[used][near]))])
    return pixels[code == best].mean(axis=0)


@pytest.mark.parametrize("n", [0, 1, 5, 1000, 40000])
@pytest.mark.parametrize("bins", [1, 3, 16])
def test_colour_bins_are_the_bincounts(n, bins):
    rng = np.random.default_rng(n + bins)
    pixels = rng.random((n, 3))
    pixels[: n // 10] = np.round(pixels[: n // 10])  # exact 0 and 1 (the top level is clipped)
    opaque = rng.random(n) < 0.8
    codes = np.full(n, -7, dtype=np.int64)
    counts = np.zeros(bins ** 3, dtype=np.int64)
    sums = np.zeros((bins ** 3, 3))
    assert kp.colour_bins(pixels, opaque, bins, codes, counts, sums) == opaque.sum()
    ref_codes, ref_counts, ref_sums = colour_bins_numpy(pixels[opaque], bins)
    np.testing.assert_array_equal(codes[opaque], ref_codes)
    assert (codes[~opaque] == -1).all()
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(sums, ref_sums)
    counts2, sums2 = np.zeros_like(counts), np.zeros_like(sums)  # no codes: the same counts and sums
    assert kp.colour_bins(pixels, opaque, bins, None, counts2, sums2) == opaque.sum()
    np.testing.assert_array_equal(counts2, counts)
    np.testing.assert_array_equal(sums2, sums)


@pytest.mark.parametrize("case", ["demo", "random", "levels", "tinted", "holes", "none"])
def test_paper_colour_is_the_bincount_form(case):
    rng = np.random.default_rng(5)
    rgb = np.asarray(demo_image(120, 90), dtype=np.float64)[..., :3]
    rgb = rgb / 255.0 if rgb.max() > 1 else rgb
    if case == "random":
        rgb = rng.random((40, 50, 3))
    elif case == "levels":
        rgb = np.floor(rng.random((40, 50, 3)) * 5) / 4
    opaque = np.ones(rgb.shape[:2], dtype=bool)
    if case == "tinted":
        rgb = np.clip(rgb * np.array([0.9, 0.85, 0.7]) + rng.normal(0, 0.02, rgb.shape), 0, 1)
    elif case == "holes":
        opaque = rng.random(rgb.shape[:2]) < 0.5
    elif case == "none":
        opaque = np.zeros(rgb.shape[:2], dtype=bool)
    np.testing.assert_array_equal(paper_colour(rgb, opaque), _paper_colour_bincount(rgb, opaque))


@pytest.mark.parametrize("shape", [(1, 1), (1, 12), (12, 1), (9, 9), (40, 57)])
@pytest.mark.parametrize("density", [0.01, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("reach", [0.0, 1.0, 2.0, 3.0, 4.5])
def test_stroke_distance_and_open_paper_are_the_distance_transforms(shape, density, reach):
    rng = np.random.default_rng(int(density * 1000) + shape[0] + 3 * shape[1])
    strokes = rng.random(shape) < density
    strokes.flat[0] = True  # at least one stroke pixel (grow_strokes returns early without)
    exact = ndimage.distance_transform_edt(~strokes)
    got = stroke_distance(strokes, reach)
    within = exact <= reach
    np.testing.assert_array_equal(got[within], exact[within])
    assert np.all(got[~within] == np.inf)
    for gap in (0.0, 1.0, 2.0, reach):
        if gap <= reach:
            np.testing.assert_array_equal(open_paper(got, gap), _open_paper_edt(exact, gap))


def _open_paper_edt(distance: np.ndarray, gap: float) -> np.ndarray:
    """open_paper as it was written with a distance transform (on the exact distance)."""
    if gap <= 0:
        return distance > 0
    core = distance > gap
    if not core.any():
        return np.zeros(distance.shape, dtype=bool)
    return (ndimage.distance_transform_edt(~core) <= gap) & (distance > 0)


def test_open_paper_of_a_stroke_picture():
    strokes = np.zeros((30, 40), dtype=bool)
    strokes[5, 3:37] = strokes[10, 3:37] = True  # a gap of 4 px between two lines
    strokes[12:28, 20] = True
    exact = ndimage.distance_transform_edt(~strokes)
    for gap in (1.0, 2.0, 3.0):
        np.testing.assert_array_equal(open_paper(stroke_distance(strokes, gap), gap),
                                      _open_paper_edt(exact, gap))


def _colour_distance_numpy(rgb: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """colour_distance as it was written: one (..., 3) expression."""
    return np.sqrt(((rgb - paper) ** 2).sum(axis=-1) / 3.0)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (17, 23), (64, 48), (300,), (5, 4, 3)])
@pytest.mark.parametrize("levels", [None, 2, 255])
@pytest.mark.parametrize("per_pixel", [False, True])
def test_colour_distance_is_the_numpy_expression_bit_for_bit(shape, levels, per_pixel):
    rgb = _random_rgb(shape, seed=sum(shape) + (levels or 0), levels=levels)
    rng = np.random.default_rng(len(shape))
    paper = rng.random(rgb.shape) if per_pixel else rng.random(3)
    if levels:
        paper = np.floor(paper * levels) / levels
    np.testing.assert_array_equal(colour_distance(rgb, paper), _colour_distance_numpy(rgb, paper))


@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("shape", [(300, 400), (7, 9400), (200_001,), (1, 70_000)])
def test_colour_distance_in_blocks_and_row_slabs_is_the_numpy_expression(shape, parts, monkeypatch):
    """Over :data:`~fastshade.pipeline.paper._DISTANCE_BLOCK` pixels the rows go in blocks, and a big
    image's row slabs on threads: the same values for any split."""
    import fastshade.pipeline.paper as paper_module

    monkeypatch.setattr(paper_module, "image_parts", lambda pixels: parts)
    rgb = _random_rgb(shape, seed=parts + shape[0], levels=None)
    for paper in (np.random.default_rng(1).random(rgb.shape), np.array([0.9, 0.8, 0.7])):
        np.testing.assert_array_equal(colour_distance(rgb, paper), _colour_distance_numpy(rgb, paper))
    with pytest.raises(ValueError, match="paper must be"):
        colour_distance(rgb, np.ones((1, 3)))


def test_colour_distance_edge_cases():
    white, black = np.ones(3), np.zeros(3)
    assert colour_distance(black, white) == 1.0 == _colour_distance_numpy(black, white)
    assert colour_distance(white, white) == 0.0
    np.testing.assert_array_equal(colour_distance(np.ones((2, 3, 3)), white), np.zeros((2, 3)))
    view = _random_rgb((12, 10), 4)[::2, ::-1]  # a non-contiguous view
    np.testing.assert_array_equal(colour_distance(view, white), _colour_distance_numpy(view, white))
    assert colour_distance(np.zeros((0, 3)), white).shape == (0,)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8, 1000, 1001])
@pytest.mark.parametrize("levels", [None, 3])
def test_row_medians_are_numpys_median(n, levels):
    values = _random_rgb((n, 1), seed=n, levels=levels)[:, 0, :].T.copy()  # (3, n), ties when levelled
    np.testing.assert_array_equal(row_medians(values), np.median(values, axis=1))
    np.testing.assert_array_equal(row_medians(values[:, ::-1]), np.median(values, axis=1))


def test_paper_field_reads_the_given_distances_as_its_own():
    h, w = 200, 700
    _, xx = np.mgrid[0:h, 0:w]
    rgb = 0.95 - 0.6 * (xx / w)[..., None] * np.array([1.0, 0.9, 0.8])  # a page darkening across
    rgb = np.clip(rgb + np.random.default_rng(2).normal(0, 0.01, rgb.shape), 0, 1)
    rgb[90:110, 50:650] = 0.1  # a stroke across it
    paper = paper_colour(rgb, np.ones((h, w), dtype=bool))
    field = paper_field(rgb, paper)
    assert field is not None
    np.testing.assert_array_equal(paper_field(rgb, paper, distance=_colour_distance_numpy(rgb, paper)), field)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", [0.0, 0.02, 0.3, 1.0])
@pytest.mark.parametrize("reach", [0.0, 1.0, 3.0, 4.5])
def test_spread_within_reach_is_the_nearest_first_search(shape, density, reach):
    rng = np.random.default_rng(int(density * 100) + 7 * shape[0] + shape[1])
    target = rng.random(shape) < density
    dy, dx = reach_offsets(reach)
    gathered = np.full(shape, np.inf)
    kp.nearest_within_reach(np.ones(shape, dtype=bool), target, dy, dx, False, gathered)
    spread = np.full(shape, np.inf)
    kp.spread_within_reach(target, dy, dx, spread)
    np.testing.assert_array_equal(spread, gathered)
    narrow = np.full(shape, np.inf, dtype=np.float32)  # float32 storage: the same squares (integers)
    kp.nearest_within_reach(np.ones(shape, dtype=bool), target, dy, dx, False, narrow)
    np.testing.assert_array_equal(narrow, gathered)
    if target.any():  # and the distance transform where it is within the reach
        exact = ndimage.distance_transform_edt(~target)
        within = exact <= reach
        np.testing.assert_array_equal(np.sqrt(spread[within]), exact[within])
        assert np.all(spread[~within] == np.inf)
    lowered = np.full(shape, 2.0)  # only lowers what it is given
    kp.spread_within_reach(target, dy, dx, lowered)
    np.testing.assert_array_equal(lowered, np.minimum(gathered, 2.0))


def _paper_field_median_form(rgb: np.ndarray, paper: np.ndarray, tile: int) -> np.ndarray | None:
    """paper_field as it was written: np.median of every tile's close pixels, no shortcut for the
    exact paper colour (the same tile walk, grown_tile_papers)."""
    from fastshade.pipeline.paper import INK_DISTANCE, TILE_PAPER_SHARE, TILE_TOLERANCE, grown_tile_papers

    def estimate(iy, ix, ref):
        block = rgb[iy * tile:(iy + 1) * tile, ix * tile:(ix + 1) * tile].reshape(-1, 3)
        near = block[_colour_distance_numpy(block, ref) <= INK_DISTANCE]
        if near.shape[0] < TILE_PAPER_SHARE * block.shape[0]:
            return None
        est = np.median(near, axis=0)
        return paper if _colour_distance_numpy(est, paper) <= TILE_TOLERANCE else est

    return grown_tile_papers(rgb.shape[0], rgb.shape[1], tile, paper, estimate)


@pytest.mark.parametrize("share", [0.3, 0.5, 0.5 + 1 / 256, 0.7, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_paper_field_is_the_median_form(share, seed):
    """Tiles holding the exact paper colour in about ``share`` of their pixels (a majority:
    the median is the paper without a partition), the rest near-paper noise, a darker band
    and ink."""
    rng = np.random.default_rng(seed)
    h, w, tile = 96, 160, 16
    paper = np.array([0.9, 0.88, 0.85])
    rgb = np.clip(paper + rng.normal(0, 0.03, (h, w, 3)), 0, 1)
    exact = rng.random((h, w)) < share
    rgb[exact] = paper
    rgb[:, 100:] -= 0.12  # a darker strip: papers of their own, grown from the first tiles
    rgb[40:44, 10:150] = 0.1  # ink
    rgb[:, 100:][exact[:, 100:]] = paper - 0.12  # (exact there too, but not the global paper)
    np.testing.assert_array_equal(paper_field(rgb, paper, tile), _paper_field_median_form(rgb, paper, tile))
    dist = _colour_distance_numpy(rgb, paper)
    np.testing.assert_array_equal(paper_field(rgb, paper, tile, distance=dist),
                                  _paper_field_median_form(rgb, paper, tile))


@pytest.mark.parametrize("shape", [(3 * kp.RANGE_ROWS + 5, 37), (kp.RANGE_ROWS, 1), (1, 40), (2 * kp.RANGE_ROWS, 3)])
@pytest.mark.parametrize("channels", [1, 3])
def test_local_range_twin_over_row_chunks_is_the_scipy_filters(shape, channels):
    """The kernel and its parallel twin (rows in chunks of ``RANGE_ROWS``, a scratch per thread)."""
    import numba

    rgb = _random_rgb(shape, seed=shape[0] + channels, levels=7)[..., :channels].copy()
    expected = local_range_scipy(rgb)
    serial = np.full(shape, np.nan)
    kp.local_range(rgb, serial, np.empty((1, 2, shape[1], channels)))
    twin = np.full(shape, np.nan)
    kp.local_range.parallel(rgb, twin, np.empty((numba.get_num_threads(), 2, shape[1], channels)))
    np.testing.assert_array_equal(serial, expected)
    np.testing.assert_array_equal(twin, expected)
