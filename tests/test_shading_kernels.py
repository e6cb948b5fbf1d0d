"""Shading kernels (kernels/shading.py) and wrappers (pipeline/shading.py) vs fastshade.reference.

Exact comparisons (``array_equal``) for images, masks and indices; ``allclose``
for the floating-point sums (affinity, hue rotation: see the FMA note in
:mod:`fastshade.kernels.shading`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastshade import reference as ref
from fastshade.kernels import shading as ks
from fastshade.kernels.shading import gated_copy, hue_rotate, perpendicular_scatter, pixel_affinity, place_component
from fastshade.pipeline import shading as fs

IMAGES = Path(__file__).resolve().parents[1] / ".." / "shared" / "images"


# --------------------------------------------------------------------------- helpers


def scatter_kernel(src, sources, dir_y, dir_x, budget, contours, radius):
    """Call the raw thicken kernel with freshly allocated outputs."""
    out = src.copy()
    written = np.zeros(contours.shape, dtype=np.uint8)
    count = ks.perpendicular_scatter(src, out, sources, dir_y, dir_x, budget, contours, radius, written)
    return out, written, count


def assert_scatter_matches(src, sources, dir_y, dir_x, budget, contours, radius):
    """Kernel == loop reference == vectorised reference == wrapper, exactly."""
    got = scatter_kernel(src, sources, dir_y, dir_x, budget, contours, radius)
    want = ref.perpendicular_scatter_loop(src, sources, dir_y, dir_x, budget, contours, radius)
    vec = ref.perpendicular_scatter_numpy(src, sources, dir_y, dir_x, budget, contours, radius)
    for name, other in (("loop", want), ("numpy", vec)):
        np.testing.assert_array_equal(got[0], other[0], err_msg=f"image vs {name}")
        np.testing.assert_array_equal(got[1], other[1], err_msg=f"written vs {name}")
        assert got[2] == other[2], f"count vs {name}"
    image, written = fs.perpendicular_scatter(src, sources, dir_y, dir_x, budget, contours, radius)
    np.testing.assert_array_equal(image, got[0])
    np.testing.assert_array_equal(written, got[1].astype(bool))
    return got


def unit_directions(rng, shape):
    angle = rng.uniform(0.0, 2.0 * np.pi, size=shape)
    return np.sin(angle), np.cos(angle)


def stroke_mask(kind: str, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contour mask of a synthetic stroke plus its hand-made unit tangent field (t_y, t_x)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    t_y = np.zeros((height, width))
    t_x = np.zeros((height, width))
    if kind == "horizontal":
        mask[height // 2, 2 : width - 2] = 1
        t_x[:] = 1.0
    elif kind == "vertical":
        mask[2 : height - 2, width // 2] = 1
        t_y[:] = 1.0
    elif kind == "diagonal":
        for i in range(min(height, width)):
            mask[i, i] = 1
        t_y[:] = t_x[:] = 1.0 / math.sqrt(2.0)
    elif kind == "curved":
        yy, xx = np.mgrid[0:height, 0:width]
        cy, cx, r = height / 2, width / 2, min(height, width) / 3
        dist = np.hypot(yy - cy, xx - cx)
        mask[np.abs(dist - r) < 0.7] = 1
        theta = np.arctan2(yy - cy, xx - cx)
        t_y[:] = np.cos(theta)
        t_x[:] = -np.sin(theta)
    else:
        raise AssertionError(kind)
    return mask, t_y, t_x


# --------------------------------------------------------------------------- A. thicken


@pytest.mark.parametrize("kind", ["horizontal", "vertical", "diagonal", "curved"])
@pytest.mark.parametrize("direction", ["perpendicular", "random"])
def test_scatter_matches_reference_on_strokes(kind, direction):
    rng = np.random.default_rng(sum(map(ord, kind + direction)))
    height, width, radius = 24, 31, 3
    contours, t_y, t_x = stroke_mask(kind, height, width)
    if direction == "perpendicular":
        dir_y, dir_x = -t_x, t_y  # the shader's d = (-t_x, t_y)
    else:
        dir_y, dir_x = unit_directions(rng, (height, width))
    # budgets below 1 (no write), between, and above R (full reach)
    budget = rng.choice([0.5, 0.9, 1.0, 1.7, 2.0, 2.5, 3.0, 4.5], size=(height, width))
    src = rng.random((height, width, 3))
    sources = np.flatnonzero(contours & (rng.random((height, width)) < 0.7)).astype(np.int64)
    assert sources.size > 5
    out, written, count = assert_scatter_matches(src, sources, dir_y, dir_x, budget, contours, radius)
    assert count >= written.sum() > 0
    assert not (written & contours).any()


def test_scatter_hand_example_perpendicular_to_horizontal_stroke():
    # A horizontal stroke at y = 5; direction (1, 0): writes go straight up and down.
    height, width = 11, 7
    contours = np.zeros((height, width), np.uint8)
    contours[5, 1:6] = 1
    src = np.zeros((height, width, 3))
    src[5, 3] = (0.1, 0.2, 0.3)
    budget = np.full((height, width), 2.0)
    dir_y = np.ones((height, width))
    dir_x = np.zeros((height, width))
    out, written, count = scatter_kernel(src, np.array([5 * width + 3]), dir_y, dir_x, budget, contours, 3)
    assert count == 4
    assert sorted(zip(*np.nonzero(written))) == [(3, 3), (4, 3), (6, 3), (7, 3)]
    for y in (3, 4, 6, 7):
        np.testing.assert_array_equal(out[y, 3], (0.1, 0.2, 0.3))


def test_scatter_truncates_and_last_write_wins():
    # Two sources whose destinations collide; the later source in the list wins.
    height, width = 5, 5
    contours = np.zeros((height, width), np.uint8)
    src = np.zeros((height, width, 3))
    src[2, 0] = 1.0
    src[2, 4] = 0.5
    dir_y = np.zeros((height, width))
    dir_x = np.zeros((height, width))
    dir_x[2, 0] = 0.9  # o = 2 -> q_x = 1.8 -> 1 ; o = 3 -> 2.7 -> 2
    dir_x[2, 4] = -0.8  # o = 2 -> 2.4 -> 2 ; o = 3 -> 1.6 -> 1
    budget = np.full((height, width), 3.0)
    sources = np.array([2 * width + 0, 2 * width + 4])
    out, written, count = scatter_kernel(src, sources, dir_y, dir_x, budget, contours, 3)
    np.testing.assert_array_equal(out[2, 1], 0.5)  # written by both, second source last
    np.testing.assert_array_equal(out[2, 2], 0.5)
    flipped = scatter_kernel(src, sources[::-1].copy(), dir_y, dir_x, budget, contours, 3)[0]
    np.testing.assert_array_equal(flipped[2, 1], 1.0)
    np.testing.assert_array_equal(flipped[2, 2], 1.0)
    # left source: o = 1, 2, 3 -> x 0, 1, 2 (o < 0 leave the image); right source: o = -1 -> 4.8 -> 4,
    # o = 1, 2, 3 -> x 3, 2, 1 (o = -2, -3 leave the image)
    assert count == 7
    assert written[2].tolist() == [1, 1, 1, 1, 1]


def test_scatter_budget_below_one_writes_nothing_and_above_radius_is_capped():
    height, width = 9, 9
    contours = np.zeros((height, width), np.uint8)
    src = np.random.default_rng(3).random((height, width, 3))
    dir_y = np.zeros((height, width))
    dir_x = np.ones((height, width))
    sources = np.array([4 * width + 4])
    out, written, count = scatter_kernel(src, sources, dir_y, dir_x, np.full((height, width), 0.99), contours, 3)
    assert count == 0 and not written.any()
    np.testing.assert_array_equal(out, src)
    _, written, count = scatter_kernel(src, sources, dir_y, dir_x, np.full((height, width), 100.0), contours, 3)
    assert count == 6
    assert sorted(np.nonzero(written[4])[0]) == [1, 2, 3, 5, 6, 7]


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2)])
@pytest.mark.parametrize("radius", [0, 1, 3])
def test_scatter_edge_shapes(shape, radius):
    rng = np.random.default_rng(sum(shape) + radius)
    src = rng.random(shape + (3,))
    dir_y, dir_x = unit_directions(rng, shape)
    budget = rng.uniform(0.0, 4.0, size=shape)
    contours = np.zeros(shape, np.uint8)
    all_pixels = np.arange(shape[0] * shape[1], dtype=np.int64)
    assert_scatter_matches(src, all_pixels, dir_y, dir_x, budget, contours, radius)
    # empty source list, full contour mask
    _, written, count = assert_scatter_matches(src, all_pixels[:0], dir_y, dir_x, budget, contours, radius)
    assert count == 0 and not written.any()
    _, written, count = assert_scatter_matches(src, all_pixels, dir_y, dir_x, budget, np.ones(shape, np.uint8), radius)
    assert count == 0 and not written.any()


def test_scatter_sources_on_the_border_never_write_out_of_bounds():
    # Kernel runs on views into a NaN-padded buffer: any out-of-bounds write lands in the padding.
    height, width, radius, pad = 8, 10, 3, 4
    rng = np.random.default_rng(11)
    big = np.full((height + 2 * pad, width + 2 * pad, 3), np.nan)
    big_written = np.full((height + 2 * pad, width + 2 * pad), 7, np.uint8)
    src = rng.random((height, width, 3))
    out = big[pad:-pad, pad:-pad]
    out[...] = src
    written = big_written[pad:-pad, pad:-pad]
    written[...] = 0
    yy, xx = np.mgrid[0:height, 0:width]
    border = (yy == 0) | (yy == height - 1) | (xx == 0) | (xx == width - 1)
    sources = np.flatnonzero(border).astype(np.int64)
    # outward-pointing and grazing directions
    dir_y = np.where(yy == 0, -1.0, np.where(yy == height - 1, 1.0, 0.3))
    dir_x = np.where(xx == 0, -0.999, np.where(xx == width - 1, 1.0, 0.2))
    budget = np.full((height, width), 3.0)
    contours = np.zeros((height, width), np.uint8)
    count = ks.perpendicular_scatter(src, out, sources, dir_y, dir_x, budget, contours, radius, written)
    inner = np.zeros(big.shape[:2], bool)
    inner[pad:-pad, pad:-pad] = True
    assert np.isnan(big[~inner]).all()
    assert (big_written[~inner] == 7).all()
    want = ref.perpendicular_scatter_loop(src, sources, dir_y, dir_x, budget, contours, radius)
    np.testing.assert_array_equal(out, want[0])
    np.testing.assert_array_equal(written, want[1])
    assert count == want[2]


def test_scatter_nan_direction_or_budget_writes_nothing():
    shape = (6, 6)
    src = np.random.default_rng(5).random(shape + (3,))
    contours = np.zeros(shape, np.uint8)
    sources = np.arange(36, dtype=np.int64)
    nan = np.full(shape, np.nan)
    one = np.ones(shape)
    assert scatter_kernel(src, sources, nan, one, np.full(shape, 3.0), contours, 3)[2] == 0
    assert scatter_kernel(src, sources, one, one, nan, contours, 3)[2] == 0


def explain_written_pixels(src, out, written, sources, dir_y, dir_x, budget, radius):
    """Every written pixel must be hit by some (source, |o| <= budget) and carry one of their colours."""
    width = written.shape[1]
    hits: dict[tuple[int, int], list[int]] = {}
    for s in sources:
        sy, sx = divmod(int(s), width)
        for o in list(range(-radius, 0)) + list(range(1, radius + 1)):
            if abs(o) <= budget[sy, sx]:
                qy = sy + o * dir_y[sy, sx]
                qx = sx + o * dir_x[sy, sx]
                if 0 <= qy < written.shape[0] and 0 <= qx < width:
                    hits.setdefault((int(qy), int(qx)), []).append(int(s))
    for y, x in zip(*np.nonzero(written)):
        assert (y, x) in hits, f"pixel {(y, x)} written but unexplained"
        candidates = [src.reshape(-1, src.shape[2])[s] for s in hits[(y, x)]]
        assert any(np.array_equal(out[y, x], c) for c in candidates)
    # untouched pixels keep their colour
    np.testing.assert_array_equal(out[written == 0], src[written == 0])


@settings(deadline=None, max_examples=40)
@given(
    height=st.integers(1, 14),
    width=st.integers(1, 14),
    radius=st.integers(0, 4),
    source_density=st.floats(0.0, 1.0),
    contour_density=st.floats(0.0, 0.6),
    seed=st.integers(0, 2**32 - 1),
)
def test_scatter_random_shapes_property(height, width, radius, source_density, contour_density, seed):
    rng = np.random.default_rng(seed)
    shape = (height, width)
    src = rng.random(shape + (3,))
    dir_y, dir_x = unit_directions(rng, shape)
    dir_y *= rng.choice([1.0, 0.5, 2.0], size=shape)  # not always unit length
    budget = rng.uniform(0.0, radius + 1.5, size=shape)
    contours = (rng.random(shape) < contour_density).astype(np.uint8)
    sources = np.flatnonzero(rng.random(shape) < source_density).astype(np.int64)
    if sources.size and rng.random() < 0.3:  # repeated / unordered sources are allowed too
        sources = rng.choice(sources, size=sources.size * 2)
    out, written, count = assert_scatter_matches(src, sources, dir_y, dir_x, budget, contours, radius)
    assert not (written & contours).any()
    assert count >= written.sum()
    explain_written_pixels(src, out, written, sources, dir_y, dir_x, budget, radius)


def test_scatter_on_toof():
    path = IMAGES / "toof.png"
    if not path.exists():
        pytest.skip(f"real test image absent: {path}")
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
    carrier = rgb.mean(axis=2)
    ink = (carrier < 0.5).astype(np.uint8)
    rng = np.random.default_rng(20260202)
    shape = ink.shape
    sources = np.flatnonzero(ink & (rng.random(shape) < 0.5)).astype(np.int64)
    t_y, t_x = unit_directions(rng, shape)
    phi = rng.normal(size=(ink.size, 8))
    budget = fs.thickening_budget(phi, 3).reshape(shape)
    # the energy kernel may fuse multiply-adds: equal to the reference up to the last bit
    np.testing.assert_allclose(budget.ravel(), ref.thickening_budget_numpy(phi, 3), rtol=1e-15, atol=1e-15)
    out, written, count = assert_scatter_matches(rgb, sources, -t_x, t_y, budget, ink, 3)
    assert count > 100
    assert not (written & ink).any()


# --------------------------------------------------------------------------- budget


def test_thickening_budget_matches_reference_and_range():
    rng = np.random.default_rng(0)
    phi = rng.normal(size=(200, 8))
    phi[7, 2:] = 0.0  # zero higher-column energy -> full reach
    budget = fs.thickening_budget(phi, 3, 0.7)
    np.testing.assert_allclose(budget, ref.thickening_budget_numpy(phi, 3, 0.7), rtol=1e-15, atol=1e-15)
    assert budget[7] == 3.0
    energy = (phi[:, 2:] ** 2).sum(axis=1)
    assert budget[np.argmax(energy)] == pytest.approx(3 * 0.3, abs=1e-6)
    assert budget.min() >= 0.9 - 1e-9 and budget.max() <= 3.0


def test_thickening_budget_normalises_over_the_sources_like_the_original():
    # original-system.md §3.5: E_hat_s = E_s / (max over the high-gate sources of E + 1e-8).
    # The largest energy of the image (pixel 0) is not a source: the sources' own maximum
    # (pixel 2, E = 4) sets the scale, so source 1 (E = 1) gets 3 (1 - 0.7 / 4) = 2.475 and
    # source 2 gets 3 (1 - 0.7) = 0.9; normalising over the image would give 2.79 and 2.16.
    phi = np.zeros((4, 3))
    phi[:, 2] = [4.0, 1.0, 2.0, 0.0]  # E = 16, 1, 4, 0
    sources = np.array([1, 2, 3])
    budget = fs.thickening_budget(phi, 3, 0.7, sources=sources)
    np.testing.assert_allclose(budget[sources], [3 * (1 - 0.7 / 4), 3 * (1 - 0.7), 3.0], rtol=1e-7)
    np.testing.assert_allclose(budget, ref.thickening_budget_numpy(phi, 3, 0.7, sources), rtol=1e-15)
    # no sources: nothing reads the budget, and it is finite
    assert np.isfinite(fs.thickening_budget(phi, 3, 0.7, sources=np.zeros(0, np.int64))).all()
    with pytest.raises(ValueError, match="sources"):
        fs.thickening_budget(phi, 3, 0.7, sources=np.array([4]))


@pytest.mark.parametrize("k", [1, 2])
def test_thickening_budget_few_columns_is_radius(k):
    np.testing.assert_array_equal(fs.thickening_budget(np.ones((5, k)), 3), np.full(5, 3.0))


def test_thickening_budget_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        fs.thickening_budget(np.ones(5), 3)
    with pytest.raises(ValueError, match="radius"):
        fs.thickening_budget(np.ones((5, 4)), -1)
    with pytest.raises(ValueError, match="phi contains NaN or inf"):
        fs.thickening_budget(np.full((5, 4), np.nan), 3)
    with pytest.raises(ValueError, match="squared column energies of phi contains NaN or inf"):
        fs.thickening_budget(np.full((5, 4), 1e200), 3)  # squares overflow
    # finite energies whose total exceeds the float range are fine (the budget reads the max)
    phi = np.zeros((5, 4))
    phi[:, 2] = 1e154
    phi[0, 2] = 0.0
    budget = fs.thickening_budget(phi, 3)
    np.testing.assert_allclose(budget, [3.0, 0.9, 0.9, 0.9, 0.9])
    with pytest.raises(ValueError, match="attenuation"):
        fs.thickening_budget(np.ones((5, 4)), 3, attenuation=2.0)  # negative budgets


def test_colour_functions_reject_non_finite_colours():
    with pytest.raises(ValueError, match="NaN or inf"):
        fs.hue_rotate(np.array([[0.2, np.nan, 0.1]]), 1.0)
    out = np.ones((3, 3, 3))
    with pytest.raises(ValueError, match="NaN or inf"):
        fs.gated_copy(out, np.full((1, 3), np.inf), np.array([1]), np.array([1]), None,
                      np.ones((3, 3)), 0.3)
    np.testing.assert_array_equal(out, 1.0)  # nothing written
    image = np.ones((3, 3, 3))
    image[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        fs.perpendicular_scatter(image, np.array([4]), np.zeros((3, 3)), np.ones((3, 3)),
                                 np.ones((3, 3)), np.zeros((3, 3), bool), 1)


def test_perpendicular_scatter_wrapper_contract():
    rng = np.random.default_rng(2)
    shape = (6, 7)
    image = rng.random(shape + (3,)).astype(np.float32)
    before = image.copy()
    d_y, d_x = unit_directions(rng, shape)
    budget_flat = np.full(shape[0] * shape[1], 2.0)
    contours = np.zeros(shape, bool)
    sources = np.array([0, 10, 41], dtype=np.int32)
    out, written = fs.perpendicular_scatter(image, sources, d_y, d_x, budget_flat, contours, 2)
    np.testing.assert_array_equal(image, before)  # input untouched
    assert out.dtype == np.float64 and written.dtype == bool
    want = ref.perpendicular_scatter_loop(
        image.astype(np.float64), sources.astype(np.int64), d_y, d_x, budget_flat.reshape(shape), contours, 2
    )
    np.testing.assert_array_equal(out, want[0])
    with pytest.raises(ValueError, match="sources_flat"):
        fs.perpendicular_scatter(image, np.array([42]), d_y, d_x, budget_flat, contours, 2)
    with pytest.raises(ValueError, match="integer"):
        fs.perpendicular_scatter(image, np.array([1.0]), d_y, d_x, budget_flat, contours, 2)
    with pytest.raises(ValueError, match="budget"):
        fs.perpendicular_scatter(image, sources, d_y, d_x, np.ones(5), contours, 2)
    with pytest.raises(ValueError, match="contours"):
        fs.perpendicular_scatter(image, sources, d_y, d_x, budget_flat, np.zeros((2, 2), bool), 2)
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        fs.perpendicular_scatter(image[..., 0], sources, d_y, d_x, budget_flat, contours, 2)


# --------------------------------------------------------------------------- B. hue


def test_hue_rotate_matches_reference():
    rng = np.random.default_rng(4)
    rgb = rng.random((500, 3))
    out = np.empty_like(rgb)
    ks.hue_rotate(rgb, 1.0, out)
    # rtol 0: FMA contraction may change the last bit only
    np.testing.assert_allclose(out, ref.hue_rotate_numpy(rgb, 1.0), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(out[:, 2], rgb[:, 2])  # blue is kept
    for angle in (0.0, -2.5, 7.0):
        ks.hue_rotate(rgb, angle, out)
        np.testing.assert_allclose(out, ref.hue_rotate_numpy(rgb, angle), rtol=0, atol=1e-15)


def test_hue_rotate_hand_values_use_0333_and_clamp():
    c, s = math.cos(1.0), math.sin(1.0)
    white = fs.hue_rotate(np.array([1.0, 1.0, 1.0]), 1.0)
    # m = 0.999 (not 1): r' = 0.999 + 0.001 (cos - sin), g' = 0.999 + 0.001 (sin + cos) > 1 -> 1
    np.testing.assert_allclose(white, [0.999 + 0.001 * (c - s), 1.0, 1.0], rtol=0, atol=1e-15)
    green = fs.hue_rotate(np.array([0.0, 1.0, 0.0]), 1.0)
    # r' = 0.333 - 0.333 c - 0.667 s < 0 -> 0 ; g' = 0.333 - 0.333 s + 0.667 c
    np.testing.assert_allclose(green, [0.0, 0.333 - 0.333 * s + 0.667 * c, 0.0], rtol=0, atol=1e-15)
    # out-of-range input: all three channels are clamped, blue included
    wild = fs.hue_rotate(np.array([[0.5, 0.5, 1.25], [0.5, 0.5, -0.25]]), 0.0)
    np.testing.assert_array_equal(wild[:, 2], [1.0, 0.0])


def test_hue_rotate_in_place_and_shapes():
    rng = np.random.default_rng(5)
    rgb = rng.random((7, 3))
    want = ref.hue_rotate_numpy(rgb, 1.0)
    ks.hue_rotate(rgb, 1.0, rgb)  # aliasing is allowed
    np.testing.assert_allclose(rgb, want, rtol=0, atol=1e-15)
    cube = rng.random((2, 5, 3))
    got = fs.hue_rotate(cube, 0.3)
    assert got.shape == cube.shape
    np.testing.assert_allclose(got, ref.hue_rotate_numpy(cube, 0.3), rtol=0, atol=1e-15)
    assert fs.hue_rotate(np.empty((0, 3)), 1.0).shape == (0, 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        fs.hue_rotate(np.ones((4, 4)), 1.0)
    with pytest.raises(ValueError, match="angle"):
        fs.hue_rotate(np.ones((4, 3)), np.nan)


# --------------------------------------------------------------------------- C. placement


def place_kernel(src_y, src_x, c_s, c_d, shape, turns=1, scale=1.0, shift=(0.0, 0.0)):
    m = src_y.shape[0]
    dst_y = np.empty(m, np.int64)
    dst_x = np.empty(m, np.int64)
    inside = np.empty(m, np.uint8)
    count = ks.place_component(
        src_y, src_x, c_s[0], c_s[1], c_d[0], c_d[1], turns, scale, shift[0], shift[1],
        shape[0], shape[1], False, dst_y, dst_x, inside,
    )
    assert count == inside.sum()
    return dst_y, dst_x, inside


def test_l_shape_quarter_turn_lands_on_hand_computed_rotation():
    # L: a vertical bar (y 10..13, x 20) and a foot to the right (y 13, x 21..22).
    src_y = np.array([10, 11, 12, 13, 13, 13], np.int64)
    src_x = np.array([20, 20, 20, 20, 21, 22], np.int64)
    # pivot (12, 21) -> lands at (30, 40), then shift (2, -3); one CCW turn: (dy, dx) -> (-dx, dy).
    # By hand: (10,20): d=(-2,-1) -> (1,-2) -> (31,38) -> (33,35); (11,20) -> (33,36);
    # (12,20) -> (33,37); (13,20) -> (33,38); (13,21): d=(1,0) -> (0,1) -> (32,38);
    # (13,22): d=(1,1) -> (-1,1) -> (31,38).  The bar now points left, the foot points up.
    expected_y = [33, 33, 33, 33, 32, 31]
    expected_x = [35, 36, 37, 38, 38, 38]
    dst_y, dst_x, inside = fs.place_component(
        src_y, src_x, (12.0, 21.0), (30.0, 40.0), (64, 64), quarter_turns=1, shift=(2.0, -3.0)
    )
    np.testing.assert_array_equal(dst_y, expected_y)
    np.testing.assert_array_equal(dst_x, expected_x)
    assert inside.all()
    got = place_kernel(src_y, src_x, (12.0, 21.0), (30.0, 40.0), (64, 64), 1, 1.0, (2.0, -3.0))
    np.testing.assert_array_equal(got[0], expected_y)
    np.testing.assert_array_equal(got[1], expected_x)
    # a pixel to the right of the pivot moves above it (counter-clockwise as displayed)
    up = fs.place_component(np.array([5]), np.array([6]), (5.0, 5.0), (5.0, 5.0), (10, 10))
    assert (up[0][0], up[1][0]) == (4, 5)


def test_round_half_up_at_half_positions():
    src_x = np.arange(6, dtype=np.int64)
    src_y = np.zeros(6, np.int64)
    # dst = p + 0.5: x = 0.5, 1.5, ..., 5.5 -> 1, 2, 3, 4, 5, 6 (half up, a rigid shift); y = 0.5 -> 1
    dst_y, dst_x, _ = fs.place_component(src_y, src_x, (0.0, 0.0), (0.5, 0.5), (10, 10), quarter_turns=0)
    np.testing.assert_array_equal(dst_x, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(dst_y, [1] * 6)
    # negative side: x = -0.5, -1.5, -2.5 -> 0, -1, -2 (toward +inf; flagged outside when < 0)
    dst_y, dst_x, inside = fs.place_component(np.zeros(3, np.int64), np.arange(3), (0.0, 0.0), (0.0, -0.5), (10, 10),
                                              quarter_turns=0, scale=-1.0)
    np.testing.assert_array_equal(dst_x, [0, -1, -2])
    np.testing.assert_array_equal(inside, [True, False, False])


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_quarter_turn_table(turns):
    # relative (1, 2) under 0..3 CCW quarter turns: (1,2) -> (-2,1) -> (-1,-2) -> (2,-1)
    table = {0: (1, 2), 1: (-2, 1), 2: (-1, -2), 3: (2, -1)}
    dst_y, dst_x, _ = fs.place_component(
        np.array([11]), np.array([12]), (10.0, 10.0), (0.0, 0.0), (5, 5), quarter_turns=turns
    )
    assert (dst_y[0], dst_x[0]) == table[turns]


def test_quarter_turns_are_taken_modulo_four():
    rng = np.random.default_rng(6)
    ys = rng.integers(0, 40, 30)
    xs = rng.integers(0, 40, 30)
    args = (ys, xs, (17.3, 21.9), (20.1, 19.7), (40, 40))
    for a, b in ((4, 0), (5, 1), (-1, 3), (-2, 2), (8, 0)):
        for got, want in zip(fs.place_component(*args, quarter_turns=a), fs.place_component(*args, quarter_turns=b)):
            np.testing.assert_array_equal(got, want)
    # the raw kernel also reduces modulo 4
    for got, want in zip(place_kernel(ys, xs, (17.3, 21.9), (20.1, 19.7), (40, 40), 4),
                         place_kernel(ys, xs, (17.3, 21.9), (20.1, 19.7), (40, 40), 0)):
        np.testing.assert_array_equal(got, want)


@settings(deadline=None, max_examples=40)
@given(
    m=st.integers(0, 30),
    cy2=st.integers(-20, 60),
    cx2=st.integers(-20, 60),
    half=st.booleans(),
    a=st.integers(0, 7),
    b=st.integers(0, 7),
    seed=st.integers(0, 2**32 - 1),
)
def test_quarter_turns_compose(m, cy2, cx2, half, a, b, seed):
    # centroid with both coordinates in Z or both in Z + 1/2: rotations map the grid to itself exactly
    rng = np.random.default_rng(seed)
    c = (cy2 / 2.0, cx2 / 2.0) if half else (float(cy2), float(cx2))
    if half and (cy2 - cx2) % 2:
        c = (c[0] + 0.5, c[1])
    ys = rng.integers(-10, 50, m)
    xs = rng.integers(-10, 50, m)
    y1, x1, _ = fs.place_component(ys, xs, c, c, (40, 40), quarter_turns=a)
    y2, x2, _ = fs.place_component(y1, x1, c, c, (40, 40), quarter_turns=b)
    y3, x3, _ = fs.place_component(ys, xs, c, c, (40, 40), quarter_turns=a + b)
    np.testing.assert_array_equal(y2, y3)
    np.testing.assert_array_equal(x2, x3)
    y, x = ys, xs
    for _ in range(4):
        y, x, _ = fs.place_component(y, x, c, c, (40, 40), quarter_turns=1)
    np.testing.assert_array_equal(y, ys)
    np.testing.assert_array_equal(x, xs)


@settings(deadline=None, max_examples=40)
@given(
    m=st.integers(0, 40),
    height=st.integers(1, 50),
    width=st.integers(1, 50),
    turns=st.integers(-4, 8),
    scaled=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_placement_matches_reference(m, height, width, turns, scaled, seed):
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, height, m)
    xs = rng.integers(0, width, m)
    c_s = (ys.mean(), xs.mean()) if m else (0.0, 0.0)
    c_d = tuple(rng.uniform(-5, 55, 2))
    shift = tuple(rng.uniform(-15, 15, 2))
    scale = float(rng.uniform(0.25, 3.0)) if scaled else 1.0
    want = ref.place_component_numpy(ys, xs, c_s, c_d, (height, width), quarter_turns=turns, scale=scale,
                                    shift=shift)
    got = place_kernel(ys, xs, c_s, c_d, (height, width), turns, scale, shift)
    wrapped = fs.place_component(ys, xs, c_s, c_d, (height, width), quarter_turns=turns, scale=scale, shift=shift)
    for g, w, v in zip(got, want, wrapped):
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(v, w)
    # the original's rounding (half to even), an option of the wrapper and the reference alike
    assert ref.ROUNDINGS == fs.ROUNDINGS
    want = ref.place_component_numpy(ys, xs, c_s, c_d, (height, width), quarter_turns=turns, scale=scale,
                                     shift=shift, rounding="half-even")
    wrapped = fs.place_component(ys, xs, c_s, c_d, (height, width), quarter_turns=turns, scale=scale, shift=shift,
                                 rounding="half-even")
    for v, w in zip(wrapped, want):
        np.testing.assert_array_equal(v, w)


def test_self_path_placement_and_scale():
    # self path: rotate about the mean, move 15 px along a unit void direction
    ys = np.array([3, 3, 3, 3], np.int64)
    xs = np.array([2, 3, 4, 5], np.int64)
    c = (3.0, 3.5)
    void = (0.6, 0.8)
    dst_y, dst_x, inside = fs.place_component(ys, xs, c, c, (30, 30), shift=(15 * void[0], 15 * void[1]))
    # rows become a column at x = 3.5 + 12 = 15.5 -> 16 (half up); y = 3 + 9 + (1.5, 0.5, -0.5, -1.5)
    # = 13.5, 12.5, 11.5, 10.5 -> 14, 13, 12, 11 (a whole column, no gaps)
    np.testing.assert_array_equal(dst_x, [16, 16, 16, 16])
    np.testing.assert_array_equal(dst_y, [14, 13, 12, 11])
    # scale 3 about the centroid, no rotation: x = 3.5 + 3 (x - 3.5) = -1, 2, 5, 8
    dst_y, dst_x, inside = fs.place_component(ys, xs, c, c, (30, 30), quarter_turns=0, scale=3.0)
    np.testing.assert_array_equal(dst_x, [-1, 2, 5, 8])
    np.testing.assert_array_equal(dst_y, [3, 3, 3, 3])
    np.testing.assert_array_equal(inside, [False, True, True, True])


def test_place_component_rejects_bad_input():
    ys = np.array([1, 2])
    with pytest.raises(ValueError, match="same shape"):
        fs.place_component(ys, np.array([1]), (0, 0), (0, 0), (4, 4))
    with pytest.raises(ValueError, match="integer"):
        fs.place_component(ys.astype(float), ys, (0, 0), (0, 0), (4, 4))
    with pytest.raises(ValueError, match="finite"):
        fs.place_component(ys, ys, (np.nan, 0), (0, 0), (4, 4))
    with pytest.raises(ValueError, match="pair"):
        fs.place_component(ys, ys, (0, 0, 0), (0, 0), (4, 4))
    # coordinates beyond int64 are mapped to the sentinel and flagged outside (no undefined cast)
    huge = fs.place_component(ys, ys, (0, 0), (1.0, 1.0), (4, 4), quarter_turns=0, scale=1e300)
    np.testing.assert_array_equal(huge[0], [ks.COORD_SENTINEL] * 2)
    assert not huge[2].any()
    want = ref.place_component_numpy(ys, ys, (0, 0), (1.0, 1.0), (4, 4), quarter_turns=0, scale=1e300)
    for got, w in zip(huge, want):
        np.testing.assert_array_equal(got, w)
    # the raw kernel with a NaN shift (no wrapper): sentinel, outside
    nan_case = place_kernel(ys, ys, (0.0, 0.0), (0.0, 0.0), (4, 4), 0, 1.0, (np.nan, 0.0))
    np.testing.assert_array_equal(nan_case[0], [ks.COORD_SENTINEL] * 2)
    np.testing.assert_array_equal(nan_case[1], [1, 2])
    assert not nan_case[2].any()
    assert fs.place_component(ys, ys, (0, 0), (0, 0), (4, 4, 3), quarter_turns=0)[2].all()


# --------------------------------------------------------------------------- D. affinity


def test_pixel_affinity_matches_reference():
    rng = np.random.default_rng(7)
    phi_t = rng.normal(size=(300, 8))
    phi_s = rng.normal(size=(120, 8))
    m = 500
    dst = rng.integers(-50, 350, m)
    src = rng.integers(0, 120, m)
    inside = ((dst >= 0) & (dst < 300)).astype(np.uint8)
    out = np.empty(m)
    ks.pixel_affinity(phi_t, phi_s, dst, src, inside, out)
    want = ref.pixel_affinity_numpy(phi_t, phi_s, dst, src, inside)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert np.isnan(out[inside == 0]).all() and np.isfinite(out[inside == 1]).all()
    got = fs.pixel_affinity(phi_t, phi_s, dst, src, inside.astype(bool))
    np.testing.assert_array_equal(got, out)
    # self affinity of a pixel with itself is its squared row norm
    same = fs.pixel_affinity(phi_t, phi_t, np.arange(300), np.arange(300), np.ones(300, bool))
    np.testing.assert_allclose(same, (phi_t**2).sum(axis=1), rtol=1e-12)
    assert fs.pixel_affinity(phi_t, phi_s, dst[:0], src[:0], inside[:0]).shape == (0,)


def test_pixel_affinity_rejects_bad_input():
    phi = np.ones((4, 3))
    idx = np.array([0, 5])
    with pytest.raises(ValueError, match="dst_flat"):
        fs.pixel_affinity(phi, phi, idx, np.array([0, 1]), np.ones(2, bool))
    with pytest.raises(ValueError, match="columns"):
        fs.pixel_affinity(phi, np.ones((4, 2)), idx, idx, np.zeros(2, bool))
    with pytest.raises(ValueError, match="same shape"):
        fs.pixel_affinity(phi, phi, idx, idx[:1], np.zeros(2, bool))
    # out-of-range indices are fine where not inside
    assert np.isnan(fs.pixel_affinity(phi, phi, idx, np.array([0, 99]), np.array([True, False]))[1])


# --------------------------------------------------------------------------- E. gated copy


def copy_kernel(out, colours, dst_y, dst_x, keep, guard, threshold):
    out = out.copy()
    copied = np.empty(len(dst_y), np.uint8)
    count = ks.gated_copy(out, colours, dst_y, dst_x, keep, guard, threshold, copied)
    return out, copied, count


def copy_reference(copy, out, colours, dst_y, dst_x, keep, guard, threshold):
    """A reference gated copy (in place) into a copy of ``out``: (image, copied, count)."""
    out = out.copy()
    copied, count = copy(out, colours, dst_y, dst_x, keep, guard, threshold)
    return out, copied, count


@settings(deadline=None, max_examples=40)
@given(
    height=st.integers(1, 16),
    width=st.integers(1, 16),
    m=st.integers(0, 80),
    keep_p=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_gated_copy_matches_reference_and_guards(height, width, m, keep_p, seed):
    rng = np.random.default_rng(seed)
    image = rng.random((height, width, 3))
    guard = rng.random((height, width))
    guard[rng.random((height, width)) < 0.1] = np.nan
    threshold = 0.3
    colours = rng.random((m, 3))
    dst_y = rng.integers(-3, height + 3, m)  # some outside, many collisions
    dst_x = rng.integers(-3, width + 3, m)
    keep = (rng.random(m) < keep_p).astype(np.uint8)
    got = copy_kernel(image, colours, dst_y, dst_x, keep, guard, threshold)
    for name, copy in (("loop", ref.gated_copy_loop), ("numpy", ref.gated_copy_numpy)):
        want = copy_reference(copy, image, colours, dst_y, dst_x, keep, guard, threshold)
        np.testing.assert_array_equal(got[0], want[0], err_msg=name)
        np.testing.assert_array_equal(got[1], want[1], err_msg=name)
        assert got[2] == want[2]
    out, copied, count = got
    # ink (guard <= threshold, or NaN) is never overwritten
    protected = ~(guard > threshold)
    np.testing.assert_array_equal(out[protected], image[protected])
    # keep is honoured and every copy has a passing guard
    assert not (copied & (keep == 0)).any()
    assert all(guard[dst_y[j], dst_x[j]] > threshold for j in np.flatnonzero(copied))
    # wrapper (in place) agrees
    in_place = image.copy()
    written = fs.gated_copy(in_place, colours, dst_y, dst_x, keep.astype(bool), guard, threshold)
    np.testing.assert_array_equal(in_place, out)
    np.testing.assert_array_equal(written, copied.astype(bool))


def test_gated_copy_last_write_wins_and_keep_mask():
    image = np.zeros((3, 3, 3))
    guard = np.ones((3, 3))
    guard[0, 0] = 0.3  # exactly the threshold: protected (strict >)
    colours = np.array([[0.1] * 3, [0.2] * 3, [0.3] * 3, [0.9] * 3, [0.5] * 3])
    dst_y = np.array([1, 1, 1, 0, 2])
    dst_x = np.array([1, 1, 1, 0, 2])
    keep = np.array([1, 1, 0, 1, 0], np.uint8)
    out, copied, count = copy_kernel(image, colours, dst_y, dst_x, keep, guard, 0.3)
    np.testing.assert_array_equal(out[1, 1], [0.2] * 3)  # third is not kept; second is the last kept write
    np.testing.assert_array_equal(out[0, 0], 0.0)  # guard == threshold
    np.testing.assert_array_equal(out[2, 2], 0.0)  # not kept
    np.testing.assert_array_equal(copied, [1, 1, 0, 0, 0])
    assert count == 2
    nothing = copy_kernel(image, colours, dst_y, dst_x, np.zeros(5, np.uint8), guard, -np.inf)
    np.testing.assert_array_equal(nothing[0], image)
    assert nothing[2] == 0


def test_gated_copy_wrapper_contract():
    out = np.zeros((4, 4, 3))
    guard = np.ones((4, 4))
    colours = np.full((2, 3), 0.5)
    ys = np.array([0, 3])
    written = fs.gated_copy(out, colours, ys, ys, None, guard, 0.3)
    assert written.tolist() == [True, True] and out[3, 3, 0] == 0.5
    with pytest.raises(ValueError, match="in place"):
        fs.gated_copy(out.astype(np.float32), colours, ys, ys, None, guard, 0.3)
    with pytest.raises(ValueError, match="in place"):
        fs.gated_copy(np.zeros((4, 3, 4)).transpose(0, 2, 1), colours, ys, ys, None, guard, 0.3)
    with pytest.raises(ValueError, match="colours"):
        fs.gated_copy(out, np.ones((2, 4)), ys, ys, None, guard, 0.3)
    with pytest.raises(ValueError, match="keep"):
        fs.gated_copy(out, colours, ys, ys, np.ones(3, bool), guard, 0.3)
    with pytest.raises(ValueError, match="guard"):
        fs.gated_copy(out, colours, ys, ys, None, np.ones((3, 4)), 0.3)
    with pytest.raises(ValueError, match="NaN"):
        fs.gated_copy(out, colours, ys, ys, None, guard, np.nan)
    # colours that are a view of out are copied first: shifting row 0 right by one must not smear
    img = np.arange(48, dtype=np.float64).reshape(4, 4, 3)
    want = img.copy()
    want[0, 1:4] = img[0, 0:3]
    fs.gated_copy(img, img[0, 0:3], np.zeros(3, np.int64), np.arange(1, 4), None, np.ones((4, 4)), 0.0)
    np.testing.assert_array_equal(img, want)


def test_self_shadow_pipeline_never_paints_ink():
    # L-shaped ink next to paper: a full self-path shadow (place -> hue -> gated copy) leaves ink intact.
    height = width = 20
    image = np.ones((height, width, 3))
    image[4:10, 5] = 0.0
    image[9, 5:9] = 0.0
    carrier = image.mean(axis=2)
    ys, xs = np.nonzero(carrier < 0.5)
    c = (ys.mean(), xs.mean())
    dst_y, dst_x, inside = fs.place_component(ys, xs, c, c, (height, width), quarter_turns=1, shift=(1.0, 2.0))
    colours = fs.hue_rotate(image[ys, xs], 1.0)
    out = image.copy()
    written = fs.gated_copy(out, colours, dst_y, dst_x, inside, carrier, 0.3)
    assert written.any()
    ink = carrier <= 0.3
    np.testing.assert_array_equal(out[ink], image[ink])
    want, copied, _ = copy_reference(ref.gated_copy_loop, image, colours, dst_y, dst_x, inside, carrier, 0.3)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(written, copied.astype(bool))


# --------------------------------------------------------------------------- embedding contract


@numba.njit
def _user_pipeline(
    src, out, sources, dir_y, dir_x, budget, contours, guard, ys, xs, cy, cx, buffers, picked, colours, phi
):
    """A user's own njit function chaining every shading kernel on raw, preallocated arrays."""
    height, width = contours.shape
    written, dst_y, dst_x, inside, dst_flat, src_flat, affinity, copied = buffers
    n_thick = perpendicular_scatter(src, out, sources, dir_y, dir_x, budget, contours, 3, written)
    place_component(ys, xs, cy, cx, cy, cx, 1, 1.0, 2.0, 1.0, height, width, False, dst_y, dst_x, inside)
    for j in range(ys.shape[0]):
        for c in range(3):
            picked[j, c] = out[ys[j], xs[j], c]
        dst_flat[j] = dst_y[j] * width + dst_x[j]
        src_flat[j] = ys[j] * width + xs[j]
    hue_rotate(picked, 1.0, colours)
    pixel_affinity(phi, phi, dst_flat, src_flat, inside, affinity)
    n_copy = gated_copy(out, colours, dst_y, dst_x, inside, guard, 0.3, copied)
    return n_thick, n_copy


