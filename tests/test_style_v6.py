"""Style v6 (original-system.md §4.1): each rule against hand-computed cases, the kernel against its
NumPy twin, the stage bookkeeping, determinism and the command line."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from scipy import ndimage

from fastshade.demo import demo_image
from fastshade.kernels.v6 import cyclic_tint_pixel, nearest_contour_fill
from fastshade.pipeline.paper import paper_ink_model
from fastshade.pipeline.stagelog import quantised_change
from fastshade.pipeline.v6paint import (
    WRITE_FRONT,
    WRITE_SHADOW,
    V6Pass,
    dilate_cross,
    draw_segments,
    segment_pushes,
    select_segments,
    sobel_gradient,
    thicken_v6,
    v6_contours,
    v6_gate,
)
from fastshade.reference.v6 import cyclic_tint_numpy, draw_copies_numpy, nearest_contour_fill_numpy
from fastshade.styles import STYLES, decay_effect, shade_arrays

ROOT = Path(__file__).resolve().parents[1]


# --- the cyclic colour transforms ------------------------------------------------------------

def _by_hand(rgb, rho, kappa):
    """The §4.1 formula written out channel by channel with math (not the module's code)."""
    r, g, b = rgb
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    new = [0.5 + 0.4 * math.sin(2 * math.pi * lum + rho * math.pi + k * 2 * math.pi / 3) for k in range(3)]
    beta = min(0.5 * kappa, 0.9)
    out = [(1 - beta) * c + beta * n for c, n in zip(rgb, new)]
    m = sum(out) / 3
    return [min(max(m + (c - m) * (1 + 0.3 * kappa), 0.0), 1.0) for c in out]


def _shadow_by_hand(rgb, e):
    r, g, b = _by_hand(rgb, 0.3 * e, 0.8 * e)
    return [0.7 * r, g, 0.7 * b + 0.3]


def _front_by_hand(rgb, e):
    r, g, b = _by_hand(rgb, 0.2 * e, 0.6 * e)
    return [0.6 * r, 0.8 * g + 0.2, 0.8 * b + 0.15]


@pytest.mark.parametrize("rgb", [(0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (1.0, 0.0, 0.0), (0.2, 0.6, 0.9)])
@pytest.mark.parametrize("rho,kappa", [(0.3, 0.8), (0.2, 0.6), (0.3 * 0.75, 0.8 * 0.75), (0.0, 2.0)])
def test_cyclic_tint_is_the_formula(rgb, rho, kappa):
    got = np.empty(3)
    cyclic_tint_pixel(*rgb, rho, kappa, got)
    assert got == pytest.approx(_by_hand(rgb, rho, kappa), abs=1e-12)
    assert cyclic_tint_numpy(np.array(rgb), rho, kappa) == pytest.approx(_by_hand(rgb, rho, kappa), abs=1e-12)


def test_black_ink_gives_the_originals_shadow_and_front_colours():
    # Black, e = 1: lum 0, sin(0.3 pi + phi) = (0.8090, 0.1045, -0.9135) -> new (0.8236, 0.5418, 0.1346);
    # beta 0.4 -> (0.3294, 0.2167, 0.0538), mean 0.2000, x1.24 -> (0.3606, 0.2207, 0.0186);
    # B <- 0.7B + 0.3 = 0.3130, R <- 0.7R = 0.2524.  8-bit (truncated, as the original wrote):
    # (64, 56, 79), the purple-grey of reference/README.md.  The front, the same way: (35, 93, 40).
    shadow, front = _drawn_colours((0.0, 0.0, 0.0), 1.0)
    assert shadow == pytest.approx([0.2524, 0.2207, 0.3130], abs=2e-4)
    assert (shadow * 255).astype(int).tolist() == [64, 56, 79]
    assert (front * 255).astype(int).tolist() == [35, 93, 40]


@pytest.mark.parametrize("rgb", [(0.3, 0.5, 0.7), (0.9, 0.1, 0.2), (1.0, 1.0, 1.0)])
@pytest.mark.parametrize("e", [1.0, 0.5625])
def test_drawn_copies_carry_the_tints_and_channel_changes(rgb, e):
    shadow, front = _drawn_colours(rgb, e)
    assert shadow == pytest.approx(_shadow_by_hand(rgb, e), abs=1e-12)
    assert front == pytest.approx(_front_by_hand(rgb, e), abs=1e-12)


def _drawn_colours(rgb, e):
    """Shadow and front colours of a one-segment drawing in colour ``rgb`` at effect ``e``."""
    img = np.ones((30, 30, 3))
    img[5, 2:14] = rgb
    contours = np.zeros((30, 30), bool)
    contours[5, 2:14] = True
    segs = select_segments(contours, np.zeros((30, 30)), 0.65, 2000, min_pixels=4)
    writer = np.full((30, 30), -1, np.int8)
    out = img.copy()
    draw_segments(out, segs, (np.zeros((30, 30)), np.zeros((30, 30))), V6Pass(1, e), None, writer)  # no push
    return out[writer == WRITE_SHADOW][0], out[writer == WRITE_FRONT][0]


# --- the per-pass schedule ------------------------------------------------------------------

def test_decay_schedule_thresholds_and_lengths():
    # reference/README.md, "Parameters": thickness 5,3,2,2,1,1,1,1; gate 0.65 .. 0.25; offset 7,5,3,2,2,1,1,0
    steps = [V6Pass(p, decay_effect(p)) for p in range(1, 9)]
    assert [s.thickness for s in steps] == [5, 3, 2, 2, 1, 1, 1, 1]
    assert [s.gate_threshold for s in steps] == pytest.approx([0.65, 0.57, 0.49, 0.41, 0.33, 0.25, 0.25, 0.25])
    assert [s.shadow_offset for s in steps] == [7, 5, 3, 2, 2, 1, 1, 0]
    assert [s.max_segments for s in steps[:4]] == [2000, 1500, 1125, 843]
    assert steps[1].push == 22.5
    assert V6Pass(40, decay_effect(40)).max_segments == 100 and V6Pass(1, 0.001).max_segments == 5
    assert STYLES["v6"].envelope == "decay"


def test_gate_is_the_sigmoid_of_the_min_max_field():
    f = np.array([[-3.0, -1.0], [0.0, 5.0]])
    fhat = (f + 3.0) / 8.0
    assert v6_gate(f) == pytest.approx(1 / (1 + np.exp(-10 * (fhat - 0.5))), abs=1e-7)
    assert v6_gate(np.full((2, 2), 4.0)) == pytest.approx(np.full((2, 2), 1 / (1 + math.exp(5))))


def test_contours_are_one_standard_deviation_from_the_mean_grey():
    grey = np.ones((10, 10))
    grey[2, 3] = grey[7, 7] = 0.0
    grey[5, 5] = 0.9  # |z| = 0.1 / std: below 1
    expect = np.abs(grey - grey.mean()) > grey.std(ddof=1)
    assert np.array_equal(v6_contours(grey), expect)
    assert v6_contours(grey).sum() == 2


# --- thickening ----------------------------------------------------------------------------

def test_dilation_is_scipys_cross_dilation():
    rng = np.random.default_rng(3)
    mask = rng.random((23, 17)) > 0.93
    for t in (1, 2, 5):
        assert np.array_equal(dilate_cross(mask, t), ndimage.binary_dilation(mask, iterations=t))


def _fill_case(contours, ys, xs, radius, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.random(contours.shape + (3,))
    out = np.zeros_like(src)
    filled = np.empty(len(ys), np.uint8)
    nearest_contour_fill(contours.astype(np.uint8), np.asarray(ys, np.int64), np.asarray(xs, np.int64),
                         radius, src, out, filled)
    colours, ok = nearest_contour_fill_numpy(contours, ys, xs, radius, src)
    assert np.array_equal(filled.astype(bool), ok)
    assert np.array_equal(out[np.asarray(ys)[ok], np.asarray(xs)[ok]], colours[ok])
    return src, out, ok


def test_nearest_contour_fill_matches_its_twin_on_random_masks():
    rng = np.random.default_rng(7)
    for seed in range(4):
        contours = rng.random((31, 29)) > 0.9
        ys, xs = np.nonzero(~contours)
        _fill_case(contours, ys, xs, 3, seed)


def test_nearest_contour_fill_edge_cases():
    contours = np.zeros((5, 6), bool)
    _, _, ok = _fill_case(contours, [0, 4], [0, 5], 9)  # no contour at all: nothing filled
    assert not ok.any()
    contours[0, 0] = True
    _, _, ok = _fill_case(contours, [4], [5], 3)  # out of reach (Chebyshev distance 5)
    assert not ok.any()
    src, out, ok = _fill_case(contours, [4], [5], 5)
    assert ok.all() and np.array_equal(out[4, 5], src[0, 0])


def test_nearest_contour_fill_takes_the_first_square_then_the_nearest_then_raster_order():
    contours = np.zeros((9, 9), bool)
    contours[2, 2] = True  # corner of the radius-2 square around (4, 4): distance sqrt 8
    contours[4, 7] = True  # radius 3, distance 3 < sqrt 8 but in a later square
    src, out, _ = _fill_case(contours, [4], [4], 6)
    assert np.array_equal(out[4, 4], src[2, 2])
    contours[:] = False
    contours[3, 5] = contours[5, 3] = True  # a tie at radius 1: the first in raster order wins
    src, out, _ = _fill_case(contours, [4], [4], 6)
    assert np.array_equal(out[4, 4], src[3, 5])


def test_thickening_writes_only_open_gate_pixels_next_to_contours():
    img = np.ones((20, 20, 3))
    img[10, 3:17] = [0.1, 0.2, 0.3]
    contours = v6_contours(img.mean(axis=2))
    gate = np.zeros((20, 20))
    gate[:, 10:] = 0.9  # open on the right half only
    out = img.copy()
    done = thicken_v6(out, img, contours, gate, 2)
    expect = ndimage.binary_dilation(contours, iterations=2) & ~contours & (gate > 0.5)
    assert np.array_equal(done, expect)
    assert np.all(out[done] == [0.1, 0.2, 0.3]) and np.all(out[~done & ~contours] == 1.0)


def test_sobel_is_scipys():
    grey = np.random.default_rng(1).random((12, 15))
    gy, gx = sobel_gradient(grey)
    assert gy == pytest.approx(ndimage.sobel(grey, axis=0), abs=1e-12)
    assert gx == pytest.approx(ndimage.sobel(grey, axis=1), abs=1e-12)


# --- segments ------------------------------------------------------------------------------

def test_segments_are_4_connected():
    contours = np.zeros((30, 30), bool)
    contours[np.arange(12), np.arange(12)] = True  # a diagonal: twelve 1-px 4-components
    contours[20, 5:25] = True  # a 20-px horizontal run: one segment (32 eligible px: no fallback)
    segs = select_segments(contours, np.zeros((30, 30)), 0.65, 2000)
    assert not segs.fallback and segs.components.n == 13
    assert segs.chosen.tolist() == [12] and segs.components.sizes[12] == 20


def test_segment_cap_examines_label_ids_up_to_2m_minus_1_and_keeps_m():
    contours = np.zeros((60, 60), bool)
    for i in range(8):  # label ids 1..8: 5-px runs, too small
        contours[2 * i, 0:5] = True
    for i in range(12):  # label ids 9..20: 12-px runs
        contours[20 + 2 * i, 0:12] = True
    gate = np.zeros((60, 60))
    # M = 5: ids 1..9 examined, only id 9 (index 8) is big enough
    assert select_segments(contours, gate, 0.65, 5).chosen.tolist() == [8]
    # M = 10: ids 1..19 examined, 11 big ones among them, stop after 10
    assert select_segments(contours, gate, 0.65, 10).chosen.tolist() == list(range(8, 18))


def test_median_fallback_below_three_segments_worth_of_pixels():
    contours = np.zeros((10, 40), bool)
    contours[5, 0:40] = True
    gate = np.tile(np.linspace(0.7, 0.9, 40), (10, 1))  # nothing below 0.65
    segs = select_segments(contours, gate, 0.65, 2000)
    assert segs.fallback and segs.eligible.sum() == 20 and segs.chosen.tolist() == [0]


# --- push, placement, shadow and front -----------------------------------------------------

def test_push_is_the_truncated_unit_gradient_times_30e():
    gy, gx = np.zeros((5, 5)), np.zeros((5, 5))
    gy[2, 3], gx[2, 3] = 3.0, -4.0  # unit (0.6, -0.8); x 22.5 = (13.5, -18.0) -> (13, -18)
    gy[4, 0], gx[4, 0] = -1.0, 1.0  # unit (-0.7071, 0.7071); x 30 = (-21.2, 21.2) -> (-21, 21)
    got = segment_pushes(gy, gx, np.array([[2.9, 3.7], [1.0, 1.0], [4.5, 0.2]]), 22.5)
    assert got.tolist() == [[13, -18], [0, 0], [-15, 15]]  # no gradient, no push; -15.9 truncates to -15
    assert segment_pushes(gy, gx, np.array([[4.0, 0.0]]), 30.0).tolist() == [[-21, 21]]


def _l_segment():
    """A white 40x60 image with one L-shaped black segment: box rows 10..13, cols 20..22."""
    img = np.ones((40, 60, 3))
    img[10:14, 20] = 0.0  # vertical bar, 4 px
    img[13, 21:23] = 0.0  # foot, 2 px (6 px in all)
    contours = img[:, :, 0] < 0.5
    return img, contours


def test_patch_is_rotated_and_placed_at_the_box_corner_with_the_shadow_offset():
    img, contours = _l_segment()
    segs = select_segments(contours, np.zeros((40, 60)), 0.65, 2000, min_pixels=2)
    gy, gx = np.zeros((40, 60)), np.zeros((40, 60))
    gx[:, :] = 1.0  # push along +x: int(30 e) px; with e = 0.75: 22 px right, shadow 5 px
    out = img.copy()
    writer = np.full((40, 60), -1, np.int8)
    step = V6Pass(2, 0.75)
    log = draw_segments(out, segs, (gy, gx), step, None, writer)
    assert log[0]["push"] == [0, 22] and log[0]["corner"] == [10, 42]
    # rot90(k=1) of the 4x3 box: (r, c) -> (2 - c, r); bar (r, 0) -> (2, r), foot (3, 1), (3, 2) -> (1, 3), (0, 3)
    front = {(10 + 2, 42 + r) for r in range(4)} | {(10 + 1, 42 + 3), (10 + 0, 42 + 3)}
    shadow = {(y + 5, x + 5) for y, x in front}
    got_front = set(zip(*np.nonzero(writer == WRITE_FRONT)))
    got_shadow = set(zip(*np.nonzero(writer == WRITE_SHADOW)))
    assert got_front == front
    assert got_shadow == shadow - front  # the front is drawn over the shadow
    for y, x in front:
        assert out[y, x] == pytest.approx(_front_by_hand((0.0, 0.0, 0.0), 0.75))
    for y, x in shadow - front:
        assert out[y, x] == pytest.approx(_shadow_by_hand((0.0, 0.0, 0.0), 0.75))
    assert np.array_equal(out[contours], img[contours])  # the source is left alone


def test_copies_skip_guarded_pixels_and_the_image_border():
    img, contours = _l_segment()
    segs = select_segments(contours, np.zeros((40, 60)), 0.65, 2000, min_pixels=2)
    gy, gx = np.zeros((40, 60)), np.ones((40, 60))
    guard = np.zeros((40, 60), bool)
    guard[12, 50:52] = True  # two of the front's pixels
    out = img.copy()
    writer = np.full((40, 60), -1, np.int8)
    log = draw_segments(out, segs, (gy, gx), V6Pass(1, 1.0), guard, writer)  # push 30 -> corner x 50
    assert log[0]["corner"] == [10, 50]
    assert not (writer[guard] >= 0).any()
    # front: (12, 50..53), (11, 53), (10, 53), less the two guarded ones
    assert log[0]["front_written"] == 4 and np.all(out[12, 50:52] == 1.0)
    # shadow at (17, 57): (19, 57..60), (18, 60), (17, 60); x = 60 is outside the 60-px width
    assert log[0]["shadow_written"] == 3


def test_draw_kernel_matches_its_twin_on_random_segments():
    rng = np.random.default_rng(11)
    for trial in range(3):
        h, w = 48, 56
        img = rng.random((h, w, 3))
        contours = rng.random((h, w)) > 0.45
        gate = rng.random((h, w))
        segs = select_segments(contours, gate, 0.65, 40, min_pixels=3)
        assert len(segs.chosen) > 5
        gy, gx = rng.normal(size=(h, w)), rng.normal(size=(h, w))
        guard = rng.random((h, w)) > 0.8
        step = V6Pass(trial + 1, 0.75 ** trial)
        out = img.copy()
        writer = np.full((h, w), -1, np.int8)
        log = draw_segments(out, segs, (gy, gx), step, guard, writer)
        ref = [(int(i) + 1, tuple(int(v) for v in segs.components.bbox[i]), tuple(entry["push"]))
               for i, entry in zip(segs.chosen, log)]
        ref_out, ref_writer, ref_written = draw_copies_numpy(img, segs.components.labels, ref, step.shadow_offset,
                                                             step.effect, guard)
        assert out == pytest.approx(ref_out, abs=1e-12)
        assert np.array_equal(writer, ref_writer)
        assert [[e["shadow_written"], e["front_written"]] for e in log] == ref_written.tolist()


# --- the style -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_two_passes():
    img = demo_image(128, 128)
    res = shade_arrays(img, None, {"style": "v6", "passes": 2})
    return img, res


def test_stats_equal_the_pixels_and_nothing_paints_over_ink(demo_two_passes):
    img, res = demo_two_passes
    changed = quantised_change(img, res.image)
    assert res.stats["changed_pixels"] == int(changed.sum()) > 0
    assert sum(res.stats["changed_by_stage"].values()) == res.stats["changed_pixels"]
    assert set(res.stats["changed_by_stage"]) <= {"thicken", "shadow", "front"}
    assert res.stats["style"] == "v6" and res.stats["envelope"] == "decay"
    assert [p["effect"] for p in res.stats["passes"]] == [1.0, 0.75]
    ink = paper_ink_model(img).ink
    assert ink.sum() > 500 and not (changed & ink).any()


def test_deterministic(demo_two_passes):
    img, res = demo_two_passes
    again = shade_arrays(img, None, {"style": "v6", "passes": 2})
    assert np.array_equal(res.image, again.image)


def test_blank_image_and_cross_mode():
    blank = np.ones((16, 16, 3))
    res = shade_arrays(blank, None, {"style": "v6"})
    assert np.array_equal(res.image, blank) and res.stats["changed_pixels"] == 0
    with pytest.raises(ValueError, match="no cross mode"):
        shade_arrays(demo_image(32, 32), demo_image(32, 32), {"style": "v6"})


def test_krylov_field_and_alpha():
    img = demo_image(64, 64)
    res = shade_arrays(img, None, {"style": "v6", "basis": "krylov"})
    assert res.stats["basis"]["method"] == "krylov" and res.stats["changed_pixels"] > 0
    rgba = np.concatenate([img, np.full((64, 64, 1), 0.5)], axis=2)
    res = shade_arrays(rgba, None, {"style": "v6"})
    assert res.image.shape == (64, 64, 4)
    written = res.stage_of >= 0
    # issue 20: a mark on semi-transparent paper gets its coverage as alpha, untouched pixels keep theirs
    assert written.any() and np.all(res.image[written, 3] >= 0.5) and np.all(res.image[~written, 3] == 0.5)


def test_cli_v6_two_passes(tmp_path):
    from fastshade.io import write_image

    src = tmp_path / "d.png"
    write_image(src, demo_image(96, 96), bit_depth=8)
    out, stats = tmp_path / "o.png", tmp_path / "s.json"
    proc = subprocess.run([sys.executable, "-m", "fastshade", "shade", str(src), "-o", str(out), "--style", "v6",
                           "--passes", "2", "--save-passes", "--stats", str(stats)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    s = json.loads(stats.read_text())
    assert s["style"] == "v6" and len(s["passes"]) == 2 and s["options"]["field_smoothing"] == 10.0
    last = iio.imread(out)
    assert np.array_equal(iio.imread(tmp_path / "o.pass2.png"), last)
    assert s["changed_pixels"] == int((iio.imread(src)[..., :3] != last[..., :3]).any(axis=2).sum())
    proc = subprocess.run([sys.executable, "-m", "fastshade", "shade", str(src), "-o", str(tmp_path / "x.png"),
                           "--style", "v6", "--sample", str(src)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode != 0 and "no cross mode" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_style_rows():
    from fastshade.bench.cases import build_cases

    cases = build_cases([], [Path("toof.png")], original_size=False, styles=["v12", "v6"], style_passes=[1, 4])
    rows = [c for c in cases if c["kind"] == "style"]
    assert [c["name"] for c in rows] == ["style:v12:p1", "style:v12:p4", "style:v6:p1", "style:v6:p4"]
    assert rows[3]["options"] == {"style": "v6", "passes": 4, "envelope": "auto"} and rows[3]["mode"] == "self"


def _square_page():
    """A 6x6 black square at rows/cols 10..15 on a 40x40 white page (36 ink pixels of 1600)."""
    img = np.ones((40, 40, 3))
    img[10:16, 10:16] = 0.0
    return img


@pytest.mark.parametrize("ink_guard", [0.3, 0.0])
def test_ink_guard_zero_lets_the_copies_land_on_ink(monkeypatch, ink_guard):
    """A filled square, a flat field: by §4.1 the gate is σ(10(0 - 0.5)) < 0.5 everywhere (no
    thickening), the 36 square pixels are the contours and one eligible segment (>= 30 px: no
    median fallback); the Sobel gradient at its centre (12, 12) is 0, so the push is 0 and the
    rot90 copy of the full 6x6
    patch lands on the square itself (front) and 7 px down-right (shadow).  With the guard the
    front cannot touch the ink; with ``ink_guard=0`` every square pixel takes the front tint of
    black, as the original's copies re-tint red-tonegraph's filled squares."""
    from fastshade.styles import v6 as v6_style

    monkeypatch.setattr(v6_style, "v6_field", lambda grey, opts, timer, scale=1.0: (np.zeros(grey.shape), None))
    img = _square_page()
    res = shade_arrays(img, None, {"style": "v6", "ink_guard": ink_guard})
    changed = quantised_change(img, res.image)
    square = np.zeros((40, 40), bool)
    square[10:16, 10:16] = True
    shadow = np.zeros((40, 40), bool)
    shadow[17:23, 17:23] = True
    assert res.stats["v6"]["median_fallback"] is False and len(res.stats["placements"]) == 1
    assert res.stats["placements"][0]["push"] == [0, 0] and res.stats["placements"][0]["corner"] == [10, 10]
    if ink_guard > 0:
        assert np.array_equal(changed, shadow) and res.stats["ink_guard"] is True
        assert np.all(res.image[square] == 0.0)
    else:
        assert np.array_equal(changed, shadow | square) and res.stats["ink_guard"] is False
        assert res.image[square] == pytest.approx(np.tile(_front_by_hand((0.0, 0.0, 0.0), 1.0), (36, 1)))
    assert res.image[shadow] == pytest.approx(np.tile(_shadow_by_hand((0.0, 0.0, 0.0), 1.0), (36, 1)))
    expected = {"thicken": 0, "shadow": 36, "front": 0 if ink_guard > 0 else 36}
    assert res.stats["changed_by_stage"] == expected


def test_later_passes_protect_the_drawings_ink_not_the_earlier_copies():
    """The guard of pass 2 is the drawing's ink (the first pass's paper/ink model), so pass 2's
    copies may land on pass 1's marks, as the original's did; the drawing's ink stays untouched."""
    from fastshade.styles import resolve_options
    from fastshade.styles import v6 as v6_style
    from fastshade.styles.envelope import pass_schedule

    img = demo_image(128, 128)
    opts = resolve_options({"style": "v6"})
    first = v6_style.paint_pass(img, None, opts, pass_schedule("decay", 2)[0], force_cross=False,
                                clock=lambda: 0.0)
    ink = paper_ink_model(img).ink
    assert (paper_ink_model(first.image).ink & ~ink).sum() > 100  # pass 1's marks: ink to the output's model
    # pass 2 as the runner gives it (the drawing's model on the step) protects the drawing's ink
    second = dataclasses.replace(pass_schedule("decay", 2)[1], drawing=paper_ink_model(img))
    assert np.array_equal(second.drawing_ink(first.image, None), ink)
    again = v6_style.paint_pass(first.image, None, opts, second, force_cross=False, clock=lambda: 0.0)
    alone = v6_style.paint_pass(first.image, None, opts, pass_schedule("decay", 2)[1], force_cross=False,
                                clock=lambda: 0.0)  # outside the runner: its own input's ink
    landed = quantised_change(first.image, again.image) & ~ink
    assert (landed & (paper_ink_model(first.image).ink & ~ink)).any()  # on pass 1's marks
    assert not (quantised_change(first.image, alone.image) & paper_ink_model(first.image).ink).any()
    res = shade_arrays(img, None, {"style": "v6", "passes": 2})
    assert not (quantised_change(img, res.image) & ink).any()