def test_kernels_callable_from_user_njit():
    rng = np.random.default_rng(9)
    height, width = 16, 18
    src = np.ones((height, width, 3))
    contours, t_y, t_x = stroke_mask("curved", height, width)
    src[contours == 1] = 0.0
    guard = src.mean(axis=2)
    sources = np.flatnonzero(contours).astype(np.int64)
    budget = rng.uniform(0.9, 3.0, (height, width))
    ys, xs = (a.astype(np.int64) for a in np.nonzero(contours))
    m = ys.size
    c = (ys.mean(), xs.mean())
    out = src.copy()
    written = np.zeros((height, width), np.uint8)
    dst_y, dst_x, dst_flat, src_flat = (np.empty(m, np.int64) for _ in range(4))
    inside, copied = np.empty(m, np.uint8), np.empty(m, np.uint8)
    affinity = np.empty(m)
    buffers = (written, dst_y, dst_x, inside, dst_flat, src_flat, affinity, copied)
    picked, colours = np.empty((m, 3)), np.empty((m, 3))
    phi = np.ones((height * width, 2))
    n_thick, n_copy = _user_pipeline(
        src, out, sources, -t_x, t_y, budget, contours, guard, ys, xs, c[0], c[1], buffers, picked, colours, phi
    )
    # the same chain through the Python-level wrappers
    thick, thick_written = fs.perpendicular_scatter(src, sources, -t_x, t_y, budget, contours, 3)
    np.testing.assert_array_equal(written, thick_written)
    want_y, want_x, want_inside = fs.place_component(ys, xs, c, c, (height, width), shift=(2.0, 1.0))
    np.testing.assert_array_equal(dst_y, want_y)
    np.testing.assert_array_equal(dst_x, want_x)
    want_colours = fs.hue_rotate(thick[ys, xs], 1.0)
    np.testing.assert_array_equal(colours, want_colours)
    want_copied = fs.gated_copy(thick, want_colours, want_y, want_x, want_inside, guard, 0.3)
    np.testing.assert_array_equal(out, thick)
    np.testing.assert_array_equal(copied, want_copied)
    assert n_copy == want_copied.sum() > 0 and n_thick > 0
    np.testing.assert_array_equal(np.isnan(affinity), ~want_inside)
    np.testing.assert_array_equal(affinity[want_inside], 2.0)


# --------------------------------------------------------------------------- channel_sum, column_energy


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 9, 3), (9, 1, 3), (17, 23, 3), (4, 5, 4), (3, 3, 1)],
                         ids=str)
def test_channel_sum_matches_numpy_exactly(shape):
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    rgb = rng.random(shape)
    for arr in (rgb, np.asfortranarray(rgb), rgb[:, ::-1]):  # any strides
        out = np.full(arr.shape[:2], np.nan)
        ks.channel_sum(arr, out)
        np.testing.assert_array_equal(out, arr.sum(axis=2))


@pytest.mark.parametrize(("n", "k", "first"), [(1, 1, 0), (1, 8, 2), (50, 8, 2), (50, 3, 2),
                                               (50, 2, 2), (7, 4, 9)])
def test_column_energy_matches_numpy(n, k, first):
    rng = np.random.default_rng(n + k)
    phi = rng.standard_normal((n, k))
    for arr in (phi, np.asfortranarray(phi)):
        out = np.full(n, np.nan)
        ks.column_energy(arr, first, out)
        ref = np.square(arr[:, first:]).sum(axis=1)  # zeros when first >= k
        np.testing.assert_allclose(out, ref, rtol=1e-15, atol=0)
